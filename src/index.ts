/**
 * tsbpf: a TypeScript BPF toolchain and runtime.
 *
 * The library's front door re-exports each layer's public API, bottom-up: errors, the ISA
 * (opcodes, decoding, assembler, disassembler), ELF, the runtime's memory model and helper
 * registries, the reference interpreter, and the conformance runner.
 */

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
export * from "./runtime/helpers.ts";
export * from "./runtime/memory.ts";
