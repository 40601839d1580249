/**
 * JIT speed benchmark (part of `npm run bench`): how long tsbpf's arm64 JIT takes to compile,
 * in microseconds per 1 000 BPF instructions (target ≤ 50 µs).
 *
 * The workload is what the real kernel compiled: every program the oracle recorded (the
 * kernel's own post-verifier instructions and function layout, test/fixtures/exceptions/arm64-jit
 * and, when present, test/fixtures/jit/arm64), plus synthetic long straight-line programs so
 * that per-program overhead does not hide the per-instruction cost. Each program is compiled
 * repeatedly for the measuring time; the median of several samples is reported.
 *
 * Most of the corpus's instructions are in a few long programs (the long-branch tests), so the
 * corpus total mostly measures per-instruction cost; the row for the corpus without them shows
 * what the many small programs cost, where fixed per-program and per-function work dominates.
 *
 * Usage: npm run bench -- [--json] [--seconds S]   (bench/run.ts takes the same flags)
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type JitInput, jitProgram, readJitInfo } from "../src/arm64/jit/index.ts";
import { type Insn, programFromInsns } from "../src/isa/insn.ts";

const TARGET_US_PER_1000 = 50;
const SAMPLES = 5;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIRS = ["test/fixtures/exceptions/arm64-jit", "test/fixtures/jit/arm64"];
/** Programs at least this long are reported apart from the small ones too (see above). */
const LONG_PROGRAM = 10000;

interface Workload {
  name: string;
  input: JitInput;
  insns: number;
}

/** Every recorded program: `<stem>.xlated.bin` with its `.info` (and hidden callback's). */
function recorded(): Workload[] {
  const out: Workload[] = [];
  for (const d of DIRS) {
    const dir = join(ROOT, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith(".xlated.bin")) continue;
      const stem = f.slice(0, -".xlated.bin".length);
      const info = join(dir, `${stem}.info`);
      if (!existsSync(info)) continue;
      const cb = join(dir, `${stem}.default_cb.info`);
      const input = readJitInfo(
        readFileSync(info, "utf8"),
        readFileSync(join(dir, f)),
        existsSync(cb) ? readFileSync(cb, "utf8") : undefined,
      );
      out.push({ name: stem, input, insns: input.insns.length });
    }
  }
  return out;
}

/** A long straight-line program: ALU, loads and stores on the stack, compares. */
function synthetic(n: number): Workload {
  const insns: Insn[] = [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }];
  for (let i = 0; insns.length < n - 1; i++) {
    const r = 1 + (i % 9);
    switch (i % 6) {
      case 0:
        insns.push({ code: 0x07, dst: r, src: 0, off: 0, imm: i * 0x101 });
        break;
      case 1:
        insns.push({ code: 0x0f, dst: 0, src: r, off: 0, imm: 0 });
        break;
      case 2:
        insns.push({ code: 0x7b, dst: 10, src: r, off: -8 * (1 + (i % 32)), imm: 0 });
        break;
      case 3:
        insns.push({ code: 0x79, dst: r, src: 10, off: -8 * (1 + (i % 32)), imm: 0 });
        break;
      case 4:
        insns.push({ code: 0x15, dst: r, src: 0, off: 1, imm: i });
        break;
      default:
        insns.push({ code: 0xbc, dst: r, src: 0, off: 0, imm: 0 });
    }
  }
  insns.push({ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 });
  return {
    name: `straight-line ${n}`,
    input: {
      insns: programFromInsns(insns),
      functions: [{ name: "f", start: 0, address: 0xffff800082000000n }],
      stackDepth: [256],
      exceptionBoundary: false,
      exceptionCallback: -1,
    },
    insns: insns.length,
  };
}

/** Median microseconds per compilation of `w`, measured for about `seconds`. */
function measure(w: Workload, seconds: number): number {
  const warm = performance.now();
  for (let i = 0; i < 20; i++) jitProgram(w.input); // warm-up
  // compile in batches of about 50 µs between clock readings, so that reading the clock is not
  // counted as JIT time (it is not negligible next to a small program)
  const once = (performance.now() - warm) / 20;
  const batch = Math.max(1, Math.floor(0.05 / Math.max(once, 1e-4)));
  const samples: number[] = [];
  const budgetMs = (seconds * 1e3) / SAMPLES;
  for (let s = 0; s < SAMPLES; s++) {
    let runs = 0;
    const t0 = performance.now();
    let dt = 0;
    while (dt < budgetMs) {
      for (let b = 0; b < batch; b++) jitProgram(w.input);
      runs += batch;
      dt = performance.now() - t0;
    }
    samples.push((dt * 1000) / runs);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(SAMPLES / 2)];
}

function main(): void {
  const json = process.argv.includes("--json");
  const si = process.argv.indexOf("--seconds");
  const seconds = si >= 0 ? Number(process.argv[si + 1]) : 1;
  const corpus = recorded();
  const rows: { name: string; insns: number; us: number; usPer1000: number }[] = [];
  // the recorded corpus as one workload: total time over total instructions; and its small
  // programs alone
  const total = { us: 0, insns: 0, programs: 0 };
  const small = { us: 0, insns: 0, programs: 0 };
  // measuring time in proportion to size (at least 20 ms each): the few long programs, most of
  // the instructions, get most of it and are not at the mercy of a few scheduling hiccups
  const corpusInsns = corpus.reduce((n, w) => n + w.insns, 0);
  const failed: string[] = [];
  for (const w of corpus) {
    try {
      jitProgram(w.input);
    } catch (e) {
      failed.push(`${w.name}: ${(e as Error).message}`);
      continue;
    }
    const us = measure(w, Math.max(0.02, (seconds * w.insns) / corpusInsns));
    for (const sum of w.insns < LONG_PROGRAM ? [total, small] : [total]) {
      sum.us += us;
      sum.insns += w.insns;
      sum.programs++;
    }
  }
  if (total.programs > 0) {
    rows.push({
      name: `recorded corpus (${total.programs} programs)`,
      insns: total.insns,
      us: total.us,
      usPer1000: (total.us / total.insns) * 1000,
    });
  }
  if (small.programs > 0 && small.programs < total.programs) {
    rows.push({
      name: `corpus without the ${total.programs - small.programs} long programs`,
      insns: small.insns,
      us: small.us,
      usPer1000: (small.us / small.insns) * 1000,
    });
  }
  for (const n of [1000, 10000]) {
    const w = synthetic(n);
    const us = measure(w, seconds);
    rows.push({ name: w.name, insns: w.insns, us, usPer1000: (us / w.insns) * 1000 });
  }
  if (json) {
    console.log(JSON.stringify({ jit: { target_us_per_1000: TARGET_US_PER_1000, rows, failed } }));
    return;
  }
  for (const f of failed) console.log(`  not compiled: ${f}`);
  console.log(`\narm64 JIT compile time (target ≤ ${TARGET_US_PER_1000} µs per 1000 BPF instructions)`);
  for (const r of rows) {
    console.log(
      `  ${r.name.padEnd(34)} ${String(r.insns).padStart(6)} insns  ${r.us.toFixed(1).padStart(9)} µs  ${r.usPer1000.toFixed(1).padStart(7)} µs/1000 insns`,
    );
  }
}

main();
