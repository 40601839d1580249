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
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { disasmA64Image } from "../../src/arm64/asm/disasm.ts";
import { jitInputFromVerified } from "../../src/arm64/jit/from-verified.ts";
import { functionFacts, type JitFunction, type JitInput, jitProgram, readJitInfo } from "../../src/arm64/jit/index.ts";
import { main } from "../../src/cli/main.ts";
import type { Io } from "../../src/cli/output.ts";
import { TsbpfError } from "../../src/errors.ts";
import { allocProgram, type DecodedProgram } from "../../src/isa/insn.ts";
import { modelledKernelSymbols } from "../../src/kernel/kallsyms.ts";
import type { ObjectSpec, ProgramSpec } from "../../src/object/spec.ts";
import { openObjectSpec } from "../../src/runtime/object.ts";
import { verifyProgram } from "../../src/verifier/index.ts";
import { cli } from "../cli/run-cli.ts";
import { Prng } from "../elf/fixtures.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x31f0a64) >>> 0;
const CASES = Number(process.env.FUZZ_CASES ?? 16_000);
const WORKERS = Math.max(1, Number(process.env.FUZZ_WORKERS ?? 2));
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
  for (const dir of ["jit", "exceptions"]) {
    for (const file of readdirSync(join(FIXTURES, dir)).sort()) {
      if (!file.endsWith(".o")) continue;
      let spec: ObjectSpec;
      try {
        spec = openObjectSpec(new Uint8Array(readFileSync(join(FIXTURES, dir, file))), { fileName: file });
      } catch (e) {
        if (!(e instanceof TsbpfError)) throw e;
        continue; // a few exception fixtures are there to fail to load
      }
      for (const prog of spec.programs) out.push({ label: `${dir}/${file} ${prog.name}`, spec, prog });
    }
  }
  sourcesCache = out;
  return out;
}

// ------------------------------------------------------------------------------------ PRNG

class Rng extends Prng {
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
}

function rngFor(seed: number, index: number): Rng {
  let z = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return new Rng((z ^ (z >>> 16)) >>> 0);
}

const INTERESTING = [
  0, 1, -1, 2, 4, 7, 8, 12, 16, 31, 32, 63, 64, 0xff, 0xffff, 0x7fff, -0x8000, 0x7fffffff, -0x80000000,
];

function interesting(r: Rng): number {
  switch (r.int(4)) {
    case 0:
      return r.range(-16, 16);
    case 1:
      return r.int(4096);
    case 2:
      return r.pick(INTERESTING);
    default:
      return r.u32() | 0;
  }
}

/** Opcodes the JIT knows (and a few it does not). */
const CODES = [
  0x07, 0x0f, 0x04, 0x0c, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87,
  0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xb4, 0xbc, 0xc7, 0xcf, 0xd4, 0xdc, 0xd7, 0x05, 0x06, 0x15, 0x1d, 0x16, 0x1e,
  0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d, 0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5,
  0xdd, 0xe5, 0x85, 0x8d, 0x95, 0xf5, 0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x21, 0x29, 0x31, 0x39, 0x41,
  0x49, 0x51, 0x59, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0xd3, 0xcb, 0xc2, 0xda, 0x20, 0x28,
  0x30, 0x40, 0x00,
];

/** Opcodes of ALU, jump, load, store and atomic forms the JIT compiles (no legacy packet loads). */
const TIDY_CODES = CODES.filter((c) => ![0x20, 0x28, 0x30, 0x40, 0x00, 0x18, 0xf5, 0x8d, 0xe5].includes(c));

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

