/**
 * Per-function JIT state (the kernel's `struct jit_ctx`): the words emitted so far, the
 * BPF-slot -> arm64-index table that branches are resolved against (`offset[]`), where the
 * epilogue starts (`epilogue_offset`), the stack size and the callee-saved registers this
 * function pushes.
 *
 * The kernel runs build_body twice per final image: once with writes off to learn every
 * instruction's position, then again to write with those positions. Here the position of an
 * instruction never depends on a branch distance (every jump is one word whatever its reach)
 * and each function's address is an input, so a call's form — the only length that depends on
 * an address — is already final when it is emitted. One emission therefore gives the kernel's
 * final layout; branches are emitted with a zero distance and recorded, and
 * {@link JitContext.resolveBranches} fills in the distances once the positions are known (the
 * job of the kernel's writing pass).
 *
 * The words are kept in a typed array that grows by doubling: the JIT emits several words per
 * BPF instruction and must not allocate per word. It and offset[] are scratch space shared by
 * successive functions (the caller copies the result out before compiling the next one), so a
 * program costs no allocation beyond its results. Which BPF instruction a word implements is
 * not recorded per word: offset[] already says it (the words of slot i are offset[i] up to
 * offset[i + 1]; prologue, epilogue and PLT words lie outside the body), so the per-word table
 * is derived from it only when a caller asks (see index.ts). The few words that encode a
 * kernel object are listed by index.
 */
import { JitError } from "../../errors.ts";
import type { DecodedProgram } from "../../isa/insn.ts";
import { withBranchOffset } from "../asm/encode.ts";
import type { ResolvedOptions } from "./options.ts";

export interface FunctionFacts {
  /** Index in the function list (0 = main program). */
  readonly index: number;
  readonly name: string;
  readonly address: bigint;
  /** First and one-past-last slot of the function in the program. */
  readonly start: number;
  readonly end: number;
  /** BPF stack depth in bytes (before rounding). */
  readonly stackDepth: number;
  /** Main program of a program that can throw: saves all of x19..x28. */
  readonly exceptionBoundary: boolean;
  /** The exception callback: runs in the boundary's frame. */
  readonly exceptionCallback: boolean;
}

/** Branch target meaning "the epilogue" rather than a BPF slot. */
export const TO_EPILOGUE = -1;

/** How a BPF-to-BPF call's imm names its callee (see {@link JitInput.pseudoCallImm}). */
export type PseudoCallImm = "index" | "relative";

/** Scratch arrays handed from one JitContext to the next (see above). */
let scratchWords = new Uint32Array(4096);
let scratchOffsets = new Int32Array(1024);
let scratchFixes = new Int32Array(3 * 256);

export class JitContext {
  /** Emitted words; only the first {@link idx} are meaningful. */
  words: Uint32Array;
  /** Indices of the words that encode (part of) the address of a kernel object, ascending. */
  readonly kernelObjectWords: number[] = [];
  /** Number of arm64 instructions emitted so far (the kernel's `ctx->idx`). */
  idx = 0;
  /** arm64 index of each local BPF slot, plus one entry for the end (the kernel's `offset[]`). */
  readonly offsets: Int32Array;
  /** arm64 index of the epilogue (-1 until the body is done). */
  epilogueOffset = -1;
  /** Rounded stack size (16-byte multiple). */
  readonly stackSize: number;
  /** Callee-saved registers pushed by a function that is neither boundary nor callback. */
  usedCalleeRegs: number[] = [];
  /** Whether x25 must be set up as the BPF frame pointer. */
  fpUsed = false;
  /**
   * `__bpf_call_base - address` as a number when exact (NaN otherwise): helper and kfunc call
   * distances are then plain number arithmetic instead of BigInt per call.
   */
  readonly callBaseDelta: number;

  /** This function's tail-call sequence once encoded (see tail-call.ts). */
  tailCallWords: Uint32Array | null = null;

  /**
   * Pending branches, three entries each: word index, target (local slot or TO_EPILOGUE), limit
   * in words. Scratch space too (see above).
   */
  private fixes: Int32Array = scratchFixes;
  private nFixes = 0;

