// Unit tests of the conformance runner: outcome rules, the report format, engines by name.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CONFORMANCE_HELPER_ID,
  type ConformanceResult,
  conformanceEngine,
  conformanceHelpers,
  type Engine,
  formatConformanceReport,
  interpEngine,
  runConformanceText,
} from "../../src/conformance/runner.ts";
import { BpfFault, UsageError } from "../../src/errors.ts";

/** An engine that returns a fixed value or throws a fixed error, and records its inputs. */
function fakeEngine(outcome: bigint | Error): Engine & { mem: (Uint8Array | null)[] } {
  const mem: (Uint8Array | null)[] = [];
  return {
    name: "fake",
    mem,
    run: (_p, m) => {
      mem.push(m);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

const PROG = "-- asm\nmov %r0, 1\nexit\n";

describe("runConformanceText", () => {
  test("pass: full 64-bit r0 equals -- result", () => {
    const r = runConformanceText("a.data", `${PROG}-- result\n0xffffffff00000001\n`, fakeEngine(-0xffffffffn));
    assert.deepEqual(r, {
      file: "a.data",
      status: "pass",
      reason: "",
      expected: "0xffffffff00000001",
      actual: "0xffffffff00000001",
    });
  });

  test("fail: differs in the high 32 bits only", () => {
    const r = runConformanceText("a.data", `${PROG}-- result\n0x100000001\n`, fakeEngine(1n));
    assert.equal(r.status, "fail");
    assert.equal(r.reason, "r0 is 0x1, expected 0x100000001");
  });

  test("the engine gets a private copy of -- mem, or null without it", () => {
    const e = fakeEngine(0n);
    runConformanceText("a.data", `${PROG}-- mem\n01 02\n-- result\n0\n`, e);
    runConformanceText("b.data", `${PROG}-- result\n0\n`, e);
    assert.deepEqual([...(e.mem[0] ?? [])], [1, 2]);
    assert.equal(e.mem[1], null);
  });

  test("fail: no -- result and no -- error", () => {
    const r = runConformanceText("a.data", PROG, fakeEngine(1n));
    assert.equal(r.status, "fail");
    assert.match(r.reason, /no -- result or -- error/);
  });

  test("fail: unknown directive, assembly error, validation error", () => {
    assert.match(runConformanceText("a.data", "-- bogus\n", fakeEngine(0n)).reason, /^parse: .*Unknown directive/);
    assert.match(
      runConformanceText("a.data", "-- asm\nfoo\n-- result\n0\n", fakeEngine(0n)).reason,
      /^assemble: a\.data:2: Invalid mnemonic: foo/,
    );
    assert.match(
      runConformanceText("a.data", "-- asm\nja +5\nexit\n-- result\n0\n", fakeEngine(0n)).reason,
      /^validate: .*jump out of range/,
    );
  });

  test("-- error: passes when a stage fails with a message containing the text", () => {
    const fault = new BpfFault("out-of-bounds", "Invalid memory access", { engine: "fake", pc: 0 });
    assert.equal(runConformanceText("a.data", `${PROG}-- error\nInvalid memory`, fakeEngine(fault)).status, "pass");
    const other = runConformanceText("a.data", `${PROG}-- error\nDivision by zero`, fakeEngine(fault));
    assert.equal(other.status, "fail");
    assert.match(other.reason, /expected error "Division by zero", got: /);
    const none = runConformanceText("a.data", `${PROG}-- error\nInvalid`, fakeEngine(0n));
    assert.equal(none.status, "fail");
    assert.equal(none.reason, 'expected error "Invalid" but the program returned 0x0');
  });

  test("an engine bug (not a TsbpfError) never satisfies -- error", () => {
    const r = runConformanceText("a.data", `${PROG}-- error\n`, fakeEngine(new TypeError("x is undefined")));
    assert.equal(r.status, "fail");
    assert.match(r.reason, /internal error: x is undefined/);
  });

  test("interp: a looping program hits the budget and fails instead of hanging", () => {
    const r = runConformanceText("loop.data", "-- asm\nja -1\nexit\n-- result\n0\n", interpEngine(10_000));
    assert.equal(r.status, "fail");
    assert.match(r.reason, /^run \(interp\): /);
  });
});

describe("conformance helpers and engines", () => {
  test("helper 5 returns r1", () => {
    const h = conformanceHelpers().get(CONFORMANCE_HELPER_ID);
    assert.ok(h);
    const env = {
      space: undefined as never,
      runtime: undefined,
      callFunction: () => 0n,
      requestTailCall: () => {},
      throwException: () => {},
    };
    assert.equal(h.fn(env, 42n, 1n, 2n, 3n, 4n), 42n);
  });

  test("engines by name", () => {
    assert.equal(conformanceEngine("interp").name, "interp");
    assert.throws(() => conformanceEngine("nope"), UsageError);
    assert.throws(() => conformanceEngine("toString"), UsageError);
  });
});

describe("formatConformanceReport", () => {
  test("one line per file, then `N passed, M failed`", () => {
    const results: ConformanceResult[] = [
      { file: "a.data", status: "pass", reason: "", expected: "0x1", actual: "0x1" },
      { file: "b.data", status: "fail", reason: "r0 is 0x2, expected 0x1", expected: "0x1", actual: "0x2" },
    ];
    assert.equal(
      formatConformanceReport(results),
      "PASS a.data\nFAIL b.data: r0 is 0x2, expected 0x1\n1 passed, 1 failed\n",
    );
    assert.equal(formatConformanceReport([]), "0 passed, 0 failed\n");
  });
});
