/**
 * Function entry (the kernel's `build_prologue`, `prepare_bpf_tail_call_cnt`,
 * `push_callee_regs`, `find_used_callee_regs`; v6.12 with the 6.12.y exception fixes that the
 * target carries). PAC is on and BTI off on the target, so every non-callback function signs
 * its return address and no landing pads are emitted.
 */
import type { DecodedProgram } from "../../isa/insn.ts";
import { movAddImm, nop, paciasp, stp, subImm } from "../asm/encode.ts";
import { SP, ZR } from "../asm/encode-common.ts";
import type { JitContext } from "./context.ts";
import { A64_BPF_FP, A64_FP, A64_LR, a64, LR_COPY, TCC_PTR } from "./regs.ts";

/** x19..x28 in the pairs an exception boundary saves, bottom pair last. */
export const BOUNDARY_PAIRS: readonly (readonly [number, number])[] = [
  [19, 20],
  [21, 22],
  [23, 24],
  [25, 26],
  [27, 28],
];

/** Bytes the boundary keeps below its frame record: tail-call pair + five pairs = 12 regs. */
export const BOUNDARY_SAVE_BYTES = 96;

/** Instructions from the function start to the tail-call entry point (no BTI, PAC on). */
export const PROLOGUE_OFFSET = 7;

const push = (a: number, b: number): number => stp(true, a, b, SP, -16, "pre");

/**
 * The callee-saved registers a function touches, in push order: x19..x22 for R6..R9 and x25
 * for R10 when any instruction names them as source or destination. Only what is used is
 * saved (v6.12 "avoid blindly saving/restoring all callee-saved registers"); naming R10 also
 * means x25 must be loaded with the frame address.
 */
export function findUsedCalleeRegs(prog: DecodedProgram, start: number, end: number): { regs: number[]; fp: boolean } {
  const srcs = prog.src;
  const dsts = prog.dst;
  let mask = 0;
  for (let i = start; i < end; i++) mask |= (1 << srcs[i]) | (1 << dsts[i]);
  const regs: number[] = [];
  for (const r of [6, 7, 8, 9]) if (mask & (1 << r)) regs.push(a64(r));
  const fp = (mask & (1 << 10)) !== 0;
  if (fp) regs.push(A64_BPF_FP);
  return { regs, fp };
}

/** Pushes `regs` two at a time; an odd one out is paired with xzr to keep sp 16-aligned. */
function pushRegs(ctx: JitContext, regs: readonly number[]): void {
  for (let i = 0; i < regs.length; i += 2) ctx.emit(push(regs[i], i + 1 < regs.length ? regs[i + 1] : ZR));
}

export function buildPrologue(ctx: JitContext): void {
  const { fn } = ctx;
  // Keep the caller's LR for fentry trampolines, then the patch site they are attached at.
  ctx.emit(movAddImm(true, LR_COPY, A64_LR));
  ctx.emit(nop());
  if (fn.exceptionCallback) {
    // The callback runs on the boundary's frame: bpf_throw passes the boundary's x29 as the
    // third argument; the boundary's twelve saved registers lie just below it, and the
    // callback's epilogue pops them to return straight to the boundary's caller.
    ctx.emit(movAddImm(true, A64_FP, 2));
    ctx.emit(subImm(true, SP, A64_FP, BOUNDARY_SAVE_BYTES));
    // The target marks callbacks fp_used: x25 (R10) is always set up.
    ctx.fpUsed = true;
  } else {
    ctx.emit(paciasp());
    ctx.emit(push(A64_FP, A64_LR));
    ctx.emit(movAddImm(true, A64_FP, SP));
    if (fn.index === 0) {
      // Main program: a zeroed tail-call counter next to the caller's x26, and x26 pointing
      // at the counter so every subprogram and tail-called program shares it.
      ctx.emit(push(ZR, TCC_PTR));
      ctx.emit(movAddImm(true, TCC_PTR, SP));
    } else {
      // Subprogram: keep the inherited counter pointer (twice, for alignment).
      ctx.emit(push(TCC_PTR, TCC_PTR));
    }
    // Tail calls enter here (PROLOGUE_OFFSET instructions in, for a main program).
    if (fn.exceptionBoundary) {
      // bpf_throw never returns to the frames between the boundary and the thrower, so the
      // callback must restore every callee-saved register those frames could have changed.
      for (const [a, b] of BOUNDARY_PAIRS) ctx.emit(push(a, b));
      ctx.fpUsed = true;
    } else {
      pushRegs(ctx, ctx.usedCalleeRegs);
    }
  }
  if (ctx.fpUsed) ctx.emit(movAddImm(true, A64_BPF_FP, SP));
  if (ctx.stackSize > 0) ctx.emit(subImm(true, SP, SP, ctx.stackSize));
}
