/**
 * The verified program as `bpftool prog dump xlated` / BPF_OBJ_GET_INFO_BY_FD show it for a
 * privileged user: kernel/bpf/syscall.c v6.12 `bpf_insn_prepare_dump` undoes what only the JIT
 * needs — BPF_TAIL_CALL is shown as `call bpf_tail_call`, PROBE_MEM loads as plain loads — and
 * shows a map reference as (BPF_PSEUDO_MAP_FD or BPF_PSEUDO_MAP_VALUE, map id, offset). Map ids
 * are the kernel's; the model writes `mapIds[index]` when given, else 0.
 */
import { allocProgram, type DecodedProgram } from "../isa/insn.ts";
import { BPF_CALL, BPF_JMP, BPF_LDX, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from "../isa/opcodes.ts";
import { BPF_PROBE_MEM, BPF_PROBE_MEMSX } from "./ctx-convert.ts";
import { BPF_TAIL_CALL_OP } from "./misc-fixups.ts";
import type { VerifiedProgram } from "./verifier.ts";

/** `bpf_insn_prepare_dump` applied to a verified program's instructions. */
export function xlatedDump(prog: VerifiedProgram, mapIds: readonly number[] = []): DecodedProgram {
  const p = prog.insns;
  const out = allocProgram(p.length);
  out.code.set(p.code);
  out.dst.set(p.dst);
  out.src.set(p.src);
  out.off.set(p.off);
  out.imm.set(p.imm);
  for (let i = 0; i < p.length; i++) {
    const code = p.code[i];
    if (code === BPF_TAIL_CALL_OP) {
      out.code[i] = BPF_JMP | BPF_CALL;
      out.imm[i] = 12;
    } else if ((code & 0x07) === BPF_LDX && ((code & 0xe0) === BPF_PROBE_MEM || (code & 0xe0) === BPF_PROBE_MEMSX)) {
      out.code[i] = BPF_LDX | (code & 0x18) | ((code & 0xe0) === BPF_PROBE_MEM ? 0x60 : 0x80);
    }
  }
  for (const o of prog.kernelObjects) {
    if (o.kind !== "map" && o.kind !== "map_value") continue;
    out.src[o.pc] = o.kind === "map" ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE;
    out.imm[o.pc] = mapIds[o.mapIndex] ?? 0;
    out.imm[o.pc + 1] = o.off;
  }
  return out;
}
