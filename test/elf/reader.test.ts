/**
 * Self-contained checks of the ELF reader on the committed fixtures: what it reads from real
 * clang objects in both byte orders, extended numbering and SHT_SYMTAB_SHNDX, and the ElfError
 * (with its section and file offset) for each kind of malformed field.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  type ElfFile,
  EM_BPF,
  EM_S390,
  EM_X86_64,
  ET_REL,
  R_BPF_64_32,
  R_BPF_64_64,
  R_BPF_64_ABS64,
  readElf,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHN_ABS,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_REL,
  SHT_RELA,
  SHT_SYMTAB_SHNDX,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FILE,
  STT_FUNC,
  STT_OBJECT,
  STT_SECTION,
  STV_DEFAULT,
} from "../../src/elf/index.ts";
import { ElfError } from "../../src/errors.ts";
import { decodeProgram } from "../../src/isa/insn.ts";
import { ELF_FIXTURES, fixtureObjects, poke } from "./fixtures.ts";

function load(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(ELF_FIXTURES, name)));
}

/** A copy of fixture `name` patched by `edit`, which gets the parsed original and a little-endian flag. */
function patched(name: string, edit: (bytes: Uint8Array, elf: ElfFile, le: boolean) => void): Uint8Array {
  const orig = load(name);
  const elf = readElf(orig);
  const bytes = orig.slice();
  edit(bytes, elf, !elf.bigEndian);
  return bytes;
}

/** Asserts that `fn` throws an ElfError whose message matches and whose location is as given. */
function throwsElf(fn: () => unknown, message: RegExp, where: { section?: string; offset?: number } = {}): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ElfError, `expected ElfError, got ${String(e)}`);
    assert.match(e.message, message);
    if (where.section !== undefined) assert.equal(e.section, where.section, e.message);
    if (where.offset !== undefined) assert.equal(e.offset, where.offset, e.message);
    return true;
  });
}

