/**
 * Mutation fuzzing of the object loader. Every loader fixture is mutated where the loader (not
 * the ELF reader, which test/elf/fuzz.test.ts covers) makes decisions: relocation entries
 * (offset, symbol, type), symbols (value, size, section, type and binding), program code
 * (opcodes, src registers, immediates of calls and ld_imm64), `.maps`, `.BTF` and `.BTF.ext`
 * contents, section headers (names, types, flags, links) and the file length. Each mutant is
 * loaded; the only exception allowed is a TsbpfError, and a spec that loads must be
 * self-consistent (functions inside the program, line info on its slots, map and kfunc
 * references that exist).
 *
 * Deterministic: a seeded PRNG (TSBPF_FUZZ_SEED) drives everything; a failure names the seed,
 * fixture, mutant number and mutations. TSBPF_FUZZ_MUTANTS sets the total (default 100 000,
 * spread evenly over the fixtures).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { readElf, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, SHT_REL } from "../../src/elf/index.ts";
import { TsbpfError } from "../../src/errors.ts";
import { loadObjectSpec, type ObjectSpec } from "../../src/object/index.ts";
import { Prng, poke } from "../elf/fixtures.ts";
import { FIXTURE_NAMES, fixtureBytes } from "./helpers.ts";

const SEED = Number(process.env.TSBPF_FUZZ_SEED ?? 0x10ad0b1e);
const TOTAL = Number(process.env.TSBPF_FUZZ_MUTANTS ?? 100_000);

/** A byte range of the file. */
interface Range {
  readonly at: number;
  readonly size: number;
}

/** Where the loader-relevant structures of an (unmutated) fixture are. */
interface Plan {
  readonly le: boolean;
  readonly length: number;
  readonly relocs: readonly number[];
  readonly symbols: readonly number[];
  readonly symbolCount: number;
  readonly sectionHeaders: readonly number[];
  readonly nameOffsets: readonly number[];
  readonly code: readonly Range[];
  readonly maps: Range | null;
  readonly btfTypes: Range | null;
  readonly btfExt: Range | null;
  readonly data: readonly Range[];
}

function plan(bytes: Uint8Array): Plan {
  const elf = readElf(bytes);
  const relocs: number[] = [];
  const code: Range[] = [];
  const data: Range[] = [];
  let maps: Range | null = null;
  let btfTypes: Range | null = null;
  let btfExt: Range | null = null;
  const le = !elf.bigEndian;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const s of elf.sections) {
    if (s.type === SHT_REL) {
      const target = elf.section(s.info);
      // program and .maps relocations only: DWARF's are the ELF fuzzer's business
      if (target.flags & SHF_EXECINSTR || target.name === ".maps") {
        for (let i = 0; i < s.size / 16; i++) relocs.push(s.offset + i * 16);
      }
    } else if (s.type === SHT_PROGBITS && s.flags & SHF_EXECINSTR) code.push({ at: s.offset, size: s.size });
    else if (s.name === ".maps" && s.type === SHT_PROGBITS) maps = { at: s.offset, size: s.size };
    else if (s.name === ".BTF") {
      const hdr = view.getUint32(s.offset + 4, le);
      const off = view.getUint32(s.offset + 8, le);
      const len = view.getUint32(s.offset + 12, le);
      btfTypes = { at: s.offset + hdr + off, size: len };
    } else if (s.name === ".BTF.ext") btfExt = { at: s.offset, size: s.size };
    else if (s.type === SHT_PROGBITS || s.type === SHT_NOBITS) {
      if (!s.name.startsWith(".debug")) data.push({ at: s.offset, size: s.size });
    }
  }
  const symtab = elf.symtab;
  const symbols = symtab ? elf.symbols.map((s) => symtab.offset + s.index * 24) : [];
  return {
    le,
    length: bytes.length,
    relocs,
    symbols,
    symbolCount: symbols.length,
    sectionHeaders: elf.sections.map((s) => s.headerOffset),
    nameOffsets: elf.sections.map((s) => s.nameOffset),
    code,
    maps,
    btfTypes,
    btfExt,
    data,
  };
}

/** One mutation, applied in place; returns its description. */
type Mutator = (b: Uint8Array, p: Plan, r: Prng) => string | null;

const RELOC_TYPES = [0, 1, 2, 3, 4, 10, 11, 0xff];
const SHNDX_SPECIAL = [0, 0xfff1, 0xfff2, 0xff00, 0xffff];

function interesting(r: Prng): number {
  return r.pick([0, 1, 4, 8, 16, -1, -8, 0x7fffffff, 0x80000000, 0xffffffff, r.int(64), r.int(1 << 16), r.u32()]);
}

