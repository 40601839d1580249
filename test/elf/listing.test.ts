/**
 * objdumpListing against llvm-objdump-19 -d --no-show-raw-insn, byte for byte:
 *
 * - every `test/fixtures/**\/*.o` against the live tool (when installed) and against its committed
 *   `*.objdump.golden.txt` (always, so runs without LLVM still check parity), in both the plain
 *   and the `--mattr=+alu32` mode;
 * - a seeded set of targeted mutants (code bytes, symbol values and types, section addresses,
 *   sizes and flags, e_type) that llvm-objdump accepts without a warning, against the live tool.
 *
 * No allowance in either mode: the listing is llvm-objdump's to the byte, its `<unknown>` and
 * wrong text for the atomics LLVM 19 misdecodes included.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { EM_BPF, ET_EXEC, ET_REL, readElf, SHF_EXECINSTR } from "../../src/elf/index.ts";
import { ElfError, TsbpfError } from "../../src/errors.ts";
import { objdumpListing } from "../../src/object/listing.ts";
import { ELF_FIXTURES, fixtureObjects, missingTool, Prng, poke, runTool } from "./fixtures.ts";

const OBJDUMP = "llvm-objdump-19";
const skip = missingTool(OBJDUMP);
const fixtures = fixtureObjects();
/** BPF objects among the fixtures (an unreadable fixture fails in readelf.test.ts, not here). */
const bpf = fixtures.filter((f) => {
  try {
    return readElf(f.bytes).machine === EM_BPF;
  } catch {
    return false;
  }
});

/** Instruction lines compared (and `<unknown>` among them), by mode, for the summary. */
const compared: Record<string, { lines: number; unknown: number }> = {};

/** Asserts `got` equals llvm-objdump's `want`, naming the first line that differs; counts lines. */
function assertListing(got: string, want: string, what: string, mode: string): void {
  const b = want.split("\n");
  if (got !== want) {
    const a = got.split("\n");
    const i = a.findIndex((line, k) => line !== b[k]);
    const at = i < 0 ? a.length : i;
    assert.fail(`${what}: line ${at + 1}: got ${JSON.stringify(a[at])}, llvm-objdump ${JSON.stringify(b[at])}`);
  }
  compared[mode] ??= { lines: 0, unknown: 0 };
  const c = compared[mode];
  for (const line of b) {
    if (!/^ *\d+:\t/.test(line)) continue;
    c.lines++;
    if (line.endsWith("\t<unknown>")) c.unknown++;
  }
}

after(() => {
  for (const [mode, c] of Object.entries(compared)) {
    console.log(`listing ${mode}: ${c.lines} instruction lines equal to llvm-objdump-19's (${c.unknown} <unknown>)`);
  }
});

const MODES = [
  { name: "plain", alu32: false, flags: [] as string[], golden: ".objdump.golden.txt" },
  { name: "alu32", alu32: true, flags: ["--mattr=+alu32"], golden: ".objdump-alu32.golden.txt" },
] as const;

describe("objdumpListing vs committed llvm-objdump-19 goldens", () => {
  for (const fx of bpf) {
    for (const mode of MODES) {
      const golden = fx.path.replace(/\.o$/, mode.golden);
      // Goldens exist for the ELF and ISA corpora; every object is also compared live below.
      if (!existsSync(golden)) continue;
      test(`${fx.rel} (${mode.name})`, () => {
        const elf = readElf(fx.bytes);
        const got = objdumpListing(elf, { fileName: basename(fx.path), alu32: mode.alu32 });
        assertListing(got, readFileSync(golden, "latin1"), golden, `golden ${mode.name}`);
      });
    }
  }
});

