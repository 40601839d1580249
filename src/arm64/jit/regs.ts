/**
 * Which arm64 register holds which BPF register (the kernel's `bpf2a64[]`, v6.12).
 *
 * R1..R5 sit in x0..x4 so helper, kfunc and BPF-to-BPF calls need no argument shuffling
 * (AAPCS64 passes arguments there); R0 lives in x7 rather than x0 because x0 is also R1 and
 * both are live across the body; R6..R9 use callee-saved x19..x22 so they survive calls for
 * free; R10 (the read-only frame pointer) is x25, also callee-saved.
 */

/** BPF register number -> arm64 register number (index 11 is the JIT-internal BPF_REG_AX). */
export const BPF_TO_A64: readonly number[] = [7, 0, 1, 2, 3, 4, 19, 20, 21, 22, 25, 9];

/** BPF register numbers with a meaning of their own. */
export const BPF_R0 = 0;
export const BPF_R10 = 10;
export const BPF_REG_AX = 11;

/** Scratch registers of the JIT (TMP_REG_1..3): caller-saved, never a BPF register. */
export const TMP1 = 10;
export const TMP2 = 11;
export const TMP3 = 12;
/** Holds the address of the tail-call counter slot on the main program's stack (v6.11+). */
export const TCC_PTR = 26;
/** Arena base (kernel VA of the arena), reserved though tsbpf does not emit arena code yet. */
export const ARENA_BASE = 28;
/** The arm64 frame pointer and link register. */
export const A64_FP = 29;
export const A64_LR = 30;
/** x9 receives the caller's LR at entry (`mov x9, lr`) for fentry trampolines. */
export const LR_COPY = 9;
/** R0 and R10 in arm64 terms. */
export const A64_R0 = 7;
export const A64_BPF_FP = 25;

/** The arm64 register of BPF register `r`. */
export function a64(r: number): number {
  const x = BPF_TO_A64[r];
  if (x === undefined) throw new RangeError(`no arm64 register for BPF register r${r}`);
  return x;
}
