// Property test of the arm64 JIT on thousands of random valid post-verifier programs (every ALU
// and JMP op in both widths and operand forms, every load/store size, atomics in both the LSE and
// LL/SC variants, byte swaps, sign extension, helper and BPF-to-BPF calls, tail calls, stacks of
// every size): each image must
//   - decode completely with our disassembler, and exactly as llvm-objdump-19 prints it (the
//     independent truth; skipped loudly when llvm is missing);
//   - branch only to instruction boundaries inside the function (b, b.cond, cbz/cbnz, tbz/tbnz;
//     bl leaves for helpers and other functions, the PLT's ldr reads its target word);
//   - contain no BRK (the kernel fills unused image space with BRK: a hole means a wrong offset
//     pass);
//   - be the same when compiled again (the passes converge).
import assert from "node:assert/strict";
import { test } from "node:test";
import { disasmA64Image, formatObjdump } from "../../src/arm64/asm/disasm.ts";
import { type JitFunction, jitProgram } from "../../src/arm64/jit/index.ts";
import { type Insn, programFromInsns } from "../../src/isa/insn.ts";
import { mulberry32 } from "../support/rng.ts";
import { haveObjdump, llvmObjdumpImages } from "./llvm-objdump.ts";

const SEED = Number(process.env.JIT_PROP_SEED ?? 0x1a64_5eed) >>> 0;
const PROGRAMS = Number(process.env.JIT_PROP_PROGRAMS ?? 3000);

/** mulberry32 as uniform numbers in [0, 1). */
function rng(seed: number): () => number {
  const u32 = mulberry32(seed);
  return () => u32() / 4294967296;
}

const INTERESTING = [
  0, 1, -1, 2, 7, 0xff, 0xfff, 0x1000, 0xffff, 0x10000, 0x12345, 0x7fffffff, -0x80000000, -0x10000, 0x5555_5555,
  0x0f0f_0f0f, -0x1000, 0xff00, 0x3fc,
];

interface Gen {
  readonly r: () => number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  imm(): number;
}

function gen(seed: number): Gen {
  const r = rng(seed);
  const g: Gen = {
    r,
    int: (n) => Math.floor(r() * n),
    pick: (xs) => xs[Math.floor(r() * xs.length)],
    imm: () => (r() < 0.6 ? g.pick(INTERESTING) : Math.floor(r() * 2 ** 32) | 0),
  };
  return g;
}

const ins = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

const ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0];
const JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
const SIZES = [0x00, 0x08, 0x10, 0x18]; // W H B DW
const ATOMIC_OPS = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1];

/** A writable register (r0..r9). */
const wreg = (g: Gen) => g.int(10);
/** A readable register (r0..r10). */
const rreg = (g: Gen) => g.int(11);

/** One random non-control-flow instruction (or two slots for ld_imm64). */
function straight(g: Gen, stack: number): Insn[] {
  const k = g.int(14);
  if (k < 5) {
    const cls = g.r() < 0.5 ? 0x07 : 0x04;
    const op = g.pick(ALU_OPS);
    const x = g.r() < 0.5 ? 0x08 : 0x00;
    if (op === 0x80) return [ins(cls | op, wreg(g), 0, 0, 0)]; // neg
    let imm = g.imm();
    let off = 0;
    if (op === 0x60 || op === 0x70 || op === 0xc0) imm = g.int(cls === 0x07 ? 64 : 32); // shifts
    if ((op === 0x30 || op === 0x90) && g.r() < 0.3) off = 1; // sdiv / smod
    if ((op === 0x30 || op === 0x90) && x === 0 && imm === 0) imm = 3;
    if (op === 0xb0 && x === 0x08 && g.r() < 0.3) off = g.pick(cls === 0x07 ? [8, 16, 32] : [8, 16]); // movsx
    return [ins(cls | op | x, wreg(g), x ? rreg(g) : 0, off, x ? 0 : imm)];
  }
  if (k === 5) {
    // byte swaps: to-le / to-be (ALU) and bswap (ALU64)
    const code = g.pick([0xd4, 0xdc, 0xd7]);
    return [ins(code, wreg(g), 0, 0, g.pick([16, 32, 64]))];
  }
  if (k === 6) {
    const v = BigInt.asUintN(64, BigInt(g.imm()) * BigInt(g.imm()) + BigInt(g.imm()));
    return [ins(0x18, wreg(g), 0, 0, Number(v & 0xffffffffn) | 0), ins(0x00, 0, 0, 0, Number(v >> 32n) | 0)];
  }
  const size = g.pick(SIZES);
  const bytes = size === 0x18 ? 8 : size === 0x00 ? 4 : size === 0x08 ? 2 : 1;
  const onStack = stack > 0 && g.r() < 0.5;
  const base = onStack ? 10 : g.int(10);
  const off = onStack
    ? -bytes * (1 + g.int(Math.max(1, Math.floor(stack / bytes))))
    : g.pick([0, 8, -8, 0x70, 0x7ff8, -0x8000, 0x4000, 3, -3, 0x1001]);
  if (k < 9) {
    const sx = size !== 0x18 && g.r() < 0.3;
    return [ins((sx ? 0x80 : 0x60) | size | 0x01, wreg(g), base, off, 0)]; // ldx / ldsx
  }
  if (k < 11) return [ins(0x60 | size | 0x03, base, rreg(g), off, 0)]; // stx
  if (k < 13) return [ins(0x60 | size | 0x02, base, 0, off, g.imm())]; // st imm
  const w = g.r() < 0.5 ? 0xc3 : 0xdb;
  const aoff = onStack ? -8 * (1 + g.int(Math.max(1, Math.floor(stack / 8)))) : g.pick([0, 8, -8, 0x100]);
  return [ins(w, base, g.int(10), aoff, g.pick(ATOMIC_OPS))];
}

