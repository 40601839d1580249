/**
 * ALU instructions: kernel/bpf/verifier.c v6.12 `check_alu_op` (operand checks, MOV with its
 * sign-extending and 32-bit forms, division by a zero immediate, shift ranges),
 * `adjust_reg_min_max_vals` (which operand is a pointer), `adjust_ptr_min_max_vals` (pointer
 * arithmetic: what is allowed on which pointer type, fixed and variable offsets,
 * `check_reg_sane_offset`) and, for two scalars, scalar-alu.ts.
 *
 * The loader is privileged: pointer subtraction and 32-bit moves of pointers give unknown
 * scalars instead of errors (`allow_ptr_leaks`), and no speculative-execution sanitation is
 * modelled (`bypass_spec_v1`).
 */
import {
  BPF_ADD,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_DIV,
  BPF_END,
  BPF_LSH,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_RSH,
  BPF_SUB,
  BPF_X,
  BPF_XOR,
} from "../isa/opcodes.ts";
import { EACCES, EINVAL, type VerifierEnv } from "./env.ts";
import { assignScalarIdBeforeMov, BPF_MAX_VAR_OFF } from "./mem.ts";
import { isPointer, type PtrReg, type RegState, regTypeStr, scalarReg, unknownScalar, withOffset } from "./reg.ts";
import { S64_MAX, S64_MIN, Scalar, s64, U64_MAX } from "./scalar.ts";
import { scalarAlu } from "./scalar-alu.ts";
import { tnumAdd, tnumSub } from "./tnum.ts";

/** `bpf_alu_string`: operator names used in messages. */
const ALU_STRING: Readonly<Record<number, string>> = {
  [BPF_ADD]: "+=",
  [BPF_SUB]: "-=",
  [BPF_MUL]: "*=",
  [BPF_DIV]: "/=",
  [BPF_OR]: "|=",
  [BPF_AND]: "&=",
  [BPF_LSH]: "<<=",
  [BPF_RSH]: ">>=",
  [BPF_NEG]: "neg",
  [BPF_MOD]: "%=",
  [BPF_XOR]: "^=",
  [BPF_MOV]: "=",
  [BPF_ARSH]: "s>>=",
  [BPF_END]: "endian",
};

/** `check_reg_arg(SRC_OP)`: the register must have been written. */
export function checkRegRead(env: VerifierEnv, regno: number): RegState {
  const r = env.state.cur.regs[regno];
  if (r.kind === "not_init") env.reject(EACCES, "REG_NOT_READ_OK", regno);
  return r;
}

/** `check_reg_arg(DST_OP...)`: R10 cannot be written. */
export function checkRegWrite(env: VerifierEnv, regno: number): void {
  if (regno === 10) env.reject(EACCES, "FRAME_POINTER_READ_ONLY");
}

/** `check_reg_sane_offset`: offsets that keep pointer arithmetic meaningful. */
function checkRegSaneOffset(env: VerifierEnv, s: Scalar, off: number, type: string): void {
  const known = s.isConst();
  const val = s64(s.varOff.value);
  const lim = BigInt(BPF_MAX_VAR_OFF);
  if (known && (val >= lim || val <= -lim)) env.reject(EACCES, "MATH_BETWEEN_PTR", type, val);
  if (off >= BPF_MAX_VAR_OFF || off <= -BPF_MAX_VAR_OFF) env.reject(EACCES, "PTR_OFFSET", type, off);
  if (s.smin === S64_MIN) env.reject(EACCES, "MATH_BETWEEN_PTR_REG", type);
  if (s.smin >= lim || s.smin <= -lim) env.reject(EACCES, "VALUE_OUT_OF_BOUNDS", s.smin, type);
}

/** Pointer types arithmetic may be done on (`adjust_ptr_min_max_vals`' switch). */
function arithAllowed(ptr: PtrReg, off: Scalar, op: number): boolean {
  switch (ptr.kind) {
    case "ctx":
    case "map_value":
    case "map_key":
    case "fp":
    case "pkt":
    case "pkt_meta":
    case "btf_id":
    case "mem":
    case "func":
      return true;
    case "map_ptr":
      return off.isConst() && off.smin === 0n && op === BPF_ADD;
    case "pkt_end":
      return false;
  }
}

