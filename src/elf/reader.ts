/**
 * A checked reader for ELF64 files: the header, the section table, symbol tables, string tables
 * and REL/RELA relocations, in either byte order.
 *
 * This is the first stage of the object pipeline (`isa` → `elf` → `object`): it knows ELF, not
 * BPF, so it accepts any `e_machine` and leaves interpretation (programs, maps, BTF) to later
 * stages. It plays the part of libbpf's `bpf_object__elf_init`/`bpf_object__elf_collect` and of
 * LLVM's `ELFFile`, whose checks it follows: a table that does not fit the file, a string index
 * past its table, a symbol naming a missing section, a wrong `sh_entsize` are all an
 * {@link ElfError} naming the section and the file offset of the bad field.
 *
 * Every count is bounded by the file size (each entry must lie inside the file), so reading never
 * allocates more than a small multiple of the input and never loops longer than it.
 *
 * Deliberate limits: only ELFCLASS64 is read, and 64-bit fields must be below 2^53 (exact as a JS
 * number); no real BPF object comes near that, and a larger value is reported as an ElfError.
 */
import { ElfError } from "../errors.ts";
import {
  EI_ABIVERSION,
  EI_CLASS,
  EI_DATA,
  EI_NIDENT,
  EI_OSABI,
  EI_VERSION,
  ELF64_EHDR_SIZE,
  ELF64_PHDR_SIZE,
  ELF64_REL_SIZE,
  ELF64_RELA_SIZE,
  ELF64_SHDR_SIZE,
  ELF64_SYM_SIZE,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  ELFMAG,
  ET_REL,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_DYNSYM,
  SHT_NOBITS,
  SHT_NULL,
  SHT_REL,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
  SHT_SYMTAB_SHNDX,
} from "./constants.ts";

/** The ELF file header (`Elf64_Ehdr`), with extended section numbering already resolved. */
export interface ElfHeader {
  /** Always 64: only ELFCLASS64 files are read. */
  readonly class: 64;
  /** `e_ident[EI_DATA] == ELFDATA2MSB`. */
  readonly bigEndian: boolean;
  /** `e_ident[EI_VERSION]`. */
  readonly identVersion: number;
  readonly osabi: number;
  readonly abiVersion: number;
  /** `e_type` (ET_REL for objects from clang). */
  readonly type: number;
  /** `e_machine` (EM_BPF = 247 for BPF objects). */
  readonly machine: number;
  readonly version: number;
  readonly entry: number;
  readonly phoff: number;
  readonly shoff: number;
  readonly flags: number;
  readonly ehsize: number;
  readonly phentsize: number;
  /** Number of program headers (PN_XNUM resolved through section 0's `sh_info`). */
  readonly phnum: number;
  readonly shentsize: number;
  /** Number of section headers read: `e_shnum`, or section 0's `sh_size` when that is 0; 0 without `e_shoff`. */
  readonly shnum: number;
  /** Index of the section-name string table (SHN_XINDEX resolved through section 0's `sh_link`). */
  readonly shstrndx: number;
}

/** The fields of one section header, as {@link ElfSection} is built from. */
interface SectionFields {
  readonly index: number;
  readonly name: string;
  readonly nameOffset: number;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** File offset of this header in the section table. */
  readonly headerOffset: number;
}

/** One section header (`Elf64_Shdr`) and access to its bytes. */
export class ElfSection {
  /** Position in the section table (0 is the null section). */
  readonly index: number;
  /** Name from the section-name string table ("" when the file has none). */
  readonly name: string;
  /** `sh_name`: offset of the name in the section-name string table. */
  readonly nameOffset: number;
  /** `sh_type` (SHT_PROGBITS, SHT_REL, ...). */
  readonly type: number;
  /** `sh_flags` (SHF_ALLOC | SHF_EXECINSTR for program code). */
  readonly flags: number;
  readonly addr: number;
  /** `sh_offset`: where the bytes start in the file (nominal for SHT_NOBITS). */
  readonly offset: number;
  /** `sh_size` in bytes (for SHT_NOBITS, the size the section occupies in memory). */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** File offset of this header inside the section table, for error locations. */
  readonly headerOffset: number;
  readonly #data: Uint8Array;