/** One function body of about `n` slots, ending in exit; jumps stay inside it. */
function body(g: Gen, n: number, stack: number, nfuncs: number, self: number): Insn[] {
  const out: Insn[] = [];
  const jumps: number[] = [];
  while (out.length < n) {
    const k = g.int(20);
    if (k < 13) out.push(...straight(g, stack));
    else if (k < 17) {
      jumps.push(out.length);
      const cls = g.r() < 0.5 ? 0x05 : 0x06;
      const x = g.r() < 0.5 ? 0x08 : 0x00;
      out.push(ins(cls | g.pick(JMP_OPS) | x, g.int(11), x ? g.int(11) : 0, 0, x ? 0 : g.imm()));
    } else if (k === 17) {
      jumps.push(out.length);
      out.push(g.r() < 0.2 ? ins(0x06, 0, 0, 0, 0) : ins(0x05, 0, 0, 0, 0)); // gotol / ja
    } else if (k === 18) {
      // helper call: imm = callee - __bpf_call_base, near (bl) or far (movn/movk + blr)
      const near = (g.int(0x100000) - 0x80000) * 4;
      const far = g.pick([0x7fff_fff0, -0x7fff_fff0, 0x1234_5670]);
      out.push(ins(0x85, 0, 0, 0, g.r() < 0.8 ? near : far));
    } else {
      const targets = [...Array(nfuncs).keys()].filter((f) => f !== self && f !== 0);
      if (targets.length > 0 && g.r() < 0.6) out.push(ins(0x85, 0, 1, 0, g.pick(targets)));
      else out.push(ins(0x85, 0, 0, 0, 12)); // tail call, as xlated dumps show it
    }
  }
  out.push(ins(0x95, 0, 0, 0, 0));
  // every jump lands on a slot of this body that is not the second half of an ld_imm64
  const starts: number[] = [];
  for (let i = 0; i < out.length; i++) {
    starts.push(i);
    if (out[i].code === 0x18) i++;
  }
  for (const j of jumps) {
    const t = g.pick(starts);
    const rel = t - (j + 1);
    const jmp = out[j];
    if (jmp.code === 0x06) out[j] = { ...jmp, imm: rel };
    else out[j] = { ...jmp, off: rel };
  }
  return out;
}

interface Case {
  insns: Insn[];
  starts: number[];
  stacks: number[];
  lse: boolean;
}

function randomProgram(seed: number): Case {
  const g = gen(seed);
  const nfuncs = 1 + (g.r() < 0.3 ? g.int(3) : 0);
  const insns: Insn[] = [];
  const starts: number[] = [];
  const stacks: number[] = [];
  for (let f = 0; f < nfuncs; f++) {
    const stack = g.pick([0, 8, 16, 24, 64, 256, 512]);
    starts.push(insns.length);
    stacks.push(stack);
    insns.push(...body(g, 5 + g.int(f === 0 ? 120 : 40), stack, nfuncs, f));
  }
  return { insns, starts, stacks, lse: g.r() < 0.7 };
}

