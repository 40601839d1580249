/**
 * The BPF-exceptions part of `tsbpf demo`: examples/exceptions.o (the spec's program A) verified,
 * run on the interpreter — a throw from a static subprogram ends in the custom exception callback
 * on the boundary's frame — and compiled by the arm64 JIT as Linux 6.12.117 compiles it.
 */
import { fileURLToPath } from "node:url";
import { disasmA64 } from "../arm64/asm/disasm.ts";
import { compileVerified } from "../arm64/jit/from-verified.ts";
import type { JitFunction } from "../arm64/jit/index.ts";
import { modelledKernelSymbols } from "../kernel/kallsyms.ts";
import { verify } from "../runtime/object.ts";
import { instantiate, OBJECT_ENGINES, readObjectSpec } from "./objects.ts";

const EXCEPTIONS = fileURLToPath(new URL("../../examples/exceptions.o", import.meta.url));

/** Where the demo places the functions (the oracle's programs live around here). */
const BASE = 0xffff800082640000n;

export interface ExceptionsDemo {
  functions: { name: string; stackDepth: number; callback: boolean }[];
  /** retval on a 64-byte packet (throws) and on a 20-byte one (returns normally). */
  thrown: number;
  returned: number;
  jit: JitFunction[];
}

export function exceptionsDemo(): ExceptionsDemo {
  const spec = readObjectSpec(EXCEPTIONS);
  const p = spec.programs[0];
  const v = verify(spec, p, "6.12", { kernelSymbols: modelledKernelSymbols() });
  const obj = instantiate(spec, OBJECT_ENGINES.interp);
  const thrown = obj.testRun(p.name, { dataIn: new Uint8Array(64) }).retval;
  const returned = obj.testRun(p.name, { dataIn: new Uint8Array(20) }).retval;
  const jit = compileVerified(p, v, BASE).functions;
  return {
    functions: v.subprogs.map((s, i) => ({
      name: s.name,
      stackDepth: s.stackDepth,
      callback: i === v.exceptionCallbackSubprog && i > 0,
    })),
    thrown,
    returned,
    jit,
  };
}

/** The first `n` instructions of a function's image as listing lines. */
export function imageHead(f: JitFunction, n: number): string[] {
  return f.insns.slice(0, n).map((k) => {
    const at = f.address + BigInt(k.offset);
    return `${at.toString(16)}:  ${(k.word >>> 0).toString(16).padStart(8, "0")}  ${disasmA64(k.word, at).replace("\t", " ")}`;
  });
}
