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
 * The words, their BPF instruction and their kernel-object flag are kept in typed arrays that
 * grow by doubling: the JIT emits several words per BPF instruction and must not allocate per
 * word. The arrays are scratch space shared by successive functions (the caller copies the
 * result out before compiling the next one), so a program costs no allocation beyond its
 * results.
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
let scratch = { words: new Uint32Array(4096), bpfIndex: new Int32Array(4096), kernelObject: new Uint8Array(4096) };
let scratchOffsets = new Int32Array(1024);

export class JitContext {
  /** Emitted words; only the first {@link idx} are meaningful. */
  words: Uint32Array;
  /** Per word: global index of the BPF instruction it implements, -1 outside the body. */
  bpfIndex: Int32Array;
  /** Per word: 1 when it encodes (part of) the address of a kernel object. */
  kernelObject: Uint8Array;
  /** Number of arm64 instructions emitted so far (the kernel's `ctx->idx`). */
  idx = 0;
  /** Global BPF instruction being translated (-1 outside the body). */
  private bpf = -1;
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

  /** Pending branches: word index, target (local slot or TO_EPILOGUE), limit in words. */
  private readonly fixAt: number[] = [];
  private readonly fixTarget: number[] = [];
  private readonly fixHalf: number[] = [];

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
    this.words = scratch.words;
    this.bpfIndex = scratch.bpfIndex;
    this.kernelObject = scratch.kernelObject;
    const d = Number(options.callBase - fn.address);
    this.callBaseDelta = Number.isSafeInteger(d) ? d : Number.NaN;
  }

  /** Address of the next instruction. */
  get pc(): bigint {
    return this.fn.address + BigInt(this.idx * 4);
  }

  /** Sets the local BPF slot being translated (-1 outside the body). */
  set current(i: number) {
    this.bpf = i < 0 ? -1 : this.fn.start + i;
  }

  emit(word: number, kernelObject = false): void {
    const k = this.idx;
    if (k === this.words.length) this.grow();
    this.words[k] = word; // a Uint32Array stores the word modulo 2^32
    this.bpfIndex[k] = this.bpf;
    this.kernelObject[k] = kernelObject ? 1 : 0;
    this.idx = k + 1;
  }

  /** Emits a run of words that encode no kernel object (a sequence encoded before). */
  emitWords(src: Uint32Array): void {
    const k = this.idx;
    const end = k + src.length;
    while (end > this.words.length) this.grow();
    this.words.set(src, k);
    this.bpfIndex.fill(this.bpf, k, end);
    this.kernelObject.fill(0, k, end);
    this.idx = end;
  }

  private grow(): void {
    const size = this.words.length * 2;
    const words = new Uint32Array(size);
    words.set(this.words);
    this.words = words;
    const bpf = new Int32Array(size);
    bpf.set(this.bpfIndex);
    this.bpfIndex = bpf;
    const ko = new Uint8Array(size);
    ko.set(this.kernelObject);
    this.kernelObject = ko;
    scratch = { words, bpfIndex: bpf, kernelObject: ko };
  }

  /**
   * Emits `word`, a branch encoded with distance 0, whose distance is filled in by
   * {@link resolveBranches}: to local slot `target` (or the epilogue, {@link TO_EPILOGUE}),
   * within ±`half` words. The branch must be the last word of its BPF instruction, as the
   * kernel's `bpf2a64_offset` assumes.
   */
  emitBranch(word: number, target: number, half: number): void {
    this.fixAt.push(this.idx);
    this.fixTarget.push(target);
    this.fixHalf.push(half);
    this.emit(word);
  }

  /** Patches every recorded branch now that offsets[] and the epilogue are known. */
  resolveBranches(): void {
    for (let k = 0; k < this.fixAt.length; k++) {
      const at = this.fixAt[k];
      const t = this.fixTarget[k];
      const w = (t === TO_EPILOGUE ? this.epilogueOffset : this.offsets[t]) - at;
      const half = this.fixHalf[k];
      if (w < -half || w >= half) throw new JitError(this.bpfIndex[at], `branch distance ${w} out of range`);
      this.words[at] = withBranchOffset(this.words[at], w * 4);
    }
  }

  /** Global slot index of local slot `i`. */
  global(i: number): number {
    return this.fn.start + i;
  }
}
