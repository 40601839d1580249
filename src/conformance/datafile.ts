/**
 * Parser of bpf_conformance `.data` files, exactly as `third_party/bpf_conformance/README.md`
 * specifies them (the reference is `parse_test_file` in bpf_conformance's
 * `src/bpf_test_parser.cc`).
 *
 * A file is line oriented: a line containing `--` opens a section whose keyword is found as a
 * substring, in the order `asm`, `result`, `mem`, `raw`, `no register offset`, ` c`, `error`; a
 * `--` line with none of them is an unknown directive, which the reference parser answers by
 * skipping the file and tsbpf by a {@link DataFileError}. `#` starts a comment; a trailing CR is
 * dropped. Parsing only collects the sections; {@link dataFileProgram} turns `-- raw` or `-- asm`
 * into a program.
 *
 * `-- raw` comes in two forms. The positive tests use 64-bit words (`0x…` or decimal), one per
 * slot, whose little-endian bytes are the slot. The `negative/unused-*.data` files write each
 * slot byte by byte (`07 00 01 00 01 00 00 00`). A section is read as bytes when every one of its
 * lines is exactly eight two-digit hex tokens without `0x`, otherwise as words.
 */
import { AsmError } from "../errors.ts";
import { assembleConformance } from "../isa/asm-conformance.ts";
import { type DecodedProgram, decodeProgram } from "../isa/insn.ts";

/**
 * A malformed `.data` file (unknown directive, bad number, bad byte). It extends
 * {@link AsmError} because a `.data` file is assembly source: it has the same `file` and
 * 1-based `line`.
 */
export class DataFileError extends AsmError {}

/** A section's text with the file line of its first content line. */
export interface DataSection {
  /** 1-based line number (in the `.data` file) of the line after the `--` header. */
  readonly line: number;
  /** The section's lines, CR dropped, comments kept (the assembler strips them). */
  readonly text: string;
}

/** The `-- raw` program: slot bytes in little-endian layout, and how the file wrote them. */
export interface RawSection {
  readonly line: number;
  readonly form: "words" | "bytes";
  readonly bytes: Uint8Array;
}

/** The content of one `.data` file. Absent sections are null. */
export interface DataFile {
  readonly file: string | undefined;
  /** Number of lines in the file. */
  readonly lines: number;
  readonly asm: DataSection | null;
  readonly raw: RawSection | null;
  /** `-- mem` bytes (the input memory), or null without a `-- mem` section. */
  readonly mem: Uint8Array | null;
  /** Expected final r0 as an unsigned 64-bit value, or null without a (non-empty) `-- result`. */
  readonly result: bigint | null;
  /** Line of the `-- result` value used (its last non-empty line), or 0. */
  readonly resultLine: number;
  /** Expected error text ("" for an empty `-- error`), or null without an `-- error` section. */
  readonly error: string | null;
}

/** The section kinds of the format; `ignore` covers the header, `-- no register offset` and `-- c`. */
type SectionKind = "ignore" | "asm" | "result" | "mem" | "raw" | "error";

/** Keyword → section, in the order the reference parser tests them. */
const DIRECTIVES: readonly (readonly [string, SectionKind])[] = [
  ["asm", "asm"],
  ["result", "result"],
  ["mem", "mem"],
  ["raw", "raw"],
  ["no register offset", "ignore"],
  [" c", "ignore"],
  ["error", "error"],
];

/** A section's non-empty lines (comment stripped, trimmed) with their line numbers. */
interface Collected {
  header: number;
  lines: { line: number; text: string }[];
  /** Raw lines (CR dropped) for the asm section. */
  rawLines: string[];
}

/**
 * Parses the text of a `.data` file. `file` is used in error locations only. Throws
 * {@link DataFileError} on an unknown directive, a malformed `-- mem`, `-- raw` or `-- result`
 * value, or a repeated section.
 */