/** `adjust_ptr_min_max_vals`: `dst = ptr op off` for a pointer and a scalar. */
function adjustPtrMinMax(
  env: VerifierEnv,
  dst: number,
  alu64: boolean,
  op: number,
  ptr: PtrReg,
  off: Scalar,
  dstIsOff = false,
): RegState {
  if (!alu64) {
    if (op === BPF_SUB) return unknownScalar();
    env.reject(EACCES, "PTR_ARITH_32", dst);
  }
  const type = regTypeStr(ptr);
  if ("maybeNull" in ptr && ptr.maybeNull) env.reject(EACCES, "PTR_ARITH_NULL", dst, type);
  if (!arithAllowed(ptr, off, op)) env.reject(EACCES, "PTR_ARITH_TYPE", dst, type);
  const known = off.isConst();
  if ((known && (off.smin !== off.smax || off.umin !== off.umax)) || off.smin > off.smax || off.umin > off.umax) {
    return unknownScalar();
  }
  checkRegSaneOffset(env, off, 0, type);
  checkRegSaneOffset(env, ptr.var, ptr.off, type);
  const pv = ptr.var;
  let res: PtrReg;
  switch (op) {
    case BPF_ADD: {
      const sum = ptr.off + Number(off.smin);
      if (known && sum === (sum | 0)) {
        res = withOffset(ptr, sum, pv);
        break;
      }
      const v = pv.clone();
      v.markUnbounded32();
      const lo = pv.smin + off.smin;
      const hi = pv.smax + off.smax;
      if (s64(lo) !== lo || s64(hi) !== hi) {
        v.smin = S64_MIN;
        v.smax = S64_MAX;
      } else {
        v.smin = lo;
        v.smax = hi;
      }
      const ulo = pv.umin + off.umin;
      const uhi = pv.umax + off.umax;
      if (ulo > U64_MAX || uhi > U64_MAX) {
        v.umin = 0n;
        v.umax = U64_MAX;
      } else {
        v.umin = ulo;
        v.umax = uhi;
      }
      v.varOff = tnumAdd(pv.varOff, off.varOff);
      v.sync();
      res = withOffset(ptr, ptr.off, v);
      if (res.kind === "pkt" || res.kind === "pkt_meta") res = { ...res, id: ++env.idGen, range: 0 };
      break;
    }
    case BPF_SUB: {
      if (dstIsOff) env.reject(EACCES, "SCALAR_MINUS_PTR", dst);
      if (ptr.kind === "fp") env.reject(EACCES, "STACK_PTR_SUB", dst);
      const diff = ptr.off - Number(off.smin);
      if (known && diff === (diff | 0)) {
        res = withOffset(ptr, diff, pv);
        break;
      }
      const v = pv.clone();
      v.markUnbounded32();
      const lo = pv.smin - off.smax;
      const hi = pv.smax - off.smin;
      if (s64(lo) !== lo || s64(hi) !== hi) {
        v.smin = S64_MIN;
        v.smax = S64_MAX;
      } else {
        v.smin = lo;
        v.smax = hi;
      }
      if (pv.umin < off.umax) {
        v.umin = 0n;
        v.umax = U64_MAX;
      } else {
        v.umin = pv.umin - off.umax;
        v.umax = pv.umax - off.umin;
      }
      v.varOff = tnumSub(pv.varOff, off.varOff);
      v.sync();
      res = withOffset(ptr, ptr.off, v);
      if (res.kind === "pkt" || res.kind === "pkt_meta") {
        res = { ...res, id: ++env.idGen };
        if (off.smin < 0n) res = { ...res, range: 0 } as PtrReg;
      }
      break;
    }
    case BPF_AND:
    case BPF_OR:
    case BPF_XOR:
      env.reject(EACCES, "PTR_BITWISE", dst, ALU_STRING[op]);
      break;
    default:
      env.reject(EACCES, "PTR_ARITH_OP", dst, ALU_STRING[op] ?? "?");
  }
  checkRegSaneOffset(env, res.var, res.off, type);
  return res;
}

