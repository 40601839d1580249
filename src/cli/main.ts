/**
 * The `tsbpf` command line: dispatches to one module per command and turns every error into a
 * message and an exit code (2 for usage errors, 1 for failures), never a stack trace.
 */
import { BpfFault, TsbpfError, UsageError } from "../errors.ts";
import { CONFORMANCE_USAGE, conformanceCommand } from "./conformance.ts";
import { DEMO_USAGE, demoCommand } from "./demo.ts";
import { DISASM_USAGE, disasmCommand } from "./disasm.ts";
import { JIT_USAGE, jitCommand } from "./jit.ts";
import { OBJDUMP_USAGE, objdumpCommand } from "./objdump.ts";
import { type Io, processIo } from "./output.ts";
import { RUN_USAGE, runCommand } from "./run.ts";
import { VERIFY_USAGE, verifyCommand } from "./verify.ts";

const COMMANDS: Record<string, { run: (argv: string[], io: Io) => number; usage: string; summary: string }> = {
  demo: { run: demoCommand, usage: DEMO_USAGE, summary: "run the bundled example and the conformance suite" },
  run: { run: runCommand, usage: RUN_USAGE, summary: "run an object's programs (test_run) or a raw program" },
  verify: {
    run: verifyCommand,
    usage: VERIFY_USAGE,
    summary: "verify an object's programs: accepted, or the kernel's message and source line",
  },
  jit: {
    run: jitCommand,
    usage: JIT_USAGE,
    summary: "the arm64 code Linux 6.12.117's JIT emits, annotated with BPF and source lines",
  },
  disasm: { run: disasmCommand, usage: DISASM_USAGE, summary: "disassemble raw bytecode or an ELF object" },
  objdump: {
    run: objdumpCommand,
    usage: OBJDUMP_USAGE,
    summary: "show an object's maps, programs and source-annotated code",
  },
  conformance: { run: conformanceCommand, usage: CONFORMANCE_USAGE, summary: "run the bpf_conformance suite" },
};

export const USAGE = `usage: tsbpf <command> [options]   (tsbpf <command> --help for details)

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
  .join("\n")}
`;

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    io.out("tsbpf 0.1.0\n");
    return 0;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (cmd === undefined) {
    io.err(`tsbpf: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    return cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`tsbpf ${name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof BpfFault) {
      io.err(`tsbpf ${name}: fault: ${e.message}\n`);
      return 1;
    }
    if (e instanceof TsbpfError) {
      io.err(`tsbpf ${name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// Direct execution (`tsx src/cli/main.ts ...`), as the tests and `npm run` scripts do.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
