/**
 * Conditional jumps: kernel/bpf/verifier.c v6.12 `check_cond_jmp_op` with `is_branch_taken`
 * (scalars, packet pointers against pkt_end, non-NULL pointers against 0), `reg_set_min_max`
 * (branch.ts), `sync_linked_regs` (copies of a narrowed scalar learn the same bounds),
 * `mark_ptr_or_null_regs` (a NULL check of a map value or other nullable pointer),
 * `try_match_pkt_pointers` / `find_good_pkt_pointers` / `mark_pkt_end` (packet bounds checks),
 * and `may_goto`.
 *
 * The current path continues on the fall-through edge; the taken edge is pushed for later,
 * unless the outcome is known, in which case only the edge that can happen is followed.
 */
import { BPF_JCOND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP32, BPF_JNE, BPF_X } from "../isa/opcodes.ts";
import { checkRegRead } from "./alu.ts";
import { flipOpcode, isScalarBranchTaken, setMinMax } from "./branch.ts";
import { EINVAL, type VerifierEnv } from "./env.ts";
import { MAX_PACKET_OFF } from "./mem.ts";
import { findPrevEntry, widenImpreciseScalars } from "./prune.ts";
import {
  AT_PKT_END,
  BEYOND_PKT_END,
  isInitPktPointer,
  isPktPointerAny,
  isPointer,
  knownScalar,
  mayBeNull,
  type PacketReg,
  type PtrReg,
  type RegState,
  scalarReg,
} from "./reg.ts";
import { Scalar } from "./scalar.ts";
import { addConstBounds } from "./scalar-alu.ts";
import type { VerifierState } from "./state.ts";

/** `reg_not_null`: pointer types that cannot be NULL. */
function regNotNull(r: RegState): boolean {
  if (mayBeNull(r)) return false;
  return r.kind === "map_value" || r.kind === "map_key" || r.kind === "mem" || (r.kind === "btf_id" && !r.untrusted);
}

/** `is_pkt_ptr_branch_taken` */
function isPktPtrBranchTaken(dst: RegState, src: RegState, op: number): 1 | 0 | -1 {
  let pkt: RegState;
  if (src.kind === "pkt_end") pkt = dst;
  else if (dst.kind === "pkt_end") {
    pkt = src;
    op = flipOpcode(op);
  } else return -1;
  if (pkt.kind !== "pkt" && pkt.kind !== "pkt_meta") return -1;
  if (pkt.range >= 0) return -1;
  switch (op) {
    case BPF_JLE:
    case BPF_JGT:
      if (pkt.range === BEYOND_PKT_END) return op === BPF_JGT ? 1 : 0;
      break;
    case BPF_JLT:
    case BPF_JGE:
      if (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END) return op === BPF_JGE ? 1 : 0;
      break;
  }
  return -1;
}

/** `is_branch_taken`: 1 always, 0 never, -1 unknown. */
export function isBranchTaken(r1: RegState, r2: RegState, op: number, jmp32: boolean): 1 | 0 | -1 {
  if (isPktPointerAny(r1) && isPktPointerAny(r2) && !jmp32) return isPktPtrBranchTaken(r1, r2, op);
  if (isPointer(r1) || isPointer(r2)) {
    let a = r1;
    let b = r2;
    if (!(b.kind === "scalar" && b.s.isConstWidth(jmp32))) {
      op = flipOpcode(op);
      [a, b] = [b, a];
    }
    if (!(b.kind === "scalar" && b.s.isConstWidth(jmp32))) return -1;
    if (!regNotNull(a)) return -1;
    if (b.s.constValue(jmp32) !== 0n) return -1;
    if (op === BPF_JEQ) return 0;
    if (op === BPF_JNE) return 1;
    return -1;
  }
  if (r1.kind !== "scalar" || r2.kind !== "scalar") return -1;
  return isScalarBranchTaken(r1.s, r2.s, op, jmp32);
}

/**
 * `sync_linked_regs`: registers linked to the narrowed `known` take its bounds, shifted by the
 * constant difference between them when one went through `+= const`.
 */
function syncLinkedRegs(st: VerifierState, known: RegState): void {
  if (known.kind !== "scalar" || known.id === 0) return;
  st.mapRegs((r) => {
    if (r.kind !== "scalar" || r === known || r.id !== known.id) return r;
    if ((!r.addConst && !known.addConst) || r.delta === known.delta) return known;
    const d = Scalar.known(BigInt(r.delta - known.delta));
    const s = known.s.clone();
    addConstBounds(s, d);
    return { ...known, s, addConst: r.addConst, delta: r.delta };
  });
}

