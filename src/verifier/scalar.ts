/**
 * The numeric knowledge the verifier keeps about a register: a tnum (`var_off`) and signed and
 * unsigned bounds, both for the full 64 bits and for the low 32 bits (the subregister). This is
 * the scalar half of the kernel's `struct bpf_reg_state` (include/linux/bpf_verifier.h), and the
 * functions here mirror kernel/bpf/verifier.c at v6.12: `__mark_reg_known`, `__mark_reg_unbounded`,
 * `__update_reg_bounds`, `__reg_deduce_bounds` (with its 32-bit, 64-bit and mixed parts),
 * `__reg_bound_offset`, `reg_bounds_sync`, `zext_32_to_64`, `coerce_reg_to_size` and
 * `coerce_reg_to_size_sx`.
 *
 * Pointers carry the same fields for their variable offset, so `Scalar` is shared by both.
 *
 * A `Scalar` is mutable while an operation computes it (the kernel's algorithms update fields in
 * place, in a precise order); once stored in a register it is never modified again — every
 * operation starts from `clone()`.
 */
import {
  TNUM_UNKNOWN,
  type Tnum,
  tnumCast,
  tnumClearSubreg,
  tnumConst,
  tnumConstSubreg,
  tnumEqualsConst,
  tnumIn,
  tnumIntersect,
  tnumIsConst,
  tnumOr,
  tnumRange,
  tnumStr,
  tnumSubreg,
  tnumSubregIsConst,
} from "./tnum.ts";

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const U64_MAX = (1n << 64n) - 1n;
export const S32_MIN = -(1n << 31n);
export const S32_MAX = (1n << 31n) - 1n;
export const U32_MAX = (1n << 32n) - 1n;

/** (s64) */
export const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
/** (u64) */
export const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
/** (s32) */
export const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
/** (u32) */
export const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);

/** The larger of two bigints (`max_t`). */
export function bmax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** The smaller of two bigints (`min_t`). */
export function bmin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

const max = bmax;
const min = bmin;

/** Bounds and known bits of a 64-bit value (see the module comment). */
export class Scalar {
  varOff: Tnum;
  smin: bigint;
  smax: bigint;
  umin: bigint;
  umax: bigint;
  s32min: bigint;
  s32max: bigint;
  u32min: bigint;
  u32max: bigint;

  constructor(
    varOff: Tnum,
    smin: bigint,
    smax: bigint,
    umin: bigint,
    umax: bigint,
    s32min: bigint,
    s32max: bigint,
    u32min: bigint,
    u32max: bigint,
  ) {
    this.varOff = varOff;
    this.smin = smin;
    this.smax = smax;
    this.umin = umin;
    this.umax = umax;
    this.s32min = s32min;
    this.s32max = s32max;
    this.u32min = u32min;
    this.u32max = u32max;
  }

  /** `__mark_reg_known`: exactly `v` (taken modulo 2^64). */
  static known(v: bigint): Scalar {
    const x = u64(v);
    return new Scalar(tnumConst(x), s64(x), s64(x), x, x, s32(x), s32(x), u32(x), u32(x));
  }

  /** `__mark_reg_unknown`'s scalar part: nothing known. */
  static unknown(): Scalar {
    return new Scalar(TNUM_UNKNOWN, S64_MIN, S64_MAX, 0n, U64_MAX, S32_MIN, S32_MAX, 0n, U32_MAX);
  }

  /** A copy to modify. */
  clone(): Scalar {
    return new Scalar(
      this.varOff,
      this.smin,
      this.smax,
      this.umin,
      this.umax,
      this.s32min,
      this.s32max,
      this.u32min,
      this.u32max,
    );
  }

  /** `tnum_is_const(var_off)`. */
  isConst(): boolean {
    return tnumIsConst(this.varOff);
  }

  /** `is_reg_const(reg, subreg32)`. */
  isConstWidth(subreg32: boolean): boolean {
    return subreg32 ? tnumSubregIsConst(this.varOff) : tnumIsConst(this.varOff);
  }

  /** `reg_const_value(reg, subreg32)`. */
  constValue(subreg32: boolean): bigint {
    return subreg32 ? u32(this.varOff.value) : this.varOff.value;
  }

  /** `tnum_equals_const(var_off, v)`. */
  equalsConst(v: bigint): boolean {
    return tnumEqualsConst(this.varOff, v);
  }

  /** True when nothing at all is known (`tnum_is_unknown` plus unbounded ranges). */
  isUnknown(): boolean {
    return (
      this.varOff.mask === U64_MAX &&
      this.smin === S64_MIN &&
      this.smax === S64_MAX &&
      this.umin === 0n &&
      this.umax === U64_MAX &&
      this.s32min === S32_MIN &&
      this.s32max === S32_MAX &&
      this.u32min === 0n &&
      this.u32max === U32_MAX
    );
  }

