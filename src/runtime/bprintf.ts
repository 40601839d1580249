/**
 * The printf engine of the printf-like helpers (bpf_trace_printk, bpf_trace_vprintk,
 * bpf_snprintf): the kernel's `bpf_bprintf_prepare` (kernel/bpf/helpers.c), which validates the
 * format and copies every argument out of BPF memory into a 512-byte binary argument area, and
 * `bstr_printf` (lib/vsprintf.c), which renders it.
 *
 * Accepted conversions, exactly as bpf_bprintf_prepare accepts them: `%%`, `%[0 +-][width]`
 * followed by `d i u x X` with an optional `l` or `ll`, `c`, `s`, `pks`, `pus`, `p` (bare or
 * followed by a space or punctuation), `pK`, `px`, `ps`, `pS`, `pB`, `pi4`, `pI4`, `pi6`, `pI6`.
 * Anything else, a non-printable character, or more conversions than arguments is -EINVAL.
 *
 * Deliberate difference: the kernel prints `%p` and `%pK` as a siphash of the address with a
 * boot-time random key; here the hash is a fixed mix of the address, so output is reproducible.
 * `%ps`/`%pS`/`%pB` print `0x<address>` (no BPF address is a kernel symbol).
 */
import { EINVAL, ENOSPC } from "./errno.ts";

/** MAX_BPRINTF_BIN_ARGS: bytes of copied arguments one call may use. */
export const MAX_BPRINTF_BIN_ARGS = 512;
/** MAX_BPRINTF_BUF: the output buffer of bpf_trace_printk. */
export const MAX_BPRINTF_BUF = 1024;
/** MAX_TRACE_PRINTK_VARARGS */
export const MAX_TRACE_PRINTK_VARARGS = 3;
/** MAX_BPRINTF_VARARGS: arguments bpf_snprintf and bpf_trace_vprintk take at most. */
export const MAX_BPRINTF_VARARGS = 12;

/** How the engine reads BPF memory: both return null when the access faults. */
export interface BprintfMemory {
  /**
   * strncpy_from_kernel_nofault: the bytes of the NUL-terminated string at `addr`, at most
   * `max - 1` of them (the copy is cut there), without the NUL; null if a byte faults first.
   */
  readString(addr: bigint, max: number): Uint8Array | null;
  /** copy_from_kernel_nofault: `n` bytes at `addr`, or null. */
  readBytes(addr: bigint, n: number): Uint8Array | null;
}

/** A validated conversion with its argument copied, ready for rendering. */
type Piece =
  | { readonly kind: "text"; readonly text: string }
  | {
      readonly kind: "int";
      readonly spec: Spec;
      readonly size: 4 | 8;
      readonly conv: "d" | "i" | "u" | "x" | "X";
      readonly value: bigint;
    }
  | { readonly kind: "char"; readonly spec: Spec; readonly value: number }
  | { readonly kind: "str"; readonly spec: Spec; readonly value: string }
  | { readonly kind: "ptr"; readonly spec: Spec; readonly ext: string; readonly value: bigint };

/** Flags and field width of one conversion. */
interface Spec {
  readonly left: boolean;
  readonly plus: boolean;
  readonly space: boolean;
  readonly zero: boolean;
  /** -1 when absent. */
  readonly width: number;
}

