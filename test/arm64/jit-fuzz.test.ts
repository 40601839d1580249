// Robustness fuzzer for the arm64 JIT: `readJitInfo`, `jitProgram`, `jitInputFromVerified` and the
// `tsbpf jit --xlated F --layout F.info` command.
//
// Inputs, generated from (seed, case index) alone:
//
// - "xlated": the recorded post-verifier programs of test/fixtures/jit/arm64(-nolse) and
//   test/fixtures/exceptions/arm64-jit with damaged bytes: random bytes, opcodes, register
//   nibbles, immediates, truncation (also to lengths that are not a multiple of 8), garbage
//   appended;
// - "layout": the same programs with a damaged `.info` layout (and `.default_cb.info`): bogus
//   function starts, addresses (huge, unaligned, beyond 64 bits), indexes and counts, huge
//   offsets, missing, duplicated and reordered lines, a stray default-callback line;
// - "facts": a recorded program with bogus facts in its JitInput (stack depths, exception
//   boundary and callback, function table);
// - "random": fully random instruction streams (raw bytes, or random slots of real opcodes) with a
//   random layout;
// - "verified": fixture programs, some mutated, verified by tsbpf with the modelled kernel's
//   symbols (or without them) and compiled through `jitInputFromVerified` at random addresses;
// - "cli": the `tsbpf jit --xlated --layout [--default-cb] [--json] [--no-lse]` command on
//   damaged files (and missing ones, and bad options), run in-process.
//
// The contract: success, or a TsbpfError subclass (JitError, DecodeError, ...) — never another
// exception; on success every function's image is whole words that `disasmA64Image` decodes and
// the per-word tables are consistent; the CLI returns 0, or 1 or 2 with a one-line-per-problem
// message and no stack trace, and never throws.
//
// Reproduce a failure with FUZZ_SEED=<seed> FUZZ_ONLY=<index>; FUZZ_CASES changes the number of
// cases, FUZZ_WORKERS the number of worker threads.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isMainThread, workerData } from "node:worker_threads";
import { disasmA64Image } from "../../src/arm64/asm/disasm.ts";
import { jitInputFromVerified } from "../../src/arm64/jit/from-verified.ts";
import { functionFacts, type JitFunction, type JitInput, jitProgram, readJitInfo } from "../../src/arm64/jit/index.ts";
import { main } from "../../src/cli/main.ts";
import type { Io } from "../../src/cli/output.ts";
import { TsbpfError } from "../../src/errors.ts";
import { modelledKernelSymbols } from "../../src/kernel/kallsyms.ts";
import type { ObjectSpec, ProgramSpec } from "../../src/object/spec.ts";
import { verifyProgram } from "../../src/verifier/index.ts";
import { cli } from "../cli/run-cli.ts";
import { openFixtureObjects } from "../support/fixture-objects.ts";
import {
  addCounts,
  type FuzzRun,
  fuzzSettings,
  fuzzWorkerMain,
  hex,
  InvariantError,
  keepSlowest,
  reproduceHint,
  runWorkers,
  type WorkerInput,
} from "../support/fuzz-workers.ts";
import { caseRng } from "../support/rng.ts";
import { ADDRESSES, damageFacts, damageLayout, damageXlated, nudge, randomProgram } from "./jit-fuzz-inputs.ts";

const { seed: SEED, cases: CASES, workers: WORKERS } = fuzzSettings({ seed: 0x31f0a64, cases: 16_000, workers: 2 });
/**
 * Time bound of one case. Compiling takes milliseconds, but the CLI's annotated listing of the
 * long-branch fixtures (32 768 BPF instructions, up to 98 000 arm64 instructions) takes 1 to 2 s.
 */
const CASE_MS = 5_000;
/** A worker that makes no progress this long is reported as hung. */
const HANG_MS = 20_000;

const FIXTURES = join(import.meta.dirname, "../fixtures");

// ------------------------------------------------------------------------------------ corpus

/** A recorded program: xlated bytes, layout text, hidden-callback layout. */
interface Recorded {
  readonly label: string;
  readonly xlated: Uint8Array;
  readonly info: string;
  readonly defaultCb: string | undefined;
  readonly lse: boolean;
}

/** A fixture program to verify and compile. */
interface Source {
  readonly label: string;
  readonly spec: ObjectSpec;
  readonly prog: ProgramSpec;
}

let recordedCache: Recorded[] | undefined;
let sourcesCache: Source[] | undefined;

