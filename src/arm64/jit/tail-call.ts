/**
 * bpf_tail_call(ctx, map, index) (`emit_bpf_tail_call`, v6.12).
 *
 * R2 (x1) is the prog array, R3 (x2) the index, x26 points at the shared counter. Three checks
 * jump to `out` (the next BPF instruction): index out of bounds, counter exhausted, empty slot.
 * Only when the jump is certain is the incremented counter stored; then this function's frame
 * is unwound down to its frame record and tail-call pair (which the callee keeps) and control
 * enters the callee after its own frame setup, PROLOGUE_OFFSET instructions in.
 */
import {
  addImm,
  addReg,
  bCond,
  br,
  Cond,
  cbz,
  cmpReg,
  ldrImm,
  ldrReg,
  lslImm,
  movAddImm,
  strImm,
  withBranchOffset,
} from "../asm/encode.ts";
import { SP } from "../asm/encode-common.ts";
import type { JitContext } from "./context.ts";
import { popCalleeRegs } from "./epilogue.ts";
import { emitMovImm64 } from "./immediates.ts";
import { PROLOGUE_OFFSET } from "./prologue.ts";
import { TCC_PTR, TMP1, TMP2, TMP3 } from "./regs.ts";

/** Offsets in the target's kernel structures (struct bpf_array / struct bpf_prog, 6.12 arm64). */
export const ARRAY_MAX_ENTRIES = 0x24;
export const ARRAY_PTRS = 0x108;
export const PROG_BPF_FUNC = 0x30;
/** MAX_TAIL_CALL_CNT. */
export const MAX_TAIL_CALLS = 33;

export function emitTailCall(ctx: JitContext): void {
  // The sequence depends only on the function's frame (stack size, saved registers) and its
  // branches are relative to itself, so every tail call of a function is the same ~22 words:
  // encode the first one, copy it for the others.
  if (ctx.tailCallWords !== null) {
    ctx.emitWords(ctx.tailCallWords);
    return;
  }
  const start = ctx.idx;
  encodeTailCall(ctx);
  ctx.tailCallWords = ctx.words.slice(start, ctx.idx);
}

function encodeTailCall(ctx: JitContext): void {
  const map = 1; // R2
  const index = 2; // R3
  // the three jumps to `out`, emitted with distance 0 and patched once `out` is known
  const branches = [0, 0, 0];
  // if (index >= array->map.max_entries) goto out;  (index is u32)
  emitMovImm64(ctx, TMP1, 0, ARRAY_MAX_ENTRIES);
  ctx.emit(ldrReg(4, TMP1, map, TMP1));
  ctx.emit(movAddImm(false, index, index));
  ctx.emit(cmpReg(false, index, TMP1));
  branches[0] = ctx.idx;
  ctx.emit(bCond(Cond.CS, 0));
  // if (*tcc_ptr >= MAX_TAIL_CALL_CNT) goto out; cnt = *tcc_ptr + 1
  emitMovImm64(ctx, TMP1, 0, MAX_TAIL_CALLS);
  ctx.emit(ldrImm(8, TMP3, TCC_PTR, 0));
  ctx.emit(cmpReg(true, TMP3, TMP1));
  branches[1] = ctx.idx;
  ctx.emit(bCond(Cond.CS, 0));
  ctx.emit(addImm(true, TMP3, TMP3, 1));
  // prog = array->ptrs[index]; if (prog == NULL) goto out;
  emitMovImm64(ctx, TMP1, 0, ARRAY_PTRS);
  ctx.emit(addReg(true, TMP1, map, TMP1));
  ctx.emit(lslImm(true, TMP2, index, 3));
  ctx.emit(ldrReg(8, TMP2, TMP1, TMP2));
  branches[2] = ctx.idx;
  ctx.emit(cbz(true, TMP2, 0));
  // the slot is populated: commit the new count
  ctx.emit(strImm(8, TMP3, TCC_PTR, 0));
  // unwind this function's BPF stack and callee-saved registers
  if (ctx.stackSize > 0) ctx.emit(addImm(true, SP, SP, ctx.stackSize));
  popCalleeRegs(ctx);
  // goto *(prog->bpf_func + prologue_offset)
  emitMovImm64(ctx, TMP1, 0, PROG_BPF_FUNC);
  ctx.emit(ldrReg(8, TMP1, TMP2, TMP1));
  ctx.emit(addImm(true, TMP1, TMP1, PROLOGUE_OFFSET * 4));
  ctx.emit(br(TMP1));
  const out = ctx.idx;
  for (const at of branches) ctx.words[at] = withBranchOffset(ctx.words[at], (out - at) * 4);
}