/** `mark_ptr_not_null_reg`: a map-in-map lookup result becomes the inner map. */
function ptrNotNull(r: PtrReg): PtrReg {
  if (r.kind === "map_value") {
    if (r.map.inner !== null)
      return { kind: "map_ptr", map: r.map.inner, off: r.off, var: r.var, id: r.id, refObjId: 0 };
    return { ...r, maybeNull: false };
  }
  if (r.kind === "mem" || r.kind === "btf_id") return { ...r, maybeNull: false };
  return r;
}

/** `mark_ptr_or_null_regs`: every copy of the nullable pointer `regno` is NULL or not on this edge. */
function markPtrOrNullRegs(st: VerifierState, regno: number, isNull: boolean): void {
  const reg = st.cur.regs[regno];
  if (!isPointer(reg)) return;
  const id = reg.id;
  const refObjId = reg.refObjId;
  if (refObjId !== 0 && refObjId === id && isNull) st.refs = st.refs.filter((r) => r.id !== id);
  st.mapRegs((r) => {
    if (!isPointer(r) || !mayBeNull(r) || r.id !== id) return r;
    if (isNull) return knownScalar(0n);
    const n = ptrNotNull(r);
    const keepId = n.kind === "map_value" && n.map.spinLockOff >= 0;
    return keepId ? n : { ...n, id: 0 };
  });
}

/** `find_good_pkt_pointers`: `dst` was checked against pkt_end, so its id may read `range` bytes. */
function findGoodPktPointers(st: VerifierState, dst: PacketReg, rangeRightOpen: boolean): void {
  if (dst.off < 0 || (dst.off === 0 && rangeRightOpen)) return;
  if (dst.var.umax > BigInt(MAX_PACKET_OFF) || dst.var.umax + BigInt(dst.off) > BigInt(MAX_PACKET_OFF)) return;
  const newRange = dst.off + (rangeRightOpen ? 1 : 0);
  st.mapRegs((r) => {
    if (r.kind === dst.kind && r.id === dst.id && r.range < newRange) return { ...r, range: newRange };
    return r;
  });
}

/** `mark_pkt_end`: a packet pointer known to be at or beyond the end. */
function markPktEnd(st: VerifierState, regno: number, rangeOpen: boolean): void {
  const r = st.cur.regs[regno];
  if (r.kind !== "pkt") return;
  st.cur.regs[regno] = { ...r, range: rangeOpen ? BEYOND_PKT_END : AT_PKT_END };
}

/** `try_match_pkt_pointers`: true when the comparison was a packet bounds check. */
function tryMatchPktPointers(
  op: number,
  dstNo: number,
  srcNo: number,
  thisBranch: VerifierState,
  other: VerifierState,
): boolean {
  const dst = thisBranch.cur.regs[dstNo];
  const src = thisBranch.cur.regs[srcNo];
  const fwd =
    (dst.kind === "pkt" && src.kind === "pkt_end") || (dst.kind === "pkt_meta" && isInitPktPointer(src, "pkt"));
  const rev =
    (dst.kind === "pkt_end" && src.kind === "pkt") || (isInitPktPointer(dst, "pkt") && src.kind === "pkt_meta");
  if (!fwd && !rev) return false;
  const good = (st: VerifierState, regno: number, open: boolean) => {
    const r = st.cur.regs[regno];
    if (r.kind === "pkt" || r.kind === "pkt_meta") findGoodPktPointers(st, r, open);
  };
  switch (op) {
    case BPF_JGT:
      if (fwd) {
        good(thisBranch, dstNo, false);
        markPktEnd(other, dstNo, true);
      } else {
        good(other, srcNo, true);
        markPktEnd(thisBranch, srcNo, false);
      }
      return true;
    case BPF_JLT:
      if (fwd) {
        good(other, dstNo, true);
        markPktEnd(thisBranch, dstNo, false);
      } else {
        good(thisBranch, srcNo, false);
        markPktEnd(other, srcNo, true);
      }
      return true;
    case BPF_JGE:
      if (fwd) {
        good(thisBranch, dstNo, true);
        markPktEnd(other, dstNo, false);
      } else {
        good(other, srcNo, false);
        markPktEnd(thisBranch, srcNo, true);
      }
      return true;
    case BPF_JLE:
      if (fwd) {
        good(other, dstNo, false);
        markPktEnd(thisBranch, dstNo, true);
      } else {
        good(thisBranch, srcNo, true);
        markPktEnd(other, srcNo, false);
      }
      return true;
    default:
      return false;
  }
}

