/**
 * The BTF parser: raw `.BTF` bytes (an object's section, `/sys/kernel/btf/vmlinux`, or a module's
 * split BTF) to a validated `Btf`.
 *
 * It follows the kernel's `btf_parse` (kernel/bpf/btf.c, v6.12) in three passes:
 *
 *   1. header and sections — `btf_parse_hdr`, `btf_check_sec_info`, `btf_parse_str_sec`: magic
 *      (either byte order), version 1, no flags, a header of at least 24 bytes whose extra bytes
 *      are zero, a 4-aligned type section, sections inside the data without overlap or gaps, a
 *      string section that starts (non-split) and ends with NUL;
 *   2. each type's metadata — `btf_check_meta` and the kinds' `check_meta`: known kind, no stray
 *      info bits, name offsets inside the string section, records not past the end, the kind's
 *      vlen/kind_flag/size rules (INT widths and encodings, enum sizes, FLOAT sizes, FUNC and VAR
 *      linkage, struct members in offset order inside the struct, union members at offset 0,
 *      varargs only last, tag values not empty);
 *   3. the graph — referenced ids in range, FUNC naming a FUNC_PROTO, DECL_TAG naming a
 *      struct/union/func/var/typedef with a component index it has, DATASEC entries that are VARs
 *      (or FUNCs, as in an object's `.ksyms`), and no reference loop (`btf_resolve`'s "Loop
 *      detected"): a cycle of by-value references, or of pointers and modifiers only.
 *
 * Deliberate differences from the kernel: names are not checked to be C identifiers (only that
 * typedefs, FUNCs, VARs, FWDs and tags have one), and DATASEC sizes and offsets are not checked,
 * because objects carry zeros there until libbpf fills them in; extern FUNCs (kfunc
 * declarations in objects) are accepted. kind_flag on DECL_TAG/TYPE_TAG (newer kernels' "attribute"
 * tags) is accepted. Every failure is a BtfError with the type id and the byte offset of the
 * offending record; no input makes the parser loop or recurse without bound.
 */
import { assertNever, BtfError } from "../errors.ts";
import { Btf } from "./btf.ts";
import {
  BTF_HEADER_SIZE,
  BTF_INFO_MASK,
  BTF_INT_BOOL,
  BTF_INT_CHAR,
  BTF_INT_MASK,
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
  BTF_KIND_MAX,
  BTF_KIND_PTR,
  BTF_KIND_RESTRICT,
  BTF_KIND_STRUCT,
  BTF_KIND_TYPE_TAG,
  BTF_KIND_TYPEDEF,
  BTF_KIND_UNION,
  BTF_KIND_UNKN,
  BTF_KIND_VAR,
  BTF_KIND_VOLATILE,
  BTF_MAGIC,
  BTF_MAX_NAME_OFFSET,
  BTF_MAX_TYPE,
  BTF_TYPE_SIZE,
  BTF_VERSION,
} from "./constants.ts";
import { BtfStrings } from "./strings.ts";
import type { BtfIntEncoding, BtfLinkage, BtfMember, BtfParam, BtfType, BtfVarSecinfo } from "./types.ts";

/** Options of {@link parseBtf}. */
export interface ParseBtfOptions {
  /**
   * Byte order the caller expects (an ELF file's). BTF records its own in the magic; a mismatch
   * is an error. Undefined: take the magic's.
   */
  readonly bigEndian?: boolean;
  /** The base BTF when parsing split BTF (a kernel module's BTF over vmlinux). */
  readonly base?: Btf;
  /** Name for error messages (default ".BTF"). */
  readonly section?: string;
}

/** Where the type and string sections are. */
interface Layout {
  readonly le: boolean;
  readonly typeStart: number;
  readonly typeEnd: number;
  readonly strStart: number;
  readonly strEnd: number;
}

const LINKAGES: readonly BtfLinkage[] = ["static", "global", "extern"];
const REF_KINDS: Readonly<Record<number, "ptr" | "typedef" | "volatile" | "const" | "restrict" | "type_tag">> = {
  [BTF_KIND_PTR]: "ptr",
  [BTF_KIND_TYPEDEF]: "typedef",
  [BTF_KIND_VOLATILE]: "volatile",
  [BTF_KIND_CONST]: "const",
  [BTF_KIND_RESTRICT]: "restrict",
  [BTF_KIND_TYPE_TAG]: "type_tag",
};