/** Damages xlated bytes; returns a description. */
function damageXlated(r: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string[] } {
  let x = new Uint8Array(bytes);
  const what: string[] = [];
  const rounds = r.chance(0.5) ? 1 : r.range(2, 4);
  for (let k = 0; k < rounds; k++) {
    const slot = x.length >= 8 ? r.int(Math.floor(x.length / 8)) * 8 : 0;
    switch (r.int(8)) {
      case 0:
        if (x.length > 0) {
          const at = r.int(x.length);
          x[at] = r.int(256);
          what.push(`byte@${at}=${x[at]}`);
        }
        break;
      case 1:
        if (x.length >= 8) {
          x[slot] = r.pick(CODES);
          what.push(`code@${slot / 8}=0x${x[slot].toString(16)}`);
        }
        break;
      case 2:
        if (x.length >= 8) {
          x[slot + 1] = r.chance(0.5) ? r.int(256) : (r.int(12) << 4) | r.int(12);
          what.push(`regs@${slot / 8}=0x${x[slot + 1].toString(16)}`);
        }
        break;
      case 3:
        if (x.length >= 8) {
          new DataView(x.buffer).setInt16(slot + 2, interesting(r), true);
          what.push(`off@${slot / 8}`);
        }
        break;
      case 4:
        if (x.length >= 8) {
          new DataView(x.buffer).setInt32(slot + 4, interesting(r), true);
          what.push(`imm@${slot / 8}`);
        }
        break;
      case 5: {
        const n = r.chance(0.5) ? r.int(x.length + 1) : Math.max(0, x.length - r.range(1, 7));
        x = x.slice(0, n);
        what.push(`truncate ${n}`);
        break;
      }
      case 6: {
        const extra = r.range(1, 24);
        const y = new Uint8Array(x.length + extra);
        y.set(x);
        for (let i = x.length; i < y.length; i++) y[i] = r.int(256);
        x = y;
        what.push(`append ${extra}`);
        break;
      }
      default:
        if (x.length >= 16) {
          const other = r.int(Math.floor(x.length / 8)) * 8;
          x.copyWithin(slot, other, other + 8);
          what.push(`slot ${slot / 8} = slot ${other / 8}`);
        }
    }
  }
  return { bytes: x, what };
}

const ADDRESSES = [
  "0",
  "4",
  "2",
  "ffff800082640000",
  "ffff800082640002",
  "ffffffffffffffff",
  "fffffffffffffffc",
  "1ffff800082640000",
  "ffffffffffffffffffffffff",
  "7fffffffffffffff",
  "8000000000000000",
];

/** Damages a layout text; returns it and a description. */
function damageLayout(r: Rng, info: string, slots: number): { info: string; what: string[] } {
  let lines = info.split("\n");
  const what: string[] = [];
  const rounds = r.chance(0.6) ? 1 : r.range(2, 3);
  const funcLines = () => lines.map((l, i) => (/^func(info)? /.test(l) ? i : -1)).filter((i) => i >= 0);
  for (let k = 0; k < rounds; k++) {
    const fl = funcLines();
    const at = fl.length > 0 ? r.pick(fl) : -1;
    switch (r.int(9)) {
      case 0: // a bogus function start
        lines.push(
          `funcinfo ${r.int(4)} insn_off ${r.pick([0, 1, slots - 1, slots, slots - 2, slots + 1, r.int(slots + 2), 99999999, 4294967296])} type_id 1`,
        );
        what.push(`funcinfo line: ${lines[lines.length - 1]}`);
        break;
      case 1: // a bogus address
        if (at >= 0 && lines[at].startsWith("func ")) {
          lines[at] = lines[at].replace(/0x[0-9a-f]+/, `0x${r.pick(ADDRESSES)}`);
          what.push(`address: ${lines[at]}`);
        }
        break;
      case 2: // an extra function
        lines.push(`func ${r.pick([1, 2, 3, 7, 100, 4294967296])} 0x${r.pick(ADDRESSES)}  0  8 extra`);
        if (r.chance(0.7))
          lines.push(`funcinfo ${lines[lines.length - 1].split(" ")[1]} insn_off ${r.int(slots + 2)} type_id 1`);
        what.push("extra function");
        break;
      case 3: // a missing line
        if (at >= 0) {
          what.push(`dropped: ${lines[at]}`);
          lines.splice(at, 1);
        }
        break;
      case 4: // a duplicated line
        if (at >= 0) {
          lines.push(lines[at]);
          what.push(`duplicated: ${lines[at]}`);
        }
        break;
      case 5: // reordered lines
        lines = lines.reverse();
        what.push("reversed");
        break;
      case 6: // a stray default-callback line
        lines.push(`ksym 0x${r.pick(ADDRESSES)} len ${r.int(100)} bpf_prog_x_F`);
        what.push("ksym line");
        break;
      case 7: // a number changed
        if (at >= 0) {
          let n = 0;
          const target = r.int(4);
          lines[at] = lines[at].replace(/\d+/g, (m) =>
            n++ === target ? String(r.pick([0, 1, 2, 8, 1 << 20, 2 ** 53, Number(m) + 1])) : m,
          );
          what.push(`changed: ${lines[at]}`);
        }
        break;
      default: // random garbage
        if (at >= 0) {
          const l = lines[at];
          const p = r.int(l.length + 1);
          lines[at] = l.slice(0, p) + String.fromCharCode(r.range(32, 126)) + l.slice(p + 1);
          what.push(`garbled: ${lines[at]}`);
        }
    }
  }
  if (r.chance(0.1)) {
    lines = [];
    what.push("empty layout");
  }
  return { info: lines.join("\n"), what };
}

