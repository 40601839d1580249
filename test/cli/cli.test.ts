// The CLI end to end through main() with captured output, plus the installed `tsbpf` bin.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assemble } from "../../src/isa/asm.ts";
import { encodeProgram } from "../../src/isa/insn.ts";
import { cli, ROOT } from "./run-cli.ts";

describe("tsbpf run", () => {
  test("runs an assembly file with memory and prints r0", async () => {
    const r = await cli("run", "--asm", join(ROOT, "examples/primes.s"), "--mem", "64 00 00 00");
    assert.equal(r.code, 0);
    assert.match(r.out, /^r0 = 0x19 \(25\)\s+retval 25\s+2306 insns\s+\[interp\]$/m);
  });

  test("--json prints exactly one JSON object", async () => {
    const r = await cli("run", "--asm", join(ROOT, "examples/primes.s"), "--mem", "0a000000", "--json");
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out), { r0: "0x4", retval: 4, insns: 186, engine: "interp" });
  });

  test("--trace lists executed instructions and the registers they changed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
    const raw = join(dir, "p.bin");
    writeFileSync(raw, encodeProgram(assemble("r0 = 0x2a\nr0 <<= 0x1\nexit")));
    const r = await cli("run", "--raw", raw, "--trace");
    assert.equal(r.code, 0);
    assert.deepEqual(r.out.split("\n").slice(0, 3), [
      "     0: r0 = 0x2a                           ; r0 = 0x2a",
      "     1: r0 <<= 0x1                          ; r0 = 0x54",
      "     2: exit",
    ]);
  });

  test("a fault is reported with its pc and exit code 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
    const src = join(dir, "oob.s");
    writeFileSync(src, "r0 = *(u64 *)(r1 + 0x0)\nexit\n");
    const r = await cli("run", "--asm", src, "--mem", "01 02");
    assert.equal(r.code, 1);
    assert.match(r.err, /fault: interp: insn 0 \(r0 = \*\(u64 \*\)\(r1 \+ 0x0\)\): invalid read of 8 bytes/);
  });

  test("bad usage exits 2 with a message, never a stack trace", async () => {
    for (const argv of [
      ["run"],
      ["run", "--asm", "a.s", "--raw", "b.bin"],
      ["run", "--bogus"],
      ["run", "--asm", "/nonexistent.s"],
      ["run", "--asm", join(ROOT, "examples/primes.s"), "--mem", "xyz"],
      ["run", "--asm", join(ROOT, "examples/primes.s"), "--budget", "-1"],
      ["nope"],
      [],
    ]) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, argv.join(" "));
      assert.ok(r.err.length > 0 || r.out.startsWith("usage"), argv.join(" "));
      assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
    }
  });

  test("an assembly error names file and line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
    const src = join(dir, "bad.s");
    writeFileSync(src, "r0 = 0x1\nr0 += r11x\nexit\n");
    const r = await cli("run", "--asm", src);
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.s:2: /);
  });
});

describe("tsbpf conformance", () => {
  test("the bundled suite: one line per file and the summary 313 passed, 0 failed", async () => {
    const r = await cli("conformance", join(ROOT, "third_party/bpf_conformance/tests"));
    assert.equal(r.code, 0);
    const lines = r.out.trimEnd().split("\n");
    assert.equal(lines.length, 314);
    assert.equal(lines.at(-1), "313 passed, 0 failed");
    assert.ok(lines.slice(0, -1).every((l) => l.startsWith("PASS ")));
  });

  test("failures exit 1: the negative files", async () => {
    const r = await cli("conformance", join(ROOT, "third_party/bpf_conformance/negative"));
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      /^FAIL incorrect_return_value_high_bits\.data: r0 is 0x8877665544332211, expected 0x8977665544332211$/m,
    );
  });
});

describe("tsbpf disasm", () => {
  test("raw bytecode in llvm-objdump's layout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
    const raw = join(dir, "p.bin");
    writeFileSync(raw, encodeProgram(assemble("r1 = 0x1122334455667788 ll\nw0 = w1\nexit")));
    const r = await cli("disasm", raw);
    assert.equal(r.code, 0);
    assert.equal(r.out, "       0:\tr1 = 0x1122334455667788 ll\n       2:\tw0 = w1\n       3:\texit\n");
  });

  test("truncated bytecode is a typed error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
    const raw = join(dir, "p.bin");
    writeFileSync(raw, new Uint8Array([0x95, 0, 0]));
    const r = await cli("disasm", raw);
    assert.equal(r.code, 1);
    assert.match(r.err, /truncated instruction: 3 bytes/);
  });
});

test("demo runs the bundled example and the conformance suite", async () => {
  const r = await cli("demo");
  assert.equal(r.code, 0);
  assert.match(r.out, /r0 = 25 /);
  assert.match(r.out, /313 passed, 0 failed/);
  const j = await cli("demo", "--json");
  const o = JSON.parse(j.out);
  assert.equal(o.run.r0, "0x19");
  assert.deepEqual(o.conformance, { engine: "interp", passed: 313, failed: 0 });
  // What Linux 6.18 returned for the same object, map update and packets (bpftool, see demo.ts).
  assert.deepEqual(o.firewall, { ssh: 1, http: 2, verdicts: [0, 1, 4, 0] });
  // examples/exceptions.c is the corpus' programs_abc exc_main: arm64 6.12.117 returned 107 and
  // 1027 and JITed its functions to 112, 96 and 80 bytes (test/fixtures/exceptions)
  assert.equal(o.exceptions.retval_thrown, 107);
  assert.equal(o.exceptions.retval_returned, 1027);
  assert.deepEqual(
    o.exceptions.jit.map((f: { bytes: number }) => f.bytes),
    [112, 96, 80],
  );
});

test("the installed bin (dist/, built by npm install) runs", (t) => {
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) {
    t.skip("SKIPPING: dist/ not built (npm install runs `prepare`, which builds it)");
    return;
  }
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "bin/tsbpf.js"), "run", "--asm", "examples/primes.s", "--mem", "64000000", "--json"],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).retval, 25);
});
