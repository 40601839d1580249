/**
 * `Btf`: a parsed, validated set of BTF types with the queries the rest of tsbpf needs — lookup
 * by id and by name, skipping modifiers, sizing, decl tags — and nothing that depends on where
 * the BTF came from (an object's `.BTF`, the kernel's `/sys/kernel/btf/vmlinux`, a module's
 * split BTF). Built by `parseBtf` (parse.ts), which guarantees what the methods rely on: every
 * referenced id exists, and modifier/typedef/pointer chains have no loops.
 *
 * Counterparts: libbpf's `struct btf` with `btf__type_by_id`, `btf__find_by_name_kind`,
 * `btf__resolve_size`, `skip_mods_and_typedefs`; the kernel's `btf_type_by_id` and
 * `btf_type_skip_modifiers`.
 */
import { assertNever, BtfError } from "../errors.ts";
import { MAX_RESOLVE_DEPTH } from "./constants.ts";
import { formatBtfType } from "./format.ts";
import type { BtfStrings } from "./strings.ts";
import { type BtfKind, type BtfType, isModifierOrTypedef } from "./types.ts";

/** A decl tag attached to a type (or one of its members/parameters). */
export interface BtfDeclTagRef {
  /** The tag's string, e.g. `exception_callback:handler`. */
  readonly value: string;
  /** -1 for the type itself, else the member or parameter index. */
  readonly componentIdx: number;
  /** Id of the DECL_TAG type. */
  readonly tagId: number;
}

/** What `parseBtf` hands to the constructor. */
export interface BtfInit {
  readonly types: readonly BtfType[];
  readonly strings: BtfStrings;
  readonly bigEndian: boolean;
  readonly base: Btf | undefined;
  readonly section: string;
}

/** libbpf's spellings of `long` (`determine_ptr_size`): the pointer size is the size of this int. */
const LONG_ALIASES = new Set([
  "long",
  "long int",
  "int long",
  "unsigned long",
  "long unsigned",
  "unsigned long int",
  "unsigned int long",
  "long unsigned int",
  "long int unsigned",
  "int unsigned long",
  "int long unsigned",
]);

/** A validated BTF type graph (see the module comment); create it with `parseBtf`. */
export class Btf {
  /** All types by id: `types[0]` is void; for split BTF the base's types come first. */
  readonly types: readonly BtfType[];
  /** Byte order of the BTF it was parsed from. */
  readonly bigEndian: boolean;
  /** The base BTF of split BTF (a kernel module's BTF over vmlinux), or undefined. */
  readonly base: Btf | undefined;
  /** First id this BTF defines: 1, or the base's type count for split BTF. */
  readonly startId: number;
  /** The ELF section (or file) name used in error messages. */
  readonly section: string;
  readonly #strings: BtfStrings;
  #byName: Map<string, number[]> | undefined;
  #declTags: Map<number, BtfDeclTagRef[]> | undefined;
  #pointerSize = 0;

  constructor(init: BtfInit) {
    this.types = init.types;
    this.bigEndian = init.bigEndian;
    this.base = init.base;
    this.startId = init.base ? init.base.types.length : 1;
    this.section = init.section;
    this.#strings = init.strings;
  }

  /** Number of types including void (libbpf's `btf__type_cnt`). */
  get typeCount(): number {
    return this.types.length;
  }

  /** Length of the string section, including the base's for split BTF. */
  get stringsLength(): number {
    return this.#strings.length;
  }

  /** The type with id `id`; a BtfError when there is none. */
  type(id: number): BtfType {
    const t = Number.isInteger(id) ? this.types[id] : undefined;
    if (t === undefined) {
      throw new BtfError(`type id ${id} out of range (${this.types.length} types)`, {
        typeId: id,
        section: this.section,
      });
    }
    return t;
  }

  /** The name of type `id` ("" when anonymous). */
  name(id: number): string {
    return this.type(id).name;
  }

  /** The string at offset `off` of the string section (used by .BTF.ext and CO-RE access strings). */
  stringAt(off: number): string {
    try {
      return this.#strings.at(off);
    } catch (cause) {
      throw new BtfError(
        `string offset ${off} out of range (${this.#strings.length} bytes)`,
        { section: this.section },
        { cause },
      );
    }
  }

  /** Whether `off` is a valid string offset. */
  isValidString(off: number): boolean {
    return this.#strings.valid(off);
  }

  /** The first (lowest id) type called `name`, optionally of kind `kind`; undefined when none. */
  findByName(name: string, kind?: BtfKind): BtfType | undefined {
    const ids = this.#nameIndex().get(name);
    if (ids === undefined) return undefined;
    for (const id of ids) {
      const t = this.types[id];
      if (kind === undefined || t.kind === kind) return t;
    }
    return undefined;
  }

  /** Every type called `name` (optionally of kind `kind`), in id order. */
  findAllByName(name: string, kind?: BtfKind): BtfType[] {
    const ids = this.#nameIndex().get(name) ?? [];
    const out: BtfType[] = [];
    for (const id of ids) {
      const t = this.types[id];
      if (kind === undefined || t.kind === kind) out.push(t);
    }
    return out;
  }