  /** `__mark_reg32_known` */
  markKnown32(v: bigint): void {
    this.varOff = tnumConstSubreg(this.varOff, v);
    this.s32min = this.s32max = s32(v);
    this.u32min = this.u32max = u32(v);
  }

  /** `__mark_reg64_unbounded` */
  markUnbounded64(): void {
    this.smin = S64_MIN;
    this.smax = S64_MAX;
    this.umin = 0n;
    this.umax = U64_MAX;
  }

  /** `__mark_reg32_unbounded` */
  markUnbounded32(): void {
    this.s32min = S32_MIN;
    this.s32max = S32_MAX;
    this.u32min = 0n;
    this.u32max = U32_MAX;
  }

  /** `__mark_reg_unbounded`: bounds unknown, var_off kept. */
  markUnbounded(): void {
    this.markUnbounded64();
    this.markUnbounded32();
  }

  /** `__update_reg32_bounds` */
  updateBounds32(): void {
    const v = tnumSubreg(this.varOff);
    this.s32min = max(this.s32min, s32(v.value | (v.mask & 0x8000_0000n)));
    this.s32max = min(this.s32max, s32(v.value | (v.mask & 0x7fff_ffffn)));
    this.u32min = max(this.u32min, v.value);
    this.u32max = min(this.u32max, v.value | v.mask);
  }

  /** `__update_reg64_bounds` */
  updateBounds64(): void {
    const v = this.varOff;
    this.smin = max(this.smin, s64(v.value | (v.mask & 0x8000_0000_0000_0000n)));
    this.smax = min(this.smax, s64(v.value | (v.mask & 0x7fff_ffff_ffff_ffffn)));
    this.umin = max(this.umin, v.value);
    this.umax = min(this.umax, v.value | v.mask);
  }

  /** `__update_reg_bounds` */
  updateBounds(): void {
    this.updateBounds32();
    this.updateBounds64();
  }

  /** `__reg32_deduce_bounds` */
  deduceBounds32(): void {
    if (this.umin >> 32n === this.umax >> 32n) {
      this.u32min = max(this.u32min, u32(this.umin));
      this.u32max = min(this.u32max, u32(this.umax));
      if (s32(this.umin) <= s32(this.umax)) {
        this.s32min = max(this.s32min, s32(this.umin));
        this.s32max = min(this.s32max, s32(this.umax));
      }
    }
    if (this.smin >> 32n === this.smax >> 32n) {
      if (u32(this.smin) <= u32(this.smax)) {
        this.u32min = max(this.u32min, u32(this.smin));
        this.u32max = min(this.u32max, u32(this.smax));
      }
      if (s32(this.smin) <= s32(this.smax)) {
        this.s32min = max(this.s32min, s32(this.smin));
        this.s32max = min(this.s32max, s32(this.smax));
      }
    }
    if (u32(u32(this.umin >> 32n) + 1n) === u32(this.umax >> 32n) && s32(this.umin) < 0n && s32(this.umax) >= 0n) {
      this.s32min = max(this.s32min, s32(this.umin));
      this.s32max = min(this.s32max, s32(this.umax));
    }
    if (u32(u32(this.smin >> 32n) + 1n) === u32(this.smax >> 32n) && s32(this.smin) < 0n && s32(this.smax) >= 0n) {
      this.s32min = max(this.s32min, s32(this.smin));
      this.s32max = min(this.s32max, s32(this.smax));
    }
    if (s32(this.u32min) <= s32(this.u32max)) {
      this.s32min = max(this.s32min, s32(this.u32min));
      this.s32max = min(this.s32max, s32(this.u32max));
    }
    if (u32(this.s32min) <= u32(this.s32max)) {
      this.u32min = max(this.u32min, u32(this.s32min));
      this.u32max = min(this.u32max, u32(this.s32max));
    } else if (this.u32max < u32(this.s32min)) {
      // The s32 range wraps (its negative half sits at the top of the u32 domain) and the u32
      // range only meets its non-negative half: both narrow to that half (6.12.81 backport).
      this.s32min = s32(this.u32min);
      this.u32max = min(this.u32max, u32(this.s32max));
    } else if (u32(this.s32max) < this.u32min) {
      // ... or only its negative half.
      this.s32max = s32(this.u32max);
      this.u32min = max(this.u32min, u32(this.s32min));
    }
  }

