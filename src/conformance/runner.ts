/**
 * The bpf_conformance runner: runs every `.data` file of a directory on a pluggable engine and
 * reports one PASS/FAIL per file, as bpf_conformance's `bpf_conformance_runner` does, with the
 * execution convention of `third_party/bpf_conformance/README.md`:
 *
 * - r1 = address of a private, writable copy of `-- mem` (0 without one), r2 = its length;
 * - helper 5 returns its first argument (also reached through `callx`);
 * - the full 64-bit r0 is compared with `-- result` (no truncation);
 * - a file that cannot be run (unknown directive, no result, no instructions, a rejected
 *   instruction) is a FAIL, never a skip;
 * - a file with `-- error` passes only if parsing, assembling, validating or running fails with a
 *   message that contains the expected text (an empty `-- error` accepts any failure).
 *
 * This module sits above the engines; the CLI (`tsbpf conformance DIR`) sits above it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { TsbpfError, UsageError } from "../errors.ts";
import { runRawProgram } from "../interp/index.ts";
import { type DecodedProgram, validateProgram } from "../isa/insn.ts";
import { HelperRegistry } from "../runtime/helpers.ts";
import { type DataFile, dataFileProgram, parseDataFile } from "./datafile.ts";

/** An execution engine the runner can drive (interpreter, wasm, arm64 JIT …). */
export interface Engine {
  /** Short name used in reports (`interp`). */
  readonly name: string;
  /**
   * Runs a validated program with r1 = address of `mem` (0 when null), r2 = its length, and the
   * given helpers; returns the final r0 as an unsigned 64-bit value. Failures throw a
   * `TsbpfError` (typically a `BpfFault`).
   */
  run(program: DecodedProgram, mem: Uint8Array | null, helpers: HelperRegistry): bigint;
}

/**
 * Instruction budget of one conformance run: far above what any test needs (the largest runs a
 * few hundred instructions), low enough that a looping program fails in well under a second.
 */
export const CONFORMANCE_BUDGET = 10_000_000;

/** The reference interpreter as a conformance engine (`--engine interp`). */
export function interpEngine(budget = CONFORMANCE_BUDGET): Engine {
  return {
    name: "interp",
    run: (program, mem, helpers) => runRawProgram(program, mem, { helpers, budget }).r0,
  };
}

/** Engines selectable by name (`tsbpf conformance --engine NAME`). */
export const CONFORMANCE_ENGINES: Readonly<Record<string, () => Engine>> = { interp: () => interpEngine() };

/** The engine called `name`; throws {@link UsageError} listing the known names otherwise. */
export function conformanceEngine(name: string): Engine {
  const make = Object.hasOwn(CONFORMANCE_ENGINES, name) ? CONFORMANCE_ENGINES[name] : undefined;
  if (!make) throw new UsageError(`unknown engine "${name}" (known: ${Object.keys(CONFORMANCE_ENGINES).join(", ")})`);
  return make();
}

/** Outcome of one file. */
export type ConformanceStatus = "pass" | "fail";

/** The result of one `.data` file. */
export interface ConformanceResult {
  /** File name (without directory). */
  readonly file: string;
  readonly status: ConformanceStatus;
  /** Why the file failed ("" when it passed). */
  readonly reason: string;
  /** Expected outcome: `0x…` (the r0 value) or `error: …`; null when the file gives none. */
  readonly expected: string | null;
  /** Actual outcome: `0x…` or `error: …`; null when the program never ran. */
  readonly actual: string | null;
}

/** Results of a directory run with totals. */
export interface ConformanceReport {
  readonly engine: string;
  readonly dir: string;
  readonly results: readonly ConformanceResult[];
  readonly passed: number;
  readonly failed: number;
}

/** The helper id the conformance tests call; it returns its first argument (r1). */
export const CONFORMANCE_HELPER_ID = 5;

/** The helpers of the conformance convention: helper 5 returns r1. */
export function conformanceHelpers(): HelperRegistry {
  return new HelperRegistry().register(CONFORMANCE_HELPER_ID, {
    name: "conformance_return_r1",
    args: ["anything"],
    ret: "integer",
    fn: (_env, r1) => r1,
  });
}

