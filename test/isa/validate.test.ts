// validateProgram: malformed bytecode is refused with a DecodeError naming the slot and the
// problem, in the kernel verifier's words where it has them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeError } from "../../src/errors.ts";
import { decodeProgram, encodeProgram, programFromInsns, validateProgram } from "../../src/isa/insn.ts";

const EXIT = { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 };
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0) => ({ code, dst, src, off, imm });

function rejects(insns: ReturnType<typeof I>[], pc: number, message: RegExp): void {
  const p = programFromInsns(insns);
  assert.throws(
    () => validateProgram(p),
    (e: unknown) => e instanceof DecodeError && e.pc === pc && message.test(e.message),
    `expected DecodeError at ${pc} matching ${message}`,
  );
}

test("accepts every well-formed shape", () => {
  const p = programFromInsns([
    I(0x18, 1, 0, 0, 1), // r1 = 1 ll
    I(0, 0, 0, 0, 2),
    I(0xbf, 2, 1, 32), // r2 = (s32)r1
    I(0x3f, 2, 1, 1), // r2 s/= r1
    I(0xd7, 2, 0, 0, 64), // bswap64
    I(0xdb, 10, 1, -8, 0xf1), // cmpxchg
    I(0xe5, 0, 0, 0), // may_goto +0
    I(0x06, 0, 0, 0, 0), // gotol +0
    I(0x85, 0, 1, 0, 0), // call pc+0 -> slot 9
    EXIT,
  ]);
  validateProgram(p);
});

test("unknown opcodes", () => {
  rejects([I(0xe7), EXIT], 0, /unknown opcode 0xe7/); // ALU64 op 0xe0
  rejects([I(0xf5), EXIT], 0, /unknown opcode 0xf5/); // JMP op 0xf0
  rejects([I(0x00), EXIT], 0, /unknown opcode 0x00/); // LD|IMM|W
  rejects([I(0x38), EXIT], 0, /unknown opcode 0x38/); // LD_ABS|DW
  rejects([I(0xa1), EXIT], 0, /unknown opcode 0xa1/); // LDX mode 0xa0
  rejects([I(0x96), EXIT], 0, /unknown opcode 0x96/); // JMP32 exit
  rejects([I(0xdf, 1, 0, 0, 16), EXIT], 0, /unknown opcode 0xdf/); // ALU64 END with X
});

test("reserved fields must be zero", () => {
  rejects([I(0x07, 1, 2, 0, 1), EXIT], 0, /BPF_ALU64 uses reserved fields/); // src with K
  rejects([I(0x0c, 1, 2, 0, 1), EXIT], 0, /BPF_ALU uses reserved fields/); // imm with X
  rejects([I(0xbc, 1, 2, 32), EXIT], 0, /BPF_ALU uses reserved fields/); // movsx32 in ALU32
  rejects([I(0x87, 1, 0, 0, 1), EXIT], 0, /BPF_NEG uses reserved fields/);
  rejects([I(0xd4, 1, 0, 0, 8), EXIT], 0, /BPF_END uses reserved fields/);
  rejects([I(0x95, 0, 0, 0, 1)], 0, /BPF_EXIT uses reserved fields/);
  rejects([I(0x85, 1, 0, 0, 1), EXIT], 0, /BPF_CALL uses reserved fields/);
  rejects([I(0x61, 0, 1, 0, 1), EXIT], 0, /BPF_LDX uses reserved fields/);
  rejects([I(0x62, 10, 1, -8, 1), EXIT], 0, /BPF_ST uses reserved fields/);
  rejects([I(0xdb, 10, 1, -8, 0x02), EXIT], 0, /invalid atomic opcode 0x02/);
  rejects([I(0xd3, 10, 1, -8, 0x01), EXIT], 0, /invalid atomic operand size 1/);
});

test("registers out of range and writes to r10", () => {
  rejects([I(0xb7, 11, 0, 0, 1), EXIT], 0, /invalid register r11 in dst/);
  rejects([I(0xbf, 1, 12), EXIT], 0, /invalid register r12 in src/);
  rejects([I(0xb7, 10, 0, 0, 1), EXIT], 0, /frame pointer is read only/);
  rejects([I(0x79, 10, 1), EXIT], 0, /frame pointer is read only/);
  rejects([I(0xdb, 1, 10, 0, 0x01), EXIT], 0, /frame pointer is read only/); // fetch into r10
  rejects([I(0xdb, 1, 10, 0, 0xe1), EXIT], 0, /frame pointer is read only/); // xchg into r10
  validateProgram(programFromInsns([I(0xdb, 1, 10, 0, 0xf1), EXIT])); // cmpxchg only reads src
});

test("LD_IMM64 needs both slots with a zero second opcode", () => {
  rejects([EXIT, I(0x18, 1, 0, 0, 1)], 1, /truncated LD_IMM64/);
  rejects([I(0x18, 1, 0, 0, 1), I(0x07, 0, 0, 0, 2), EXIT], 0, /invalid BPF_LD_IMM insn/);
  rejects([I(0x18, 1, 7, 0, 1), I(0), EXIT], 0, /invalid BPF_LD_IMM insn/); // unknown pseudo src
});

test("jumps and calls must land on an instruction of the program", () => {
  rejects([I(0x05, 0, 0, 5), EXIT], 0, /jump out of range from insn 0 to 6/);
  rejects([I(0x05, 0, 0, -2), EXIT], 0, /jump out of range from insn 0 to -1/);
  rejects([I(0x06, 0, 0, 0, 100), EXIT], 0, /jump out of range from insn 0 to 101/);
  rejects([I(0x85, 0, 1, 0, 7), EXIT], 0, /jump out of range from insn 0 to 8/);
  rejects([I(0x05, 0, 0, 1), I(0x18, 1, 0, 0, 1), I(0), EXIT], 0, /jump into the middle of ldimm64 insn 1/);
});

test("bytes that are not whole slots are a DecodeError; big-endian round trips", () => {
  assert.throws(() => decodeProgram(new Uint8Array(12)), /truncated instruction: 12 bytes/);
  const p = programFromInsns([I(0xbf, 1, 2), I(0x7b, 10, 1, -8), EXIT]);
  const be = encodeProgram(p, { bigEndian: true });
  assert.deepEqual([...be.subarray(0, 8)], [0xbf, 0x12, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(decodeProgram(be, { bigEndian: true }), p);
  assert.throws(() => validateProgram(programFromInsns([])), /empty program/);
});
