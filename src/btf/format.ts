/**
 * bpftool's `btf dump ... format raw` text for a type (bpftool's `dump_btf_type`, btf.c), so a
 * parsed BTF can be diffed line by line against bpftool's own reading of the same bytes.
 *
 * One line per type, plus one tab-indented line per member, enumerator, parameter or datasec
 * entry. Anonymous names print as `(anon)`; enum values are signed or unsigned by kind_flag, and
 * 64-bit ones carry bpftool's `LL`/`ULL` suffix.
 */
import { assertNever } from "../errors.ts";
import { type BtfType, KIND_NAMES } from "./types.ts";

const quoted = (name: string): string => `'${name === "" ? "(anon)" : name}'`;

/** The `format raw` lines of `t`, joined with "\n" (no trailing newline); `types` resolves datasec entries. */
export function formatBtfType(types: readonly BtfType[], t: BtfType): string {
  const head = `[${t.id}] ${KIND_NAMES[t.kind]} ${quoted(t.name)}`;
  switch (t.kind) {
    case "void":
      return head;
    case "int": {
      const enc = t.encoding === "none" ? "(none)" : t.encoding.toUpperCase();
      return `${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${enc}`;
    }
    case "ptr":
    case "const":
    case "volatile":
    case "restrict":
    case "typedef":
    case "type_tag":
      return `${head} type_id=${t.type}`;
    case "array":
      return `${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case "struct":
    case "union": {
      const lines = [`${head} size=${t.size} vlen=${t.members.length}`];
      for (const m of t.members) {
        const bits = m.bitSize !== 0 ? ` bitfield_size=${m.bitSize}` : "";
        lines.push(`\t${quoted(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${bits}`);
      }
      return lines.join("\n");
    }
    case "enum":
    case "enum64": {
      const lines = [`${head} encoding=${t.signed ? "SIGNED" : "UNSIGNED"} size=${t.size} vlen=${t.values.length}`];
      const suffix = t.kind === "enum" ? "" : t.signed ? "LL" : "ULL";
      for (const v of t.values) lines.push(`\t${quoted(v.name)} val=${v.value}${suffix}`);
      return lines.join("\n");
    }
    case "fwd":
      return `${head} fwd_kind=${t.fwdKind}`;
    case "func":
      return `${head} type_id=${t.type} linkage=${t.linkage}`;
    case "func_proto": {
      const lines = [`${head} ret_type_id=${t.returnType} vlen=${t.params.length}`];
      for (const p of t.params) lines.push(`\t${quoted(p.name)} type_id=${p.type}`);
      return lines.join("\n");
    }
    case "var":
      return `${head} type_id=${t.type}, linkage=${t.linkage}`;
    case "datasec": {
      const lines = [`${head} size=${t.size} vlen=${t.vars.length}`];
      for (const v of t.vars) {
        const vt = types[v.type];
        const what = vt === undefined ? "" : ` (${KIND_NAMES[vt.kind]} ${quoted(vt.name)})`;
        lines.push(`\ttype_id=${v.type} offset=${v.offset} size=${v.size}${what}`);
      }
      return lines.join("\n");
    }
    case "float":
      return `${head} size=${t.size}`;
    case "decl_tag":
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`;
    default:
      return assertNever(t, "BTF kind");
  }
}