  constructor(fields: SectionFields, data: Uint8Array) {
    this.index = fields.index;
    this.name = fields.name;
    this.nameOffset = fields.nameOffset;
    this.type = fields.type;
    this.flags = fields.flags;
    this.addr = fields.addr;
    this.offset = fields.offset;
    this.size = fields.size;
    this.link = fields.link;
    this.info = fields.info;
    this.addralign = fields.addralign;
    this.entsize = fields.entsize;
    this.headerOffset = fields.headerOffset;
    this.#data = data;
  }

  /** The section's bytes: a view into the file, not a copy; empty for SHT_NOBITS and SHT_NULL. */
  data(): Uint8Array {
    return this.#data;
  }

  /** How errors name this section: its name, or `[index N]` when it has none. */
  get label(): string {
    return this.name !== "" ? this.name : `[index ${this.index}]`;
  }
}

/** One symbol-table entry (`Elf64_Sym`). */
export interface ElfSymbol {
  /** Position in its symbol table (0 is the null symbol). */
  readonly index: number;
  /** `st_name` resolved in the linked string table ("" for section symbols, which have none). */
  readonly name: string;
  readonly value: number;
  readonly size: number;
  /** `ELF64_ST_TYPE(st_info)`: STT_NOTYPE, STT_FUNC, STT_SECTION, ... */
  readonly type: number;
  /** `ELF64_ST_BIND(st_info)`: STB_LOCAL, STB_GLOBAL, STB_WEAK. */
  readonly bind: number;
  /** `ELF64_ST_VISIBILITY(st_other)`. */
  readonly visibility: number;
  /** Raw `st_other`. */
  readonly other: number;
  /** `st_shndx`, with SHN_XINDEX resolved through the SHT_SYMTAB_SHNDX table. */
  readonly shndx: number;
  /** The section the symbol is defined in; undefined for SHN_UNDEF, SHN_ABS, SHN_COMMON, .... */
  readonly section: ElfSection | undefined;
  /** Name of {@link section}, or "" when there is none. */
  readonly sectionName: string;
}

/** What REL and RELA entries share. */
interface RelocationFields {
  /** `r_offset`: byte offset in the target section (ET_REL) or a virtual address (ET_EXEC/ET_DYN). */
  readonly offset: number;
  /** `ELF64_R_TYPE(r_info)`, e.g. R_BPF_64_64. */
  readonly type: number;
  /** `ELF64_R_SYM(r_info)`: index in the linked symbol table. */
  readonly symbolIndex: number;
  /** The symbol `symbolIndex` names (the null symbol for index 0). */
  readonly symbol: ElfSymbol;
}

/** An `Elf64_Rel` entry: the addend is the value already at the relocated place. */
export interface ElfRel extends RelocationFields {
  readonly kind: "rel";
}

/** An `Elf64_Rela` entry, with an explicit addend. */
export interface ElfRela extends RelocationFields {
  readonly kind: "rela";
  readonly addend: number;
}

/** One relocation, from a SHT_REL (`kind: "rel"`) or SHT_RELA (`kind: "rela"`) section. */
export type ElfRelocation = ElfRel | ElfRela;

const utf8 = new TextDecoder("utf-8");

/** Decodes a string-table entry; the fast path covers the ASCII names of real objects. */
function decodeName(bytes: Uint8Array): string {
  if (bytes.length <= 64) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode(...bytes);
  }
  return utf8.decode(bytes);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Typed reads at file offsets; every offset has been bounds-checked by the caller. */
class Reader {
  readonly view: DataView;
  readonly le: boolean;

