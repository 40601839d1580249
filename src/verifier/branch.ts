/**
 * What a conditional jump tells about two scalars: kernel/bpf/verifier.c at v6.12
 * `is_scalar_branch_taken` (can the outcome be decided from the bounds?), `regs_refine_cond_op`
 * and `reg_set_min_max` (the bounds each operand has on the taken and the fall-through edge),
 * `flip_opcode` and `rev_opcode`.
 */
import {
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_X,
} from "../isa/opcodes.ts";
import { bmax, bmin, type Scalar, s32, s64, u32, u64 } from "./scalar.ts";
import { tnumAnd, tnumConst, tnumIntersect, tnumOr, tnumSubreg, tnumWithSubreg } from "./tnum.ts";

/** `flip_opcode`: the same test with the operands swapped. */
export function flipOpcode(op: number): number {
  switch (op) {
    case BPF_JGT:
      return BPF_JLT;
    case BPF_JLT:
      return BPF_JGT;
    case BPF_JGE:
      return BPF_JLE;
    case BPF_JLE:
      return BPF_JGE;
    case BPF_JSGT:
      return BPF_JSLT;
    case BPF_JSLT:
      return BPF_JSGT;
    case BPF_JSGE:
      return BPF_JSLE;
    case BPF_JSLE:
      return BPF_JSGE;
    default:
      return op;
  }
}

/** `rev_opcode`: the negated test (JSET's negation is spelled `BPF_JSET | BPF_X`). */
export function revOpcode(op: number): number {
  switch (op) {
    case BPF_JEQ:
      return BPF_JNE;
    case BPF_JNE:
      return BPF_JEQ;
    case BPF_JSET:
      return BPF_JSET | BPF_X;
    case BPF_JSET | BPF_X:
      return BPF_JSET;
    case BPF_JGE:
      return BPF_JLT;
    case BPF_JLT:
      return BPF_JGE;
    case BPF_JGT:
      return BPF_JLE;
    case BPF_JLE:
      return BPF_JGT;
    case BPF_JSGE:
      return BPF_JSLT;
    case BPF_JSLT:
      return BPF_JSGE;
    case BPF_JSGT:
      return BPF_JSLE;
    case BPF_JSLE:
      return BPF_JSGT;
    default:
      return op;
  }
}

/** `is_scalar_branch_taken`: 1 (always taken), 0 (never) or -1 (unknown). */
export function isScalarBranchTaken(r1: Scalar, r2: Scalar, op: number, jmp32: boolean): 1 | 0 | -1 {
  let t1 = jmp32 ? tnumSubreg(r1.varOff) : r1.varOff;
  let t2 = jmp32 ? tnumSubreg(r2.varOff) : r2.varOff;
  const umin1 = jmp32 ? r1.u32min : r1.umin;
  const umax1 = jmp32 ? r1.u32max : r1.umax;
  const smin1 = jmp32 ? r1.s32min : r1.smin;
  const smax1 = jmp32 ? r1.s32max : r1.smax;
  const umin2 = jmp32 ? r2.u32min : r2.umin;
  const umax2 = jmp32 ? r2.u32max : r2.umax;
  const smin2 = jmp32 ? r2.s32min : r2.smin;
  const smax2 = jmp32 ? r2.s32max : r2.smax;
  switch (op) {
    case BPF_JEQ:
    case BPF_JNE: {
      const eq = op === BPF_JEQ;
      if (t1.mask === 0n && t2.mask === 0n) return (t1.value === t2.value) === eq ? 1 : 0;
      const disjoint =
        umin1 > umax2 ||
        umax1 < umin2 ||
        smin1 > smax2 ||
        smax1 < smin2 ||
        (!jmp32 && (r1.u32min > r2.u32max || r1.u32max < r2.u32min || r1.s32min > r2.s32max || r1.s32max < r2.s32min));
      if (disjoint) return eq ? 0 : 1;
      return -1;
    }
    case BPF_JSET: {
      let a = r1;
      let b = r2;
      if (!b.isConstWidth(jmp32)) {
        [a, b] = [b, a];
        [t1, t2] = [t2, t1];
      }
      if (!b.isConstWidth(jmp32)) return -1;
      if ((~t1.mask & t1.value & t2.value) !== 0n) return 1;
      if (((t1.mask | t1.value) & t2.value) === 0n) return 0;
      return -1;
    }
    case BPF_JGT:
      if (umin1 > umax2) return 1;
      if (umax1 <= umin2) return 0;
      return -1;
    case BPF_JSGT:
      if (smin1 > smax2) return 1;
      if (smax1 <= smin2) return 0;
      return -1;
    case BPF_JLT:
      if (umax1 < umin2) return 1;
      if (umin1 >= umax2) return 0;
      return -1;
    case BPF_JSLT:
      if (smax1 < smin2) return 1;
      if (smin1 >= smax2) return 0;
      return -1;
    case BPF_JGE:
      if (umin1 >= umax2) return 1;
      if (umax1 < umin2) return 0;
      return -1;
    case BPF_JSGE:
      if (smin1 >= smax2) return 1;
      if (smax1 < smin2) return 0;
      return -1;
    case BPF_JLE:
      if (umax1 <= umin2) return 1;
      if (umin1 > umax2) return 0;
      return -1;
    case BPF_JSLE:
      if (smax1 <= smin2) return 1;
      if (smin1 > smax2) return 0;
      return -1;
    default:
      return -1;
  }
}

