/**
 * The first stage of loading an object: sorting its ELF sections into what libbpf cares about
 * (programs, maps, global data, BTF, relocations) and collecting the relocations of program
 * code, as libbpf's `bpf_object__elf_collect`, `bpf_object__add_programs`,
 * `bpf_object__collect_prog_relos` and `bpf_program__record_reloc` (src/libbpf.c) do.
 *
 * Differences from libbpf, all deliberate: both byte orders are read (libbpf refuses an object
 * whose byte order is not the host's); the legacy `maps` section is read as libbpf did before
 * v1.0; relocation types are checked (R_BPF_64_64 on ld_imm64, R_BPF_64_32 on calls) where
 * libbpf ignores them; an ld_imm64 relocation in a program's last slot is an error where libbpf
 * would write past the program; `.struct_ops` map sections are refused (not supported yet).
 * Every problem is a LoadError naming the section and slot.
 */
import {
  EM_BPF,
  EM_NONE,
  ET_REL,
  R_BPF_64_32,
  R_BPF_64_64,
  relocationTypeName,
  SHF_EXECINSTR,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_LLVM_ADDRSIG,
  SHT_NOBITS,
  SHT_NULL,
  SHT_PROGBITS,
  SHT_REL,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_NOTYPE,
  STT_SECTION,
  STV_HIDDEN,
  STV_INTERNAL,
} from "../elf/constants.ts";
import type { ElfFile, ElfSection, ElfSymbol } from "../elf/reader.ts";
import { LoadError } from "../errors.ts";
import { type DecodedProgram, decodeProgram, INSN_SIZE } from "../isa/insn.ts";
import { BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL } from "../isa/opcodes.ts";
import type { ElfProgram, Extern, MapDraft, ObjectState, Relo } from "./internal.ts";

/** `BPF_JMP | BPF_CALL`: the only call libbpf relocates. */
const CALL = 0x85;
/** `BPF_LD | BPF_IMM | BPF_DW`: ld_imm64. */
const LD_IMM64 = 0x18;

/** What `collectSections` finds besides the state it starts. */
export interface Collected {
  readonly state: Omit<ObjectState, "btf">;
  readonly btfSection: ElfSection | null;
  readonly btfExtSection: ElfSection | null;
}

const latin1 = new TextDecoder("latin1");

/** libbpf's `ignore_elf_section`: string tables, address-significance tables, DWARF and BTF relocations. */
function ignored(s: ElfSection): boolean {
  if (s.type === SHT_STRTAB || s.type === SHT_LLVM_ADDRSIG) return true;
  if (s.type === SHT_PROGBITS && s.size === 0 && s.name === ".text") return true;
  if (s.name.startsWith(".debug_")) return true;
  if (s.name.startsWith(".rel")) {
    const target = s.name.slice(4);
    if (target.startsWith(".debug_") || target === ".BTF" || target === ".BTF.ext") return true;
  }
  return false;
}

/** The text of the `license` section: up to the first NUL, at most 63 bytes (libbpf's `char license[64]`). */
function readLicense(s: ElfSection): string {
  if (s.type === SHT_NOBITS || s.type === SHT_NULL) {
    throw new LoadError("invalid license section (it has no data)", { section: s.label });
  }
  const data = s.data();
  let end = data.indexOf(0);
  if (end < 0) end = data.length;
  return latin1.decode(data.subarray(0, Math.min(end, 63)));
}

/** The `version` section: exactly one u32 (libbpf's `bpf_object__init_kversion`). */
function readVersion(s: ElfSection, bigEndian: boolean): number {
  const data = s.data();
  if (data.length !== 4) {
    throw new LoadError(`invalid kernel version section: ${data.length} bytes, expected 4`, { section: s.label });
  }
  return new DataView(data.buffer, data.byteOffset, 4).getUint32(0, !bigEndian);
}

