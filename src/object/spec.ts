/**
 * The deterministic result of reading a BPF object, as cilium/ebpf's CollectionSpec: programs
 * and maps described, nothing created. Reading the same file anywhere gives the same specs;
 * everything that depends on a kernel (map handles, addresses, kfunc BTF ids of a target) is
 * decided later, when the runtime instantiates them.
 *
 * Map references inside program instructions use the kernel's fd_array convention: an LD_IMM64
 * with src BPF_PSEUDO_MAP_IDX (imm = index into {@link ObjectSpec.maps}) loads the map, and
 * BPF_PSEUDO_MAP_IDX_VALUE (imm = index, second imm = byte offset) the address of a byte of its
 * value (global data). Kfunc calls carry src BPF_PSEUDO_KFUNC_CALL and imm = an id that
 * {@link ProgramSpec.kfuncs} maps to the kfunc's name.
 */
import type { Btf } from "../btf/btf.ts";
import type { DecodedProgram } from "../isa/insn.ts";

/** A map as the object declares it (BTF `.maps`, legacy `maps`, or a global-data section). */
export interface MapSpec {
  /** Name as libbpf gives it: the variable name, or `.data`, `.rodata`, `.bss`, `.rodata.str1.1` ... */
  readonly name: string;
  /** BPF_MAP_TYPE_* */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** BPF_F_* map flags. */
  readonly flags: number;
  /** LIBBPF_PIN_* */
  readonly pinning: number;
  /** NUMA node to allocate on, used by the kernel only with BPF_F_NUMA_NODE (absent means 0). */
  readonly numaNode?: number;
  /** map_extra (bloom filter hashes, arena address ...). */
  readonly mapExtra: bigint;
  /** BTF type ids of key and value in the object's BTF (0 when unknown). */
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  /** For array_of_maps / hash_of_maps: the inner map's template. */
  readonly innerMap: MapSpec | null;
  /** Initial contents: global data bytes, or `.maps` initialisers of prog arrays and map-in-maps. */
  readonly contents: readonly MapContent[];
  /** For global-data maps: which ELF section they come from ("" otherwise). */
  readonly section: string;
}

/** One initial map entry: raw key and value, or a reference to a program or map by name. */
export type MapContent =
  | { readonly kind: "bytes"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: "program"; readonly key: Uint8Array; readonly program: string }
  | { readonly kind: "map"; readonly key: Uint8Array; readonly map: string };

/** One function inside a program's instructions (the main program is the first). */
export interface FunctionSpec {
  readonly name: string;
  /** First slot in {@link ProgramSpec.insns}. */
  readonly start: number;
  /** Number of slots. */
  readonly length: number;
  /** BTF linkage: static, global or extern (from BTF FUNC), or "static" when there is no BTF. */
  readonly linkage: "static" | "global" | "extern";
  /** BTF FUNC type id in the object's BTF, 0 when unknown. */
  readonly btfTypeId: number;
}

/** Source position of an instruction, from BTF.ext line_info. */
export interface LineInfo {
  /** Slot in {@link ProgramSpec.insns}. */
  readonly insn: number;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The source line's text as recorded in BTF. */
  readonly text: string;
}

/** A program as libbpf would load it: main function plus the subprograms it calls, appended. */
export interface ProgramSpec {
  /** The function symbol's name (`bpftool prog` shows it truncated to 15 chars; we keep it whole). */
  readonly name: string;
  /** The ELF section it came from (its SEC() name, without libbpf's `?` prefix: see `autoload`). */
  readonly section: string;
  /** BPF_PROG_TYPE_* derived from the section name as libbpf does. */
  readonly type: number;
  /** BPF_* attach type libbpf derives (0 when none). */
  readonly expectedAttachType: number;
  /** For fentry/fexit/lsm... the attach target after the section prefix ("" otherwise). */
  readonly attachTo: string;
  /** False for `SEC("?...")` programs (libbpf does not autoload them). */
  readonly autoload: boolean;
  /** BPF_PROG_LOAD prog_flags the section implies (BPF_F_SLEEPABLE for `.s` sections, BPF_F_XDP_HAS_FRAGS for `xdp.frags`). */
  readonly flags: number;
  /** Relocated instructions: main, then the appended subprograms. */
  readonly insns: DecodedProgram;
  readonly functions: readonly FunctionSpec[];
  /** line_info of every instruction that has one, sorted by slot. */
  readonly lineInfo: readonly LineInfo[];
  /** Indexes into {@link ObjectSpec.maps} this program references. */
  readonly maps: readonly number[];
  /** Kfunc ids used by call instructions → kfunc names (`bpf_throw` ...). */
  readonly kfuncs: ReadonlyMap<number, string>;
  /** Helper ids called. */
  readonly helpers: readonly number[];
  /** BTF decl tags on the main function (`exception_callback:my_cb` ...). */
  readonly declTags: readonly string[];
  readonly license: string;
  readonly kernelVersion: number;
}

/** Everything an object file declares. */
export interface ObjectSpec {
  /** libbpf's object name: the file's base name up to its first `.`, at most 15 chars ("" when unknown). */
  readonly name: string;
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly license: string;
  readonly kernelVersion: number;
  /**
   * `.ksyms` externs that ld_imm64 loads (BPF_PSEUDO_BTF_ID, imm = index here): kernel variables,
   * and kfuncs whose address is taken (`bpf_ksym_exists`); kfunc calls use {@link ProgramSpec.kfuncs}.
   */
  readonly ksyms: readonly string[];
  /**
   * The object's BTF as libbpf hands it to the kernel (DATASEC sizes and offsets fixed up), or
   * null when the object has none: func_info types, decl tags, map layouts, bpf_obj_new types.
   */
  readonly btf: Btf | null;
}