/** A random instruction stream (raw or slot-wise) and a random layout for it. */
function randomProgram(r: Rng): { xlated: Uint8Array; info: string; what: string } {
  const n = r.range(1, 64);
  let x: Uint8Array;
  let what: string;
  if (r.chance(0.3)) {
    x = new Uint8Array(r.chance(0.8) ? n * 8 : r.int(n * 8 + 1));
    for (let i = 0; i < x.length; i++) x[i] = r.int(256);
    what = `${x.length} random bytes`;
  } else {
    // slots of real opcodes with plausible operands: registers r0-r10, jumps inside the
    // program, small shifts, ld_imm64 with its second half, zero offsets for ALU operations
    // (tidy ones: a single function of the opcodes the JIT takes with operands it takes)
    const tidy = r.chance(0.5);
    const slots = tidy ? Math.min(n, 24) : n;
    x = new Uint8Array(slots * 8);
    const v = new DataView(x.buffer);
    for (let i = 0; i < slots; i++) {
      const code = tidy ? r.pick(TIDY_CODES) : r.chance(0.97) ? r.pick(CODES) : r.int(256);
      const cls = code & 7;
      const mem = cls === 1 || cls === 2 || cls === 3;
      const jump = (cls === 5 || cls === 6) && code !== 0x85 && code !== 0x95;
      x[i * 8] = code;
      x[i * 8 + 1] = r.chance(tidy ? 1 : 0.97) ? (r.int(11) << 4) | r.int(11) : r.int(256);
      if (tidy && mem) x[i * 8 + 1] = cls === 1 ? (10 << 4) | r.int(10) : (r.int(10) << 4) | 10;
      const off = jump
        ? r.int(slots) - (i + 1)
        : tidy && !mem
          ? 0
          : r.chance(0.5)
            ? -8 * r.range(1, 8)
            : interesting(r);
      v.setInt16(i * 8 + 2, tidy || r.chance(0.9) ? off : interesting(r), true);
      let imm = tidy ? r.int(32) : r.chance(0.2) ? r.range(-slots, slots) : interesting(r);
      if (tidy && (code & 0xe7) === 0xc3) imm = r.pick([0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]);
      if (tidy && code === 0x85) imm = r.range(1, 8);
      v.setInt32(i * 8 + 4, imm, true);
      if (code === 0x18 && i + 1 < slots) {
        i++;
        v.setInt32(i * 8 + 4, interesting(r), true);
      }
    }
    if (tidy || r.chance(0.8)) x[(slots - 1) * 8] = 0x95;
    if (tidy) x[(slots - 1) * 8 + 1] = 0;
    what = `${slots} random${tidy ? " tidy" : ""} slots`;
    if (tidy) return { xlated: x, info: "func 0 0xffff800082640000 0 0 f0\n", what };
  }
  const nf = r.chance(0.7) ? 1 : r.range(2, 4);
  const starts = [0];
  for (let f = 1; f < nf; f++)
    starts.push(r.chance(0.9) ? Math.min(n - 1, starts[f - 1] + r.range(1, 8)) : r.int(n + 2));
  const lines = ["# func  ksym_addr  offset  len  name"];
  let addr = 0xffff800082640000n;
  starts.forEach((s, f) => {
    lines.push(`func ${f} 0x${(r.chance(0.9) ? addr : BigInt(`0x${r.pick(ADDRESSES)}`)).toString(16)}  0  0 f${f}`);
    lines.push(`funcinfo ${f} insn_off ${s} type_id 1`);
    addr += BigInt(r.range(1, 64) * 4);
  });
  return { xlated: x, info: lines.join("\n"), what: `${what}, functions at ${starts.join(",")}` };
}

