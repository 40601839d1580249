// Scalar knowledge: tnums, bounds, ALU transfer functions and branch refinement.
//  - Soundness against concrete arithmetic (the independent truth here): for random abstract
//    operands and random concrete values inside them, the concrete result of every ALU
//    operation (64 and 32 bits) lies inside the abstract result, a branch the model calls
//    decided goes that way for every value, and the bounds each edge keeps contain every value
//    that takes it.
//  - Precision against the kernel: the states Linux printed after the selftests'
//    exceptions_assert.c asserts (spec §7.4), i.e. what `if x <op> C` teaches about an unknown
//    s64 on the edge that skips the throw.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  BPF_ADD,
  BPF_AND,
  BPF_ARSH,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_LSH,
  BPF_MUL,
  BPF_OR,
  BPF_RSH,
  BPF_SUB,
  BPF_XOR,
} from "../../src/isa/opcodes.ts";
import { isScalarBranchTaken, setMinMax } from "../../src/verifier/branch.ts";
import { S64_MAX, Scalar } from "../../src/verifier/scalar.ts";
import { scalarAlu } from "../../src/verifier/scalar-alu.ts";
import { tnumAdd, tnumConst, tnumMul, tnumRange, tnumStr } from "../../src/verifier/tnum.ts";

const U64 = (1n << 64n) - 1n;
const u64 = (x: bigint) => BigInt.asUintN(64, x);
const s64 = (x: bigint) => BigInt.asIntN(64, x);
const u32 = (x: bigint) => BigInt.asUintN(32, x);
const s32 = (x: bigint) => BigInt.asIntN(32, x);

/** xorshift64*, seeded: the same cases on every run. */
class Rng {
  state = 0x2545f4914f6cdd1dn;
  next(): bigint {
    let x = this.state;
    x ^= x >> 12n;
    x ^= u64(x << 25n);
    x ^= x >> 27n;
    this.state = x;
    return u64(x * 0x2545f4914f6cdd1dn);
  }
  below(n: number): number {
    return Number(this.next() % BigInt(n));
  }
}

const rng = new Rng();

/** A random abstract value (a tnum of varied shape, sometimes narrowed by a comparison) with a concrete sampler. */
function randomScalar(): { s: Scalar; sample: () => bigint | null } {
  const shapes = [0n, 0xffn, 0xffffn, 0xffff_ffffn, U64, 0xf0f0n, 0x8000_0000_0000_000fn, 0xffff_ffff_0000_0000n];
  const mask = shapes[rng.below(shapes.length)] & (rng.below(4) === 0 ? rng.next() : U64);
  const value = rng.next() & ~mask;
  const s = Scalar.unknown();
  s.varOff = { value, mask };
  s.sync();
  let abs = s;
  if (rng.below(2) === 0) {
    const ops = [BPF_JGT, BPF_JLT, BPF_JSGT, BPF_JSLT, BPF_JGE, BPF_JSLE];
    const c = value | (rng.next() & mask);
    const r = setMinMax(s, Scalar.known(c), ops[rng.below(ops.length)], rng.below(3) === 0);
    if (r.violations.length === 0) abs = r.true1;
  }
  const sample = (): bigint | null => {
    for (let i = 0; i < 20; i++) {
      const x = value | (rng.next() & mask);
      if (abs.contains(Scalar.known(x))) return x;
    }
    return null;
  };
  return { s: abs, sample };
}

/** The concrete BPF ALU operation (64-bit, or 32-bit zero-extended). */
function concreteAlu(op: number, alu32: boolean, a: bigint, b: bigint): bigint {
  const w = alu32 ? 32 : 64;
  const mask = (1n << BigInt(w)) - 1n;
  const x = a & mask;
  const y = b & mask;
  let r: bigint;
  switch (op) {
    case BPF_ADD:
      r = x + y;
      break;
    case BPF_SUB:
      r = x - y;
      break;
    case BPF_MUL:
      r = x * y;
      break;
    case BPF_AND:
      r = x & y;
      break;
    case BPF_OR:
      r = x | y;
      break;
    case BPF_XOR:
      r = x ^ y;
      break;
    case BPF_LSH:
      r = x << y;
      break;
    case BPF_RSH:
      r = x >> y;
      break;
    case BPF_ARSH:
      r = BigInt.asIntN(w, x) >> y;
      break;
    default:
      throw new Error("op");
  }
  return r & mask;
}

