/**
 * BPF_ALU / BPF_ALU64 (`build_insn`, v6.12). 32-bit operations use W registers, whose writes
 * zero the upper half exactly as BPF requires, so no explicit zero-extension is needed.
 */
import { JitError } from "../../errors.ts";
import {
  BPF_ADD,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_CLASS,
  BPF_DIV,
  BPF_END,
  BPF_K,
  BPF_LSH,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OP,
  BPF_OR,
  BPF_RSH,
  BPF_SRC,
  BPF_SUB,
  BPF_TO_LE,
  BPF_XOR,
} from "../../isa/opcodes.ts";
import {
  addImm,
  addReg,
  andImm,
  andReg,
  asrImm,
  asrv,
  eorImm,
  eorReg,
  lslImm,
  lslv,
  lsrImm,
  lsrv,
  mrs,
  msub,
  mul,
  negReg,
  orrImm,
  orrReg,
  rev16,
  rev32,
  rev64,
  SysReg,
  sdiv,
  subImm,
  subReg,
  sxtb,
  sxth,
  sxtw,
  udiv,
  uxth,
  uxtw,
} from "../asm/encode.ts";
import type { JitContext } from "./context.ts";
import { emitMov, emitMovImm32, isAddSubImm, logicImmValue } from "./immediates.ts";
import { a64, TMP1, TMP2 } from "./regs.ts";

/** `off` of a 64-bit register MOV that marks the per-CPU address conversion (BPF_ADDR_PERCPU). */
const ADDR_PERCPU = -1;
/** `off` of an arena address-space cast. */
const ADDR_SPACE_CAST = 1;

