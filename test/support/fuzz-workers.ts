// The machinery the fuzz tests share: the fuzz loop runs in worker threads (the test file itself,
// loaded again through tsx), each reporting the case it is on through a SharedArrayBuffer, and
// the test's thread watches them, so that a case that hangs is reported with its reproduction
// instead of stalling the test run.
//
// A fuzz test file calls `fuzzWorkerMain` when it is not the main thread, and `runWorkers` from
// its test; cases are generated from (seed, case index) alone, so the main thread can describe
// the case a worker failed or hung in.
import { parentPort, Worker } from "node:worker_threads";

/** A failed invariant: a plain Error, so it is never mistaken for an allowed TsbpfError. */
export class InvariantError extends Error {}

/** An error's stack (or name and message), and with `causes` its cause's. */
export function errorText(e: unknown, causes = true): string {
  if (!(e instanceof Error)) return String(e);
  const cause = causes && e.cause instanceof Error ? `\ncaused by: ${e.cause.stack ?? e.cause.message}` : "";
  return `${e.stack ?? `${e.name}: ${e.message}`}${cause}`;
}

/** Bytes as hex digits, two a byte. */
export function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** The line of a failure report that says how to rerun the case alone. */
export function reproduceHint(seed: number, index: number, filter: string): string {
  return `reproduce: FUZZ_SEED=0x${seed.toString(16)} FUZZ_ONLY=${index} node scripts/run-tests.mjs ${filter}`;
}

/** What a worker is given: it runs cases worker, worker + workers, ... below cases. */
export interface WorkerInput {
  readonly seed: number;
  readonly cases: number;
  readonly worker: number;
  readonly workers: number;
  /** One Int32 a worker: 1 + the case it is on, 0 while it loads. */
  readonly progress: SharedArrayBuffer;
}

/** A worker's answer: its statistics, or the first case that failed and why. */
export type WorkerOutput<S> = { ok: true; stats: S } | { ok: false; index: number; error: string };

export interface WorkerOptions {
  /** Report the causes of errors too (default true). */
  readonly causes?: boolean;
  /** Runs before the worker answers (the answer gets it terminated). */
  readonly beforeAnswer?: () => void;
}

/**
 * The fuzz loop of a worker: runs its share of the cases with `runCase`, counting into `stats`,
 * until one throws, and answers the main thread.
 */
export async function fuzzWorkerMain<S>(
  input: WorkerInput,
  stats: S,
  runCase: (index: number) => void | Promise<void>,
  opts: WorkerOptions = {},
): Promise<void> {
  const progress = new Int32Array(input.progress);
  let out: WorkerOutput<S> = { ok: true, stats };
  for (let i = input.worker; i < input.cases; i += input.workers) {
    Atomics.store(progress, input.worker, i + 1);
    try {
      const p = runCase(i);
      if (p !== undefined) await p;
    } catch (e) {
      out = { ok: false, index: i, error: errorText(e, opts.causes ?? true) };
      break;
    }
  }
  opts.beforeAnswer?.();
  parentPort?.postMessage(out);
}

/** A fuzz run, as the main thread sees it. */
export interface FuzzRun {
  /** The test file's `import.meta.url`: the workers load it again. */
  readonly url: string;
  readonly seed: number;
  readonly cases: number;
  /** A worker that makes no progress this long is reported as hung. */
  readonly hangMs: number;
  /**
   * What workers load before the first case ("the corpus"), for the report of a worker that hangs
   * before it; without, such a hang is reported as one of case 0.
   */
  readonly loading?: string;
  /** How the report of a failed case says it failed ("failed"). */
  readonly failed: string;
  /** The case, for the failure report. */
  readonly describeCase: (seed: number, index: number) => string;
}

/** Runs worker `worker` of `workers` (loaded through tsx), with a watchdog for hangs. */
export function runWorker<S>(run: FuzzRun, worker: number, workers: number): Promise<S> {
  const { seed, cases, hangMs, describeCase } = run;
  const progress = new SharedArrayBuffer(4 * workers);
  const cur = new Int32Array(progress);
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => m.tsImport(${JSON.stringify(run.url)}, ${JSON.stringify(run.url)}))`;
  const w = new Worker(boot, {
    eval: true,
    execArgv: [],
    workerData: { seed, cases, worker, workers, progress } satisfies WorkerInput,
  });
  return new Promise<S>((resolve, reject) => {
    let last = -1;
    let lastChange = Date.now();
    const watchdog = setInterval(() => {
      const now = Atomics.load(cur, worker);
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > hangMs) {
        clearInterval(watchdog);
        void w.terminate();
        const at = now - 1;
        reject(
          new Error(
            at < 0 && run.loading !== undefined
              ? `worker ${worker} made no progress for ${hangMs} ms while loading ${run.loading}`
              : `hang: case ${Math.max(at, 0)} made no progress for ${hangMs} ms\n${describeCase(seed, Math.max(at, 0))}`,
          ),
        );
      }
    }, 250);
    const finish = () => clearInterval(watchdog);
    w.once("message", (m: WorkerOutput<S>) => {
      finish();
      void w.terminate();
      if (m.ok) resolve(m.stats);
      else reject(new Error(`case ${m.index} ${run.failed}:\n${m.error}\n\n${describeCase(seed, m.index)}`));
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

/** Runs the cases on `workers` workers; the statistics of each. */
export function runWorkers<S>(run: FuzzRun, workers: number): Promise<S[]> {
  return Promise.all(Array.from({ length: workers }, (_, w) => runWorker<S>(run, w, workers)));
}

/** Adds the counts of `from` to those of `into`. */
export function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** The slowest case of a run and the time it took. */
export interface Slowest {
  slowestMs: number;
  slowest: number;
}

/** Keeps the slower of two slowest cases in `into`. */
export function keepSlowest(into: Slowest, from: Readonly<Slowest>): void {
  if (from.slowestMs > into.slowestMs) {
    into.slowestMs = from.slowestMs;
    into.slowest = from.slowest;
  }
}

/** A fuzz test's settings: FUZZ_SEED, FUZZ_CASES and FUZZ_WORKERS (at least 1), or the defaults. */
export function fuzzSettings(defaults: { seed: number; cases: number; workers?: number }): {
  seed: number;
  cases: number;
  workers: number;
} {
  return {
    seed: Number(process.env.FUZZ_SEED ?? defaults.seed) >>> 0,
    cases: Number(process.env.FUZZ_CASES ?? defaults.cases),
    workers: Math.max(1, Number(process.env.FUZZ_WORKERS ?? defaults.workers ?? 1)),
  };
}