/** `may_goto`: the fall-through is queued one iteration deeper; the path takes the jump. */
function checkMayGoto(env: VerifierEnv, pc: number): number {
  const p = env.prog;
  if (p.dst[pc] !== 0 || p.imm[pc] !== 0 || p.src[pc] !== 0 || p.off[pc] === 0) {
    env.reject(EINVAL, "INVALID_MAY_GOTO", p.off[pc], p.imm[pc]);
  }
  const prev = findPrevEntry(env, pc);
  const queued = env.pushStack(pc + 1, pc);
  queued.mayGotoDepth++;
  if (prev !== null) widenImpreciseScalars(env, prev.state, queued, pc + 1, true);
  return pc + p.off[pc];
}

/**
 * `check_cond_jmp_op` for the conditional jump at `pc`: returns the instruction the current
 * path continues after (the kernel's `*insn_idx` before the loop's increment).
 */
export function checkCondJmpOp(env: VerifierEnv, pc: number): number {
  const p = env.prog;
  const code = p.code[pc];
  const op = code & 0xf0;
  if (op === BPF_JCOND) return checkMayGoto(env, pc);
  const jmp32 = (code & 0x07) === BPF_JMP32;
  const x = (code & BPF_X) !== 0;
  const dstNo = p.dst[pc];
  const srcNo = x ? p.src[pc] : -1;
  const st = env.state;
  const regs = st.cur.regs;
  const dst = checkRegRead(env, dstNo);
  const src: RegState = x ? checkRegRead(env, srcNo) : scalarReg(Scalar.known(BigInt(p.imm[pc])));

  const pred = isBranchTaken(dst, src, op, jmp32);
  const target = pc + p.off[pc];
  if (pred >= 0 && env.aux.condDecided[pc] === 0) {
    env.aux.condDecided[pc] = 1;
    env.aux.condDecidedVersion++;
  }
  if (pred === 1) {
    env.aux.branchOutcome[pc] |= 2;
    return target;
  }
  if (pred === 0) {
    env.aux.branchOutcome[pc] |= 1;
    return pc;
  }
  env.aux.branchOutcome[pc] |= 3;

  const other = env.pushStack(target + 1, pc);
  const oregs = other.cur.regs;
  if (dst.kind === "scalar" && src.kind === "scalar") {
    const r = setMinMax(dst.s, src.s, op, jmp32);
    for (const v of r.violations) env.verboseRaw(v);
    oregs[dstNo] = { ...dst, s: r.true1 };
    regs[dstNo] = { ...dst, s: r.false1 };
    if (x) {
      oregs[srcNo] = { ...src, s: r.true2 };
      regs[srcNo] = { ...src, s: r.false2 };
    }
    if (x && src.kind === "scalar" && src.id !== 0) {
      syncLinkedRegs(st, regs[srcNo]);
      syncLinkedRegs(other, oregs[srcNo]);
    }
    if (dst.id !== 0) {
      syncLinkedRegs(st, regs[dstNo]);
      syncLinkedRegs(other, oregs[dstNo]);
    }
  }

  if (!jmp32 && x && isPointer(src) && isPointer(dst) && mayBeNull(src) !== mayBeNull(dst)) {
    if (src.kind !== "btf_id" && dst.kind !== "btf_id") {
      const eqRegs = op === BPF_JEQ ? oregs : op === BPF_JNE ? regs : null;
      if (eqRegs !== null) {
        const n = mayBeNull(src) ? srcNo : dstNo;
        const r = eqRegs[n];
        if (isPointer(r)) eqRegs[n] = ptrNotNull(r);
      }
    }
  }

  if (!jmp32 && !x && p.imm[pc] === 0 && (op === BPF_JEQ || op === BPF_JNE) && mayBeNull(dst)) {
    markPtrOrNullRegs(st, dstNo, op === BPF_JNE);
    markPtrOrNullRegs(other, dstNo, op === BPF_JEQ);
  } else if (x && !jmp32) {
    tryMatchPktPointers(op, dstNo, srcNo, st, other);
  }
  return pc;
}
