// bpf_throw on the interpreter: unwinding to the exception boundary, custom and default
// callbacks, tail-call targets as their own boundary, wide cookies, state left by a throw.
// Truth: the real kernels. spec_examples.o = programs A, B, C of shared/spec/exceptions-arm64.md
// §1.3, whose results §1.4 records from arm64 Linux 6.12.117; semantics.o = results recorded on
// this machine's kernel by test/fixtures/throw/record.sh (expected.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Interpreter } from "../../src/interp/index.ts";
import { loadObjectSpec } from "../../src/object/loader.ts";
import type { EngineFactory } from "../../src/runtime/engine.ts";
import { BpfObject } from "../../src/runtime/object.ts";

const DIR = join(import.meta.dirname, "../fixtures/throw");
const engine: EngineFactory = (p, o) => new Interpreter(p, o);
const open = (file: string) =>
  BpfObject.load(loadObjectSpec(readFileSync(join(DIR, file)), { fileName: file }), { engine });
const pkt = (n: number) => new Uint8Array(n);

describe("the spec's reference programs (arm64 Linux 6.12.117 results)", () => {
  const obj = open("spec_examples.o");
  const cases: [string, number, number][] = [
    ["exc_main", 64, 107], // thrower throws 7, my_cb(7) = 107
    ["exc_main", 20, 1027], // no throw: 7 + 20 + 1000
    ["exc_stack", 64, 69], // default callback returns the cookie 64 + 5
    ["exc_stack", 20, 40],
    ["thr", 64, 67], // cb_stack(64) = 67, with its own stack
  ];
  for (const [prog, len, want] of cases) {
    test(`${prog} on a ${len}-byte packet returns ${want}`, () => {
      assert.equal(obj.testRun(prog, { dataIn: pkt(len) }).retval, want);
    });
  }
});

describe("semantics recorded on this machine's kernel", () => {
  const want = JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8"));

  test("a throwing tail-call target is its own boundary; its caller goes on", () => {
    const obj = open("semantics.o");
    assert.equal(obj.testRun("throw_tail", { dataIn: pkt(64) }).retval, want.throw_tail_no_target);
    obj.setMapEntry("jmp", "00000000", "@throw_target");
    assert.equal(obj.testRun("throw_tail", { dataIn: pkt(64) }).retval, want.throw_tail_64);
    assert.equal(obj.testRun("throw_tail", { dataIn: pkt(20) }).retval, want.throw_tail_20);
  });

  test("a 64-bit cookie: retval keeps its low half, r0 all of it", () => {
    const obj = open("semantics.o");
    const r = obj.testRun("throw_wide", { dataIn: pkt(64) });
    assert.equal(r.retval, want.throw_wide_64);
    assert.equal(r.r0, 0x1234567800000040n);
    assert.equal(obj.testRun("throw_wide", { dataIn: pkt(20) }).retval, want.throw_wide_20);
  });

  test("map updates before a throw persist, and the next run starts clean", () => {
    const obj = open("semantics.o");
    assert.equal(obj.testRun("throw_after_update", { dataIn: pkt(64) }).retval, want.throw_after_update_64);
    assert.equal(obj.testRun("throw_after_update", { dataIn: pkt(20) }).retval, want.throw_after_update_20);
    assert.equal(obj.dumpMap("counter")[0].value, want.counter_after.toString(16).padStart(2, "0").padEnd(16, "0"));
  });

  test("a throw three subprograms deep, with values in callee-saved registers and stacks", () => {
    const obj = open("semantics.o");
    assert.equal(obj.testRun("throw_deep", { dataIn: pkt(64) }).retval, want.throw_deep_64);
    assert.equal(obj.testRun("throw_deep", { dataIn: pkt(20) }).retval, want.throw_deep_20);
  });
});
