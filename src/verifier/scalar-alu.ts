/**
 * ALU operations on scalar bounds: kernel/bpf/verifier.c `adjust_scalar_min_max_vals` at v6.12
 * with its helpers `scalar{32,}_min_max_{add,sub,mul,and,or,xor,lsh,rsh,arsh}` and
 * `is_safe_to_compute_dst_reg_range`. Each function computes the new knowledge of `dst op src`
 * from the knowledge of both operands, in the kernel's order, and returns a fresh Scalar.
 */
import { BPF_ADD, BPF_AND, BPF_ARSH, BPF_LSH, BPF_MUL, BPF_OR, BPF_RSH, BPF_SUB, BPF_XOR } from "../isa/opcodes.ts";
import {
  bmax,
  bmin,
  S32_MAX,
  S32_MIN,
  S64_MAX,
  S64_MIN,
  Scalar,
  s32,
  s64,
  U32_MAX,
  U64_MAX,
  u32,
  u64,
} from "./scalar.ts";
import {
  tnumAdd,
  tnumAnd,
  tnumArshift,
  tnumLshift,
  tnumMul,
  tnumOr,
  tnumRshift,
  tnumSub,
  tnumSubreg,
  tnumSubregIsConst,
  tnumXor,
} from "./tnum.ts";

const U16_MAX = 0xffffn;

/** `is_safe_to_compute_dst_reg_range`: whether `op` with this source gives bounds at all. */
export function isSafeToComputeDstRange(op: number, alu32: boolean, src: Scalar): boolean {
  let srcIsConst: boolean;
  if (alu32) {
    srcIsConst = tnumSubregIsConst(src.varOff) && src.s32min === src.s32max && src.u32min === src.u32max;
  } else {
    srcIsConst = src.isConst() && src.smin === src.smax && src.umin === src.umax;
  }
  switch (op) {
    case BPF_ADD:
    case BPF_SUB:
    case BPF_AND:
    case BPF_XOR:
    case BPF_OR:
    case BPF_MUL:
      return true;
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH:
      return srcIsConst && src.umax < (alu32 ? 32n : 64n);
    default:
      return false;
  }
}

/** check_add_overflow for a signed width: the sum, or null on overflow. */
function addS(a: bigint, b: bigint, bits: 32 | 64): bigint | null {
  const r = a + b;
  return BigInt.asIntN(bits, r) === r ? r : null;
}

function subS(a: bigint, b: bigint, bits: 32 | 64): bigint | null {
  const r = a - b;
  return BigInt.asIntN(bits, r) === r ? r : null;
}

function addU(a: bigint, b: bigint, bits: 32 | 64): bigint | null {
  const r = a + b;
  return BigInt.asUintN(bits, r) === r ? r : null;
}

function scalar32Add(d: Scalar, s: Scalar): void {
  const lo = addS(d.s32min, s.s32min, 32);
  const hi = addS(d.s32max, s.s32max, 32);
  if (lo === null || hi === null) {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  } else {
    d.s32min = lo;
    d.s32max = hi;
  }
  const ulo = addU(d.u32min, s.u32min, 32);
  const uhi = addU(d.u32max, s.u32max, 32);
  if (ulo === null || uhi === null) {
    d.u32min = 0n;
    d.u32max = U32_MAX;
  } else {
    d.u32min = ulo;
    d.u32max = uhi;
  }
}

function scalar64Add(d: Scalar, s: Scalar): void {
  const lo = addS(d.smin, s.smin, 64);
  const hi = addS(d.smax, s.smax, 64);
  if (lo === null || hi === null) {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  } else {
    d.smin = lo;
    d.smax = hi;
  }
  const ulo = addU(d.umin, s.umin, 64);
  const uhi = addU(d.umax, s.umax, 64);
  if (ulo === null || uhi === null) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = ulo;
    d.umax = uhi;
  }
}

function scalar32Sub(d: Scalar, s: Scalar): void {
  const lo = subS(d.s32min, s.s32max, 32);
  const hi = subS(d.s32max, s.s32min, 32);
  if (lo === null || hi === null) {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  } else {
    d.s32min = lo;
    d.s32max = hi;
  }
  if (d.u32min < s.u32max) {
    d.u32min = 0n;
    d.u32max = U32_MAX;
  } else {
    d.u32min -= s.u32max;
    d.u32max -= s.u32min;
  }
}

