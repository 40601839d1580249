// Disassembler parity with llvm-objdump-19 over every bpf_conformance program.
//
// Each program of third_party/bpf_conformance/tests is assembled with the conformance assembler
// and emitted as the bytes of its own executable section (`.byte` lines through
// `llvm-mc-19 -triple bpfel -filetype=obj`, so the object is a genuine EM_BPF ELF; llvm-objcopy
// cannot write elf64-bpf from raw binary). One llvm-mc run and one llvm-objdump run per mode
// cover all files. Every instruction line of `llvm-objdump-19 -d --no-show-raw-insn`, branch
// annotation (` <p12+0x20>`) included, must equal `disasmInsn` with `llvmSymbolizer`, with no
// exception: plain against `disasmInsn(…)` (the `<unknown>` and the wrong text LLVM 19 prints
// for valid 32-bit atomics included), `--mattr=+alu32` against `disasmInsn(…, { alu32: true })`.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { dataFileProgram, parseDataFile } from "../../src/conformance/datafile.ts";
import { disasmInsn, llvmSymbolizer } from "../../src/isa/disasm.ts";
import { type DecodedProgram, encodeProgram, isLdImm64 } from "../../src/isa/insn.ts";
import { BPF_ATOMIC, BPF_STX, BPF_W } from "../../src/isa/opcodes.ts";

const DIR = "third_party/bpf_conformance/tests";
const OBJDUMP = "llvm-objdump-19";
const MC = "llvm-mc-19";

function have(tool: string): boolean {
  return spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
}

const missing = [OBJDUMP, MC].filter((t) => !have(t));
const skip = missing.length > 0 ? `${missing.join(", ")} not installed` : false;
if (skip) console.warn(`SKIPPING conformance-objdump parity: ${skip}`);

/** Assembles every program into its own section `p<i>` of one BPF object; returns its path. */
function buildObject(dir: string, programs: readonly DecodedProgram[]): string {
  const src: string[] = [];
  programs.forEach((p, i) => {
    src.push(`.section p${i},"ax",@progbits`);
    const bytes = encodeProgram(p);
    for (let o = 0; o < bytes.length; o += 8) src.push(`.byte ${[...bytes.subarray(o, o + 8)].join(",")}`);
  });
  writeFileSync(join(dir, "all.s"), `${src.join("\n")}\n`);
  execFileSync(MC, ["-triple", "bpfel", "-filetype=obj", join(dir, "all.s"), "-o", join(dir, "all.o")]);
  return join(dir, "all.o");
}

/** llvm-objdump's instruction lines (`pc: text`) per section index. */
function objdump(obj: string, extra: readonly string[]): Map<number, string[]> {
  const out = execFileSync(OBJDUMP, ["-d", "--no-show-raw-insn", ...extra, obj], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const bySection = new Map<number, string[]>();
  let cur: string[] | null = null;
  for (const line of out.split("\n")) {
    const sec = /^Disassembly of section p(\d+):$/.exec(line);
    if (sec) {
      cur = [];
      bySection.set(Number(sec[1]), cur);
      continue;
    }
    const insn = /^\s+(\d+):\t(.*)$/.exec(line);
    if (insn && cur) cur.push(`${insn[1]}: ${insn[2].trimEnd()}`);
  }
  return bySection;
}

/** True for a 32-bit atomic (STX | ATOMIC | W). */
function isAtomic32(code: number): boolean {
  return code === (BPF_STX | BPF_ATOMIC | BPF_W);
}

/** Our listing of program `i` (`pc: text`), skipping the second slot of LD_IMM64. */
function ours(p: DecodedProgram, i: number, alu32: boolean): string[] {
  const symbolize = llvmSymbolizer([], `p${i}`);
  const lines: string[] = [];
  for (let pc = 0; pc < p.length; pc += isLdImm64(p.code[pc]) ? 2 : 1) {
    lines.push(`${pc}: ${disasmInsn(p, pc, { symbolize, alu32 })}`);
  }
  return lines;
}

describe("conformance programs: disasmInsn matches llvm-objdump-19", { skip }, () => {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith(".data"))
    .sort();
  const programs = files.map((f) => dataFileProgram(parseDataFile(readFileSync(join(DIR, f), "utf8"), f)));
  let plain = new Map<number, string[]>();
  let alu32 = new Map<number, string[]>();
  if (!skip) {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-objdump-"));
    try {
      const obj = buildObject(dir, programs);
      plain = objdump(obj, []);
      alu32 = objdump(obj, ["--mattr=+alu32"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test("objdump listed every program", () => {
    assert.equal(plain.size, files.length);
    assert.equal(alu32.size, files.length);
  });

  files.forEach((f, i) => {
    test(f, () => {
      assert.deepEqual(ours(programs[i], i, false), plain.get(i), "plain");
      assert.deepEqual(ours(programs[i], i, true), alu32.get(i), "--mattr=+alu32");
    });
  });

  test("the comparison covers the 32-bit atomics plain LLVM 19 misprints", () => {
    let lines = 0;
    for (const m of [plain, alu32]) for (const l of m.values()) lines += l.length;
    // All but `lock +=` (imm 0) print as `<unknown>` or `lock +=` in plain mode.
    let misprinted = 0;
    for (const p of programs) {
      for (let pc = 0; pc < p.length; pc++) if (isAtomic32(p.code[pc]) && p.imm[pc] !== 0) misprinted++;
    }
    console.log(
      `conformance programs: ${lines} lines (plain + alu32) equal; ${misprinted} are 32-bit atomics plain LLVM 19 misprints`,
    );
    assert.ok(misprinted > 0);
  });
});
