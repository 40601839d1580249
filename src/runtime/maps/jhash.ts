/**
 * Bob Jenkins' lookup3 hash as include/linux/jhash.h spells it (`jhash`, `jhash2`), which
 * kernel/bpf/hashtab.c uses to pick a bucket: `htab_map_hash` calls jhash2 over u32 words when
 * key_size is a multiple of 4 and jhash over bytes otherwise. With the seed the kernel uses for
 * BPF_F_ZERO_SEED (0), bucket order, and so BPF_MAP_GET_NEXT_KEY order, matches the kernel's.
 * Words are read little-endian, as on x86-64 and arm64.
 */

const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** State of the three lanes between rounds; one per call, no allocation in the loop. */
class Lanes {
  a = 0;
  b = 0;
  c = 0;

  /** __jhash_mix */
  mix(): void {
    let { a, b, c } = this;
    a = (a - c) >>> 0;
    a = (a ^ rol32(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rol32(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rol32(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rol32(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rol32(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rol32(b, 4)) >>> 0;
    b = (b + a) >>> 0;
    this.a = a;
    this.b = b;
    this.c = c;
  }

  /** __jhash_final */
  final(): void {
    let { a, b, c } = this;
    c = (c ^ b) >>> 0;
    c = (c - rol32(b, 14)) >>> 0;
    a = (a ^ c) >>> 0;
    a = (a - rol32(c, 11)) >>> 0;
    b = (b ^ a) >>> 0;
    b = (b - rol32(a, 25)) >>> 0;
    c = (c ^ b) >>> 0;
    c = (c - rol32(b, 16)) >>> 0;
    a = (a ^ c) >>> 0;
    a = (a - rol32(c, 4)) >>> 0;
    b = (b ^ a) >>> 0;
    b = (b - rol32(a, 14)) >>> 0;
    c = (c ^ b) >>> 0;
    c = (c - rol32(b, 24)) >>> 0;
    this.a = a;
    this.b = b;
    this.c = c;
  }
}

function word(k: Uint8Array, i: number): number {
  return (k[i] | (k[i + 1] << 8) | (k[i + 2] << 16) | (k[i + 3] << 24)) >>> 0;
}

/** jhash(key, length, initval): hash of `key`'s bytes. */
export function jhash(key: Uint8Array, initval: number): number {
  const s = new Lanes();
  let length = key.length;
  s.a = s.b = s.c = (JHASH_INITVAL + length + initval) >>> 0;
  let i = 0;
  while (length > 12) {
    s.a = (s.a + word(key, i)) >>> 0;
    s.b = (s.b + word(key, i + 4)) >>> 0;
    s.c = (s.c + word(key, i + 8)) >>> 0;
    s.mix();
    length -= 12;
    i += 12;
  }
  if (length === 0) return s.c;
  // The tail: bytes 8..11 go to c, 4..7 to b, 0..3 to a, each at its little-endian position.
  for (let j = length - 1; j >= 0; j--) {
    const v = (key[i + j] << ((j & 3) * 8)) >>> 0;
    if (j >= 8) s.c = (s.c + v) >>> 0;
    else if (j >= 4) s.b = (s.b + v) >>> 0;
    else s.a = (s.a + v) >>> 0;
  }
  s.final();
  return s.c;
}

/** jhash2(words, length, initval): hash of `key` read as little-endian u32 words (length % 4 == 0). */
export function jhash2(key: Uint8Array, initval: number): number {
  const s = new Lanes();
  let length = key.length >>> 2;
  s.a = s.b = s.c = (JHASH_INITVAL + (length << 2) + initval) >>> 0;
  let i = 0;
  while (length > 3) {
    s.a = (s.a + word(key, i)) >>> 0;
    s.b = (s.b + word(key, i + 4)) >>> 0;
    s.c = (s.c + word(key, i + 8)) >>> 0;
    s.mix();
    length -= 3;
    i += 12;
  }
  if (length === 0) return s.c;
  if (length >= 3) s.c = (s.c + word(key, i + 8)) >>> 0;
  if (length >= 2) s.b = (s.b + word(key, i + 4)) >>> 0;
  s.a = (s.a + word(key, i)) >>> 0;
  s.final();
  return s.c;
}

/** htab_map_hash: the hash hashtab.c computes for a key. */
export function htabMapHash(key: Uint8Array, hashrnd: number): number {
  return key.length % 4 === 0 ? jhash2(key, hashrnd) : jhash(key, hashrnd);
}