/** What a formatting attempt gives: the rendered text, or the errno the helper returns. */
export type BprintfResult =
  | { readonly ok: true; readonly text: string; readonly length: number }
  | { readonly ok: false; readonly errno: number; readonly reason: string };

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isPrint = (c: number): boolean => c >= 0x20 && c <= 0x7e;
const isPunct = (c: number): boolean =>
  (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

function fail(errno: number, reason: string): BprintfResult {
  return { ok: false, errno, reason };
}

/**
 * bpf_bprintf_prepare followed by bstr_printf into a buffer of `bufSize` bytes. `fmt` holds the
 * format bytes the program passed (its first NUL ends it; no NUL at all is -EINVAL), `args` the
 * raw 64-bit arguments of which the first `numArgs` may be used.
 */
export function bpfBprintf(
  fmt: Uint8Array,
  args: readonly bigint[],
  numArgs: number,
  mem: BprintfMemory,
  bufSize: number,
): BprintfResult {
  const end = fmt.indexOf(0);
  if (end < 0) return fail(EINVAL, "format string is not NUL-terminated");
  const f = fmt.subarray(0, end);
  const at = (i: number): number => (i < f.length ? f[i] : 0);
  const pieces: Piece[] = [];
  let binLeft = numArgs > 0 ? MAX_BPRINTF_BIN_ARGS : 0;
  let binUsed = 0;
  let numSpec = 0;
  let text = "";
  const flushText = () => {
    if (text !== "") pieces.push({ kind: "text", text });
    text = "";
  };
  // Reserves `n` bytes of the binary argument area (aligned to 4 for numbers).
  const take = (n: number, align: boolean): boolean => {
    if (align) binUsed = (binUsed + 3) & ~3;
    if (MAX_BPRINTF_BIN_ARGS - binUsed < n) return false;
    binUsed += n;
    binLeft = MAX_BPRINTF_BIN_ARGS - binUsed;
    return true;
  };

  for (let i = 0; i < f.length; i++) {
    const c = f[i];
    if ((!isPrint(c) && !isSpace(c)) || c > 0x7f) {
      return fail(EINVAL, `invalid character 0x${c.toString(16)} in format at ${i}`);
    }
    if (c !== 0x25) {
      text += String.fromCharCode(c);
      continue;
    }
    if (at(i + 1) === 0x25) {
      text += "%";
      i++;
      continue;
    }
    if (numSpec >= numArgs) return fail(EINVAL, `more conversions than the ${numArgs} arguments`);
    const start = i;
    i++;
    let left = false;
    let plus = false;
    let space = false;
    let zero = false;
    for (;;) {
      const ch = at(i);
      if (ch === 0x30) zero = true;
      else if (ch === 0x2b) plus = true;
      else if (ch === 0x2d) left = true;
      else if (ch === 0x20) space = true;
      else break;
      i++;
    }
    let width = -1;
    if (at(i) >= 0x31 && at(i) <= 0x39) {
      width = 0;
      while (isDigit(at(i))) width = width * 10 + (at(i++) - 0x30);
    }
    const spec: Spec = { left, plus, space, zero, width };
    const arg = BigInt.asUintN(64, args[numSpec] ?? 0n);
    const conv = at(i);
    flushText();

    if (conv === 0x70 /* p */) {
      const n1 = at(i + 1);
      if ((n1 === 0x6b || n1 === 0x75) && at(i + 2) === 0x73) {
        // %pks / %pus: a kernel or user string.
        i += 2;
        const r = stringArg(spec, arg, n1 === 0x75, at(i + 1), mem, binLeft);
        if (!r.ok) return r.fail;
        if (!take(r.used, false)) return fail(ENOSPC, "argument area full");
        pieces.push(r.piece);
        numSpec++;
        continue;
      }
      if (n1 === 0 || isSpace(n1) || isPunct(n1) || n1 === 0x4b || n1 === 0x78 || n1 === 0x73 || n1 === 0x53) {
        if (!take(8, true)) return fail(ENOSPC, "argument area full");
        const ext = n1 === 0x4b || n1 === 0x78 || n1 === 0x73 || n1 === 0x53 ? String.fromCharCode(n1) : "";
        pieces.push({ kind: "ptr", spec, value: arg, ext });
        // Validation skips the byte after 'p' whatever it is; bstr_printf skips only the
        // alphanumerics there, so a space or punctuation after a bare %p is printed.
        i++;
        if (ext === "" && n1 !== 0) text += String.fromCharCode(n1);
        if (ext !== "") i = skipAlnum(at, i);
        numSpec++;
        continue;
      }
      if (n1 === 0x42 /* B */) {
        const s = `0x${arg.toString(16)}`;
        if (!take(s.length + 1, false)) return fail(ENOSPC, "argument area full");
        pieces.push({ kind: "str", spec, value: s });
        i = skipAlnum(at, i + 1);
        numSpec++;
        continue;
      }
      if ((n1 !== 0x69 && n1 !== 0x49) || (at(i + 2) !== 0x34 && at(i + 2) !== 0x36)) {
        return fail(EINVAL, `unsupported pointer conversion ${decode(f.subarray(start, Math.min(f.length, i + 3)))}`);
      }
      i += 2;
      const v6 = at(i) === 0x36;
      const size = v6 ? 16 : 4;
      if (binLeft < size) return fail(ENOSPC, "argument area full");
      const ip = mem.readBytes(arg, size) ?? new Uint8Array(size);
      const s = formatIp(ip, n1 === 0x49, v6);
      if (!take(s.length + 1, false)) return fail(ENOSPC, "argument area full");
      pieces.push({ kind: "str", spec, value: s });
      i = skipAlnum(at, i);
      numSpec++;
      continue;
    }
    if (conv === 0x73 /* s */) {
      const r = stringArg(spec, arg, false, at(i + 1), mem, binLeft);
      if (!r.ok) return r.fail;
      if (!take(r.used, false)) return fail(ENOSPC, "argument area full");
      pieces.push(r.piece);
      numSpec++;
      continue;
    }
    if (conv === 0x63 /* c */) {
      if (binLeft === 0) return fail(ENOSPC, "argument area full");
      take(1, false);
      pieces.push({ kind: "char", spec, value: Number(arg & 0xffn) });
      numSpec++;
      continue;
    }
    let size: 4 | 8 = 4;
    if (at(i) === 0x6c) {
      size = 8;
      i++;
    }
    if (at(i) === 0x6c) {
      size = 8;
      i++;
    }
    const k = at(i);
    if (k !== 0x69 && k !== 0x64 && k !== 0x75 && k !== 0x78 && k !== 0x58) {
      return fail(EINVAL, `unsupported conversion ${decode(f.subarray(start, Math.min(f.length, i + 1)))}`);
    }
    if (!take(size, true)) return fail(ENOSPC, "argument area full");
    pieces.push({
      kind: "int",
      spec,
      size,
      conv: String.fromCharCode(k) as "d" | "i" | "u" | "x" | "X",
      value: size === 4 ? arg & 0xffffffffn : arg,
    });
    numSpec++;
  }
  flushText();
  const out = pieces.map(render).join("");
  return { ok: true, text: out.length < bufSize ? out : out.slice(0, Math.max(0, bufSize - 1)), length: out.length };
}

type StringArg = { ok: true; piece: Piece; used: number } | { ok: false; fail: BprintfResult };

/** The `fmt_str` path: checks the next format byte and copies the string (bpf_trace_copy_string). */
function stringArg(
  spec: Spec,
  addr: bigint,
  _user: boolean,
  next: number,
  mem: BprintfMemory,
  room: number,
): StringArg {
  if (next !== 0 && !isSpace(next) && !isPunct(next)) {
    return { ok: false, fail: fail(EINVAL, "a string conversion must be followed by a space or punctuation") };
  }
  if (room === 0) return { ok: false, fail: fail(ENOSPC, "argument area full") };
  // A user pointer has no memory behind it in this runtime: it faults like an unmapped page.
  const bytes = _user ? null : mem.readString(addr, room);
  const value = bytes === null ? "" : decode(bytes);
  return { ok: true, piece: { kind: "str", spec, value }, used: bytes === null ? 1 : bytes.length + 1 };
}

function decode(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** %pI4 / %pi4 / %pI6 / %pi6 as lib/vsprintf.c prints them. */
function formatIp(b: Uint8Array, dotted: boolean, v6: boolean): string {
  if (!v6) return [...b].map((x) => (dotted ? String(x) : String(x).padStart(3, "0"))).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16).padStart(4, "0"));
  return dotted ? groups.join(":") : groups.join("");
}

