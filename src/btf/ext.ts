/**
 * The `.BTF.ext` section: per ELF code section, the FUNC of each BPF function (func_info), the
 * source line of instructions (line_info) and the CO-RE relocations clang recorded (core_relo).
 *
 *   header: magic u16 | version u8 | flags u8 | hdr_len u32
 *           func_info_off u32 | func_info_len u32 | line_info_off u32 | line_info_len u32
 *           [core_relo_off u32 | core_relo_len u32]          (when hdr_len >= 32)
 *   each info block (offsets from the end of the header):
 *           rec_size u32, then repeated { sec_name_off u32 | num_info u32 | num_info * rec_size }
 *
 * Follows libbpf's `btf_ext_parse` / `btf_ext_setup_info`: a block must be 4-aligned and inside
 * the section, its rec_size at least the record's known size (bpf_func_info 8, bpf_line_info 16,
 * bpf_core_relo 16) and a multiple of 4 — larger records are read by their known prefix and the
 * rest skipped, as libbpf does — and every section entry must have records that fit. On top of
 * that, every string offset must be inside the BTF string table, every type id in range (a
 * func_info's must be a FUNC), every insn_off a multiple of 8, and every CO-RE kind known, so
 * later stages never see a dangling reference. Instruction offsets become slot indexes
 * (`insn = insn_off / 8`).
 */