function recorded(): Recorded[] {
  if (recordedCache !== undefined) return recordedCache;
  const out: Recorded[] = [];
  for (const [dir, lse] of [
    ["jit/arm64", true],
    ["jit/arm64-nolse", false],
    ["exceptions/arm64-jit", true],
  ] as const) {
    const path = join(FIXTURES, dir);
    for (const f of readdirSync(path).sort()) {
      if (!f.endsWith(".xlated.bin")) continue;
      const stem = f.slice(0, -".xlated.bin".length);
      const cb = join(path, `${stem}.default_cb.info`);
      out.push({
        label: `${dir}/${stem}`,
        xlated: new Uint8Array(readFileSync(join(path, f))),
        info: readFileSync(join(path, `${stem}.info`), "utf8"),
        defaultCb: existsSync(cb) ? readFileSync(cb, "utf8") : undefined,
        lse,
      });
    }
  }
  recordedCache = out;
  return out;
}

function sources(): Source[] {
  if (sourcesCache !== undefined) return sourcesCache;
  const out: Source[] = [];
  // (a few exception fixtures are there to fail to load)
  for (const { dir, file, spec } of openFixtureObjects(FIXTURES, ["jit", "exceptions"]).opened)
    for (const prog of spec.programs) out.push({ label: `${dir}/${file} ${prog.name}`, spec, prog });
  sourcesCache = out;
  return out;
}

// ------------------------------------------------------------------------------------ cases

type Kind = "xlated" | "layout" | "facts" | "random" | "verified" | "cli";
const KINDS: readonly Kind[] = ["xlated", "layout", "facts", "random", "verified", "cli"];

interface ApiCase {
  readonly kind: Exclude<Kind, "cli" | "verified">;
  readonly what: string;
  readonly xlated: Uint8Array;
  readonly info: string;
  readonly defaultCb: string | undefined;
  readonly lse: boolean;
  /** Changes the JitInput that readJitInfo made ("facts"). */
  readonly facts?: (input: JitInput) => JitInput;
}

interface VerifiedCase {
  readonly kind: "verified";
  readonly what: string;
  readonly prog: ProgramSpec;
  readonly spec: ObjectSpec;
  readonly symbols: boolean;
  readonly addresses: readonly bigint[];
  readonly lse: boolean;
}

interface CliCase {
  readonly kind: "cli";
  readonly what: string;
  /** Files to write (name -> contents) and the arguments, with `@name` for a written file. */
  readonly files: ReadonlyMap<string, Uint8Array | string>;
  readonly args: readonly string[];
}

type FuzzCase = ApiCase | VerifiedCase | CliCase;

function generateCase(seed: number, index: number): FuzzCase {
  const r = caseRng(seed, index);
  const roll = r.int(100);
  const kind: Kind =
    roll < 30
      ? "xlated"
      : roll < 52
        ? "layout"
        : roll < 60
          ? "facts"
          : roll < 75
            ? "random"
            : roll < 88
              ? "verified"
              : "cli";
  if (kind === "verified") {
    const s = r.pick(sources());
    const n = r.chance(0.6) ? nudge(r, s.prog.insns) : { insns: s.prog.insns, what: "unchanged" };
    const addresses = r.chance(0.7) ? [] : s.prog.functions.map(() => BigInt(`0x${r.pick(ADDRESSES)}`));
    return {
      kind,
      what: `${s.label}: ${n.what}, addresses ${addresses.map((a) => `0x${a.toString(16)}`).join(",") || "0"}`,
      prog: { ...s.prog, insns: n.insns },
      spec: s.spec,
      symbols: r.chance(0.9),
      addresses,
      lse: r.chance(0.7),
    };
  }
  if (kind === "random") {
    const p = randomProgram(r);
    return { kind, what: p.what, xlated: p.xlated, info: p.info, defaultCb: undefined, lse: r.chance(0.7) };
  }
  const rec = r.pick(recorded());
  const slots = Math.floor(rec.xlated.length / 8);
  let xlated = rec.xlated;
  let info = rec.info;
  let defaultCb = rec.defaultCb;
  const what: string[] = [rec.label];
  if (kind === "xlated" || (kind === "cli" && r.chance(0.5))) {
    const d = damageXlated(r, xlated);
    xlated = d.bytes;
    what.push(...d.what);
  }
  if (kind === "layout" || (kind === "cli" && r.chance(0.5))) {
    if (defaultCb !== undefined && r.chance(0.3)) {
      const d = damageLayout(r, defaultCb, slots);
      defaultCb = d.info;
      what.push("default_cb:", ...d.what);
    } else {
      const d = damageLayout(r, info, slots);
      info = d.info;
      what.push(...d.what);
    }
  }
  if (kind === "cli") {
    const files = new Map<string, Uint8Array | string>([
      ["p.xlated.bin", xlated],
      ["p.info", info],
    ]);
    const args = ["jit", "--xlated", "@p.xlated.bin", "--layout", "@p.info"];
    if (defaultCb !== undefined && r.chance(0.8)) {
      files.set("p.default_cb.info", defaultCb);
      args.push("--default-cb", "@p.default_cb.info");
    }
    if (r.chance(0.3)) args.push("--json");
    if (!rec.lse || r.chance(0.2)) args.push("--no-lse");
    // bad command lines now and then: a missing file, an unknown option or architecture, a
    // lone --xlated, an object as well
    switch (r.int(12)) {
      case 0:
        args[r.pick([2, 4])] = "@missing";
        what.push("missing file");
        break;
      case 1:
        args.push(r.pick(["--arch", "--address"]), r.pick(["x86", "arm64", "0x1", ""]));
        what.push(`option ${args.slice(-2).join(" ")}`);
        break;
      case 2:
        args.splice(3, 2);
        what.push("no --layout");
        break;
      case 3:
        args.push("@p.info");
        what.push("a positional too");
        break;
      case 4:
        args.push("--bogus");
        what.push("unknown option");
        break;
    }
    return { kind, what: what.join(", "), files, args };
  }
  if (kind === "facts") {
    const f = damageFacts(r);
    return { kind, what: `${rec.label}: ${f.what}`, xlated, info, defaultCb, lse: rec.lse, facts: f.facts };
  }
  return { kind, what: what.join(", "), xlated, info, defaultCb, lse: r.chance(0.8) ? rec.lse : !rec.lse };
}

