/**
 * The BTF type model: one discriminated union, `BtfType`, with a `kind` per `BTF_KIND_*`, each
 * carrying its id, its name (resolved through the string table, "" when anonymous) and the
 * fields of its kind-specific data. Id 0 is `void`, which BTF leaves implicit; tsbpf gives it
 * its own kind so `types[id]` is total.
 *
 * This mirrors `struct btf_type` and the records after it (include/uapi/linux/btf.h) with the
 * bit packing already undone: kind_flag bitfield offsets become `bitOffset`/`bitSize`, enum
 * signedness becomes `signed`, FUNC's vlen becomes `linkage`.
 */

/** What every type has. */
interface BtfTypeBase {
  /** The type id: its index in `Btf.types`. */
  readonly id: number;
  /** The name ("" when anonymous); for DECL_TAG and TYPE_TAG, the tag's value. */
  readonly name: string;
}

/** Type id 0: `void`, and the "no type" of a FUNC_PROTO's return or varargs. */
export interface BtfVoid extends BtfTypeBase {
  readonly kind: "void";
}

/** `BTF_INT_ENCODING`: at most one of SIGNED, CHAR, BOOL (the kernel rejects combinations). */
export type BtfIntEncoding = "none" | "signed" | "char" | "bool";

/** BTF_KIND_INT: an integer of `size` bytes whose value is `bits` bits at `bitOffset`. */
export interface BtfInt extends BtfTypeBase {
  readonly kind: "int";
  readonly size: number;
  /** `BTF_INT_OFFSET`: nonzero only in old bitfield-as-int BTF. */
  readonly bitOffset: number;
  /** `BTF_INT_BITS`. */
  readonly bits: number;
  readonly encoding: BtfIntEncoding;
}

/** The reference kinds: a pointer, a typedef, a qualifier or a type tag, all naming `type`. */
export interface BtfRef extends BtfTypeBase {
  readonly kind: "ptr" | "typedef" | "volatile" | "const" | "restrict" | "type_tag";
  /** The referenced type id (0 = void). */
  readonly type: number;
}

/** BTF_KIND_ARRAY: `nelems` elements of `type`, indexed by `indexType`. */
export interface BtfArray extends BtfTypeBase {
  readonly kind: "array";
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}

/** A member of a struct or union. */
export interface BtfMember {
  /** "" for an anonymous (embedded) struct/union member. */
  readonly name: string;
  readonly type: number;
  /** Offset from the start of the struct, in bits. */
  readonly bitOffset: number;
  /** Bitfield width (nonzero only when the struct has kind_flag and the member is a bitfield). */
  readonly bitSize: number;
}

/** BTF_KIND_STRUCT and BTF_KIND_UNION. */
export interface BtfComposite extends BtfTypeBase {
  readonly kind: "struct" | "union";
  readonly size: number;
  /** The kind_flag: member offsets carry bitfield sizes. */
  readonly kflag: boolean;
  readonly members: readonly BtfMember[];
}

/** BTF_KIND_ENUM: values are s32 when `signed`, else u32. */
export interface BtfEnum extends BtfTypeBase {
  readonly kind: "enum";
  readonly size: number;
  /** The kind_flag. */
  readonly signed: boolean;
  readonly values: readonly { readonly name: string; readonly value: number }[];
}

/** BTF_KIND_ENUM64: values are s64 when `signed`, else u64. */
export interface BtfEnum64 extends BtfTypeBase {
  readonly kind: "enum64";
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly { readonly name: string; readonly value: bigint }[];
}

/** BTF_KIND_FWD: a forward declaration of a struct (kind_flag 0) or union (kind_flag 1). */
export interface BtfFwd extends BtfTypeBase {
  readonly kind: "fwd";
  readonly fwdKind: "struct" | "union";
}

/** Linkage of a FUNC (`BTF_FUNC_*`) or VAR (`BTF_VAR_*`); the numbering is the same. */
export type BtfLinkage = "static" | "global" | "extern";

/** BTF_KIND_FUNC: a function named `name` with prototype `type`. */
export interface BtfFunc extends BtfTypeBase {
  readonly kind: "func";
  /** The FUNC_PROTO id. */
  readonly type: number;
  readonly linkage: BtfLinkage;
}

/** A FUNC_PROTO parameter; a last parameter of type 0 without name means varargs. */
export interface BtfParam {
  readonly name: string;
  readonly type: number;
}

/** BTF_KIND_FUNC_PROTO. */
export interface BtfFuncProto extends BtfTypeBase {
  readonly kind: "func_proto";
  readonly returnType: number;
  readonly params: readonly BtfParam[];
}

/** BTF_KIND_VAR: a global or static variable. */
export interface BtfVar extends BtfTypeBase {
  readonly kind: "var";
  readonly type: number;
  readonly linkage: BtfLinkage;
}

/** An entry of a DATASEC (`struct btf_var_secinfo`). */
export interface BtfVarSecinfo {
  /** A VAR, or a FUNC in an object's `.ksyms`. */
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

/** BTF_KIND_DATASEC: the variables of an ELF data section (sizes are 0 in objects until libbpf fixes them). */
export interface BtfDatasec extends BtfTypeBase {
  readonly kind: "datasec";
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

/** BTF_KIND_FLOAT. */
export interface BtfFloat extends BtfTypeBase {
  readonly kind: "float";
  readonly size: number;
}

/** BTF_KIND_DECL_TAG: `btf_decl_tag(name)` on `type`, or on its member/parameter `componentIdx`. */
export interface BtfDeclTag extends BtfTypeBase {
  readonly kind: "decl_tag";
  readonly type: number;
  /** -1 for the type itself, else the member or parameter index. */
  readonly componentIdx: number;
}

/** Any BTF type, discriminated by `kind`. */
export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfRef
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfEnum64
  | BtfFwd
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

/** The `kind` strings. */
export type BtfKind = BtfType["kind"];

/** Modifiers and typedefs: what `Btf.resolve` skips (libbpf's `skip_mods_and_typedefs`). */
export function isModifierOrTypedef(t: BtfType): t is BtfRef {
  return (
    t.kind === "typedef" ||
    t.kind === "const" ||
    t.kind === "volatile" ||
    t.kind === "restrict" ||
    t.kind === "type_tag"
  );
}

/** STRUCT or UNION (libbpf's `btf_is_composite`). */
export function isComposite(t: BtfType): t is BtfComposite {
  return t.kind === "struct" || t.kind === "union";
}

/** ENUM or ENUM64 (libbpf's `btf_is_any_enum`). */
export function isAnyEnum(t: BtfType): t is BtfEnum | BtfEnum64 {
  return t.kind === "enum" || t.kind === "enum64";
}

/** bpftool's upper-case kind names (`btf_kind_str`), by `kind`. */
export const KIND_NAMES: Readonly<Record<BtfKind, string>> = {
  void: "UNKNOWN",
  int: "INT",
  ptr: "PTR",
  array: "ARRAY",
  struct: "STRUCT",
  union: "UNION",
  enum: "ENUM",
  fwd: "FWD",
  typedef: "TYPEDEF",
  volatile: "VOLATILE",
  const: "CONST",
  restrict: "RESTRICT",
  func: "FUNC",
  func_proto: "FUNC_PROTO",
  var: "VAR",
  datasec: "DATASEC",
  float: "FLOAT",
  decl_tag: "DECL_TAG",
  type_tag: "TYPE_TAG",
  enum64: "ENUM64",
};
