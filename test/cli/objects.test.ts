// `tsbpf run OBJ` and `tsbpf objdump OBJ` end to end, against the real kernel's results recorded
// in test/fixtures/progs/expected.json (bpftool prog run on this machine's kernel).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cli, ROOT } from "./run-cli.ts";

const PROGS = join(ROOT, "test/fixtures/progs");

interface Case {
  name: string;
  object: string;
  prog: string;
  data_in: string;
  ctx_in?: string;
  repeat?: number;
  set?: { map: string; key?: string; value?: string; delete?: boolean }[];
}
interface Expected {
  name: string;
  retval?: number;
  data_out?: string;
  ctx_out?: string;
  error?: string;
}

const cases: Case[] = JSON.parse(readFileSync(join(PROGS, "cases.json"), "utf8"));
const expected = new Map<string, Expected>(
  (JSON.parse(readFileSync(join(PROGS, "expected.json"), "utf8")).cases as Expected[]).map((e) => [e.name, e]),
);

describe("tsbpf run OBJ --json agrees with bpftool prog run on the real kernel", () => {
  // Every case the CLI can express (map updates, no deletes), through files like bpftool's.
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-obj-"));
  let n = 0;
  for (const c of cases) {
    const want = expected.get(c.name);
    if (want === undefined || want.error !== undefined) continue;
    if ((c.set ?? []).some((s) => s.delete || s.value === undefined)) continue;
    n++;
    test(c.name, async () => {
      const data = join(dir, `${n}.data`);
      writeFileSync(data, Buffer.from(c.data_in, "hex"));
      const argv = ["run", join(PROGS, c.object), "--prog", c.prog, "--data", data, "--json"];
      if (c.ctx_in !== undefined) {
        const ctx = join(dir, `${n}.ctx`);
        writeFileSync(ctx, Buffer.from(c.ctx_in, "hex"));
        argv.push("--ctx", ctx);
      }
      if (c.repeat !== undefined) argv.push("--repeat", String(c.repeat));
      for (const s of c.set ?? []) argv.push("--set", `${s.map}:${s.key ?? ""}=${s.value}`);
      const r = await cli(...argv);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.trimEnd().split("\n");
      assert.equal(lines.length, 1, "exactly one JSON object for one program");
      const got = JSON.parse(lines[0]);
      assert.deepEqual(Object.keys(got).slice(0, 5), ["prog", "retval", "r0", "duration_ns", "engine"]);
      assert.equal(got.prog, c.prog);
      assert.equal(got.engine, "interp");
      if (want.retval !== undefined) assert.equal(got.retval, want.retval);
      if (want.data_out !== undefined) assert.equal(got.data_out, want.data_out);
      if (want.ctx_out !== undefined && c.ctx_in !== undefined) assert.equal(got.ctx_out, want.ctx_out);
    });
  }
  test("the CLI covers most recorded cases", () => assert.ok(n >= 150, `only ${n} cases`));
});

describe("tsbpf run OBJ", () => {
  test("without --prog every program runs: one JSON object each", async () => {
    const pkt = join(mkdtempSync(join(tmpdir(), "tsbpf-cli-obj-")), "p");
    writeFileSync(pkt, Buffer.alloc(64));
    const r = await cli("run", join(PROGS, "tail_calls.o"), "--data", pkt, "--json");
    assert.equal(r.code, 0, r.err);
    const names = r.out
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l).prog);
    assert.deepEqual(names, ["tail_a", "tail_b", "tail_c", "tail_dispatch"]);
  });

  test("bad input: unknown program, malformed --set, missing file, a truncated object", async () => {
    const obj = join(PROGS, "tail_calls.o");
    const bad = join(mkdtempSync(join(tmpdir(), "tsbpf-cli-obj-")), "bad.o");
    writeFileSync(bad, readFileSync(obj).subarray(0, 300));
    for (const [argv, code, msg] of [
      [["run", obj, "--prog", "nope", "--data-hex", "00".repeat(20)], 1, /no loaded program named nope/],
      [["run", obj, "--set", "jmp=00"], 2, /expected MAP:KEY=VALUE/],
      [["run", obj, "--set", "nomap:00000000=@tail_a", "--data-hex", "00".repeat(20)], 1, /no map named nomap/],
      [["run", "/nonexistent.o"], 2, /cannot read/],
      [["run", bad], 1, /ELF/],
      [["run", obj, "--mem", "00"], 2, /--mem applies to --asm\/--raw/],
    ] as const) {
      const r = await cli(...argv);
      assert.equal(r.code, code, `${argv.join(" ")}: ${r.err}`);
      assert.match(r.err, msg);
    }
  });

  test("a test_run the kernel refuses is reported with its errno", async () => {
    const r = await cli("run", join(PROGS, "tc_parse.o"), "--prog", "tc_classify", "--data-hex", "0011");
    assert.equal(r.code, 1);
    assert.match(r.err, /EINVAL|Invalid argument/);
  });
});

describe("tsbpf objdump", () => {
  test("maps, programs, functions and source-annotated instructions", async () => {
    const r = await cli("objdump", join(PROGS, "subprogs.o"));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^sub_tc: section tc, sched_cls, \d+ insns$/m);
    assert.match(r.out, /functions: sub_tc \(global, 0\.\.\d+\), level1 \(static/);
    assert.match(r.out, /^; .*bpf_skb_load_bytes.* \[\.\/subprogs\.c:\d+\]$/m);
    assert.match(r.out, /call pc\+0x[0-9a-f]+\t; level1$/m);
  });

  test("--json lists every instruction with its source line", async () => {
    const r = await cli("objdump", join(PROGS, "tail_calls.o"), "--json");
    const o = JSON.parse(r.out);
    assert.deepEqual(
      o.maps.map((m: { name: string; type: string }) => [m.name, m.type]),
      [["jmp", "prog_array"]],
    );
    const b = o.programs.find((p: { name: string }) => p.name === "tail_b");
    assert.ok(b.listing.some((l: { ref: string }) => l.ref === "bpf_tail_call"));
    assert.ok(b.listing.every((l: { pc: number }) => Number.isInteger(l.pc)));
  });
});
