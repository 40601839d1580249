/**
 * Internet checksum arithmetic as the kernel does it on a little-endian host
 * (include/net/checksum.h, lib/checksum.c with arm64's do_csum): every 16-bit word is the
 * little-endian u16 of two bytes in memory, sums are one's-complement with end-around carry, and
 * a `__sum16` stored back into a packet comes out in network order by the same symmetry the
 * kernel relies on. Used by bpf_l3/l4_csum_replace, bpf_csum_diff, bpf_csum_update and the
 * skb resize helpers.
 *
 * Values are unsigned numbers: `__wsum` a u32, `__sum16` a u16.
 */

/** csum_add: a + b with end-around carry (32-bit). */
export function csumAdd(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return (s + (s > 0xffffffff ? 1 : 0)) >>> 0;
}

/** csum_sub: a - b, i.e. a + ~b. */
export function csumSub(a: number, b: number): number {
  return csumAdd(a, ~b >>> 0);
}

/** csum_fold: folds a 32-bit sum to 16 bits and complements it. */
export function csumFold(sum: number): number {
  let s = sum >>> 0;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** csum_from32to16: folds a 32-bit sum to 16 bits with end-around carry, without complementing. */
export function csumFrom32to16(sum: number): number {
  let s = sum >>> 0;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s & 0xffff;
}

/** csum_unfold: a __sum16 as a __wsum (zero-extended). */
export function csumUnfold(sum: number): number {
  return sum & 0xffff;
}

/** csum16_add: 16-bit one's-complement addition. */
export function csum16Add(csum: number, addend: number): number {
  let res = (csum & 0xffff) + (addend & 0xffff);
  res = (res & 0xffff) + (res >>> 16);
  return res & 0xffff;
}

/** csum16_sub: csum16_add(csum, ~addend). */
export function csum16Sub(csum: number, addend: number): number {
  return csum16Add(csum, ~addend & 0xffff);
}

/**
 * do_csum: the folded 16-bit one's-complement sum of `bytes` read as little-endian u16 words
 * (a trailing odd byte is the low byte of a last word). It is 0 only for all-zero input.
 */
export function doCsum(bytes: Uint8Array): number {
  let s = 0;
  const n = bytes.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    s += bytes[i] | (bytes[i + 1] << 8);
    if (s > 0xffffff) s = (s & 0xffff) + (s >>> 16);
  }
  if (i < n) s += bytes[i];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/**
 * csum_partial (lib/checksum.c with the arch do_csum): `seed` plus the 16-bit sum of `bytes`,
 * as a 32-bit __wsum. This exact 32-bit value is what bpf_csum_diff returns on arm64.
 */
export function csumPartial(bytes: Uint8Array, seed: number): number {
  return csumAdd(seed, doCsum(bytes));
}

/** The little-endian u16 at `off` of `b` (a __sum16 or __be16 as the kernel loads it). */
export function loadU16(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8);
}

/** Stores the u16 `v` little-endian at `off` of `b`. */
export function storeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

/** Four bytes holding the u32 `v` little-endian (a __be32 register value as memory). */
export function u32Le(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0, true);
  return out;
}

/** csum_replace4: the checksum at `sum` after the 32-bit word `from` became `to`. */
export function csumReplace4(sum: number, from: number, to: number): number {
  const tmp = csumSub(~csumUnfold(sum) >>> 0, from);
  return csumFold(csumAdd(tmp, to));
}

/** csum_replace2: the same for a 16-bit word, in 16-bit arithmetic. */
export function csumReplace2(sum: number, from: number, to: number): number {
  return ~csum16Add(csum16Sub(~sum & 0xffff, from), to) & 0xffff;
}

/** csum_replace_by_diff: applies a precomputed __wsum difference to the checksum at `sum`. */
export function csumReplaceByDiff(sum: number, diff: number): number {
  return csumFold(csumAdd(diff, ~csumUnfold(sum) >>> 0));
}

/**
 * inet_proto_csum_replace4 for an skb that is not CHECKSUM_PARTIAL (test runs build
 * CHECKSUM_NONE skbs): the diff {~from, to} folded into the checksum.
 */
export function inetProtoCsumReplace4(sum: number, from: number, to: number): number {
  const diff = new Uint8Array(8);
  const v = new DataView(diff.buffer);
  v.setUint32(0, ~from >>> 0, true);
  v.setUint32(4, to >>> 0, true);
  return csumFold(csumPartial(diff, ~csumUnfold(sum) >>> 0));
}

/** inet_proto_csum_replace_by_diff for a non-CHECKSUM_PARTIAL skb. */
export function inetProtoCsumReplaceByDiff(sum: number, diff: number): number {
  return csumFold(csumAdd(diff, ~csumUnfold(sum) >>> 0));
}
