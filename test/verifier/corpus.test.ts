// The verifier corpus of test/fixtures/verifier — one program per rule, recorded on arm64 Linux
// 6.12.117 (the target, under the QEMU oracle) and x86-64 Linux 6.18 (this machine) by
// record.ts — verified by tsbpf with each kernel's wording: accepted or rejected with the
// kernel's message (and whole error block, state dumps aside). The same file records the
// kernel's "processed N insns" for every accepted program, including those of
// test/fixtures/progs: tsbpf must process exactly as many instructions as each kernel, except
// for the few programs listed below where its state pruning is coarser than the kernel's —
// there it may only process more.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { KernelVersion } from "../../src/verifier/index.ts";
import { FIXTURES, isStateDump, outcome, verifyFixture } from "./helpers.ts";

interface Recorded {
  object: string;
  prog: string;
  accepted: boolean | null;
  processed?: number;
  stage?: string;
  message?: string;
  message_lines?: string[];
}

const expected = JSON.parse(readFileSync(join(FIXTURES, "verifier/expected.json"), "utf8")) as {
  kernels: Record<string, { programs: Recorded[] }>;
};

/**
 * Programs tsbpf verifies with more instructions than the kernel (tsbpf's count when this list
 * was written): its pruning keeps states apart that the kernel's dynamic precision tracking
 * merges. Still accepted, and never with fewer instructions than the kernel.
 */
const COARSER_PRUNING: ReadonlyMap<string, number> = new Map([
  ["../progs/maps_hash.o hash_cmd", 977],
  ["../progs/maps_lru.o lru_fill", 2027],
]);

const KERNELS: [string, KernelVersion][] = [
  ["arm64-6.12.117", "6.12"],
  ["x86_64-6.18", "6.18"],
];

for (const [key, kernel] of KERNELS) {
  describe(`verifier corpus vs ${key}`, () => {
    for (const e of expected.kernels[key].programs) {
      test(`${e.object} ${e.prog}`, (t) => {
        if (e.accepted === null) return t.skip("not loaded: another program of its object failed");
        const r = verifyFixture("verifier", e.object, e.prog, kernel);
        if (!e.accepted) {
          assert.equal(outcome(r), e.message);
          if (!r.ok && e.message_lines !== undefined) {
            assert.deepEqual(
              r.error.block.filter((l) => !isStateDump(l)),
              e.message_lines.filter((l) => !isStateDump(l)),
            );
          }
          return;
        }
        assert.equal(outcome(r), "ok");
        if (!r.ok || e.processed === undefined) return;
        const coarse = COARSER_PRUNING.get(`${e.object} ${e.prog}`);
        if (coarse === undefined) assert.equal(r.prog.insnProcessed, e.processed, "processed instructions");
        else {
          assert.ok(r.prog.insnProcessed >= e.processed, "never fewer than the kernel");
          assert.ok(r.prog.insnProcessed <= coarse, `at most the ${coarse} of the list`);
        }
      });
    }
  });
}
