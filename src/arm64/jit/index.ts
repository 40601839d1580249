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
import type { FunctionFacts, JitContext } from "./context.ts";
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
      input.pseudoCallImm ?? "index",
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

/** Whether typed arrays are little-endian here, so a word array's bytes are the image. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A JITed function; `insns` records are only built when someone asks for them. */
class Image implements JitFunction {
  readonly name: string;
  readonly address: bigint;
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
  readonly bpfIndex: Int32Array;
  readonly kernelObject: Uint8Array;
  readonly stackDepth: number;
  readonly exceptionBoundary: boolean;
  readonly exceptionCallback: boolean;
  private records: JitInsn[] | undefined;

  constructor(fn: FunctionFacts, ctx: JitContext) {
    const n = ctx.idx;
    this.name = fn.name;
    this.address = fn.address;
    // one allocation for the three per-word arrays (ArrayBuffers are what small programs
    // spend their time on): words at 0, bpfIndex at 4n, kernelObject at 8n
    const buffer = new ArrayBuffer(9 * n);
    this.words = new Uint32Array(buffer, 0, n);
    this.words.set(ctx.words.subarray(0, n));
    this.bpfIndex = new Int32Array(buffer, 4 * n, n);
    this.bpfIndex.set(ctx.bpfIndex.subarray(0, n));
    this.kernelObject = new Uint8Array(buffer, 8 * n, n);
    this.kernelObject.set(ctx.kernelObject.subarray(0, n));
    if (LITTLE_ENDIAN) this.bytes = new Uint8Array(buffer, 0, 4 * n);
    else {
      this.bytes = new Uint8Array(n * 4);
      const view = new DataView(this.bytes.buffer);
      for (let k = 0; k < n; k++) view.setUint32(k * 4, this.words[k], true);
    }
    this.stackDepth = fn.stackDepth;
    this.exceptionBoundary = fn.exceptionBoundary;
    this.exceptionCallback = fn.exceptionCallback;
  }

  get insns(): readonly JitInsn[] {
    if (this.records === undefined) {
      const out: JitInsn[] = new Array(this.words.length);
      for (let k = 0; k < this.words.length; k++) {
        const insn: JitInsn = { offset: k * 4, word: this.words[k], bpfIndex: this.bpfIndex[k] };
        if (this.kernelObject[k]) insn.kernelObject = true;
        out[k] = insn;
      }
      this.records = out;
    }
    return this.records;
  }
}

/** JITs every function of the program (main first, in the input's order). */
export function jitProgram(input: JitInput, options: JitOptions = {}): JitFunction[] {
  const opts = resolveOptions(options);
  const facts = functionFacts(input, options);
  const pseudoCallImm = input.pseudoCallImm ?? "index";
  return facts.map((fn) => new Image(fn, jitFunction(input.insns, fn, facts, opts, pseudoCallImm)));
}
