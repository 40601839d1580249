/**
 * 64-bit arithmetic on register pairs.
 *
 * The interpreter keeps each BPF register as two int32 words in parallel typed arrays
 * (`lo[r]`, `hi[r]`), because JavaScript numbers cannot hold 64-bit integers and BigInt
 * arithmetic is an order of magnitude slower. The operations here read a destination register
 * and a second operand (`bl`, `bh`) and write the result back into the destination; they
 * allocate nothing on the common paths and fall back to BigInt only for 64-bit division whose
 * operands do not fit in 53 bits.
 *
 * Semantics follow RFC 9669 and the kernel: division by zero gives 0, modulo by zero leaves the
 * dividend, signed INT_MIN / -1 gives INT_MIN and INT_MIN % -1 gives 0.
 */

const TWO_32 = 4294967296;
/** Largest upper word for which hi * 2^32 + lo is an exact double (value < 2^53). */
const SAFE_HI = 0x1fffff;

/** High 32 bits of the unsigned 64-bit product of two unsigned 32-bit words. */
export function mulhu32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) | 0;
}

/** r[d] *= (bh:bl), modulo 2^64. */
export function mul64(lo: Int32Array, hi: Int32Array, d: number, bl: number, bh: number): void {
  const al = lo[d];
  const ah = hi[d];
  hi[d] = Math.imul(al, bh) + Math.imul(ah, bl) + mulhu32(al, bl);
  lo[d] = Math.imul(al, bl);
}

/** r[d] <<= n (n already masked to 0..63). */
export function lsh64(lo: Int32Array, hi: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    hi[d] = (hi[d] << n) | (lo[d] >>> (32 - n));
    lo[d] = lo[d] << n;
  } else {
    hi[d] = lo[d] << (n - 32);
    lo[d] = 0;
  }
}

/** r[d] >>= n, logical (n already masked to 0..63). */
export function rsh64(lo: Int32Array, hi: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    lo[d] = (lo[d] >>> n) | (hi[d] << (32 - n));
    hi[d] = hi[d] >>> n;
  } else {
    lo[d] = hi[d] >>> (n - 32);
    hi[d] = 0;
  }
}

/** r[d] >>= n, arithmetic (n already masked to 0..63). */
export function arsh64(lo: Int32Array, hi: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    lo[d] = (lo[d] >>> n) | (hi[d] << (32 - n));
    hi[d] = hi[d] >> n;
  } else {
    lo[d] = hi[d] >> (n - 32);
    hi[d] = hi[d] >> 31;
  }
}

function toBig(h: number, l: number): bigint {
  return (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
}

function storeBig(lo: Int32Array, hi: Int32Array, d: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  lo[d] = Number(u & 0xffffffffn);
  hi[d] = Number(u >> 32n);
}

function storeNum(lo: Int32Array, hi: Int32Array, d: number, v: number): void {
  // v is a non-negative integer < 2^53.
  lo[d] = v % TWO_32;
  hi[d] = Math.floor(v / TWO_32);
}

/** Exact floor(a / b) and a mod b for non-negative integers a, b < 2^53, b > 0. */
function udivSafe(a: number, b: number): number {
  let q = Math.floor(a / b);
  // The rounded quotient can be one off near integers; correct it exactly.
  const r = a - q * b;
  if (r < 0) q -= 1;
  else if (r >= b) q += 1;
  return q;
}

/** r[d] = r[d] / (bh:bl), unsigned; division by zero gives 0. */
export function udiv64(lo: Int32Array, hi: Int32Array, d: number, bl: number, bh: number): void {
  if ((bl | bh) === 0) {
    lo[d] = 0;
    hi[d] = 0;
    return;
  }
  const ah = hi[d] >>> 0;
  const bhu = bh >>> 0;
  if (ah <= SAFE_HI && bhu <= SAFE_HI) {
    const a = ah * TWO_32 + (lo[d] >>> 0);
    const b = bhu * TWO_32 + (bl >>> 0);
    storeNum(lo, hi, d, udivSafe(a, b));
    return;
  }
  storeBig(lo, hi, d, toBig(hi[d], lo[d]) / toBig(bh, bl));
}

/** r[d] = r[d] % (bh:bl), unsigned; modulo by zero leaves r[d]. */
export function umod64(lo: Int32Array, hi: Int32Array, d: number, bl: number, bh: number): void {
  if ((bl | bh) === 0) return;
  const ah = hi[d] >>> 0;
  const bhu = bh >>> 0;
  if (ah <= SAFE_HI && bhu <= SAFE_HI) {
    const a = ah * TWO_32 + (lo[d] >>> 0);
    const b = bhu * TWO_32 + (bl >>> 0);
    storeNum(lo, hi, d, a - udivSafe(a, b) * b);
    return;
  }
  storeBig(lo, hi, d, toBig(hi[d], lo[d]) % toBig(bh, bl));
}

function toBigSigned(h: number, l: number): bigint {
  return BigInt.asIntN(64, toBig(h, l));
}

/** r[d] = r[d] s/ (bh:bl); by zero gives 0; INT64_MIN / -1 gives INT64_MIN. */
export function sdiv64(lo: Int32Array, hi: Int32Array, d: number, bl: number, bh: number): void {
  if ((bl | bh) === 0) {
    lo[d] = 0;
    hi[d] = 0;
    return;
  }
  storeBig(lo, hi, d, toBigSigned(hi[d], lo[d]) / toBigSigned(bh, bl));
}

/** r[d] = r[d] s% (bh:bl) (sign of the dividend); by zero leaves r[d]. */
export function smod64(lo: Int32Array, hi: Int32Array, d: number, bl: number, bh: number): void {
  if ((bl | bh) === 0) return;
  storeBig(lo, hi, d, toBigSigned(hi[d], lo[d]) % toBigSigned(bh, bl));
}

/** 32-bit signed division with the BPF rules: by zero 0, INT32_MIN / -1 = INT32_MIN. */
export function sdiv32(a: number, b: number): number {
  if (b === 0) return 0;
  if (a === -2147483648 && b === -1) return a;
  return Math.trunc(a / b) | 0;
}

/** 32-bit signed modulo with the BPF rules: by zero leaves a, INT32_MIN % -1 = 0. */
export function smod32(a: number, b: number): number {
  if (b === 0) return a;
  if (b === -1) return 0;
  return (a % b) | 0;
}

/** Reverses the bytes of a 32-bit word. */
export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Reverses the two low bytes of x (result zero-extended). */
export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}
