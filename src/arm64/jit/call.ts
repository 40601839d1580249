/**
 * BPF_CALL: helpers, kfuncs (including bpf_throw) and BPF-to-BPF calls (`build_insn`,
 * `emit_call`, `bpf_jit_get_func_addr`; v6.12).
 */
import { JitError } from "../../errors.ts";
import { bl, blr, ldrImm, ldrReg, mrs, SysReg } from "../asm/encode.ts";
import type { FunctionFacts, JitContext } from "./context.ts";
import { emitMov, emitMovAddrBig, emitMovImm32 } from "./immediates.ts";
import { A64_R0, TMP1, TMP2 } from "./regs.ts";

export const PSEUDO_CALL = 1;
export const PSEUDO_KFUNC_CALL = 2;

/** Helper ids the arm64 JIT inlines (`bpf_jit_inlines_helper_call`); the verifier keeps their id. */
export const FUNC_GET_SMP_PROCESSOR_ID = 8;
export const FUNC_TAIL_CALL = 12;
export const FUNC_GET_CURRENT_TASK = 35;
export const FUNC_GET_CURRENT_TASK_BTF = 158;

/** Reach of BL: ±128 MiB. */
const RANGE = 128 * 1024 * 1024;

/**
 * A call to a known address: one `bl` when it is within the ±128 MiB reach of BL, otherwise
 * the fixed-length address load into x10 and `blr x10` (also used when the target is still
 * unknown, 0n, which the kernel's first JIT of a multi-function program sees for BPF-to-BPF
 * calls).
 *
 * `delta` is target - (this function's address) as an exact number, or NaN when that is not
 * known as one; the common near call then needs no BigInt. It returns false when
 * it could not decide, and the caller passes the BigInt target to {@link emitFarCall}.
 */
function emitNearCall(ctx: JitContext, delta: number): boolean {
  const d = delta - ctx.idx * 4;
  if (d >= -RANGE && d < RANGE) {
    ctx.emit(bl(d));
    return true;
  }
  return false;
}

/** The BigInt side of {@link emitNearCall}: decides again exactly, then the long form. */
function emitFarCall(ctx: JitContext, target: bigint): void {
  const d = target - ctx.pc;
  if (target !== 0n && d >= -BigInt(RANGE) && d < BigInt(RANGE)) {
    ctx.emit(bl(Number(d)));
    return;
  }
  emitMovAddrBig(ctx, TMP1, target);
  ctx.emit(blr(TMP1));
}

/** The exact number `a - b` for BigInts, NaN when it is not a safe integer. */
function numberDelta(a: bigint, b: bigint): number {
  const d = Number(a - b);
  return Number.isSafeInteger(d) ? d : Number.NaN;
}

function findFunction(functions: readonly FunctionFacts[], start: number): FunctionFacts | undefined {
  for (const f of functions) if (f.start === start) return f;
  return undefined;
}

/** Calls the callee of the call in local slot `i`. */
function emitCallInsn(ctx: JitContext, i: number): void {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const src = p.src[pc];
  const imm = p.imm[pc];
  if (src === PSEUDO_CALL) {
    // xlated dumps: imm = callee's function index; tsbpf's verifier output: pc-relative
    const callee = ctx.pseudoCallImm === "relative" ? findFunction(ctx.functions, pc + 1 + imm) : ctx.functions[imm];
    if (callee === undefined) throw new JitError(pc, `call to unknown BPF function ${imm}`);
    // an unknown callee address (0n) always takes the long form
    if (callee.address === 0n || !emitNearCall(ctx, numberDelta(callee.address, ctx.fn.address)))
      emitFarCall(ctx, callee.address);
    return;
  }
  if (src !== 0 && src !== PSEUDO_KFUNC_CALL) throw new JitError(pc, `unsupported call source ${src}`);
  // helpers and kfuncs: the verifier stored the distance from __bpf_call_base
  if (!emitNearCall(ctx, ctx.callBaseDelta + imm))
    emitFarCall(ctx, BigInt.asUintN(64, ctx.options.callBase + BigInt(imm)));
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
  emitCallInsn(ctx, i);
  // return value: x0 -> R0 (x7)
  emitMov(ctx, true, A64_R0, 0);
}
