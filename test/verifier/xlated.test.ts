// The instruction stream after verification against the target kernel's: for every program of
// test/fixtures/exceptions that arm64 Linux 6.12.117 loaded, the oracle dumped the xlated
// program (bpf_prog_info, arm64-jit/*.xlated.bin) and the function layout (*.info). tsbpf's
// rewritten program must be the same instructions: dead code removed, dead branches hard-wired,
// the hidden default exception callback `r0 = r1; exit` appended when a throw is reachable and
// there is no custom callback — and the same functions at the same offsets.
//
// What the kernel rewrites beyond that is not modelled, so those fields are not compared: call
// immediates (helper addresses, kfunc ids, subprogram indexes after jit_subprogs), ld_imm64
// values (map addresses) and context-load offsets (convert_ctx_accesses). Programs whose context
// conversion or kfunc fixup changes the number of instructions are skipped, with the reason.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FIXTURES, verifyFixture } from "./helpers.ts";

const DIR = join(FIXTURES, "exceptions");
const expected = JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as {
  kernels: Record<string, { programs: { object: string; prog: string; accepted: boolean | null }[] }>;
};

/** Programs whose xlated form differs by rewrites the model does not make. */
const UNMODELLED: ReadonlyMap<string, string> = new Map([
  ["selftest_throw.exception_throw_always_2", "convert_ctx_accesses: skb->protocol becomes a 16-bit load"],
  ["selftest_throw.exception_throw_unwind_1", "convert_ctx_accesses: skb->protocol becomes a 16-bit load"],
  ["selftest_throw.exception_throw_unwind_2", "convert_ctx_accesses: skb->protocol becomes a 16-bit load"],
  ["selftest_throw.exception_throw_subprog", "convert_ctx_accesses: skb->tstamp expands to several instructions"],
  [
    "reject_global_throw_with_ref.reject_global_subprog_throw_with_reference",
    "do_misc_fixups: bpf_obj_new_impl gets its size and record as extra instructions",
  ],
]);

/** The functions' first instructions from the oracle's layout file (`funcinfo i insn_off N`). */
function funcStarts(info: string): number[] {
  return [...info.matchAll(/^funcinfo \d+ insn_off (\d+)/gm)].map((m) => Number(m[1]));
}

describe("rewritten program vs arm64 6.12.117 xlated", () => {
  for (const e of expected.kernels["arm64-6.12.117"].programs) {
    if (e.accepted !== true) continue;
    const stem = `${e.object.replace(/\.o$/, "")}.${e.prog}`;
    const xlated = join(DIR, "arm64-jit", `${stem}.xlated.bin`);
    if (!existsSync(xlated)) continue;
    test(stem, (t) => {
      const why = UNMODELLED.get(stem);
      if (why !== undefined) return t.skip(why);
      const r = verifyFixture("exceptions", e.object, e.prog, "6.12");
      assert.ok(r.ok, r.ok ? "" : r.error.reason);
      const x = readFileSync(xlated);
      const ins = r.prog.insns;
      assert.equal(ins.length, x.length / 8, "instructions");
      for (let i = 0; i < ins.length; i++) {
        const code = x[i * 8];
        const regs = x[i * 8 + 1];
        const where = `insn ${i}`;
        assert.equal(ins.code[i], code, `${where} code`);
        const secondHalf = i > 0 && ins.code[i - 1] === 0x18;
        if (code === 0x18 || secondHalf) continue;
        assert.equal(ins.dst[i], regs & 0x0f, `${where} dst`);
        if (code === 0x85) continue;
        assert.equal(ins.src[i], regs >> 4, `${where} src`);
        if ((code & 0x07) === 0x01) continue;
        assert.equal(ins.off[i], x.readInt16LE(i * 8 + 2), `${where} off`);
        assert.equal(ins.imm[i], x.readInt32LE(i * 8 + 4), `${where} imm`);
      }
      const visible = r.prog.subprogs.filter((s) => !s.hidden).map((s) => s.start);
      assert.deepEqual(visible, funcStarts(readFileSync(join(DIR, "arm64-jit", `${stem}.info`), "utf8")));
      const hidden = r.prog.subprogs.some((s) => s.hidden);
      assert.equal(hidden, existsSync(join(DIR, "arm64-jit", `${stem}.default_cb.info`)), "hidden default callback");
      if (hidden) assert.equal(r.prog.exceptionCallbackSubprog, r.prog.subprogs.length - 1);
    });
  }
});
