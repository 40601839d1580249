/**
 * The arm64 BPF JIT, modelled on Linux 6.12.117 (Debian 13 arm64: PAC on, BTI off, LSE
 * atomics). Given post-verifier instructions and where each function's image lives, it emits
 * the same bytes the kernel does.
 *
 * Module map (kernel names in parentheses): regs (bpf2a64), context (jit_ctx), immediates
 * (emit_a64_mov_i*, is_addsub_imm), prologue (build_prologue, push_callee_regs,
 * find_used_callee_regs), epilogue (build_epilogue, pop_callee_regs, build_plt), insn
 * (build_insn, build_body and the passes), alu, mem, branch, call (emit_call), atomic
 * (emit_lse_atomic, emit_ll_sc_atomic), tail-call (emit_bpf_tail_call), derive (facts an
 * xlated dump does not state), layout (reading the oracle's .info files).
 */
import { JitError } from "../../errors.ts";
import type { DecodedProgram } from "../../isa/insn.ts";
import type { FunctionFacts } from "./context.ts";
import { deriveBoundary, deriveExceptionCallback, deriveStackDepth } from "./derive.ts";
import { jitFunction } from "./insn.ts";
import { DEFAULT_BPF_THROW, type JitOptions, resolveOptions } from "./options.ts";
import type { JitFunction, JitInput, JitInsn } from "./types.ts";

export { readJitInfo } from "./layout.ts";
export type { JitOptions, KernelObjectKind } from "./options.ts";
export { DEFAULT_BPF_THROW, DEFAULT_CALL_BASE } from "./options.ts";
export type { JitFunction, JitFunctionLayout, JitInput, JitInsn } from "./types.ts";

/** `r0 = r1; exit`, the verifier's hidden default exception callback. */
function isDefaultCallback(p: DecodedProgram, at: number): boolean {
  return (
    at >= 1 &&
    at + 2 === p.length &&
    p.code[at] === 0xbf &&
    p.dst[at] === 0 &&
    p.src[at] === 1 &&
    p.off[at] === 0 &&
    p.code[at + 1] === 0x95
  );
}

/** Resolves the input's function list and facts into per-function facts. */
export function functionFacts(input: JitInput, options: JitOptions = {}): FunctionFacts[] {
  const opts = resolveOptions(options);
  const p = input.insns;
  const layout = [...input.functions];
  if (layout.length === 0) throw new JitError(-1, "no functions");
  if (layout[0].start !== 0) throw new JitError(-1, "the main function must start at slot 0");
  for (let f = 1; f < layout.length; f++)
    if (layout[f].start <= layout[f - 1].start || layout[f].start >= p.length)
      throw new JitError(-1, `function ${f} (${layout[f].name}) starts at a bad slot ${layout[f].start}`);
  const bpfThrow = options.symbols?.bpfThrow ?? DEFAULT_BPF_THROW;
  const boundary = input.exceptionBoundary ?? deriveBoundary(p, opts.callBase, bpfThrow);
  let cb = input.exceptionCallback;
  if (cb === undefined) {
    const starts = layout.map((f) => f.start);
    cb = deriveExceptionCallback(
      p,
      starts,
      layout.map((f) => f.address),
      opts.pseudoCallImm,
    );
    // xlated of a throwing program without a custom callback ends with the hidden default one;
    // without its layout line it is still JITed (its code does not depend on its address)
    if (cb < 0 && boundary && isDefaultCallback(p, p.length - 2) && layout[layout.length - 1].start < p.length - 2) {
      layout.push({ name: "hidden_default_cb", start: p.length - 2, address: 0n });
      cb = layout.length - 1;
    }
  }
  return layout.map((f, index) => {
    const end = index + 1 < layout.length ? layout[index + 1].start : p.length;
    return {
      index,
      name: f.name,
      address: f.address,
      start: f.start,
      end,
      stackDepth: input.stackDepth?.[index] ?? deriveStackDepth(p, f.start, end),
      exceptionBoundary: index === 0 && boundary,
      exceptionCallback: index === cb,
    };
  });
}

/** JITs every function of the program (main first, in the input's order). */
export function jitProgram(input: JitInput, options: JitOptions = {}): JitFunction[] {
  const opts = resolveOptions(options);
  const facts = functionFacts(input, options);
  return facts.map((fn) => {
    const ctx = jitFunction(input.insns, fn, facts, opts);
    const bytes = new Uint8Array(ctx.words.length * 4);
    const view = new DataView(bytes.buffer);
    const insns: JitInsn[] = ctx.words.map((word, k) => {
      view.setUint32(k * 4, word, true);
      const insn: JitInsn = { offset: k * 4, word, bpfIndex: ctx.bpfIndex[k] };
      if (ctx.kernelObject[k]) insn.kernelObject = true;
      return insn;
    });
    return {
      name: fn.name,
      address: fn.address,
      bytes,
      insns,
      stackDepth: fn.stackDepth,
      exceptionBoundary: fn.exceptionBoundary,
      exceptionCallback: fn.exceptionCallback,
    };
  });
}