  /** Every named type, by name, built once on first use; covers the base types of split BTF. */
  #nameIndex(): Map<string, number[]> {
    if (this.#byName !== undefined) return this.#byName;
    const index = new Map<string, number[]>();
    for (let id = 1; id < this.types.length; id++) {
      const name = this.types[id].name;
      if (name === "") continue;
      const ids = index.get(name);
      if (ids === undefined) index.set(name, [id]);
      else ids.push(id);
    }
    this.#byName = index;
    return index;
  }

  /**
   * The type `id` refers to after skipping typedefs, const, volatile, restrict and type tags
   * (libbpf's `skip_mods_and_typedefs`). Terminates: the parser rejects modifier loops.
   */
  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let steps = 0; isModifierOrTypedef(t); steps++) {
      if (steps > this.types.length) {
        throw new BtfError("reference loop", { typeId: id, section: this.section });
      }
      t = this.type(t.type);
    }
    return t;
  }

  /**
   * The size in bytes of type `id`, as libbpf's `btf__resolve_size` computes it (CO-RE offsets
   * depend on it): sized kinds give their size, pointers the BTF's pointer size, modifiers,
   * typedefs, VAR and DECL_TAG their target, arrays `nelems` times their element. Void, FWD,
   * FUNC and FUNC_PROTO have no size; more than MAX_RESOLVE_DEPTH (32) steps or a result above
   * U32_MAX is an error. Every failure is a BtfError naming `id`.
   */
  sizeOf(id: number): number {
    let t = this.type(id);
    let nelems = 1;
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      switch (t.kind) {
        case "int":
        case "struct":
        case "union":
        case "enum":
        case "enum64":
        case "datasec":
        case "float":
          return this.#scaled(id, nelems, t.size);
        case "ptr":
          return this.#scaled(id, nelems, this.pointerSize);
        case "typedef":
        case "volatile":
        case "const":
        case "restrict":
        case "type_tag":
        case "var":
        case "decl_tag":
          t = this.type(t.type);
          break;
        case "array":
          if (nelems !== 0 && t.nelems > Math.floor(0xffffffff / nelems)) {
            throw new BtfError("array size overflows U32_MAX", { typeId: id, section: this.section });
          }
          nelems *= t.nelems;
          t = this.type(t.type);
          break;
        case "void":
        case "fwd":
        case "func":
        case "func_proto":
          throw new BtfError(`${t.kind === "void" ? "void" : `a ${t.kind}`} has no size`, {
            typeId: id,
            section: this.section,
          });
        default:
          assertNever(t, "BTF kind");
      }
    }
    throw new BtfError(`size does not resolve within ${MAX_RESOLVE_DEPTH} steps`, {
      typeId: id,
      section: this.section,
    });
  }

  #scaled(id: number, nelems: number, size: number): number {
    if (nelems !== 0 && size > Math.floor(0xffffffff / nelems)) {
      throw new BtfError("type size overflows U32_MAX", { typeId: id, section: this.section });
    }
    return nelems * size;
  }

  /**
   * Pointer size of the BTF's target: the size of its `long` (libbpf's `determine_ptr_size`),
   * or 8 when it has none.
   */
  get pointerSize(): number {
    if (this.#pointerSize === 0) {
      let size = 8;
      for (let id = 1; id < this.types.length; id++) {
        const t = this.types[id];
        if (t.kind === "int" && (t.size === 4 || t.size === 8) && LONG_ALIASES.has(t.name)) {
          size = t.size;
          break;
        }
      }
      this.#pointerSize = size;
    }
    return this.#pointerSize;
  }

  /**
   * The decl tags attached to type `id` (`btf_decl_tag("...")` on a function, variable, struct,
   * typedef, or one of their members/parameters), in id order. This is how the verifier finds
   * `exception_callback:NAME` on a program's FUNC.
   */
  declTagsOf(typeId: number): readonly BtfDeclTagRef[] {
    if (this.#declTags === undefined) {
      const index = new Map<number, BtfDeclTagRef[]>();
      for (const t of this.types) {
        if (t.kind !== "decl_tag") continue;
        const ref: BtfDeclTagRef = { value: t.name, componentIdx: t.componentIdx, tagId: t.id };
        const list = index.get(t.type);
        if (list === undefined) index.set(t.type, [ref]);
        else list.push(ref);
      }
      this.#declTags = index;
    }
    return this.#declTags.get(typeId) ?? [];
  }

  /** bpftool's `btf dump ... format raw` text of type `id` (one or more lines, no trailing newline). */
  formatType(id: number): string {
    return formatBtfType(this.types, this.type(id));
  }

  /** bpftool's `btf dump ... format raw` of every type this BTF defines (not the base's), one per line. */
  formatRaw(): string {
    const out: string[] = [];
    for (let id = this.startId; id < this.types.length; id++) out.push(formatBtfType(this.types, this.types[id]));
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }
}
