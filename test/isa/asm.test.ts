// The assembler: against llvm-mc-19's bytes for every instruction form (all-forms.s and its
// committed objects), round trips with the disassembler over the whole corpus, the syntax
// conveniences (labels, comments, pasted llvm-objdump lines) and typed errors with line numbers.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AsmError } from "../../src/errors.ts";
import { assemble } from "../../src/isa/asm.ts";
import { disasmInsn, disasmProgram, insnSlots } from "../../src/isa/disasm.ts";
import {
  allocProgram,
  type DecodedProgram,
  decodeProgram,
  encodeProgram,
  validateProgram,
} from "../../src/isa/insn.ts";
import { BPF_ATOMIC, BPF_LOAD_ACQ, BPF_STORE_REL, BPF_STX, BPF_W } from "../../src/isa/opcodes.ts";
import { readElf, SHF_EXECINSTR } from "./elf-lite.ts";

const FIXTURES = join(import.meta.dirname, "../fixtures/isa");

function hex(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (let o = 0; o < bytes.length; o += 8) {
    out.push([...bytes.subarray(o, o + 8)].map((b) => b.toString(16).padStart(2, "0")).join(" "));
  }
  return out;
}

function codeSections(file: string) {
  const elf = readElf(new Uint8Array(readFileSync(join(FIXTURES, file))));
  return elf.sections
    .filter((s) => (s.flags & SHF_EXECINSTR) !== 0 && s.data.length > 0)
    .map((s) => ({ name: s.name, bytes: s.data, program: decodeProgram(s.data, { bigEndian: elf.bigEndian }) }));
}

/** The slots [pc, pc + n) of `p` as a program of their own. */
function slots(p: DecodedProgram, pc: number, n: number): DecodedProgram {
  const q = allocProgram(n);
  for (let i = 0; i < n; i++) {
    q.code[i] = p.code[pc + i];
    q.dst[i] = p.dst[pc + i];
    q.src[i] = p.src[pc + i];
    q.off[i] = p.off[pc + i];
    q.imm[i] = p.imm[pc + i];
  }
  return q;
}

/**
 * What llvm-objdump-19's text of the valid instruction at `pc` does not say (see disasm.ts), or
 * null: the src of a pseudo/kfunc call, or the imm of an atomic LLVM 19 misprints (a 32-bit one
 * other than `lock +=` without alu32, a load-acquire or store-release). The corpus has no
 * ld_pseudo with a high word nor LD_IND with an imm, the other fields LLVM drops.
 */
function lostField(p: DecodedProgram, pc: number, alu32: boolean): "call src" | "atomic imm" | null {
  const code = p.code[pc];
  const imm = p.imm[pc];
  if (code === 0x85) return p.src[pc] !== 0 ? "call src" : null;
  if ((code & 0x07) !== BPF_STX || (code & 0xe0) !== BPF_ATOMIC) return null;
  if (imm === BPF_LOAD_ACQ || imm === BPF_STORE_REL) return "atomic imm";
  return (code & 0x18) === BPF_W && !alu32 && imm !== 0 ? "atomic imm" : null;
}

/** The instruction at `pc` (its slot, or two for LD_IMM64) with the field LLVM's text loses zeroed. */
function llvmKept(p: DecodedProgram, pc: number, alu32: boolean): DecodedProgram {
  const q = slots(p, pc, insnSlots(p, pc));
  const lost = lostField(p, pc, alu32);
  if (lost === "call src") q.src[0] = 0;
  if (lost === "atomic imm") q.imm[0] = 0;
  return q;
}

interface Kept {
  exact: number;
  callSrc: number;
  atomicImm: number;
  unknown: number;
}

/**
 * Compares each instruction of the valid program `p` with `assembled(pc)`, what the assembler
 * made of llvm-objdump's text of it: it must come back bit-exact, except that the
 * {@link lostField} comes back 0. A `<unknown>` line must be an atomic LLVM 19 cannot decode;
 * it is counted, not compared.
 */
