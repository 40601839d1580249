/**
 * BPF_CALL: helpers, kfuncs (including bpf_throw) and BPF-to-BPF calls (`build_insn`,
 * `emit_call`, `bpf_jit_get_func_addr`; v6.12).
 */
import { JitError } from "../../errors.ts";
import { bl, blr, ldrImm, ldrReg, mrs, SysReg } from "../asm/encode.ts";
import type { JitContext } from "./context.ts";
import { emitMov, emitMovAddr, emitMovImm32 } from "./immediates.ts";
import { A64_R0, TMP1, TMP2 } from "./regs.ts";

export const PSEUDO_CALL = 1;
export const PSEUDO_KFUNC_CALL = 2;

/** Helper ids the arm64 JIT inlines (`bpf_jit_inlines_helper_call`); the verifier keeps their id. */
export const FUNC_GET_SMP_PROCESSOR_ID = 8;
export const FUNC_TAIL_CALL = 12;
export const FUNC_GET_CURRENT_TASK = 35;
export const FUNC_GET_CURRENT_TASK_BTF = 158;

const RANGE = 128n * 1024n * 1024n;

/**
 * A call to a known address: one `bl` when it is within the ±128 MiB reach of BL, otherwise
 * the fixed-length address load into x10 and `blr x10` (also used when the target is still
 * unknown, which the kernel's first JIT of a multi-function program sees for BPF-to-BPF calls).
 */
export function emitCallTo(ctx: JitContext, target: bigint): void {
  const delta = target - ctx.pc;
  if (target !== 0n && delta >= -RANGE && delta < RANGE) {
    ctx.emit(bl(Number(delta)));
  } else {
    emitMovAddr(ctx, TMP1, target);
    ctx.emit(blr(TMP1));
  }
}

/** Address of the callee of the call in local slot `i` (0n when unknown). */
function callTarget(ctx: JitContext, i: number): bigint {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const src = p.src[pc];
  const imm = p.imm[pc];
  if (src === PSEUDO_CALL) {
    // xlated dumps: imm = callee's function index; tsbpf's verifier output: pc-relative
    const callee =
      ctx.options.pseudoCallImm === "relative"
        ? ctx.functions.find((f) => f.start === pc + 1 + imm)
        : ctx.functions[imm];
    if (callee === undefined) throw new JitError(pc, `call to unknown BPF function ${imm}`);
    return callee.address;
  }
  if (src !== 0 && src !== PSEUDO_KFUNC_CALL) throw new JitError(pc, `unsupported call source ${src}`);
  // helpers and kfuncs: the verifier stored the distance from __bpf_call_base
  return BigInt.asUintN(64, ctx.options.callBase + BigInt(imm));
}

export function emitCall(ctx: JitContext, i: number): void {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const src = p.src[pc];
  const imm = p.imm[pc];
  if (src === 0 && imm === FUNC_GET_SMP_PROCESSOR_ID) {
    // current thread_info (sp_el0 holds `current`, thread_info is its first member) -> cpu
    const cpuOffset = ctx.options.cpuOffset;
    ctx.emit(mrs(TMP1, SysReg.SP_EL0));
    if (cpuOffset % 4 === 0 && cpuOffset >= 0 && cpuOffset / 4 <= 0xfff) ctx.emit(ldrImm(4, A64_R0, TMP1, cpuOffset));
    else {
      emitMovImm32(ctx, true, TMP2, cpuOffset);
      ctx.emit(ldrReg(4, A64_R0, TMP1, TMP2));
    }
    return;
  }
  if (src === 0 && (imm === FUNC_GET_CURRENT_TASK || imm === FUNC_GET_CURRENT_TASK_BTF)) {
    ctx.emit(mrs(A64_R0, SysReg.SP_EL0));
    return;
  }
  emitCallTo(ctx, callTarget(ctx, i));
  // return value: x0 -> R0 (x7)
  emitMov(ctx, true, A64_R0, 0);
}
