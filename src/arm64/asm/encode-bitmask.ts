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

const ones = (k: number): bigint => (1n << BigInt(k)) - 1n;

/**
 * Encodes `value` as a bitmask immediate for a 32-bit (`is64` false) or 64-bit operation.
 * Returns null when the value has no such encoding: zero, all ones, bits above the operation
 * size, or a pattern that is not a replicated rotated run of ones.
 */
export function encodeBitmaskImm(value: bigint | number, is64: boolean): BitmaskImm | null {
  const size = is64 ? 64 : 32;
  const v = BigInt(value);
  const full = ones(size);
  if (v <= 0n || v >= full || (v & ~full) !== 0n) return null;
  // Smallest element size whose replication reproduces the value.
  let e = size;
  while (e > 2) {
    const half = e / 2;
    const lo = v & ones(half);
    if (((v >> BigInt(half)) & ones(half)) !== lo) break;
    // Every half-sized chunk of the element must match too, which holds when the element
    // itself repeats; checking the full value keeps this simple and exact.
    let rep = 0n;
    for (let i = 0; i < size; i += half) rep |= lo << BigInt(i);
    if (rep !== v) break;
    e = half;
  }
  const elem = v & ones(e);
  let count = 0;
  for (let i = 0; i < e; i++) if ((elem >> BigInt(i)) & 1n) count++;
  const run = ones(count);
  const emask = ones(e);
  for (let r = 0; r < e; r++) {
    // rotate `run` right by r inside an e-bit element
    const rot = r === 0 ? run : ((run >> BigInt(r)) | (run << BigInt(e - r))) & emask;
    if (rot === elem) {
      const sizeBits = e === 64 ? 0 : (0x3f << (Math.log2(e) + 1)) & 0x3f;
      return { n: e === 64 ? 1 : 0, immr: r, imms: sizeBits | (count - 1) };
    }
  }
  return null;
}