/** A copy of `count` slots of `section` from slot `first`. */
function sliceProgram(code: DecodedProgram, first: number, count: number): DecodedProgram {
  return {
    length: count,
    code: code.code.slice(first, first + count),
    dst: code.dst.slice(first, first + count),
    src: code.src.slice(first, first + count),
    off: code.off.slice(first, first + count),
    imm: code.imm.slice(first, first + count),
  };
}

/** The STT_FUNC symbols of each section, in symbol-table order. */
function functionsBySection(elf: ElfFile): Map<number, ElfSymbol[]> {
  const out = new Map<number, ElfSymbol[]>();
  for (const sym of elf.symbols) {
    if (sym.type !== STT_FUNC) continue;
    const list = out.get(sym.shndx);
    if (list === undefined) out.set(sym.shndx, [sym]);
    else list.push(sym);
  }
  return out;
}

/** libbpf's `bpf_object__add_programs`: one program per STT_FUNC symbol of an executable section. */
function addPrograms(
  elf: ElfFile,
  s: ElfSection,
  syms: readonly ElfSymbol[],
  isText: boolean,
  out: ElfProgram[],
): void {
  const data = s.data();
  // libbpf checks the functions, not the section: a ragged tail only matters if one covers it
  const code = decodeProgram(data.subarray(0, data.length - (data.length % INSN_SIZE)), { bigEndian: elf.bigEndian });
  for (const sym of syms) {
    const where = { section: s.label };
    if (sym.value + sym.size > data.length) {
      throw new LoadError(`program '${sym.name}' at offset ${sym.value} crosses the section boundary`, where);
    }
    if (!isText && sym.bind === STB_LOCAL) {
      throw new LoadError(`program '${sym.name}' is static and not supported`, where);
    }
    if (sym.size === 0 || sym.size % INSN_SIZE !== 0 || sym.value % INSN_SIZE !== 0) {
      throw new LoadError(`corrupted program '${sym.name}', offset ${sym.value}, size ${sym.size}`, where);
    }
    const global = sym.bind !== STB_LOCAL;
    out.push({
      name: sym.name,
      secIdx: s.index,
      secName: s.name,
      insnOff: sym.value / INSN_SIZE,
      insnCnt: sym.size / INSN_SIZE,
      insns: sliceProgram(code, sym.value / INSN_SIZE, sym.size / INSN_SIZE),
      global,
      hidden: global && (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL),
      relos: [],
    });
  }
}

/**
 * libbpf's `bpf_object__elf_init` checks and `bpf_object__elf_collect`: classifies every section
 * and reads the programs, the license and the kernel version.
 */