export function emitAlu(ctx: JitContext, i: number): void {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const code = p.code[pc];
  const is64 = BPF_CLASS(code) === BPF_ALU64;
  const dst = a64(p.dst[pc]);
  const src = a64(p.src[pc]);
  const off = p.off[pc];
  const imm = p.imm[pc];
  const op = BPF_OP(code);
  const signed = off === 1; // sdiv/smod (cpu v4)

  if (op === BPF_END) {
    emitEndian(ctx, code, is64, dst, imm);
    return;
  }
  if (op === BPF_NEG) {
    ctx.emit(negReg(is64, dst, dst));
    return;
  }

  if (BPF_SRC(code) !== BPF_K) {
    switch (op) {
      case BPF_MOV:
        if (off === ADDR_SPACE_CAST && imm !== 0) throw new JitError(pc, "arena address-space casts are not supported");
        if (is64 && off === ADDR_PERCPU) {
          // per-CPU pointer -> this CPU's address: add this CPU's offset (TPIDR_EL1, or
          // TPIDR_EL2 when the kernel runs at EL2 with VHE); no move when dst is src
          if (dst !== src) emitMov(ctx, true, dst, src);
          ctx.emit(mrs(TMP1, ctx.options.vhe ? SysReg.TPIDR_EL2 : SysReg.TPIDR_EL1));
          ctx.emit(addReg(true, dst, dst, TMP1));
          return;
        }
        if (off === 0) {
          emitMov(ctx, is64, dst, src);
          return;
        }
        if (off === 8) {
          ctx.emit(sxtb(is64, dst, src));
          return;
        }
        if (off === 16) {
          ctx.emit(sxth(is64, dst, src));
          return;
        }
        if (off === 32) {
          ctx.emit(sxtw(is64, dst, src));
          return;
        }
        throw new JitError(pc, `bad movsx offset ${off}`);
      case BPF_ADD:
        ctx.emit(addReg(is64, dst, dst, src));
        return;
      case BPF_SUB:
        ctx.emit(subReg(is64, dst, dst, src));
        return;
      case BPF_AND:
        ctx.emit(andReg(is64, dst, dst, src));
        return;
      case BPF_OR:
        ctx.emit(orrReg(is64, dst, dst, src));
        return;
      case BPF_XOR:
        ctx.emit(eorReg(is64, dst, dst, src));
        return;
      case BPF_MUL:
        ctx.emit(mul(is64, dst, dst, src));
        return;
      case BPF_DIV:
        // division by zero was rewritten by the verifier into explicit checks
        ctx.emit(signed ? sdiv(is64, dst, dst, src) : udiv(is64, dst, dst, src));
        return;
      case BPF_MOD:
        // dst = dst - (dst / src) * src: msub Rd, Rn, Rm, Ra computes Ra - Rn * Rm
        ctx.emit(signed ? sdiv(is64, TMP1, dst, src) : udiv(is64, TMP1, dst, src));
        ctx.emit(msub(is64, dst, TMP1, src, dst));
        return;
      case BPF_LSH:
        ctx.emit(lslv(is64, dst, dst, src));
        return;
      case BPF_RSH:
        ctx.emit(lsrv(is64, dst, dst, src));
        return;
      case BPF_ARSH:
        ctx.emit(asrv(is64, dst, dst, src));
        return;
    }
    throw new JitError(pc, `unknown ALU opcode 0x${code.toString(16)}`);
  }

  switch (op) {
    case BPF_MOV:
      emitMovImm32(ctx, is64, dst, imm);
      return;
    case BPF_ADD:
    case BPF_SUB: {
      // add/sub immediate when imm (or its negation, flipping the operation) fits imm12 or
      // imm12 << 12; otherwise go through a scratch register
      const add = op === BPF_ADD;
      if (isAddSubImm(imm)) {
        ctx.emit((add ? addImm : subImm)(is64, dst, dst, addSubValue(imm)));
        return;
      }
      if (isAddSubImm(-imm)) {
        ctx.emit((add ? subImm : addImm)(is64, dst, dst, addSubValue(-imm)));
        return;
      }
      emitMovImm32(ctx, is64, TMP1, imm);
      ctx.emit((add ? addReg : subReg)(is64, dst, dst, TMP1));
      return;
    }
    case BPF_AND:
    case BPF_OR:
    case BPF_XOR: {
      const v = logicImmValue(is64, imm);
      if (v !== null) {
        const enc = op === BPF_AND ? andImm : op === BPF_OR ? orrImm : eorImm;
        ctx.emit(enc(is64, dst, dst, v));
        return;
      }
      emitMovImm32(ctx, is64, TMP1, imm);
      const enc = op === BPF_AND ? andReg : op === BPF_OR ? orrReg : eorReg;
      ctx.emit(enc(is64, dst, dst, TMP1));
      return;
    }
    case BPF_MUL:
      emitMovImm32(ctx, is64, TMP1, imm);
      ctx.emit(mul(is64, dst, dst, TMP1));
      return;
    case BPF_DIV:
      emitMovImm32(ctx, is64, TMP1, imm);
      ctx.emit(signed ? sdiv(is64, dst, dst, TMP1) : udiv(is64, dst, dst, TMP1));
      return;
    case BPF_MOD:
      emitMovImm32(ctx, is64, TMP2, imm);
      ctx.emit(signed ? sdiv(is64, TMP1, dst, TMP2) : udiv(is64, TMP1, dst, TMP2));
      ctx.emit(msub(is64, dst, TMP1, TMP2, dst));
      return;
    case BPF_LSH:
      ctx.emit(lslImm(is64, dst, dst, imm));
      return;
    case BPF_RSH:
      ctx.emit(lsrImm(is64, dst, dst, imm));
      return;
    case BPF_ARSH:
      ctx.emit(asrImm(is64, dst, dst, imm));
      return;
  }
  throw new JitError(pc, `unknown ALU opcode 0x${code.toString(16)}`);
}

/** The u32 value `is_addsub_imm` accepted, as the add/sub encoder's unsigned operand. */
const addSubValue = (imm: number): number => imm >>> 0;

/**
 * BPF_END. The target is little-endian: "to LE" only truncates (zero-extends the low 16/32
 * bits), "to BE" and the unconditional BPF_ALU64 swap reverse bytes; a 16-bit reversal also
 * clears everything above bit 15, a 32-bit one in W form clears the upper half by itself.
 */
function emitEndian(ctx: JitContext, code: number, is64: boolean, dst: number, imm: number): void {
  const swap = is64 || BPF_SRC(code) !== BPF_TO_LE;
  if (swap) {
    if (imm === 16) {
      ctx.emit(rev16(is64, dst, dst));
      ctx.emit(uxth(is64, dst, dst));
    } else if (imm === 32) {
      // REV Wd also for BPF_ALU64: the W write clears bits 63..32, as a 32-bit swap must
      ctx.emit(rev32(false, dst, dst));
    } else if (imm === 64) {
      ctx.emit(rev64(dst, dst));
    }
    return;
  }
  if (imm === 16) ctx.emit(uxth(is64, dst, dst));
  else if (imm === 32) ctx.emit(uxtw(is64, dst, dst));
}
