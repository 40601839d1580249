/**
 * Tristate numbers ("tnums"): what the verifier knows about the bits of a 64-bit value. A tnum
 * is a pair (value, mask): bits set in `mask` are unknown, the others equal the bits of `value`
 * (and `value & mask` is always 0). Mirrors kernel/bpf/tnum.c at v6.12, operation for
 * operation, so that bounds derived from it agree with the kernel's.
 *
 *   known 0:  value 0, mask 0        known 1:  value 1, mask 0        unknown:  value 0, mask 1
 *
 * Values are unsigned 64-bit bigints (always normalised with `BigInt.asUintN(64, x)`); the
 * verifier uses bigints for every 64-bit quantity it tracks, because its precision must match
 * the kernel's exactly and its cost is per verified instruction, not per executed one.
 */

/** A tristate number; immutable. */
export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

const U64 = 0xffff_ffff_ffff_ffffn;
const U32 = 0xffff_ffffn;

/** Truncates to an unsigned 64-bit value. */
export function u64(x: bigint): bigint {
  return BigInt.asUintN(64, x);
}

function T(value: bigint, mask: bigint): Tnum {
  return { value: u64(value), mask: u64(mask) };
}

/** The fully unknown tnum (`tnum_unknown`). */
export const TNUM_UNKNOWN: Tnum = T(0n, U64);

/** `tnum_const`: every bit known. */
export function tnumConst(value: bigint): Tnum {
  return T(value, 0n);
}

/** `tnum_range`: the tightest tnum containing every value of [min, max] (unsigned). */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = u64(min ^ max);
  const bits = chi === 0n ? 0 : chi.toString(2).length; // fls64
  if (bits > 63) return TNUM_UNKNOWN;
  const delta = (1n << BigInt(bits)) - 1n;
  return T(min & ~delta, delta);
}

/** `tnum_lshift` */
export function tnumLshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift);
  return T(a.value << s, a.mask << s);
}

/** `tnum_rshift` (logical) */
export function tnumRshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift);
  return T(a.value >> s, a.mask >> s);
}

/** `tnum_arshift`: arithmetic shift of a 64-bit value, or of the low 32 bits for `bitness` 32. */
export function tnumArshift(a: Tnum, shift: number, bitness: 32 | 64): Tnum {
  const s = BigInt(shift);
  if (bitness === 32) {
    return T(BigInt.asUintN(32, BigInt.asIntN(32, a.value) >> s), BigInt.asUintN(32, BigInt.asIntN(32, a.mask) >> s));
  }
  return T(BigInt.asIntN(64, a.value) >> s, BigInt.asIntN(64, a.mask) >> s);
}

/** `tnum_add` */
export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return T(sv & ~mu, mu);
}

/** `tnum_sub` */
export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return T(dv & ~mu, mu);
}

/** `tnum_and` */
export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return T(v, alpha & beta & ~v);
}

/** `tnum_or` */
export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return T(v, mu & ~v);
}

/** `tnum_xor` */
export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return T(v & ~mu, mu);
}

/** `tnum_mul` (the v6.12 shift-and-add form). */
export function tnumMul(a: Tnum, b: Tnum): Tnum {
  const accV = u64(a.value * b.value);
  let accM: Tnum = T(0n, 0n);
  while (a.value !== 0n || a.mask !== 0n) {
    if ((a.value & 1n) !== 0n) accM = tnumAdd(accM, T(0n, b.mask));
    else if ((a.mask & 1n) !== 0n) accM = tnumAdd(accM, T(0n, b.value | b.mask));
    a = tnumRshift(a, 1);
    b = tnumLshift(b, 1);
  }
  return tnumAdd(T(accV, 0n), accM);
}

/** `tnum_intersect`: what is known in either. */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return T(v & ~mu, mu);
}

/** `tnum_cast`: the low `size` bytes. */
export function tnumCast(a: Tnum, size: number): Tnum {
  const m = (1n << BigInt(size * 8)) - 1n;
  return T(a.value & m, a.mask & m);
}

/** `tnum_is_aligned` */
export function tnumIsAligned(a: Tnum, size: number): boolean {
  if (size === 0) return true;
  return ((a.value | a.mask) & BigInt(size - 1)) === 0n;
}

/** `tnum_in`: every value of `b` is a value of `a`. */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if ((b.mask & ~a.mask) !== 0n) return false;
  return a.value === (b.value & ~a.mask);
}

/** `tnum_is_const` */
export function tnumIsConst(a: Tnum): boolean {
  return a.mask === 0n;
}

/** `tnum_is_unknown` */
export function tnumIsUnknown(a: Tnum): boolean {
  return a.mask === U64;
}

/** `tnum_equals_const` */
export function tnumEqualsConst(a: Tnum, b: bigint): boolean {
  return a.mask === 0n && a.value === u64(b);
}

/** `tnum_subreg`: the low 32 bits. */
export function tnumSubreg(a: Tnum): Tnum {
  return tnumCast(a, 4);
}

/** `tnum_clear_subreg`: the high 32 bits. */
export function tnumClearSubreg(a: Tnum): Tnum {
  return tnumLshift(tnumRshift(a, 32), 32);
}

/** `tnum_with_subreg`: the high bits of `reg` with the low 32 bits of `subreg`. */
export function tnumWithSubreg(reg: Tnum, subreg: Tnum): Tnum {
  return tnumOr(tnumClearSubreg(reg), tnumSubreg(subreg));
}

/** `tnum_const_subreg` */
export function tnumConstSubreg(a: Tnum, value: bigint): Tnum {
  return tnumWithSubreg(a, tnumConst(value & U32));
}

/** `tnum_subreg_is_const` */
export function tnumSubregIsConst(a: Tnum): boolean {
  return (a.mask & U32) === 0n;
}

/**
 * `tnum_strn` (kernel/bpf/log.c since v6.6): a known value as a number — decimal up to
 * U16_MAX, else 0x-hex — and anything else as `(0x..; 0x..)`.
 */
export function tnumStr(a: Tnum): string {
  if (a.mask === 0n) return a.value <= 0xffffn ? a.value.toString() : `0x${a.value.toString(16)}`;
  return `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;
}