// ------------------------------------------------------------------------------------ checking

/** What must hold for a JIT result: whole words that decode, consistent per-word tables. */
function checkImages(fns: readonly JitFunction[], insns: number): void {
  if (fns.length === 0) throw new InvariantError("no functions");
  for (const f of fns) {
    if (f.bytes.length % 4 !== 0 || f.words.length * 4 !== f.bytes.length)
      throw new InvariantError(`${f.name}: ${f.bytes.length} bytes, ${f.words.length} words`);
    try {
      disasmA64Image(f.bytes, f.address);
    } catch (e) {
      throw new InvariantError(`${f.name}: image does not disassemble`, { cause: e });
    }
    const bpf = f.bpfIndex;
    if (bpf.length !== f.words.length) throw new InvariantError(`${f.name}: bpfIndex has ${bpf.length} entries`);
    for (const k of bpf)
      if (k < -1 || k >= insns) throw new InvariantError(`${f.name}: bpfIndex ${k} outside -1..${insns - 1}`);
    if (f.insns.length !== f.words.length) throw new InvariantError(`${f.name}: ${f.insns.length} insn records`);
  }
}

interface Stats {
  cases: number;
  byKind: Record<Kind, number>;
  okByKind: Record<Kind, number>;
  /** Error classes of refusals (and CLI exit codes). */
  errors: Record<string, number>;
  images: number;
  slowestMs: number;
  slowest: number;
}

function newStats(): Stats {
  const zero = () => Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  return { cases: 0, byKind: zero(), okByKind: zero(), errors: {}, images: 0, slowestMs: 0, slowest: -1 };
}

/** Runs `f`; a TsbpfError is counted and ends the case, anything else escapes. */
function allowed<T>(stats: Stats, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof InvariantError || !(e instanceof TsbpfError)) throw e;
    stats.errors[e.name] = (stats.errors[e.name] ?? 0) + 1;
    return undefined;
  }
}

let scratchDir: string | undefined;

async function runCli(c: CliCase, stats: Stats): Promise<boolean> {
  scratchDir ??= mkdtempSync(join(tmpdir(), "tsbpf-jit-fuzz-"));
  const dir = scratchDir;
  for (const [name, data] of c.files) writeFileSync(join(dir, name), data);
  const argv = c.args.map((a) => (a.startsWith("@") ? join(dir, a.slice(1)) : a));
  let out = "";
  let err = "";
  const io: Io = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    color: false,
  };
  let code: number;
  try {
    code = await main(argv, io);
  } catch (e) {
    throw new InvariantError("tsbpf jit threw instead of returning an exit code", { cause: e });
  }
  stats.errors[`exit ${code}`] = (stats.errors[`exit ${code}`] ?? 0) + 1;
  if (code === 0) {
    if (out === "" || err !== "") throw new InvariantError(`exit 0 with ${out.length} bytes out, stderr ${err}`);
    if (c.args.includes("--json")) {
      try {
        JSON.parse(out);
      } catch (e) {
        throw new InvariantError("--json printed something that is not JSON", { cause: e });
      }
    }
    return true;
  }
  if (code !== 1 && code !== 2) throw new InvariantError(`exit code ${code}`);
  if (!err.startsWith("tsbpf jit: "))
    throw new InvariantError(`exit ${code} without a message: ${JSON.stringify(err)}`);
  if (/\n\s+at /.test(err)) throw new InvariantError(`a stack trace on stderr: ${err}`);
  return false;
}

