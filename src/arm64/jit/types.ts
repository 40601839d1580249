/** The public data types of the arm64 JIT (kept apart from index.ts to avoid import cycles). */
import type { DecodedProgram } from "../../isa/insn.ts";

export interface JitFunctionLayout {
  name: string;
  /** First instruction slot of the function in `insns`. */
  start: number;
  /** Where this function's image lives. */
  address: bigint;
}

export interface JitInput {
  /** Post-verifier instructions (kernel xlated, or tsbpf's VerifiedProgram.insns). */
  insns: DecodedProgram;
  /** Kernel order: main first, then subprograms by start, hidden/default callback last. */
  functions: readonly JitFunctionLayout[];
  /** Per function BPF stack depth in bytes (derived from the instructions when absent). */
  stackDepth?: readonly number[];
  /** Whether the main program is an exception boundary (derived when absent). */
  exceptionBoundary?: boolean;
  /** Function index of the exception callback, -1 for none (derived when absent). */
  exceptionCallback?: number;
  /** Accepted for the verifier's interface; the 6.12 arm64 JIT emits the same code either way. */
  tailCallReachable?: readonly boolean[];
  /**
   * What the imm of a BPF-to-BPF call (and its relatives in fact derivation) holds: "index"
   * (default) = the callee's function index, as in the kernel's xlated dump; "relative" = the
   * slot distance from the next instruction, as in ELF objects and tsbpf's VerifiedProgram.
   */
  pseudoCallImm?: "index" | "relative";
}

export interface JitInsn {
  /** Byte offset in the function image. */
  offset: number;
  word: number;
  /** Index in `insns` of the BPF instruction it implements; -1 for prologue/epilogue/PLT. */
  bpfIndex: number;
  /** The word encodes (part of) the address of a kernel object tsbpf does not model. */
  kernelObject?: true;
}

export interface JitFunction {
  name: string;
  address: bigint;
  /**
   * Exactly the function's jited_len bytes (the PLT target word is not included). `bytes` and
   * `words` are views of one buffer, which may also hold other data (small results share a
   * pooled buffer): mind `byteOffset` and `byteLength` when using `.buffer`.
   */
  bytes: Uint8Array;
  /** The same image as instruction words. */
  words: Uint32Array;
  /**
   * Per word: index in `insns` of the BPF instruction it implements, -1 for prologue/epilogue/PLT
   * (built on first use).
   */
  readonly bpfIndex: Int32Array;
  /** Per word: 1 when it encodes (part of) the address of a kernel object tsbpf does not model (built on first use). */
  readonly kernelObject: Uint8Array;
  /** One record per word (built on first use from `words`, `bpfIndex` and `kernelObject`). */
  readonly insns: readonly JitInsn[];
  /** Facts used (given or derived). */
  stackDepth: number;
  exceptionBoundary: boolean;
  exceptionCallback: boolean;
}