/** The concrete outcome of a conditional jump. */
function concreteCond(op: number, jmp32: boolean, a: bigint, b: bigint): boolean {
  const ua = jmp32 ? u32(a) : a;
  const ub = jmp32 ? u32(b) : b;
  const sa = jmp32 ? s32(a) : s64(a);
  const sb = jmp32 ? s32(b) : s64(b);
  switch (op) {
    case BPF_JEQ:
      return ua === ub;
    case BPF_JNE:
      return ua !== ub;
    case BPF_JGT:
      return ua > ub;
    case BPF_JGE:
      return ua >= ub;
    case BPF_JLT:
      return ua < ub;
    case BPF_JLE:
      return ua <= ub;
    case BPF_JSGT:
      return sa > sb;
    case BPF_JSGE:
      return sa >= sb;
    case BPF_JSLT:
      return sa < sb;
    case BPF_JSLE:
      return sa <= sb;
    case BPF_JSET:
      return (ua & ub) !== 0n;
    default:
      throw new Error("op");
  }
}

describe("tnum", () => {
  test("tnum_range and tnum_strn", () => {
    assert.deepEqual(tnumRange(4096n, 8192n), { value: 0n, mask: 0x3fffn });
    assert.deepEqual(tnumRange(5n, 5n), { value: 5n, mask: 0n });
    assert.equal(tnumStr({ value: 0n, mask: 0x3fffn }), "(0x0; 0x3fff)");
    assert.equal(tnumStr(tnumConst(0n)), "0");
    assert.equal(tnumStr(tnumConst(0x10000n)), "0x10000");
  });

  test("add and mul of known values are known", () => {
    assert.deepEqual(tnumAdd(tnumConst(3n), tnumConst(4n)), tnumConst(7n));
    assert.deepEqual(tnumMul(tnumConst(6n), tnumConst(7n)), tnumConst(42n));
    assert.deepEqual(tnumAdd(tnumConst(U64), tnumConst(1n)), tnumConst(0n));
  });
});

describe("ALU bounds are sound", () => {
  const ops = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH, BPF_ARSH];
  for (const op of ops) {
    for (const alu32 of [false, true]) {
      test(`op 0x${op.toString(16)} ${alu32 ? "32" : "64"}-bit`, () => {
        for (let i = 0; i < 300; i++) {
          const a = randomScalar();
          const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
          const b = shift
            ? (() => {
                const k = BigInt(rng.below(alu32 ? 32 : 64));
                return { s: Scalar.known(k), sample: () => k };
              })()
            : randomScalar();
          const r = scalarAlu(op, alu32, a.s, b.s);
          for (let j = 0; j < 10; j++) {
            const x = a.sample();
            const y = b.sample();
            if (x === null || y === null) continue;
            const c = concreteAlu(op, alu32, x, y);
            assert.ok(r.contains(Scalar.known(c)), `${x} op ${y} = ${c} outside ${r}`);
          }
        }
      });
    }
  }
});

