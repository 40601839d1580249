/**
 * Shared pieces of the AArch64 encoder: register numbering, operand checks and the error they
 * raise. Every encoder function returns the 32-bit instruction word as an unsigned number.
 *
 * Register numbers are 0..30 for x0..x30; 31 means `sp` or `xzr`/`wzr` depending on the
 * instruction form (the architecture decides, not the caller), so both aliases below are 31.
 */
import { EncodeError } from "../../errors.ts";

/** Register 31 used as the stack pointer (ADD/SUB immediate, load/store base). */
export const SP = 31;
/** Register 31 used as the zero register (data-processing operands, STP/LDP pairs). */
export const ZR = 31;
/** Architectural aliases the JIT names explicitly. */
export const FP_REG = 29;
export const LR_REG = 30;

/** Throws unless `r` is a register number 0..31. */
export function reg(r: number, what = "register"): number {
  if (!Number.isInteger(r) || r < 0 || r > 31) throw new EncodeError(`${what} ${r} is not a register (0..31)`);
  return r;
}

/** Throws unless `v` is an integer in [lo, hi]. */
export function checkRange(v: number, lo: number, hi: number, what: string): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new EncodeError(`${what} ${v} out of range [${lo}, ${hi}]`);
  return v;
}

/** Checks that `v` is a signed `bits`-bit integer and returns its two's-complement field. */
export function signedField(v: number, bits: number, what: string): number {
  // a shift rather than `**` (a call to pow): this runs for every branch the JIT emits
  const lim = bits <= 32 ? (1 << (bits - 1)) >>> 0 : 2 ** (bits - 1);
  checkRange(v, -lim, lim - 1, what);
  return v < 0 ? v + 2 * lim : v;
}

/** Bit 31 (`sf`) selects the 64-bit form of most data-processing instructions. */
export const sfBit = (is64: boolean): number => (is64 ? 0x80000000 : 0);

/** Final step of every encoder: force the word into an unsigned 32-bit number. */
export const u32 = (w: number): number => w >>> 0;

/** Condition codes of B.cond (ARM ARM C1.2.4). */
export const Cond = {
  EQ: 0,
  NE: 1,
  CS: 2,
  HS: 2,
  CC: 3,
  LO: 3,
  MI: 4,
  PL: 5,
  VS: 6,
  VC: 7,
  HI: 8,
  LS: 9,
  GE: 10,
  LT: 11,
  GT: 12,
  LE: 13,
  AL: 14,
} as const;
