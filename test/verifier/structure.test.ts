// The verifier's structure on small assembled programs: the checks that run before any path is
// explored (check_subprogs, check_cfg), the exploration basics (read of an unwritten register,
// bounded and unbounded loops, the complexity limit, frames), the post-verification rewrites
// (dead code, the hidden default exception callback), the function table it returns, and the
// message table and formatter. The kernel texts come from kernel/bpf/verifier.c v6.12; the
// corpus tests (corpus.test.ts, exceptions.test.ts) check the same rules against real kernels.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { VerifierError } from "../../src/errors.ts";
import { BPF_PROG_TYPE_CGROUP_SKB } from "../../src/object/uapi.ts";
import { verifyProgram } from "../../src/verifier/index.ts";
import { formatMessage, MESSAGES, messageText } from "../../src/verifier/messages.ts";
import { asmSpec, openFixture, outcome, programOf, verifyFixture } from "./helpers.ts";

const THROW = new Map([[1, "bpf_throw"]]);

describe("before exploration", () => {
  test("a function must end in exit or jump", () => {
    const r = verifyProgram(asmSpec("r0 = 0"));
    assert.equal(outcome(r), "last insn is not an exit or jmp");
    assert.ok(!r.ok && r.error instanceof VerifierError && r.error.errno === 22);
  });

  test("jumps stay inside the program and their function", () => {
    assert.equal(
      outcome(verifyProgram(asmSpec("r0 = 0\nif r0 == 0 goto +5\nexit"))),
      "jump out of range from insn 1 to 7",
    );
    const across = "r0 = 0\ncall f\nif r0 == 0 goto g\nexit\nf:\nr0 = 1\ng:\nexit";
    assert.equal(outcome(verifyProgram(asmSpec(across))), "jump out of range from insn 2 to 5");
  });

  test("a call into the middle of a function splits it", () => {
    const r = verifyProgram(asmSpec("call mid\nexit\nr0 = 0\nmid:\nr0 += 1\nexit"));
    assert.equal(outcome(r), "last insn is not an exit or jmp");
  });

  test("every instruction must be reachable", () => {
    assert.equal(outcome(verifyProgram(asmSpec("r0 = 0\nexit\nr0 = 1\nexit"))), "unreachable insn 2");
    assert.equal(outcome(verifyProgram(asmSpec("r0 = 0\ngoto +1\nr0 = 1\nexit"))), "unreachable insn 2");
  });

  test("kfunc calls need a GPL-compatible program", () => {
    const r = verifyProgram(asmSpec("r1 = 0\ncall kfunc 0x1\nr0 = 0\nexit", { kfuncs: THROW, license: "MIT" }));
    assert.equal(outcome(r), "cannot call kernel function from non-GPL compatible program");
  });
});

