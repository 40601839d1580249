// Unit tests of the bpf_conformance-dialect assembler. Expected bytes come from llvm-mc-19
// (`llvm-mc-19 -triple bpfel -mcpu=v4 -show-encoding`) on the equivalent llvm syntax, given in
// the comment of each row, so the assembler is checked against an independent encoder.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AsmError } from "../../src/errors.ts";
import { assembleConformance } from "../../src/isa/asm-conformance.ts";
import { encodeProgram } from "../../src/isa/insn.ts";

function hexOf(src: string): string {
  return Buffer.from(encodeProgram(assembleConformance(src))).toString("hex");
}

const ENCODINGS: readonly (readonly [string, string])[] = [
  ["mov %r0, 1", "b700000001000000"], // r0 = 1
  ["mov %r0, -1", "b7000000ffffffff"], // r0 = -1
  ["mov %r0, 0xffffffff", "b7000000ffffffff"], // hex is a 32-bit pattern
  ["mov32 %r0, 1", "b400000001000000"], // w0 = 1
  ["mov32 %r0, %r1", "bc10000000000000"], // w0 = w1
  ["add %r1, %r2", "0f21000000000000"], // r1 += r2
  ["add32 %r1, 5", "0401000005000000"], // w1 += 5
  ["sdiv %r1, %r2", "3f21010000000000"], // r1 s/= r2
  ["sdiv32 %r1, 3", "3401010003000000"], // w1 s/= 3
  ["smod %r1, %r2", "9f21010000000000"], // r1 s%= r2
  ["smod32 %r1, -7", "94010100f9ffffff"], // w1 s%= -7
  ["lsh %r3, 4", "6703000004000000"], // r3 <<= 4
  ["rsh32 %r3, %r4", "7c43000000000000"], // w3 >>= w4
  ["arsh %r3, 63", "c70300003f000000"], // r3 s>>= 63
  ["neg %r2", "8702000000000000"], // r2 = -r2
  ["neg32 %r2", "8402000000000000"], // w2 = -w2
  ["be16 %r1", "dc01000010000000"], // r1 = be16 r1
  ["le32 %r1", "d401000020000000"], // r1 = le32 r1
  ["swap64 %r1", "d701000040000000"], // r1 = bswap64 r1
  ["bswap64 %r1", "d701000040000000"], // r1 = bswap64 r1
  ["movsx832 %r0, %r1", "bc10080000000000"], // w0 = (s8)w1
  ["movsx1632 %r0, %r1", "bc10100000000000"], // w0 = (s16)w1
  ["movsx864 %r0, %r1", "bf10080000000000"], // r0 = (s8)r1
  ["movsx1664 %r0, %r1", "bf10100000000000"], // r0 = (s16)r1
  ["movsx3264 %r0, %r1", "bf10200000000000"], // r0 = (s32)r1
  ["ldxw %r0, [%r1+4]", "6110040000000000"], // r0 = *(u32 *)(r1 + 4)
  ["ldxdw %r0, [%r10-8]", "79a0f8ff00000000"], // r0 = *(u64 *)(r10 - 8)
  ["ldxsb %r0, [%r1+1]", "9110010000000000"], // r0 = *(s8 *)(r1 + 1)
  ["ldxsh %r0, [%r1+0x2]", "8910020000000000"], // r0 = *(s16 *)(r1 + 2)
  ["ldxsw %r0, [%r1]", "8110000000000000"], // r0 = *(s32 *)(r1 + 0)
  ["stw [%r10-4], 7", "620afcff07000000"], // *(u32 *)(r10 - 4) = 7
  ["stdw [%r10-8], -1", "7a0af8ffffffffff"], // *(u64 *)(r10 - 8) = -1
  ["stxb [%r1], %r2", "7321000000000000"], // *(u8 *)(r1 + 0) = r2
  ["stxh [%r1+2], %r3", "6b31020000000000"], // *(u16 *)(r1 + 2) = r3
  ["ldxh %r0, [%r1+0xffff]", "6910ffff00000000"], // a hex offset is a 16-bit pattern
  ["lock add [%r10-8], %r1", "db1af8ff00000000"], // lock *(u64 *)(r10 - 8) += r1
  ["lock fetch add [%r10-8], %r1", "db1af8ff01000000"], // atomic_fetch_add
  ["lock fetch xor32 [%r10-8], %r3", "c33af8ffa1000000"], // atomic_fetch_xor (u32)
  ["lock xchg [%r10-8], %r1", "db1af8ffe1000000"], // xchg_64
  ["lock xchg32 [%r10-8], %r1", "c31af8ffe1000000"], // xchg32_32
  ["lock cmpxchg [%r10-8], %r1", "db1af8fff1000000"], // cmpxchg_64
  ["lock cmpxchg32 [%r10-8], %r1", "c31af8fff1000000"], // cmpxchg32_32
  ["lddw %r0, 0x1122334455667788", "18000000887766550000000044332211"], // r0 = … ll
  ["lddw %r0, 2147483648", "18000000000000800000000000000000"],
  ["lddw %r1, -1", "18010000ffffffff00000000ffffffff"],
  ["call 5", "8500000005000000"],
  ["call helper 5", "8500000005000000"],
  ["call %r2", "8d02000000000000"], // callx r2: register in dst
  ["callx %r2", "8d02000000000000"],
  ["exit", "9500000000000000"],
  ["jne %r1, 3, +2", "5501020003000000"], // if r1 != 3 goto +2
  ["jslt32 %r1, %r2, -1", "ce21ffff00000000"], // if w1 s< w2 goto -1
  ["ja32 +5", "0600000005000000"], // gotol +5
  ["jset %r1, 0xff, +0", "45010000ff000000"], // if r1 & 0xff goto +0
];

