// Differential test of the interpreter's int32-pair arithmetic against a BigInt model written
// straight from RFC 9669 §4 (an independent implementation of the same definitions).
import assert from "node:assert/strict";
import { test } from "node:test";
import { runRawProgram } from "../../src/interp/index.ts";
import { type Insn, programFromInsns } from "../../src/isa/insn.ts";

const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;
const s64 = (x: bigint) => BigInt.asIntN(64, x);
const s32 = (x: bigint) => BigInt.asIntN(32, x);
const u64 = (x: bigint) => BigInt.asUintN(64, x);

/** RFC 9669 semantics of `dst op= src` for ALU (is64 = false) and ALU64. */
function reference(op: number, off: number, is64: boolean, dst: bigint, src: bigint): bigint {
  const w = is64 ? 64 : 32;
  const mask = is64 ? M64 : M32;
  const a = dst & mask;
  const b = src & mask;
  const sa = is64 ? s64(a) : s32(a);
  const sb = is64 ? s64(b) : s32(b);
  let r: bigint;
  switch (op) {
    case 0x00:
      r = a + b;
      break;
    case 0x10:
      r = a - b;
      break;
    case 0x20:
      r = a * b;
      break;
    case 0x30:
      if (off === 1) r = b === 0n ? 0n : sa / sb;
      else r = b === 0n ? 0n : a / b;
      break;
    case 0x40:
      r = a | b;
      break;
    case 0x50:
      r = a & b;
      break;
    case 0x60:
      r = a << (b & BigInt(w - 1));
      break;
    case 0x70:
      r = a >> (b & BigInt(w - 1));
      break;
    case 0x80:
      r = -a;
      break;
    case 0x90:
      if (off === 1) r = b === 0n ? a : sa % sb;
      else r = b === 0n ? a : a % b;
      break;
    case 0xa0:
      r = a ^ b;
      break;
    case 0xb0:
      if (off === 8) r = BigInt.asIntN(8, b);
      else if (off === 16) r = BigInt.asIntN(16, b);
      else if (off === 32) r = BigInt.asIntN(32, b);
      else r = b;
      break;
    case 0xc0:
      r = sa >> (b & BigInt(w - 1));
      break;
    default:
      throw new Error(`op ${op}`);
  }
  return r & mask; // 32-bit results are zero-extended
}

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EDGE = [
  0n,
  1n,
  2n,
  3n,
  7n,
  31n,
  32n,
  63n,
  64n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x1fffffffffffffn,
  0x20000000000000n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  M64,
  M64 - 1n,
  0xdeadbeefcafebaben,
];

function randU64(rnd: () => number): bigint {
  if (rnd() < 0.3) return EDGE[Math.floor(rnd() * EDGE.length)];
  const hi = BigInt(Math.floor(rnd() * 2 ** 32));
  const lo = BigInt(Math.floor(rnd() * 2 ** 32));
  const v = (hi << 32n) | lo;
  // Small and 32-bit magnitudes exercise the fast paths.
  const k = rnd();
  if (k < 0.2) return v & 0xffn;
  if (k < 0.4) return v & M32;
  if (k < 0.5) return u64(-(v & 0xffffn));
  return v;
}

function lddw(dst: number, v: bigint): Insn[] {
  const u = u64(v);
  return [
    { code: 0x18, dst, src: 0, off: 0, imm: Number(BigInt.asIntN(32, u & M32)) },
    { code: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, u >> 32n)) },
  ];
}

const OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0];

test("ALU/ALU64 register and immediate forms agree with a BigInt model of RFC 9669", () => {
  const rnd = mulberry32(0x5eed);
  let checked = 0;
  for (let iter = 0; iter < 40000; iter++) {
    const op = OPS[Math.floor(rnd() * OPS.length)];
    const is64 = rnd() < 0.5;
    const useImm = op !== 0x80 && rnd() < 0.5;
    let off = 0;
    if ((op === 0x30 || op === 0x90) && rnd() < 0.5) off = 1;
    if (op === 0xb0 && !useImm) off = [0, 8, 16, 32][Math.floor(rnd() * 4)];
    if (op === 0xb0 && !is64 && off === 32) off = 0;
    const a = randU64(rnd);
    let b = randU64(rnd);
    if (useImm) b = u64(BigInt.asIntN(32, b)); // immediates are sign-extended s32
    const cls = is64 ? 0x07 : 0x04;
    const code = op === 0x80 ? cls | op : cls | op | (useImm ? 0x00 : 0x08);
    const insns: Insn[] = [...lddw(0, a), ...lddw(1, b)];
    insns.push({
      code,
      dst: 0,
      src: useImm || op === 0x80 ? 0 : 1,
      off,
      imm: useImm ? Number(BigInt.asIntN(32, b)) : 0,
    });
    insns.push({ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 });
    const got = runRawProgram(programFromInsns(insns), null).r0;
    const want = reference(op, off, is64, a, op === 0x80 ? 0n : b);
    assert.equal(
      got,
      want,
      `op 0x${code.toString(16)} off ${off}: a=0x${a.toString(16)} b=0x${b.toString(16)}: got 0x${got.toString(16)} want 0x${want.toString(16)}`,
    );
    checked++;
  }
  assert.equal(checked, 40000);
});

test("64-bit and 32-bit conditional jumps agree with a BigInt model", () => {
  const rnd = mulberry32(0xbeef);
  const JOPS: [number, (a: bigint, b: bigint, w: number) => boolean][] = [
    [0x10, (a, b) => a === b],
    [0x20, (a, b) => a > b],
    [0x30, (a, b) => a >= b],
    [0x40, (a, b) => (a & b) !== 0n],
    [0x50, (a, b) => a !== b],
    [0x60, (a, b, w) => BigInt.asIntN(w, a) > BigInt.asIntN(w, b)],
    [0x70, (a, b, w) => BigInt.asIntN(w, a) >= BigInt.asIntN(w, b)],
    [0xa0, (a, b) => a < b],
    [0xb0, (a, b) => a <= b],
    [0xc0, (a, b, w) => BigInt.asIntN(w, a) < BigInt.asIntN(w, b)],
    [0xd0, (a, b, w) => BigInt.asIntN(w, a) <= BigInt.asIntN(w, b)],
  ];
  for (let iter = 0; iter < 20000; iter++) {
    const [op, pred] = JOPS[Math.floor(rnd() * JOPS.length)];
    const is64 = rnd() < 0.5;
    const useImm = rnd() < 0.5;
    const a = randU64(rnd);
    let b = rnd() < 0.2 ? a : randU64(rnd);
    if (useImm) b = u64(BigInt.asIntN(32, b));
    const w = is64 ? 64 : 32;
    const mask = is64 ? M64 : M32;
    const code = (is64 ? 0x05 : 0x06) | op | (useImm ? 0 : 0x08);
    const insns: Insn[] = [
      ...lddw(2, a),
      ...lddw(3, b),
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
      { code, dst: 2, src: useImm ? 0 : 3, off: 1, imm: useImm ? Number(BigInt.asIntN(32, b)) : 0 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: 1 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ];
    const got = runRawProgram(programFromInsns(insns), null).r0;
    const want = pred(a & mask, b & mask, w) ? 1n : 0n;
    assert.equal(got, want, `jmp 0x${code.toString(16)} a=0x${a.toString(16)} b=0x${b.toString(16)}`);
  }
});