/** Parses and validates BTF; see the module comment for what is checked. */
export function parseBtf(bytes: Uint8Array, opts: ParseBtfOptions = {}): Btf {
  const section = opts.section ?? ".BTF";
  const base = opts.base;
  const layout = parseHeader(bytes, section, opts.bigEndian, base !== undefined);
  if (base && base.bigEndian === layout.le) {
    throw new BtfError("split BTF and its base differ in byte order", { section, offset: 0 });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const baseTable = base ? baseStrings.get(base) : undefined;
  if (base && baseTable === undefined) throw new BtfError("the base BTF was not made by parseBtf", { section });
  const strings = new BtfStrings(bytes.subarray(layout.strStart, layout.strEnd), baseTable);
  const types: BtfType[] = base ? [...base.types] : [{ kind: "void", id: 0, name: "" }];
  const offsets: number[] = [];
  new TypeReader(view, layout, strings, section, types, offsets).readAll();
  const startId = base ? base.types.length : 1;
  checkGraph(types, startId, offsets, section);
  const btf = new Btf({ types, strings, bigEndian: !layout.le, base, section });
  baseStrings.set(btf, strings);
  return btf;
}

/** The string table of every Btf parsed here, so split BTF can continue its base's offsets. */
const baseStrings = new WeakMap<Btf, BtfStrings>();

function parseHeader(bytes: Uint8Array, section: string, bigEndian: boolean | undefined, split: boolean): Layout {
  const err = (message: string, offset = 0) => new BtfError(message, { section, offset });
  if (bytes.length < 8) throw err(`${bytes.length} bytes is too short for a BTF header`);
  const magicLe = bytes[0] | (bytes[1] << 8);
  let le: boolean;
  if (magicLe === BTF_MAGIC) le = true;
  else if (magicLe === ((BTF_MAGIC >> 8) | ((BTF_MAGIC & 0xff) << 8))) le = false;
  else throw err(`invalid magic 0x${magicLe.toString(16).padStart(4, "0")}`);
  if (bigEndian !== undefined && bigEndian === le) {
    throw err(`BTF is ${le ? "little" : "big"}-endian but its container is ${le ? "big" : "little"}-endian`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[2];
  const flags = bytes[3];
  const hdrLen = view.getUint32(4, le);
  if (version !== BTF_VERSION) throw err(`unsupported version ${version}`, 2);
  if (flags !== 0) throw err(`unsupported flags 0x${flags.toString(16)}`, 3);
  if (hdrLen < BTF_HEADER_SIZE) throw err(`hdr_len ${hdrLen} is smaller than the ${BTF_HEADER_SIZE}-byte header`, 4);
  if (hdrLen > bytes.length) throw err(`hdr_len ${hdrLen} is past the end of the data (${bytes.length} bytes)`, 4);
  for (let i = BTF_HEADER_SIZE; i < hdrLen; i++) {
    if (bytes[i] !== 0) throw err("unsupported btf_header: nonzero bytes after the known fields", i);
  }
  const typeOff = view.getUint32(8, le);
  const typeLen = view.getUint32(12, le);
  const strOff = view.getUint32(16, le);
  const strLen = view.getUint32(20, le);
  if (typeOff % 4 !== 0) throw err(`type_off ${typeOff} is not 4-byte aligned`, 8);
  const dataLen = bytes.length - hdrLen;
  // btf_check_sec_info: sections sorted by offset must tile the data exactly.
  const secs = [
    { name: "type", off: typeOff, len: typeLen, at: 8 },
    { name: "string", off: strOff, len: strLen, at: 16 },
  ].sort((a, b) => a.off - b.off || a.at - b.at);
  let total = 0;
  for (const s of secs) {
    if (s.off > dataLen) throw err(`${s.name} section offset ${s.off} is past the end of the data`, s.at);
    if (s.off > total) throw err(`gap before the ${s.name} section (offset ${s.off}, expected ${total})`, s.at);
    if (s.off < total) throw err(`${s.name} section overlaps the previous section`, s.at);
    if (s.len > dataLen - total) throw err(`${s.name} section length ${s.len} runs past the end of the data`, s.at + 4);
    total += s.len;
  }
  if (total !== dataLen) throw err(`${dataLen - total} bytes of data after the last section`, hdrLen + total);
  if (strLen === 0 && !split) throw err("empty string section", 20);
  const strStart = hdrLen + strOff;
  const strEnd = strStart + strLen;
  if (strLen > 0) {
    if (strLen - 1 > BTF_MAX_NAME_OFFSET) throw err(`string section of ${strLen} bytes is too large`, 20);
    if (bytes[strEnd - 1] !== 0) throw err("string section does not end with NUL", strEnd - 1);
    if (!split && bytes[strStart] !== 0) throw err("string section does not start with an empty string", strStart);
  }
  return { le, typeStart: hdrLen + typeOff, typeEnd: hdrLen + typeOff + typeLen, strStart, strEnd };
}

/** Reads the type section record by record (pass 2). */
class TypeReader {
  readonly view: DataView;
  readonly le: boolean;
  readonly layout: Layout;
  readonly strings: BtfStrings;
  readonly section: string;
  readonly types: BtfType[];
  readonly offsets: number[];
  /** Id and offset of the type being read, for errors. */
  id = 0;
  at = 0;

  constructor(
    view: DataView,
    layout: Layout,
    strings: BtfStrings,
    section: string,
    types: BtfType[],
    offsets: number[],
  ) {
    this.view = view;
    this.le = layout.le;
    this.layout = layout;
    this.strings = strings;
    this.section = section;
    this.types = types;
    this.offsets = offsets;
  }

  err(message: string, offset = this.at): BtfError {
    return new BtfError(message, { typeId: this.id, section: this.section, offset });
  }

  u32(off: number): number {
    return this.view.getUint32(off, this.le);
  }

  /** A name: the offset must be inside the string section. */
  str(off: number, what: string, at: number): string {
    if (!this.strings.valid(off)) throw this.err(`${what} offset ${off} is outside the string section`, at);
    return this.strings.at(off);
  }

  /** A type id field: at most BTF_MAX_TYPE (the range against the type count is checked later). */
  ref(id: number, what: string, at: number, allowVoid: boolean): number {
    if (id > BTF_MAX_TYPE) throw this.err(`${what} ${id} exceeds BTF_MAX_TYPE`, at);
    if (id === 0 && !allowVoid) throw this.err(`${what} is void`, at);
    return id;
  }

  /** Ensures `n` bytes of kind data follow the common part (the kernel's meta_left check). */
  need(off: number, n: number): void {
    if (n > this.layout.typeEnd - off) {
      throw this.err(`meta_left:${this.layout.typeEnd - off} meta_needed:${n}: record runs past the type section`);
    }
  }

  readAll(): void {
    const { typeStart, typeEnd } = this.layout;
    let off = typeStart;
    let id = this.types.length;
    while (off < typeEnd) {
      this.id = id;
      this.at = off;
      if (id > BTF_MAX_TYPE) throw this.err(`more than ${BTF_MAX_TYPE} types`);
      if (typeEnd - off < BTF_TYPE_SIZE) {
        throw this.err(`meta_left:${typeEnd - off} meta_needed:${BTF_TYPE_SIZE}: truncated type record`);
      }
      const [t, size] = this.readType(off, id);
      this.types.push(t);
      this.offsets.push(off);
      off += size;
      id++;
    }
  }

  /** Reads one record at `off`; returns the type and the record's size. */
  readType(off: number, id: number): [BtfType, number] {
    const nameOff = this.u32(off);
    const info = this.u32(off + 4);
    const sizeOrType = this.u32(off + 8);
    const kind = (info >>> 24) & 0x1f;
    const kflag = info >>> 31 === 1;
    const vlen = info & 0xffff;
    if ((info & ~BTF_INFO_MASK) !== 0) throw this.err(`invalid btf_info 0x${info.toString(16)}`, off + 4);
    if (kind === BTF_KIND_UNKN || kind > BTF_KIND_MAX) throw this.err(`invalid kind ${kind}`, off + 4);
    const name = this.str(nameOff, "name", off);
    const data = off + BTF_TYPE_SIZE;
    const noVlen = () => {
      if (vlen !== 0) throw this.err("vlen != 0", off + 4);
    };
    const noKflag = () => {
      if (kflag) throw this.err("invalid btf_info kind_flag", off + 4);
    };
    const named = (what: string) => {
      if (name === "") throw this.err(`${what} has no name`, off);
    };

    switch (kind) {
      case BTF_KIND_INT: {
        this.need(data, 4);
        noVlen();
        noKflag();
        const word = this.u32(data);
        if ((word & ~BTF_INT_MASK) !== 0) throw this.err(`invalid int_data 0x${word.toString(16)}`, data);
        const bits = word & 0xff;
        const bitOffset = (word >>> 16) & 0xff;
        const enc = (word >>> 24) & 0x0f;
        if (bits > 128) throw this.err(`nr_bits ${bits} exceeds 128`, data);
        if (bitOffset + bits > sizeOrType * 8) throw this.err("nr_bits exceeds type_size", data);
        if (![1, 2, 4, 8, 16].includes(sizeOrType)) throw this.err(`unsupported int size ${sizeOrType}`, off + 8);
        let encoding: BtfIntEncoding;
        if (enc === 0) encoding = "none";
        else if (enc === BTF_INT_SIGNED) encoding = "signed";
        else if (enc === BTF_INT_CHAR) encoding = "char";
        else if (enc === BTF_INT_BOOL) encoding = "bool";
        else throw this.err(`unsupported int encoding ${enc}`, data);
        return [{ kind: "int", id, name, size: sizeOrType, bitOffset, bits, encoding }, BTF_TYPE_SIZE + 4];
      }
      case BTF_KIND_PTR:
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG: {
        noVlen();
        if (kind !== BTF_KIND_TYPE_TAG) noKflag();
        if (kind === BTF_KIND_TYPEDEF) named("typedef");
        if (kind === BTF_KIND_TYPE_TAG) named("type tag");
        const type = this.ref(sizeOrType, "type_id", off + 8, true);
        return [{ kind: REF_KINDS[kind], id, name, type }, BTF_TYPE_SIZE];
      }
      case BTF_KIND_ARRAY: {
        this.need(data, 12);
        noVlen();
        noKflag();
        if (sizeOrType !== 0) throw this.err("array size != 0", off + 8);
        const type = this.ref(this.u32(data), "array element type", data, false);
        const indexType = this.ref(this.u32(data + 4), "array index type", data + 4, false);
        const nelems = this.u32(data + 8);
        return [{ kind: "array", id, name, type, indexType, nelems }, BTF_TYPE_SIZE + 12];
      }
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION: {
        this.need(data, vlen * 12);
        const isUnion = kind === BTF_KIND_UNION;
        const members: BtfMember[] = new Array(vlen);
        let last = 0;
        for (let i = 0; i < vlen; i++) {
          const m = data + i * 12;
          const mName = this.str(this.u32(m), `member ${i} name`, m);
          const type = this.ref(this.u32(m + 4), `member ${i} type_id`, m + 4, false);
          const raw = this.u32(m + 8);
          const bitOffset = kflag ? raw & 0xffffff : raw;
          const bitSize = kflag ? raw >>> 24 : 0;
          if (isUnion && bitOffset !== 0) throw this.err(`union member ${i} has bits_offset ${bitOffset}`, m + 8);
          if (last > bitOffset)
            throw this.err(`member ${i} bits_offset ${bitOffset} is before the previous member`, m + 8);
          if (Math.ceil(bitOffset / 8) > sizeOrType) {
            throw this.err(`member ${i} bits_offset ${bitOffset} exceeds the struct size ${sizeOrType}`, m + 8);
          }
          last = bitOffset;
          members[i] = { name: mName, type, bitOffset, bitSize };
        }
        const k = isUnion ? "union" : "struct";
        return [{ kind: k, id, name, size: sizeOrType, kflag, members }, BTF_TYPE_SIZE + vlen * 12];
      }
      case BTF_KIND_ENUM:
      case BTF_KIND_ENUM64: {
        const is64 = kind === BTF_KIND_ENUM64;
        const rec = is64 ? 12 : 8;
        this.need(data, vlen * rec);
        if (![1, 2, 4, 8].includes(sizeOrType)) throw this.err(`unexpected enum size ${sizeOrType}`, off + 8);
        if (is64) {
          const values: { name: string; value: bigint }[] = new Array(vlen);
          for (let i = 0; i < vlen; i++) {
            const e = data + i * rec;
            const vName = this.str(this.u32(e), `enumerator ${i} name`, e);
            const u = (BigInt(this.u32(e + 8)) << 32n) | BigInt(this.u32(e + 4));
            values[i] = { name: vName, value: kflag ? BigInt.asIntN(64, u) : u };
          }
          return [{ kind: "enum64", id, name, size: sizeOrType, signed: kflag, values }, BTF_TYPE_SIZE + vlen * rec];
        }
        const values: { name: string; value: number }[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = data + i * rec;
          const vName = this.str(this.u32(e), `enumerator ${i} name`, e);
          const u = this.u32(e + 4);
          values[i] = { name: vName, value: kflag ? u | 0 : u };
        }
        return [{ kind: "enum", id, name, size: sizeOrType, signed: kflag, values }, BTF_TYPE_SIZE + vlen * rec];
      }
      case BTF_KIND_FWD:
        noVlen();
        named("forward declaration");
        if (sizeOrType !== 0) throw this.err("forward declaration type != 0", off + 8);
        return [{ kind: "fwd", id, name, fwdKind: kflag ? "union" : "struct" }, BTF_TYPE_SIZE];
      case BTF_KIND_FUNC: {
        noKflag();
        named("function");
        if (vlen >= LINKAGES.length) throw this.err(`invalid func linkage ${vlen}`, off + 4);
        const type = this.ref(sizeOrType, "func prototype", off + 8, false);
        return [{ kind: "func", id, name, type, linkage: LINKAGES[vlen] }, BTF_TYPE_SIZE];
      }
      case BTF_KIND_FUNC_PROTO: {
        this.need(data, vlen * 8);
        noKflag();
        const returnType = this.ref(sizeOrType, "return type", off + 8, true);
        const params: BtfParam[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const p = data + i * 8;
          const pName = this.str(this.u32(p), `param ${i} name`, p);
          const type = this.ref(this.u32(p + 4), `param ${i} type`, p + 4, true);
          if (type === 0 && (i !== vlen - 1 || pName !== "")) {
            throw this.err(`invalid arg#${i + 1}: only an unnamed last parameter may be void (varargs)`, p + 4);
          }
          params[i] = { name: pName, type };
        }
        return [{ kind: "func_proto", id, name, returnType, params }, BTF_TYPE_SIZE + vlen * 8];
      }
      case BTF_KIND_VAR: {
        this.need(data, 4);
        noVlen();
        noKflag();
        named("variable");
        const type = this.ref(sizeOrType, "variable type", off + 8, false);
        const linkage = this.u32(data);
        if (linkage >= LINKAGES.length) throw this.err(`linkage ${linkage} not supported`, data);
        return [{ kind: "var", id, name, type, linkage: LINKAGES[linkage] }, BTF_TYPE_SIZE + 4];
      }
      case BTF_KIND_DATASEC: {
        this.need(data, vlen * 12);
        noKflag();
        named("datasec");
        // The kernel refuses an empty DATASEC when BTF is loaded into it, but clang emits one for
        // an empty `.rodata` and libbpf reads such objects, so an object's BTF may have it.
        const vars: BtfVarSecinfo[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = data + i * 12;
          const type = this.ref(this.u32(v), `datasec entry ${i} type`, v, false);
          vars[i] = { type, offset: this.u32(v + 4), size: this.u32(v + 8) };
        }
        return [{ kind: "datasec", id, name, size: sizeOrType, vars }, BTF_TYPE_SIZE + vlen * 12];
      }
      case BTF_KIND_FLOAT:
        noVlen();
        noKflag();
        if (![2, 4, 8, 12, 16].includes(sizeOrType)) throw this.err(`invalid float size ${sizeOrType}`, off + 8);
        return [{ kind: "float", id, name, size: sizeOrType }, BTF_TYPE_SIZE];
      case BTF_KIND_DECL_TAG: {
        this.need(data, 4);
        noVlen();
        named("decl tag");
        const type = this.ref(sizeOrType, "decl tag target", off + 8, false);
        const componentIdx = this.view.getInt32(data, this.le);
        if (componentIdx < -1) throw this.err(`invalid component_idx ${componentIdx}`, data);
        return [{ kind: "decl_tag", id, name, type, componentIdx }, BTF_TYPE_SIZE + 4];
      }
      default:
        throw this.err(`invalid kind ${kind}`, off + 4);
    }
  }
}

/** Every type id `t` mentions. */
function referencedIds(t: BtfType): readonly number[] {
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
    case "var":
    case "func":
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

/** The kernel's two resolve modes that can meet a loop: through pointers, or by value. */
type ResolveMode = "ptr" | "struct";

/**
 * The ids the kernel's `btf_resolve` pushes after `t` in `mode` (`env_type_is_resolve_sink`):
 * following a pointer, only modifiers and further pointers; inside a struct or array, only
 * modifiers, arrays and structs. A cycle in either graph is its "Loop detected"; a cycle that
 * passes through both a pointer and a struct (a linked list) is not.
 */
function loopEdges(t: BtfType, types: readonly BtfType[], mode: ResolveMode): readonly number[] {
  let ids: readonly number[];
  switch (t.kind) {
    case "ptr":
      if (mode !== "ptr") return [];
      ids = [t.type];
      break;
    case "typedef":
    case "volatile":
    case "const":
    case "restrict":
    case "type_tag":
      ids = [t.type];
      break;
    case "array":
    case "struct":
    case "union":
      if (mode !== "struct") return [];
      ids = referencedIds(t);
      break;
    default:
      return [];
  }
  return ids.filter((id) => {
    const k = types[id].kind;
    return REF_KIND_NAMES.has(k) || (mode === "ptr" ? k === "ptr" : k === "array" || k === "struct" || k === "union");
  });
}

const REF_KIND_NAMES = new Set(["typedef", "volatile", "const", "restrict", "type_tag"]);

/** Pass 3: id ranges, kinds of referenced types, and reference loops. */
function checkGraph(types: readonly BtfType[], startId: number, offsets: readonly number[], section: string): void {
  const n = types.length;
  const err = (id: number, message: string) =>
    new BtfError(message, { typeId: id, section, offset: offsets[id - startId] });
  for (let id = startId; id < n; id++) {
    const t = types[id];
    for (const r of referencedIds(t)) {
      if (r >= n) throw err(id, `references type id ${r}, but there are only ${n} types`);
    }
    switch (t.kind) {
      case "func":
        if (types[t.type].kind !== "func_proto") throw err(id, `func type [${t.type}] is not a FUNC_PROTO`);
        break;
      case "datasec":
        for (const v of t.vars) {
          const k = types[v.type].kind;
          if (k !== "var" && k !== "func") throw err(id, `datasec entry [${v.type}] is a ${k}, not a VAR`);
        }
        break;
      case "decl_tag": {
        const target = types[t.type];
        if (target.kind === "struct" || target.kind === "union") {
          if (t.componentIdx >= target.members.length) throw err(id, `invalid component_idx ${t.componentIdx}`);
        } else if (target.kind === "func") {
          const proto = types[target.type];
          const nparams = proto.kind === "func_proto" ? proto.params.length : 0;
          if (t.componentIdx >= nparams) throw err(id, `invalid component_idx ${t.componentIdx}`);
        } else if (target.kind === "var" || target.kind === "typedef") {
          if (t.componentIdx !== -1) throw err(id, `invalid component_idx ${t.componentIdx}`);
        } else {
          throw err(id, `decl tag target [${t.type}] is a ${target.kind}`);
        }
        break;
      }
      default:
        break;
    }
  }
  findLoops(types, startId, "ptr", err);
  findLoops(types, startId, "struct", err);
}

/** Iterative three-colour DFS over `loopEdges` in `mode` (no recursion: chains can be 100k long). */
function findLoops(
  types: readonly BtfType[],
  startId: number,
  mode: ResolveMode,
  err: (id: number, message: string) => BtfError,
): void {
  const n = types.length;
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const colour = new Uint8Array(n);
  for (let id = 0; id < startId; id++) colour[id] = BLACK;
  const stackIds: number[] = [];
  const stackEdges: (readonly number[])[] = [];
  const stackPos: number[] = [];
  for (let root = startId; root < n; root++) {
    if (colour[root] !== WHITE) continue;
    colour[root] = GREY;
    stackIds.push(root);
    stackEdges.push(loopEdges(types[root], types, mode));
    stackPos.push(0);
    while (stackIds.length > 0) {
      const top = stackIds.length - 1;
      const edges = stackEdges[top];
      const pos = stackPos[top];
      if (pos === edges.length) {
        colour[stackIds[top]] = BLACK;
        stackIds.pop();
        stackEdges.pop();
        stackPos.pop();
        continue;
      }
      stackPos[top] = pos + 1;
      const next = edges[pos];
      if (colour[next] === GREY)
        throw err(next, `reference loop detected (${mode === "ptr" ? "through pointers" : "by value"})`);
      if (colour[next] === WHITE) {
        colour[next] = GREY;
        stackIds.push(next);
        stackEdges.push(loopEdges(types[next], types, mode));
        stackPos.push(0);
      }
    }
  }
}