/** Changes the facts of a JitInput. */
function damageFacts(r: Rng): { facts: (input: JitInput) => JitInput; what: string } {
  const DEPTHS = [0, 8, 16, 504, 512, 520, 4096, 1 << 20, 2 ** 31, -8, 7, 3];
  switch (r.int(5)) {
    case 0: {
      const d = r.pick(DEPTHS);
      return { facts: (i) => ({ ...i, stackDepth: i.functions.map(() => d) }), what: `stack depths ${d}` };
    }
    case 1: {
      const cb = r.pick([-2, -1, 0, 1, 2, 5, 100]);
      return { facts: (i) => ({ ...i, exceptionCallback: cb }), what: `exception callback ${cb}` };
    }
    case 2: {
      const b = r.chance(0.5);
      return { facts: (i) => ({ ...i, exceptionBoundary: b }), what: `exception boundary ${b}` };
    }
    case 3:
      return {
        facts: (i) => ({ ...i, pseudoCallImm: i.pseudoCallImm === "relative" ? "index" : "relative" }),
        what: "pseudo call imm relative",
      };
    default: {
      const start = r.pick([-1, 0, 1, 2, 3, 1000]);
      const address = BigInt(`0x${r.pick(ADDRESSES)}`);
      return {
        facts: (i) => ({ ...i, functions: [...i.functions, { name: "extra", start, address }] }),
        what: `extra function at ${start}, 0x${address.toString(16)}`,
      };
    }
  }
}

/**
 * A gently mutated copy of a fixture program: an immediate nudged by a little (loop bounds stay
 * small, so the verifier stays fast) or a memory offset moved by a word.
 */
function nudge(r: Rng, p: DecodedProgram): { insns: DecodedProgram; what: string } {
  const q = allocProgram(p.length);
  q.code.set(p.code);
  q.dst.set(p.dst);
  q.src.set(p.src);
  q.off.set(p.off);
  q.imm.set(p.imm);
  const at = r.int(p.length);
  if (q.code[at] === 0x18 || (at > 0 && q.code[at - 1] === 0x18) || q.code[at] === 0x85)
    return { insns: q, what: "unchanged" };
  const cls = q.code[at] & 7;
  if (cls === 5 || cls === 6 || r.chance(0.5)) {
    q.imm[at] = q.imm[at] + r.range(-8, 8);
    return { insns: q, what: `imm@${at}=${q.imm[at]}` };
  }
  q.off[at] = q.off[at] + r.pick([-8, -4, 4, 8]);
  return { insns: q, what: `off@${at}=${q.off[at]}` };
}

