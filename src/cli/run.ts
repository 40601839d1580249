/**
 * `tsbpf run`: runs the programs of a BPF object (run-object.ts), or a raw program given as
 * assembly or bytecode (run-raw.ts).
 */
import { UsageError } from "../errors.ts";
import { intOption, parse } from "./args.ts";
import type { Io } from "./output.ts";
import { runObject } from "./run-object.ts";
import { runRaw } from "./run-raw.ts";

export { readBytes, readText } from "./files.ts";

export const RUN_USAGE = `usage: tsbpf run OBJ [--prog NAME] [--data FILE | --data-hex HEX] [--ctx FILE] [--repeat N]
                 [--set MAP:KEY=VALUE ...] [--btf PATH] [--engine interp] [--budget N] [--json]
       tsbpf run (--asm FILE.s | --raw FILE.bin) [--mem HEX | --mem-file FILE] [--engine interp]
                 [--budget N] [--trace] [--json]

Runs the programs of a BPF object (ELF from clang) like \`bpftool prog run\`: BPF_PROG_TEST_RUN
semantics per program type (tc and socket filters get a struct __sk_buff, XDP a struct xdp_md).
  OBJ            the object; every program in it runs unless --prog names one
  --prog NAME    the program (function name) to run
  --data FILE    the packet (data_in); --data-hex gives it as hex bytes
  --ctx FILE     ctx_in (struct __sk_buff / struct xdp_md bytes); ctx_out is then printed
  --repeat N     runs N times on the same context (as test_run's repeat)
  --set M:K=V    before the run, sets key K of map M to value V (hex bytes, like bpftool map
                 update); V may be @PROG (a program of the object, for prog arrays) or @MAP;
                 an empty K for queues and stacks pushes V
  --btf PATH     target BTF for CO-RE relocations (default: the bundled BTF of the modelled
                 kernel, Linux 6.12.117; e.g. /sys/kernel/btf/vmlinux)
Or runs a raw program: r1 = address of the memory (a private writable copy), r2 = its length.
  --asm FILE     program in llvm-objdump syntax (labels and comments allowed)
  --raw FILE     program as raw 8-byte instruction slots (little-endian)
  --mem HEX      input memory as hex bytes ("11 22 33" or "112233"); --mem-file F from a file
  --budget N     stop after N instructions (default 100000000)
  --trace        (raw programs) print every executed instruction and the registers it changed
  --json         one JSON object per program run: objects {"prog", "retval", "r0",
                 "duration_ns", "engine", "data_out", "ctx_out", "insns"}; raw programs
                 {"r0", "retval", "insns", "engine"[, "trace"]}
`;

/** Runs `tsbpf run`; returns the exit code. */
export function runCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse(argv, {
    asm: { type: "string" },
    raw: { type: "string" },
    mem: { type: "string" },
    "mem-file": { type: "string" },
    prog: { type: "string" },
    data: { type: "string" },
    "data-hex": { type: "string" },
    ctx: { type: "string" },
    repeat: { type: "string" },
    set: { type: "string", multiple: true },
    btf: { type: "string" },
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
  const budget = intOption(values.budget, "budget", 100_000_000);
  if (positionals.length > 1) throw new UsageError(`give one object, not ${positionals.length}`);
  if (positionals.length === 1) {
    if (values.asm !== undefined || values.raw !== undefined)
      throw new UsageError("give an object or --asm/--raw, not both");
    for (const opt of ["trace", "mem", "mem-file"] as const) {
      if (values[opt]) throw new UsageError(`--${opt} applies to --asm/--raw programs`);
    }
    return runObject(
      positionals[0],
      {
        prog: values.prog,
        data: values.data,
        dataHex: values["data-hex"],
        ctx: values.ctx,
        repeat: intOption(values.repeat, "repeat", 1),
        set: values.set ?? [],
        budget,
        json: values.json,
        engine: values.engine,
        btf: values.btf,
      },
      io,
    );
  }
  for (const opt of ["prog", "data", "data-hex", "ctx", "repeat", "set", "btf"] as const) {
    if (values[opt] !== undefined) throw new UsageError(`--${opt} applies to objects (tsbpf run OBJ ...)`);
  }
  if (values.engine !== "interp") throw new UsageError(`unknown engine "${values.engine}" (known: interp)`);
  return runRaw(
    {
      asm: values.asm,
      raw: values.raw,
      mem: values.mem,
      memFile: values["mem-file"],
      budget,
      trace: values.trace,
      json: values.json,
      engine: values.engine,
    },
    io,
  );
}