  readonly prog: DecodedProgram;
  readonly fn: FunctionFacts;
  readonly functions: readonly FunctionFacts[];
  readonly options: ResolvedOptions;
  readonly pseudoCallImm: PseudoCallImm;

  constructor(
    prog: DecodedProgram,
    fn: FunctionFacts,
    functions: readonly FunctionFacts[],
    options: ResolvedOptions,
    pseudoCallImm: PseudoCallImm,
  ) {
    this.prog = prog;
    this.fn = fn;
    this.functions = functions;
    this.options = options;
    this.pseudoCallImm = pseudoCallImm;
    const n = fn.end - fn.start;
    if (scratchOffsets.length < n + 1) scratchOffsets = new Int32Array(2 * (n + 1));
    this.offsets = scratchOffsets.subarray(0, n + 1);
    this.stackSize = Math.ceil(fn.stackDepth / 16) * 16;
    this.words = scratchWords;
    const d = Number(options.callBase - fn.address);
    this.callBaseDelta = Number.isSafeInteger(d) ? d : Number.NaN;
  }

  /** Address of the next instruction. */
  get pc(): bigint {
    return this.fn.address + BigInt(this.idx * 4);
  }

  emit(word: number, kernelObject = false): void {
    const k = this.idx;
    if (k === this.words.length) this.grow();
    this.words[k] = word; // a Uint32Array stores the word modulo 2^32
    if (kernelObject) this.kernelObjectWords.push(k);
    this.idx = k + 1;
  }

  /** Emits a run of words that encode no kernel object (a sequence encoded before). */
  emitWords(src: Uint32Array): void {
    const k = this.idx;
    const end = k + src.length;
    while (end > this.words.length) this.grow();
    this.words.set(src, k);
    this.idx = end;
  }

  /** Flags words [from, to), already emitted, as encoding a kernel object. */
  markKernelObject(from: number, to: number): void {
    for (let k = from; k < to; k++) this.kernelObjectWords.push(k);
  }

  private grow(): void {
    const words = new Uint32Array(this.words.length * 2);
    words.set(this.words);
    this.words = words;
    scratchWords = words;
  }

  /** Global index of the BPF instruction that word `k` implements, -1 outside the body. */
  bpfIndexOf(k: number): number {
    const n = this.offsets.length - 1;
    if (k < this.offsets[0] || k >= this.offsets[n]) return -1;
    let i = 0;
    while (this.offsets[i + 1] <= k) i++;
    return this.fn.start + i;
  }

  /**
   * Emits `word`, a branch encoded with distance 0, whose distance is filled in by
   * {@link resolveBranches}: to local slot `target` (or the epilogue, {@link TO_EPILOGUE}),
   * within ±`half` words. The branch must be the last word of its BPF instruction, as the
   * kernel's `bpf2a64_offset` assumes.
   */
  emitBranch(word: number, target: number, half: number): void {
    const f = 3 * this.nFixes;
    if (f === this.fixes.length) {
      const fixes = new Int32Array(2 * f);
      fixes.set(this.fixes);
      this.fixes = fixes;
      scratchFixes = fixes;
    }
    this.fixes[f] = this.idx;
    this.fixes[f + 1] = target;
    this.fixes[f + 2] = half;
    this.nFixes++;
    this.emit(word);
  }

  /** Patches every recorded branch now that offsets[] and the epilogue are known. */
  resolveBranches(): void {
    const fixes = this.fixes;
    for (let f = 0; f < 3 * this.nFixes; f += 3) {
      const at = fixes[f];
      const t = fixes[f + 1];
      const w = (t === TO_EPILOGUE ? this.epilogueOffset : this.offsets[t]) - at;
      const half = fixes[f + 2];
      if (w < -half || w >= half) throw new JitError(this.bpfIndexOf(at), `branch distance ${w} out of range`);
      this.words[at] = withBranchOffset(this.words[at], w * 4);
    }
  }

  /** Global slot index of local slot `i`. */
  global(i: number): number {
    return this.fn.start + i;
  }
}
