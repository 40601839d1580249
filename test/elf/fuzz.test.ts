/**
 * Mutation fuzzing of the ELF reader and the listing: every fixture object is mutated (byte
 * flips, random overwrites, truncation and extension, interesting values written into header,
 * section-header, symbol and relocation fields, code sections rewritten) and everything is
 * read back: sections, data(), symbols, every symbol table and relocation section, strings,
 * grouping by target, the llvm-objdump listing. The only exception allowed is a TsbpfError.
 *
 * Deterministic: a seeded PRNG (TSBPF_FUZZ_SEED, default below) drives everything, and a failure
 * names the seed, the fixture, the mutant number and its mutations. TSBPF_FUZZ_MUTANTS sets the
 * total (default 100 000, spread evenly over the fixtures).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ElfFile,
  readElf,
  SHF_EXECINSTR,
  SHT_DYNSYM,
  SHT_NOBITS,
  SHT_REL,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
} from "../../src/elf/index.ts";
import { TsbpfError } from "../../src/errors.ts";
import { decodeProgram } from "../../src/isa/insn.ts";
import { objdumpListing } from "../../src/object/listing.ts";
import { fixtureObjects, Prng, poke } from "./fixtures.ts";

const SEED = Number(process.env.TSBPF_FUZZ_SEED ?? 0x5eedf00d);
const TOTAL = Number(process.env.TSBPF_FUZZ_MUTANTS ?? 100_000);

/** A field of a structure: file offset and width. */
interface Field {
  readonly at: number;
  readonly size: 1 | 2 | 4 | 8;
  readonly name: string;
}

/** Where the structures of an (unmutated) fixture are, so mutations can aim at them. */
interface Plan {
  readonly le: boolean;
  readonly header: readonly Field[];
  readonly sectionFields: readonly Field[];
  readonly symbolFields: readonly Field[];
  readonly relocationFields: readonly Field[];
  readonly code: readonly { readonly offset: number; readonly size: number }[];
}

const EHDR: readonly [number, 1 | 2 | 4 | 8, string][] = [
  [4, 1, "EI_CLASS"],
  [5, 1, "EI_DATA"],
  [16, 2, "e_type"],
  [18, 2, "e_machine"],
  [24, 8, "e_entry"],
  [32, 8, "e_phoff"],
  [40, 8, "e_shoff"],
  [54, 2, "e_phentsize"],
  [56, 2, "e_phnum"],
  [58, 2, "e_shentsize"],
  [60, 2, "e_shnum"],
  [62, 2, "e_shstrndx"],
];
const SHDR: readonly [number, 1 | 2 | 4 | 8, string][] = [
  [0, 4, "sh_name"],
  [4, 4, "sh_type"],
  [8, 8, "sh_flags"],
  [16, 8, "sh_addr"],
  [24, 8, "sh_offset"],
  [32, 8, "sh_size"],
  [40, 4, "sh_link"],
  [44, 4, "sh_info"],
  [48, 8, "sh_addralign"],
  [56, 8, "sh_entsize"],
];
const SYM: readonly [number, 1 | 2 | 4 | 8, string][] = [
  [0, 4, "st_name"],
  [4, 1, "st_info"],
  [5, 1, "st_other"],
  [6, 2, "st_shndx"],
  [8, 8, "st_value"],
  [16, 8, "st_size"],
];

function plan(elf: ElfFile): Plan {
  const header = EHDR.map(([at, size, name]) => ({ at, size, name }));
  const sectionFields: Field[] = [];
  const symbolFields: Field[] = [];
  const relocationFields: Field[] = [];
  for (const s of elf.sections) {
    for (const [at, size, name] of SHDR)
      sectionFields.push({ at: s.headerOffset + at, size, name: `[${s.index}].${name}` });
    if (s.type === SHT_SYMTAB || s.type === SHT_DYNSYM) {
      for (let i = 0; i < s.size / 24; i++) {
        for (const [at, size, name] of SYM)
          symbolFields.push({ at: s.offset + i * 24 + at, size, name: `sym${i}.${name}` });
      }
    }
    if (s.type === SHT_REL || s.type === SHT_RELA) {
      const ent = s.type === SHT_RELA ? 24 : 16;
      for (let i = 0; i < s.size / ent; i++) {
        const base = s.offset + i * ent;
        relocationFields.push({ at: base, size: 8, name: `${s.name}[${i}].r_offset` });
        relocationFields.push({ at: base + 8, size: 8, name: `${s.name}[${i}].r_info` });
        relocationFields.push({ at: base + 8, size: 4, name: `${s.name}[${i}].r_info.lo` });
        relocationFields.push({ at: base + 12, size: 4, name: `${s.name}[${i}].r_info.hi` });
        if (ent === 24) relocationFields.push({ at: base + 16, size: 8, name: `${s.name}[${i}].r_addend` });
      }
    }
  }
  const code = elf.sections
    .filter((s) => (s.flags & SHF_EXECINSTR) !== 0 && s.type !== SHT_NOBITS && s.size > 0)
    .map((s) => ({ offset: s.offset, size: s.size }));
  return { le: !elf.bigEndian, header, sectionFields, symbolFields, relocationFields, code };
}

