/**
 * Jumps and exits (`build_insn`, `bpf2a64_offset`, `epilogue_offset`; v6.12).
 *
 * BPF jump offsets count from the next BPF slot, arm64 ones from the branch itself, and the
 * branch is always the last instruction emitted for its slot — so the arm64 distance is
 * offset[target] - (offset[next] - 1). Forward targets are not placed yet when the branch is
 * emitted: it goes out with distance 0 (same length) and JitContext.resolveBranches patches it.
 */
import { JitError } from "../../errors.ts";
import {
  BPF_CLASS,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JMP,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_K,
  BPF_OP,
  BPF_SRC,
} from "../../isa/opcodes.ts";
import { b, bCond, Cond, cmnImm, cmpImm, cmpReg, tstImm, tstReg } from "../asm/encode.ts";
import { type JitContext, TO_EPILOGUE } from "./context.ts";
import { emitMovImm32, isAddSubImm, logicImmValue } from "./immediates.ts";
import { a64, TMP1 } from "./regs.ts";

const BPF_JLT = 0xa0;
const BPF_JLE = 0xb0;
const BPF_JSLT = 0xc0;
const BPF_JSLE = 0xd0;

/** BPF comparison -> arm64 condition after `cmp dst, src` (JSET: after `tst`, "not zero"). */
const CONDITION: Record<number, number> = {
  [BPF_JEQ]: Cond.EQ,
  [BPF_JGT]: Cond.HI,
  [BPF_JLT]: Cond.CC,
  [BPF_JGE]: Cond.CS,
  [BPF_JLE]: Cond.LS,
  [BPF_JSET]: Cond.NE,
  [BPF_JNE]: Cond.NE,
  [BPF_JSGT]: Cond.GT,
  [BPF_JSLT]: Cond.LT,
  [BPF_JSGE]: Cond.GE,
  [BPF_JSLE]: Cond.LE,
};

/**
 * Local slot that a jump in local slot `i` with offset `off` lands on (i + 1 + off), checked to
 * stay inside the function (the end, one past the last slot, is the epilogue's position).
 */
function jumpTarget(ctx: JitContext, i: number, off: number): number {
  const target = i + 1 + off;
  if (target < 0 || target > ctx.offsets.length - 1)
    throw new JitError(ctx.global(i), `jump to ${ctx.global(target)} leaves the function`);
  return target;
}

/** Reach of B.cond (imm19) and B (imm26), in words either way. */
const IMM19 = 1 << 18;
const IMM26 = 1 << 25;

/** JA (BPF_JMP: offset in `off`; BPF_JMP32 "gotol": offset in `imm`). */
export function emitJa(ctx: JitContext, i: number): void {
  const pc = ctx.global(i);
  const code = ctx.prog.code[pc];
  const rel = BPF_CLASS(code) === BPF_JMP ? ctx.prog.off[pc] : ctx.prog.imm[pc];
  ctx.emitBranch(b(0), jumpTarget(ctx, i, rel), IMM26);
}

export function emitCondJump(ctx: JitContext, i: number): void {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const code = p.code[pc];
  const op = BPF_OP(code);
  const is64 = BPF_CLASS(code) === BPF_JMP;
  const dst = a64(p.dst[pc]);
  const cond = CONDITION[op];
  if (cond === undefined || op === BPF_JA) throw new JitError(pc, `unknown jump opcode 0x${code.toString(16)}`);
  const imm = p.imm[pc];
  if (BPF_SRC(code) !== BPF_K) {
    const src = a64(p.src[pc]);
    ctx.emit(op === BPF_JSET ? tstReg(is64, dst, src) : cmpReg(is64, dst, src));
  } else if (op === BPF_JSET) {
    const v = logicImmValue(is64, imm);
    if (v !== null) ctx.emit(tstImm(is64, dst, v));
    else {
      emitMovImm32(ctx, is64, TMP1, imm);
      ctx.emit(tstReg(is64, dst, TMP1));
    }
  } else if (isAddSubImm(imm)) {
    ctx.emit(cmpImm(is64, dst, imm >>> 0));
  } else if (isAddSubImm(-imm)) {
    // compare with a negative constant by adding its magnitude
    ctx.emit(cmnImm(is64, dst, -imm >>> 0));
  } else {
    emitMovImm32(ctx, is64, TMP1, imm);
    ctx.emit(cmpReg(is64, dst, TMP1));
  }
  ctx.emitBranch(bCond(cond, 0), jumpTarget(ctx, i, p.off[pc]), IMM19);
}

/** BPF_EXIT: the last slot falls through into the epilogue, others branch to it. */
export function emitExit(ctx: JitContext, i: number): void {
  if (i === ctx.offsets.length - 2) return;
  ctx.emitBranch(b(0), TO_EPILOGUE, IMM26);
}
