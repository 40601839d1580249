/**
 * tsbpf: a TypeScript BPF toolchain and runtime.
 *
 * The library's front door re-exports each layer's public API, bottom-up: errors, the ISA
 * (opcodes, decoding, assembler, disassembler), ELF, BTF, the object loader, the runtime (memory
 * model, helper registries, maps, BpfObject and test_run), the reference interpreter and the
 * conformance runner; plus {@link openObject}, the one call that turns a clang object into
 * runnable programs.
 */
import { Interpreter } from "./interp/index.ts";
import type { LoadOptions } from "./object/loader.ts";
import type { EngineFactory } from "./runtime/engine.ts";
import { BpfObject, type ObjectOptions, openObjectSpec } from "./runtime/object.ts";

export * from "./btf/index.ts";
export { type DataFile, parseDataFile } from "./conformance/datafile.ts";
export {
  type ConformanceReport,
  type ConformanceResult,
  conformanceEngine,
  conformanceHelpers,
  type Engine,
  formatConformanceReport,
  interpEngine,
  runConformanceDir,
  runConformanceText,
} from "./conformance/runner.ts";
export * from "./elf/index.ts";
export * from "./errors.ts";
export * from "./interp/index.ts";
export * from "./isa/index.ts";
export * from "./object/index.ts";
export type { EngineFactory, ProgramEngine } from "./runtime/engine.ts";
export * from "./runtime/helpers.ts";
export { bundledKernelBtf, loadKernelBtf } from "./runtime/kernel-btf/index.ts";
export * as maps from "./runtime/maps/index.ts";
export * from "./runtime/memory.ts";
export {
  BpfObject,
  BpfProgram,
  type HexEntry,
  type ObjectOptions,
  openObjectSpec,
  parseHex,
  toHex,
} from "./runtime/object.ts";
export { TestRunError, type TestRunOptions, type TestRunResult } from "./runtime/test-run.ts";

/** The reference interpreter as a runtime engine. */
export const interpreterEngine: EngineFactory = (program, options) => new Interpreter(program, options);

/**
 * Reads a clang/libbpf object and instantiates it on the interpreter, as `bpftool prog loadall`
 * would: maps created and filled, programs ready for `testRun`.
 */
export function openObject(bytes: Uint8Array, options: LoadOptions & Partial<ObjectOptions> = {}): BpfObject {
  return BpfObject.load(openObjectSpec(bytes, options), { engine: interpreterEngine, ...options });
}
