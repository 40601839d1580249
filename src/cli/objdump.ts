/**
 * `tsbpf objdump OBJ`: what an object holds, as libbpf reads it: its maps, its programs (type,
 * functions with their linkage, helpers, kfuncs and maps used) and each program's relocated
 * instructions interleaved with the source lines BTF line_info records.
 */
import { UsageError } from "../errors.ts";
import { disasmInsn, insnSlots } from "../isa/disasm.ts";
import { funcIdName } from "../isa/helper-ids.ts";
import {
  BPF_LD_IMM64,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
} from "../isa/opcodes.ts";
import type { ObjectSpec, ProgramSpec } from "../object/spec.ts";
import { MAP_TYPE_NAMES, PROG_TYPE_NAMES } from "../object/uapi.ts";
import { parse } from "./args.ts";
import { readObjectSpec } from "./objects.ts";
import { type Io, paint, writeJson } from "./output.ts";

export const OBJDUMP_USAGE = `usage: tsbpf objdump OBJ [--prog NAME] [--btf PATH] [--json]

Shows an object as libbpf loads it: maps, programs (type, functions, helpers, kfuncs, maps) and
each program's relocated instructions with the source lines from BTF.
`;

/** What an instruction refers to, for the listing's trailing comment ("" for nothing). */
function refOf(spec: ObjectSpec, p: ProgramSpec, pc: number): string {
  const ins = p.insns;
  const code = ins.code[pc];
  const src = ins.src[pc];
  const imm = ins.imm[pc];
  if (code === 0x85) {
    if (src === 0) return funcIdName(imm);
    if (src === BPF_PSEUDO_KFUNC_CALL) return `kfunc ${p.kfuncs.get(imm) ?? `#${imm}`}`;
    if (src === BPF_PSEUDO_CALL) return functionAt(p, pc + 1 + imm);
  }
  if (code === BPF_LD_IMM64) {
    if (src === BPF_PSEUDO_MAP_IDX) return `map ${spec.maps[imm]?.name ?? `#${imm}`}`;
    if (src === BPF_PSEUDO_MAP_IDX_VALUE) return `${spec.maps[imm]?.name ?? `#${imm}`}+${ins.imm[pc + 1]}`;
    if (src === BPF_PSEUDO_FUNC) return functionAt(p, pc + 1 + imm);
  }
  return "";
}

function functionAt(p: ProgramSpec, pc: number): string {
  return p.functions.find((f) => f.start === pc)?.name ?? `slot ${pc}`;
}

/** The instructions of `p` with source lines and references. */
function listing(spec: ObjectSpec, p: ProgramSpec) {
  const lines = new Map(p.lineInfo.map((l) => [l.insn, l]));
  const starts = new Map(p.functions.map((f) => [f.start, f]));
  const out: { pc: number; text: string; ref: string; function?: string; source?: string; line?: string }[] = [];
  for (let pc = 0; pc < p.insns.length; pc += insnSlots(p.insns, pc)) {
    const li = lines.get(pc);
    out.push({
      pc,
      text: disasmInsn(p.insns, pc, { lossless: true }),
      ref: refOf(spec, p, pc),
      ...(starts.has(pc) ? { function: starts.get(pc)?.name } : {}),
      ...(li ? { source: li.text, line: `${li.file}:${li.line}:${li.column}` } : {}),
    });
  }
  return out;
}

/** Runs `tsbpf objdump`; returns the exit code. */
export function objdumpCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse(argv, {
    prog: { type: "string" },
    btf: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    io.out(OBJDUMP_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("give exactly one OBJ");
  const spec = readObjectSpec(positionals[0], values.btf);
  const programs = values.prog === undefined ? spec.programs : spec.programs.filter((p) => p.name === values.prog);
  if (programs.length === 0) throw new UsageError(`no program named ${values.prog}`);
  const mapInfo = spec.maps.map((m, i) => ({
    index: i,
    name: m.name,
    type: MAP_TYPE_NAMES[m.type] ?? `type ${m.type}`,
    key_size: m.keySize,
    value_size: m.valueSize,
    max_entries: m.maxEntries,
    flags: m.flags,
  }));
  const progInfo = programs.map((p) => ({
    name: p.name,
    section: p.section,
    type: PROG_TYPE_NAMES[p.type] ?? `type ${p.type}`,
    autoload: p.autoload,
    insns: p.insns.length,
    functions: p.functions.map((f) => ({ name: f.name, start: f.start, length: f.length, linkage: f.linkage })),
    helpers: p.helpers.map((h) => `${funcIdName(h)}#${h}`),
    kfuncs: [...new Set(p.kfuncs.values())],
    maps: p.maps.map((i) => spec.maps[i]?.name ?? `#${i}`),
    decl_tags: p.declTags,
  }));
  if (values.json) {
    writeJson(io, {
      name: spec.name,
      license: spec.license,
      maps: mapInfo,
      programs: progInfo.map((info, i) => ({ ...info, listing: listing(spec, programs[i]) })),
    });
    return 0;
  }
  const b = (t: string) => paint(io, "bold", t);
  io.out(
    `${b(positionals[0])}: license "${spec.license}", ${spec.programs.length} programs, ${spec.maps.length} maps\n`,
  );
  if (mapInfo.length > 0) {
    io.out(`\n${b("maps")}\n`);
    for (const m of mapInfo) {
      io.out(
        `  [${m.index}] ${m.name.padEnd(20)} ${m.type.padEnd(16)} key ${m.key_size} value ${m.value_size} max_entries ${m.max_entries}${m.flags ? ` flags 0x${m.flags.toString(16)}` : ""}\n`,
      );
    }
  }
  programs.forEach((p, i) => {
    const info = progInfo[i];
    io.out(
      `\n${b(`${p.name}`)}: section ${p.section}, ${info.type}${p.autoload ? "" : " (not autoloaded)"}, ${info.insns} insns\n`,
    );
    io.out(
      `  functions: ${info.functions.map((f) => `${f.name} (${f.linkage}, ${f.start}..${f.start + f.length - 1})`).join(", ")}\n`,
    );
    if (info.helpers.length) io.out(`  helpers:   ${info.helpers.join(", ")}\n`);
    if (info.kfuncs.length) io.out(`  kfuncs:    ${info.kfuncs.join(", ")}\n`);
    if (info.maps.length) io.out(`  maps:      ${info.maps.join(", ")}\n`);
    if (info.decl_tags.length) io.out(`  decl tags: ${info.decl_tags.join(", ")}\n`);
    let lastLine = "";
    for (const l of listing(spec, p)) {
      if (l.function !== undefined) io.out(`\n${l.function}:\n`);
      // One source line per line_info line, not per column, as llvm-objdump -S prints it.
      const where = l.line?.replace(/:\d+$/, "") ?? lastLine;
      if (l.source !== undefined && where !== lastLine)
        io.out(`${paint(io, "dim", `; ${l.source.trim()} [${where}]`)}\n`);
      lastLine = where;
      io.out(`${String(l.pc).padStart(8)}:\t${l.text}${l.ref ? paint(io, "cyan", `\t; ${l.ref}`) : ""}\n`);
    }
  });
  return 0;
}