describe("exploration", () => {
  test("a register is read before it is written", () => {
    assert.equal(outcome(verifyProgram(asmSpec("exit"))), "R0 !read_ok");
    assert.equal(outcome(verifyProgram(asmSpec("r0 = r3\nexit"))), "R3 !read_ok");
  });

  test("R10 is read only", () => {
    const r = verifyProgram(asmSpec("r10 = 0\nr0 = 0\nexit"));
    assert.ok(!r.ok);
  });

  test("a loop over a constant is verified iteration by iteration", () => {
    const r = verifyProgram(asmSpec("r0 = 0\nr1 = 0\nl:\nr0 += r1\nr1 += 1\nif r1 < 10 goto l\nexit"));
    assert.ok(r.ok);
    assert.equal(r.prog.insnProcessed, 2 + 10 * 3 + 1);
  });

  test("a loop that cannot progress is an infinite loop", () => {
    assert.equal(
      outcome(verifyProgram(asmSpec("r0 = 0\nl:\nif r0 == 0 goto l\nexit"))),
      "infinite loop detected at insn 1",
    );
  });

  test("more than a million instructions is too large", () => {
    const r = verifyProgram(asmSpec("r0 = 0\nr1 = 0\nl:\nr0 += r1\nr1 += 1\nif r1 < 2000000 goto l\nr0 = 0\nexit"));
    assert.equal(outcome(r), "BPF program is too large. Processed 1000001 insn");
  });

  test("return values are checked per program type", () => {
    const cg = { type: BPF_PROG_TYPE_CGROUP_SKB };
    assert.equal(
      outcome(verifyProgram(asmSpec("r0 = 2\nexit", cg))),
      "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]",
    );
    assert.equal(outcome(verifyProgram(asmSpec("r0 = 1\nexit", cg))), "ok");
    assert.equal(
      outcome(verifyProgram(asmSpec("r0 = r1\nexit", cg))),
      "At program exit the register R0 is not a known value (ctx)",
    );
  });

  test("a may_goto loop on an undecided condition converges (its counter stays imprecise)", () => {
    // the kernel's precision marks come from decided branches only: iterations that differ in
    // r0 alone are the same state at the may_goto, so the loop is verified once
    const r = verifyProgram(
      asmSpec("r0 = 0\nr1 = *(u32 *)(r1 + 0)\nl:\nmay_goto out\nr0 += 1\nif r0 < r1 goto l\nout:\nexit"),
    );
    assert.ok(r.ok, outcome(r));
    assert.ok(r.prog.insnProcessed < 30, `${r.prog.insnProcessed} insns`);
  });

  test("open-coded iterators: new, next until NULL, destroy", () => {
    const kfuncs = new Map([
      [1, "bpf_iter_num_new"],
      [2, "bpf_iter_num_next"],
      [3, "bpf_iter_num_destroy"],
    ]);
    const loop = (body: string) =>
      asmSpec(
        `r6 = 0\nr1 = r10\nr1 += -8\nr2 = 0\nr3 = 10\ncall kfunc 0x1\nl:\nr1 = r10\nr1 += -8\ncall kfunc 0x2\n` +
          `if r0 == 0 goto done\nr2 = *(u8 *)(r0 + 0)\nr6 += r2\ngoto l\ndone:\n${body}r0 = r6\nexit`,
        { kfuncs },
      );
    // (a byte load: liveness.ts takes a 4- or 8-byte load for a possible pointer, whose sum
    // with r6 it keeps precise, which the kernel would not)
    const r = verifyProgram(loop("r1 = r10\nr1 += -8\ncall kfunc 0x3\n"));
    assert.ok(r.ok, outcome(r));
    assert.ok(r.prog.insnProcessed < 40, `${r.prog.insnProcessed} insns`);
    assert.equal(r.prog.subprogs[0].stackDepth, 8);
    assert.match(outcome(verifyProgram(loop(""))), /^Unreleased reference id=\d+ alloc_insn=5$/);
    assert.equal(
      outcome(verifyProgram(asmSpec("r1 = r10\nr1 += -8\ncall kfunc 0x2\nr0 = 0\nexit", { kfuncs }))),
      "expected an initialized iter_num as arg #1",
    );
    assert.equal(
      outcome(verifyProgram(asmSpec("r1 = 0\ncall kfunc 0x3\nr0 = 0\nexit", { kfuncs }))),
      "arg#0 expected pointer to an iterator on stack",
    );
  });

  test("skb dynptrs: constructed on the stack, sliced, overwritten", () => {
    const kfuncs = new Map([
      [1, "bpf_dynptr_from_skb"],
      [2, "bpf_dynptr_slice"],
      [3, "bpf_dynptr_size"],
    ]);
    const prog = (mid: string) =>
      asmSpec(
        `r2 = 0\nr3 = r10\nr3 += -16\ncall kfunc 0x1\n${mid}r1 = r10\nr1 += -16\nr2 = 0\nr3 = 0\nr4 = 4\n` +
          "call kfunc 0x2\nif r0 == 0 goto +1\nr0 = *(u8 *)(r0 + 3)\nr0 = 0\nexit",
        { kfuncs },
      );
    const r = verifyProgram(prog(""));
    assert.ok(r.ok, outcome(r));
    assert.equal(r.prog.subprogs[0].stackDepth, 16);
    // a store into its slots destroys the dynptr
    assert.equal(outcome(verifyProgram(prog("*(u64 *)(r10 - 8) = r0\n"))), "Expected an initialized dynptr as arg #1");
    // a slice is 4 read-only bytes
    const write = asmSpec(
      "r2 = 0\nr3 = r10\nr3 += -16\ncall kfunc 0x1\nr1 = r10\nr1 += -16\nr2 = 0\nr3 = 0\nr4 = 4\n" +
        "call kfunc 0x2\nif r0 == 0 goto +1\n*(u8 *)(r0 + 0) = 1\nr0 = 0\nexit",
      { kfuncs },
    );
    assert.match(outcome(verifyProgram(write)), /^R0 cannot write into /);
  });

  test("a static function's frame", () => {
    const r = verifyProgram(asmSpec("r1 = 5\ncall f\nexit\nf:\nr0 = r1\nr0 += 1\nexit"));
    assert.ok(r.ok);
    assert.deepEqual(
      r.prog.subprogs.map((s) => s.start),
      [0, 3],
    );
  });
});