function scalar64Sub(d: Scalar, s: Scalar): void {
  const lo = subS(d.smin, s.smax, 64);
  const hi = subS(d.smax, s.smin, 64);
  if (lo === null || hi === null) {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  } else {
    d.smin = lo;
    d.smax = hi;
  }
  if (d.umin < s.umax) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin -= s.umax;
    d.umax -= s.umin;
  }
}

function scalar32Mul(d: Scalar, s: Scalar): void {
  if (s.s32min < 0n || d.s32min < 0n || s.u32max > U16_MAX || d.u32max > U16_MAX) {
    d.markUnbounded32();
    return;
  }
  d.u32min *= s.u32min;
  d.u32max *= s.u32max;
  if (d.u32max > S32_MAX) {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  } else {
    d.s32min = d.u32min;
    d.s32max = d.u32max;
  }
}

function scalar64Mul(d: Scalar, s: Scalar): void {
  if (s.smin < 0n || d.smin < 0n || s.umax > U32_MAX || d.umax > U32_MAX) {
    d.markUnbounded64();
    return;
  }
  d.umin *= s.umin;
  d.umax *= s.umax;
  if (d.umax > S64_MAX) {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  } else {
    d.smin = d.umin;
    d.smax = d.umax;
  }
}

/** s32 bounds from u32 bounds when they do not cross the sign boundary. */
function signed32FromUnsigned(d: Scalar): void {
  if (s32(d.u32min) <= s32(d.u32max)) {
    d.s32min = s32(d.u32min);
    d.s32max = s32(d.u32max);
  } else {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  }
}

function signed64FromUnsigned(d: Scalar): void {
  if (s64(d.umin) <= s64(d.umax)) {
    d.smin = s64(d.umin);
    d.smax = s64(d.umax);
  } else {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  }
}

function scalar32Bitwise(op: number, d: Scalar, s: Scalar, srcKnown: boolean, dstKnown: boolean): void {
  const v = tnumSubreg(d.varOff);
  if (srcKnown && dstKnown) {
    d.markKnown32(v.value);
    return;
  }
  if (op === BPF_AND) {
    d.u32min = v.value;
    d.u32max = bmin(d.u32max, s.u32max);
  } else if (op === BPF_OR) {
    d.u32min = bmax(d.u32min, s.u32min);
    d.u32max = v.value | v.mask;
  } else {
    d.u32min = v.value;
    d.u32max = v.value | v.mask;
  }
  signed32FromUnsigned(d);
}

function scalar64Bitwise(op: number, d: Scalar, s: Scalar, srcKnown: boolean, dstKnown: boolean): void {
  if (srcKnown && dstKnown) {
    const k = Scalar.known(d.varOff.value);
    d.smin = k.smin;
    d.smax = k.smax;
    d.umin = k.umin;
    d.umax = k.umax;
    d.s32min = k.s32min;
    d.s32max = k.s32max;
    d.u32min = k.u32min;
    d.u32max = k.u32max;
    d.varOff = k.varOff;
    return;
  }
  const v = d.varOff;
  if (op === BPF_AND) {
    d.umin = v.value;
    d.umax = bmin(d.umax, s.umax);
  } else if (op === BPF_OR) {
    d.umin = bmax(d.umin, s.umin);
    d.umax = v.value | v.mask;
  } else {
    d.umin = v.value;
    d.umax = v.value | v.mask;
  }
  signed64FromUnsigned(d);
  d.updateBounds();
}

function lsh32Bounds(d: Scalar, uminVal: bigint, umaxVal: bigint): void {
  d.s32min = S32_MIN;
  d.s32max = S32_MAX;
  if (umaxVal > 31n || d.u32max > 1n << (31n - umaxVal)) {
    d.u32min = 0n;
    d.u32max = U32_MAX;
  } else {
    d.u32min = u32(d.u32min << uminVal);
    d.u32max = u32(d.u32max << umaxVal);
  }
}

function lsh64Bounds(d: Scalar, uminVal: bigint, umaxVal: bigint): void {
  d.smax = uminVal === 32n && umaxVal === 32n && d.s32max >= 0n ? d.s32max << 32n : S64_MAX;
  d.smin = uminVal === 32n && umaxVal === 32n && d.s32min >= 0n ? d.s32min << 32n : S64_MIN;
  if (d.umax > 1n << (63n - umaxVal)) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = u64(d.umin << uminVal);
    d.umax = u64(d.umax << umaxVal);
  }
}