  constructor(bytes: Uint8Array, le: boolean) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.le = le;
  }

  u8(off: number): number {
    return this.view.getUint8(off);
  }

  u16(off: number): number {
    return this.view.getUint16(off, this.le);
  }

  u32(off: number): number {
    return this.view.getUint32(off, this.le);
  }

  /** An unsigned 64-bit field, which must be exact as a number. */
  u64(off: number, what: string, section?: string): number {
    const lo = this.view.getUint32(off + (this.le ? 0 : 4), this.le);
    const hi = this.view.getUint32(off + (this.le ? 4 : 0), this.le);
    const v = hi * 0x1_0000_0000 + lo;
    if (!Number.isSafeInteger(v)) {
      const text = `0x${hi.toString(16)}${lo.toString(16).padStart(8, "0")}`;
      throw new ElfError(`${what} ${text} is not below 2^53, which tsbpf does not support`, { offset: off, section });
    }
    return v;
  }

  /** A signed 64-bit field (RELA addend), which must be exact as a number. */
  i64(off: number, what: string, section?: string): number {
    const lo = this.view.getUint32(off + (this.le ? 0 : 4), this.le);
    const hi = this.view.getInt32(off + (this.le ? 4 : 0), this.le);
    const v = hi * 0x1_0000_0000 + lo;
    if (!Number.isSafeInteger(v)) {
      throw new ElfError(`${what} does not fit in ±(2^53-1), which tsbpf does not support`, { offset: off, section });
    }
    return v;
  }
}

/** Parses and checks `e_ident` and the rest of the ELF header. */
function readHeader(bytes: Uint8Array): { header: ElfHeader; r: Reader } {
  if (bytes.length < EI_NIDENT) {
    throw new ElfError(`file is ${bytes.length} bytes, too small for an ELF identification`, { offset: 0 });
  }
  for (let i = 0; i < ELFMAG.length; i++) {
    if (bytes[i] !== ELFMAG[i]) throw new ElfError("not an ELF file (bad magic)", { offset: i });
  }
  const cls = bytes[EI_CLASS];
  if (cls === ELFCLASS32) {
    throw new ElfError("ELFCLASS32 files are not supported (tsbpf reads ELF64)", { offset: EI_CLASS });
  }
  if (cls !== ELFCLASS64) throw new ElfError(`invalid ELF class ${cls}`, { offset: EI_CLASS });
  const data = bytes[EI_DATA];
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) {
    throw new ElfError(`invalid ELF data encoding ${data}`, { offset: EI_DATA });
  }
  if (bytes.length < ELF64_EHDR_SIZE) {
    throw new ElfError(`file is ${bytes.length} bytes, too small for an ELF64 header`, { offset: 0 });
  }
  const r = new Reader(bytes, data === ELFDATA2LSB);
  const header: ElfHeader = {
    class: 64,
    bigEndian: data === ELFDATA2MSB,
    identVersion: bytes[EI_VERSION],
    osabi: bytes[EI_OSABI],
    abiVersion: bytes[EI_ABIVERSION],
    type: r.u16(16),
    machine: r.u16(18),
    version: r.u32(20),
    entry: r.u64(24, "e_entry"),
    phoff: r.u64(32, "e_phoff"),
    shoff: r.u64(40, "e_shoff"),
    flags: r.u32(48),
    ehsize: r.u16(52),
    phentsize: r.u16(54),
    phnum: r.u16(56),
    shentsize: r.u16(58),
    shnum: r.u16(60),
    shstrndx: r.u16(62),
  };
  return { header, r };
}

const PN_XNUM = 0xffff;

