/**
 * How the kernel names JITed BPF functions in kallsyms — `bpf_prog_<tag>_<name>`
 * (kernel/bpf/core.c `bpf_get_prog_name`) — so that tsbpf's listings and unwinder traces show
 * the names `/proc/kallsyms`, perf and stack traces show.
 *
 * The tag (`bpf_prog_calc_tag`) is the first 8 bytes of the SHA-1 of a function's instructions
 * with the map references of ld_imm64 zeroed (their fds differ from load to load): for the main
 * function, the program as the loader submitted it; for each subprogram, its slice of the
 * rewritten program as `jit_subprogs` cut it. The name is the function's BTF name, or "F" for a
 * function without one (the verifier's hidden default exception callback).
 */
import type { DecodedProgram } from "../isa/insn.ts";
import { encodeProgram } from "../isa/insn.ts";
import {
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
} from "../isa/opcodes.ts";
import type { ProgramSpec } from "../object/spec.ts";
import { KERNEL_KFUNC_BTF_IDS } from "../runtime/kernel-btf/index.ts";
import type { VerifiedProgram } from "../verifier/index.ts";
import { sha1 } from "./sha1.ts";

const LD_IMM64 = 0x18;
const CALL = 0x85;

/** bpf_prog_calc_tag of instructions `[start, end)` of `p`, as 16 hex digits. */
export function progTag(p: DecodedProgram, start = 0, end = p.length): string {
  const bytes = encodeProgram(p).slice(start * 8, end * 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < end - start; i++) {
    const code = bytes[i * 8];
    const src = bytes[i * 8 + 1] >> 4;
    if (code === LD_IMM64 && (src === BPF_PSEUDO_MAP_FD || src === BPF_PSEUDO_MAP_VALUE) && i + 1 < end - start) {
      view.setInt32(i * 8 + 4, 0, true);
      view.setInt32(i * 8 + 12, 0, true);
      i++;
    }
  }
  return Array.from(sha1(bytes).subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The program as libbpf submits it to the kernel: map references by fd (PSEUDO_MAP_FD /
 * PSEUDO_MAP_VALUE, whose values the tag ignores) and kfunc calls by their id in the modelled
 * kernel's BTF. Undefined when a kfunc's kernel id is not known to tsbpf.
 */
export function submittedInsns(spec: ProgramSpec): DecodedProgram | undefined {
  const src = spec.insns;
  const p: DecodedProgram = {
    length: src.length,
    code: src.code.slice(),
    dst: src.dst.slice(),
    src: src.src.slice(),
    off: src.off.slice(),
    imm: src.imm.slice(),
  };
  for (let i = 0; i < p.length; i++) {
    if (p.code[i] === CALL && p.src[i] === BPF_PSEUDO_KFUNC_CALL) {
      const id = KERNEL_KFUNC_BTF_IDS.get(spec.kfuncs.get(p.imm[i]) ?? "");
      if (id === undefined) return undefined;
      p.imm[i] = id;
    } else if (p.code[i] === LD_IMM64) {
      if (p.src[i] === BPF_PSEUDO_MAP_IDX) p.src[i] = BPF_PSEUDO_MAP_FD;
      else if (p.src[i] === BPF_PSEUDO_MAP_IDX_VALUE) p.src[i] = BPF_PSEUDO_MAP_VALUE;
      i++;
    }
  }
  return p;
}

/**
 * bpf_prog_calc_tag of subprogram `[start, end)` of the rewritten program `dump` (in the form of
 * the kernel's xlated dump, see verifier's xlatedDump): the tag is taken while `jit_subprogs`
 * has BPF-to-BPF calls in their temporary form — off = the callee's index, imm = 1. (A
 * subprogram that loads a map's address hashes that address, which tsbpf cannot know: its tag
 * differs from the kernel's.)
 */
export function subprogTag(dump: DecodedProgram, start: number, end: number): string {
  const p: DecodedProgram = {
    length: dump.length,
    code: dump.code,
    dst: dump.dst,
    src: dump.src,
    off: dump.off.slice(),
    imm: dump.imm.slice(),
  };
  for (let i = start; i < end; i++) {
    if (p.code[i] === CALL && p.src[i] === 1) {
      p.off[i] = p.imm[i];
      p.imm[i] = 1;
    }
  }
  return progTag(p, start, end);
}

/** The kallsyms name of a JITed function with tag `tag` and BTF name `name` ("" → "F"). */
export function progSymbol(tag: string, name: string): string {
  return `bpf_prog_${tag}_${name === "" ? "F" : name}`;
}

/**
 * The kallsyms names of a verified program's functions, in the kernel's order (main,
 * subprograms, hidden default callback). `dump` is `xlatedDump(v)`. The main function's name
 * falls back to `bpf_prog_<name>` when a kfunc's kernel BTF id is unknown to tsbpf.
 */
export function functionSymbols(spec: ProgramSpec, v: VerifiedProgram, dump: DecodedProgram): string[] {
  return v.subprogs.map((s, i) => {
    if (i === 0) {
      const submitted = submittedInsns(spec);
      return submitted !== undefined ? progSymbol(progTag(submitted), spec.name) : `bpf_prog_${spec.name}`;
    }
    const end = i + 1 < v.subprogs.length ? v.subprogs[i + 1].start : dump.length;
    return progSymbol(subprogTag(dump, s.start, end), s.hidden ? "" : s.name);
  });
}
