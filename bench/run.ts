/**
 * Interpreter speed benchmark (`npm run bench`): nanoseconds per executed BPF instruction on the
 * compute loops in `bench/programs/*.o`, with the host kernel's JIT as the reference baseline.
 *
 * Each object holds one SEC("tc") program that reads only `skb->len` from its context. The runner
 * loads its code section through `src/elf`, maps a context region shaped like `struct __sk_buff`
 * (len at offset 0; the interpreter needs no verifier ctx rewriting for that field), warms the
 * interpreter up, then times batches of runs and reports the median. When root and bpftool are
 * available it loads the same object into the kernel (`bench/kernel.ts`), times it with
 * BPF_PROG_TEST_RUN on a packet of the same length, and checks that both give the same r0.
 *
 * Usage: npm run bench [-- [--json] [--no-kernel] [--seconds S] [NAME...]]
 *   --json        machine-readable output on stdout
 *   --no-kernel   skip the kernel baseline
 *   --seconds S   measuring time per program and engine (default 1; warm-up not included)
 *   NAME          only the programs whose name contains NAME
 */
import { readdirSync, readFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readElf, SHF_EXECINSTR, STT_FUNC } from "../src/elf/index.ts";
import { Interpreter } from "../src/interp/index.ts";
import { decodeProgram } from "../src/isa/insn.ts";
import { KernelBaseline, type KernelRun } from "./kernel.ts";

/** The speed the interpreter is meant to reach. */
const TARGET_NS_PER_INSN = 5;
/** Packet length: the programs' seed (`skb->len`), identical for tsbpf and the kernel. */
const PACKET_LEN = 64;
/** sizeof(struct __sk_buff) in the uapi of v6.12. */
const SK_BUFF_SIZE = 192;
/** Timed samples per measurement; the median is reported. */
const SAMPLES = 5;

const PROGRAMS_DIR = fileURLToPath(new URL("./programs/", import.meta.url));

interface Options {
  json: boolean;
  kernel: boolean;
  seconds: number;
  filters: string[];
}

/** One benchmark object, loaded and ready to run in the interpreter. */
interface BenchProgram {
  name: string;
  objectPath: string;
  /** The function symbol, which is also the name bpftool pins the program under. */
  symbol: string;
  vm: Interpreter;
  ctxAddress: bigint;
}

/** Everything measured for one program. */
interface BenchResult {
  name: string;
  insnsPerRun: number;
  nsPerRun: number;
  nsPerInsn: number;
  r0: string;
  kernel: { nsPerRun: number; retval: number; ratio: number; match: boolean } | { error: string } | null;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { json: false, kernel: true, seconds: 1, filters: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") o.json = true;
    else if (a === "--no-kernel") o.kernel = false;
    else if (a === "--seconds") {
      o.seconds = Number(argv[++i]);
      if (!(o.seconds > 0)) throw new Error(`--seconds needs a positive number, got ${argv[i]}`);
    } else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else o.filters.push(a);
  }
  return o;
}

function loadProgram(name: string, objectPath: string): BenchProgram {
  const elf = readElf(new Uint8Array(readFileSync(objectPath)));
  const code = elf.sections.find((s) => s.name === "tc" && (s.flags & SHF_EXECINSTR) !== 0);
  if (code === undefined) throw new Error(`${objectPath}: no executable "tc" section`);
  if (elf.relocationsFor(code).length > 0) {
    throw new Error(`${objectPath}: section tc has relocations; benchmark programs must be self-contained`);
  }
  const fn = elf.symbols.find((s) => s.type === STT_FUNC && s.section === code && s.value === 0);
  if (fn === undefined) throw new Error(`${objectPath}: no function symbol at the start of section tc`);
  const program = decodeProgram(code.data(), { bigEndian: elf.bigEndian });
  const vm = new Interpreter(program);
  const ctx = new Uint8Array(SK_BUFF_SIZE);
  new DataView(ctx.buffer).setUint32(0, PACKET_LEN, true); // __sk_buff.len
  const region = vm.space.map("ctx", ctx, { name: "__sk_buff", writable: false });
  return { name, objectPath, symbol: fn.name, vm, ctxAddress: region.address(0) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Times the interpreter: warm-up, then SAMPLES batches sized to fill `seconds`. */
function measureInterp(p: BenchProgram, seconds: number): { insnsPerRun: number; nsPerRun: number; r0: bigint } {
  const args = [p.ctxAddress];
  const first = p.vm.run({ args });
  const runOnce = (): void => {
    const r = p.vm.run({ args });
    if (r.r0 !== first.r0 || r.insnCount !== first.insnCount) {
      throw new Error(`${p.name}: run is not deterministic (r0 ${r.r0} vs ${first.r0})`);
    }
  };
  // Warm-up: long enough for the JIT tiers to settle.
  const warmEnd = performance.now() + Math.max(300, seconds * 300);
  let calib = 0;
  while (performance.now() < warmEnd) {
    runOnce();
    calib++;
  }
  const warmNsPerRun = (Math.max(300, seconds * 300) * 1e6) / calib;
  const perSample = Math.max(1, Math.round((seconds * 1e9) / SAMPLES / warmNsPerRun));
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < perSample; k++) runOnce();
    samples.push(Number(process.hrtime.bigint() - t0) / perSample);
  }
  return { insnsPerRun: first.insnCount, nsPerRun: median(samples), r0: first.r0 };
}