describe("readElf on clang objects", () => {
  test("every fixture object under test/fixtures reads completely", () => {
    for (const fx of fixtureObjects()) {
      const elf = readElf(fx.bytes);
      for (const rel of elf.relocationSections()) assert.ok(elf.relocations(rel).length > 0, `${fx.rel} ${rel.name}`);
    }
  });

  test("header", () => {
    for (const [name, bigEndian] of [
      ["calls.o", false],
      ["calls.eb.o", true],
    ] as const) {
      const elf = readElf(load(name));
      assert.equal(elf.header.class, 64);
      assert.equal(elf.bigEndian, bigEndian);
      assert.equal(elf.header.bigEndian, bigEndian);
      assert.equal(elf.type, ET_REL);
      assert.equal(elf.machine, EM_BPF);
      assert.equal(elf.header.shnum, elf.sections.length);
      assert.equal(elf.sections[elf.header.shstrndx].name, ".strtab");
      assert.equal(elf.header.phnum, 0);
    }
  });

  test("sections and their data views", () => {
    const bytes = load("globals.o");
    const elf = readElf(bytes);
    assert.equal(elf.sections[0].type, 0);
    assert.equal(elf.sections[0].name, "");
    const text = elf.sectionByName(".text")!;
    assert.equal(text.type, SHT_PROGBITS);
    assert.equal(text.flags, SHF_ALLOC | SHF_EXECINSTR);
    const d = text.data();
    assert.equal(d.length, text.size);
    assert.equal(d.buffer, bytes.buffer, "a view, not a copy");
    assert.equal(d.byteOffset, bytes.byteOffset + text.offset);
    const bss = elf.sectionByName(".bss")!;
    assert.equal(bss.type, SHT_NOBITS);
    assert.ok(bss.size > 0);
    assert.equal(bss.data().length, 0);
    assert.equal(elf.sectionByName(".data")!.flags, SHF_ALLOC | SHF_WRITE);
    assert.equal(elf.sectionByName("no such section"), undefined);
    assert.equal(elf.section(text.index), text);
    throwsElf(() => elf.section(elf.sections.length), /out of range/);
    throwsElf(() => elf.section(-1), /out of range/);
  });

  test("symbols", () => {
    const elf = readElf(load("globals.o"));
    assert.equal(elf.symtab?.name, ".symtab");
    const by = (n: string) => elf.symbols.find((s) => s.name === n)!;
    assert.deepEqual(elf.symbols[0], {
      index: 0,
      name: "",
      value: 0,
      size: 0,
      type: 0,
      bind: STB_LOCAL,
      visibility: STV_DEFAULT,
      other: 0,
      shndx: SHN_UNDEF,
      section: undefined,
      sectionName: "",
    });
    const file = by("globals.c");
    assert.equal(file.type, STT_FILE);
    assert.equal(file.shndx, SHN_ABS);
    assert.equal(file.section, undefined);
    const tp = by("trace_open");
    assert.equal(tp.type, STT_FUNC);
    assert.equal(tp.bind, STB_GLOBAL);
    assert.equal(tp.sectionName, "tracepoint/syscalls/sys_enter_openat");
    assert.equal(tp.section, elf.sections[tp.shndx]);
    assert.equal(tp.size, tp.section!.size);
    const bump = by("bump");
    assert.equal(bump.bind, STB_LOCAL);
    assert.equal(bump.sectionName, ".text");
    const greeting = by("greeting");
    assert.equal(greeting.type, STT_OBJECT);
    assert.equal(greeting.sectionName, ".rodata");
    assert.equal(greeting.size, 11);
    const sec = elf.symbols.find((s) => s.type === STT_SECTION && s.sectionName === ".bss")!;
    assert.equal(sec.name, "");
    const ext = readElf(load("externs.o"));
    const hz = ext.symbols.find((s) => s.name === "CONFIG_HZ")!;
    assert.equal(hz.bind, STB_WEAK);
    assert.equal(hz.shndx, SHN_UNDEF);
    assert.equal(hz.section, undefined);
  });

  test("REL relocations, by section and by target", () => {
    const elf = readElf(load("globals.o"));
    const prog = elf.sectionByName("tracepoint/syscalls/sys_enter_openat")!;
    const rel = elf.sectionByName(".reltracepoint/syscalls/sys_enter_openat")!;
    assert.equal(rel.type, SHT_REL);
    assert.equal(rel.info, prog.index);
    const relocs = elf.relocations(rel);
    assert.deepEqual(elf.relocationsFor(prog), relocs);
    assert.equal(elf.relocations(rel), relocs, "parsed once");
    assert.ok(elf.relocationSections().includes(rel));
    for (const r of relocs) {
      assert.equal(r.kind, "rel");
      assert.ok(r.offset % 8 === 0 && r.offset < prog.size);
      assert.equal(r.symbol, elf.symbols[r.symbolIndex]);
    }
    const call = relocs.find((r) => r.type === R_BPF_64_32)!;
    assert.equal(call.symbol.type, STT_SECTION);
    assert.equal(call.symbol.sectionName, ".text");
    const code = decodeProgram(prog.data());
    for (const r of relocs.filter((r) => r.type === R_BPF_64_64)) assert.equal(code.code[r.offset / 8], 0x18);
    const dataRel = elf.relocationsFor(elf.sectionByName(".data")!);
    assert.equal(dataRel.length, 1);
    assert.equal(dataRel[0].type, R_BPF_64_ABS64);
    assert.equal(dataRel[0].symbol.name, "counter");
    assert.deepEqual(elf.relocationsFor(elf.sectionByName(".bss")!), []);
  });

  test("RELA relocations carry signed addends, in both byte orders", () => {
    const cases = [
      ["rela.x86_64.o", EM_X86_64, false, [-4n, -4n, -4n]],
      ["rela.s390x.o", EM_S390, true, [2n, 2n, 2n]],
    ] as const;
    for (const [name, machine, bigEndian, addends] of cases) {
      const elf = readElf(load(name));
      assert.equal(elf.machine, machine);
      assert.equal(elf.bigEndian, bigEndian);
      const relText = elf.relocationsFor(elf.sectionByName(".text")!);
      assert.equal(relText.length, 3);
      for (const [i, r] of relText.entries()) {
        assert.equal(r.kind, "rela");
        if (r.kind === "rela") assert.equal(BigInt(r.addend), addends[i]);
      }
      assert.deepEqual(
        relText.map((r) => r.symbol.name),
        ["ext_fn", "ext_counter", "table_ptr"],
      );
      const data = elf.relocationsFor(elf.sectionByName(".data")!);
      assert.equal(data.length, 1);
      assert.equal(elf.sections[elf.relocationSections()[0].index].type, SHT_RELA);
    }
  });

  test("big-endian objects hold the same program as little-endian ones", () => {
    // (layout.s is left out: its raw `.byte` slots mean different instructions in each order.)
    for (const base of ["calls", "multi_prog"]) {
      const le = readElf(load(`${base}.o`));
      const be = readElf(load(`${base}.eb.o`));
      assert.deepEqual(
        be.sections.map((s) => [s.name, s.type, s.size]),
        le.sections.map((s) => [s.name, s.type, s.size]),
      );
      assert.deepEqual(
        be.symbols.map((s) => [s.name, s.value, s.size, s.type, s.bind, s.shndx]),
        le.symbols.map((s) => [s.name, s.value, s.size, s.type, s.bind, s.shndx]),
      );
      for (const s of le.sections.filter((s) => (s.flags & SHF_EXECINSTR) !== 0 && s.size % 8 === 0)) {
        const t = be.sectionByName(s.name)!;
        assert.deepEqual(
          decodeProgram(t.data(), { bigEndian: true }),
          decodeProgram(s.data(), { bigEndian: false }),
          s.name,
        );
        assert.deepEqual(
          be.relocationsFor(t).map((r) => [r.offset, r.type, r.symbol.name]),
          le.relocationsFor(s).map((r) => [r.offset, r.type, r.symbol.name]),
        );
      }
    }
  });

  test("stringAt", () => {
    const elf = readElf(load("calls.o"));
    const strtab = elf.sections[elf.header.shstrndx];
    const text = elf.sectionByName(".text")!;
    assert.equal(elf.stringAt(strtab, text.nameOffset), ".text");
    assert.equal(elf.stringAt(strtab, text.nameOffset + 1), "text");
    assert.equal(elf.stringAt(strtab, 0), "");
    throwsElf(() => elf.stringAt(strtab, strtab.size), /past the end of the string table/, { section: ".strtab" });
    throwsElf(() => elf.stringAt(text, 0), /not SHT_STRTAB/, { section: ".text" });
  });
});

