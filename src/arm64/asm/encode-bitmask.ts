/**
 * The AArch64 "bitmask immediate" of AND/ORR/EOR/ANDS (immediate): a pattern of `e` bits
 * (e = 2, 4, ..., 64) replicated across the register, where the pattern is a rotated run of
 * ones. It is encoded as N:immr:imms; N is set only for 64-bit elements, `imms` carries both
 * the element size (its leading ones) and the run length minus one, `immr` the right rotation.
 */

export interface BitmaskImm {
  readonly n: number;
  readonly immr: number;
  readonly imms: number;
}

const TWO32 = 2 ** 32;

/**
 * Encodes `value` as a bitmask immediate for a 32-bit (`is64` false) or 64-bit operation.
 * Returns null when the value has no such encoding: zero, all ones, bits above the operation
 * size, or a pattern that is not a replicated rotated run of ones.
 */
export function encodeBitmaskImm(value: bigint | number, is64: boolean): BitmaskImm | null {
  if (typeof value === "number" && Number.isSafeInteger(value)) {
    if (value <= 0) return null;
    return encodeBitmaskImmHiLo(Math.floor(value / TWO32), value >>> 0, is64);
  }
  const v = BigInt(value);
  if (v <= 0n || v >> 64n !== 0n) return null;
  return encodeBitmaskImmHiLo(Number(v >> 32n), Number(v & 0xffffffffn), is64);
}

/** Number of set bits of a u32. */
function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Index of the lowest set bit of a non-zero u32. */
const lowestBit = (x: number): number => 31 - Math.clz32(x & -x);

/**
 * {@link encodeBitmaskImm} of the 64-bit value hi:lo given as two u32 halves (numbers, so that
 * the JIT's logical immediates need no BigInt).
 *
 * The element size e is the smallest period of the value (a 32-bit pattern that equals itself
 * rotated by e, e dividing 32, has period e). In the element, a valid pattern is one cyclic
 * run of ones: exactly one set bit whose cyclic predecessor is clear, the run's start s; the
 * encoder's rotation is then immr = (e - s) mod e and imms carries e and the run length.
 */
export function encodeBitmaskImmHiLo(hi: number, lo: number, is64: boolean): BitmaskImm | null {
  hi >>>= 0;
  lo >>>= 0;
  if (!is64 && hi !== 0) return null;
  if (hi === 0 && lo === 0) return null;
  if (is64 ? hi === 0xffffffff && lo === 0xffffffff : lo === 0xffffffff) return null;
  let e: number;
  let count: number;
  let start: number;
  if (is64 && hi !== lo) {
    e = 64;
    count = popcount(hi) + popcount(lo);
    // run starts: set bits whose lower neighbour (cyclically, bit 63 below bit 0) is clear
    const sLo = (lo & ~((lo << 1) | (hi >>> 31))) >>> 0;
    const sHi = (hi & ~((hi << 1) | (lo >>> 31))) >>> 0;
    if (popcount(sLo) + popcount(sHi) !== 1) return null;
    start = sLo !== 0 ? lowestBit(sLo) : 32 + lowestBit(sHi);
  } else {
    e = 32;
    while (e > 2) {
      const h = e / 2;
      if (((lo >>> h) | (lo << (32 - h))) >>> 0 !== lo) break;
      e = h;
    }
    const mask = e === 32 ? 0xffffffff : (1 << e) - 1;
    const elem = lo & mask;
    count = popcount(elem);
    const prev = ((elem << 1) | (elem >>> (e - 1))) & mask;
    const starts = (elem & ~prev) >>> 0;
    if (popcount(starts) !== 1) return null;
    start = lowestBit(starts);
  }
  const sizeBits = e === 64 ? 0 : (0x3f << (31 - Math.clz32(e) + 1)) & 0x3f;
  return { n: e === 64 ? 1 : 0, immr: (e - start) % e, imms: sizeBits | (count - 1) };
}