async function runCase(c: FuzzCase, index: number, stats: Stats): Promise<void> {
  stats.cases++;
  stats.byKind[c.kind]++;
  let t0 = performance.now();
  let ok = false;
  if (c.kind === "cli") ok = await runCli(c, stats);
  else if (c.kind === "verified") {
    const v = verifyProgram(c.prog, {
      btf: c.spec.btf ?? undefined,
      maps: c.spec.maps,
      ...(c.symbols ? { kernelSymbols: modelledKernelSymbols() } : {}),
    });
    t0 = performance.now(); // the verifier's time is test/verifier/fuzz.test.ts's business
    if (!v.ok) stats.errors.rejected = (stats.errors.rejected ?? 0) + 1;
    else {
      const fns = allowed(stats, () => {
        const input = jitInputFromVerified(v.prog, c.addresses);
        return { fns: jitProgram(input, { lse: c.lse }), n: input.insns.length };
      });
      if (fns !== undefined) {
        checkImages(fns.fns, fns.n);
        stats.images += fns.fns.length;
        ok = true;
      }
    }
  } else {
    const res = allowed(stats, () => {
      let input = readJitInfo(c.info, c.xlated, c.defaultCb);
      if (c.facts !== undefined) input = c.facts(input);
      functionFacts(input);
      return { fns: jitProgram(input, { lse: c.lse }), n: input.insns.length };
    });
    if (res !== undefined) {
      checkImages(res.fns, res.n);
      stats.images += res.fns.length;
      ok = true;
    }
  }
  if (ok) stats.okByKind[c.kind]++;
  const ms = performance.now() - t0;
  if (ms > stats.slowestMs) {
    stats.slowestMs = ms;
    stats.slowest = index;
  }
  if (ms > CASE_MS) throw new InvariantError(`took ${ms.toFixed(0)} ms (bound ${CASE_MS} ms)`);
}

function describeCase(seed: number, index: number): string {
  const c = generateCase(seed, index);
  const head = [
    `seed 0x${seed.toString(16)}, case ${index} (${c.kind}): ${c.what}`,
    reproduceHint(seed, index, "arm64/jit-fuzz"),
  ];
  if (c.kind === "cli") {
    head.push(`args: ${c.args.join(" ")}`);
    for (const [name, data] of c.files) head.push(`${name}: ${typeof data === "string" ? data : hex(data)}`);
  } else if (c.kind !== "verified") {
    head.push(`xlated (${c.xlated.length} bytes): ${hex(c.xlated)}`, `layout:\n${c.info}`);
    if (c.defaultCb !== undefined) head.push(`default_cb:\n${c.defaultCb}`);
    head.push(`lse: ${c.lse}`);
  }
  return head.join("\n");
}

// ------------------------------------------------------------------------------------ workers

const RUN: FuzzRun = {
  url: import.meta.url,
  seed: SEED,
  cases: CASES,
  hangMs: HANG_MS,
  loading: "the fixtures",
  failed: "failed",
  describeCase,
};

function merge(all: readonly Stats[]): Stats {
  const s = newStats();
  for (const x of all) {
    s.cases += x.cases;
    s.images += x.images;
    addCounts(s.byKind, x.byKind);
    addCounts(s.okByKind, x.okByKind);
    addCounts(s.errors, x.errors);
    keepSlowest(s, x);
  }
  return s;
}

// ------------------------------------------------------------------------------------ tests