function compareKept(
  p: DecodedProgram,
  assembled: (pc: number) => DecodedProgram | "<unknown>",
  alu32: boolean,
  where: string,
): Kept {
  const k: Kept = { exact: 0, callSrc: 0, atomicImm: 0, unknown: 0 };
  for (let pc = 0; pc < p.length; pc += insnSlots(p, pc)) {
    const lost = lostField(p, pc, alu32);
    const at = `${where} slot ${pc}: ${disasmInsn(p, pc, { lossless: true })}`;
    const q = assembled(pc);
    if (q === "<unknown>") {
      assert.equal(lost, "atomic imm", `${at}: <unknown>`);
      k.unknown++;
      continue;
    }
    assert.deepEqual(hex(encodeProgram(q)), hex(encodeProgram(llvmKept(p, pc, alu32))), at);
    if (lost === null) k.exact++;
    else if (lost === "call src") k.callSrc++;
    else k.atomicImm++;
  }
  return k;
}

function addKept(a: Kept, b: Kept): void {
  a.exact += b.exact;
  a.callSrc += b.callSrc;
  a.atomicImm += b.atomicImm;
  a.unknown += b.unknown;
}

describe("against llvm-mc-19: all-forms.s", () => {
  const source = readFileSync(join(FIXTURES, "all-forms.s"), "utf8");
  const ours = assemble(source, "all-forms.s");

  test("assembles to the bytes llvm-mc-19 produced (little-endian)", () => {
    const [text] = codeSections("all-forms.o");
    assert.deepEqual(hex(encodeProgram(ours)), hex(text.bytes));
    console.log(`all-forms.s: ${ours.length} slots identical to llvm-mc-19's`);
  });

  test("and (big-endian) to those of llvm-mc-19 -triple bpfeb", () => {
    const [text] = codeSections("all-forms.eb.o");
    assert.deepEqual(hex(encodeProgram(ours, { bigEndian: true })), hex(text.bytes));
  });
});

describe("round trips over the corpus", () => {
  const objects = readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".o"))
    .sort();

  test("every C program of the corpus is valid", () => {
    for (const obj of objects.filter((o) => !o.startsWith("all-forms"))) {
      for (const s of codeSections(obj)) {
        // A call into another section is resolved by its relocation (imm is a placeholder, e.g.
        // the callee's offset in .text): aim those at themselves before validating.
        const p = s.program;
        for (let pc = 0; pc < p.length; pc++) if (p.code[pc] === 0x85 && p.src[pc] === 1) p.imm[pc] = -1;
        validateProgram(p);
      }
    }
  });

  test("assemble(disasm(p, { lossless })) gives back every section's bytes", () => {
    let slots = 0;
    for (const obj of objects) {
      for (const s of codeSections(obj)) {
        const text = disasmProgram(s.program, { lossless: true }).map((l) => l.text);
        const q = assemble(text.join("\n"), `${obj}:${s.name}`);
        assert.deepEqual(hex(encodeProgram(q)), hex(encodeProgram(s.program)), `${obj} ${s.name}`);
        slots += q.length;
      }
    }
    console.log(`lossless round trip: ${slots} slots`);
  });

  test("the default (llvm-objdump) text round-trips too, except the fields it does not show", () => {
    for (const alu32 of [false, true]) {
      const total: Kept = { exact: 0, callSrc: 0, atomicImm: 0, unknown: 0 };
      for (const obj of objects) {
        for (const s of codeSections(obj)) {
          // Each line on its own: plain llvm-objdump prints `<unknown>` for some valid atomics.
          const text = new Map(disasmProgram(s.program, { alu32 }).map((l) => [l.pc, l.text]));
          const assembled = (pc: number) => {
            const t = text.get(pc)!;
            return t === "<unknown>" ? t : assemble(t);
          };
          addKept(total, compareKept(s.program, assembled, alu32, `${obj} ${s.name} alu32=${alu32}`));
        }
      }
      console.log(`default text round trip alu32=${alu32}: ${JSON.stringify(total)}`);
      assert.ok(total.callSrc > 0);
      // Only plain mode loses 32-bit atomics (the corpus has no load-acquire/store-release).
      assert.equal(total.atomicImm + total.unknown > 0, !alu32);
    }
  });

  test("a pasted llvm-objdump-19 listing (indices, <sym> suffixes) assembles to the object's code", () => {
    let lines = 0;
    const total: Kept = { exact: 0, callSrc: 0, atomicImm: 0, unknown: 0 };
    for (const obj of objects) {
      // The --mattr=+alu32 golden: the plain one has `<unknown>` for some 32-bit atomics.
      const golden = readFileSync(join(FIXTURES, obj.replace(/\.o$/, ".objdump-alu32.golden.txt")), "utf8");
      const bySection = new Map<string, string[]>();
      let cur: string[] = [];
      for (const line of golden.split("\n")) {
        const sec = /^Disassembly of section (.*):$/.exec(line);
        if (sec) {
          cur = [];
          bySection.set(sec[1], cur);
        } else if (/^\s+\d+:\t/.test(line)) cur.push(line);
      }
      for (const s of codeSections(obj)) {
        const listing = bySection.get(s.name) ?? [];
        lines += listing.length;
        const q = assemble(listing.join("\n"));
        assert.equal(q.length, s.program.length, `${obj} ${s.name}: slot count`);
        const assembled = (pc: number) => slots(q, pc, insnSlots(q, pc));
        addKept(total, compareKept(s.program, assembled, true, `${obj} ${s.name}`));
      }
    }
    console.log(`pasted listings: ${lines} lines, ${JSON.stringify(total)}`);
    assert.equal(total.exact + total.callSrc, lines);
  });
});

