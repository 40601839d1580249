// tsbpf's maps against the real kernel: the operation sequences of
// test/fixtures/maps/scenarios.ts were played with bpftool on real kernels (kernel-*.json beside
// them, recorded by test/fixtures/maps/record.ts: v6.12.117 arm64 under the QEMU oracle, the
// target, and this machine's v6.18 x86-64); replaying them on our maps must give the same errno,
// value, next key and dump order at every step. When this machine can (root, bpftool, taskset),
// the sequences are also played live and compared again.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import type { MapContext } from "../../src/runtime/maps/index.ts";
import { kernelScript, type Outcome, parseKernelOutput, replayScenario } from "../fixtures/maps/kernel.ts";
import { runKernelScript } from "../fixtures/maps/record.ts";
import { SCENARIOS, type Scenario } from "../fixtures/maps/scenarios.ts";

interface Recorded {
  kernel: string;
  arch: string;
  nrCpus: number;
  bpftool: string;
  scenarios: { name: string; ops: unknown[]; outcomes: Outcome[] }[];
}

const FIXTURES = join(import.meta.dirname, "../fixtures/maps");
/** Every recording: kernel-6.18-x86_64.json (this machine), kernel-6.12-aarch64.json (the oracle) ... */
const recordings = readdirSync(FIXTURES)
  .filter((f) => /^kernel-.*\.json$/.test(f))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as Recorded);

/**
 * The kernel-version dependent behaviour a recording was made with: the LRU free target
 * (scaled since commit d4adf1c9ee77: v6.16, and 6.12.117 has the stable backport, as its
 * recording shows) and in-place replacement in hash_of_maps (v6.16+).
 */
function knobsFor(kernel: string): Pick<MapContext, "lruFreeTarget" | "fdHtabInPlace"> {
  const [major, minor] = kernel.split(/[.-]/).map(Number);
  const atLeast616 = major > 6 || (major === 6 && minor >= 16);
  return { lruFreeTarget: "scaled", fdHtabInPlace: atLeast616 };
}

/** Compares every op; returns readable differences (at most a few per scenario). */
function compare(s: Scenario, kernel: Outcome[], ours: Outcome[]): string[] {
  const diffs: string[] = [];
  s.ops.forEach((op, i) => {
    if (diffs.length < 3 && !isDeepStrictEqual(ours[i], kernel[i])) {
      diffs.push(
        `${s.name} op ${i} ${JSON.stringify(op)}\n  kernel: ${JSON.stringify(kernel[i])}\n  tsbpf:  ${JSON.stringify(ours[i])}`,
      );
    }
  });
  return diffs;
}

test("there are recordings of the target kernel and of this machine's", () => {
  assert.ok(
    recordings.some((r) => r.kernel.startsWith("6.12.")),
    "a v6.12 recording (the target)",
  );
  assert.ok(recordings.length >= 2);
});

for (const rec of recordings) {
  const where = `Linux ${rec.kernel} ${rec.arch} (${rec.nrCpus} CPUs)`;
  test(`${where}: the recording covers the current scenarios (re-run record.ts if this fails)`, () => {
    assert.deepEqual(
      rec.scenarios.map((s) => s.name),
      SCENARIOS.map((s) => s.name),
    );
    SCENARIOS.forEach((s, i) => {
      assert.deepEqual(rec.scenarios[i].ops, JSON.parse(JSON.stringify(s.ops)), s.name);
      assert.equal(rec.scenarios[i].outcomes.length, s.ops.length, s.name);
    });
  });
  for (const [i, s] of SCENARIOS.entries()) {
    test(`${where}: ${s.name}`, () => {
      const ours = replayScenario(s, { nrCpus: rec.nrCpus, ...knobsFor(rec.kernel) });
      assert.deepEqual(compare(s, rec.scenarios[i].outcomes, ours), []);
    });
  }
}

test("v6.12 and v6.16+ differ only where the knobs say", () => {
  // A v6.12 hash_of_maps moves a replaced key to the head of its bucket.
  const s = SCENARIOS.find((x) => x.name === "map-in-map")!;
  const old = replayScenario(s, { nrCpus: 2, fdHtabInPlace: false });
  const now = replayScenario(s, { nrCpus: 2, fdHtabInPlace: true });
  const differing = s.ops.flatMap((op, j) => (isDeepStrictEqual(old[j], now[j]) ? [] : [`${j}:${op.op}`]));
  assert.deepEqual(differing, ["40:dump"]);
});

function canPlayLive(): string | null {
  if (process.getuid?.() !== 0) return "not root";
  const v = spawnSync("bpftool", ["version"], { encoding: "utf8" });
  if (v.status !== 0) return "no bpftool";
  const t = spawnSync("taskset", ["-c", "0", "true"]);
  if (t.status !== 0) return "no taskset";
  return null;
}

test("live: this machine's kernel agrees with tsbpf", (t) => {
  const why = canPlayLive();
  if (why !== null) {
    console.warn(`SKIPPED live map checks against the kernel: ${why}; only the recorded outcomes were compared`);
    t.skip(why);
    return;
  }
  const live = parseKernelOutput(runKernelScript(kernelScript(SCENARIOS)), SCENARIOS);
  const knobs = knobsFor(live.kernel);
  const diffs = SCENARIOS.flatMap((s, i) =>
    compare(s, live.outcomes[i], replayScenario(s, { nrCpus: live.nrCpus, ...knobs })),
  );
  assert.deepEqual(diffs, [], `live kernel ${live.kernel}, ${live.nrCpus} CPUs`);
});