  /**
   * `__reg64_deduce_bounds`, with the sign-boundary-crossing refinement that 6.12.81 backported
   * (the target 6.12.117 has it).
   */
  deduceBounds64(): void {
    if (s64(this.umin) <= s64(this.umax)) {
      this.smin = max(this.smin, s64(this.umin));
      this.smax = min(this.smax, s64(this.umax));
    }
    if (u64(this.smin) <= u64(this.smax)) {
      this.umin = max(this.umin, u64(this.smin));
      this.umax = min(this.umax, u64(this.smax));
    } else if (this.umax < u64(this.smin)) {
      // The s64 range wraps around 0 in the unsigned view; a u64 range that meets only its
      // non-negative part pins both ranges to that part.
      this.smin = s64(this.umin);
      this.umax = min(this.umax, u64(this.smax));
    } else if (u64(this.smax) < this.umin) {
      // ... and one that meets only its negative part pins them there.
      this.smax = s64(this.umax);
      this.umin = max(this.umin, u64(this.smin));
    }
  }

  /** `__reg_deduce_mixed_bounds` */
  deduceMixedBounds(): void {
    const HI = ~0xffff_ffffn;
    let newUmin = u64((this.umin & HI) | this.u32min);
    let newUmax = u64((this.umax & HI) | this.u32max);
    this.umin = max(this.umin, newUmin);
    this.umax = min(this.umax, newUmax);
    let newSmin = s64((this.smin & HI) | this.u32min);
    let newSmax = s64((this.smax & HI) | this.u32max);
    this.smin = max(this.smin, newSmin);
    this.smax = min(this.smax, newSmax);

    if (u32(this.s32min) <= u32(this.s32max)) {
      newUmin = u64((this.umin & HI) | u32(this.s32min));
      newUmax = u64((this.umax & HI) | u32(this.s32max));
      this.umin = max(this.umin, newUmin);
      this.umax = min(this.umax, newUmax);
      newSmin = s64((this.smin & HI) | u32(this.s32min));
      newSmax = s64((this.smax & HI) | u32(this.s32max));
      this.smin = max(this.smin, newSmin);
      this.smax = min(this.smax, newSmax);
    }

    if (this.s32min >= 0n && this.smin >= S32_MIN && this.smax <= S32_MAX) {
      this.smin = this.s32min;
      this.smax = this.s32max;
      this.umin = u64(this.s32min);
      this.umax = u64(this.s32max);
      this.varOff = tnumIntersect(this.varOff, tnumRange(u64(this.smin), u64(this.smax)));
    }
  }

  /** `__reg_deduce_bounds` */
  deduceBounds(): void {
    this.deduceBounds32();
    this.deduceBounds64();
    this.deduceMixedBounds();
  }

  /** `__reg_bound_offset`: bits learned from the unsigned bounds. */
  boundOffset(): void {
    const var64 = tnumIntersect(this.varOff, tnumRange(this.umin, this.umax));
    const var32 = tnumIntersect(tnumSubreg(var64), tnumRange(this.u32min, this.u32max));
    this.varOff = tnumOr(tnumClearSubreg(var64), var32);
  }

  /** `reg_bounds_sync`: make tnum and all four ranges agree. */
  sync(): void {
    this.updateBounds();
    // three rounds: one round does not always reach the fixed point once the cross-sign
    // refinements exist (6.12.81 backported the third round with them)
    this.deduceBounds();
    this.deduceBounds();
    this.deduceBounds();
    this.boundOffset();
    this.updateBounds();
  }

  /** `__reg_assign_32_into_64` */
  assign32Into64(): void {
    this.umin = this.u32min;
    this.umax = this.u32max;
    if (this.s32min >= 0n && this.s32max >= 0n) {
      this.smin = this.s32min;
      this.smax = this.s32max;
    } else {
      this.smin = 0n;
      this.smax = U32_MAX;
    }
  }

  /** `zext_32_to_64`: the result of a 32-bit ALU operation, zero-extended. */
  zext32To64(): void {
    this.varOff = tnumSubreg(this.varOff);
    this.assign32Into64();
  }

  /** `coerce_reg_to_size`: the value truncated to `size` bytes (a narrow load, `w = w`). */
  coerceToSize(size: number): void {
    this.varOff = tnumCast(this.varOff, size);
    const mask = (1n << BigInt(size * 8)) - 1n;
    if ((this.umin & ~mask) === (this.umax & ~mask)) {
      this.umin &= mask;
      this.umax &= mask;
    } else {
      this.umin = 0n;
      this.umax = mask;
    }
    this.smin = this.umin;
    this.smax = this.umax;
    if (size < 4) this.markUnbounded32();
    this.sync();
  }