export function parseDataFile(text: string, file?: string): DataFile {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const sections = new Map<SectionKind, Collected>();
  let current: Collected | null = null;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (line.includes("--")) {
      const hit = DIRECTIVES.find(([kw]) => line.includes(kw));
      if (!hit) throw new DataFileError(lineNo, `Unknown directive: ${line.trim()}`, file);
      const kind = hit[1];
      if (kind === "ignore") {
        current = null;
        continue;
      }
      if (sections.has(kind)) throw new DataFileError(lineNo, `Duplicate section: -- ${kind}`, file);
      current = { header: lineNo, lines: [], rawLines: [] };
      sections.set(kind, current);
      continue;
    }
    if (!current) continue;
    current.rawLines.push(line);
    const hash = line.indexOf("#");
    const content = (hash >= 0 ? line.slice(0, hash) : line).trim();
    if (content) current.lines.push({ line: lineNo, text: content });
  }

  const asm = sections.get("asm");
  const raw = sections.get("raw");
  const mem = sections.get("mem");
  const result = sections.get("result");
  const error = sections.get("error");
  const lastResult = result?.lines.at(-1);
  return {
    file,
    lines: lines.length,
    asm: asm ? { line: asm.header + 1, text: asm.rawLines.join("\n") } : null,
    raw: raw ? parseRaw(raw, file) : null,
    mem: mem ? parseMem(mem, file) : null,
    result: lastResult ? parseResult(lastResult.text, lastResult.line, file) : null,
    resultLine: lastResult?.line ?? 0,
    error: error ? (error.lines.at(-1)?.text ?? "") : null,
  };
}

/**
 * The program of a parsed file: `-- raw` when present (it replaces `-- asm`), else the assembled
 * `-- asm`. Throws {@link AsmError} when the assembly does not assemble or the file has no
 * program at all (`negative/empty*.data`).
 */
export function dataFileProgram(df: DataFile): DecodedProgram {
  if (df.raw) return decodeProgram(df.raw.bytes);
  if (df.asm) return assembleConformance(df.asm.text, df.file, df.asm.line);
  throw new AsmError(Math.max(df.lines, 1), "No instructions: the file has neither -- asm nor -- raw", df.file);
}

const BYTE_LINE = /^[0-9a-fA-F]{2}(?:\s+[0-9a-fA-F]{2}){7}$/;

function parseRaw(sec: Collected, file: string | undefined): RawSection {
  const bytesForm = sec.lines.length > 0 && sec.lines.every((l) => BYTE_LINE.test(l.text));
  const out: number[] = [];
  if (bytesForm) {
    for (const l of sec.lines) for (const tok of l.text.split(/\s+/)) out.push(Number.parseInt(tok, 16));
    return { line: sec.header + 1, form: "bytes", bytes: Uint8Array.from(out) };
  }
  const bytes = new Uint8Array(8 * sec.lines.reduce((n, l) => n + l.text.split(/\s+/).length, 0));
  const view = new DataView(bytes.buffer);
  let slot = 0;
  for (const l of sec.lines) {
    for (const tok of l.text.split(/\s+/)) {
      const v = parseUnsigned(tok);
      if (v === null || v >= 1n << 64n)
        throw new DataFileError(l.line, `Invalid -- raw instruction word: ${tok}`, file);
      view.setBigUint64(8 * slot++, v, true);
    }
  }
  return { line: sec.header + 1, form: "words", bytes };
}

function parseMem(sec: Collected, file: string | undefined): Uint8Array {
  const out: number[] = [];
  for (const l of sec.lines) {
    for (const tok of l.text.split(/\s+/)) {
      if (!/^(?:0x)?[0-9a-f]{1,2}$/i.test(tok)) throw new DataFileError(l.line, `Invalid -- mem byte: ${tok}`, file);
      out.push(Number.parseInt(tok.replace(/^0x/i, ""), 16));
    }
  }
  return Uint8Array.from(out);
}

/** A `-- result` value: hex when it contains `0x`, else decimal; negative decimals wrap to 64 bits. */
function parseResult(text: string, line: number, file: string | undefined): bigint {
  let v: bigint | null = null;
  if (text.includes("0x")) {
    if (/^0x[0-9a-f]{1,16}$/i.test(text)) v = BigInt(text);
  } else if (/^-?[0-9]+$/.test(text)) {
    v = BigInt(text);
    if (v < -(1n << 63n) || v >= 1n << 64n) v = null;
    else v = BigInt.asUintN(64, v);
  }
  if (v === null) throw new DataFileError(line, `Invalid -- result value: ${text}`, file);
  return v;
}

/** An unsigned `0x` hex or decimal integer, or null. */
function parseUnsigned(tok: string): bigint | null {
  if (/^0x[0-9a-f]+$/i.test(tok) || /^[0-9]+$/.test(tok)) return BigInt(tok);
  return null;
}
