// The BPF exception rules against the real kernels: every program of test/fixtures/exceptions
// (expected.json: what arm64 Linux 6.12.117, the target, and x86-64 Linux 6.18 did with it),
// verified by tsbpf with the matching message wording. Accepted programs must be accepted;
// rejected ones rejected with the kernel's message — the first line of its final error block,
// and the whole block when it has several lines. Failures before the verifier (libbpf could not
// resolve a kfunc or the callback) must fail too, in the loader or the verifier; loads the
// recording host refused without running the verifier (fentry on the x86 sandbox) are skipped.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { TsbpfError } from "../../src/errors.ts";
import type { KernelVersion } from "../../src/verifier/index.ts";
import { FIXTURES, isStateDump, outcome, verifyFixture } from "./helpers.ts";

interface Recorded {
  object: string;
  prog: string;
  accepted: boolean | null;
  stage?: string;
  message?: string;
  message_lines?: string[];
}

const expected = JSON.parse(readFileSync(join(FIXTURES, "exceptions/expected.json"), "utf8")) as {
  kernels: Record<string, { programs: Recorded[] }>;
};

const KERNELS: [string, KernelVersion][] = [
  ["arm64-6.12.117", "6.12"],
  ["x86_64-6.18", "6.18"],
];

for (const [key, kernel] of KERNELS) {
  describe(`exceptions corpus vs ${key}`, () => {
    for (const e of expected.kernels[key].programs) {
      test(`${e.object} ${e.prog}`, (t) => {
        if (e.accepted === null) return t.skip("not loaded: another program of its object failed");
        if (e.stage === "kernel") return t.skip(`the recording host refused it without a verifier log: ${e.message}`);
        if (e.stage === "libbpf") {
          let rejected: boolean;
          try {
            rejected = !verifyFixture("exceptions", e.object, e.prog, kernel).ok;
          } catch (err) {
            assert.ok(err instanceof TsbpfError, String(err));
            rejected = true;
          }
          assert.ok(rejected, `libbpf refused it (${e.message}); tsbpf must refuse it too`);
          return;
        }
        const r = verifyFixture("exceptions", e.object, e.prog, kernel);
        if (e.accepted) {
          assert.equal(outcome(r), "ok");
          return;
        }
        assert.equal(outcome(r), e.message);
        if (!r.ok && e.message_lines !== undefined) {
          assert.deepEqual(
            r.error.block.filter((l) => !isStateDump(l)),
            e.message_lines.filter((l) => !isStateDump(l)),
          );
        }
      });
    }
  });
}
