/**
 * Per-instruction dispatch and the body pass (`build_insn`, `build_body`; v6.12), plus the
 * driver that runs prologue, body, epilogue and PLT and then resolves the branches.
 */
import { EncodeError, JitError } from "../../errors.ts";
import type { DecodedProgram } from "../../isa/insn.ts";
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_CLASS,
  BPF_EXIT,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MODE,
  BPF_OP,
  BPF_ST,
  BPF_STX,
} from "../../isa/opcodes.ts";
import { emitAlu } from "./alu.ts";
import { emitAtomic } from "./atomic.ts";
import { emitCondJump, emitExit, emitJa } from "./branch.ts";
import { emitCall, FUNC_TAIL_CALL } from "./call.ts";
import { type FunctionFacts, JitContext, type PseudoCallImm } from "./context.ts";
import { buildEpilogue, buildPlt } from "./epilogue.ts";
import { emitLdImm64, emitLoad, emitStore } from "./mem.ts";
import type { ResolvedOptions } from "./options.ts";
import { buildPrologue, findUsedCalleeRegs } from "./prologue.ts";
import { BPF_REG_AX } from "./regs.ts";
import { emitTailCall } from "./tail-call.ts";

const LD_IMM64 = 0x18;
/** The verifier's internal tail-call opcode (xlated dumps show it as `call 12`). */
const TAIL_CALL = BPF_JMP | 0xf0;
/** Speculation barrier: nothing to emit on the target (firmware SSBD covers it). */
const NOSPEC = BPF_ST | 0xc0;

/** Translates local slot `i`; returns how many slots it consumed (2 for ld_imm64). */
function buildInsn(ctx: JitContext, i: number): 1 | 2 {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const code = p.code[pc];
  // The input (an xlated dump read from a file, say) is not validated: a register field past
  // r11 (BPF_REG_AX, which the verifier's rewrites use) has no arm64 register, and a64() would
  // fail with a RangeError. (src holds a pseudo kind in ld_imm64 and calls, all below 12.)
  if (p.dst[pc] > BPF_REG_AX || p.src[pc] > BPF_REG_AX)
    throw new JitError(pc, `invalid register r${Math.max(p.dst[pc], p.src[pc])} in 0x${code.toString(16)}`);
  switch (BPF_CLASS(code)) {
    case BPF_ALU:
    case BPF_ALU64:
      emitAlu(ctx, i);
      return 1;
    case BPF_JMP:
    case BPF_JMP32: {
      const op = BPF_OP(code);
      if (code === TAIL_CALL || (code === (BPF_JMP | BPF_CALL) && p.src[pc] === 0 && p.imm[pc] === FUNC_TAIL_CALL)) {
        emitTailCall(ctx);
      } else if (op === BPF_JA) emitJa(ctx, i);
      else if (code === (BPF_JMP | BPF_CALL)) emitCall(ctx, i);
      else if (code === (BPF_JMP | BPF_EXIT)) emitExit(ctx, i);
      else if (op === BPF_CALL || op === BPF_EXIT) throw new JitError(pc, `bad opcode 0x${code.toString(16)}`);
      else emitCondJump(ctx, i);
      return 1;
    }
    case BPF_LD:
      if (code !== LD_IMM64) throw new JitError(pc, `legacy packet access 0x${code.toString(16)} must be rewritten`);
      emitLdImm64(ctx, i);
      return 2;
    case BPF_LDX:
      emitLoad(ctx, i);
      return 1;
    case BPF_ST:
      if (code !== NOSPEC) emitStore(ctx, i);
      return 1;
    case BPF_STX:
      if (BPF_MODE(code) === BPF_ATOMIC) emitAtomic(ctx, i);
      else if (BPF_MODE(code) === BPF_MEM) emitStore(ctx, i);
      else throw new JitError(pc, `unsupported store 0x${code.toString(16)}`);
      return 1;
  }
  throw new JitError(pc, `unknown opcode 0x${code.toString(16)}`);
}

function buildBody(ctx: JitContext): void {
  const n = ctx.fn.end - ctx.fn.start;
  let i = 0;
  while (i < n) {
    ctx.offsets[i] = ctx.idx;
    let used: 1 | 2;
    try {
      used = buildInsn(ctx, i);
    } catch (e) {
      // an operand the arm64 encoder cannot take (a shift by 70, say, which the verifier would
      // have refused): name the BPF instruction, which the encoder's message cannot
      if (e instanceof EncodeError) throw new JitError(ctx.global(i), e.message, { cause: e });
      throw e;
    }
    if (used === 2) ctx.offsets[i + 1] = ctx.idx;
    i += used;
  }
  ctx.offsets[n] = ctx.idx;
}

/**
 * JITs one function at its final address (the kernel's bpf_int_jit_compile for one function):
 * prologue, body, epilogue and PLT, then the branch distances. The kernel needs a sizing pass
 * before the writing pass; here one emission is enough (see context.ts), and
 * `resolveBranches` plays the writing pass's part of turning offset[] into distances.
 */
export function jitFunction(
  prog: DecodedProgram,
  fn: FunctionFacts,
  functions: readonly FunctionFacts[],
  options: ResolvedOptions,
  pseudoCallImm: PseudoCallImm,
): JitContext {
  const ctx = new JitContext(prog, fn, functions, options, pseudoCallImm);
  const used = findUsedCalleeRegs(prog, fn.start, fn.end);
  ctx.usedCalleeRegs = used.regs;
  ctx.fpUsed = used.fp;
  try {
    buildPrologue(ctx);
    buildBody(ctx);
    ctx.epilogueOffset = ctx.idx;
    buildEpilogue(ctx);
    buildPlt(ctx);
    ctx.resolveBranches();
  } catch (e) {
    // the same outside the body: name the function
    if (e instanceof EncodeError)
      throw new JitError(-1, `function ${fn.index} (${fn.name}): ${e.message}`, { cause: e });
    throw e;
  }
  return ctx;
}