describe("readElf on rewritten objects", () => {
  test("extended section numbering (e_shnum 0, e_shstrndx SHN_XINDEX)", () => {
    const ref = readElf(load("calls.eb.o"));
    const bytes = patched("calls.eb.o", (b, elf, le) => {
      poke(b, 60, 2, 0, le);
      poke(b, 62, 2, 0xffff, le);
      poke(b, elf.header.shoff + 32, 8, elf.sections.length, le);
      poke(b, elf.header.shoff + 40, 4, elf.header.shstrndx, le);
    });
    const elf = readElf(bytes);
    assert.equal(elf.header.shnum, ref.header.shnum);
    assert.equal(elf.header.shstrndx, ref.header.shstrndx);
    assert.deepEqual(
      elf.sections.slice(1).map((s) => s.name),
      ref.sections.slice(1).map((s) => s.name),
    );
  });

  test("SHT_SYMTAB_SHNDX resolves SHN_XINDEX symbols", () => {
    const ref = readElf(load("calls.o"));
    const victim = ref.symbols.findIndex((s) => s.name === "entry");
    const bytes0 = load("calls.o");
    // Append an index table for every symbol and turn .llvm_addrsig into its header.
    const count = ref.symbols.length;
    const bytes = new Uint8Array(bytes0.length + count * 4);
    bytes.set(bytes0);
    const table = bytes0.length;
    const addrsig = ref.sectionByName(".llvm_addrsig")!;
    poke(bytes, addrsig.headerOffset + 4, 4, SHT_SYMTAB_SHNDX, true);
    poke(bytes, addrsig.headerOffset + 24, 8, table, true);
    poke(bytes, addrsig.headerOffset + 32, 8, count * 4, true);
    poke(bytes, addrsig.headerOffset + 40, 4, ref.symtab!.index, true);
    poke(bytes, addrsig.headerOffset + 56, 8, 4, true);
    poke(bytes, ref.symtab!.offset + victim * 24 + 6, 2, 0xffff, true);
    poke(bytes, table + victim * 4, 4, ref.symbols[victim].shndx, true);
    const elf = readElf(bytes);
    assert.equal(elf.symbols[victim].shndx, ref.symbols[victim].shndx);
    assert.equal(elf.symbols[victim].sectionName, "socket");
    // The same file without a table entry for the symbol is malformed.
    poke(bytes, addrsig.headerOffset + 32, 8, victim * 4, true);
    throwsElf(() => readElf(bytes), /SHN_XINDEX but no SHT_SYMTAB_SHNDX entry/, { section: ".symtab" });
  });
});

