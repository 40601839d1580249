// Instruction forms of the arm64 JIT that the recorded corpus does not exercise, checked
// against the words the spec (/work/shared/spec/exceptions-arm64.md §3.7, §8) records from the
// target kernel or derives from its rules: LSE and LL/SC atomics, division/modulo, byte swaps,
// large immediates, 32-bit logic immediates (the immediate as u32).
import assert from "node:assert/strict";
import { test } from "node:test";
import { jitProgram } from "../../src/arm64/jit/index.ts";
import { type Insn, programFromInsns } from "../../src/isa/insn.ts";

const ins = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const EXIT = ins(0x95, 0, 0, 0, 0);
const MOV0 = ins(0xb7, 0, 0, 0, 0);

/** The words emitted for BPF slot 0 of a one-function program `[insn, r0 = 0, exit]`. */
function body(insn: Insn, lse = true, stackDepth = 32): string[] {
  const [fn] = jitProgram(
    {
      insns: programFromInsns([insn, MOV0, EXIT]),
      functions: [{ name: "f", start: 0, address: 0xffff800082000000n }],
      stackDepth: [stackDepth],
    },
    { lse },
  );
  return fn.insns.filter((x) => x.bpfIndex === 0).map((x) => x.word.toString(16).padStart(8, "0"));
}

const ATOMIC_DW = 0xdb;
const ATOMIC_W = 0xc3;

test("LSE atomics (words observed on the target)", () => {
  // address r10 - 32: mov x10, #-32; add x10, x10, x25
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 1, -32, 0x00)), ["928003ea", "8b19014a", "f820015f"]);
  assert.deepEqual(body(ins(ATOMIC_DW, 1, 1, 0, 0x40)), ["f820301f"]); // stset x0, [x0]
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 1, -8, 0x50)).slice(2), ["aa2003eb", "f82b115f"]);
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 1, -8, 0xa0)).slice(2), ["f820215f"]);
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 3, -8, 0x01)).slice(2), ["f8e20142"]);
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 1, -8, 0x51)).slice(2), ["aa2003eb", "f8eb1140"]);
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 4, -8, 0x41)).slice(2), ["f8e33143"]);
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 5, -8, 0xa1)).slice(2), ["f8e42144"]);
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 2, -8, 0xe1)).slice(2), ["f8e18141"]);
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 6, -8, 0xf1)).slice(2), ["c8e7fd53"]);
  assert.deepEqual(body(ins(ATOMIC_W, 10, 1, -8, 0x00)).slice(2), ["b820015f"]);
  assert.deepEqual(body(ins(ATOMIC_W, 10, 2, -8, 0x01)).slice(2), ["b8e10141"]);
  assert.deepEqual(body(ins(ATOMIC_W, 10, 1, -8, 0xe1)).slice(2), ["b8e08140"]);
  assert.deepEqual(body(ins(ATOMIC_W, 10, 3, -8, 0xf1)).slice(2), ["88e7fd42"]);
});

test("LL/SC atomics", () => {
  // add: ldxr x11, [x10]; add x11, x11, x0; stxr w12, x11, [x10]; cbnz w12, -12
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 1, -8, 0x00), false).slice(2), [
    "c85f7d4b",
    "8b00016b",
    "c80c7d4b",
    "35ffffac",
  ]);
  // fetch_add: mov x9, x0; ldxr x0, [x10]; add x11, x0, x9; stlxr w12, x11, [x10]; cbnz; dmb ish
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 1, -8, 0x01), false).slice(2), [
    "91000009",
    "c85f7d40",
    "8b09000b",
    "c80cfd4b",
    "35ffffac",
    "d5033bbf",
  ]);
  // xchg (32-bit)
  assert.deepEqual(body(ins(ATOMIC_W, 10, 1, -8, 0xe1), false).slice(2), [
    "1100000b",
    "885f7d40",
    "880cfd4b",
    "35ffffcc",
    "d5033bbf",
  ]);
  // cmpxchg: mov x11, x7; ldxr x7; eor x12, x7, x11; cbnz x12, +16; stlxr w12, x0; cbnz w12, -16; dmb
  assert.deepEqual(body(ins(ATOMIC_DW, 10, 1, -8, 0xf1), false).slice(2), [
    "910000eb",
    "c85f7d47",
    "ca0b00ec",
    "b500008c",
    "c80cfd40",
    "35ffff8c",
    "d5033bbf",
  ]);
});

