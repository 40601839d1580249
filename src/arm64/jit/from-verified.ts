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
import { functionSymbols } from "../../kernel/prog-names.ts";
import type { ProgramSpec } from "../../object/spec.ts";
import { type VerifiedProgram, xlatedDump } from "../../verifier/index.ts";
import { type JitFunction, type JitInput, type JitOptions, jitProgram } from "./index.ts";

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

/** A verified program compiled at modelled addresses, with what its listing needs. */
export interface PlacedProgram {
  /** The JIT's input: the kernel's form of the rewritten instructions, with kallsyms names. */
  readonly input: JitInput;
  readonly functions: JitFunction[];
}

/**
 * Compiles program `p`, verified as `v`, the way the kernel loads it: functions named as
 * kallsyms names them (`bpf_prog_<tag>_<name>`) and laid out one after another from `base`,
 * 16-byte aligned, as bpf_prog_pack places them. A first compilation gives the sizes (they do not
 * depend on the addresses unless a call's reach changes), the second is at the final addresses.
 */
export function compileVerified(
  p: ProgramSpec,
  v: VerifiedProgram,
  base: bigint,
  options: JitOptions = {},
): PlacedProgram {
  const dumped = jitInputFromVerified(v);
  const names = functionSymbols(p, v, dumped.insns);
  const named: JitInput = { ...dumped, functions: dumped.functions.map((f, i) => ({ ...f, name: names[i] })) };
  const sized = jitProgram(named, options);
  let at = base;
  const input: JitInput = {
    ...named,
    functions: named.functions.map((f, i) => {
      const placed = { ...f, address: at };
      at += (BigInt(sized[i].bytes.length + 8) + 15n) & ~15n;
      return placed;
    }),
  };
  return { input, functions: jitProgram(input, options) };
}
