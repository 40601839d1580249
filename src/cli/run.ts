/**
 * `tsbpf run`: assembles (or reads) a raw program and runs it on an engine, uBPF style:
 * r1 = the `--mem` bytes, r2 = their length. Prints r0, or with `--json` one JSON object.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.ts";
import { Interpreter } from "../interp/index.ts";
import { assemble } from "../isa/asm.ts";
import { type DecodedProgram, decodeProgram } from "../isa/insn.ts";
import { HelperRegistry } from "../runtime/helpers.ts";
import { hexBytes, intOption, parse } from "./args.ts";
import { type Io, paint, writeJson } from "./output.ts";
import { formatTrace, recorder, type TraceStep } from "./trace.ts";

export const RUN_USAGE = `usage: tsbpf run (--asm FILE.s | --raw FILE.bin) [--mem HEX | --mem-file FILE] [--engine interp]
                 [--budget N] [--trace] [--json]

Runs a raw BPF program: r1 = address of the memory (a private writable copy), r2 = its length.
  --asm FILE     program in llvm-objdump syntax (labels and comments allowed)
  --raw FILE     program as raw 8-byte instruction slots (little-endian)
  --mem HEX      input memory as hex bytes ("11 22 33" or "112233")
  --mem-file F   input memory from a file
  --budget N     stop after N instructions (default 100000000)
  --trace        print every executed instruction and the registers it changed
  --json         one JSON object: {"r0", "retval", "insns", "engine"[, "trace"]}
`;

const ENGINES = ["interp"] as const;

/** Reads the program named by --asm or --raw. */
function loadProgram(asmFile: string | undefined, rawFile: string | undefined): DecodedProgram {
  if ((asmFile === undefined) === (rawFile === undefined)) throw new UsageError("give exactly one of --asm or --raw");
  if (asmFile !== undefined) return assemble(readText(asmFile), asmFile);
  return decodeProgram(readBytes(rawFile as string));
}

export function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

export function readBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Runs `tsbpf run`; returns the exit code. */
export function runCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse(argv, {
    asm: { type: "string" },
    raw: { type: "string" },
    mem: { type: "string" },
    "mem-file": { type: "string" },
    engine: { type: "string", default: "interp" },
    budget: { type: "string" },
    trace: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    io.out(RUN_USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(
      `run: unexpected argument "${positionals[0]}" (objects are not supported yet; use --asm or --raw)`,
    );
  }
  if (!(ENGINES as readonly string[]).includes(values.engine)) {
    throw new UsageError(`unknown engine "${values.engine}" (known: ${ENGINES.join(", ")})`);
  }
  if (values.mem !== undefined && values["mem-file"] !== undefined)
    throw new UsageError("give --mem or --mem-file, not both");
  const program = loadProgram(values.asm, values.raw);
  const mem =
    values.mem !== undefined
      ? hexBytes(values.mem, "mem")
      : values["mem-file"] !== undefined
        ? readBytes(values["mem-file"])
        : null;
  const budget = intOption(values.budget, "budget", 100_000_000);
  const steps: TraceStep[] = [];
  const rec = values.trace ? recorder(program, steps) : null;
  const vm = new Interpreter(program, { budget, trace: rec?.hook ?? null, helpers: new HelperRegistry() });
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
  if (values.json) {
    writeJson(io, {
      r0,
      retval,
      insns: result.insnCount,
      engine: values.engine,
      ...(values.trace ? { trace: steps } : {}),
    });
    return 0;
  }
  if (values.trace) io.out(formatTrace(io, steps));
  io.out(
    `${paint(io, "bold", "r0")} = 0x${r0.toString(16)} (${BigInt.asIntN(64, r0)})  retval ${retval}  ${result.insnCount} insns  [${values.engine}]\n`,
  );
  return 0;
}
