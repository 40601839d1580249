// The rejection rules of third_party/bpf_conformance/negative (see its README):
// - unused-*.data: a non-zero unused field must be rejected by validateProgram (DecodeError);
// - invalid_*.data, empty*.data: rejected while parsing/assembling, with an AsmError and a line
//   (and the `-- error` text where the file gives one);
// - error.data, incorrect_return_value_high_bits.data: the runner must report FAIL.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { dataFileProgram, parseDataFile } from "../../src/conformance/datafile.ts";
import { interpEngine, listDataFiles, runConformanceFile } from "../../src/conformance/runner.ts";
import { AsmError, DecodeError } from "../../src/errors.ts";
import { validateProgram } from "../../src/isa/insn.ts";

const DIR = "third_party/bpf_conformance/negative";
const files = listDataFiles(DIR);
const read = (f: string): string => readFileSync(`${DIR}/${f}`, "utf8");

describe("negative/: the files", () => {
  test("60 .data files: 45 unused-*, 13 invalid_*/empty*, error.data, incorrect_return_value_high_bits.data", () => {
    assert.equal(files.length, 60);
    assert.equal(files.filter((f) => f.startsWith("unused-")).length, 45);
    assert.equal(files.filter((f) => /^(invalid_|empty)/.test(f)).length, 13);
  });
});

describe("negative/unused-*: rejected by validateProgram", () => {
  for (const f of files.filter((x) => x.startsWith("unused-"))) {
    test(f, () => {
      const df = parseDataFile(read(f), f);
      assert.equal(df.raw?.form, "bytes");
      assert.equal(df.error, "");
      const p = dataFileProgram(df);
      assert.equal(p.length, 2);
      assert.throws(() => validateProgram(p), DecodeError);
      // With the named field cleared the program is accepted: the rejection is about that field.
      const field = f
        .replace(/\.data$/, "")
        .split("-")
        .at(-1);
      if (field === "src") p.src[0] = 0;
      else if (field === "dst") p.dst[0] = 0;
      else if (field === "offset") p.off[0] = 0;
      else if (field === "imm") p.imm[0] = 0;
      else assert.fail(`no field in ${f}`);
      validateProgram(p);
      assert.equal(runConformanceFile(`${DIR}/${f}`, interpEngine()).status, "pass");
    });
  }
});

describe("negative/invalid_*, empty*: rejected by the parser or assembler", () => {
  for (const f of files.filter((x) => /^(invalid_|empty)/.test(x))) {
    test(f, () => {
      const text = read(f);
      const expected = /-- error\n(.*)$/s.exec(text)?.[1].trim().split("\n").at(-1) ?? null;
      assert.throws(
        () => dataFileProgram(parseDataFile(text, f)),
        (e: unknown) => {
          assert.ok(e instanceof AsmError, `expected AsmError, got ${String(e)}`);
          assert.equal(e.file, f);
          assert.ok(e.line >= 1 && e.line <= text.split("\n").length, `line ${e.line}`);
          // invalid_unknown_directive's `-- error` text belongs to a section never reached.
          if (expected && f !== "invalid_unknown_directive.data") {
            assert.ok(e.message.includes(expected), `${e.message} lacks "${expected}"`);
          }
          return true;
        },
      );
      // Through the runner: a file whose `-- error` text is the rejection passes (the failure was
      // expected); a file expecting a `-- result` fails, as does one that cannot be parsed.
      const r = runConformanceFile(`${DIR}/${f}`, interpEngine());
      const errorExpected = expected !== null && f !== "invalid_unknown_directive.data";
      assert.equal(r.status, errorExpected ? "pass" : "fail", r.reason);
    });
  }
});

describe("negative/: runner error paths", () => {
  test("error.data (expects error `Invalid`, the program runs fine) is a FAIL", () => {
    const r = runConformanceFile(`${DIR}/error.data`, interpEngine());
    assert.equal(r.status, "fail");
    assert.equal(r.expected, "error: Invalid");
    assert.match(r.reason, /expected error "Invalid" but the program returned 0x/);
  });

  test("incorrect_return_value_high_bits.data (differs in the high 32 bits only) is a FAIL", () => {
    const r = runConformanceFile(`${DIR}/incorrect_return_value_high_bits.data`, interpEngine());
    assert.equal(r.status, "fail");
    assert.equal(r.expected, "0x8977665544332211");
    assert.equal(r.actual, "0x8877665544332211");
  });
});