function compile(c: Case, base: bigint): JitFunction[] {
  return jitProgram(
    {
      insns: programFromInsns(c.insns),
      functions: c.starts.map((start, i) => ({ name: `f${i}`, start, address: base + BigInt(i) * 0x10000n })),
      stackDepth: c.stacks,
      exceptionBoundary: false,
      exceptionCallback: -1,
    },
    { lse: c.lse },
  );
}

/** Branch target of a b / b.cond / cbz / cbnz / tbz / tbnz word, or null for other words. */
function localBranchTarget(word: number, at: bigint): bigint | null {
  const w = word >>> 0;
  const sext = (v: number, bits: number) => BigInt.asIntN(bits, BigInt(v));
  if ((w & 0xfc000000) >>> 0 === 0x14000000) return at + sext(w & 0x3ffffff, 26) * 4n; // b
  if ((w & 0xff000010) >>> 0 === 0x54000000) return at + sext((w >>> 5) & 0x7ffff, 19) * 4n; // b.cond
  if ((w & 0x7e000000) >>> 0 === 0x34000000) return at + sext((w >>> 5) & 0x7ffff, 19) * 4n; // cbz/cbnz
  if ((w & 0x7e000000) >>> 0 === 0x36000000) return at + sext((w >>> 5) & 0x3fff, 14) * 4n; // tbz/tbnz
  return null;
}

test(`the JIT's images of ${PROGRAMS} random programs decode cleanly, branch inside, have no holes`, (t) => {
  const base = 0xffff800082000000n;
  const images: { bytes: Uint8Array; address: bigint; ours: string }[] = [];
  let words = 0;
  for (let n = 0; n < PROGRAMS; n++) {
    const c = randomProgram((SEED + n * 0x9e3779b1) >>> 0);
    const where = `program ${n} (seed ${(SEED + n * 0x9e3779b1) >>> 0})`;
    const fns = compile(c, base);
    const again = compile(c, base);
    assert.deepEqual(
      again.map((f) => Buffer.from(f.bytes).toString("hex")),
      fns.map((f) => Buffer.from(f.bytes).toString("hex")),
      `${where}: not deterministic`,
    );
    for (const f of fns) {
      const lines = disasmA64Image(f.bytes, f.address);
      words += lines.length;
      const end = f.address + BigInt(f.bytes.length);
      for (const l of lines) {
        assert.notEqual(
          l.text,
          "<unknown>",
          `${where} ${f.name}+0x${(l.address - f.address).toString(16)}: ${l.word.toString(16)}`,
        );
        assert.ok((l.word & 0xffe0001f) >>> 0 !== 0xd4200000, `${where}: BRK at 0x${l.address.toString(16)}`);
        const target = localBranchTarget(l.word, l.address);
        if (target !== null) {
          assert.ok(
            target >= f.address && target < end,
            `${where} ${f.name}: branch at 0x${l.address.toString(16)} to 0x${target.toString(16)} leaves [0x${f.address.toString(16)}, 0x${end.toString(16)})`,
          );
        }
      }
      images.push({ bytes: f.bytes, address: f.address, ours: formatObjdump(lines) });
    }
  }
  assert.ok(words > PROGRAMS * 20, `${words} words`);
  if (!haveObjdump()) {
    t.diagnostic("SKIPPING the llvm-objdump-19 comparison: llvm-objdump-19 is not installed (apt install llvm-19)");
    return;
  }
  for (let i = 0; i < images.length; i += 500) {
    const batch = images.slice(i, i + 500);
    const llvm = llvmObjdumpImages(batch);
    batch.forEach((im, k) => {
      const ours = im.ours.trimEnd().split("\n");
      for (let j = 0; j < ours.length; j++) {
        if (ours[j] !== llvm[k][j]) {
          assert.fail(`image at 0x${im.address.toString(16)} line ${j}:\n  ours: ${ours[j]}\n  llvm: ${llvm[k][j]}`);
        }
      }
      assert.equal(ours.length, llvm[k].length);
    });
  }
  t.diagnostic(`${images.length} images, ${words} arm64 instructions, all equal to llvm-objdump-19`);
});