/** `is_power_of_2` */
function isPowerOf2(v: bigint): boolean {
  return v !== 0n && (v & (v - 1n)) === 0n;
}

/**
 * `regs_refine_cond_op`: narrows `r1` and `r2` (both modified in place; pass clones) to what
 * holds when `r1 op r2` is true.
 */
export function refineCondOp(r1: Scalar, r2: Scalar, op: number, jmp32: boolean): void {
  switch (op) {
    case BPF_JGE:
    case BPF_JGT:
    case BPF_JSGE:
    case BPF_JSGT:
      op = flipOpcode(op);
      [r1, r2] = [r2, r1];
      break;
    default:
      break;
  }
  switch (op) {
    case BPF_JEQ:
      if (jmp32) {
        r1.u32min = bmax(r1.u32min, r2.u32min);
        r1.u32max = bmin(r1.u32max, r2.u32max);
        r1.s32min = bmax(r1.s32min, r2.s32min);
        r1.s32max = bmin(r1.s32max, r2.s32max);
        r2.u32min = r1.u32min;
        r2.u32max = r1.u32max;
        r2.s32min = r1.s32min;
        r2.s32max = r1.s32max;
        const t = tnumIntersect(tnumSubreg(r1.varOff), tnumSubreg(r2.varOff));
        r1.varOff = tnumWithSubreg(r1.varOff, t);
        r2.varOff = tnumWithSubreg(r2.varOff, t);
      } else {
        r1.umin = bmax(r1.umin, r2.umin);
        r1.umax = bmin(r1.umax, r2.umax);
        r1.smin = bmax(r1.smin, r2.smin);
        r1.smax = bmin(r1.smax, r2.smax);
        r2.umin = r1.umin;
        r2.umax = r1.umax;
        r2.smin = r1.smin;
        r2.smax = r1.smax;
        r1.varOff = tnumIntersect(r1.varOff, r2.varOff);
        r2.varOff = r1.varOff;
      }
      break;
    case BPF_JNE: {
      if (!r2.isConstWidth(jmp32)) [r1, r2] = [r2, r1];
      if (!r2.isConstWidth(jmp32)) break;
      const val = r2.constValue(jmp32);
      if (jmp32) {
        if (r1.u32min === u32(val)) r1.u32min = u32(r1.u32min + 1n);
        if (r1.u32max === u32(val)) r1.u32max = u32(r1.u32max - 1n);
        if (r1.s32min === s32(val)) r1.s32min = s32(r1.s32min + 1n);
        if (r1.s32max === s32(val)) r1.s32max = s32(r1.s32max - 1n);
      } else {
        if (r1.umin === u64(val)) r1.umin = u64(r1.umin + 1n);
        if (r1.umax === u64(val)) r1.umax = u64(r1.umax - 1n);
        if (r1.smin === s64(val)) r1.smin = s64(r1.smin + 1n);
        if (r1.smax === s64(val)) r1.smax = s64(r1.smax - 1n);
      }
      break;
    }
    case BPF_JSET: {
      if (!r2.isConstWidth(jmp32)) [r1, r2] = [r2, r1];
      if (!r2.isConstWidth(jmp32)) break;
      const val = r2.constValue(jmp32);
      if (!isPowerOf2(val)) break;
      if (jmp32) r1.varOff = tnumWithSubreg(r1.varOff, tnumOr(tnumSubreg(r1.varOff), tnumConst(val)));
      else r1.varOff = tnumOr(r1.varOff, tnumConst(val));
      break;
    }
    case BPF_JSET | BPF_X: {
      if (!r2.isConstWidth(jmp32)) [r1, r2] = [r2, r1];
      if (!r2.isConstWidth(jmp32)) break;
      const val = r2.constValue(jmp32);
      if (jmp32) r1.varOff = tnumWithSubreg(r1.varOff, tnumAnd(tnumSubreg(r1.varOff), tnumConst(u64(~val))));
      else r1.varOff = tnumAnd(r1.varOff, tnumConst(u64(~val)));
      break;
    }
    case BPF_JLE:
      if (jmp32) {
        r1.u32max = bmin(r1.u32max, r2.u32max);
        r2.u32min = bmax(r1.u32min, r2.u32min);
      } else {
        r1.umax = bmin(r1.umax, r2.umax);
        r2.umin = bmax(r1.umin, r2.umin);
      }
      break;
    case BPF_JLT:
      if (jmp32) {
        r1.u32max = bmin(r1.u32max, u32(r2.u32max - 1n));
        r2.u32min = bmax(u32(r1.u32min + 1n), r2.u32min);
      } else {
        r1.umax = bmin(r1.umax, u64(r2.umax - 1n));
        r2.umin = bmax(u64(r1.umin + 1n), r2.umin);
      }
      break;
    case BPF_JSLE:
      if (jmp32) {
        r1.s32max = bmin(r1.s32max, r2.s32max);
        r2.s32min = bmax(r1.s32min, r2.s32min);
      } else {
        r1.smax = bmin(r1.smax, r2.smax);
        r2.smin = bmax(r1.smin, r2.smin);
      }
      break;
    case BPF_JSLT:
      if (jmp32) {
        r1.s32max = bmin(r1.s32max, s32(r2.s32max - 1n));
        r2.s32min = bmax(s32(r1.s32min + 1n), r2.s32min);
      } else {
        r1.smax = bmin(r1.smax, s64(r2.smax - 1n));
        r2.smin = bmax(s64(r1.smin + 1n), r2.smin);
      }
      break;
    default:
      break;
  }
}

