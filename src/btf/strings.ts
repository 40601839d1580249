/**
 * The BTF string section: NUL-terminated names addressed by byte offset, shared by the types,
 * .BTF.ext (file names, source lines, CO-RE access strings) and, for split BTF, continued from the
 * base BTF's strings (offsets below the base's length resolve in the base), as the kernel's
 * `btf_name_by_offset` and libbpf's `btf__str_by_offset` do.
 *
 * The parser has already checked that the section ends in NUL, so every valid offset has a
 * terminator and decoding never runs off the end.
 */
import { BtfError } from "../errors.ts";

const utf8 = new TextDecoder("utf-8");

/** A decoded string table with a per-offset cache (vmlinux names repeat a lot). */
export class BtfStrings {
  /** This table's own bytes (after the base's, for split BTF). */
  readonly bytes: Uint8Array;
  /** Offset at which `bytes` starts: the base table's total length, or 0. */
  readonly start: number;
  readonly #base: BtfStrings | undefined;
  readonly #cache = new Map<number, string>();

  constructor(bytes: Uint8Array, base?: BtfStrings) {
    this.bytes = bytes;
    this.#base = base;
    this.start = base ? base.length : 0;
  }

  /** Total length: base strings plus this table. */
  get length(): number {
    return this.start + this.bytes.length;
  }

  /** Whether `off` addresses a byte of the table (the kernel's `btf_name_offset_valid`). */
  valid(off: number): boolean {
    return off >= 0 && off < this.length;
  }

  /** The string at `off`; a BtfError (naming `what`) when `off` is out of range. */
  at(off: number, what = "string offset"): string {
    if (off < this.start) {
      if (this.#base && off >= 0) return this.#base.at(off, what);
      if (off === 0) return "";
      throw new BtfError(`${what} ${off} is outside the string section (length ${this.length})`);
    }
    const cached = this.#cache.get(off);
    if (cached !== undefined) return cached;
    const rel = off - this.start;
    if (rel >= this.bytes.length) {
      throw new BtfError(`${what} ${off} is outside the string section (length ${this.length})`);
    }
    const b = this.bytes;
    let end = rel;
    let ascii = true;
    while (end < b.length && b[end] !== 0) {
      if (b[end] >= 0x80) ascii = false;
      end++;
    }
    let s: string;
    if (ascii && end - rel <= 256) s = String.fromCharCode(...b.subarray(rel, end));
    else s = utf8.decode(b.subarray(rel, end));
    this.#cache.set(off, s);
    return s;
  }
}