/** Reads the section table: counts resolved, every header's data range inside the file, names resolved. */
function readSections(bytes: Uint8Array, r: Reader, h: ElfHeader): { header: ElfHeader; sections: ElfSection[] } {
  let { shnum, shstrndx, phnum } = h;
  const sections: ElfSection[] = [];
  if (h.shoff !== 0) {
    if (h.shentsize !== ELF64_SHDR_SIZE) {
      throw new ElfError(`invalid e_shentsize ${h.shentsize} (expected ${ELF64_SHDR_SIZE})`, { offset: 58 });
    }
    if (h.shoff + ELF64_SHDR_SIZE > bytes.length) {
      throw new ElfError(`section header table at e_shoff ${hex(h.shoff)} is past the end of the file`, {
        offset: 40,
      });
    }
    // Extended numbering: the real values live in section 0.
    if (shnum === 0) shnum = r.u64(h.shoff + 32, "section 0 sh_size (extended e_shnum)");
    if (shstrndx === SHN_XINDEX) shstrndx = r.u32(h.shoff + 40);
    if (phnum === PN_XNUM) phnum = r.u32(h.shoff + 44);
    if (shnum * ELF64_SHDR_SIZE > bytes.length - h.shoff) {
      throw new ElfError(
        `section header table (${shnum} entries at ${hex(h.shoff)}) goes past the end of the file (${hex(bytes.length)} bytes)`,
        { offset: 60 },
      );
    }
  } else {
    shnum = 0;
  }
  if (phnum !== 0) {
    if (h.phentsize !== ELF64_PHDR_SIZE) {
      throw new ElfError(`invalid e_phentsize ${h.phentsize} (expected ${ELF64_PHDR_SIZE})`, { offset: 54 });
    }
    if (h.phoff > bytes.length || phnum * ELF64_PHDR_SIZE > bytes.length - h.phoff) {
      throw new ElfError(`program header table (${phnum} entries at ${hex(h.phoff)}) goes past the end of the file`, {
        offset: 32,
      });
    }
  }
  if (shstrndx !== SHN_UNDEF && shstrndx >= shnum) {
    throw new ElfError(`e_shstrndx ${shstrndx} is not a section (the file has ${shnum})`, { offset: 62 });
  }

  // First pass: raw headers, with each data range checked.
  const raw: Omit<SectionFields, "name">[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = h.shoff + i * ELF64_SHDR_SIZE;
    const where = `[index ${i}]`;
    const f = {
      index: i,
      nameOffset: r.u32(at),
      type: r.u32(at + 4),
      flags: r.u64(at + 8, "sh_flags", where),
      addr: r.u64(at + 16, "sh_addr", where),
      offset: r.u64(at + 24, "sh_offset", where),
      size: r.u64(at + 32, "sh_size", where),
      link: r.u32(at + 40),
      info: r.u32(at + 44),
      addralign: r.u64(at + 48, "sh_addralign", where),
      entsize: r.u64(at + 56, "sh_entsize", where),
      headerOffset: at,
    };
    if (f.type !== SHT_NOBITS && f.type !== SHT_NULL && (f.offset > bytes.length || f.size > bytes.length - f.offset)) {
      throw new ElfError(
        `section data [${hex(f.offset)}, ${hex(f.offset + f.size)}) goes past the end of the file (${hex(bytes.length)} bytes)`,
        { section: where, offset: at + 24 },
      );
    }
    raw.push(f);
  }

  // Second pass: names from the section-name string table.
  let names: Uint8Array | undefined;
  if (shstrndx !== SHN_UNDEF) {
    const s = raw[shstrndx];
    names = checkedStringTable(
      s.type,
      bytes.subarray(s.offset, s.offset + s.size),
      `[index ${shstrndx}]`,
      s.headerOffset,
    );
  }
  for (const f of raw) {
    let name = "";
    if (names !== undefined) {
      name = stringFrom(
        names,
        f.nameOffset,
        `[index ${shstrndx}]`,
        f.headerOffset,
        `section [index ${f.index}] sh_name`,
      );
    }
    const data =
      f.type === SHT_NOBITS || f.type === SHT_NULL ? new Uint8Array(0) : bytes.subarray(f.offset, f.offset + f.size);
    sections.push(new ElfSection({ ...f, name }, data));
  }
  return { header: { ...h, shnum, shstrndx, phnum }, sections };
}