/** Values that tend to break parsers: boundaries, sizes of the file, reserved indexes, huge numbers. */
function interesting(rng: Prng, len: number, old: bigint): bigint {
  switch (rng.int(24)) {
    case 0:
      return 0n;
    case 1:
      return 1n;
    case 2:
      return BigInt(rng.pick([2, 3, 4, 7, 8, 9, 15, 16, 23, 24, 25, 56, 63, 64, 65]));
    case 3:
      return BigInt(rng.pick([0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000]));
    case 4:
      return BigInt(rng.pick([0xff00, 0xfff1, 0xfff2, 0xffff, 0x10000]));
    case 5:
      return BigInt(rng.pick([0x7fffffff, 0x80000000, 0xffffffff, 0x100000000]));
    case 6:
      return rng.pick([2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n]);
    case 7:
      return BigInt(len);
    case 8:
      return BigInt(len - 1 - rng.int(16));
    case 9:
      return BigInt(len + 1 + rng.int(16));
    case 10:
      return BigInt(rng.int(len));
    case 11:
      return old + 1n;
    case 12:
      return old - 1n;
    case 13:
      return old * 2n;
    case 14:
      return old + BigInt(rng.int(64) - 32);
    case 15:
      return old ^ (1n << BigInt(rng.int(64)));
    case 16:
      return BigInt(rng.int(64)) * 8n;
    case 17:
      return (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
    default:
      return BigInt(rng.u32());
  }
}

function read(bytes: Uint8Array, f: Field, le: boolean): bigint {
  if (f.at + f.size > bytes.length) return 0n;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (f.size === 1) return BigInt(v.getUint8(f.at));
  if (f.size === 2) return BigInt(v.getUint16(f.at, le));
  if (f.size === 4) return BigInt(v.getUint32(f.at, le));
  return v.getBigUint64(f.at, le);
}

/** Applies 1..4 random mutations to a copy of `orig`; returns the mutant and what was done. */
function mutate(orig: Uint8Array, p: Plan, rng: Prng): { bytes: Uint8Array; what: string[] } {
  let bytes = orig.slice();
  const what: string[] = [];
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const kind = rng.int(16);
    const len = bytes.length;
    if (len === 0) break;
    const fields =
      kind < 3
        ? p.header
        : kind < 6
          ? p.sectionFields
          : kind < 8
            ? p.symbolFields
            : kind < 10
              ? p.relocationFields
              : undefined;
    if (fields !== undefined && fields.length > 0) {
      const f = rng.pick(fields);
      if (f.at + f.size > len) continue;
      const v = interesting(rng, len, read(bytes, f, p.le));
      poke(bytes, f.at, f.size, v, p.le);
      what.push(`${f.name}=0x${BigInt.asUintN(f.size * 8, v).toString(16)}`);
    } else if (kind === 10) {
      const at = rng.int(len);
      bytes[at] ^= 1 + rng.int(255);
      what.push(`flip@${at}`);
    } else if (kind === 11) {
      const at = rng.int(len);
      const count = 1 + rng.int(8);
      for (let i = at; i < Math.min(len, at + count); i++) bytes[i] = rng.int(256);
      what.push(`overwrite@${at}+${count}`);
    } else if (kind === 12) {
      const to = rng.int(4) === 0 ? rng.int(Math.min(len, 128)) : rng.int(len);
      bytes = bytes.slice(0, to);
      what.push(`truncate@${to}`);
    } else if (kind === 13) {
      const extra = new Uint8Array(1 + rng.int(64));
      for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
      const grown = new Uint8Array(len + extra.length);
      grown.set(bytes);
      grown.set(extra, len);
      bytes = grown;
      what.push(`extend+${extra.length}`);
    } else if (p.code.length > 0) {
      // Rewrite part of a code section, biased to zeros, LD_IMM64 and branches.
      const c = rng.pick(p.code);
      const from = c.offset + rng.int(c.size);
      const to = Math.min(len, from + 1 + rng.int(kind === 14 ? 16 : c.size));
      for (let i = from; i < to; i++) {
        const r = rng.int(10);
        bytes[i] =
          r < 3 ? 0 : r === 3 ? 0x18 : r === 4 ? rng.pick([0x05, 0x06, 0x15, 0x16, 0xc3, 0xdb, 0xe5]) : rng.int(256);
      }
      what.push(`code@${from}..${to}`);
    }
  }
  return { bytes, what };
}

