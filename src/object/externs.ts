/**
 * Extern symbols: undefined globals that BTF places in `.kconfig` (values libbpf supplies at load
 * time, read through a `.kconfig` map) or `.ksyms` (kernel symbols: kfuncs, called through
 * BPF_PSEUDO_KFUNC_CALL, and variables, loaded through BPF_PSEUDO_BTF_ID).
 *
 * Mirrors libbpf's `bpf_object__collect_externs` (src/libbpf.c): which symbols are externs, how
 * their BTF is found and checked, the sort order (kconfig before ksyms; kconfig by alignment,
 * then size, then name; ksyms by name) and the layout of `.kconfig` values. Resolving them
 * against a kernel happens later, in the runtime; the ObjectSpec stays kernel-independent.
 */
import type { Btf } from "../btf/btf.ts";
import type { BtfType } from "../btf/types.ts";
import { STB_WEAK } from "../elf/constants.ts";
import type { ElfFile } from "../elf/reader.ts";
import { LoadError } from "../errors.ts";
import { alignOf, kcfgType } from "./btfinfo.ts";
import { symIsExtern } from "./collect.ts";
import type { Extern } from "./internal.ts";

/** libbpf's `find_extern_btf_id`: the first VAR or FUNC called `name`, which must be extern. */
function findExternType(btf: Btf, name: string): BtfType {
  for (const t of btf.findAllByName(name)) {
    if (t.kind !== "var" && t.kind !== "func") continue;
    if (t.linkage !== "extern") {
      throw new LoadError(`extern '${name}': BTF ${t.kind} [${t.id}] is not declared extern`, { section: ".BTF" });
    }
    return t;
  }
  throw new LoadError(`extern '${name}': no BTF VAR or FUNC describes it`, { section: ".BTF" });
}

/** libbpf's `find_extern_sec_btf_id` for every type at once: the name of the first DATASEC listing it. */
function datasecOfEachType(btf: Btf): Map<number, string> {
  const out = new Map<number, string>();
  for (const t of btf.types) {
    if (t.kind !== "datasec") continue;
    for (const v of t.vars) if (!out.has(v.type)) out.set(v.type, t.name);
  }
  return out;
}

/**
 * libbpf's `bpf_core_essential_name_len`: the name without a `___flavor` suffix, which is what
 * a kfunc is looked up by (`bpf_foo___v2` calls `bpf_foo`).
 */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== "_" && name[i + 1] === "_" && name[i + 2] === "_" && name[i + 3] === "_" && name[i + 4] !== "_") {
      return name.slice(0, i + 1);
    }
  }
  return name;
}

/** Byte-wise comparison, as C's strcmp on ASCII names. */
function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** libbpf's `cmp_externs`. */
function compareExterns(a: Extern, b: Extern): number {
  if (a.kind !== b.kind) return a.kind === "kcfg" ? -1 : 1;
  if (a.kind === "kcfg" && b.kind === "kcfg") {
    if (a.align !== b.align) return b.align - a.align;
    if (a.size !== b.size) return a.size - b.size;
  }
  return strcmp(a.name, b.name);
}

/** Rounds `n` up to a multiple of `align`. */
function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/**
 * Collects the object's externs, sorted as libbpf sorts them, with `.kconfig` offsets assigned.
 * An extern without BTF, in an unknown section, or of a kind libbpf cannot supply is a LoadError.
 */
export function collectExterns(elf: ElfFile, btf: Btf | null): Extern[] {
  const out: Extern[] = [];
  let sections: Map<number, string> | undefined;
  for (const sym of elf.symbols) {
    if (!symIsExtern(sym) || sym.name === "") continue;
    if (btf === null) throw new LoadError(`extern '${sym.name}' needs BTF, and the object has none`);
    const t = findExternType(btf, sym.name);
    if (t.kind !== "var" && t.kind !== "func") continue;
    const weak = sym.bind === STB_WEAK;
    sections ??= datasecOfEachType(btf);
    const sec = sections.get(t.id);
    if (sec === undefined) {
      throw new LoadError(`extern '${t.name}': no DATASEC contains BTF [${t.id}]`, { section: ".BTF" });
    }
    if (sec === ".kconfig") {
      if (t.kind === "func") throw new LoadError(`extern function '${t.name}' is not supported in .kconfig`);
      let size: number;
      try {
        size = btf.sizeOf(t.type);
      } catch (cause) {
        throw new LoadError(`extern (kconfig) '${t.name}': cannot size its type`, { section: ".BTF" }, { cause });
      }
      const align = alignOf(btf, t.type);
      if (size <= 0 || align <= 0) {
        throw new LoadError(`extern (kconfig) '${t.name}': size ${size} / alignment ${align} is invalid`);
      }
      if (kcfgType(btf, t.type) === "unknown") {
        throw new LoadError(`extern (kconfig) '${t.name}': its type is not supported`);
      }
      out.push({ kind: "kcfg", name: t.name, symIndex: sym.index, btfId: t.id, weak, size, align, offset: 0 });
    } else if (sec === ".ksyms") {
      out.push({ kind: "ksym", name: t.name, symIndex: sym.index, btfId: t.id, weak, func: t.kind === "func" });
    } else {
      throw new LoadError(`extern '${t.name}' is in section '${sec}', not .kconfig or .ksyms`);
    }
  }
  out.sort(compareExterns);

  // Every VAR/FUNC the extern DATASECs list must be one of the externs (libbpf: -ESRCH).
  if (btf !== null && out.length > 0) {
    for (const t of btf.types) {
      if (t.kind !== "datasec" || (t.name !== ".ksyms" && t.name !== ".kconfig")) continue;
      const names = new Set(out.map((e) => e.name));
      for (const v of t.vars) {
        const name = btf.type(v.type).name;
        if (!names.has(name)) {
          throw new LoadError(`${t.name}: no extern definition for BTF '${name}'`, { section: ".BTF" });
        }
      }
    }
  }
  let off = 0;
  for (const e of out) {
    if (e.kind !== "kcfg") continue;
    e.offset = roundUp(off, e.align);
    off = e.offset + e.size;
  }
  return out;
}

/** Size of the `.kconfig` map value: the end of the last kconfig extern (0 when there is none). */
export function kconfigSize(externs: readonly Extern[]): number {
  let last: Extern | undefined;
  for (const e of externs) if (e.kind === "kcfg") last = e;
  return last !== undefined && last.kind === "kcfg" ? last.offset + last.size : 0;
}