/** Checks that a section can serve as a string table and returns its bytes. */
function checkedStringTable(type: number, data: Uint8Array, label: string, headerOffset: number): Uint8Array {
  if (type !== SHT_STRTAB) {
    throw new ElfError(`used as a string table but has sh_type ${hex(type)}, not SHT_STRTAB`, {
      section: label,
      offset: headerOffset + 4,
    });
  }
  if (data.length === 0) throw new ElfError("string table is empty", { section: label, offset: headerOffset + 32 });
  if (data[data.length - 1] !== 0) {
    throw new ElfError("string table is not NUL-terminated", { section: label, offset: headerOffset + 24 });
  }
  return data;
}

/** The NUL-terminated string at `offset` of a checked string table. */
function stringFrom(table: Uint8Array, offset: number, label: string, fieldOffset: number, what: string): string {
  if (offset >= table.length) {
    throw new ElfError(`${what} ${hex(offset)} is past the end of the string table (${hex(table.length)} bytes)`, {
      section: label,
      offset: fieldOffset,
    });
  }
  return decodeName(table.subarray(offset, table.indexOf(0, offset)));
}

/** A parsed ELF64 file; see {@link readElf}. Symbol tables and relocations are parsed once, on first use. */
export class ElfFile {
  /** The whole file; section data are views into it. */
  readonly bytes: Uint8Array;
  readonly header: ElfHeader;
  /** Every section header, in table order (index 0 is the null section when there are any). */
  readonly sections: readonly ElfSection[];
  /** The first SHT_SYMTAB section (the one LLVM and libbpf use), if any. */
  readonly symtab: ElfSection | undefined;
  /** The entries of {@link symtab} (empty without one), index 0 included. */
  readonly symbols: readonly ElfSymbol[];
  readonly #reader: Reader;
  readonly #symbolTables = new Map<number, readonly ElfSymbol[]>();
  readonly #relocations = new Map<number, readonly ElfRelocation[]>();

  constructor(bytes: Uint8Array, header: ElfHeader, sections: readonly ElfSection[]) {
    this.bytes = bytes;
    this.header = header;
    this.sections = sections;
    this.#reader = new Reader(bytes, !header.bigEndian);
    this.symtab = sections.find((s) => s.type === SHT_SYMTAB);
    this.symbols = this.symtab !== undefined ? this.symbolTable(this.symtab) : [];
  }

  /** True for big-endian files; pass it on as `decodeProgram(bytes, { bigEndian })`. */
  get bigEndian(): boolean {
    return this.header.bigEndian;
  }

  /** `e_machine`; EM_BPF for BPF objects. */
  get machine(): number {
    return this.header.machine;
  }

  /** `e_type`; ET_REL for objects from clang. */
  get type(): number {
    return this.header.type;
  }

  /** The section at `index`; an index outside the table is an ElfError. */
  section(index: number): ElfSection {
    const s = Number.isInteger(index) ? this.sections[index] : undefined;
    if (s === undefined) {
      throw new ElfError(`section index ${index} is out of range (the file has ${this.sections.length})`);
    }
    return s;
  }