describe("readElf rejects malformed files with a located ElfError", () => {
  test("identification and header", () => {
    throwsElf(() => readElf(new Uint8Array(0)), /too small for an ELF identification/, { offset: 0 });
    throwsElf(() => readElf(new Uint8Array(16)), /bad magic/, { offset: 0 });
    throwsElf(() => readElf(patched("calls.o", (b) => (b[3] = 0x47))), /bad magic/, { offset: 3 });
    throwsElf(() => readElf(patched("calls.o", (b) => (b[4] = 1))), /ELFCLASS32 files are not supported/, {
      offset: 4,
    });
    throwsElf(() => readElf(patched("calls.o", (b) => (b[4] = 3))), /invalid ELF class 3/);
    throwsElf(() => readElf(patched("calls.o", (b) => (b[5] = 0))), /invalid ELF data encoding 0/, { offset: 5 });
    throwsElf(() => readElf(load("calls.o").subarray(0, 40)), /too small for an ELF64 header/);
    throwsElf(() => readElf(patched("calls.o", (b, _e, le) => poke(b, 24, 8, 2n ** 60n, le))), /e_entry .* 2\^53/, {
      offset: 24,
    });
  });

  test("section table", () => {
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, 40, 8, b.length - 10, le))),
      /section header table at e_shoff .* past the end/,
      { offset: 40 },
    );
    throwsElf(() => readElf(patched("calls.o", (b, _e, le) => poke(b, 58, 2, 40, le))), /invalid e_shentsize 40/);
    throwsElf(
      () => readElf(patched("calls.eb.o", (b, _e, le) => poke(b, 60, 2, 0xfff0, le))),
      /65520 entries .* goes past the end of the file/,
      { offset: 60 },
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, 62, 2, 999, le))),
      /e_shstrndx 999 is not a section/,
    );
    const onePhdr = (b: Uint8Array, le: boolean): void => {
      poke(b, 56, 2, 1, le);
      poke(b, 54, 2, 56, le);
      poke(b, 32, 8, b.length - 10, le);
    };
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => onePhdr(b, le))),
      /program header table .* past the end/,
      {
        offset: 32,
      },
    );
    throwsElf(() => readElf(patched("calls.o", (b, _e, le) => poke(b, 56, 2, 1, le))), /invalid e_phentsize 0/);
  });

  test("section headers", () => {
    const ref = readElf(load("globals.o"));
    const text = ref.sectionByName(".text")!;
    const at = text.headerOffset;
    throwsElf(
      () => readElf(patched("globals.o", (b, _e, le) => poke(b, at + 32, 8, b.length, le))),
      /section data .* goes past the end of the file/,
      { section: `[index ${text.index}]`, offset: at + 24 },
    );
    throwsElf(() => readElf(patched("globals.o", (b, _e, le) => poke(b, at + 24, 8, 2n ** 40n, le))), /section data/, {
      section: `[index ${text.index}]`,
    });
    throwsElf(
      () => readElf(patched("globals.o", (b, _e, le) => poke(b, at + 32, 8, 2n ** 63n, le))),
      /sh_size 0x8000000000000000 is not below 2\^53/,
      { offset: at + 32 },
    );
    // A NOBITS section may claim any size that fits in 2^53.
    const bss = ref.sectionByName(".bss")!;
    const big = readElf(patched("globals.o", (b, _e, le) => poke(b, bss.headerOffset + 32, 8, 2 ** 40, le)));
    assert.equal(big.sectionByName(".bss")!.size, 2 ** 40);
  });

  test("section-name string table", () => {
    const ref = readElf(load("calls.o"));
    const shstr = ref.sections[ref.header.shstrndx];
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, shstr.headerOffset + 4, 4, SHT_PROGBITS, le))),
      /not SHT_STRTAB/,
      { section: `[index ${shstr.index}]`, offset: shstr.headerOffset + 4 },
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, shstr.headerOffset + 32, 8, shstr.size - 1, le))),
      /not NUL-terminated/,
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, shstr.headerOffset + 32, 8, 0, le))),
      /string table is empty/,
    );
    const text = ref.sectionByName(".text")!;
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, text.headerOffset, 4, 0x10000, le))),
      /section \[index 2\] sh_name 0x10000 is past the end of the string table/,
      { offset: text.headerOffset },
    );
  });

  test("symbol table", () => {
    const ref = readElf(load("calls.o"));
    const symtab = ref.symtab!;
    const sym = (i: number) => symtab.offset + i * 24;
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, symtab.headerOffset + 56, 8, 16, le))),
      /invalid sh_entsize 16 \(expected 24\)/,
      { section: ".symtab", offset: symtab.headerOffset + 56 },
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, symtab.headerOffset + 32, 8, symtab.size - 1, le))),
      /not a multiple of sh_entsize/,
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, symtab.headerOffset + 40, 4, 0, le))),
      /sh_link 0 does not name a string table/,
      { section: ".symtab" },
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, symtab.headerOffset + 40, 4, 2, le))),
      /sh_link 2 \(\.text, sh_type 0x1\) does not name a string table/,
      { section: ".symtab", offset: symtab.headerOffset + 40 },
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, sym(3), 4, 0xffffff, le))),
      /symbol 3 st_name 0xffffff is past the end of the string table/,
      { section: ".strtab", offset: sym(3) },
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, sym(4) + 6, 2, 0x7000, le))),
      /symbol 4 st_shndx 28672 is not a section/,
      { section: ".symtab", offset: sym(4) + 6 },
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, sym(4) + 6, 2, 0xffff, le))),
      /SHN_XINDEX but no SHT_SYMTAB_SHNDX/,
    );
    throwsElf(
      () => readElf(patched("calls.o", (b, _e, le) => poke(b, sym(4) + 8, 8, -1n, le))),
      /symbol 4 st_value 0xffffffffffffffff is not below 2\^53/,
      { offset: sym(4) + 8 },
    );
    // Reserved indexes other than ABS/COMMON are accepted, with no section.
    const odd = readElf(patched("calls.o", (b, _e, le) => poke(b, sym(4) + 6, 2, 0xff05, le)));
    assert.equal(odd.symbols[4].section, undefined);
  });

  test("relocations are checked when asked for", () => {
    const ref = readElf(load("calls.o"));
    const rel = ref.sectionByName(".relsocket")!;
    const ent = (i: number) => rel.offset + i * 16;
    const check = (edit: (b: Uint8Array, le: boolean) => void, message: RegExp, offset?: number) => {
      const elf = readElf(patched("calls.o", (b, _e, le) => edit(b, le)));
      throwsElf(() => elf.relocations(elf.section(rel.index)), message, { section: ".relsocket", offset });
      // Grouping by target reaches the same section unless sh_info itself is the bad field.
      if (elf.section(rel.index).info === rel.info) throwsElf(() => elf.relocationsFor(elf.section(rel.info)), message);
    };
    check((b, le) => poke(b, rel.headerOffset + 56, 8, 24, le), /invalid sh_entsize 24 \(expected 16\)/);
    check((b, le) => poke(b, rel.headerOffset + 32, 8, rel.size - 8, le), /not a multiple of sh_entsize/);
    check(
      (b, le) => poke(b, ent(1) + 12, 4, 5000, le),
      /relocation 1 names symbol 5000, but the table has 18/,
      ent(1) + 8,
    );
    check((b, le) => poke(b, ent(2), 8, 0x10000, le), /relocation 2 r_offset 0x10000 is outside socket/, ent(2));
    check((b, le) => poke(b, rel.headerOffset + 44, 4, 400, le), /sh_info 400 is not a section/);
    check((b, le) => poke(b, rel.headerOffset + 40, 4, 500, le), /sh_link 500 does not name a symbol table/);
    check(
      (b, le) => poke(b, rel.headerOffset + 40, 4, 1, le),
      /sh_link 1 \(\.strtab, sh_type 0x3\) does not name a symbol/,
    );
    const elf = readElf(load("calls.o"));
    throwsElf(() => elf.relocations(elf.sectionByName(".text")!), /not SHT_REL or SHT_RELA/);
    throwsElf(() => elf.symbolTable(elf.sectionByName(".text")!), /not a symbol table/);
    const x86 = readElf(load("rela.x86_64.o"));
    const rela = x86.relocationSections()[0];
    const bytes = load("rela.x86_64.o");
    poke(bytes, rela.offset + 16, 8, 2n ** 62n, true);
    throwsElf(() => readElf(bytes).relocations(rela), /relocation 0 r_addend does not fit/, {
      offset: rela.offset + 16,
    });
  });
});
