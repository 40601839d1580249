/**
 * BTF and CO-RE constants, spelled as in the kernel's uapi (include/uapi/linux/btf.h) and in
 * libbpf (relo_core.h, btf.h). Plain numbers, compared as the kernel compares them.
 *
 * A `btf_type` is three u32 words followed by kind-specific data:
 *
 *   name_off (u32)
 *   info     (u32)   bit 31: kind_flag | bits 28-24: kind | bits 15-0: vlen
 *   size/type (u32)
 *
 * Unused info bits must be zero (`BTF_INFO_MASK`).
 */

/** `struct btf_header.magic`; read in the file's byte order, so 0x9feb means "other endian". */
export const BTF_MAGIC = 0xeb9f;
/** The only BTF version the kernel accepts. */
export const BTF_VERSION = 1;
/** Size of `struct btf_header` (magic, version, flags, hdr_len, type_off/len, str_off/len). */
export const BTF_HEADER_SIZE = 24;
/** Size of the common part of `struct btf_type`. */
export const BTF_TYPE_SIZE = 12;

/** Largest type id the kernel accepts (`BTF_MAX_TYPE`). */
export const BTF_MAX_TYPE = 0x000fffff;
/** Largest string offset the kernel accepts (`BTF_MAX_NAME_OFFSET`). */
export const BTF_MAX_NAME_OFFSET = 0x00ffffff;
/** Largest vlen (`BTF_MAX_VLEN`). */
export const BTF_MAX_VLEN = 0xffff;
/** The info bits that may be set: kind_flag, kind and vlen (`BTF_INFO_MASK`). */
export const BTF_INFO_MASK = 0x9f00ffff;

// ---- kinds (BTF_INFO_KIND(info) = (info >> 24) & 0x1f)
export const BTF_KIND_UNKN = 0;
export const BTF_KIND_INT = 1;
export const BTF_KIND_PTR = 2;
export const BTF_KIND_ARRAY = 3;
export const BTF_KIND_STRUCT = 4;
export const BTF_KIND_UNION = 5;
export const BTF_KIND_ENUM = 6;
export const BTF_KIND_FWD = 7;
export const BTF_KIND_TYPEDEF = 8;
export const BTF_KIND_VOLATILE = 9;
export const BTF_KIND_CONST = 10;
export const BTF_KIND_RESTRICT = 11;
export const BTF_KIND_FUNC = 12;
export const BTF_KIND_FUNC_PROTO = 13;
export const BTF_KIND_VAR = 14;
export const BTF_KIND_DATASEC = 15;
export const BTF_KIND_FLOAT = 16;
export const BTF_KIND_DECL_TAG = 17;
export const BTF_KIND_TYPE_TAG = 18;
export const BTF_KIND_ENUM64 = 19;
/** Highest kind number this reader knows (`BTF_KIND_MAX`). */
export const BTF_KIND_MAX = BTF_KIND_ENUM64;

// ---- BTF_KIND_INT data word: encoding (bits 27-24), offset (bits 23-16), nr_bits (bits 7-0)
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;
/** The bits of the INT data word that may be set (`BTF_INT_MASK`). */
export const BTF_INT_MASK = 0x0fffffff;

// ---- BTF_KIND_FUNC linkage (in vlen) and BTF_KIND_VAR linkage
export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

// ---- .BTF.ext
/** Size of the .BTF.ext header up to and including line_info (libbpf's `btf_ext_header` v1). */
export const BTF_EXT_HEADER_MIN = 24;
/** Size of the header that also has core_relo_off/len. */
export const BTF_EXT_HEADER_CORE = 32;
/** Minimal record sizes: `bpf_func_info`, `bpf_line_info`, `bpf_core_relo`. */
export const BPF_FUNC_INFO_MIN_SIZE = 8;
export const BPF_LINE_INFO_MIN_SIZE = 16;
export const BPF_CORE_RELO_MIN_SIZE = 16;

// ---- enum bpf_core_relo_kind (include/uapi/linux/bpf.h)
export const BPF_CORE_FIELD_BYTE_OFFSET = 0;
export const BPF_CORE_FIELD_BYTE_SIZE = 1;
export const BPF_CORE_FIELD_EXISTS = 2;
export const BPF_CORE_FIELD_SIGNED = 3;
export const BPF_CORE_FIELD_LSHIFT_U64 = 4;
export const BPF_CORE_FIELD_RSHIFT_U64 = 5;
export const BPF_CORE_TYPE_ID_LOCAL = 6;
export const BPF_CORE_TYPE_ID_TARGET = 7;
export const BPF_CORE_TYPE_EXISTS = 8;
export const BPF_CORE_TYPE_SIZE = 9;
export const BPF_CORE_ENUMVAL_EXISTS = 10;
export const BPF_CORE_ENUMVAL_VALUE = 11;
export const BPF_CORE_TYPE_MATCHES = 12;

/** One of the `BPF_CORE_*` relocation kinds. */
export type CoreReloKind = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12;

/** libbpf's short names of the relocation kinds (`core_relo_kind_str`), as its logs print them. */
export const CORE_RELO_KIND_NAMES: readonly string[] = [
  "byte_off",
  "byte_sz",
  "field_exists",
  "signed",
  "lshift_u64",
  "rshift_u64",
  "local_type_id",
  "target_type_id",
  "type_exists",
  "type_size",
  "enumval_exists",
  "enumval_value",
  "type_matches",
];

/** Deepest access string libbpf accepts (`BPF_CORE_SPEC_MAX_LEN`). */
export const BPF_CORE_SPEC_MAX_LEN = 64;
/** How far libbpf follows modifiers, typedefs and arrays when sizing a type (`MAX_RESOLVE_DEPTH`). */
export const MAX_RESOLVE_DEPTH = 32;
/** The helper id libbpf writes into a poisoned instruction: `call 0xbad2310` ("bad relo"). */
export const CORE_POISON_IMM = 195896080;
