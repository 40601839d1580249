/**
 * `tsbpf run --asm/--raw`: a raw program run uBPF style, r1 = the `--mem` bytes, r2 = their
 * length, with an optional instruction trace.
 */
import { UsageError } from "../errors.ts";
import { Interpreter } from "../interp/index.ts";
import { assemble } from "../isa/asm.ts";
import { type DecodedProgram, decodeProgram } from "../isa/insn.ts";
import { HelperRegistry } from "../runtime/helpers.ts";
import { kernelKfuncs } from "../runtime/kfuncs.ts";
import { hexBytes } from "./args.ts";
import { readBytes, readText } from "./files.ts";
import { type Io, paint, writeJson } from "./output.ts";
import { formatTrace, recorder, type TraceStep } from "./trace.ts";

/** The options of a raw run. */
export interface RawRunOptions {
  asm?: string;
  raw?: string;
  mem?: string;
  memFile?: string;
  budget: number;
  trace: boolean;
  json: boolean;
  engine: string;
}

/** Reads the program named by --asm or --raw. */
function loadProgram(asmFile: string | undefined, rawFile: string | undefined): DecodedProgram {
  if ((asmFile === undefined) === (rawFile === undefined)) throw new UsageError("give an object, --asm or --raw");
  if (asmFile !== undefined) return assemble(readText(asmFile), asmFile);
  return decodeProgram(readBytes(rawFile as string));
}

/** Runs a raw program; returns the exit code. */
export function runRaw(o: RawRunOptions, io: Io): number {
  if (o.mem !== undefined && o.memFile !== undefined) throw new UsageError("give --mem or --mem-file, not both");
  const program = loadProgram(o.asm, o.raw);
  const mem = o.mem !== undefined ? hexBytes(o.mem, "mem") : o.memFile !== undefined ? readBytes(o.memFile) : null;
  const steps: TraceStep[] = [];
  const rec = o.trace ? recorder(program, steps) : null;
  const vm = new Interpreter(program, {
    budget: o.budget,
    trace: rec?.hook ?? null,
    helpers: new HelperRegistry(),
    kfuncs: kernelKfuncs(),
  });
  let args: bigint[] = [0n, 0n];
  let packet = null;
  if (mem !== null) {
    packet = vm.space.map("mem", mem, { name: "mem" });
    args = [packet.address(0), BigInt(mem.length)];
  }
  const result = vm.run({ args, packet });
  rec?.finish(result.r0);
  const r0 = result.r0;
  const retval = Number(r0 & 0xffffffffn);
  if (o.json) {
    writeJson(io, { r0, retval, insns: result.insnCount, engine: o.engine, ...(o.trace ? { trace: steps } : {}) });
    return 0;
  }
  if (o.trace) io.out(formatTrace(io, steps));
  io.out(
    `${paint(io, "bold", "r0")} = 0x${r0.toString(16)} (${BigInt.asIntN(64, r0)})  retval ${retval}  ${result.insnCount} insns  [${o.engine}]\n`,
  );
  return 0;
}