/** Runs `fn`; a TsbpfError is an accepted outcome, anything else propagates. */
function tolerate(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof TsbpfError) return false;
    throw e;
  }
}

interface Stats {
  mutants: number;
  parsed: number;
  listed: number;
  relocationsRead: number;
}

/** Reads every part of a mutant the reader and the listing expose. */
function exercise(bytes: Uint8Array, stats: Stats, alu32: boolean): number {
  let elf: ElfFile;
  try {
    elf = readElf(bytes);
  } catch (e) {
    if (e instanceof TsbpfError) return 0;
    throw e;
  }
  stats.parsed++;
  let sink = elf.header.shnum + elf.header.entry + elf.machine + (elf.bigEndian ? 1 : 0);
  for (const s of elf.sections) {
    sink += s.index + s.name.length + s.type + s.flags + s.addr + s.offset + s.size + s.link + s.info;
    sink += s.addralign + s.entsize + s.data().length + s.label.length;
  }
  for (const s of elf.symbols) {
    sink += s.index + s.name.length + s.value + s.size + s.type + s.bind + s.visibility + s.other + s.shndx;
    sink += s.sectionName.length + (s.section?.index ?? 0);
  }
  for (const s of elf.sections) {
    if (s.type === SHT_SYMTAB || s.type === SHT_DYNSYM) tolerate(() => (sink += elf.symbolTable(s).length));
    if (s.type === SHT_STRTAB) tolerate(() => (sink += elf.stringAt(s, s.size > 1 ? 1 : 0).length));
    if (s.type === SHT_REL || s.type === SHT_RELA) {
      const ok = tolerate(() => {
        for (const r of elf.relocations(s)) {
          sink += r.offset + r.type + r.symbolIndex + r.symbol.index + (r.kind === "rela" ? r.addend : 0);
        }
      });
      if (ok) stats.relocationsRead++;
    }
    tolerate(() => (sink += elf.relocationsFor(s).length));
    if ((s.flags & SHF_EXECINSTR) !== 0)
      tolerate(() => (sink += decodeProgram(s.data(), { bigEndian: elf.bigEndian }).length));
  }
  tolerate(() => (sink += elf.relocationSections().length + elf.section(elf.sections.length - 1).index));
  if (tolerate(() => (sink += objdumpListing(elf, { fileName: "mutant.o", alu32 }).length))) stats.listed++;
  return sink;
}

test("mutated fixtures raise only TsbpfError", { timeout: 600_000 }, () => {
  const fixtures = fixtureObjects();
  assert.ok(fixtures.length > 0, "no fixture objects");
  const perFixture = Math.ceil(TOTAL / fixtures.length);
  const rng = new Prng(SEED);
  const stats: Stats = { mutants: 0, parsed: 0, listed: 0, relocationsRead: 0 };
  let slowest = { ms: 0, what: "" };
  const t0 = performance.now();
  for (const fx of fixtures) {
    const p = plan(readElf(fx.bytes)); // fixtures are valid: readelf.test.ts checks each one
    for (let k = 0; k < perFixture; k++) {
      const { bytes, what } = mutate(fx.bytes, p, rng);
      const t = performance.now();
      try {
        exercise(bytes, stats, k % 8 === 7);
      } catch (e) {
        const where = `seed 0x${SEED.toString(16)}, ${fx.rel}, mutant ${k} (${what.join(", ")})`;
        assert.fail(`non-TsbpfError on ${where}: ${e instanceof Error ? e.stack : String(e)}`);
      }
      const ms = performance.now() - t;
      if (ms > slowest.ms) slowest = { ms, what: `${fx.rel} mutant ${k}` };
      stats.mutants++;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `fuzz: seed 0x${SEED.toString(16)}, ${fixtures.length} fixtures, ${JSON.stringify(stats)}, ` +
      `${seconds.toFixed(1)} s, slowest mutant ${slowest.ms.toFixed(1)} ms (${slowest.what})`,
  );
  assert.ok(stats.mutants >= TOTAL);
  // Every mutant is bounded by its size: none may take long (a hang shows up here, not as a timeout).
  assert.ok(slowest.ms < 2000, `mutant took ${slowest.ms} ms: ${slowest.what}`);
});
