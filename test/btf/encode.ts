/**
 * A small BTF writer for tests: builds raw `.BTF` bytes type by type, so tests can make exactly
 * the (valid or broken) BTF they need — split BTF over a fixture, reference loops, bad fields —
 * and hand it both to tsbpf and to bpftool.
 */
import type { Btf } from "../../src/btf/index.ts";

/** A member/param/enumerator row: 3 words. */
type Words = number[];

/** Builds BTF: add strings and types, then `bytes()`. */
export class BtfWriter {
  readonly #strings: number[] = [0];
  readonly #stringOffsets = new Map<string, number>([["", 0]]);
  readonly #types: Words[] = [];
  /** Offset of the first string of this table (the base's string length for split BTF). */
  readonly strStart: number;
  /** Id the next type gets. */
  nextId: number;

  constructor(base?: Btf) {
    this.strStart = base ? base.stringsLength : 0;
    this.nextId = base ? base.typeCount : 1;
    if (base) this.#strings.length = 0;
  }

  /** The offset of `s` in the string section (added once); "" is always offset 0, as pahole writes it. */
  str(s: string): number {
    if (s === "") return 0;
    const known = this.#stringOffsets.get(s);
    if (known !== undefined) return known;
    const off = this.strStart + this.#strings.length;
    for (const b of new TextEncoder().encode(s)) this.#strings.push(b);
    this.#strings.push(0);
    this.#stringOffsets.set(s, off);
    return off;
  }

  /** Adds a raw type record (words, little-endian by default); returns its id. */
  raw(words: Words): number {
    this.#types.push(words);
    return this.nextId++;
  }

  /** btf_type common part: name, info (kind, vlen, kflag), size/type. */
  static info(kind: number, vlen = 0, kflag = false): number {
    return ((kflag ? 1 : 0) * 0x80000000 + (kind << 24) + vlen) >>> 0;
  }

  int(name: string, size: number, bits = size * 8, encoding = 0, offset = 0): number {
    return this.raw([this.str(name), BtfWriter.info(1), size, ((encoding << 24) | (offset << 16) | bits) >>> 0]);
  }

  /** PTR (2), TYPEDEF (8), VOLATILE (9), CONST (10), RESTRICT (11), TYPE_TAG (18). */
  ref(kind: number, type: number, name = ""): number {
    return this.raw([this.str(name), BtfWriter.info(kind), type]);
  }

  ptr(type: number): number {
    return this.ref(2, type);
  }

  typedef(name: string, type: number): number {
    return this.ref(8, type, name);
  }

  array(type: number, indexType: number, nelems: number): number {
    return this.raw([0, BtfWriter.info(3), 0, type, indexType, nelems]);
  }

  /** STRUCT (or UNION): members as [name, type, bitOffset, bitSize?]; kflag when any bitSize is given. */
  struct(name: string, size: number, members: [string, number, number, number?][], union = false): number {
    const kflag = members.some((m) => m[3] !== undefined);
    const words = [this.str(name), BtfWriter.info(union ? 5 : 4, members.length, kflag), size];
    for (const [n, t, off, bits] of members) words.push(this.str(n), t, kflag ? ((bits ?? 0) << 24) | off : off);
    return this.raw(words.map((w) => w >>> 0));
  }

  enum(name: string, size: number, values: [string, number][], signed = false): number {
    const words = [this.str(name), BtfWriter.info(6, values.length, signed), size];
    for (const [n, v] of values) words.push(this.str(n), v >>> 0);
    return this.raw(words);
  }

  enum64(name: string, size: number, values: [string, bigint][], signed = false): number {
    const words = [this.str(name), BtfWriter.info(19, values.length, signed), size];
    for (const [n, v] of values) {
      const u = BigInt.asUintN(64, v);
      words.push(this.str(n), Number(u & 0xffffffffn), Number(u >> 32n));
    }
    return this.raw(words);
  }

  fwd(name: string, union = false): number {
    return this.raw([this.str(name), BtfWriter.info(7, 0, union), 0]);
  }

  func(name: string, proto: number, linkage = 1): number {
    return this.raw([this.str(name), BtfWriter.info(12, linkage), proto]);
  }

  funcProto(ret: number, params: [string, number][]): number {
    const words = [0, BtfWriter.info(13, params.length), ret];
    for (const [n, t] of params) words.push(this.str(n), t);
    return this.raw(words);
  }

  var(name: string, type: number, linkage = 1): number {
    return this.raw([this.str(name), BtfWriter.info(14), type, linkage]);
  }

  datasec(name: string, size: number, vars: [number, number, number][]): number {
    const words = [this.str(name), BtfWriter.info(15, vars.length), size];
    for (const v of vars) words.push(...v);
    return this.raw(words);
  }

  float(name: string, size: number): number {
    return this.raw([this.str(name), BtfWriter.info(16), size]);
  }

  declTag(value: string, type: number, componentIdx = -1): number {
    return this.raw([this.str(value), BtfWriter.info(17), type, componentIdx >>> 0]);
  }

  /** The type section's bytes. */
  typeBytes(le = true): Uint8Array {
    const words = this.#types.flat();
    const out = new Uint8Array(words.length * 4);
    const view = new DataView(out.buffer);
    for (const [i, w] of words.entries()) view.setUint32(i * 4, w >>> 0, le);
    return out;
  }

  /** The whole BTF blob: header, types, strings. */
  bytes(opts: { bigEndian?: boolean } = {}): Uint8Array {
    const le = !opts.bigEndian;
    const types = this.typeBytes(le);
    const strings = Uint8Array.from(this.#strings);
    const out = new Uint8Array(24 + types.length + strings.length);
    const view = new DataView(out.buffer);
    view.setUint16(0, 0xeb9f, le);
    out[2] = 1;
    out[3] = 0;
    view.setUint32(4, 24, le);
    view.setUint32(8, 0, le);
    view.setUint32(12, types.length, le);
    view.setUint32(16, types.length, le);
    view.setUint32(20, strings.length, le);
    out.set(types, 24);
    out.set(strings, 24 + types.length);
    return out;
  }
}