  /** `coerce_reg_to_size_sx`: the low `size` bytes sign-extended to 64 bits (movsx, ldsx). */
  coerceToSizeSx(size: number): void {
    const bits = BigInt(size * 8);
    const sx = (x: bigint): bigint => BigInt.asIntN(size * 8, x);
    if (this.isConst()) {
      const c = u64(sx(this.varOff.value));
      this.varOff = tnumConst(c);
      this.smin = this.smax = s64(c);
      this.umin = this.umax = c;
      this.s32min = this.s32max = s32(c);
      this.u32min = this.u32max = u32(c);
      return;
    }
    const topMax = (u64(this.smax) >> bits) << bits;
    const topMin = (u64(this.smin) >> bits) << bits;
    if (topMax === topMin) {
      const a = sx(this.smax);
      const b = sx(this.smin);
      const hi = max(a, b);
      const lo = min(a, b);
      if (hi >= 0n === lo >= 0n) {
        this.smin = lo;
        this.smax = hi;
        this.s32min = s32(lo);
        this.s32max = s32(hi);
        this.umin = u64(lo);
        this.umax = u64(hi);
        this.u32min = u32(lo);
        this.u32max = u32(hi);
        this.varOff = tnumRange(u64(lo), u64(hi));
        return;
      }
    }
    this.setSextDefault(size);
  }

  /** `set_sext64_default_val` */
  private setSextDefault(size: number): void {
    const half = 1n << BigInt(size * 8 - 1);
    this.smin = this.s32min = -half;
    this.smax = this.s32max = half - 1n;
    this.umin = this.u32min = 0n;
    this.umax = U64_MAX;
    this.u32max = U32_MAX;
    this.varOff = TNUM_UNKNOWN;
  }

  /**
   * `coerce_subreg_to_size_sx`, conservatively: a constant is sign-extended exactly, anything
   * else gets the full range of a sign-extended `size`-byte value in the subregister.
   */
  coerceSubregToSizeSx(size: number): void {
    const sx = (x: bigint): bigint => BigInt.asIntN(size * 8, x);
    if (tnumSubregIsConst(this.varOff)) {
      const c = u32(sx(this.varOff.value));
      this.varOff = tnumConst(c);
      this.s32min = this.s32max = s32(c);
      this.u32min = this.u32max = c;
      return;
    }
    const half = 1n << BigInt(size * 8 - 1);
    this.s32min = -half;
    this.s32max = half - 1n;
    this.u32min = 0n;
    this.u32max = U32_MAX;
    this.varOff = TNUM_UNKNOWN;
  }

  /** `range_within(old, cur)` plus `tnum_in(old, cur)`: every value of `cur` is one of `this`. */
  contains(cur: Scalar): boolean {
    return (
      this.umin <= cur.umin &&
      this.umax >= cur.umax &&
      this.smin <= cur.smin &&
      this.smax >= cur.smax &&
      this.u32min <= cur.u32min &&
      this.u32max >= cur.u32max &&
      this.s32min <= cur.s32min &&
      this.s32max >= cur.s32max &&
      tnumIn(this.varOff, cur.varOff)
    );
  }

  /** Same knowledge exactly. */
  equals(o: Scalar): boolean {
    return (
      this.varOff.value === o.varOff.value &&
      this.varOff.mask === o.varOff.mask &&
      this.smin === o.smin &&
      this.smax === o.smax &&
      this.umin === o.umin &&
      this.umax === o.umax &&
      this.s32min === o.s32min &&
      this.s32max === o.s32max &&
      this.u32min === o.u32min &&
      this.u32max === o.u32max
    );
  }

  /** The failed invariant of `reg_bounds_sanity_check`, or null when the bounds are consistent. */
  invariantViolation(): string | null {
    if (this.umin > this.umax || this.smin > this.smax || this.u32min > this.u32max || this.s32min > this.s32max) {
      return "range bounds violation";
    }
    if (tnumIsConst(this.varOff)) {
      const uv = this.varOff.value;
      if (this.umin !== uv || this.umax !== uv || this.smin !== s64(uv) || this.smax !== s64(uv)) {
        return "const tnum out of sync with range bounds";
      }
    }
    if (tnumSubregIsConst(this.varOff)) {
      const uv = u32(this.varOff.value);
      if (this.u32min !== uv || this.u32max !== uv || this.s32min !== s32(uv) || this.s32max !== s32(uv)) {
        return "const subreg tnum out of sync with range bounds";
      }
    }
    return null;
  }

  /** The kernel's log form of a scalar (`print_scalar_ranges`, abridged), for log lines. */
  toString(): string {
    if (this.isConst()) return s64(this.varOff.value).toString();
    const parts: string[] = [];
    if (this.smin !== S64_MIN) parts.push(`smin=${this.smin}`);
    if (this.smax !== S64_MAX) parts.push(`smax=${this.smax}`);
    if (this.umin !== 0n) parts.push(`umin=${this.umin}`);
    if (this.umax !== U64_MAX) parts.push(`umax=${this.umax}`);
    if (this.varOff.mask !== U64_MAX) parts.push(`var_off=${tnumStr(this.varOff)}`);
    return `scalar(${parts.join(",")})`;
  }
}