export function collectSections(elf: ElfFile): Collected {
  if (elf.type !== ET_REL || (elf.machine !== EM_NONE && elf.machine !== EM_BPF)) {
    throw new LoadError(`not a BPF object file (e_type ${elf.type}, e_machine ${elf.machine})`);
  }
  const symtabs = elf.sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length === 0) throw new LoadError("no symbol table (stripped object file?)");
  if (symtabs.length > 1) throw new LoadError("multiple symbol tables");

  let license = "";
  let kernelVersion = 0;
  let textShndx = 0;
  let btfMapsShndx = -1;
  let legacyMapsShndx = -1;
  let btfSection: ElfSection | null = null;
  let btfExtSection: ElfSection | null = null;
  const dataSections = new Map<number, { kind: "data" | "rodata" | "bss"; section: ElfSection }>();
  const relSections: ElfSection[] = [];
  const programs: ElfProgram[] = [];
  const functions = functionsBySection(elf);

  for (const s of elf.sections) {
    if (s.index === 0 || ignored(s)) continue;
    const name = s.name;
    const size = s.data().length;
    if (name === "license") license = readLicense(s);
    else if (name === "version") kernelVersion = readVersion(s, elf.bigEndian);
    else if (name === "maps") legacyMapsShndx = s.index;
    else if (name === ".maps") btfMapsShndx = s.index;
    else if (name === ".BTF" || name === ".BTF.ext") {
      if (s.type !== SHT_PROGBITS) throw new LoadError("BTF section is not SHT_PROGBITS", { section: s.label });
      if (name === ".BTF") btfSection = s;
      else btfExtSection = s;
    } else if (s.type === SHT_SYMTAB) {
      // the symbol table: ElfFile reads it
    } else if (s.type === SHT_PROGBITS && size > 0) {
      if (s.flags & SHF_EXECINSTR) {
        if (name === ".text") textShndx = s.index;
        addPrograms(elf, s, functions.get(s.index) ?? [], name === ".text", programs);
      } else if (name === ".data" || name.startsWith(".data.")) {
        dataSections.set(s.index, { kind: "data", section: s });
      } else if (name === ".rodata" || name.startsWith(".rodata.")) {
        dataSections.set(s.index, { kind: "rodata", section: s });
      } else if (name === ".struct_ops" || name === ".struct_ops.link") {
        // libbpf makes a BPF_MAP_TYPE_STRUCT_OPS map per variable; refuse rather than drop them
        throw new LoadError("struct_ops maps are not supported", { section: s.label });
      }
      // other data sections are skipped, as libbpf skips them
    } else if (s.type === SHT_REL) {
      const target = elf.section(s.info);
      if (target.flags & SHF_EXECINSTR || name === ".rel.maps") relSections.push(s);
    } else if (s.type === SHT_NOBITS && (name === ".bss" || name.startsWith(".bss."))) {
      dataSections.set(s.index, { kind: "bss", section: s });
    }
  }
  programs.sort((a, b) => a.secIdx - b.secIdx || a.insnOff - b.insnOff);
  return {
    state: {
      elf,
      bigEndian: elf.bigEndian,
      textShndx,
      btfMapsShndx,
      legacyMapsShndx,
      dataSections,
      relSections,
      programs,
      license,
      kernelVersion,
    },
    btfSection,
    btfExtSection,
  };
}

/** libbpf's `find_prog_by_sec_insn`: the program of section `secIdx` that contains slot `insn`. */
export function findProgram(state: Omit<ObjectState, "btf">, secIdx: number, insn: number): ElfProgram | undefined {
  const progs = state.programs;
  let l = 0;
  let r = progs.length - 1;
  if (r < 0) return undefined;
  while (l < r) {
    const m = l + Math.ceil((r - l) / 2);
    const p = progs[m];
    if (p.secIdx < secIdx || (p.secIdx === secIdx && p.insnOff <= insn)) l = m;
    else r = m - 1;
  }
  const p = progs[l];
  return p.secIdx === secIdx && insn >= p.insnOff && insn < p.insnOff + p.insnCnt ? p : undefined;
}

/** libbpf's `sym_is_extern`: an undefined global or weak symbol without a type. */
export function symIsExtern(sym: ElfSymbol): boolean {
  return sym.shndx === SHN_UNDEF && (sym.bind === STB_GLOBAL || sym.bind === STB_WEAK) && sym.type === STT_NOTYPE;
}

/** libbpf's `sym_is_subprog`: a `.text` section symbol (static functions) or global function. */
function symIsSubprog(sym: ElfSymbol, textShndx: number): boolean {
  if (sym.shndx !== textShndx) return false;
  if (sym.bind === STB_LOCAL && sym.type === STT_SECTION) return true;
  return sym.bind === STB_GLOBAL && sym.type === STT_FUNC;
}

/** How a relocation's symbol is named in messages (the section name for a section symbol). */
function symbolLabel(sym: ElfSymbol): string {
  if (sym.type === STT_SECTION && sym.name === "") return sym.sectionName;
  return sym.name;
}

/**
 * libbpf's `bpf_program__record_reloc`: what the relocation of slot `insn` of `prog` (against
 * `sym`, type `rtype`) means. `maps` and `externs` are the object's, already collected.
 */