describe("branches are sound", () => {
  const ops = [BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE, BPF_JSET];
  for (const op of ops) {
    for (const jmp32 of [false, true]) {
      test(`jump 0x${op.toString(16)} ${jmp32 ? "32" : "64"}-bit`, () => {
        for (let i = 0; i < 300; i++) {
          const a = randomScalar();
          const b =
            rng.below(2) === 0
              ? randomScalar()
              : (() => {
                  const k = rng.next() & 0xffn;
                  return { s: Scalar.known(k), sample: () => k };
                })();
          const taken = isScalarBranchTaken(a.s, b.s, op, jmp32);
          const r = setMinMax(a.s, b.s, op, jmp32);
          for (let j = 0; j < 10; j++) {
            const x = a.sample();
            const y = b.sample();
            if (x === null || y === null) continue;
            const cond = concreteCond(op, jmp32, x, y);
            if (taken === 1) assert.ok(cond, "decided taken");
            if (taken === 0) assert.ok(!cond, "decided not taken");
            if (taken !== -1 || r.violations.length > 0) continue;
            const [r1, r2] = cond ? [r.true1, r.true2] : [r.false1, r.false2];
            assert.ok(r1.contains(Scalar.known(x)), `${x} lost on the ${cond} edge`);
            assert.ok(r2.contains(Scalar.known(y)), `${y} lost on the ${cond} edge`);
          }
        }
      });
    }
  }
});

/** The knowledge of an unknown s64 on the edge where `x op c` holds. */
function after(op: number, c: bigint, x: Scalar = Scalar.unknown()): Scalar {
  return setMinMax(x, Scalar.known(c), op, false).true1;
}

describe("bounds after an assert, as Linux printed them (exceptions_assert.c, spec §7.4)", () => {
  const INT_MIN = -(1n << 31n);
  const INT_MAX = (1n << 31n) - 1n;
  test("eq: the constant", () => {
    assert.ok(after(BPF_JEQ, INT_MIN).equalsConst(0xffff_ffff_8000_0000n));
    assert.ok(after(BPF_JEQ, INT_MAX).equalsConst(0x7fff_ffffn));
    assert.ok(after(BPF_JEQ, 0n).equalsConst(0n));
  });
  test("lt_pos: smax=0x7ffffffe", () => assert.equal(after(BPF_JSLT, INT_MAX).smax, 0x7fff_fffen));
  test("lt_zero: smax=-1,umin=0x8000000000000000,var_off=(0x8000000000000000; 0x7fffffffffffffff)", () => {
    const s = after(BPF_JSLT, 0n);
    assert.equal(s.smax, -1n);
    assert.equal(s.umin, 0x8000_0000_0000_0000n);
    assert.equal(tnumStr(s.varOff), "(0x8000000000000000; 0x7fffffffffffffff)");
  });
  test("lt_neg: smax=0xffffffff7fffffff", () =>
    assert.equal(u64(after(BPF_JSLT, INT_MIN).smax), 0xffff_ffff_7fff_ffffn));
  test("le_pos / le_zero / le_neg", () => {
    assert.equal(after(BPF_JSLE, INT_MAX).smax, 0x7fff_ffffn);
    assert.equal(after(BPF_JSLE, 0n).smax, 0n);
    assert.equal(u64(after(BPF_JSLE, INT_MIN).smax), 0xffff_ffff_8000_0000n);
  });
  test("gt_pos: smin=umin=0x80000000,umax=0x7fffffffffffffff,var_off=(0x0; 0x7fffffffffffffff)", () => {
    const s = after(BPF_JSGT, INT_MAX);
    assert.equal(s.smin, 0x8000_0000n);
    assert.equal(s.umin, 0x8000_0000n);
    assert.equal(s.umax, S64_MAX);
    assert.equal(tnumStr(s.varOff), "(0x0; 0x7fffffffffffffff)");
  });
  test("gt_zero: smin=umin=1,umax=0x7fffffffffffffff", () => {
    const s = after(BPF_JSGT, 0n);
    assert.equal(s.smin, 1n);
    assert.equal(s.umin, 1n);
    assert.equal(s.umax, S64_MAX);
  });
  test("gt_neg / ge_neg: smin=0xffffffff80000001 / 0xffffffff80000000", () => {
    assert.equal(u64(after(BPF_JSGT, INT_MIN).smin), 0xffff_ffff_8000_0001n);
    assert.equal(u64(after(BPF_JSGE, INT_MIN).smin), 0xffff_ffff_8000_0000n);
  });
  test("ge_pos / ge_zero", () => {
    const pos = after(BPF_JSGE, INT_MAX);
    assert.equal(pos.smin, 0x7fff_ffffn);
    assert.equal(pos.umin, 0x7fff_ffffn);
    const zero = after(BPF_JSGE, 0n);
    assert.equal(zero.smin, 0n);
    assert.equal(zero.umax, S64_MAX);
    assert.equal(tnumStr(zero.varOff), "(0x0; 0x7fffffffffffffff)");
  });
  test("range_s64: smin=0xffffffff80000002,smax=smax32=0x7ffffffd,smin32=0x80000002", () => {
    const s = after(BPF_JSLE, INT_MAX - 2n, after(BPF_JSGE, INT_MIN + 2n));
    assert.equal(u64(s.smin), 0xffff_ffff_8000_0002n);
    assert.equal(s.smax, 0x7fff_fffdn);
    assert.equal(s.s32max, 0x7fff_fffdn);
    assert.equal(u32(s.s32min), 0x8000_0002n);
    assert.equal(s.umin, 0n);
    assert.equal(s.umax, U64);
  });
  test("range_u64: smin=umin=smin32=umin32=4096,smax=umax=smax32=umax32=8192,var_off=(0x0; 0x3fff)", () => {
    const s = after(BPF_JLE, 8192n, after(BPF_JGE, 4096n));
    for (const v of [s.smin, s.umin, s.s32min, s.u32min]) assert.equal(v, 4096n);
    for (const v of [s.smax, s.umax, s.s32max, s.u32max]) assert.equal(v, 8192n);
    assert.equal(tnumStr(s.varOff), "(0x0; 0x3fff)");
  });
  test("single_range_s64: 4096", () => {
    assert.ok(after(BPF_JSLE, 4096n, after(BPF_JSGE, 4096n)).equalsConst(4096n));
  });
});

