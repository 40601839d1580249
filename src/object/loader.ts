/**
 * `loadObjectSpec`: a BPF ELF object (as `clang -target bpf -c` makes it) read into an
 * ObjectSpec the way libbpf reads it, without a kernel: programs by section and function
 * symbol, subprograms appended and calls fixed, maps and global data numbered, externs turned
 * into kfunc and ksym references, func_info and line_info moved with the code.
 *
 * Pipeline, with libbpf's counterparts (`bpf_object_open` then `bpf_object__relocate` of
 * src/libbpf.c): sections and programs (collect.ts, `bpf_object__elf_collect`), BTF and
 * .BTF.ext (src/btf), externs (externs.ts, `bpf_object__collect_externs`), DATASEC fixups
 * (btfinfo.ts, `bpf_object_fixup_btf`), maps (maps.ts, `bpf_object__init_maps`), program types
 * (sections.ts, `bpf_object_init_progs`), relocations (collect.ts and maps.ts,
 * `bpf_object__collect_relos`), CO-RE (core.ts, `bpf_object__relocate_core`) and per program
 * linking (relocate.ts). Everything else that depends on a kernel — map fds, kfunc BTF ids,
 * kernel version, CPU count — is left to the runtime, so the same bytes (and target BTF) always
 * give the same spec.
 *
 * Every malformed input is reported as a TsbpfError: ElfError from the ELF reader, BtfError
 * from the BTF parser, LoadError (naming section and slot) from here. Deliberately stricter than
 * libbpf: a `.BTF` or `.BTF.ext` that does not parse is an error (libbpf drops them when it can
 * do without), and so is a program section libbpf does not know even before loading (libbpf
 * fails only when it loads the program; `?` programs, which it does not load, get type 0).
 * CO-RE relocations are applied against the target kernel's BTF given as `targetBtf`, the one
 * input that is not the object: an object that has them cannot be read without it, as libbpf
 * cannot load it without kernel BTF.
 */
import type { Btf } from "../btf/btf.ts";
import type { BtfExt } from "../btf/ext.ts";
import { parseBtfExt } from "../btf/ext.ts";
import { parseBtf } from "../btf/parse.ts";
import { readElf } from "../elf/reader.ts";
import { LoadError } from "../errors.ts";
import { fixupDatasecs } from "./btfinfo.ts";
import { collectProgramRelos, collectSections } from "./collect.ts";
import { relocateCore } from "./core.ts";
import { collectExterns, essentialName } from "./externs.ts";
import type { MapDraft, ObjectState } from "./internal.ts";
import { isSubprog } from "./internal.ts";
import { collectMapSlots, collectMaps } from "./maps.ts";
import { exceptionCallbackTags, type LinkContext, linkProgram, markPseudoFuncs } from "./relocate.ts";
import { type SectionInfo, sectionInfo } from "./sections.ts";
import type { MapContent, MapSpec, ObjectSpec } from "./spec.ts";

/** Options of {@link loadObjectSpec}. */
export interface LoadOptions {
  /** The object's file name: gives {@link ObjectSpec.name} as libbpf derives it. */
  readonly fileName?: string;
  /** Page size ring buffer sizes are rounded to (libbpf uses the host's; default 4096). */
  readonly pageSize?: number;
  /**
   * The target kernel's BTF, which CO-RE relocations are resolved against (libbpf's kernel BTF,
   * or its `btf_custom_path`). Required when the object has CO-RE relocations: without it such
   * an object is a LoadError, as libbpf fails ("failed to find valid kernel BTF") on a kernel
   * without BTF. The runtime passes the modelled kernel's (src/runtime/kernel-btf).
   */
  readonly targetBtf?: Btf;
}

/** BPF_OBJ_NAME_LEN: kernel object names hold 15 characters and a NUL. */
const BPF_OBJ_NAME_LEN = 16;

/**
 * libbpf's object name (`bpf_object__new`): the file's base name cut to 15 characters, then
 * at its first `.`.
 */
export function objectName(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf("/") + 1).slice(0, BPF_OBJ_NAME_LEN - 1);
  const dot = base.indexOf(".");
  return dot >= 0 ? base.slice(0, dot) : base;
}

/**
 * The name the kernel (and bpftool) gives a global-data map of section `section` in object
 * `objName` (libbpf's `internal_map_name`): as much of the object name as fits before the
 * section name, except for `.data.*`/`.rodata.*` sections which are used alone, cut to 15
 * characters, with characters the kernel refuses turned into `_`.
 */