describe("assembleConformance: encodings (checked with llvm-mc-19)", () => {
  for (const [src, hex] of ENCODINGS) {
    test(src, () => assert.equal(hexOf(src), hex));
  }
});

describe("assembleConformance: labels and targets", () => {
  test("forward and backward labels; offsets count slots, lddw takes two", () => {
    const p = assembleConformance(["ja L", "back:", "lddw %r0, 1", "L:", "jeq %r0, 1, back", "exit"].join("\n"));
    assert.equal(p.length, 5);
    assert.equal(p.off[0], 2); // 0 -> 3
    assert.equal(p.off[3], -3); // 3 -> 1
  });

  test("`exit` as a target is the first exit instruction", () => {
    const p = assembleConformance(
      ["jeq %r1, 0, exit", "mov %r0, 1", "exit", "mov %r0, 2", "exit", "ja exit"].join("\n"),
    );
    assert.equal(p.off[0], 1);
    assert.equal(p.off[5], -4);
  });

  test("call local and ja32 put the relative target in imm", () => {
    const p = assembleConformance(["call local f", "ja32 end", "f:", "exit", "end:", "exit"].join("\n"));
    assert.equal(p.src[0], 1);
    assert.equal(p.imm[0], 1);
    assert.equal(p.off[0], 0);
    assert.equal(p.code[1], 0x06);
    assert.equal(p.imm[1], 1);
  });

  test("comments, blank lines, tabs and extra commas are ignored", () => {
    const p = assembleConformance("# header\n\n\tmov\t%r0 ,  2 # two\r\n  exit\n");
    assert.equal(p.length, 2);
    assert.equal(p.imm[0], 2);
  });

  test("a label may share a line with an instruction", () => {
    const p = assembleConformance("ja l\nl: exit");
    assert.equal(p.off[0], 0);
  });
});

/** Asserts that `src` is rejected with an AsmError on `line` whose message contains `text`. */
function rejects(src: string, line: number, text: string, firstLine = 1): void {
  assert.throws(
    () => assembleConformance(src, "x.data", firstLine),
    (e: unknown) => {
      assert.ok(e instanceof AsmError, `expected AsmError, got ${String(e)}`);
      assert.equal(e.line, line);
      assert.equal(e.file, "x.data");
      assert.ok(e.message.includes(text), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(text)}`);
      return true;
    },
  );
}

describe("assembleConformance: rejections", () => {
  test("unknown mnemonic", () => rejects("exit\nldxq %r0, %r1", 2, "Invalid mnemonic: ldxq"));
  test("unknown register", () => rejects("or %r0, %r50", 1, "Invalid register: %r50"));
  test("r11 is not a register", () => rejects("mov %r11, 1", 1, "Invalid register: %r11"));
  test("operand count", () => rejects("lddw %r0", 1, "Invalid number of operands for mnemonic: lddw"));
  test("exit takes no operand", () => rejects("exit %r0", 1, "Invalid number of operands for mnemonic: exit"));
  test("lock without operands", () => rejects("lock", 1, "Invalid number of operands for lock"));
  test("lock missing the source", () => rejects("lock or [%r10-8]", 1, "Invalid number of operands for lock"));
  test("lock with an unknown operation", () => rejects("lock sub [%r10-8], %r1", 1, "Invalid mnemonic: lock sub"));
  test("lock fetch xchg", () => rejects("lock fetch xchg [%r10-8], %r1", 1, "Invalid mnemonic"));
  test("memory operand without brackets", () => rejects("ldxb %r0, %r1", 1, "Failed to decode register and offset"));
  test("offset above 0xffff", () => rejects("ldxb %r0, [%r1+0x10000]", 1, "Offset out of 16-bit range"));
  test("decimal offset above int16", () => rejects("ldxb %r0, [%r1+32768]", 1, "Offset out of 16-bit range"));
  test("decimal immediate above int32", () => rejects("mov32 %r0, 2147483648", 1, "Immediate out of 32-bit range"));
  test("hex immediate above 32 bits", () => rejects("mov32 %r0, 0x100000000", 1, "Immediate out of 32-bit range"));
  test("lddw immediate above 64 bits", () => rejects("lddw %r0, 0x10000000000000000", 1, "out of 64-bit range"));
  test("garbage immediate", () => rejects("mov %r0, abc", 1, "Invalid immediate: abc"));
  test("unknown label, reported at its use", () => rejects("mov %r0, 0\nja NOT_A_LABEL\nexit", 2, "Invalid label"));
  test("duplicate label", () => rejects("a:\nexit\na:\nexit", 3, "Duplicate label: a"));
  test("jump offset above int16", () => rejects("ja +32768", 1, "Jump offset out of range"));
  test("unknown call mode", () => rejects("call far 5", 1, "Invalid call mode"));
  test("unterminated memory operand", () => rejects("ldxb %r0, [%r1+1", 1, "Unterminated memory operand"));
  test("no instructions", () => rejects("# nothing\n\n", 3, "No instructions"));
  test("line numbers are offset by firstLine", () => rejects("exit\nfoo", 11, "Invalid mnemonic: foo", 10));
});