/** `adjust_reg_min_max_vals`: the ALU operation at the current instruction (not MOV/NEG/END). */
function adjustRegMinMax(
  env: VerifierEnv,
  dstNo: number,
  srcNo: number,
  op: number,
  alu64: boolean,
  imm: number,
): void {
  const regs = env.state.cur.regs;
  const dst = regs[dstNo];
  let src: RegState;
  if (srcNo >= 0) {
    src = regs[srcNo];
    if (isPointer(src)) {
      if (isPointer(dst)) {
        if (op === BPF_SUB) {
          regs[dstNo] = unknownScalar();
          return;
        }
        env.reject(EACCES, "PTR_PTR_OP", dstNo, ALU_STRING[op]);
      }
      if (dst.kind !== "scalar") return;
      regs[dstNo] = adjustPtrMinMax(env, dstNo, alu64, op, src, dst.s, true);
      return;
    }
  } else {
    src = scalarReg(Scalar.known(BigInt(imm)));
  }
  if (src.kind !== "scalar") return;
  if (isPointer(dst)) {
    regs[dstNo] = adjustPtrMinMax(env, dstNo, alu64, op, dst, src.s);
    return;
  }
  if (dst.kind !== "scalar") return;
  const res = scalarAlu(op, !alu64, dst.s, src.s);
  // `rX = rY; rX += const` keeps rX linked to rY with a known difference (BPF_ADD_CONST)
  if (alu64 && op === BPF_ADD && dst.id !== 0 && src.s.isConstWidth(false)) {
    const val = src.s.constValue(false);
    if (dst.addConst || val > 0x7fff_ffffn) regs[dstNo] = scalarReg(res);
    else regs[dstNo] = scalarReg(res, dst.id, true, Number(val));
    return;
  }
  regs[dstNo] = scalarReg(res);
}

/** MOV in all its forms (`check_alu_op`'s BPF_MOV branch). */
function checkMov(env: VerifierEnv, cls: number, src: number, dst: number, off: number, imm: number, x: boolean) {
  const regs = env.state.cur.regs;
  if (x) checkRegRead(env, src);
  checkRegWrite(env, dst);
  if (!x) {
    regs[dst] = scalarReg(Scalar.known(cls === BPF_ALU64 ? BigInt(imm) : BigInt(imm >>> 0)));
    return;
  }
  if (cls === BPF_ALU64) {
    if (off === 1) {
      // addr_space_cast: arena pointers are not modelled; the result is a scalar
      regs[dst] = unknownScalar();
      return;
    }
    if (off === 0) {
      regs[dst] = assignScalarIdBeforeMov(env, regs, src);
      return;
    }
    const s = regs[src];
    if (s.kind === "scalar") {
      const noSext = s.s.umax < 1n << BigInt(off - 1);
      const from = noSext ? (assignScalarIdBeforeMov(env, regs, src) as typeof s) : s;
      const v = from.s.clone();
      v.coerceToSizeSx(off >> 3);
      regs[dst] = noSext ? { ...from, s: v } : scalarReg(v);
    } else {
      env.reject(EACCES, "PTR_SEXT", src);
    }
    return;
  }
  const s = regs[src];
  let v: Scalar;
  let id = 0;
  if (s.kind === "scalar") {
    if (off === 0) {
      const isU32 = s.s.umax <= 0xffff_ffffn;
      const from = isU32 ? (assignScalarIdBeforeMov(env, regs, src) as typeof s) : s;
      v = from.s.clone();
      id = isU32 ? from.id : 0;
    } else {
      const noSext = s.s.umax < 1n << BigInt(off - 1);
      const from = noSext ? (assignScalarIdBeforeMov(env, regs, src) as typeof s) : s;
      v = from.s.clone();
      id = noSext ? from.id : 0;
      v.coerceSubregToSizeSx(off >> 3);
    }
  } else {
    v = Scalar.unknown();
  }
  v.zext32To64();
  v.sync();
  regs[dst] = scalarReg(v, id);
}

/** `check_alu_op` for the instruction at `pc`. */
export function checkAluOp(env: VerifierEnv, pc: number): void {
  const p = env.prog;
  const code = p.code[pc];
  const cls = code & 0x07;
  const op = code & 0xf0;
  const x = (code & BPF_X) !== 0;
  const dst = p.dst[pc];
  const src = p.src[pc];
  const off = p.off[pc];
  const imm = p.imm[pc];
  const regs = env.state.cur.regs;
  if (op === BPF_END || op === BPF_NEG) {
    checkRegRead(env, dst);
    checkRegWrite(env, dst);
    regs[dst] = unknownScalar();
    return;
  }
  if (op === BPF_MOV) {
    checkMov(env, cls, src, dst, off, imm, x);
    return;
  }
  if (op > BPF_END) env.reject(EINVAL, "INVALID_ALU_OPCODE", op);
  if (x) checkRegRead(env, src);
  checkRegRead(env, dst);
  if ((op === BPF_MOD || op === BPF_DIV) && !x && imm === 0) env.reject(EINVAL, "DIV_BY_ZERO");
  if ((op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) && !x) {
    const size = cls === BPF_ALU64 ? 64 : 32;
    if (imm < 0 || imm >= size) env.reject(EINVAL, "INVALID_SHIFT", imm);
  }
  checkRegWrite(env, dst);
  adjustRegMinMax(env, dst, x ? src : -1, op, cls === BPF_ALU64, imm);
}
