/**
 * From tsbpf's own verifier to the JIT: what the kernel's `jit_subprogs` hands `bpf_int_jit_compile`
 * for a program tsbpf verified itself — the rewritten instructions in the form the kernel's xlated
 * dump shows them (the form the JIT reads, see ./layout.ts), the functions in the kernel's order,
 * and the facts the verifier established (stack depths, exception boundary and callback), so that
 * nothing has to be guessed from the instructions.
 *
 * The verifier must have run with the modelled kernel's symbols (`VerifyOptions.kernelSymbols`,
 * src/kernel/kallsyms.ts): helper and kfunc calls then hold `address - __bpf_call_base`, as in
 * the kernel.
 */
import { JitError } from "../../errors.ts";
import { type VerifiedProgram, xlatedDump } from "../../verifier/index.ts";
import type { JitInput } from "./index.ts";

/** The JitInput of `v`, with function `i` at `addresses[i]` (0 when not given). */
export function jitInputFromVerified(v: VerifiedProgram, addresses: readonly bigint[] = []): JitInput {
  if (v.unresolvedCalls.length > 0) {
    throw new JitError(-1, `calls to functions the kernel symbol table lacks: ${v.unresolvedCalls.join(", ")}`);
  }
  return {
    insns: xlatedDump(v),
    functions: v.subprogs.map((s, i) => ({ name: s.name, start: s.start, address: addresses[i] ?? 0n })),
    stackDepth: v.subprogs.map((s) => s.stackDepth),
    exceptionBoundary: v.exceptionBoundary,
    exceptionCallback: v.exceptionCallbackSubprog > 0 ? v.exceptionCallbackSubprog : -1,
    pseudoCallImm: "index",
  };
}
