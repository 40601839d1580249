/**
 * The instruction list the post-verification passes rewrite, and the two edits they make: remove
 * a run of instructions (kernel/bpf/verifier.c `verifier_remove_insns`) and replace one by a
 * patchlet (`bpf_patch_insn_data`). Both keep the program consistent the way kernel/bpf/core.c
 * `bpf_adj_branches` does — jumps, bpf-to-bpf calls and callback addresses that cross the edit are
 * moved — and fix the function table (`adjust_subprog_starts[_after_remove]`).
 */
import {
  BPF_CALL,
  BPF_EXIT,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD_IMM64,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
} from "../isa/opcodes.ts";
import type { SubprogInfo } from "./env.ts";

/** One instruction slot (the second half of an ld_imm64 is a slot of its own, code 0). */
export interface Slot {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** A mutable program, with each slot's original index (-1: added) and whether it was visited. */
export interface Insns {
  code: number[];
  dst: number[];
  src: number[];
  off: number[];
  imm: number[];
  orig: number[];
  seen: number[];
}

const FIELDS = ["code", "dst", "src", "off", "imm", "orig", "seen"] as const;

/** A slot built from its fields. */
export function slot(code: number, dst = 0, src = 0, off = 0, imm = 0): Slot {
  return { code, dst, src, off, imm };
}

/** The two slots of `ld_imm64 dst, value` (src as given: 0, or BPF_PSEUDO_*). */
export function ldImm64(dst: number, value: bigint, src = 0): Slot[] {
  const v = BigInt.asUintN(64, value);
  return [
    slot(BPF_LD_IMM64, dst, src, 0, Number(BigInt.asIntN(32, v & 0xffffffffn))),
    slot(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))),
  ];
}

/** The slot at `i`. */
export function slotAt(ins: Insns, i: number): Slot {
  return { code: ins.code[i], dst: ins.dst[i], src: ins.src[i], off: ins.off[i], imm: ins.imm[i] };
}

/**
 * `bpf_adj_branches` after the slots `[pos, endOld)` became `[pos, endNew)`: a jump from before
 * the edit to after it, or from after it to before it (or into it), moves by the difference;
 * jumps inside a patchlet are the patchlet's own business and stay.
 */
function adjBranches(ins: Insns, pos: number, endOld: number, endNew: number): void {
  const delta = endNew - endOld;
  const adj = (curr: number, v: number): number => {
    if (curr < pos && curr + v + 1 >= endOld) return v + delta;
    if (curr >= endNew && curr + v + 1 < endNew) return v - delta;
    return v;
  };
  for (let i = 0; i < ins.code.length; i++) {
    const code = ins.code[i];
    if (code === BPF_LD_IMM64) {
      if (ins.src[i] === BPF_PSEUDO_FUNC) ins.imm[i] = adj(i, ins.imm[i]);
      i++;
      continue;
    }
    const cls = code & 0x07;
    if ((cls !== BPF_JMP && cls !== BPF_JMP32) || (code & 0xf0) === BPF_EXIT) continue;
    if ((code & 0xf0) === BPF_CALL) {
      if (ins.src[i] === BPF_PSEUDO_CALL) ins.imm[i] = adj(i, ins.imm[i]);
      continue;
    }
    if (code === (BPF_JMP32 | BPF_JA)) ins.imm[i] = adj(i, ins.imm[i]);
    else ins.off[i] = adj(i, ins.off[i]);
  }
}

/** `verifier_remove_insns`: deletes `[off, off + cnt)`; functions wholly inside disappear. */
export function removeInsns(ins: Insns, subprogs: SubprogInfo[], off: number, cnt: number): void {
  for (const k of FIELDS) ins[k].splice(off, cnt);
  adjBranches(ins, off, off + cnt, off);
  for (let k = subprogs.length - 1; k >= 0; k--) {
    const s = subprogs[k];
    if (s.start >= off && s.start < off + cnt) subprogs.splice(k, 1);
    else if (s.start >= off + cnt) s.start -= cnt;
  }
}

/**
 * `bpf_patch_insn_data`: replaces the slot at `pos` by `patch` (which usually contains the
 * original, possibly changed). Every new slot inherits the replaced slot's original index and
 * visit mark; functions starting after `pos` move down.
 */
export function patchInsn(ins: Insns, subprogs: SubprogInfo[], pos: number, patch: readonly Slot[]): void {
  const orig = ins.orig[pos];
  const seen = ins.seen[pos];
  const n = patch.length;
  ins.code.splice(pos, 1, ...patch.map((s) => s.code));
  ins.dst.splice(pos, 1, ...patch.map((s) => s.dst));
  ins.src.splice(pos, 1, ...patch.map((s) => s.src));
  ins.off.splice(pos, 1, ...patch.map((s) => s.off));
  ins.imm.splice(pos, 1, ...patch.map((s) => s.imm));
  ins.orig.splice(pos, 1, ...patch.map(() => orig));
  ins.seen.splice(pos, 1, ...patch.map(() => seen));
  if (n === 1) return;
  adjBranches(ins, pos, pos + 1, pos + n);
  for (const s of subprogs) if (s.start > pos) s.start += n - 1;
}