if (isMainThread && process.env.FUZZ_ONLY === undefined) {
  // what the fuzzer found, pinned whatever the seed
  const stem = join(FIXTURES, "jit/arm64/alu.alu32_imm_bm_00ff00ff");
  const info = readFileSync(`${stem}.info`, "utf8");
  const xlated = new Uint8Array(readFileSync(`${stem}.xlated.bin`));
  /** The fixture with slot 1 replaced by `code dst src off imm`. */
  const withSlot = (code: number, regs: number, off: number, imm: number): Uint8Array => {
    const x = new Uint8Array(xlated);
    const v = new DataView(x.buffer);
    x[8] = code;
    x[9] = regs;
    v.setInt16(10, off, true);
    v.setInt32(12, imm, true);
    return x;
  };

  test("jit fuzz regression: a register field past r11 is a JitError, not a RangeError", () => {
    assert.throws(() => jitProgram(readJitInfo(info, withSlot(0xb7, 0x0c, 0, 1))), {
      name: "JitError",
      message: "jit: insn 1: invalid register r12 in 0xb7",
    });
  });

  test("jit fuzz regression: an operand the encoder refuses is a JitError naming the instruction", () => {
    // r1 <<= 70 (the verifier refuses it; an xlated file may hold it)
    assert.throws(() => jitProgram(readJitInfo(info, withSlot(0x67, 0x01, 0, 70))), {
      name: "JitError",
      message: /^jit: insn 1: shift amount 70 out of range/,
    });
  });

  test("jit fuzz regression: a stack depth the prologue cannot hold is a JitError", () => {
    const input = readJitInfo(info, xlated);
    assert.throws(() => jitProgram({ ...input, stackDepth: [4096] }), {
      name: "JitError",
      message: /stack depth 4096 outside 0\.\.512/,
    });
  });

  test("jit fuzz regression: tsbpf jit with a missing --layout or --default-cb file is a usage error", async () => {
    for (const args of [
      ["--layout", `${stem}.missing.info`],
      ["--layout", `${stem}.info`, "--default-cb", `${stem}.missing.info`],
    ]) {
      const r = await cli("jit", "--xlated", `${stem}.xlated.bin`, ...args);
      assert.equal(r.code, 2);
      assert.match(r.err, /^tsbpf jit: cannot read .*missing\.info: ENOENT/);
    }
  });
}

if (!isMainThread) {
  const input = workerData as WorkerInput;
  const stats = newStats();
  recorded();
  sources();
  await fuzzWorkerMain(input, stats, (i) => runCase(generateCase(input.seed, i), i, stats), {
    // before answering: the answer gets the worker terminated
    beforeAnswer: () => {
      if (scratchDir !== undefined) rmSync(scratchDir, { recursive: true, force: true });
    },
  });
} else if (process.env.FUZZ_ONLY !== undefined) {
  test(`jit fuzz: single case ${process.env.FUZZ_ONLY}`, async () => {
    const index = Number(process.env.FUZZ_ONLY);
    console.log(describeCase(SEED, index));
    const stats = newStats();
    try {
      await runCase(generateCase(SEED, index), index, stats);
    } finally {
      if (scratchDir !== undefined) rmSync(scratchDir, { recursive: true, force: true });
    }
    console.log(JSON.stringify(stats));
  });
} else {
  test(`jit fuzz: ${CASES} damaged and random programs, layouts and command lines compile or fail with a TsbpfError (seed 0x${SEED.toString(16)})`, async (t) => {
    const t0 = performance.now();
    const parts = await runWorkers<Stats>(RUN, WORKERS);
    const s = merge(parts);
    const secs = (performance.now() - t0) / 1000;
    const kinds = KINDS.map((k) => `${k} ${s.okByKind[k]}/${s.byKind[k]}`).join(", ");
    t.diagnostic(
      `seed 0x${SEED.toString(16)}: ${s.cases} cases in ${secs.toFixed(1)} s on ${WORKERS} workers; ` +
        `compiled/run by kind: ${kinds}; ${s.images} images disassembled; slowest case ${s.slowest} (${s.slowestMs.toFixed(0)} ms)`,
    );
    t.diagnostic(`refusals: ${JSON.stringify(s.errors)}`);
    assert.equal(s.cases, CASES);
    if (CASES >= 5000) {
      // guards against generators that silently stopped producing interesting inputs
      for (const k of KINDS) {
        assert.ok(s.okByKind[k] >= s.byKind[k] * 0.05, `${k}: ${s.okByKind[k]} of ${s.byKind[k]} succeeded`);
        if (k !== "verified")
          assert.ok(s.okByKind[k] <= s.byKind[k] * 0.95, `${k}: ${s.okByKind[k]} of ${s.byKind[k]} succeeded`);
      }
      assert.ok((s.errors.JitError ?? 0) >= CASES * 0.02, `JitErrors: ${s.errors.JitError}`);
      assert.ok((s.errors.DecodeError ?? 0) >= CASES * 0.02, `DecodeErrors: ${s.errors.DecodeError}`);
      assert.ok((s.errors["exit 1"] ?? 0) > 0 && (s.errors["exit 2"] ?? 0) > 0, "CLI exit codes 1 and 2");
    }
  });
}