describe("exceptions and the rewritten program", () => {
  test("a throw appends the hidden default callback r0 = r1; exit", () => {
    const r = verifyProgram(asmSpec("r1 = 7\ncall kfunc 0x1\nr0 = 0\nexit", { kfuncs: THROW }));
    assert.ok(r.ok);
    const p = r.prog;
    assert.ok(p.seenException && p.exceptionBoundary);
    // the instructions after the throw are dead: removed
    assert.equal(p.insns.length, 4);
    assert.deepEqual([...p.insns.code], [0xb7, 0x85, 0xbf, 0x95]);
    assert.deepEqual([p.insns.dst[2], p.insns.src[2]], [0, 1]);
    assert.deepEqual([...p.origIndex], [0, 1, -1, -1]);
    assert.equal(p.exceptionCallbackSubprog, 1);
    const cb = p.subprogs[1];
    assert.ok(cb.hidden && cb.isExceptionCb && cb.isCb && cb.isAsyncCb);
    assert.equal(cb.start, 2);
  });

  test("no throw, no callback", () => {
    const r = verifyProgram(asmSpec("r0 = 0\nexit"));
    assert.ok(r.ok && !r.prog.seenException && r.prog.subprogs.length === 1);
  });

  test("a decided branch is hard-wired and its dead side removed", () => {
    const r = verifyProgram(asmSpec("r0 = 1\nif r0 == 1 goto +2\nr0 = 2\nr0 += 3\nexit"));
    assert.ok(r.ok);
    // ja +2 becomes ja +0 after the removal, and a ja +0 is a nop that goes too
    assert.deepEqual([...r.prog.insns.code], [0xb7, 0x95]);
  });

  test("the default callback's cookie is checked as a return value", () => {
    const cg = { type: BPF_PROG_TYPE_CGROUP_SKB, kfuncs: THROW };
    assert.equal(
      outcome(verifyProgram(asmSpec("r1 = 64\ncall kfunc 0x1\nr0 = 0\nexit", cg))),
      "At program exit the register R1 has smin=64 smax=64 should have been in [0, 1]",
    );
  });

  test("the exception callback must be in func_info, and not at instruction 0", () => {
    const o = openFixture("exceptions", "programs_abc.o");
    const main = programOf(o, "exc_main");
    const cb = main.functions.find((f) => f.name === "my_cb");
    assert.ok(cb !== undefined);
    // without the callback's func_info record (libbpf would have appended it)
    const noCb = { ...main, functions: main.functions.filter((f) => f !== cb) };
    const r1 = verifyProgram(noCb, { btf: o.btf, maps: o.spec.maps });
    assert.equal(outcome(r1), "exception callback type id not found in func_info");
    // a record of the callback's type at instruction 0
    const atZero = { ...main, functions: [...main.functions.filter((f) => f !== cb), { ...cb, start: 0 }] };
    const r2 = verifyProgram(atZero, { btf: o.btf, maps: o.spec.maps });
    assert.equal(outcome(r2), "invalid exception callback insn_off in func_info: 0");
  });

  test("a custom exception callback's function table (programs_abc.o exc_main)", () => {
    const r = verifyFixture("exceptions", "programs_abc.o", "exc_main", "6.12");
    assert.ok(r.ok);
    const p = r.prog;
    assert.ok(p.seenException);
    assert.equal(p.exceptionCallbackSubprog, 2);
    const cb = p.subprogs[2];
    assert.equal(cb.name, "my_cb");
    assert.ok(cb.isExceptionCb && cb.isCb && cb.isAsyncCb && !cb.hidden);
    assert.ok(!p.subprogs[1].isCb);
  });
});

describe("messages", () => {
  test("printf conversions as the kernel's vsnprintf", () => {
    assert.equal(formatMessage("R%d type=%s", [3, "fp"]), "R3 type=fp");
    assert.equal(formatMessage("%#llx %llx %lld", [0n, 255n, -5n]), "0x0 ff -5");
    assert.equal(formatMessage("%02x %%", [5]), "05 %");
  });

  test("the 6.12 and 6.18 wordings", () => {
    assert.equal(messageText("RCU_UNLOCK_MISSING", "6.12"), "bpf_rcu_read_unlock is missing");
    assert.equal(messageText("THROW_IN_CALLBACK", "6.18"), MESSAGES.THROW_IN_CALLBACK);
  });
});