function generateCase(seed: number, index: number): FuzzCase {
  const r = rngFor(seed, index);
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

/** A failed invariant: a plain Error, so it is never mistaken for an allowed TsbpfError. */
class InvariantError extends Error {}

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

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function describeCase(seed: number, index: number): string {
  const c = generateCase(seed, index);
  const head = [
    `seed 0x${seed.toString(16)}, case ${index} (${c.kind}): ${c.what}`,
    `reproduce: FUZZ_SEED=0x${seed.toString(16)} FUZZ_ONLY=${index} node scripts/run-tests.mjs arm64/jit-fuzz`,
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

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? `\ncaused by: ${e.cause.stack ?? e.cause.message}` : "";
  return `${e.stack ?? `${e.name}: ${e.message}`}${cause}`;
}

// ------------------------------------------------------------------------------------ workers

interface WorkerInput {
  seed: number;
  cases: number;
  worker: number;
  workers: number;
  progress: SharedArrayBuffer;
}

type WorkerOutput = { ok: true; stats: Stats } | { ok: false; index: number; error: string };

async function workerMain(input: WorkerInput): Promise<void> {
  const progress = new Int32Array(input.progress);
  const stats = newStats();
  recorded();
  sources();
  let out: WorkerOutput = { ok: true, stats };
  for (let i = input.worker; i < input.cases; i += input.workers) {
    Atomics.store(progress, input.worker, i + 1);
    try {
      await runCase(generateCase(input.seed, i), i, stats);
    } catch (e) {
      out = { ok: false, index: i, error: errorText(e) };
      break;
    }
  }
  // before answering: the answer gets the worker terminated
  if (scratchDir !== undefined) rmSync(scratchDir, { recursive: true, force: true });
  parentPort?.postMessage(out);
}

function runWorker(seed: number, cases: number, worker: number, workers: number): Promise<Stats> {
  const progress = new SharedArrayBuffer(4 * workers);
  const cur = new Int32Array(progress);
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => m.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
  const w = new Worker(boot, {
    eval: true,
    execArgv: [],
    workerData: { seed, cases, worker, workers, progress } satisfies WorkerInput,
  });
  return new Promise<Stats>((resolve, reject) => {
    let last = -1;
    let lastChange = Date.now();
    const watchdog = setInterval(() => {
      const now = Atomics.load(cur, worker);
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > HANG_MS) {
        clearInterval(watchdog);
        void w.terminate();
        const at = now - 1;
        reject(
          new Error(
            at < 0
              ? `worker ${worker} made no progress for ${HANG_MS} ms while loading the fixtures`
              : `hang: case ${at} made no progress for ${HANG_MS} ms\n${describeCase(seed, at)}`,
          ),
        );
      }
    }, 250);
    const finish = () => clearInterval(watchdog);
    w.once("message", (m: WorkerOutput) => {
      finish();
      void w.terminate();
      if (m.ok) resolve(m.stats);
      else reject(new Error(`case ${m.index} failed:\n${m.error}\n\n${describeCase(seed, m.index)}`));
    });
    w.once("error", (e) => {
      finish();
      reject(e);
    });
    w.once("exit", (code) => {
      finish();
      if (code !== 0) reject(new Error(`fuzz worker exited with code ${code}`));
    });
  });
}

function merge(all: readonly Stats[]): Stats {
  const s = newStats();
  for (const x of all) {
    s.cases += x.cases;
    s.images += x.images;
    for (const k of KINDS) {
      s.byKind[k] += x.byKind[k];
      s.okByKind[k] += x.okByKind[k];
    }
    for (const [k, v] of Object.entries(x.errors)) s.errors[k] = (s.errors[k] ?? 0) + v;
    if (x.slowestMs > s.slowestMs) {
      s.slowestMs = x.slowestMs;
      s.slowest = x.slowest;
    }
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
  await workerMain(workerData as WorkerInput);
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
    const parts = await Promise.all(Array.from({ length: WORKERS }, (_, w) => runWorker(SEED, CASES, w, WORKERS)));
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