function recordReloc(
  state: Omit<ObjectState, "btf">,
  prog: ElfProgram,
  insn: number,
  sym: ElfSymbol,
  rtype: number,
  index: RelocIndex,
): Relo {
  const where = { section: prog.secName, insn: prog.insnOff + insn };
  const code = prog.insns.code[insn];
  const name = symbolLabel(sym);
  const fail = (message: string): never => {
    throw new LoadError(`program '${prog.name}': ${message}`, where);
  };
  if (code !== CALL && code !== LD_IMM64) fail(`relocation against '${name}' on insn code 0x${code.toString(16)}`);
  const wanted = code === CALL ? R_BPF_64_32 : R_BPF_64_64;
  if (rtype !== wanted) {
    fail(
      `relocation type ${relocationTypeName(EM_BPF, rtype)} on ${code === CALL ? "a call" : "ld_imm64"} (expected ${relocationTypeName(EM_BPF, wanted)})`,
    );
  }
  if (code === LD_IMM64 && insn + 1 >= prog.insnCnt) fail(`ld_imm64 against '${name}' is missing its second slot`);

  if (symIsExtern(sym)) {
    const ext = index.externBySymbol.get(sym.index) ?? -1;
    if (ext < 0) fail(`extern relocation: no extern for '${name}' (symbol ${sym.index})`);
    return code === CALL ? { kind: "externCall", insn, ext } : { kind: "externLd64", insn, ext };
  }
  if (code === CALL) {
    if (prog.insns.src[insn] !== BPF_PSEUDO_CALL)
      fail(`relocation against '${name}' on a call that is not a bpf-to-bpf call`);
    if (sym.shndx === 0 || sym.shndx !== state.textShndx) {
      fail(`bad call relocation against '${name}' in section '${sym.sectionName}' (calls must go to .text)`);
    }
    if (sym.value % INSN_SIZE !== 0) fail(`bad call relocation against '${name}' at offset ${sym.value}`);
    return { kind: "call", insn, symOff: sym.value };
  }
  if (sym.shndx === SHN_UNDEF || sym.shndx >= SHN_LORESERVE) {
    fail(`relocation against '${name}' in special section 0x${sym.shndx.toString(16)}`);
  }
  if (symIsSubprog(sym, state.textShndx)) {
    const imm = prog.insns.imm[insn];
    if (sym.value % INSN_SIZE !== 0 || imm % INSN_SIZE !== 0) {
      fail(`bad subprogram address relocation against '${name}' at offset ${sym.value}+${imm}`);
    }
    return { kind: "subprogAddr", insn, symOff: sym.value };
  }
  const data = state.dataSections.get(sym.shndx);
  if (data === undefined) {
    if (sym.shndx !== state.btfMapsShndx && sym.shndx !== state.legacyMapsShndx) {
      fail(`bad map relocation against '${name}' in section '${sym.sectionName}'`);
    }
    const map = index.mapByDefinition.get(`${sym.shndx}:${sym.value}`) ?? -1;
    if (map < 0) fail(`no map in section '${sym.sectionName}' at offset ${sym.value}`);
    return { kind: "map", insn, map };
  }
  const map = index.dataMapBySection.get(sym.shndx) ?? -1;
  if (map < 0) fail(`no global-data map for section '${sym.sectionName}'`);
  return { kind: "data", insn, map, symOff: sym.value };
}

/** What relocations are resolved against, indexed (libbpf searches linearly). */
interface RelocIndex {
  /** Extern index by symbol index. */
  readonly externBySymbol: ReadonlyMap<number, number>;
  /** BTF or legacy map index by "section:offset" of its definition (the first such map). */
  readonly mapByDefinition: ReadonlyMap<string, number>;
  /** Global-data map index by section index (the first such map). */
  readonly dataMapBySection: ReadonlyMap<number, number>;
}

