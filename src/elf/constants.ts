/**
 * ELF constants used by the reader, spelled as in `<elf.h>` / the gABI, plus the BPF relocation
 * types of LLVM's `ELFRelocs/BPF.def` and the name tables tools print (llvm-readelf spelling).
 *
 * Only what tsbpf reads is here; values are plain numbers so they compose and compare like the C
 * macros they mirror.
 */

// ---- e_ident
/** Size of `e_ident`. */
export const EI_NIDENT = 16;
/** The four magic bytes `\x7fELF`. */
export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46] as const;
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_OSABI = 7;
export const EI_ABIVERSION = 8;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
/** Two's complement, little-endian. */
export const ELFDATA2LSB = 1;
/** Two's complement, big-endian. */
export const ELFDATA2MSB = 2;

// ---- e_type
export const ET_NONE = 0;
/** Relocatable object: what `clang -target bpf -c` produces. */
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

// ---- e_machine (only the few tsbpf names)
export const EM_NONE = 0;
export const EM_S390 = 22;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
/** Linux BPF. */
export const EM_BPF = 247;

// ---- structure sizes (ELF64)
/** sizeof(Elf64_Ehdr). */
export const ELF64_EHDR_SIZE = 64;
/** sizeof(Elf64_Shdr). */
export const ELF64_SHDR_SIZE = 64;
/** sizeof(Elf64_Phdr). */
export const ELF64_PHDR_SIZE = 56;
/** sizeof(Elf64_Sym). */
export const ELF64_SYM_SIZE = 24;
/** sizeof(Elf64_Rel). */
export const ELF64_REL_SIZE = 16;
/** sizeof(Elf64_Rela). */
export const ELF64_RELA_SIZE = 24;

// ---- special section indexes
export const SHN_UNDEF = 0;
/** First reserved index; indexes from here on never name a section-table entry. */
export const SHN_LORESERVE = 0xff00;
/** Absolute symbol: `st_value` is not relative to any section. */
export const SHN_ABS = 0xfff1;
/** Common (tentative) symbol. */
export const SHN_COMMON = 0xfff2;
/** The real index is elsewhere: SHT_SYMTAB_SHNDX for symbols, section 0 for e_shstrndx. */
export const SHN_XINDEX = 0xffff;

// ---- sh_type
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
/** Occupies no file space (`.bss`); `sh_offset` is only nominal. */
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_SHLIB = 10;
export const SHT_DYNSYM = 11;
export const SHT_INIT_ARRAY = 14;
export const SHT_FINI_ARRAY = 15;
export const SHT_PREINIT_ARRAY = 16;
export const SHT_GROUP = 17;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_LLVM_ADDRSIG = 0x6fff4c03;

// ---- sh_flags
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
/** Executable: the sections `llvm-objdump -d` disassembles. */
export const SHF_EXECINSTR = 0x4;
export const SHF_MERGE = 0x10;
export const SHF_STRINGS = 0x20;
export const SHF_INFO_LINK = 0x40;
export const SHF_LINK_ORDER = 0x80;
export const SHF_GROUP = 0x200;
export const SHF_TLS = 0x400;
export const SHF_COMPRESSED = 0x800;
export const SHF_EXCLUDE = 0x80000000;

// ---- symbols: st_info = bind << 4 | type, st_other & 3 = visibility
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;

// ---- BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def)
export const R_BPF_NONE = 0;
/** `lddw` of a map or global: 64-bit immediate split over the two slots. */
export const R_BPF_64_64 = 1;
/** 64-bit absolute data (DWARF, pointers in .data). */
export const R_BPF_64_ABS64 = 2;
/** 32-bit absolute data (DWARF). */
export const R_BPF_64_ABS32 = 3;
/** 32-bit data that a dynamic loader must not touch (.BTF, .BTF.ext). */
export const R_BPF_64_NODYLD32 = 4;
/** `call` immediate: a bpf-to-bpf call or a call to an extern function. */
export const R_BPF_64_32 = 10;

const SECTION_TYPE_NAMES: Readonly<Record<number, string>> = {
  [SHT_NULL]: "NULL",
  [SHT_PROGBITS]: "PROGBITS",
  [SHT_SYMTAB]: "SYMTAB",
  [SHT_STRTAB]: "STRTAB",
  [SHT_RELA]: "RELA",
  [SHT_HASH]: "HASH",
  [SHT_DYNAMIC]: "DYNAMIC",
  [SHT_NOTE]: "NOTE",
  [SHT_NOBITS]: "NOBITS",
  [SHT_REL]: "REL",
  [SHT_SHLIB]: "SHLIB",
  [SHT_DYNSYM]: "DYNSYM",
  [SHT_INIT_ARRAY]: "INIT_ARRAY",
  [SHT_FINI_ARRAY]: "FINI_ARRAY",
  [SHT_PREINIT_ARRAY]: "PREINIT_ARRAY",
  [SHT_GROUP]: "GROUP",
  [SHT_SYMTAB_SHNDX]: "SYMTAB SECTION INDICES",
  [SHT_LLVM_ADDRSIG]: "LLVM_ADDRSIG",
};

/** The `Type` column of `llvm-readelf -S` for a section type (hex for unknown ones). */
export function sectionTypeName(type: number): string {
  return SECTION_TYPE_NAMES[type] ?? `0x${type.toString(16)}`;
}

const SYMBOL_TYPE_NAMES = ["NOTYPE", "OBJECT", "FUNC", "SECTION", "FILE", "COMMON", "TLS"] as const;
const SYMBOL_BIND_NAMES = ["LOCAL", "GLOBAL", "WEAK"] as const;
const VISIBILITY_NAMES = ["DEFAULT", "INTERNAL", "HIDDEN", "PROTECTED"] as const;

/** The `Type` column of `llvm-readelf -s` (`NOTYPE`, `FUNC`, ...; a number when unnamed). */
export function symbolTypeName(type: number): string {
  return SYMBOL_TYPE_NAMES[type] ?? `${type}`;
}

/** The `Bind` column of `llvm-readelf -s` (`LOCAL`, `GLOBAL`, `WEAK`; a number when unnamed). */
export function symbolBindName(bind: number): string {
  return SYMBOL_BIND_NAMES[bind] ?? `${bind}`;
}

/** The `Vis` column of `llvm-readelf -s`. */
export function visibilityName(visibility: number): string {
  return VISIBILITY_NAMES[visibility & 3];
}

const BPF_RELOCATION_NAMES: Readonly<Record<number, string>> = {
  [R_BPF_NONE]: "R_BPF_NONE",
  [R_BPF_64_64]: "R_BPF_64_64",
  [R_BPF_64_ABS64]: "R_BPF_64_ABS64",
  [R_BPF_64_ABS32]: "R_BPF_64_ABS32",
  [R_BPF_64_NODYLD32]: "R_BPF_64_NODYLD32",
  [R_BPF_64_32]: "R_BPF_64_32",
};

/** The name llvm-readelf prints for relocation `type` of `machine`; decimal when tsbpf has no name for it. */
export function relocationTypeName(machine: number, type: number): string {
  if (machine === EM_BPF) return BPF_RELOCATION_NAMES[type] ?? `${type}`;
  return `${type}`;
}