const MUTATORS: readonly [number, string, Mutator][] = [
  [
    6,
    "relocation",
    (b, p, r) => {
      if (p.relocs.length === 0) return null;
      const at = r.pick(p.relocs);
      switch (r.int(4)) {
        case 0: {
          const off = r.pick([0, 8, 16, 1, 4, 0x1000, r.int(4096)]);
          poke(b, at, 8, off, p.le);
          return `r_offset@${at}=${off}`;
        }
        case 1: {
          const sym = r.int(p.symbolCount + 2);
          poke(b, at + (p.le ? 12 : 8), 4, sym, p.le);
          return `r_sym@${at}=${sym}`;
        }
        case 2: {
          const t = r.pick(RELOC_TYPES);
          poke(b, at + (p.le ? 8 : 12), 4, t, p.le);
          return `r_type@${at}=${t}`;
        }
        default: {
          const other = r.pick(p.relocs);
          b.copyWithin(at, other, other + 16);
          return `reloc@${at}=copy of ${other}`;
        }
      }
    },
  ],
  [
    6,
    "symbol",
    (b, p, r) => {
      if (p.symbols.length === 0) return null;
      const at = r.pick(p.symbols);
      switch (r.int(4)) {
        case 0: {
          const v = r.pick([0, 8, 16, 4, 0x18, r.int(256) * 8, r.u32()]);
          poke(b, at + 8, 8, v, p.le);
          return `st_value@${at}=${v}`;
        }
        case 1: {
          const v = r.pick([0, 8, 16, 12, r.int(64) * 8, r.u32()]);
          poke(b, at + 16, 8, v, p.le);
          return `st_size@${at}=${v}`;
        }
        case 2: {
          const v = r.int(2) ? r.int(p.sectionHeaders.length + 2) : r.pick(SHNDX_SPECIAL);
          poke(b, at + 6, 2, v, p.le);
          return `st_shndx@${at}=${v}`;
        }
        default: {
          const v = (r.pick([0, 1, 2]) << 4) | r.pick([0, 1, 2, 3, 4]);
          b[at + 4] = v;
          return `st_info@${at}=${v}`;
        }
      }
    },
  ],
  [
    5,
    "code",
    (b, p, r) => {
      if (p.code.length === 0) return null;
      const sec = r.pick(p.code);
      if (sec.size < 8) return null;
      const at = sec.at + r.int(sec.size / 8) * 8;
      switch (r.int(4)) {
        case 0: {
          const c = r.pick([0x85, 0x18, 0x95, 0xbf, r.int(256)]);
          b[at] = c;
          return `code@${at}=${c}`;
        }
        case 1: {
          const s = r.int(7);
          b[at + 1] = p.le ? (b[at + 1] & 0x0f) | (s << 4) : (b[at + 1] & 0xf0) | s;
          return `src@${at}=${s}`;
        }
        case 2: {
          const v = interesting(r);
          poke(b, at + 4, 4, v, p.le);
          return `imm@${at}=${v}`;
        }
        default:
          b[at] = 0x85;
          b[at + 1] = p.le ? 0x10 : 0x01;
          poke(b, at + 4, 4, r.int(64) - 32, p.le);
          return `pseudo-call@${at}`;
      }
    },
  ],
  [
    3,
    ".maps",
    (b, p, r) => {
      if (p.maps === null || p.maps.size === 0) return null;
      const at = p.maps.at + r.int(p.maps.size);
      b[at] = r.int(256);
      return `.maps byte@${at}`;
    },
  ],
  [
    6,
    ".BTF",
    (b, p, r) => {
      if (p.btfTypes === null || p.btfTypes.size < 4) return null;
      const at = p.btfTypes.at + r.int(p.btfTypes.size / 4) * 4;
      const v = r.int(3) === 0 ? r.u32() : r.int(64);
      poke(b, at, 4, v, p.le);
      return `.BTF u32@${at}=${v}`;
    },
  ],
  [
    5,
    ".BTF.ext",
    (b, p, r) => {
      if (p.btfExt === null || p.btfExt.size < 8) return null;
      const at = p.btfExt.at + r.int(p.btfExt.size / 4) * 4;
      const v = r.pick([0, 8, 16, r.int(64), r.int(64) * 8, r.u32()]);
      poke(b, at, 4, v, p.le);
      return `.BTF.ext u32@${at}=${v}`;
    },
  ],
  [
    2,
    "data",
    (b, p, r) => {
      const d = p.data.filter((x) => x.size > 0);
      if (d.length === 0) return null;
      const s = r.pick(d);
      const at = s.at + r.int(s.size);
      if (at >= b.length) return null;
      b[at] = r.int(256);
      return `data byte@${at}`;
    },
  ],
  [
    4,
    "section header",
    (b, p, r) => {
      const i = 1 + r.int(p.sectionHeaders.length - 1);
      const at = p.sectionHeaders[i];
      switch (r.int(5)) {
        case 0: {
          const name = r.pick(p.nameOffsets);
          poke(b, at, 4, name, p.le);
          return `sh_name[${i}]=${name}`;
        }
        case 1: {
          const t = r.pick([SHT_PROGBITS, SHT_NOBITS, SHT_REL, 4, 0]);
          poke(b, at + 4, 4, t, p.le);
          return `sh_type[${i}]=${t}`;
        }
        case 2:
          b[at + (p.le ? 8 : 15)] ^= SHF_EXECINSTR;
          return `sh_flags[${i}]^=EXEC`;
        case 3: {
          const info = r.int(p.sectionHeaders.length + 1);
          poke(b, at + 44, 4, info, p.le);
          return `sh_info[${i}]=${info}`;
        }
        default: {
          const size = r.pick([0, 4, 8, 16, r.int(4096)]);
          poke(b, at + 32, 8, size, p.le);
          return `sh_size[${i}]=${size}`;
        }
      }
    },
  ],
  [1, "truncate", (_b, p, r) => `truncate=${r.int(p.length)}`],
];

