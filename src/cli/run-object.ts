/**
 * `tsbpf run OBJ`: loads a clang/libbpf object as `bpftool prog loadall` does, applies `--set`
 * map updates, and runs its programs with BPF_PROG_TEST_RUN semantics, as `bpftool prog run`.
 */
import { UsageError } from "../errors.ts";
import { toHex } from "../runtime/object.ts";
import { hexBytes } from "./args.ts";
import { readBytes } from "./files.ts";
import { instantiate, OBJECT_ENGINES, readObjectSpec } from "./objects.ts";
import { type Io, paint, writeJson } from "./output.ts";

/** The options of an object run. */
export interface ObjectRunOptions {
  prog?: string;
  data?: string;
  dataHex?: string;
  ctx?: string;
  repeat: number;
  set: readonly string[];
  budget: number;
  json: boolean;
  engine: string;
  /** Target BTF for CO-RE (default: the bundled 6.12.117 BTF). */
  btf?: string;
}

/** `MAP:KEY=VALUE` → its parts (KEY may be empty for queues and stacks). */
export function parseSet(arg: string): { map: string; key: string | null; value: string } {
  const m = /^([^:=]+):([^=]*)=(.+)$/.exec(arg);
  if (m === null) throw new UsageError(`--set ${arg}: expected MAP:KEY=VALUE (hex bytes, or VALUE @PROG)`);
  const hex = (t: string, what: string) => {
    const b = hexBytes(t, `set ${what}`);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  };
  const key = m[2].trim() === "" ? null : hex(m[2], "key");
  const value = m[3].startsWith("@") ? m[3] : hex(m[3], "value");
  return { map: m[1], key, value };
}

/** Runs the programs of an object; returns the exit code. */
export function runObject(path: string, o: ObjectRunOptions, io: Io): number {
  const engine = OBJECT_ENGINES[o.engine];
  if (engine === undefined)
    throw new UsageError(`unknown engine "${o.engine}" (known: ${Object.keys(OBJECT_ENGINES).join(", ")})`);
  if (o.data !== undefined && o.dataHex !== undefined) throw new UsageError("give --data or --data-hex, not both");
  const sets = o.set.map(parseSet);
  const spec = readObjectSpec(path, o.btf);
  const obj = instantiate(spec, engine, o.budget);
  for (const s of sets) obj.setMapEntry(s.map, s.key, s.value);
  const programs = o.prog === undefined ? obj.programs : [obj.program(o.prog)];
  if (programs.length === 0) throw new UsageError(`${path} has no program to run`);
  const dataIn =
    o.data !== undefined ? readBytes(o.data) : o.dataHex !== undefined ? hexBytes(o.dataHex, "data-hex") : undefined;
  const ctxIn = o.ctx !== undefined ? readBytes(o.ctx) : undefined;
  let printed = 0;
  for (const p of programs) {
    const r = p.testRun({ dataIn, ctxIn, repeat: o.repeat });
    if (o.json) {
      writeJson(io, {
        prog: p.name,
        retval: r.retval,
        r0: r.r0,
        duration_ns: Math.round(r.durationNs),
        engine: o.engine,
        data_out: toHex(r.dataOut),
        ctx_out: r.ctxOut === null ? null : toHex(r.ctxOut),
        insns: r.insnCount,
      });
      continue;
    }
    io.out(
      `${paint(io, "bold", p.name)}: retval ${r.retval} (r0 0x${r.r0.toString(16)})  ${r.insnCount} insns  duration ${Math.round(r.durationNs)} ns  [${o.engine}]\n`,
    );
    if (dataIn !== undefined && toHex(r.dataOut) !== toHex(dataIn)) io.out(`  data_out ${toHex(r.dataOut)}\n`);
    if (r.ctxOut !== null) io.out(`  ctx_out  ${toHex(r.ctxOut)}\n`);
    printed++;
  }
  const trace = obj.tracePipe();
  if (!o.json && trace.length > 0)
    io.out(`${paint(io, "dim", "trace_pipe:")}\n${trace}${trace.endsWith("\n") ? "" : "\n"}`);
  return printed >= 0 ? 0 : 1;
}
