// `tsbpf jit` end to end. From the kernel's own post-verifier instructions and layout (what the
// oracle's jitinfo wrote for programs loaded on the real arm64 Linux 6.12.117), `--json` must give
// each function's image exactly as the kernel JITed it (f<i>.bin, default_cb.bin), in the
// kernel's order, with every instruction annotated.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cli, ROOT } from "./run-cli.ts";

const JIT = join(ROOT, "test/fixtures/exceptions/arm64-jit");

interface JsonInsn {
  offset: number;
  address: string;
  word: string;
  text: string;
  bpf: number | null;
  bpf_text: string | null;
  kernel_object?: boolean;
}
interface JsonFunction {
  name: string;
  address: string;
  bytes_hex: string;
  insns: JsonInsn[];
}

const stems = readdirSync(JIT)
  .filter((f) => f.endsWith(".xlated.bin"))
  .map((f) => f.slice(0, -".xlated.bin".length));

describe("tsbpf jit --xlated --layout --json equals the kernel's images", () => {
  for (const stem of stems) {
    test(stem, async () => {
      const args = [
        "jit",
        "--arch",
        "arm64",
        "--xlated",
        join(JIT, `${stem}.xlated.bin`),
        "--layout",
        join(JIT, `${stem}.info`),
      ];
      const cb = join(JIT, `${stem}.default_cb.info`);
      if (existsSync(cb)) args.push("--default-cb", cb);
      const r = await cli(...args, "--json");
      assert.equal(r.code, 0, r.err);
      const fns = JSON.parse(r.out).functions as JsonFunction[];
      const info = readFileSync(join(JIT, `${stem}.info`), "utf8");
      const names = [...info.matchAll(/^func \d+ 0x[0-9a-f]+\s+\d+\s+\d+\s+(\S+)/gm)].map((m) => m[1]);
      assert.deepEqual(
        fns.slice(0, names.length).map((f) => f.name),
        names,
      );
      fns.forEach((f, i) => {
        const bin = i < names.length ? join(JIT, `${stem}.f${i}.bin`) : join(JIT, `${stem}.default_cb.bin`);
        // words holding a map's kernel address (which tsbpf cannot know) are flagged and skipped
        const want = readFileSync(bin).toString("hex");
        assert.equal(f.bytes_hex.length, want.length, f.name);
        for (const k of f.insns) {
          if (k.kernel_object) continue;
          const at = k.offset * 2;
          assert.equal(f.bytes_hex.slice(at, at + 8), want.slice(at, at + 8), `${f.name}+0x${k.offset.toString(16)}`);
        }
        assert.equal(f.insns.length * 4, f.bytes_hex.length / 2);
        assert.ok(f.insns.some((k) => k.bpf !== null && k.bpf_text !== null));
      });
    });
  }
});

describe("tsbpf jit", () => {
  test("the listing annotates prologue, BPF instructions and epilogue", async () => {
    const stem = join(JIT, "programs_abc.exc_main");
    const r = await cli("jit", "--xlated", `${stem}.xlated.bin`, "--layout", `${stem}.info`);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^bpf_prog_[0-9a-f]{16}_exc_main @ 0xffff[0-9a-f]{12} {2}\(\d+ bytes, \d+ insns, stack \d+; exception boundary\)$/m,
    );
    assert.match(r.out, /^ {2}; prologue$/m);
    assert.match(r.out, /^ {4}[0-9a-f]{16}: {2}d503233f {2}paciasp$/m);
    assert.match(r.out, /^ {2}; epilogue$/m);
  });

  test("bad usage", async () => {
    assert.equal((await cli("jit", "--arch", "x86_64", "x.o")).code, 2);
    assert.equal((await cli("jit", "--xlated", "x")).code, 2);
    assert.equal((await cli("jit")).code, 2);
    assert.equal((await cli("jit", "--address", "nothex", "x.o")).code, 2);
  });
});
