/**
 * Function exit (`build_epilogue`, `pop_callee_regs`) and the per-function PLT
 * (`build_plt`).
 */
import { addImm, autiasp, br, ldp, ldrLiteral, movAddImm, nop, ret } from "../asm/encode.ts";
import { SP, ZR } from "../asm/encode-common.ts";
import type { JitContext } from "./context.ts";
import { BOUNDARY_PAIRS } from "./prologue.ts";
import { A64_FP, A64_LR, A64_R0, TCC_PTR, TMP1 } from "./regs.ts";

const pop = (a: number, b: number): number => ldp(true, a, b, SP, 16, "post");

/**
 * Undo the callee-saved pushes. Boundaries and callbacks pop all five pairs (a callback pops
 * what its boundary pushed); other functions pop their own list in reverse, the odd register
 * (pushed with xzr) first.
 */
export function popCalleeRegs(ctx: JitContext): void {
  if (ctx.fn.exceptionBoundary || ctx.fn.exceptionCallback) {
    for (let i = BOUNDARY_PAIRS.length - 1; i >= 0; i--) ctx.emit(pop(BOUNDARY_PAIRS[i][0], BOUNDARY_PAIRS[i][1]));
    return;
  }
  const regs = ctx.usedCalleeRegs;
  let i = regs.length;
  if (i % 2 === 1) {
    i--;
    ctx.emit(pop(regs[i], ZR));
  }
  for (i -= 2; i >= 0; i -= 2) ctx.emit(pop(regs[i], regs[i + 1]));
}

export function buildEpilogue(ctx: JitContext): void {
  if (ctx.stackSize > 0) ctx.emit(addImm(true, SP, SP, ctx.stackSize));
  popCalleeRegs(ctx);
  // Main: drop the counter, restore the caller's x26. Subprogram: restore the inherited one.
  ctx.emit(pop(ZR, TCC_PTR));
  ctx.emit(pop(A64_FP, A64_LR));
  ctx.emit(movAddImm(true, 0, A64_R0));
  ctx.emit(autiasp());
  ctx.emit(ret());
}

/**
 * The PLT used when a trampoline is too far for a direct `b`: `ldr x10, target; br x10`, with
 * the 8-byte target word after it. A `nop` first when needed to 8-align the target word. The
 * target word is not part of the function's reported length, so it is not emitted here.
 */
export function buildPlt(ctx: JitContext): void {
  if (ctx.idx % 2 === 1) ctx.emit(nop());
  ctx.emit(ldrLiteral(true, TMP1, 8));
  ctx.emit(br(TMP1));
}
