// Unit tests of the `.data` parser (third_party/bpf_conformance/README.md, "The `.data` format").
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { DataFileError, dataFileProgram, parseDataFile } from "../../src/conformance/datafile.ts";
import { AsmError } from "../../src/errors.ts";
import { encodeProgram } from "../../src/isa/insn.ts";

const TESTS = "third_party/bpf_conformance/tests";

describe("parseDataFile", () => {
  test("sections, comments, CRLF, mem over several lines, hex result", () => {
    const df = parseDataFile(
      "# c\r\n-- asm\r\nmov %r0, 1 # one\r\n\r\nexit\r\n-- mem\r\n00 11\r\nff\r\n-- result\r\n0x1\r\n",
      "f.data",
    );
    assert.equal(df.asm?.line, 3);
    assert.deepEqual([...(df.mem ?? [])], [0x00, 0x11, 0xff]);
    assert.equal(df.result, 1n);
    assert.equal(df.resultLine, 10);
    assert.equal(df.error, null);
    assert.equal(df.raw, null);
    assert.equal(dataFileProgram(df).length, 2);
  });

  test("result: decimal, last non-empty line, full 64 bits, negative wraps", () => {
    assert.equal(parseDataFile("-- result\n1\n\n42\n").result, 42n);
    assert.equal(parseDataFile("-- result\n0xffffffffffffffff\n").result, 0xffffffffffffffffn);
    assert.equal(parseDataFile("-- result\n18446744073709551615\n").result, 0xffffffffffffffffn);
    assert.equal(parseDataFile("-- result\n-1\n").result, 0xffffffffffffffffn);
  });

  test("-- error: last line, empty section is the empty string", () => {
    assert.equal(parseDataFile("-- error\nfirst\nInvalid").error, "Invalid");
    assert.equal(parseDataFile("-- error\n").error, "");
  });

  test("ignored sections: -- c and -- no register offset", () => {
    const df = parseDataFile("-- c\nint x; # y\n-- asm\nexit\n-- result\n0\n-- no register offset\ncall instruction\n");
    assert.equal(df.asm?.text.trim(), "exit");
  });

  test("an unknown directive is a DataFileError (an AsmError) with its line", () => {
    assert.throws(
      () => parseDataFile("-- asm\nexit\n-- Unknown directive\n", "u.data"),
      (e: unknown) => e instanceof DataFileError && e instanceof AsmError && e.line === 3 && e.file === "u.data",
    );
  });

  test("bad mem byte, bad result and bad raw word name their line", () => {
    for (const [text, line] of [
      ["-- mem\n00 1x\n", 2],
      ["-- result\n0xzz\n", 2],
      ["-- result\n\n12a\n", 3],
      ["-- raw\n0x95\nfoo\n", 3],
    ] as const) {
      assert.throws(
        () => parseDataFile(text),
        (e: unknown) => e instanceof DataFileError && e.line === line,
      );
    }
  });

  test("-- raw as 64-bit words replaces -- asm (lddw.data: both agree)", () => {
    const df = parseDataFile(readFileSync(`${TESTS}/lddw.data`, "utf8"), "lddw.data");
    assert.equal(df.raw?.form, "words");
    const asmBytes = encodeProgram(dataFileProgram({ ...df, raw: null }));
    assert.deepEqual(df.raw?.bytes, asmBytes);
    assert.deepEqual(encodeProgram(dataFileProgram(df)), asmBytes);
  });

  test("-- raw byte by byte (negative/unused-*.data)", () => {
    const df = parseDataFile("-- raw\n07 00 01 00 01 00 00 00\n95 00 00 00 00 00 00 00\n-- error\n");
    assert.equal(df.raw?.form, "bytes");
    const p = dataFileProgram(df);
    assert.equal(p.length, 2);
    assert.equal(p.code[0], 0x07);
    assert.equal(p.off[0], 1);
    assert.equal(p.imm[0], 1);
    assert.equal(p.code[1], 0x95);
  });

  test("no program is an AsmError at the end of the file", () => {
    assert.throws(
      () => dataFileProgram(parseDataFile("# x\n-- result\n0x0\n", "e.data")),
      (e: unknown) => e instanceof AsmError && e.line === 3 && /No instructions/.test(e.message),
    );
  });

  test("assembly errors carry the line number in the .data file", () => {
    assert.throws(
      () => dataFileProgram(parseDataFile("# a\n# b\n-- asm\nmov %r0, 1\nbogus\n", "l.data")),
      (e: unknown) => e instanceof AsmError && e.line === 5 && e.file === "l.data",
    );
  });
});
