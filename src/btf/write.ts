/**
 * Writing BTF: the type model (types.ts) back to raw `.BTF` bytes, and the subset of a BTF that a
 * set of root types needs, renumbered — how tsbpf bundles a small piece of a kernel's BTF
 * (src/runtime/kernel-btf, made by scripts/gen-kernel-btf.ts from `/sys/kernel/btf/vmlinux`).
 *
 * `writeBtf` is the inverse of `parseBtf` for non-split BTF: header (24 bytes, version 1, no
 * flags), the type section, then the string section, which starts with the empty string and holds
 * each distinct name once, in the order the types first use it (libbpf's `btf__add_str`
 * deduplication; pahole's order differs, so the bytes of a parsed kernel BTF are not reproduced,
 * only its types). What the model does not keep is not written: the kind_flag of DECL_TAG and
 * TYPE_TAG (newer kernels' attribute tags) is always 0.
 *
 * `pickBtfTypes` is the type closure of libbpf's `btf__add_type` copying, without `bpftool gen
 * min_core_btf`'s pruning of unused members: every type a root refers to, transitively (members,
 * pointees, element and index types, typedef targets, prototypes), kept whole, in the source's id
 * order, with ids renumbered from 1.
 */
import { assertNever, BtfError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import {
  BTF_HEADER_SIZE,
  BTF_INT_BOOL,
  BTF_INT_CHAR,
  BTF_INT_SIGNED,
  BTF_KIND_ARRAY,
  BTF_KIND_CONST,
  BTF_KIND_DATASEC,
  BTF_KIND_DECL_TAG,
  BTF_KIND_ENUM,
  BTF_KIND_ENUM64,
  BTF_KIND_FLOAT,
  BTF_KIND_FUNC,
  BTF_KIND_FUNC_PROTO,
  BTF_KIND_FWD,
  BTF_KIND_INT,
  BTF_KIND_PTR,
  BTF_KIND_RESTRICT,
  BTF_KIND_STRUCT,
  BTF_KIND_TYPE_TAG,
  BTF_KIND_TYPEDEF,
  BTF_KIND_UNION,
  BTF_KIND_VAR,
  BTF_KIND_VOLATILE,
  BTF_MAGIC,
  BTF_VERSION,
} from "./constants.ts";
import type { BtfIntEncoding, BtfLinkage, BtfType } from "./types.ts";

/** Options of {@link writeBtf}. */
export interface WriteBtfOptions {
  /** Write big-endian BTF (default little-endian). */
  readonly bigEndian?: boolean;
}

const INT_ENCODING: Readonly<Record<BtfIntEncoding, number>> = {
  none: 0,
  signed: BTF_INT_SIGNED,
  char: BTF_INT_CHAR,
  bool: BTF_INT_BOOL,
};

const LINKAGE: Readonly<Record<BtfLinkage, number>> = { static: 0, global: 1, extern: 2 };

const REF_KIND: Readonly<Record<"ptr" | "typedef" | "volatile" | "const" | "restrict" | "type_tag", number>> = {
  ptr: BTF_KIND_PTR,
  typedef: BTF_KIND_TYPEDEF,
  volatile: BTF_KIND_VOLATILE,
  const: BTF_KIND_CONST,
  restrict: BTF_KIND_RESTRICT,
  type_tag: BTF_KIND_TYPE_TAG,
};

/** `btf_type.info`: kind, vlen, kind_flag. */
function info(kind: number, vlen: number, kflag: boolean): number {
  return ((kflag ? 0x80000000 : 0) + kind * 0x1000000 + vlen) >>> 0;
}

/** The string section being built: offsets by string, in first-use order. */
class StringTable {
  readonly #offsets = new Map<string, number>([["", 0]]);
  readonly #chunks: Uint8Array[] = [new Uint8Array(1)];
  #length = 1;
  readonly #encoder = new TextEncoder();

  add(s: string): number {
    const known = this.#offsets.get(s);
    if (known !== undefined) return known;
    const bytes = this.#encoder.encode(s);
    const off = this.#length;
    this.#chunks.push(bytes, new Uint8Array(1));
    this.#length += bytes.length + 1;
    this.#offsets.set(s, off);
    return off;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/**
 * Raw BTF for `types`, where `types[i]` has id `i` and `types[0]` is void (as `Btf.types` of a
 * non-split BTF). Throws BtfError for a type whose id is not its index or whose vlen overflows.
 */
export function writeBtf(types: readonly BtfType[], opts: WriteBtfOptions = {}): Uint8Array {
  const le = !opts.bigEndian;
  const strings = new StringTable();
  const words: number[] = [];
  const vlenOf = (t: BtfType, n: number) => {
    if (n > 0xffff) throw new BtfError(`${n} members/values/params do not fit vlen`, { typeId: t.id });
    return n;
  };
  if (types.length === 0 || types[0].kind !== "void") throw new BtfError("types[0] must be void");
  for (let id = 1; id < types.length; id++) {
    const t = types[id];
    if (t.id !== id) throw new BtfError(`type at index ${id} has id ${t.id}`, { typeId: t.id });
    const name = strings.add(t.name);
    switch (t.kind) {
      case "void":
        throw new BtfError("void can only be type 0", { typeId: id });
      case "int":
        words.push(name, info(BTF_KIND_INT, 0, false), t.size);
        words.push(((INT_ENCODING[t.encoding] << 24) | (t.bitOffset << 16) | t.bits) >>> 0);
        break;
      case "ptr":
      case "typedef":
      case "volatile":
      case "const":
      case "restrict":
      case "type_tag":
        words.push(name, info(REF_KIND[t.kind], 0, false), t.type);
        break;
      case "array":
        words.push(name, info(BTF_KIND_ARRAY, 0, false), 0, t.type, t.indexType, t.nelems);
        break;
      case "struct":
      case "union": {
        const kind = t.kind === "struct" ? BTF_KIND_STRUCT : BTF_KIND_UNION;
        words.push(name, info(kind, vlenOf(t, t.members.length), t.kflag), t.size);
        for (const m of t.members) {
          const off = t.kflag ? ((m.bitSize << 24) | m.bitOffset) >>> 0 : m.bitOffset;
          words.push(strings.add(m.name), m.type, off);
        }
        break;
      }
      case "enum":
        words.push(name, info(BTF_KIND_ENUM, vlenOf(t, t.values.length), t.signed), t.size);
        for (const v of t.values) words.push(strings.add(v.name), v.value >>> 0);
        break;
      case "enum64":
        words.push(name, info(BTF_KIND_ENUM64, vlenOf(t, t.values.length), t.signed), t.size);
        for (const v of t.values) {
          const u = BigInt.asUintN(64, v.value);
          words.push(strings.add(v.name), Number(u & 0xffffffffn), Number(u >> 32n));
        }
        break;
      case "fwd":
        words.push(name, info(BTF_KIND_FWD, 0, t.fwdKind === "union"), 0);
        break;
      case "func":
        words.push(name, info(BTF_KIND_FUNC, LINKAGE[t.linkage], false), t.type);
        break;
      case "func_proto":
        words.push(name, info(BTF_KIND_FUNC_PROTO, vlenOf(t, t.params.length), false), t.returnType);
        for (const p of t.params) words.push(strings.add(p.name), p.type);
        break;
      case "var":
        words.push(name, info(BTF_KIND_VAR, 0, false), t.type, LINKAGE[t.linkage]);
        break;
      case "datasec":
        words.push(name, info(BTF_KIND_DATASEC, vlenOf(t, t.vars.length), false), t.size);
        for (const v of t.vars) words.push(v.type, v.offset, v.size);
        break;
      case "float":
        words.push(name, info(BTF_KIND_FLOAT, 0, false), t.size);
        break;
      case "decl_tag":
        words.push(name, info(BTF_KIND_DECL_TAG, 0, false), t.type, t.componentIdx >>> 0);
        break;
      default:
        assertNever(t, "BTF kind");
    }
  }
  const str = strings.bytes();
  const typeLen = words.length * 4;
  const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + str.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, BTF_MAGIC, le);
  out[2] = BTF_VERSION;
  out[3] = 0;
  view.setUint32(4, BTF_HEADER_SIZE, le);
  view.setUint32(8, 0, le); // type_off
  view.setUint32(12, typeLen, le);
  view.setUint32(16, typeLen, le); // str_off: strings follow the types
  view.setUint32(20, str.length, le);
  words.forEach((w, i) => {
    view.setUint32(BTF_HEADER_SIZE + i * 4, w >>> 0, le);
  });
  out.set(str, BTF_HEADER_SIZE + typeLen);
  return out;
}

/** The ids type `t` refers to directly. */
function referencedIds(t: BtfType): number[] {
  switch (t.kind) {
    case "void":
    case "int":
    case "enum":
    case "enum64":
    case "fwd":
    case "float":
      return [];
    case "ptr":
    case "typedef":
    case "volatile":
    case "const":
    case "restrict":
    case "type_tag":
    case "func":
    case "var":
    case "decl_tag":
      return [t.type];
    case "array":
      return [t.type, t.indexType];
    case "struct":
    case "union":
      return t.members.map((m) => m.type);
    case "func_proto":
      return [t.returnType, ...t.params.map((p) => p.type)];
    case "datasec":
      return t.vars.map((v) => v.type);
    default:
      return assertNever(t, "BTF kind");
  }
}

/** `t` with every type id it holds replaced through `map`. */
function renumbered(t: BtfType, id: number, map: (old: number) => number): BtfType {
  switch (t.kind) {
    case "void":
    case "int":
    case "enum":
    case "enum64":
    case "fwd":
    case "float":
      return { ...t, id };
    case "ptr":
    case "typedef":
    case "volatile":
    case "const":
    case "restrict":
    case "type_tag":
    case "func":
    case "var":
    case "decl_tag":
      return { ...t, id, type: map(t.type) };
    case "array":
      return { ...t, id, type: map(t.type), indexType: map(t.indexType) };
    case "struct":
    case "union":
      return { ...t, id, members: t.members.map((m) => ({ ...m, type: map(m.type) })) };
    case "func_proto":
      return {
        ...t,
        id,
        returnType: map(t.returnType),
        params: t.params.map((p) => ({ ...p, type: map(p.type) })),
      };
    case "datasec":
      return { ...t, id, vars: t.vars.map((v) => ({ ...v, type: map(v.type) })) };
    default:
      return assertNever(t, "BTF kind");
  }
}

/**
 * The types of `btf` that `roots` need (see the module comment), renumbered from 1 in `btf`'s id
 * order: `result[0]` is void, ready for {@link writeBtf}.
 */
export function pickBtfTypes(btf: Btf, roots: readonly number[]): BtfType[] {
  const keep = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const id = stack.pop() as number;
    if (id === 0 || keep.has(id)) continue;
    keep.add(id);
    for (const r of referencedIds(btf.type(id))) if (r !== 0 && !keep.has(r)) stack.push(r);
  }
  const ids = [...keep].sort((a, b) => a - b);
  const newId = new Map<number, number>([[0, 0]]);
  ids.forEach((old, i) => {
    newId.set(old, i + 1);
  });
  const map = (old: number) => newId.get(old) as number;
  const out: BtfType[] = [{ kind: "void", id: 0, name: "" }];
  for (const old of ids) out.push(renumbered(btf.type(old), newId.get(old) as number, map));
  return out;
}
