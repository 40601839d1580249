/**
 * The loader's working model of an object between reading the ELF file and producing the
 * ObjectSpec: libbpf's `struct bpf_object`/`bpf_program`/`bpf_map`/`extern_desc`/`reloc_desc`
 * reduced to what tsbpf needs, as plain data shared by the loader's stages (collect.ts,
 * externs.ts, maps.ts, relocate.ts). Nothing here is exported from the package.
 */
import type { Btf } from "../btf/btf.ts";
import type { BtfLinkage } from "../btf/types.ts";
import type { ElfFile, ElfSection } from "../elf/reader.ts";
import type { DecodedProgram } from "../isa/insn.ts";
import type { MapContent } from "./spec.ts";

/** A function symbol of an executable section (libbpf's `struct bpf_program` at open time). */
export interface ElfProgram {
  readonly name: string;
  /** Section index and name as in the file (the name may start with `?`). */
  readonly secIdx: number;
  readonly secName: string;
  /** First slot of the function in its section (`sec_insn_off`) and its length (`sec_insn_cnt`). */
  readonly insnOff: number;
  readonly insnCnt: number;
  /** The function's own slots, as in the file except that subprogram-address loads get src BPF_PSEUDO_FUNC. */
  readonly insns: DecodedProgram;
  /** STB_GLOBAL or STB_WEAK (`sym_global`). */
  readonly global: boolean;
  /** Global but hidden/internal: libbpf marks its BTF FUNC static (`mark_btf_static`). */
  readonly hidden: boolean;
  /** Relocations, by slot index within the function, sorted (libbpf's `reloc_desc`). */
  readonly relos: Relo[];
}

/** One relocation of a program slot (libbpf's `enum reloc_type`, minus CO-RE). */
export type Relo =
  /** bpf-to-bpf call to `.text` at byte `symOff` plus the call's imm (RELO_CALL). */
  | { readonly kind: "call"; readonly insn: number; readonly symOff: number }
  /** ld_imm64 of a `.text` function's address, for callbacks (RELO_SUBPROG_ADDR). */
  | { readonly kind: "subprogAddr"; readonly insn: number; readonly symOff: number }
  /** ld_imm64 of a map (RELO_LD64): index into the object's maps. */
  | { readonly kind: "map"; readonly insn: number; readonly map: number }
  /** ld_imm64 of global data (RELO_DATA): map index and the symbol's offset in its section. */
  | { readonly kind: "data"; readonly insn: number; readonly map: number; readonly symOff: number }
  /** Call of a `.ksyms` function: a kfunc (RELO_EXTERN_CALL). */
  | { readonly kind: "externCall"; readonly insn: number; readonly ext: number }
  /** ld_imm64 of a `.ksyms` variable or a `.kconfig` value (RELO_EXTERN_LD64). */
  | { readonly kind: "externLd64"; readonly insn: number; readonly ext: number };

/** An undefined global symbol backed by BTF in `.kconfig` or `.ksyms` (libbpf's `extern_desc`). */
export type Extern =
  | {
      readonly kind: "kcfg";
      readonly name: string;
      readonly symIndex: number;
      readonly btfId: number;
      readonly weak: boolean;
      readonly size: number;
      readonly align: number;
      /** Offset of the value in the `.kconfig` map, assigned after sorting. */
      offset: number;
    }
  | {
      readonly kind: "ksym";
      readonly name: string;
      readonly symIndex: number;
      readonly btfId: number;
      readonly weak: boolean;
      /** A BTF FUNC (a kfunc) rather than a VAR. */
      readonly func: boolean;
    };

/** A DATASEC after libbpf's `btf_fixup_datasec`: sizes and offsets filled in from the ELF file. */
export interface Datasec {
  readonly id: number;
  readonly name: string;
  readonly size: number;
  /** Sorted by offset, as libbpf sorts them. */
  readonly vars: readonly DatasecVar[];
}

/** One variable of a fixed-up DATASEC. */
export interface DatasecVar {
  /** The VAR (or FUNC, in `.ksyms`) type id. */
  readonly type: number;
  readonly offset: number;
  readonly size: number;
  /** The VAR's linkage, with hidden globals turned static (FUNCs keep theirs). */
  readonly linkage: BtfLinkage;
  readonly name: string;
}

/** What kind of libbpf map a map is (`libbpf_type`, plus where user maps came from). */
export type MapOrigin = "btf" | "legacy" | "data" | "rodata" | "bss" | "kconfig";

/** A map being built: the MapSpec fields plus what relocations need to find it. */
export interface MapDraft {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  pinning: number;
  numaNode: number;
  mapExtra: bigint;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  inner: MapDraft | null;
  section: string;
  /** Initial contents of global-data maps (the section bytes, or zeros). */
  data: Uint8Array | null;
  /** `.maps` initial slots: slot index → program or map name. */
  readonly slots: Map<number, MapContent>;
  readonly origin: MapOrigin;
  readonly secIdx: number;
  /** Offset of the definition in its section (BTF and legacy maps), 0 otherwise. */
  readonly secOffset: number;
  /** Index of the VAR in the `.maps` DATASEC (BTF maps only). */
  readonly varIndex: number;
}

/** Everything the stages share: the ELF file, its BTF, and libbpf's section bookkeeping. */
export interface ObjectState {
  readonly elf: ElfFile;
  readonly bigEndian: boolean;
  readonly btf: Btf | null;
  /** libbpf's `efile.text_shndx` (0 when there is no non-empty executable `.text`). */
  readonly textShndx: number;
  /** Index of `.maps` (-1 when none) and of the legacy `maps` section (-1 when none). */
  readonly btfMapsShndx: number;
  readonly legacyMapsShndx: number;
  /** Global-data sections by index, with what they are. */
  readonly dataSections: ReadonlyMap<
    number,
    { readonly kind: "data" | "rodata" | "bss"; readonly section: ElfSection }
  >;
  /** REL sections to process, in table order (those of executable sections and of `.maps`). */
  readonly relSections: readonly ElfSection[];
  /** Programs sorted by (section index, slot), subprograms included (libbpf's `obj->programs`). */
  readonly programs: readonly ElfProgram[];
  readonly license: string;
  readonly kernelVersion: number;
}

/** libbpf's `prog_is_subprog`: a `.text` function, unless it is the object's only function. */
export function isSubprog(state: ObjectState, prog: ElfProgram): boolean {
  return prog.secIdx === state.textShndx && state.programs.length > 1;
}