const WEIGHT = MUTATORS.reduce((s, m) => s + m[0], 0);

function pickMutator(r: Prng): [string, Mutator] {
  let n = r.int(WEIGHT);
  for (const [w, name, m] of MUTATORS) {
    if (n < w) return [name, m];
    n -= w;
  }
  return [MUTATORS[0][1], MUTATORS[0][2]];
}

/** What a loaded spec must satisfy whatever the input. */
function checkSpec(spec: ObjectSpec): void {
  for (const p of spec.programs) {
    const n = p.insns.length;
    for (const a of [p.insns.code, p.insns.dst, p.insns.src, p.insns.off, p.insns.imm]) assert.equal(a.length, n);
    assert.equal(p.functions[0]?.start, 0, `${p.name}: main function first`);
    let end = 0;
    for (const f of p.functions) {
      assert.equal(f.start, end, `${p.name}: functions are contiguous`);
      end = f.start + f.length;
    }
    assert.equal(end, n, `${p.name}: functions cover the program`);
    for (const l of p.lineInfo) assert.ok(l.insn >= 0 && l.insn < n, `${p.name}: line info on slot ${l.insn}`);
    for (const m of p.maps) assert.ok(m >= 0 && m < spec.maps.length, `${p.name}: map ${m}`);
    for (let pc = 0; pc < n; pc++) {
      if (p.insns.code[pc] === 0x85 && p.insns.src[pc] === 2)
        assert.ok(p.kfuncs.has(p.insns.imm[pc]), `${p.name}: kfunc`);
      if (p.insns.code[pc] === 0x18) {
        if (p.insns.src[pc] === 3) {
          assert.ok(p.insns.imm[pc] >= 0 && p.insns.imm[pc] < spec.ksyms.length, `${p.name}: ksym`);
        }
        pc++; // the second slot is no instruction
      }
    }
  }
}

test(`loader mutation fuzzing: ${TOTAL} mutants, seed 0x${SEED.toString(16)}`, () => {
  const fixtures = FIXTURE_NAMES.map((name) => {
    const bytes = fixtureBytes(name);
    return { name, bytes, plan: plan(bytes) };
  });
  const r = new Prng(SEED);
  const per = Math.ceil(TOTAL / fixtures.length);
  const outcomes = new Map<string, number>();
  const started = performance.now();
  let mutants = 0;
  for (const f of fixtures) {
    for (let i = 0; i < per && mutants < TOTAL; i++, mutants++) {
      let bytes = f.bytes.slice();
      const applied: string[] = [];
      const count = 1 + r.int(3);
      let length = bytes.length;
      for (let k = 0; k < count; k++) {
        const [, m] = pickMutator(r);
        const d = m(bytes, f.plan, r);
        if (d === null) continue;
        applied.push(d);
        if (d.startsWith("truncate=")) length = Math.min(length, Number(d.slice(9)));
      }
      bytes = bytes.subarray(0, length);
      let outcome: string;
      try {
        checkSpec(loadObjectSpec(bytes));
        outcome = "loaded";
      } catch (e) {
        if (!(e instanceof TsbpfError)) {
          const why = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
          assert.fail(`seed 0x${SEED.toString(16)}, ${f.name} mutant ${i} [${applied.join(", ")}]: ${why}`);
        }
        outcome = e.name;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = [...outcomes].map(([k, v]) => `${k} ${v}`).join(", ");
  console.log(`loader fuzz: ${mutants} mutants in ${seconds.toFixed(1)} s (${summary})`);
  assert.equal(mutants, TOTAL);
  assert.ok((outcomes.get("loaded") ?? 0) > TOTAL / 20, "too few mutants load: the mutations are too coarse");
  assert.ok((outcomes.get("LoadError") ?? 0) > TOTAL / 20, "too few LoadErrors: the loader's checks are not reached");
});
