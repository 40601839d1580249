// Raw bytecode names a kfunc by its BTF id in the running kernel's vmlinux: the ids tsbpf binds
// (generated from the 6.12.117 vmlinux BTF by scripts/gen-kernel-btf.ts) must be the ones the
// real 6.12.117 verifier printed in its logs ("call bpf_throw#66092"), and a raw program calling
// bpf_throw by that id must throw.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runRawProgram } from "../../src/interp/index.ts";
import { assemble } from "../../src/isa/asm.ts";
import { KERNEL_KFUNC_BTF_IDS } from "../../src/runtime/kernel-btf/index.ts";
import { kernelKfuncs } from "../../src/runtime/kfuncs.ts";

const EXPECTED = join(import.meta.dirname, "../fixtures/exceptions/expected.json");

test("kfunc BTF ids equal those the 6.12.117 verifier logged", () => {
  const logs = JSON.stringify(JSON.parse(readFileSync(EXPECTED, "utf8")).kernels["arm64-6.12.117"]);
  const seen = new Map<string, number>();
  for (const m of logs.matchAll(/call (bpf_\w+)#(\d+)/g)) if (Number(m[2]) > 1000) seen.set(m[1], Number(m[2]));
  let compared = 0;
  for (const [name, id] of seen) {
    if (!KERNEL_KFUNC_BTF_IDS.has(name)) continue;
    assert.equal(KERNEL_KFUNC_BTF_IDS.get(name), id, name);
    compared++;
  }
  assert.ok(compared >= 4, `compared ${compared} kfuncs (${[...seen.keys()].join(", ")})`);
});

test("raw bytecode: call kfunc <bpf_throw's id> throws; the default callback returns the cookie", () => {
  const id = KERNEL_KFUNC_BTF_IDS.get("bpf_throw") ?? 0;
  const prog = assemble(`r1 = 0x2a\ncall kfunc 0x${id.toString(16)}\nr0 = 0x0\nexit`);
  assert.equal(runRawProgram(prog, null, { kfuncs: kernelKfuncs() }).r0, 42n);
  const wide = assemble(`r1 = 0x123456789 ll\ncall kfunc 0x${id.toString(16)}\nexit`);
  assert.equal(runRawProgram(wide, null, { kfuncs: kernelKfuncs() }).r0, 0x123456789n);
});
