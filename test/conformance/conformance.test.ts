// The bpf_conformance suite on the reference interpreter: every file of
// third_party/bpf_conformance/tests must pass (313 of 313), one subtest per file so a failure
// is named with its reason.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ConformanceReport,
  formatConformanceReport,
  interpEngine,
  listDataFiles,
  runConformanceDir,
} from "../../src/conformance/runner.ts";

const DIR = "third_party/bpf_conformance/tests";

describe("bpf_conformance tests/ on interp", () => {
  const report: ConformanceReport = runConformanceDir(DIR, interpEngine());

  test("runs every .data file: 313 passed, 0 failed", () => {
    assert.equal(listDataFiles(DIR).length, 313);
    assert.equal(report.results.length, 313);
    const summary = formatConformanceReport(report.results).trimEnd().split("\n").at(-1);
    assert.equal(summary, `${report.passed} passed, ${report.failed} failed`);
    assert.deepEqual({ passed: report.passed, failed: report.failed }, { passed: 313, failed: 0 });
  });

  for (const r of report.results) {
    test(r.file, () => {
      assert.equal(r.status, "pass", r.reason);
      assert.equal(r.actual, r.expected);
    });
  }
});
