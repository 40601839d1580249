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
import { MAX_BPF_STACK } from "../../isa/opcodes.ts";
import type { FunctionFacts, JitContext } from "./context.ts";
import { deriveBoundary, deriveExceptionCallback, deriveStackDepth } from "./derive.ts";
import { jitFunction } from "./insn.ts";
import { DEFAULT_BPF_THROW, type JitOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import type { JitFunction, JitInput, JitInsn } from "./types.ts";

export { readJitInfo } from "./layout.ts";
export type { JitOptions, KernelObjectKind } from "./options.ts";
export { DEFAULT_BPF_THROW, DEFAULT_CALL_BASE } from "./options.ts";
export type { JitFunction, JitFunctionLayout, JitInput, JitInsn } from "./types.ts";

/** The options of a call that gives none (resolved once). */
const DEFAULT_OPTIONS = resolveOptions();

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
  return resolveFacts(input, resolveOptions(options));
}

function resolveFacts(input: JitInput, opts: ResolvedOptions): FunctionFacts[] {
  const p = input.insns;
  const layout = [...input.functions];
  if (layout.length === 0) throw new JitError(-1, "no functions");
  if (layout[0].start !== 0) throw new JitError(-1, "the main function must start at slot 0");
  for (let f = 1; f < layout.length; f++)
    if (layout[f].start <= layout[f - 1].start || layout[f].start >= p.length)
      throw new JitError(-1, `function ${f} (${layout[f].name}) starts at a bad slot ${layout[f].start}`);
  const bpfThrow = opts.symbols?.bpfThrow ?? DEFAULT_BPF_THROW;
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
    const stackDepth = input.stackDepth?.[index] ?? deriveStackDepth(p, f.start, end);
    // a depth the verifier would not have allowed (given, or derived from accesses far below
    // r10) does not fit the prologue's immediates: refuse it here rather than as an EncodeError
    if (!Number.isInteger(stackDepth) || stackDepth < 0 || stackDepth > MAX_BPF_STACK)
      throw new JitError(-1, `function ${index} (${f.name}): stack depth ${stackDepth} outside 0..${MAX_BPF_STACK}`);
    return {
      index,
      name: f.name,
      address: f.address,
      start: f.start,
      end,
      stackDepth,
      exceptionBoundary: index === 0 && boundary,
      exceptionCallback: index === cb,
    };
  });
}

/** Whether typed arrays are little-endian here, so a word array's bytes are the image. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Storage for results: one buffer seen as words, bytes and signed words. Creating an
 * ArrayBuffer (or a typed array on one) costs about a microsecond whatever its size — as much as
 * JITing a small function — while `subarray` of an existing array is cheap, so small functions
 * are carved out of a shared 64 KiB pool, as Node's Buffer.allocUnsafe does; larger ones get a
 * block of their own.
 */
class Block {
  readonly words: Uint32Array;
  readonly bytes: Uint8Array;
  readonly int32: Int32Array;
  used = 0;

  constructor(size: number) {
    this.words = new Uint32Array(size);
    this.bytes = new Uint8Array(this.words.buffer);
    this.int32 = new Int32Array(this.words.buffer);
  }
}

const POOL_WORDS = 16384;
/** Larger results get their own block (so a small result never keeps a large one alive). */
const POOL_MAX = 2048;
let pool = new Block(POOL_WORDS);

/** A block with `size` free words at its `used` mark. */
function blockFor(size: number): Block {
  if (size > POOL_MAX) return new Block(size);
  if (pool.used + size > POOL_WORDS) pool = new Block(POOL_WORDS);
  return pool;
}

const NO_KERNEL_OBJECTS: readonly number[] = [];

/**
 * A JITed function. What is needed to run or compare it — the words and their bytes — is
 * copied out of the JIT's scratch space; the per-word tables `bpfIndex`, `kernelObject` and the
 * `insns` records are derived from the function's offset[] table and kernel-object list only
 * when someone asks for them.
 */
class Image implements JitFunction {
  readonly name: string;
  readonly address: bigint;
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
  readonly stackDepth: number;
  readonly exceptionBoundary: boolean;
  readonly exceptionCallback: boolean;
  /** Global slot of the function's first BPF instruction. */
  private readonly start: number;
  /** The JIT's offset[]: first word of each local BPF slot, plus the epilogue's. */
  private readonly offsets: Int32Array;
  private readonly kernelObjectWords: readonly number[];
  private bpfIndexTable: Int32Array | undefined;
  private kernelObjectTable: Uint8Array | undefined;
  private records: JitInsn[] | undefined;

  constructor(fn: FunctionFacts, ctx: JitContext) {
    const n = ctx.idx;
    const m = ctx.offsets.length;
    this.name = fn.name;
    this.address = fn.address;
    this.start = fn.start;
    // words first, then offset[]: one block, one copy each
    const block = blockFor(n + m);
    const at = block.used;
    block.used = at + n + m;
    this.words = block.words.subarray(at, at + n);
    this.words.set(ctx.words.subarray(0, n));
    this.offsets = block.int32.subarray(at + n, at + n + m);
    this.offsets.set(ctx.offsets);
    if (LITTLE_ENDIAN) this.bytes = block.bytes.subarray(4 * at, 4 * (at + n));
    else {
      this.bytes = new Uint8Array(n * 4);
      const view = new DataView(this.bytes.buffer);
      for (let k = 0; k < n; k++) view.setUint32(k * 4, this.words[k], true);
    }
    this.kernelObjectWords = ctx.kernelObjectWords.length === 0 ? NO_KERNEL_OBJECTS : ctx.kernelObjectWords;
    this.stackDepth = fn.stackDepth;
    this.exceptionBoundary = fn.exceptionBoundary;
    this.exceptionCallback = fn.exceptionCallback;
  }

  get bpfIndex(): Int32Array {
    if (this.bpfIndexTable === undefined) {
      const table = new Int32Array(this.words.length).fill(-1);
      for (let i = 0; i + 1 < this.offsets.length; i++)
        table.fill(this.start + i, this.offsets[i], this.offsets[i + 1]);
      this.bpfIndexTable = table;
    }
    return this.bpfIndexTable;
  }

  get kernelObject(): Uint8Array {
    if (this.kernelObjectTable === undefined) {
      const table = new Uint8Array(this.words.length);
      for (const k of this.kernelObjectWords) table[k] = 1;
      this.kernelObjectTable = table;
    }
    return this.kernelObjectTable;
  }

  get insns(): readonly JitInsn[] {
    if (this.records === undefined) {
      const bpfIndex = this.bpfIndex;
      const kernelObject = this.kernelObject;
      const out: JitInsn[] = new Array(this.words.length);
      for (let k = 0; k < this.words.length; k++) {
        const insn: JitInsn = { offset: k * 4, word: this.words[k], bpfIndex: bpfIndex[k] };
        if (kernelObject[k]) insn.kernelObject = true;
        out[k] = insn;
      }
      this.records = out;
    }
    return this.records;
  }
}

/** JITs every function of the program (main first, in the input's order). */
export function jitProgram(input: JitInput, options?: JitOptions): JitFunction[] {
  const opts = options === undefined ? DEFAULT_OPTIONS : resolveOptions(options);
  const facts = resolveFacts(input, opts);
  const pseudoCallImm = input.pseudoCallImm ?? "index";
  return facts.map((fn) => new Image(fn, jitFunction(input.insns, fn, facts, opts, pseudoCallImm)));
}