/** Times the kernel JIT: a calibration run, then SAMPLES runs of `repeat` sized to fill `seconds`. */
function measureKernel(k: KernelBaseline, pinned: string, seconds: number): KernelRun | { error: string } {
  const calib = k.run(pinned, 100);
  if ("error" in calib) return calib;
  const repeat = Math.min(
    10_000_000,
    Math.max(100, Math.round((seconds * 1e9) / SAMPLES / Math.max(1, calib.nsPerRun))),
  );
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const r = k.run(pinned, repeat);
    if ("error" in r) return r;
    if (r.retval !== calib.retval)
      return { error: `kernel retval changed between runs (${r.retval} vs ${calib.retval})` };
    samples.push(r.nsPerRun);
  }
  return { retval: calib.retval, nsPerRun: median(samples) };
}

function fmt(x: number, digits: number): string {
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function printTable(results: readonly BenchResult[], kernelNote: string): void {
  const head = [
    "program",
    "insns/run",
    "tsbpf ns/run",
    "ns/insn",
    "kernel ns/run",
    "kernel ns/insn",
    "tsbpf/kernel",
    "r0",
  ];
  const rows = results.map((r) => {
    const k = r.kernel;
    const ok = k !== null && !("error" in k);
    return [
      r.name,
      fmt(r.insnsPerRun, 0),
      fmt(r.nsPerRun, 0),
      fmt(r.nsPerInsn, 2),
      ok ? fmt(k.nsPerRun, 0) : "-",
      ok ? fmt(k.nsPerRun / r.insnsPerRun, 3) : "-",
      ok ? `${fmt(k.ratio, 0)}x` : "-",
      ok ? (k.match ? `${r.r0} (= kernel)` : `${r.r0} != kernel ${k.retval}`) : r.r0,
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
  console.log();
  const geo = Math.exp(results.reduce((a, r) => a + Math.log(r.nsPerInsn), 0) / results.length);
  const missed = results.filter((r) => r.nsPerInsn > TARGET_NS_PER_INSN).map((r) => r.name);
  console.log(
    `geometric mean ${fmt(geo, 2)} ns/insn; target <= ${TARGET_NS_PER_INSN} ns/insn: ${
      missed.length === 0 ? "met by every program" : `MISSED by ${missed.join(", ")}`
    }`,
  );
  console.log(`kernel baseline: ${kernelNote}`);
  for (const r of results) {
    if (r.kernel !== null && "error" in r.kernel) console.log(`  ${r.name}: kernel baseline failed: ${r.kernel.error}`);
  }
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const names = readdirSync(PROGRAMS_DIR)
    .filter((f) => f.endsWith(".o"))
    .map((f) => f.slice(0, -2))
    .filter((n) => opts.filters.length === 0 || opts.filters.some((f) => n.includes(f)))
    .sort();
  if (names.length === 0) throw new Error(`no benchmark objects in ${PROGRAMS_DIR} (run bench/programs/build.sh)`);
  const programs = names.map((n) => loadProgram(n, join(PROGRAMS_DIR, `${n}.o`)));

  let kernel: KernelBaseline | null = null;
  let kernelNote: string;
  if (!opts.kernel) kernelNote = "skipped (--no-kernel)";
  else {
    const k = KernelBaseline.open(PACKET_LEN);
    if (typeof k === "string") kernelNote = `skipped: ${k}`;
    else {
      kernel = k;
      kernelNote = `Linux ${release()} JIT via bpftool prog run (BPF_PROG_TEST_RUN), median of ${SAMPLES}`;
    }
  }
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  if (!opts.json) {
    console.log(`tsbpf interpreter benchmark: node ${process.version}, ${cpu}, ${cpus().length} CPUs`);
    console.log(
      `skb->len = ${PACKET_LEN}; ${opts.seconds} s per program and engine after warm-up; median of ${SAMPLES}`,
    );
    console.log();
  }

  const results: BenchResult[] = [];
  let mismatches = 0;
  try {
    for (const p of programs) {
      const m = measureInterp(p, opts.seconds);
      let kres: BenchResult["kernel"] = null;
      if (kernel !== null) {
        const pinned = kernel.load(p.objectPath, p.name, p.symbol);
        const kr = typeof pinned === "string" ? measureKernel(kernel, pinned, opts.seconds) : pinned;
        if ("error" in kr) kres = kr;
        else {
          // BPF_PROG_TEST_RUN reports the low 32 bits of r0.
          const match = Number(m.r0 & 0xffffffffn) === kr.retval;
          if (!match) {
            mismatches++;
            process.stderr.write(
              `\n!!!!! MISMATCH: ${p.name}: tsbpf r0 = ${m.r0} (low 32 bits ${m.r0 & 0xffffffffn}), kernel retval = ${kr.retval} !!!!!\n\n`,
            );
          }
          kres = { nsPerRun: kr.nsPerRun, retval: kr.retval, ratio: m.nsPerRun / kr.nsPerRun, match };
        }
      }
      results.push({
        name: p.name,
        insnsPerRun: m.insnsPerRun,
        nsPerRun: m.nsPerRun,
        nsPerInsn: m.nsPerRun / m.insnsPerRun,
        r0: m.r0.toString(),
        kernel: kres,
      });
    }
  } finally {
    kernel?.close();
  }

  if (opts.json) {
    const out = {
      node: process.version,
      cpu,
      packetLen: PACKET_LEN,
      targetNsPerInsn: TARGET_NS_PER_INSN,
      kernel: kernelNote,
      programs: results,
    };
    console.log(JSON.stringify(out, null, 2));
  } else {
    printTable(results, kernelNote);
  }
  if (mismatches > 0) {
    process.stderr.write(`!!!!! ${mismatches} program(s) returned a different r0 than the kernel !!!!!\n`);
    process.exitCode = 1;
  }
}

main();