/** A scalar with the given 64-bit ranges (subregister and tnum unknown), synced. */
function ranges64(smin: bigint, smax: bigint, umin: bigint, umax: bigint): Scalar {
  const s = Scalar.unknown();
  s.smin = smin;
  s.smax = smax;
  s.umin = umin;
  s.umax = umax;
  s.sync();
  return s;
}

describe("ranges that cross a sign boundary (the 6.12.81 backport 6.12.117 has)", () => {
  test("a wrapping s64 range meeting only the u64 range's non-negative end narrows both", () => {
    // u32 - 40: s64 [-40, 2^32-41]; then `if x > -0xfff` fell through: u64 [0, -0xfff]
    const s = ranges64(-40n, (1n << 32n) - 41n, 0n, u64(-0xfffn));
    assert.equal(s.smin, 0n);
    assert.equal(s.umax, (1n << 32n) - 41n);
  });
  test("... and one meeting only its negative end", () => {
    const s = ranges64(-40n, (1n << 32n) - 41n, u64(-100n), U64);
    assert.equal(s.smax, -1n);
    assert.equal(s.umin, u64(-40n));
  });
  test("the same for s32 and u32", () => {
    const s = Scalar.unknown();
    s.s32min = -40n;
    s.s32max = 1000n;
    s.u32min = 0n;
    s.u32max = 0xffff_f000n;
    s.sync();
    assert.equal(s.s32min, 0n);
    assert.equal(s.u32max, 1000n);
  });
  test("jmp.c: a u32 load minus 40 is never s< -0xfff once compared unsigned", () => {
    let x = Scalar.unknown();
    x.coerceToSize(4);
    x = scalarAlu(BPF_SUB, false, x, Scalar.known(40n));
    const fell = setMinMax(x, Scalar.known(-0xfffn), BPF_JGT, false).false1;
    assert.equal(isScalarBranchTaken(fell, Scalar.known(-0xfffn), BPF_JSGT, false), 1);
    assert.equal(isScalarBranchTaken(fell, Scalar.known(-0xfffn), BPF_JGE, false), 0);
  });
});