export function internalMapName(objName: string, section: string): string {
  let sfxLen = Math.max(7, section.length);
  if (sfxLen >= BPF_OBJ_NAME_LEN) sfxLen = BPF_OBJ_NAME_LEN - 1;
  const pfxLen = section.indexOf(".", 1) >= 0 ? 0 : Math.min(BPF_OBJ_NAME_LEN - sfxLen - 1, objName.length);
  const name = objName.slice(0, pfxLen) + section.slice(0, sfxLen);
  return name.replace(/[^A-Za-z0-9_.]/g, "_");
}

function freezeMap(m: MapDraft): MapSpec {
  const contents: MapContent[] = [];
  if (m.data !== null) contents.push({ kind: "bytes", key: new Uint8Array(4), value: m.data });
  for (const slot of [...m.slots.keys()].sort((a, b) => a - b)) contents.push(m.slots.get(slot) as MapContent);
  return {
    name: m.name,
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags,
    pinning: m.pinning,
    numaNode: m.numaNode,
    mapExtra: m.mapExtra,
    btfKeyTypeId: m.btfKeyTypeId,
    btfValueTypeId: m.btfValueTypeId,
    innerMap: m.inner === null ? null : freezeMap(m.inner),
    contents,
    section: m.section,
  };
}

/**
 * Reads a BPF object file into an ObjectSpec, following libbpf (see the module comment).
 * Throws a TsbpfError subclass for anything libbpf would refuse or that is malformed.
 */
export function loadObjectSpec(bytes: Uint8Array, opts: LoadOptions = {}): ObjectSpec {
  const elf = readElf(bytes);
  const collected = collectSections(elf);
  let btf: Btf | null = null;
  let ext: BtfExt | null = null;
  if (collected.btfSection !== null) {
    btf = parseBtf(collected.btfSection.data(), { bigEndian: elf.bigEndian, section: ".BTF" });
    if (collected.btfExtSection !== null) {
      ext = parseBtfExt(collected.btfExtSection.data(), btf, { bigEndian: elf.bigEndian, section: ".BTF.ext" });
    }
  }
  const state: ObjectState = { ...collected.state, btf };
  const externs = collectExterns(elf, btf);
  const datasecs = btf !== null ? fixupDatasecs(btf, elf) : new Map();
  const maps = collectMaps(state, btf, datasecs, externs, opts.pageSize ?? 4096);

  // `.text` functions are never programs: libbpf would take a lone one as a program without a type
  const mains = state.programs.filter((p) => !isSubprog(state, p) && p.secIdx !== state.textShndx);
  const infos = new Map<(typeof mains)[number], SectionInfo>();
  for (const p of mains) {
    const info = sectionInfo(p.secName);
    if (info === null) {
      if (!p.secName.startsWith("?")) {
        throw new LoadError(`program '${p.name}': unknown section name, no BPF program type for it`, {
          section: p.secName,
        });
      }
      infos.set(p, {
        section: p.secName.slice(1),
        autoload: false,
        type: 0,
        expectedAttachType: 0,
        flags: 0,
        attachTo: "",
        attachBtf: false,
      });
    } else {
      infos.set(p, info);
    }
  }

  collectProgramRelos(state, maps, externs);
  collectMapSlots(state, maps, datasecs);
  // bpf_object__relocate: CO-RE first, on each function's own code, then calls and data.
  relocateCore(state, ext, opts.targetBtf);
  markPseudoFuncs(state.programs);

  // Kfuncs get ids for calls; variables, and kfuncs whose address is loaded (`bpf_ksym_exists`),
  // get a place in `ksyms` for BPF_PSEUDO_BTF_ID loads. Both in libbpf's extern order.
  const addressTaken = new Set<number>();
  for (const p of state.programs) for (const r of p.relos) if (r.kind === "externLd64") addressTaken.add(r.ext);
  const kfuncIds = new Map<number, number>();
  const ksymIndex = new Map<number, number>();
  const ksyms: string[] = [];
  externs.forEach((e, i) => {
    if (e.kind !== "ksym") return;
    if (e.func) kfuncIds.set(i, kfuncIds.size + 1);
    if (!e.func || addressTaken.has(i)) {
      ksymIndex.set(i, ksyms.length);
      ksyms.push(e.func ? essentialName(e.name) : e.name);
    }
  });
  const ctx: LinkContext = {
    state,
    ext,
    externs,
    kfuncIds,
    ksymIndex,
    kconfigMap: maps.findIndex((m) => m.origin === "kconfig"),
    exceptionTags: exceptionCallbackTags(btf),
  };
  const programs = mains.map((p) => linkProgram(ctx, p, infos.get(p) as SectionInfo));
  return {
    name: opts.fileName !== undefined ? objectName(opts.fileName) : "",
    programs,
    maps: maps.map(freezeMap),
    license: state.license,
    kernelVersion: state.kernelVersion,
    ksyms,
    btf,
  };
}
