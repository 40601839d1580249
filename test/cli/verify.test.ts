// `tsbpf verify OBJ` and `tsbpf run` of rejected programs, end to end, against the exceptions
// corpus recorded on the real arm64 Linux 6.12.117 (test/fixtures/exceptions/expected.json):
// every program the kernel accepted is reported accepted (exit 0), every one it rejected gives
// the kernel's message, errno and source line (exit 1), and `tsbpf run` refuses to run it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, test } from "node:test";
import { cli, ROOT } from "./run-cli.ts";

const EXC = join(ROOT, "test/fixtures/exceptions");

interface Recorded {
  object: string;
  prog: string;
  accepted: boolean | null;
  stage?: string;
  errno?: string;
  message?: string;
  runs?: { data_in: string; retval: number }[];
}

const programs: Recorded[] = JSON.parse(readFileSync(join(EXC, "expected.json"), "utf8")).kernels["arm64-6.12.117"]
  .programs;
const ERRNO: Record<string, string> = {
  "Invalid argument": "EINVAL",
  "Permission denied": "EACCES",
  "Argument list too long": "E2BIG",
  "Operation not supported": "EOPNOTSUPP",
  "Unknown error 524": "ENOTSUPP",
};

describe("tsbpf verify OBJ --json agrees with arm64 Linux 6.12.117", () => {
  for (const p of programs) {
    if (p.accepted === null || p.stage === "libbpf" || p.stage === "kernel") continue;
    test(`${p.object} ${p.prog}`, async () => {
      const r = await cli("verify", join(EXC, p.object), "--prog", p.prog, "--json");
      assert.equal(r.code, p.accepted ? 0 : 1, r.err);
      const got = JSON.parse(r.out);
      assert.equal(got.kernel, "6.12");
      assert.equal(got.programs.length, 1);
      const v = got.programs[0];
      assert.equal(v.prog, p.prog);
      assert.equal(v.accepted, p.accepted);
      if (p.accepted) {
        assert.ok(v.insns_processed > 0 && v.functions.length >= 1);
        return;
      }
      assert.equal(v.message, p.message);
      if (p.errno !== undefined && ERRNO[p.errno] !== undefined) assert.equal(v.errno, ERRNO[p.errno]);
      assert.ok(Number.isInteger(v.insn));
    });
  }
});

describe("tsbpf verify OBJ", () => {
  test("human output: accepted programs with their functions and exception callback", async () => {
    const r = await cli("verify", join(EXC, "cb_variants.o"));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^cb_int_arg \(sched_cls\): accepted, processed \d+ insns$/m);
    assert.match(r.out, /^ {2}exception callback: cb_small$/m);
  });

  test("human output: a rejection gives the message, errno, instruction and source line", async () => {
    const r = await cli("verify", join(EXC, "reject_lock_throw.o"));
    assert.equal(r.code, 1);
    const lines = r.out.split("\n");
    assert.match(
      lines[0],
      /^reject_with_lock \(sched_cls\): rejected \(EINVAL\) insn \d+ at reject_lock_throw\.c:\d+$/,
    );
    const message = programs.find((p) => p.prog === "reject_with_lock")?.message;
    assert.equal(lines[1], `  ${message}`);
    assert.match(lines[2], /^ {2}\| .*bpf_throw/);
  });

  test("the default callback of a throwing program is listed as hidden", async () => {
    const r = await cli("verify", join(EXC, "selftest_throw.o"), "--prog", "exception_throw_default", "--json");
    assert.equal(r.code, 0, r.err);
    const fns = JSON.parse(r.out).programs[0].functions as { hidden: boolean; exception_cb: boolean }[];
    const last = fns.at(-1);
    assert.ok(last?.hidden && last.exception_cb, JSON.stringify(fns));
  });

  test("--log prints the verifier's log; --kernel 6.18 uses the newer wording", async () => {
    const r = await cli("verify", join(EXC, "reject_cb_two_args.o"), "--log");
    assert.equal(r.code, 1);
    assert.match(r.out, /Validating exception_cb_bad_arg_2\(\) func#1\.\.\./);
    const older = await cli("verify", join(EXC, "reject_rcu_exit.o"), "--json");
    const newer = await cli("verify", join(EXC, "reject_rcu_exit.o"), "--kernel", "6.18", "--json");
    assert.equal(JSON.parse(older.out).programs[0].message, "bpf_rcu_read_unlock is missing");
    assert.equal(
      JSON.parse(newer.out).programs[0].message,
      "BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region",
    );
  });

  test("bad usage: no object, unknown program, unknown kernel", async () => {
    assert.equal((await cli("verify")).code, 2);
    const unknown = await cli("verify", join(EXC, "cb_variants.o"), "--prog", "nope");
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /no program named nope \(have: cb_int_arg/);
    assert.equal((await cli("verify", join(EXC, "cb_variants.o"), "--kernel", "5.15")).code, 2);
    assert.equal((await cli("verify", join(ROOT, "README.md"))).code, 1);
  });
});

describe("tsbpf run refuses what the verifier rejects", () => {
  test("a rejected program does not run: the kernel's message and source line, exit 1", async () => {
    const r = await cli("run", join(EXC, "reject_lock_throw.o"), "--data-hex", "00".repeat(64), "--json");
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.match(r.err, /reject_with_lock: verifier: insn \d+ \(.*reject_lock_throw\.c:\d+\): /);
  });

  test("a throwing program reports its callback's value", async () => {
    const p = programs.find((q) => q.prog === "exception_throw_always_1" && q.runs?.length);
    assert.ok(p?.runs);
    for (const run of p.runs) {
      const r = await cli("run", join(EXC, p.object), "--prog", p.prog, "--data-hex", run.data_in, "--json");
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).retval, run.retval, basename(p.object));
    }
  });
});
