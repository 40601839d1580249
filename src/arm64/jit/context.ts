/**
 * Per-function JIT state (the kernel's `struct jit_ctx`): the words emitted so far, the
 * BPF-slot -> arm64-index table that branches are resolved against, where the epilogue
 * starts, the stack size and the callee-saved registers this function pushes.
 *
 * The kernel runs the body twice per final image: once with writes off to learn every
 * instruction's position (a call's length depends on its own address), then again to write
 * with those positions. `JitContext` is created once per run; `layout` carries the positions
 * learned by the previous run (null during the sizing run).
 */
import type { DecodedProgram } from "../../isa/insn.ts";
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

export interface Layout {
  /** arm64 instruction index of each local BPF slot, plus one entry for the end. */
  readonly offsets: Int32Array;
  readonly epilogueOffset: number;
}

export class JitContext {
  readonly words: number[] = [];
  readonly bpfIndex: number[] = [];
  readonly kernelObject: boolean[] = [];
  /** Local BPF slot being translated (-1 outside the body). */
  current = -1;
  /** Offsets being recorded by this run. */
  readonly offsets: Int32Array;
  /** Rounded stack size (16-byte multiple). */
  readonly stackSize: number;
  /** Callee-saved registers pushed by a function that is neither boundary nor callback. */
  usedCalleeRegs: number[] = [];
  /** Whether x25 must be set up as the BPF frame pointer. */
  fpUsed = false;
  private markKernelObject = false;

  readonly prog: DecodedProgram;
  readonly fn: FunctionFacts;
  readonly functions: readonly FunctionFacts[];
  readonly options: ResolvedOptions;
  /** Positions from the previous run; null while sizing. */
  readonly layout: Layout | null;

  constructor(
    prog: DecodedProgram,
    fn: FunctionFacts,
    functions: readonly FunctionFacts[],
    options: ResolvedOptions,
    layout: Layout | null,
  ) {
    this.prog = prog;
    this.fn = fn;
    this.functions = functions;
    this.options = options;
    this.layout = layout;
    this.offsets = new Int32Array(fn.end - fn.start + 1);
    this.stackSize = Math.ceil(fn.stackDepth / 16) * 16;
  }

  /** Number of arm64 instructions emitted so far (the kernel's `ctx->idx`). */
  get idx(): number {
    return this.words.length;
  }

  /** Address of the next instruction. */
  get pc(): bigint {
    return this.fn.address + BigInt(this.idx * 4);
  }

  emit(word: number, kernelObject = false): void {
    this.words.push(word >>> 0);
    this.bpfIndex.push(this.current < 0 ? -1 : this.fn.start + this.current);
    this.kernelObject.push(kernelObject || this.markKernelObject);
  }

  /** Runs `f` with every word it emits flagged as encoding a kernel object. */
  withKernelObject(flag: boolean, f: () => void): void {
    const saved = this.markKernelObject;
    this.markKernelObject = saved || flag;
    try {
      f();
    } finally {
      this.markKernelObject = saved;
    }
  }

  /** Global slot index of local slot `i`. */
  global(i: number): number {
    return this.fn.start + i;
  }
}
