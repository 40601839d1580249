/**
 * The ELF reader against llvm-readelf-19 on every fixture object: sections, symbols and
 * relocations field by field (`--elf-output-style=JSON -S -s -r`, the same data `-S -s -r` prints,
 * in a form that parses without guessing columns), and the GNU-style `-s` name columns.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ElfFile,
  EM_BPF,
  readElf,
  relocationTypeName,
  STT_SECTION,
  sectionTypeName,
  symbolBindName,
  symbolTypeName,
  visibilityName,
} from "../../src/elf/index.ts";
import { fixtureObjects, missingTool, runTool } from "./fixtures.ts";

const READELF = "llvm-readelf-19";
const skip = missingTool(READELF);

// biome-ignore lint/suspicious/noExplicitAny: llvm-readelf's JSON is checked field by field below.
type Json = any;

/** JSON.parse, keeping integers too large for a double as decimal strings (RELA addends are u64). */
function parseJson(text: string): Json {
  return JSON.parse(text.replace(/([:[,]\s*)(\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

function num(v: number | string): bigint {
  return BigInt(v);
}

/** The name llvm-readelf shows for a symbol: section symbols are shown by their section's name. */
function shownName(elf: ElfFile, index: number, table = elf.symbols): string {
  const s = table[index];
  return s.type === STT_SECTION && s.name === "" ? s.sectionName : s.name;
}

const counts = { files: 0, sections: 0, symbols: 0, relocations: 0 };

describe("reader vs llvm-readelf-19", { skip }, () => {
  for (const fx of fixtureObjects()) {
    test(fx.rel, () => {
      const elf = readElf(fx.bytes);
      const [doc] = parseJson(runTool(READELF, ["--elf-output-style=JSON", "-S", "-s", "-r", fx.path]));
      counts.files++;

      const sections: Json[] = doc.Sections.map((s: Json) => s.Section);
      assert.equal(elf.sections.length, sections.length, "section count");
      for (const [i, want] of sections.entries()) {
        const got = elf.sections[i];
        const where = `section ${i} (${want.Name.Name})`;
        assert.equal(got.index, want.Index, where);
        assert.equal(got.name, want.Name.Name, where);
        assert.equal(got.nameOffset, want.Name.Value, where);
        assert.equal(got.type, want.Type.Value, where);
        // Processor-specific types (0x70000000..) are named per machine; tsbpf names the generic ones.
        if (got.type < 0x70000000) assert.equal(sectionTypeName(got.type), want.Type.Name.replace(/^SHT_/, ""), where);
        assert.equal(num(got.flags), num(want.Flags.Value), where);
        assert.equal(num(got.addr), num(want.Address), where);
        assert.equal(num(got.offset), num(want.Offset), where);
        assert.equal(num(got.size), num(want.Size), where);
        assert.equal(got.link, want.Link, where);
        assert.equal(got.info, want.Info, where);
        assert.equal(num(got.addralign), num(want.AddressAlignment), where);
        assert.equal(num(got.entsize), num(want.EntrySize), where);
        assert.equal(got.data().length, got.type === 8 ? 0 : got.size, where);
        counts.sections++;
      }

      const symbols: Json[] = (doc.Symbols ?? []).map((s: Json) => s.Symbol);
      assert.equal(elf.symbols.length, symbols.length, "symbol count");
      for (const [i, want] of symbols.entries()) {
        const got = elf.symbols[i];
        const where = `symbol ${i} (${want.Name.Name})`;
        assert.equal(shownName(elf, i), want.Name.Name, where);
        assert.equal(num(got.value), num(want.Value), where);
        assert.equal(num(got.size), num(want.Size), where);
        assert.equal(got.bind, want.Binding.Value, where);
        assert.equal(got.type, want.Type.Value, where);
        assert.equal(got.other, want.Other.Value, where);
        assert.equal(got.shndx, want.Section.Value, where);
        if (got.section !== undefined) assert.equal(got.sectionName, want.Section.Name, where);
        counts.symbols++;
      }

      const groups: Json[] = doc.Relocations ?? [];
      assert.deepEqual(
        elf.relocationSections().map((s) => s.index),
        groups.map((g) => g.SectionIndex),
        "relocation sections",
      );
      for (const g of groups) {
        const rel = elf.section(g.SectionIndex);
        const got = elf.relocations(rel);
        const table = elf.symbolTable(elf.section(rel.link));
        assert.equal(got.length, g.Relocs.length, `${rel.name} count`);
        for (const [i, { Relocation: want }] of g.Relocs.entries()) {
          const r = got[i];
          const where = `${rel.name}[${i}]`;
          assert.equal(num(r.offset), num(want.Offset), where);
          assert.equal(r.type, want.Type.Value, where);
          if (elf.machine === EM_BPF) assert.equal(relocationTypeName(elf.machine, r.type), want.Type.Name, where);
          assert.equal(r.symbolIndex, want.Symbol.Value, where);
          assert.equal(r.symbol, table[r.symbolIndex], where);
          assert.equal(shownName(elf, r.symbolIndex, table), want.Symbol.Name, where);
          if (r.kind === "rela") assert.equal(BigInt.asUintN(64, BigInt(r.addend)), num(want.Addend), where);
          else assert.equal(want.Addend, undefined, where);
          counts.relocations++;
        }
        // Grouped by target: the same entries come back through relocationsFor.
        const target = elf.section(rel.info);
        for (const r of got) assert.ok(elf.relocationsFor(target).includes(r));
      }
    });

    test(`${fx.rel}: symbol name columns of llvm-readelf-19 -s`, () => {
      const elf = readElf(fx.bytes);
      const rows = runTool(READELF, ["-s", fx.path])
        .split("\n")
        .map((l) => /^\s*(\d+): [0-9a-f]{16}\s+\d+ (\S+)\s+(\S+)\s+(\S+)/.exec(l))
        .filter((m) => m !== null);
      assert.equal(rows.length, elf.symbols.length);
      for (const m of rows) {
        const s = elf.symbols[Number(m[1])];
        assert.deepEqual(
          [symbolTypeName(s.type), symbolBindName(s.bind), visibilityName(s.visibility)],
          [m[2], m[3], m[4]],
          `symbol ${m[1]}`,
        );
      }
    });
  }

  test("compared everything", () => {
    console.log(`llvm-readelf-19 comparison: ${JSON.stringify(counts)}`);
    assert.ok(counts.files > 0 && counts.sections > 0 && counts.symbols > 0 && counts.relocations > 0);
  });
});