function relocIndex(maps: readonly MapDraft[], externs: readonly Extern[]): RelocIndex {
  const externBySymbol = new Map<number, number>();
  externs.forEach((e, i) => {
    if (!externBySymbol.has(e.symIndex)) externBySymbol.set(e.symIndex, i);
  });
  const mapByDefinition = new Map<string, number>();
  const dataMapBySection = new Map<number, number>();
  maps.forEach((m, i) => {
    if (m.origin === "btf" || m.origin === "legacy") {
      const key = `${m.secIdx}:${m.secOffset}`;
      if (!mapByDefinition.has(key)) mapByDefinition.set(key, i);
    } else if (m.origin !== "kconfig" && !dataMapBySection.has(m.secIdx)) dataMapBySection.set(m.secIdx, i);
  });
  return { externBySymbol, mapByDefinition, dataMapBySection };
}

/**
 * libbpf's `bpf_object__collect_prog_relos` for every REL section of program code: attaches
 * each relocation to the program containing its slot (skipping slots outside any program, as
 * libbpf does for overridden weak functions), then sorts each program's relocations by slot.
 */
export function collectProgramRelos(
  state: Omit<ObjectState, "btf">,
  maps: readonly MapDraft[],
  externs: readonly Extern[],
): void {
  const elf = state.elf;
  const index = relocIndex(maps, externs);
  for (const rel of state.relSections) {
    if (rel.info === state.btfMapsShndx) continue;
    const target = elf.section(rel.info);
    const size = target.data().length;
    for (const r of elf.relocations(rel)) {
      if (r.kind !== "rel") continue;
      const sym = r.symbol;
      if (sym.shndx >= elf.sections.length) {
        throw new LoadError(`relocation against symbol ${sym.index} with invalid section index ${sym.shndx}`, {
          section: rel.label,
        });
      }
      if (r.offset % INSN_SIZE !== 0 || r.offset >= size) {
        throw new LoadError(`invalid relocation offset 0x${r.offset.toString(16)}`, {
          section: target.label,
          insn: Math.floor(r.offset / INSN_SIZE),
        });
      }
      const slot = r.offset / INSN_SIZE;
      const prog = findProgram(state, rel.info, slot);
      if (prog === undefined) continue;
      prog.relos.push(recordReloc(state, prog, slot - prog.insnOff, sym, r.type, index));
    }
  }
  for (const p of state.programs) {
    p.relos.sort((a, b) => a.insn - b.insn);
    checkUnrelocatedReferences(p);
  }
}

/**
 * References to maps, kernel objects or kfuncs that no relocation fills in: clang never emits
 * them, and the spec's indexes would point nowhere. (libbpf passes them to the kernel as they
 * are, where a map "fd" or BTF id in the file is meaningless.) Local calls (src
 * BPF_PSEUDO_CALL) need no relocation; callback addresses without one are reported when linking.
 * A relocation of the second slot of an ld_imm64 is refused too: that slot is no instruction.
 */
function checkUnrelocatedReferences(p: ElfProgram): void {
  let r = 0;
  for (let i = 0; i < p.insnCnt; i++) {
    while (r < p.relos.length && p.relos[r].insn < i) r++;
    const relocated = r < p.relos.length && p.relos[r].insn === i;
    const code = p.insns.code[i];
    const src = p.insns.src[i];
    const where = { section: p.secName, insn: p.insnOff + i };
    if (code === LD_IMM64) {
      if (!relocated && src !== 0 && src !== 4) {
        throw new LoadError(`program '${p.name}': ld_imm64 with src ${src} but no relocation`, where);
      }
      i++;
      if (r + 1 < p.relos.length && p.relos[r + 1].insn === i) {
        throw new LoadError(`program '${p.name}': relocation on the second slot of an ld_imm64`, {
          section: p.secName,
          insn: p.insnOff + i,
        });
      }
    } else if (code === CALL && (src > BPF_PSEUDO_KFUNC_CALL || (src === BPF_PSEUDO_KFUNC_CALL && !relocated))) {
      throw new LoadError(`program '${p.name}': call with src ${src} but no relocation`, where);
    }
  }
}