describe("syntax", () => {
  test("instruction forms, llvm-objdump text and llvm-mc spellings", () => {
    const cases: [string, string][] = [
      ["r1 = bswap16 r1", "d7 01 00 00 10 00 00 00"],
      ["w0 = (s8)w2", "bc 20 08 00 00 00 00 00"],
      ["r1 = (s32)r2", "bf 21 20 00 00 00 00 00"],
      ["r1 s/= r2", "3f 21 01 00 00 00 00 00"],
      ["w1 s%= -7", "94 01 01 00 f9 ff ff ff"],
      ["r0 = *(s8 *)(r1 + 0x0)", "91 10 00 00 00 00 00 00"],
      ["w2 = *(u16 *)(r1 + 32767)", "69 12 ff 7f 00 00 00 00"],
      ["r1 = *(u8 *)(r2)", "71 21 00 00 00 00 00 00"],
      ["*(u64 *)(r10 - 0x8) = -1", "7a 0a f8 ff ff ff ff ff"],
      ["*(u32 *)(r10 - 32768) = w3", "63 3a 00 80 00 00 00 00"],
      ["r1 = addr_space_cast(r2, 1, 0)", "bf 21 01 00 00 00 01 00"],
      ["r0 = 0xffffffff", "b7 00 00 00 ff ff ff ff"], // as llvm-mc: the 32-bit pattern, i.e. -1
      ["call 0xffffffff", "85 00 00 00 ff ff ff ff"],
      ["call kfunc 0x2a", "85 20 00 00 2a 00 00 00"],
      ["call pc-0x1", "85 10 00 00 ff ff ff ff"],
      ["callx r5", "8d 05 00 00 00 00 00 00"],
      ["gotol -0x80000000", "06 00 00 00 00 00 00 80"], // llvm-mc-19 takes only 16-bit gotol numbers
      ["may_goto +0x3", "e5 00 03 00 00 00 00 00"],
      ["if w1 s>= -1 goto -0x8000", "76 01 00 80 ff ff ff ff"],
      ["r0 = *(u16 *)skb[r9 - 0x2]", "48 90 00 00 fe ff ff ff"],
      ["r0 = load_acquire((u64 *)(r1 + 0x0))", "db 10 00 00 00 01 00 00"],
      ["w0 = load_acquire((u8 *)(r1 + 0x0))", "d3 10 00 00 00 01 00 00"],
      ["store_release((u16 *)(r1 + 0x0), w2)", "cb 21 00 00 10 01 00 00"],
      ["w2 = atomic_fetch_add((u32 *)(r1 + 0x0), w2)", "c3 21 00 00 01 00 00 00"],
      ["lock *(u32 *)(r1 + 0x0) += r2", "c3 21 00 00 00 00 00 00"],
      ["r11 = 0", "b7 0b 00 00 00 00 00 00"], // LLVM's r11: encodable, never valid
      ["r1=-r1", "87 01 00 00 00 00 00 00"],
      ["  if r1   s>   r2   goto   +1  ", "6d 21 01 00 00 00 00 00"],
    ];
    for (const [text, bytes] of cases) assert.deepEqual(hex(encodeProgram(assemble(text))), [bytes], text);
    assert.deepEqual(hex(encodeProgram(assemble("r1 = -0x8000000000000000 ll"))), [
      "18 01 00 00 00 00 00 00",
      "00 00 00 00 00 00 00 80",
    ]);
    assert.deepEqual(hex(encodeProgram(assemble("ld_pseudo r1, 2, 0x500000003"))), [
      "18 21 00 00 03 00 00 00",
      "00 00 00 00 05 00 00 00",
    ]);
  });

  test("labels, comments, blank lines, CRLF", () => {
    const p = assemble(
      [
        "; a comment line",
        "# another",
        "start:",
        "  r0 = 0 // trailing comment",
        "loop: r0 += 1 ; also trailing",
        "  if r0 < 10 goto loop",
        "",
        "  call sub\r",
        "  gotol done",
        "  may_goto start",
        "sub:",
        "  r0 = 0x1 ll",
        "done: exit",
      ].join("\n"),
    );
    assert.deepEqual(
      disasmProgram(p, { lossless: true }).map((l) => l.text),
      [
        "r0 = 0x0",
        "r0 += 0x1",
        "if r0 < 0xa goto -0x2",
        "call pc+0x2",
        "gotol +0x3",
        "may_goto -0x6",
        "r0 = 0x1 ll",
        "exit",
      ],
    );
  });

  test("llvm-objdump lines paste in: index, raw bytes, <sym+0x..> suffix", () => {
    const listing = [
      "       0:\tb7 00 00 00 01 00 00 00\tr0 = 0x1",
      "       1:\tif r1 < 0x2 goto +0x1 <prog+0x18>",
      "       2:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x0 ll",
      "       4:\texit",
    ].join("\n");
    assert.deepEqual(hex(encodeProgram(assemble(listing))), [
      "b7 00 00 00 01 00 00 00",
      "a5 01 01 00 02 00 00 00",
      "18 01 00 00 00 00 00 00",
      "00 00 00 00 00 00 00 00",
      "95 00 00 00 00 00 00 00",
    ]);
  });
});

