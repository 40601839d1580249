/**
 * What the loader reads from an object's BTF beyond plain lookups: DATASECs completed with the
 * sizes and offsets clang leaves at zero (libbpf's `btf_fixup_datasec`), type alignment
 * (`btf__align_of`) and the kinds of `.kconfig` values (`find_kcfg_type`).
 *
 * libbpf patches the BTF in place; tsbpf's `Btf` is immutable, so the fixed-up DATASECs are a
 * separate view keyed by type id. `.kconfig` and `.ksyms` are laid out by externs.ts instead,
 * as `bpf_object__collect_externs` does before the fixup runs.
 */
import type { Btf } from "../btf/btf.ts";
import type { BtfType } from "../btf/types.ts";
import { STB_GLOBAL, STB_WEAK, STT_OBJECT, STV_HIDDEN, STV_INTERNAL } from "../elf/constants.ts";
import type { ElfFile, ElfSymbol } from "../elf/reader.ts";
import { LoadError } from "../errors.ts";
import type { Datasec, DatasecVar } from "./internal.ts";

/** libbpf's `find_elf_var_sym` for every name at once: the first global or weak STT_OBJECT symbol of each. */
function varSymbols(elf: ElfFile): Map<string, ElfSymbol> {
  const out = new Map<string, ElfSymbol>();
  for (const s of elf.symbols) {
    if (s.type === STT_OBJECT && (s.bind === STB_GLOBAL || s.bind === STB_WEAK) && !out.has(s.name)) out.set(s.name, s);
  }
  return out;
}

/** The size of the first ELF section called `name` (its memory size for SHT_NOBITS), or 0. */
function elfSectionSize(elf: ElfFile, name: string): number {
  const s = elf.sectionByName(name);
  return s === undefined ? 0 : s.size;
}

/**
 * libbpf's `bpf_object_fixup_btf`: every DATASEC other than `.kconfig`/`.ksyms`, with its size
 * taken from the ELF section of the same name when BTF says 0 (then each global variable's
 * offset from its symbol), hidden globals made static, and variables sorted by offset.
 */
export function fixupDatasecs(btf: Btf, elf: ElfFile): Map<number, Datasec> {
  const out = new Map<number, Datasec>();
  let symbols: Map<string, ElfSymbol> | undefined;
  for (const t of btf.types) {
    if (t.kind !== "datasec") continue;
    const where = { section: ".BTF" };
    const externSec = t.name === ".kconfig" || t.name === ".ksyms";
    let size = t.size;
    let fixOffsets = false;
    if (!externSec && size === 0) {
      size = elfSectionSize(elf, t.name);
      if (size === 0) throw new LoadError(`DATASEC '${t.name}' [${t.id}]: no ELF section gives its size`, where);
      fixOffsets = true;
    }
    const vars: DatasecVar[] = [];
    for (const vi of t.vars) {
      const v = btf.type(vi.type);
      // collect_externs makes every .kconfig variable an allocated global
      let linkage = t.name === ".kconfig" ? "global" : v.kind === "var" || v.kind === "func" ? v.linkage : "static";
      let offset = vi.offset;
      if (!externSec) {
        if (v.kind !== "var") {
          throw new LoadError(`DATASEC '${t.name}' [${t.id}]: member [${vi.type}] is a ${v.kind}, not a VAR`, where);
        }
        if (v.linkage === "global") {
          symbols ??= varSymbols(elf);
          const sym = symbols.get(v.name);
          if (sym === undefined) {
            throw new LoadError(`DATASEC '${t.name}': no ELF symbol for variable '${v.name}'`, where);
          }
          if (fixOffsets) offset = sym.value;
          if (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL) linkage = "static";
        }
      }
      vars.push({ type: vi.type, offset, size: vi.size, linkage, name: v.name });
    }
    vars.sort((a, b) => a.offset - b.offset);
    out.set(t.id, { id: t.id, name: t.name, size, vars });
  }
  return out;
}

/** The first DATASEC called `name` in the fixed-up view, if any. */
export function datasecByName(datasecs: ReadonlyMap<number, Datasec>, name: string): Datasec | undefined {
  for (const d of datasecs.values()) if (d.name === name) return d;
  return undefined;
}

/** libbpf's `btf__align_of`: the alignment of type `id`, 0 when it has none. */
export function alignOf(btf: Btf, id: number, depth = 0): number {
  if (depth > 32) return 0;
  const t: BtfType = btf.type(id);
  switch (t.kind) {
    case "int":
    case "enum":
    case "enum64":
    case "float":
      return Math.min(btf.pointerSize, t.size);
    case "ptr":
      return btf.pointerSize;
    case "typedef":
    case "volatile":
    case "const":
    case "restrict":
    case "type_tag":
      return alignOf(btf, t.type, depth + 1);
    case "array":
      return alignOf(btf, t.type, depth + 1);
    case "struct":
    case "union": {
      let max = 1;
      for (const m of t.members) {
        const a = alignOf(btf, m.type, depth + 1);
        if (a <= 0) return 0;
        if (m.bitSize === 0 && m.bitOffset % (8 * a) !== 0) return 1; // packed
        max = Math.max(max, a);
      }
      if (t.size % max !== 0) return 1;
      return max;
    }
    default:
      return 0;
  }
}

/** The value kinds a `.kconfig` extern may have (libbpf's `enum kcfg_type`). */
export type KcfgType = "unknown" | "char" | "bool" | "int" | "tristate" | "char_array";

/** libbpf's `find_kcfg_type`. */
export function kcfgType(btf: Btf, id: number, depth = 0): KcfgType {
  if (depth > 32) return "unknown";
  const t = btf.resolve(id);
  switch (t.kind) {
    case "int":
      if (t.encoding === "bool") return t.size === 1 ? "bool" : "unknown";
      if (t.size === 1) return "char";
      if (t.size < 1 || t.size > 8 || (t.size & (t.size - 1)) !== 0) return "unknown";
      return "int";
    case "enum":
      return t.size === 4 && t.name === "libbpf_tristate" ? "tristate" : "unknown";
    case "enum64":
      return t.name === "libbpf_tristate" ? "tristate" : "unknown";
    case "array":
      if (t.nelems === 0) return "unknown";
      return kcfgType(btf, t.type, depth + 1) === "char" ? "char_array" : "unknown";
    default:
      return "unknown";
  }
}
