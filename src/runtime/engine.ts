/**
 * The contract between the runtime and an execution engine (the interpreter, the wasm or arm64
 * back ends). Engines sit above the runtime in the layering, so the runtime never imports one:
 * whoever builds a runtime object passes an {@link EngineFactory}, e.g.
 *
 *   const engine: EngineFactory = (program, options) => new Interpreter(program, options);
 *
 * The options are the ones `Interpreter` takes: the address space shared by all programs of an
 * object (so tail calls and callbacks reach the same memory), the helper and kfunc registries
 * of the program's type, the LD_IMM64 resolver that turns map references into map addresses,
 * and the tail-call resolver that turns a prog-array entry into the target program's engine.
 */
import type { DecodedProgram } from "../isa/insn.ts";
import type { HelperRegistry, KfuncRegistry, TailCallResolver } from "./helpers.ts";
import type { AddressSpace, MemoryRegion } from "./memory.ts";

/** Resolves an LD_IMM64 with a pseudo source (map index, map value) to the value to load. */
export type LdImm64Resolver = (pc: number, src: number, imm: number, nextImm: number) => bigint;

/** What an engine is built with. */
export interface EngineOptions {
  readonly space: AddressSpace;
  readonly helpers: HelperRegistry;
  readonly kfuncs: KfuncRegistry;
  readonly ldImm64: LdImm64Resolver;
  readonly tailCalls: TailCallResolver;
  /** What helpers see as `env.runtime`: the program's ProgramRuntime. */
  readonly runtime: unknown;
  /** Instruction budget of one run (the engine's default when absent). */
  readonly budget?: number;
  /**
   * Slot of the program's exception callback (the function its `exception_callback:` decl tag
   * names); absent or -1: the verifier's default callback, which returns the cookie.
   */
  readonly exceptionCallback?: number;
}

/** One run's inputs: r1..r5, and how LD_ABS / LD_IND read the packet. */
export interface EngineRunInput {
  readonly args?: readonly bigint[];
  readonly packet?: MemoryRegion | null;
  readonly ldAbs?: ((offset: number, size: 1 | 2 | 4) => number) | null;
}

/** One run's result. */
export interface EngineRunResult {
  /** The full 64-bit r0. */
  readonly r0: bigint;
  readonly insnCount: number;
}

/** A program prepared by an engine, ready to run many times. */
export interface ProgramEngine {
  run(input: EngineRunInput): EngineRunResult;
  /**
   * freplace: from now on, every call of the global function at slot `start` (0: the program
   * itself) runs `impl` with r1..r5 instead, and its result becomes the call's r0. The
   * replacement is another program's run — its own exception boundary.
   */
  replaceFunction(start: number, impl: FunctionReplacement): void;
}

/** What runs in place of a replaced function: r1..r5 in, r0 out. */
export type FunctionReplacement = (args: readonly bigint[]) => bigint;

/** Builds a {@link ProgramEngine} for a program. */
export type EngineFactory = (program: DecodedProgram, options: EngineOptions) => ProgramEngine;