/**
 * `reg_set_min_max` for two scalars: the operands' knowledge on the taken edge (`true*`) and on
 * the fall-through edge (`false*`). Inconsistent results (an edge that cannot happen) are
 * reported as `violation` and the offending scalar made unbounded, as the kernel does outside
 * its self-tests.
 */
export function setMinMax(
  r1: Scalar,
  r2: Scalar,
  op: number,
  jmp32: boolean,
): { true1: Scalar; true2: Scalar; false1: Scalar; false2: Scalar; violations: string[] } {
  const false1 = r1.clone();
  const false2 = r2.clone();
  refineCondOp(false1, false2, revOpcode(op), jmp32);
  false1.sync();
  false2.sync();
  const true1 = r1.clone();
  const true2 = r2.clone();
  refineCondOp(true1, true2, op, jmp32);
  true1.sync();
  true2.sync();
  const violations: string[] = [];
  for (const [s, name] of [
    [true1, "true_reg1"],
    [true2, "true_reg2"],
    [false1, "false_reg1"],
    [false2, "false_reg2"],
  ] as const) {
    const v = s.invariantViolation();
    if (v !== null) {
      violations.push(`REG INVARIANTS VIOLATION (${name}): ${v}`);
      s.markUnbounded();
    }
  }
  return { true1, true2, false1, false2, violations };
}
