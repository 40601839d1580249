// Every program of test/fixtures/progs — real programs the kernel accepted (they were loaded
// and run on Linux to record test/fixtures/progs/expected.json) — is accepted by tsbpf's
// verifier too, with the 6.12 and with the 6.18 rules, and with the helpers the runtime offers
// each program type (its get_func_proto, src/runtime/func-proto.ts). Their instruction counts
// are compared with the kernels' in corpus.test.ts.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { funcProto } from "../../src/runtime/func-proto.ts";
import { FIXTURES, openFixture, outcome, verifyFixture } from "./helpers.ts";

const helperAvailable = (progType: number, id: number): boolean => funcProto(progType, id) !== undefined;

const objects = readdirSync(join(FIXTURES, "progs"))
  .filter((f) => f.endsWith(".o"))
  .sort();

describe("test/fixtures/progs is accepted", () => {
  test("the corpus is there", () => assert.ok(objects.length >= 30));
  for (const file of objects) {
    for (const p of openFixture("progs", file).spec.programs) {
      test(`${file} ${p.name}`, () => {
        for (const kernel of ["6.12", "6.18"] as const) {
          assert.equal(outcome(verifyFixture("progs", file, p.name, kernel, { helperAvailable })), "ok", kernel);
        }
      });
    }
  }
});