/** Formats a 64-bit value as `0x` plus lowercase hex. */
function hex64(v: bigint): string {
  return `0x${BigInt.asUintN(64, v).toString(16)}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs one `.data` file given as text. Never throws: every problem, including an engine bug,
 * becomes a FAIL with a reason.
 */
export function runConformanceText(
  name: string,
  text: string,
  engine: Engine,
  helpers: HelperRegistry = conformanceHelpers(),
): ConformanceResult {
  let df: DataFile;
  try {
    df = parseDataFile(text, name);
  } catch (e) {
    return { file: name, status: "fail", reason: `parse: ${errorText(e)}`, expected: null, actual: null };
  }
  const expected = df.error !== null ? `error: ${df.error}` : df.result !== null ? hex64(df.result) : null;
  const fail = (reason: string, actual: string | null): ConformanceResult => ({
    file: name,
    status: "fail",
    reason,
    expected,
    actual,
  });
  if (df.result === null && df.error === null) return fail("no -- result or -- error: nothing to check", null);

  // Every stage may fail; a failure is the expected outcome only for an `-- error` file, and
  // only when it is one of tsbpf's own errors (a JavaScript TypeError is an engine bug).
  const stage = (what: string, e: unknown): ConformanceResult => {
    const msg = errorText(e);
    const actual = `error: ${msg}`;
    if (!(e instanceof TsbpfError)) return fail(`${what}: internal error: ${msg}`, actual);
    if (df.error === null) return fail(`${what}: ${msg}`, actual);
    if (msg.includes(df.error)) return { file: name, status: "pass", reason: "", expected, actual };
    return fail(`${what}: expected error "${df.error}", got: ${msg}`, actual);
  };

  let program: DecodedProgram;
  try {
    program = dataFileProgram(df);
  } catch (e) {
    return stage("assemble", e);
  }
  try {
    validateProgram(program);
  } catch (e) {
    return stage("validate", e);
  }
  let r0: bigint;
  try {
    r0 = BigInt.asUintN(64, engine.run(program, df.mem ? df.mem.slice() : null, helpers));
  } catch (e) {
    return stage(`run (${engine.name})`, e);
  }
  const actual = hex64(r0);
  if (df.error !== null) return fail(`expected error "${df.error}" but the program returned ${actual}`, actual);
  if (df.result !== r0) return fail(`r0 is ${actual}, expected ${expected}`, actual);
  return { file: name, status: "pass", reason: "", expected, actual };
}

/** Runs one `.data` file from disk; an unreadable file is a FAIL. */
export function runConformanceFile(path: string, engine: Engine, helpers?: HelperRegistry): ConformanceResult {
  const name = basename(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { file: name, status: "fail", reason: `read: ${errorText(e)}`, expected: null, actual: null };
  }
  return runConformanceText(name, text, engine, helpers);
}

/** The `.data` files of `dir`, sorted by name. */
export function listDataFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".data"))
    .sort();
}

/**
 * Runs every `.data` file of `dir` (not recursive) on `engine`, in name order. `filter`, when
 * given, keeps only the files it accepts (by file name).
 */
export function runConformanceDir(
  dir: string,
  engine: Engine,
  options: { helpers?: HelperRegistry; filter?: (file: string) => boolean } = {},
): ConformanceReport {
  const helpers = options.helpers ?? conformanceHelpers();
  const results: ConformanceResult[] = [];
  for (const f of listDataFiles(dir)) {
    if (options.filter && !options.filter(f)) continue;
    results.push(runConformanceFile(join(dir, f), engine, helpers));
  }
  const passed = results.filter((r) => r.status === "pass").length;
  return { engine: engine.name, dir, results, passed, failed: results.length - passed };
}

/**
 * The text report: one line per file (`PASS name` or `FAIL name: reason`), then the summary
 * line `N passed, M failed`. Ends with a newline.
 */
export function formatConformanceReport(results: readonly ConformanceResult[]): string {
  const lines = results.map((r) => (r.status === "pass" ? `PASS ${r.file}` : `FAIL ${r.file}: ${r.reason}`));
  const passed = results.filter((r) => r.status === "pass").length;
  lines.push(`${passed} passed, ${results.length - passed} failed`);
  return `${lines.join("\n")}\n`;
}
