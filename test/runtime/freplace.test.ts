// freplace and exceptions, spec §7.2 (the kernel selftests' RUN_EXT subtests, progs/exceptions_ext.c
// attached to progs/exceptions.c): an extension program is its own exception boundary — its throw
// unwinds only the extension and ends in its own callback, whose value becomes the replaced
// function's result inside the target, which continues. Targets are the corpus' selftest_throw.o
// (recorded on 6.12.117 and 6.18 without extensions: their plain retvals are in expected.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LoadError, VerifierError } from "../../src/errors.ts";
import { Interpreter } from "../../src/interp/index.ts";
import type { EngineFactory } from "../../src/runtime/engine.ts";
import { BpfObject, type BpfProgram } from "../../src/runtime/object.ts";

const DIR = join(import.meta.dirname, "../fixtures/exceptions");
const engine: EngineFactory = (p, o) => new Interpreter(p, o);
const PACKET = new Uint8Array(64);

function target(prog: string): BpfProgram {
  const obj = BpfObject.open(readFileSync(join(DIR, "selftest_throw.o")), { engine, fileName: "selftest_throw.o" });
  return obj.program(prog);
}

function attach(file: string, to: BpfProgram, attachFunction?: string): BpfObject {
  return BpfObject.open(readFileSync(join(DIR, file)), { engine, fileName: file, attachTarget: to, attachFunction });
}

const rejected = (fn: () => unknown, reason: string) =>
  assert.throws(fn, (e: unknown) => e instanceof VerifierError && e.reason === reason && e.errno === 22);

describe("freplace: an extension is its own exception boundary (spec §7.2)", () => {
  test("without extensions the targets return what the kernels recorded", () => {
    assert.equal(target("exception_ext_mod_cb_runtime").testRun({ dataIn: PACKET }).retval, 35);
    assert.equal(target("exception_ext").testRun({ dataIn: PACKET }).retval, 0);
  });

  test("throwing extension → global func in exception_cb: (32 + 64) + 25 + 10 = 131", () => {
    const t = target("exception_ext_mod_cb_runtime");
    attach("ext_cb_global.o", t);
    assert.equal(t.testRun({ dataIn: PACKET }).retval, 131);
  });

  test("throwing extension (with custom cb) → global func: 64 + 64 = 128", () => {
    const t = target("exception_ext");
    attach("ext_global.o", t);
    assert.equal(t.testRun({ dataIn: PACKET }).retval, 128);
  });

  test("an extension cannot replace an exception callback", () => {
    rejected(
      () => attach("ext_to_cb.o", target("exception_ext_mod_cb_runtime")),
      "Extension programs cannot attach to exception callback",
    );
  });

  test("an extension cannot replace a static function", () => {
    rejected(
      () => attach("ext_to_static.o", target("exception_throw_subprog")),
      "throwing_subprog() is not a global function",
    );
    rejected(
      () => attach("ext_any.o", target("exception_ext"), "exception_ext_static"),
      "exception_ext_static() is not a global function",
    );
  });

  test("(non-)throwing extensions attach to a global, a throwing global and the main function", () => {
    // (clang folded the calls of the constant global_subprog away: exception_ext_global stands in)
    const cases: [string, string][] = [
      ["exception_ext", "exception_ext_global"],
      ["exception_throw_subprog", "throwing_global_subprog"],
      ["exception_throw_subprog", "exception_throw_subprog"],
    ];
    for (const file of ["ext_any.o", "ext_throwing_any.o"]) {
      for (const [prog, fn] of cases) {
        assert.doesNotThrow(() => attach(file, target(prog), fn), `${file} → ${fn}`);
      }
    }
  });

  test("a throwing extension of a global function ends in its own default callback; the caller goes on", () => {
    const t = target("exception_ext");
    attach("ext_throwing_any.o", t, "exception_ext_global");
    assert.equal(t.testRun({ dataIn: PACKET }).retval, 21);
  });

  test("replacing the main function runs the extension: a throw there ends in its default callback", () => {
    const t = target("exception_throw_subprog");
    attach("ext_throwing_any.o", t, "exception_throw_subprog");
    assert.equal(t.testRun({ dataIn: PACKET }).retval, 21);
  });

  test("an extension needs a target, and the function must exist", () => {
    assert.throws(
      () => BpfObject.open(readFileSync(join(DIR, "ext_global.o")), { engine }),
      (e: unknown) => e instanceof LoadError && /needs its target program/.test(e.message),
    );
    assert.throws(
      () => attach("ext_any.o", target("exception_ext"), "no_such_function"),
      (e: unknown) => e instanceof LoadError && /has no function no_such_function/.test(e.message),
    );
  });
});