function pad(s: string, spec: Spec, zeroOk: boolean, signLen = 0): string {
  if (spec.width < 0 || s.length >= spec.width) return s;
  const n = spec.width - s.length;
  if (spec.left) return s + " ".repeat(n);
  if (spec.zero && zeroOk) return s.slice(0, signLen) + "0".repeat(n) + s.slice(signLen);
  return " ".repeat(n) + s;
}

/** A 64-bit value mixed into 32 bits: stands in for the kernel's keyed pointer hash. */
function hashPointer(v: bigint): bigint {
  let x = BigInt.asUintN(64, v);
  x = BigInt.asUintN(64, (x ^ (x >> 33n)) * 0xff51afd7ed558ccdn);
  x = BigInt.asUintN(64, (x ^ (x >> 33n)) * 0xc4ceb9fe1a85ec53n);
  return (x ^ (x >> 33n)) & 0xffffffffn;
}

function render(p: Piece): string {
  switch (p.kind) {
    case "text":
      return p.text;
    case "char":
      return pad(String.fromCharCode(p.value), { ...p.spec, zero: false }, false);
    case "str":
      return pad(p.value, { ...p.spec, zero: false }, false);
    case "int": {
      const bits = p.size * 8;
      if (p.conv === "d" || p.conv === "i") {
        const v = BigInt.asIntN(bits, p.value);
        const sign = v < 0n ? "-" : p.spec.plus ? "+" : p.spec.space ? " " : "";
        const s = sign + (v < 0n ? -v : v).toString(10);
        return pad(s, p.spec, true, sign.length);
      }
      const u = BigInt.asUintN(bits, p.value);
      const s = p.conv === "u" ? u.toString(10) : p.conv === "x" ? u.toString(16) : u.toString(16).toUpperCase();
      return pad(s, p.spec, true);
    }
    case "ptr": {
      if (p.ext === "s" || p.ext === "S") return pad(`0x${p.value.toString(16)}`, p.spec, false);
      // pointer_string: 16 zero-padded hex digits unless a width is given.
      const raw = p.ext === "x" || p.value === 0n ? p.value : hashPointer(p.value);
      const digits = raw.toString(16);
      if (p.spec.width < 0) return digits.padStart(16, "0");
      return pad(digits, p.spec, true);
    }
  }
}

/**
 * bstr_printf ignores every alphanumeric after a `%p` extension (`%pKfoo` prints no "foo"):
 * returns the index of the last one following `i`.
 */
function skipAlnum(at: (i: number) => number, i: number): number {
  let j = i;
  while (isAlnum(at(j + 1))) j++;
  return j;
}