describe("errors", () => {
  const bad: [source: string, line: number, message: RegExp][] = [
    ["exit\nfoo r1", 2, /cannot parse instruction: foo r1/],
    ["<unknown>", 1, /cannot parse/],
    [".text\nexit", 1, /directives are not supported/],
    ["r12 = 1", 1, /invalid register r12/],
    ["w1 += r2", 1, /expected a w register/],
    ["if r1 == w2 goto +1", 1, /expected a r register/],
    ["r0 = 0x100000000", 1, /out of range/],
    ["r0 = -0x80000001", 1, /out of range/],
    ["r1 = 0x10000000000000000 ll", 1, /out of range/],
    ["*(u8 *)(r1 + 0x8000) = 1", 1, /16-bit/],
    ["r0 = *(u8 *)(r1 - 0x8001)", 1, /16-bit/],
    ["goto +0x8000", 1, /out of range/],
    ["exit\n\ngoto nowhere", 3, /undefined label nowhere/],
    ["a:\na:\nexit", 2, /defined twice/],
    ["w1 = *(u64 *)(r2 + 0)", 1, /w register/],
    ["r1 = *(s64 *)(r2 + 0)", 1, /no sign-extending 64-bit load/],
    ["w1 = (s32)w2", 1, /no \(s32\) move/],
    ["r1 = be16 r2", 1, /in place/],
    ["r1 = -r2", 1, /in place/],
    ["r1 = xchg_64(r2 + 0, r3)", 1, /same register/],
    ["r1 = cmpxchg_64(r2 + 0, r1, r3)", 1, /compares with r0/],
    ["lock *(u64 *)(r1 + 0) += w2", 1, /expected a r register/],
    ["r1 = addr_space_cast(r2, 0x10000, 0)", 1, /out of range/],
  ];
  for (const [source, line, message] of bad) {
    test(JSON.stringify(source), () => {
      assert.throws(
        () => assemble(source, "t.s"),
        (e: unknown) => {
          assert.ok(e instanceof AsmError, String(e));
          assert.equal(e.line, line);
          assert.equal(e.file, "t.s");
          assert.match(e.message, message);
          assert.match(e.message, new RegExp(`^t\\.s:${line}: `));
          return true;
        },
      );
    });
  }

  test("a label jump beyond 16 bits is an error, gotol reaches it", () => {
    const filler = Array.from({ length: 0x8000 }, () => "r0 = 0").join("\n");
    assert.throws(() => assemble(`goto far\n${filler}\nfar: exit`), /out of 16-bit range/);
    const p = assemble(`gotol far\n${filler}\nfar: exit`);
    assert.equal(p.imm[0], 0x8000);
  });
});