/** `scalar32_min_max_add` + `scalar_min_max_add` + `tnum_add` in place, without a sync (sync_linked_regs). */
export function addConstBounds(d: Scalar, c: Scalar): void {
  scalar32Add(d, c);
  scalar64Add(d, c);
  d.varOff = tnumAdd(d.varOff, c.varOff);
}

/**
 * `adjust_scalar_min_max_vals`: the knowledge of `dst op src` for scalars, `op` one of BPF_ADD ..
 * BPF_ARSH; 32-bit operations are zero-extended. Operations it does not model (div, mod, neg,
 * end, shifts by unknown amounts) give an unknown scalar, as in the kernel.
 */
export function scalarAlu(op: number, alu32: boolean, dst: Scalar, src: Scalar): Scalar {
  if (!isSafeToComputeDstRange(op, alu32, src)) return Scalar.unknown();
  const d = dst.clone();
  switch (op) {
    case BPF_ADD:
      scalar32Add(d, src);
      scalar64Add(d, src);
      d.varOff = tnumAdd(d.varOff, src.varOff);
      break;
    case BPF_SUB:
      scalar32Sub(d, src);
      scalar64Sub(d, src);
      d.varOff = tnumSub(d.varOff, src.varOff);
      break;
    case BPF_MUL:
      d.varOff = tnumMul(d.varOff, src.varOff);
      scalar32Mul(d, src);
      scalar64Mul(d, src);
      break;
    case BPF_AND:
    case BPF_OR:
    case BPF_XOR: {
      d.varOff =
        op === BPF_AND
          ? tnumAnd(d.varOff, src.varOff)
          : op === BPF_OR
            ? tnumOr(d.varOff, src.varOff)
            : tnumXor(d.varOff, src.varOff);
      // the kernel asks whether the *result* is known (dst_reg->var_off is already updated)
      const src32Known = tnumSubregIsConst(src.varOff);
      const dst32Known = tnumSubregIsConst(d.varOff);
      const srcKnown = src.isConst();
      const dstKnown = d.isConst();
      scalar32Bitwise(op, d, src, src32Known, dst32Known);
      scalar64Bitwise(op, d, src, srcKnown, dstKnown);
      break;
    }
    case BPF_LSH:
      if (alu32) {
        const sub = tnumSubreg(d.varOff);
        lsh32Bounds(d, src.u32min, src.u32max);
        d.varOff = tnumSubreg(tnumLshift(sub, Number(src.u32min)));
        d.markUnbounded64();
        d.updateBounds32();
      } else {
        lsh64Bounds(d, src.umin, src.umax);
        lsh32Bounds(d, src.umin, src.umax);
        d.varOff = tnumLshift(d.varOff, Number(src.umin));
        d.updateBounds();
      }
      break;
    case BPF_RSH:
      if (alu32) {
        const sub = tnumSubreg(d.varOff);
        d.s32min = S32_MIN;
        d.s32max = S32_MAX;
        d.varOff = tnumRshift(sub, Number(src.u32min));
        d.u32min >>= src.u32max;
        d.u32max >>= src.u32min;
        d.markUnbounded64();
        d.updateBounds32();
      } else {
        d.smin = S64_MIN;
        d.smax = S64_MAX;
        d.varOff = tnumRshift(d.varOff, Number(src.umin));
        d.umin >>= src.umax;
        d.umax >>= src.umin;
        d.markUnbounded32();
        d.updateBounds();
      }
      break;
    case BPF_ARSH:
      if (alu32) {
        const sh = src.u32min;
        d.s32min = s32(u32(d.s32min >> sh));
        d.s32max = s32(u32(d.s32max >> sh));
        d.varOff = tnumArshift(tnumSubreg(d.varOff), Number(sh), 32);
        d.u32min = 0n;
        d.u32max = U32_MAX;
        d.markUnbounded64();
        d.updateBounds32();
      } else {
        const sh = src.umin;
        d.smin >>= sh;
        d.smax >>= sh;
        d.varOff = tnumArshift(d.varOff, Number(sh), 64);
        d.umin = 0n;
        d.umax = U64_MAX;
        d.markUnbounded32();
        d.updateBounds();
      }
      break;
    default:
      return Scalar.unknown();
  }
  if (alu32) d.zext32To64();
  d.sync();
  return d;
}