import { BtfError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import {
  BPF_CORE_RELO_MIN_SIZE,
  BPF_CORE_TYPE_MATCHES,
  BPF_FUNC_INFO_MIN_SIZE,
  BPF_LINE_INFO_MIN_SIZE,
  BTF_EXT_HEADER_CORE,
  BTF_EXT_HEADER_MIN,
  BTF_MAGIC,
  BTF_VERSION,
  type CoreReloKind,
} from "./constants.ts";

/** A `bpf_func_info`: the BPF function starting at slot `insn` has BTF FUNC `typeId`. */
export interface BtfFuncInfo {
  readonly insn: number;
  readonly typeId: number;
}

/** A `bpf_line_info`: slot `insn` comes from `file`:`line`:`column`, whose source text is `text`. */
export interface BtfLineInfo {
  readonly insn: number;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The source line ("" when clang recorded none). */
  readonly text: string;
}

/** A `bpf_core_relo`: the instruction at slot `insn` depends on `accessString` into local type `typeId`. */
export interface CoreRelo {
  readonly insn: number;
  /** Root type id in the object's (local) BTF. */
  readonly typeId: number;
  /** Colon-separated accessor indexes, e.g. "0:1:3" (always "0" for type-based kinds). */
  readonly accessString: string;
  readonly kind: CoreReloKind;
}

/** The .BTF.ext records of one ELF section. */
export interface BtfExtSection {
  readonly name: string;
  readonly funcInfo: readonly BtfFuncInfo[];
  readonly lineInfo: readonly BtfLineInfo[];
  readonly coreRelos: readonly CoreRelo[];
}

/** A parsed .BTF.ext: records by ELF section name, in file order. */
export interface BtfExt {
  readonly bigEndian: boolean;
  readonly sections: ReadonlyMap<string, BtfExtSection>;
  /** The record sizes the header declared (0 for an absent block). */
  readonly recordSizes: { readonly funcInfo: number; readonly lineInfo: number; readonly coreRelo: number };
}

/** Options of {@link parseBtfExt}. */
export interface ParseBtfExtOptions {
  /** Byte order of the container; must agree with the magic. */
  readonly bigEndian?: boolean;
  /** Name for error messages (default ".BTF.ext"). */
  readonly section?: string;
}

interface MutableSection {
  name: string;
  funcInfo: BtfFuncInfo[];
  lineInfo: BtfLineInfo[];
  coreRelos: CoreRelo[];
}

type BlockKind = "func_info" | "line_info" | "core_relo";

/** Parses .BTF.ext against the object's BTF (which owns its strings and types). */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, opts: ParseBtfExtOptions = {}): BtfExt {
  const section = opts.section ?? ".BTF.ext";
  const err = (message: string, offset: number, typeId?: number) => new BtfError(message, { section, offset, typeId });
  if (bytes.length < 8) throw err(`${bytes.length} bytes is too short for a .BTF.ext header`, 0);
  const magicLe = bytes[0] | (bytes[1] << 8);
  let le: boolean;
  if (magicLe === BTF_MAGIC) le = true;
  else if (magicLe === ((BTF_MAGIC >> 8) | ((BTF_MAGIC & 0xff) << 8))) le = false;
  else throw err(`invalid magic 0x${magicLe.toString(16).padStart(4, "0")}`, 0);
  if (opts.bigEndian !== undefined && opts.bigEndian === le) {
    throw err(`.BTF.ext is ${le ? "little" : "big"}-endian but its container is not`, 0);
  }
  if (btf.bigEndian === le) throw err("byte order differs from the BTF's", 0);
  if (bytes[2] !== BTF_VERSION) throw err(`unsupported version ${bytes[2]}`, 2);
  if (bytes[3] !== 0) throw err(`unsupported flags 0x${bytes[3].toString(16)}`, 3);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (off: number) => view.getUint32(off, le);
  const hdrLen = u32(4);
  if (hdrLen < BTF_EXT_HEADER_MIN) throw err(`hdr_len ${hdrLen} is too short`, 4);
  if (hdrLen > bytes.length) throw err(`hdr_len ${hdrLen} is past the end of the section`, 4);

  const sections = new Map<string, MutableSection>();
  const sectionFor = (name: string): MutableSection => {
    let s = sections.get(name);
    if (s === undefined) {
      s = { name, funcInfo: [], lineInfo: [], coreRelos: [] };
      sections.set(name, s);
    }
    return s;
  };
  const str = (off: number, what: string, at: number): string => {
    if (!btf.isValidString(off)) throw err(`${what} offset ${off} is outside the BTF string section`, at);
    return btf.stringAt(off);
  };
  const insnOf = (off: number, at: number): number => {
    if (off % 8 !== 0) throw err(`insn_off ${off} is not a multiple of 8`, at);
    return off / 8;
  };

  const block = (
    kind: BlockKind,
    headerAt: number,
    minSize: number,
    record: (sec: MutableSection, at: number) => void,
  ) => {
    const off = u32(headerAt);
    const len = u32(headerAt + 4);
    if (len === 0) return 0;
    const dataLen = bytes.length - hdrLen;
    if (off % 4 !== 0) throw err(`${kind} block offset ${off} is not 4-byte aligned`, headerAt);
    if (off > dataLen || len > dataLen - off) throw err(`${kind} block is not within .BTF.ext`, headerAt);
    if (len < 4) throw err(`${kind} block has no record size`, headerAt + 4);
    let at = hdrLen + off;
    const end = at + len;
    const recSize = u32(at);
    if (recSize < minSize || recSize % 4 !== 0) throw err(`${kind} has unexpected record size ${recSize}`, at);
    at += 4;
    while (at < end) {
      if (end - at < 8) throw err(`${kind} section header is truncated`, at);
      const name = str(u32(at), `${kind} section name`, at);
      const count = u32(at + 4);
      if (count === 0) throw err(`${kind} section "${name}" has no records`, at + 4);
      if (count > Math.floor((end - at - 8) / recSize)) {
        throw err(`${kind} section "${name}" has ${count} records, more than fit`, at + 4);
      }
      at += 8;
      const sec = sectionFor(name);
      for (let i = 0; i < count; i++, at += recSize) record(sec, at);
    }
    return recSize;
  };

  const funcInfo = block("func_info", 8, BPF_FUNC_INFO_MIN_SIZE, (sec, at) => {
    const typeId = u32(at + 4);
    if (typeId >= btf.typeCount || btf.types[typeId].kind !== "func") {
      throw err(`func_info type [${typeId}] is not a FUNC`, at + 4, typeId);
    }
    sec.funcInfo.push({ insn: insnOf(u32(at), at), typeId });
  });
  const lineInfo = block("line_info", 16, BPF_LINE_INFO_MIN_SIZE, (sec, at) => {
    const lineCol = u32(at + 12);
    sec.lineInfo.push({
      insn: insnOf(u32(at), at),
      file: str(u32(at + 4), "line_info file name", at + 4),
      text: str(u32(at + 8), "line_info line", at + 8),
      line: lineCol >>> 10,
      column: lineCol & 0x3ff,
    });
  });
  let coreRelo = 0;
  if (hdrLen >= BTF_EXT_HEADER_CORE) {
    coreRelo = block("core_relo", 24, BPF_CORE_RELO_MIN_SIZE, (sec, at) => {
      const typeId = u32(at + 4);
      if (typeId >= btf.typeCount) throw err(`core_relo type id ${typeId} out of range`, at + 4, typeId);
      const kind = u32(at + 12);
      if (kind > BPF_CORE_TYPE_MATCHES) throw err(`unknown CO-RE relocation kind ${kind}`, at + 12, typeId);
      sec.coreRelos.push({
        insn: insnOf(u32(at), at),
        typeId,
        accessString: str(u32(at + 8), "core_relo access string", at + 8),
        kind: kind as CoreReloKind,
      });
    });
  }
  return { bigEndian: !le, sections, recordSizes: { funcInfo, lineInfo, coreRelo } };
}
