/**
 * The reference interpreter engine: `Interpreter` for repeated runs of one program, and
 * `runRawProgram` for the common "bytes in, r0 out" case (r1 = memory, r2 = its length).
 */
import type { DecodedProgram } from "../isa/insn.ts";
import { Interpreter } from "./interpreter.ts";
import type { InterpOptions, RunResult } from "./machine.ts";

export { analyzeFunctions, type FunctionRange, roundUpStackDepth } from "./frames.ts";
export { Interpreter } from "./interpreter.ts";
export {
  BPF_MAX_LOOPS,
  DEFAULT_BUDGET,
  type InterpOptions,
  type LdAbsHook,
  type LdImm64Resolver,
  type RegisterView,
  type RunInput,
  type RunResult,
  type TraceHook,
} from "./machine.ts";

/**
 * Runs a raw program the way bpf_conformance and uBPF do: `mem` (copied, writable) is mapped as
 * a region, r1 = its address (0 without memory), r2 = its length. LD_ABS/LD_IND read `mem`.
 */
export function runRawProgram(program: DecodedProgram, mem: Uint8Array | null, options: InterpOptions = {}): RunResult {
  const vm = new Interpreter(program, options);
  if (mem === null) return vm.run({ args: [0n, 0n] });
  const region = vm.space.map("mem", new Uint8Array(mem), { name: "mem" });
  return vm.run({ args: [region.address(0), BigInt(mem.length)], packet: region });
}