test("ALU forms", () => {
  assert.deepEqual(body(ins(0x3f, 0, 1, 0, 0)), ["9ac008e7"]); // r0 /= r1 -> udiv x7, x7, x0
  assert.deepEqual(body(ins(0x9f, 0, 1, 0, 0)), ["9ac008ea", "9b009d47"]); // r0 %= r1: udiv x10; msub x7, x10, x0, x7
  assert.deepEqual(body(ins(0x97, 0, 0, 0, 10)), ["d280014b", "9acb08ea", "9b0b9d47"]); // r0 %= 10
  assert.deepEqual(body(ins(0x3f, 0, 1, 1, 0)), ["9ac00ce7"]); // sdiv
  assert.deepEqual(body(ins(0xdc, 0, 0, 0, 16)), ["5ac004e7", "53003ce7"]); // be16
  assert.deepEqual(body(ins(0xdc, 0, 0, 0, 64)), ["dac00ce7"]); // be64
  assert.deepEqual(body(ins(0xd4, 0, 0, 0, 32)), ["53007ce7"]); // le32: ubfm w7, w7, #0, #31
  assert.deepEqual(body(ins(0xd7, 0, 0, 0, 16)), ["dac004e7", "d3403ce7"]); // bswap16 (ALU64)
  assert.deepEqual(body(ins(0x57, 0, 0, 0, 0xff)), ["92401ce7"]); // and x7, x7, #0xff
  // 32-bit AND with a negative immediate: the W form sees it as u32 (test/fixtures/jit
  // alu.alu32_imm_bm_m16: and w1, w1, #0xfffffff0)
  assert.deepEqual(body(ins(0x54, 0, 0, 0, -16)), ["121c6ce7"]);
  assert.deepEqual(body(ins(0x57, 0, 0, 0, -16)), ["927cece7"]); // and x7, x7, #~15
  assert.deepEqual(body(ins(0x07, 0, 0, 0, 0x1000)), ["914004e7"]); // add x7, x7, #1, lsl #12
  assert.deepEqual(body(ins(0x07, 0, 0, 0, -5)), ["d10014e7"]); // sub x7, x7, #5
  assert.deepEqual(body(ins(0x07, 0, 0, 0, 0x12345)), ["d28468aa", "f2a0002a", "8b0a00e7"]);
  assert.deepEqual(body(ins(0xbf, 0, 1, 8, 0)), ["93401c07"]); // movsx r0 = (s8)r1
  assert.deepEqual(body(ins(0xbc, 0, 1, 16, 0)), ["13003c07"]); // movsx w0 = (s16)w1
  assert.deepEqual(body(ins(0x87, 0, 0, 0, 0)), ["cb0703e7"]); // neg
});

test("memory forms with offsets that do not fit the scaled form", () => {
  // r0 = *(u32 *)(r1 - 4): mov x10, #-4; ldr w7, [x0, x10]
  assert.deepEqual(body(ins(0x61, 0, 1, -4, 0)), ["9280006a", "b86a6807"]);
  // *(u32 *)(r10 - 4) = 7 with a 32-byte stack: mov x10, #7; str w10, [sp, #28]
  assert.deepEqual(body(ins(0x62, 10, 0, -4, 7)), ["d28000ea", "b9001fea"]);
  // *(u64 *)(r10 - 4) = r1: misaligned for the scaled form -> mov x10, #-4; str x0, [x25, x10]
  assert.deepEqual(body(ins(0x7b, 10, 1, -4, 0)), ["9280006a", "f82a6b20"]);
  // sign-extending load r0 = *(s16 *)(r1 + 2)
  assert.deepEqual(body(ins(0x89, 0, 1, 2, 0)), ["79800407"]);
});
