// Seeded random number generators of the fuzz and property tests. Each test keeps the generator
// it was written with, so that a seed keeps naming the same cases.
import { Prng } from "../elf/fixtures.ts";

/** What the random program generators draw from. */
export interface Random {
  /** A uniform unsigned 32-bit integer. */
  u32(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
  /** A uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T;
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded through splitmix32. */
export class Sfc32 implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** The xorshift32 `Prng` of the ELF tests with the draws the fuzzers need. */
export class CaseRng extends Prng implements Random {
  /** A uniform number in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
}

/** The generator of case `index` of a run seeded with `seed`: depends on the two alone. */
export function caseRng(seed: number, index: number): CaseRng {
  let z = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return new CaseRng((z ^ (z >>> 16)) >>> 0);
}

/** mulberry32: small, seedable, good enough to spread the cases; uniform unsigned 32-bit integers. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