  /** The first section called `name`, if any. */
  sectionByName(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The NUL-terminated string at `offset` of string table `strtab`, checked. */
  stringAt(strtab: ElfSection, offset: number): string {
    const table = checkedStringTable(strtab.type, strtab.data(), strtab.label, strtab.headerOffset);
    return stringFrom(table, offset, strtab.label, strtab.headerOffset, "string offset");
  }

  /** The entries of a SHT_SYMTAB or SHT_DYNSYM section, parsed and checked once. */
  symbolTable(table: ElfSection): readonly ElfSymbol[] {
    let syms = this.#symbolTables.get(table.index);
    if (syms === undefined) {
      syms = this.#parseSymbols(table);
      this.#symbolTables.set(table.index, syms);
    }
    return syms;
  }

  /** The entries of relocation section `rel` (SHT_REL or SHT_RELA), parsed and checked once. */
  relocations(rel: ElfSection): readonly ElfRelocation[] {
    let relocs = this.#relocations.get(rel.index);
    if (relocs === undefined) {
      relocs = this.#parseRelocations(rel);
      this.#relocations.set(rel.index, relocs);
    }
    return relocs;
  }

  /** Every SHT_REL and SHT_RELA section, in table order. */
  relocationSections(): readonly ElfSection[] {
    return this.sections.filter((s) => s.type === SHT_REL || s.type === SHT_RELA);
  }

  /** All relocations that apply to `target` (from every REL/RELA section whose `sh_info` names it). */
  relocationsFor(target: ElfSection): readonly ElfRelocation[] {
    const out: ElfRelocation[] = [];
    for (const s of this.relocationSections()) {
      if (s.info === target.index) out.push(...this.relocations(s));
    }
    return out;
  }

  #parseSymbols(table: ElfSection): ElfSymbol[] {
    const label = table.label;
    if (table.type !== SHT_SYMTAB && table.type !== SHT_DYNSYM) {
      throw new ElfError(`sh_type ${hex(table.type)} is not a symbol table`, {
        section: label,
        offset: table.headerOffset + 4,
      });
    }
    if (table.entsize !== ELF64_SYM_SIZE) {
      throw new ElfError(`invalid sh_entsize ${table.entsize} (expected ${ELF64_SYM_SIZE})`, {
        section: label,
        offset: table.headerOffset + 56,
      });
    }
    if (table.size % ELF64_SYM_SIZE !== 0) {
      throw new ElfError(`sh_size ${hex(table.size)} is not a multiple of sh_entsize`, {
        section: label,
        offset: table.headerOffset + 32,
      });
    }
    const strtab = this.#linked(table, "string table", [SHT_STRTAB]);
    const strings = checkedStringTable(strtab.type, strtab.data(), strtab.label, strtab.headerOffset);
    const shndxTable = this.sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === table.index);
    const count = table.size / ELF64_SYM_SIZE;
    const r = this.#reader;
    const out: ElfSymbol[] = [];
    for (let i = 0; i < count; i++) {
      const at = table.offset + i * ELF64_SYM_SIZE;
      const nameOffset = r.u32(at);
      const name = stringFrom(strings, nameOffset, strtab.label, at, `symbol ${i} st_name`);
      const info = r.u8(at + 4);
      const other = r.u8(at + 5);
      let shndx = r.u16(at + 6);
      let inTable = shndx !== SHN_UNDEF && shndx < SHN_LORESERVE;
      if (shndx === SHN_XINDEX) {
        if (shndxTable === undefined || (i + 1) * 4 > shndxTable.data().length) {
          throw new ElfError(`symbol ${i} has st_shndx SHN_XINDEX but no SHT_SYMTAB_SHNDX entry`, {
            section: label,
            offset: at + 6,
          });
        }
        shndx = r.u32(shndxTable.offset + i * 4);
        inTable = shndx !== SHN_UNDEF;
      }
      if (inTable && shndx >= this.sections.length) {
        throw new ElfError(`symbol ${i} st_shndx ${shndx} is not a section (the file has ${this.sections.length})`, {
          section: label,
          offset: at + 6,
        });
      }
      const section = inTable ? this.sections[shndx] : undefined;
      out.push({
        index: i,
        name,
        value: r.u64(at + 8, `symbol ${i} st_value`, label),
        size: r.u64(at + 16, `symbol ${i} st_size`, label),
        type: info & 0xf,
        bind: info >> 4,
        visibility: other & 3,
        other,
        shndx,
        section,
        sectionName: section?.name ?? "",
      });
    }
    return out;
  }

  #parseRelocations(rel: ElfSection): ElfRelocation[] {
    const label = rel.label;
    const isRela = rel.type === SHT_RELA;
    if (!isRela && rel.type !== SHT_REL) {
      throw new ElfError(`sh_type ${hex(rel.type)} is not SHT_REL or SHT_RELA`, {
        section: label,
        offset: rel.headerOffset + 4,
      });
    }
    const entsize = isRela ? ELF64_RELA_SIZE : ELF64_REL_SIZE;
    if (rel.entsize !== entsize) {
      throw new ElfError(`invalid sh_entsize ${rel.entsize} (expected ${entsize})`, {
        section: label,
        offset: rel.headerOffset + 56,
      });
    }
    if (rel.size % entsize !== 0) {
      throw new ElfError(`sh_size ${hex(rel.size)} is not a multiple of sh_entsize`, {
        section: label,
        offset: rel.headerOffset + 32,
      });
    }
    const symbols = this.symbolTable(this.#linked(rel, "symbol table", [SHT_SYMTAB, SHT_DYNSYM]));
    let target: ElfSection | undefined;
    if (rel.info !== 0) {
      if (rel.info >= this.sections.length) {
        throw new ElfError(`sh_info ${rel.info} is not a section (the file has ${this.sections.length})`, {
          section: label,
          offset: rel.headerOffset + 44,
        });
      }
      target = this.sections[rel.info];
    }
    // In ET_REL files r_offset is an offset into the target section; elsewhere it is an address.
    const checkOffset = target !== undefined && this.header.type === ET_REL;
    const count = rel.size / entsize;
    const r = this.#reader;
    const out: ElfRelocation[] = [];
    for (let i = 0; i < count; i++) {
      const at = rel.offset + i * entsize;
      const offset = r.u64(at, `relocation ${i} r_offset`, label);
      const type = r.u32(at + (r.le ? 8 : 12));
      const symbolIndex = r.u32(at + (r.le ? 12 : 8));
      if (symbolIndex >= symbols.length) {
        throw new ElfError(`relocation ${i} names symbol ${symbolIndex}, but the table has ${symbols.length}`, {
          section: label,
          offset: at + 8,
        });
      }
      if (checkOffset && offset >= target!.size) {
        throw new ElfError(
          `relocation ${i} r_offset ${hex(offset)} is outside ${target!.label} (${hex(target!.size)} bytes)`,
          { section: label, offset: at },
        );
      }
      const symbol = symbols[symbolIndex];
      out.push(
        isRela
          ? {
              kind: "rela",
              offset,
              type,
              symbolIndex,
              symbol,
              addend: r.i64(at + 16, `relocation ${i} r_addend`, label),
            }
          : { kind: "rel", offset, type, symbolIndex, symbol },
      );
    }
    return out;
  }

  /** The section `sh_link` of `s` names, which must have one of `types`. */
  #linked(s: ElfSection, what: string, types: readonly number[]): ElfSection {
    const target = s.link !== 0 ? this.sections[s.link] : undefined;
    if (target === undefined || !types.includes(target.type)) {
      const named = target === undefined ? "" : ` (${target.label}, sh_type ${hex(target.type)})`;
      throw new ElfError(`sh_link ${s.link}${named} does not name a ${what}`, {
        section: s.label,
        offset: s.headerOffset + 40,
      });
    }
    return target;
  }
}

/**
 * Parses an ELF64 file (either byte order, any machine). The header and the section table are
 * checked here, and so is the first symbol table; relocation sections are checked when asked for.
 * Throws {@link ElfError} for anything malformed, never a RangeError or TypeError.
 */
export function readElf(bytes: Uint8Array): ElfFile {
  const { header: raw, r } = readHeader(bytes);
  const { header, sections } = readSections(bytes, r, raw);
  return new ElfFile(bytes, header, sections);
}
