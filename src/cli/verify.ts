/**
 * `tsbpf verify OBJ`: runs the modelled kernel's verifier over an object's programs, as
 * `bpftool prog loadall` would make the kernel do, and reports for each one either that it was
 * accepted (instructions processed, stack depth per function, the exception callback) or the
 * kernel's rejection: its message, errno, the instruction index and the C source line.
 * Each program is verified on its own, so one rejection does not hide the others' outcomes.
 * The exit code is 1 when any program was rejected.
 */
import { basename } from "node:path";
import { UsageError, VerifierError } from "../errors.ts";
import type { ObjectSpec, ProgramSpec } from "../object/spec.ts";
import { PROG_TYPE_NAMES } from "../object/uapi.ts";
import { errnoName } from "../runtime/errno.ts";
import { verify } from "../runtime/object.ts";
import type { KernelVersion, VerifiedProgram } from "../verifier/index.ts";
import { parse } from "./args.ts";
import { readObjectSpec } from "./objects.ts";
import { type Io, paint, writeJson } from "./output.ts";

export const VERIFY_USAGE = `usage: tsbpf verify OBJ [--prog NAME] [--kernel 6.12|6.18] [--btf PATH] [--log] [--json]

Verifies the programs of a BPF object with tsbpf's model of the Linux verifier (a privileged
loader, JIT on), and prints for each one "accepted", or the kernel's rejection message with the
instruction index and the C source line it belongs to. Exits 1 when any program is rejected.
  --prog NAME    verify only this program (function name)
  --kernel K     the kernel whose rules and wording apply: 6.12 (default, the target: Linux
                 6.12.117) or 6.18
  --btf PATH     target BTF for CO-RE relocations (default: the bundled 6.12.117 BTF)
  --log          print the whole verifier log of each program, as the kernel writes it
  --json         one JSON object: {"object", "kernel", "programs": [{"prog", "type",
                 "accepted", ...}]}; accepted programs add "insns_processed", "insns",
                 "functions" [{"name", "start", "stack_depth", "exception_cb", "hidden"}];
                 rejected ones "message", "errno", "insn", "source" {"file", "line",
                 "column", "text"} or null, and "error_lines" (the kernel's whole error block)
`;

const KERNELS: readonly KernelVersion[] = ["6.12", "6.18"];

/** One program's outcome. */
type Outcome =
  | { readonly prog: ProgramSpec; readonly accepted: true; readonly verified: VerifiedProgram }
  | { readonly prog: ProgramSpec; readonly accepted: false; readonly error: VerifierError };

function verifyOne(spec: ObjectSpec, p: ProgramSpec, kernel: KernelVersion): Outcome {
  try {
    return { prog: p, accepted: true, verified: verify(spec, p, kernel) };
  } catch (e) {
    if (e instanceof VerifierError) return { prog: p, accepted: false, error: e };
    throw e;
  }
}

/** The log as the kernel would have written it up to the rejection or the final summary. */
function logOf(o: Outcome): readonly string[] {
  return o.accepted ? o.verified.log : o.error.log;
}

function jsonOf(o: Outcome): Record<string, unknown> {
  const head = { prog: o.prog.name, type: PROG_TYPE_NAMES[o.prog.type] ?? String(o.prog.type) };
  if (o.accepted) {
    const v = o.verified;
    return {
      ...head,
      accepted: true,
      insns_processed: v.insnProcessed,
      insns: v.insns.length,
      functions: v.subprogs.map((f, i) => ({
        name: f.name,
        start: f.start,
        stack_depth: f.stackDepth,
        exception_cb: i !== 0 && i === v.exceptionCallbackSubprog,
        hidden: f.hidden,
      })),
    };
  }
  const e = o.error;
  return {
    ...head,
    accepted: false,
    message: e.reason,
    errno: errnoName(e.errno),
    insn: e.insn,
    source: e.source ?? null,
    error_lines: e.block,
  };
}

function printHuman(io: Io, o: Outcome, showLog: boolean): void {
  const type = PROG_TYPE_NAMES[o.prog.type] ?? `type ${o.prog.type}`;
  const name = paint(io, "bold", o.prog.name);
  if (showLog) for (const line of logOf(o)) io.out(`  ${paint(io, "dim", line)}\n`);
  if (o.accepted) {
    const v = o.verified;
    const fns = v.subprogs.map((f) => `${f.name}${f.hidden ? " (hidden)" : ""} ${f.stackDepth} B`).join(", ");
    const cb = v.exceptionCallbackSubprog > 0 ? v.subprogs[v.exceptionCallbackSubprog] : undefined;
    io.out(`${name} (${type}): ${paint(io, "green", "accepted")}, processed ${v.insnProcessed} insns\n`);
    io.out(`  functions: ${fns}\n`);
    if (cb !== undefined) {
      io.out(`  exception callback: ${cb.hidden ? "the default (returns the cookie)" : cb.name}\n`);
    }
    return;
  }
  const e = o.error;
  const at = e.insn >= 0 ? `insn ${e.insn}` : "program";
  const src = e.source !== undefined ? ` at ${basename(e.source.file)}:${e.source.line}` : "";
  io.out(`${name} (${type}): ${paint(io, "red", "rejected")} (${errnoName(e.errno)}) ${at}${src}\n`);
  for (const line of e.block) io.out(`  ${line}\n`);
  if (e.source !== undefined && e.source.text !== "") io.out(`  ${paint(io, "dim", `| ${e.source.text.trim()}`)}\n`);
}

/** Runs `tsbpf verify`; returns the exit code. */
export function verifyCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse(argv, {
    prog: { type: "string" },
    kernel: { type: "string", default: "6.12" },
    btf: { type: "string" },
    log: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    io.out(VERIFY_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give one object file (got ${positionals.length})`);
  const kernel = KERNELS.find((k) => k === values.kernel);
  if (kernel === undefined) throw new UsageError(`--kernel: "${values.kernel}" is not one of ${KERNELS.join(", ")}`);
  const path = positionals[0];
  const spec = readObjectSpec(path, values.btf);
  const programs = spec.programs.filter((p) => (values.prog === undefined ? p.autoload : p.name === values.prog));
  if (programs.length === 0) {
    if (values.prog === undefined) throw new UsageError(`${path} has no program to verify`);
    const known = spec.programs.map((p) => p.name).join(", ");
    throw new UsageError(`${path} has no program named ${values.prog} (have: ${known || "none"})`);
  }
  const outcomes = programs.map((p) => verifyOne(spec, p, kernel));
  if (values.json) {
    writeJson(io, {
      object: path,
      kernel,
      programs: outcomes.map(jsonOf),
    });
  } else {
    for (const o of outcomes) printHuman(io, o, values.log);
  }
  return outcomes.every((o) => o.accepted) ? 0 : 1;
}