describe("objdumpListing vs llvm-objdump-19", { skip }, () => {
  for (const fx of bpf) {
    for (const mode of MODES) {
      test(`${fx.rel} (${mode.name})`, () => {
        const elf = readElf(fx.bytes);
        const want = runTool(OBJDUMP, ["-d", "--no-show-raw-insn", ...mode.flags, fx.rel]);
        assertListing(objdumpListing(elf, { fileName: fx.rel, alu32: mode.alu32 }), want, fx.rel, `live ${mode.name}`);
      });
    }
  }

  test("seeded mutants llvm-objdump accepts list identically", () => {
    const seed = Number(process.env.TSBPF_LISTING_SEED ?? 20241125);
    const count = Number(process.env.TSBPF_LISTING_MUTANTS ?? 160);
    const rng = new Prng(seed);
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-listing-"));
    const stats = { compared: 0, rejectedByUs: 0, rejectedByLlvm: 0 };
    try {
      for (let k = 0; k < count; k++) {
        const fx = rng.pick(bpf);
        const { bytes, what } = targetedMutant(fx.bytes, rng);
        const path = join(dir, `m${k}.o`);
        writeFileSync(path, bytes);
        const llvm = spawnSync(OBJDUMP, ["-d", "--no-show-raw-insn", path], { encoding: "latin1" });
        let got: string;
        try {
          got = objdumpListing(readElf(bytes), { fileName: path });
        } catch (e) {
          // Stricter than LLVM is allowed (e.g. a non-zero null symbol); anything but a TsbpfError is not.
          if (!(e instanceof TsbpfError)) throw e;
          stats.rejectedByUs++;
          continue;
        }
        if (llvm.status !== 0 || llvm.stderr !== "") {
          stats.rejectedByLlvm++;
          continue;
        }
        stats.compared++;
        assertListing(got, llvm.stdout, `seed ${seed} mutant ${k} of ${fx.rel} (${what.join(", ")})`, "mutants plain");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`llvm-objdump mutant comparison (seed ${seed}): ${JSON.stringify(stats)}`);
    assert.ok(stats.compared >= count * 0.9, `too few mutants compared: ${JSON.stringify(stats)}`);
  });
});

/** One to three edits that keep the file readable by LLVM but change what the listing shows. */
function targetedMutant(orig: Uint8Array, rng: Prng): { bytes: Uint8Array; what: string[] } {
  const bytes = orig.slice();
  const elf = readElf(orig);
  const le = !elf.bigEndian;
  const code = elf.sections.filter((s) => (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0 && s.type !== 8);
  const what: string[] = [];
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const kind = rng.int(8);
    const sec = code.length > 0 ? rng.pick(code) : undefined;
    const symtab = elf.symtab;
    if (kind === 0 && sec !== undefined) {
      const at = sec.offset + rng.int(sec.size);
      bytes[at] = rng.int(4) === 0 ? 0 : rng.int(256);
      what.push(`byte ${sec.name}+${at - sec.offset}`);
    } else if (kind === 1 && sec !== undefined) {
      // Rewrite a whole code section, biased to zeros, LD_IMM64 and branches.
      for (let at = sec.offset; at < sec.offset + sec.size; at++) {
        const c = rng.int(10);
        bytes[at] = c < 3 ? 0 : c === 3 ? 0x18 : c === 4 ? rng.pick([0x05, 0x06, 0x15, 0x16, 0xe5]) : rng.int(256);
      }
      what.push(`rewrite ${sec.name}`);
    } else if (kind === 2 && symtab !== undefined && elf.symbols.length > 1) {
      const i = 1 + rng.int(elf.symbols.length - 1);
      poke(bytes, symtab.offset + i * 24 + 8, 8, rng.int(64) * 8 + (rng.int(4) === 0 ? rng.int(8) : 0), le);
      what.push(`st_value ${i}`);
    } else if (kind === 3 && symtab !== undefined && elf.symbols.length > 1) {
      const at = symtab.offset + (1 + rng.int(elf.symbols.length - 1)) * 24 + 4;
      bytes[at] = (bytes[at] & 0xf0) | rng.int(7);
      what.push(`st_info ${at}`);
    } else if (kind === 4 && sec !== undefined) {
      poke(bytes, sec.headerOffset + 16, 8, rng.int(4) * 0x100 + rng.int(3) * 4, le);
      what.push(`sh_addr ${sec.name}`);
    } else if (kind === 5 && sec !== undefined) {
      poke(bytes, sec.headerOffset + 32, 8, rng.int(sec.size + 1), le);
      what.push(`sh_size ${sec.name}`);
    } else if (kind === 6) {
      const s = rng.pick(elf.sections);
      poke(bytes, s.headerOffset + 8, 8, s.flags ^ SHF_EXECINSTR, le);
      what.push(`sh_flags ${s.index}`);
    } else if (kind === 7) {
      poke(bytes, 16, 2, rng.pick([ET_REL, ET_EXEC, 3]), le);
      what.push("e_type");
    }
  }
  return { bytes, what };
}

describe("objdumpListing", () => {
  const layout = readFileSync(join(ELF_FIXTURES, "layout.o"));

  test("prints the header with the given file name, elf64-bpf for both byte orders", () => {
    for (const name of ["layout.o", "layout.eb.o"]) {
      const elf = readElf(readFileSync(join(ELF_FIXTURES, name)));
      assert.ok(objdumpListing(elf, { fileName: `dir/${name}` }).startsWith(`\ndir/${name}:\tfile format elf64-bpf\n`));
    }
    assert.ok(objdumpListing(readElf(layout)).startsWith("\na.out:\tfile format elf64-bpf\n"));
  });

  test("shows llvm-objdump's layout rules on the hand-written layout fixture", () => {
    const text = objdumpListing(readElf(layout), { fileName: "layout.o" });
    // One label per address: the last in (name, type) order that is code, not data.
    assert.match(text, /\n0000000000000000 <first_alias>:\n/);
    assert.doesNotMatch(text, /<first>:/);
    assert.match(text, /\n0000000000000018 <both_fn>:\n/);
    // ...but branch targets take the last label in sort order, data or not.
    assert.match(text, /goto \+0x1 <both_obj>\n/);
    // A section without a symbol at its start is labelled with its own name.
    assert.match(text, /\nDisassembly of section sec4:\n\n0000000000000000 <sec4>:\n/);
    // Data chunks are dumped, zero runs elided, backward branches before 0 wrap.
    assert.match(text, /\n {6}50: 34 12 00 00 00 00 00 00 {9}4\.\.\.\.\.\.\.\n/);
    assert.match(text, /\n {6}13:\tr0 = 0x2\n\t\t\.\.\.\n {6}16:\tr0 = 0x3\n/);
    assert.match(text, /goto -0x64 <after_data\+0xfffffffffffffca8>\n/);
    // An LD_IMM64 cut short by the section end is <unknown>, one byte at a time.
    assert.equal(text.split("       1:\t<unknown>\n").length - 1, 9);
    // Empty and NOBITS executable sections are not listed.
    assert.doesNotMatch(text, /section (sec5|virt):/);
  });

  test("refuses addresses it cannot represent exactly", () => {
    const bytes = new Uint8Array(layout);
    const elf = readElf(bytes);
    poke(bytes, elf.sectionByName(".text")!.headerOffset + 16, 8, 2 ** 53 - 1, true);
    assert.throws(() => objdumpListing(readElf(bytes)), /too large to list/);
  });

  test("refuses objects of other machines with an ElfError", () => {
    const x86 = fixtures.find((f) => f.rel.endsWith("rela.x86_64.o"));
    assert.ok(x86);
    assert.throws(() => objdumpListing(readElf(x86.bytes)), ElfError);
  });

  test("lists the goldens' neighbours: every BPF fixture of this suite has a golden", () => {
    for (const fx of bpf.filter((f) => dirname(f.path) === ELF_FIXTURES)) {
      assert.ok(existsSync(fx.path.replace(/\.o$/, ".objdump.golden.txt")), fx.rel);
    }
  });
});
