/**
 * BPF_STX | BPF_ATOMIC (`emit_lse_atomic`, `emit_ll_sc_atomic`; v6.12). The kernel picks the
 * LSE form when the CPU has ARMv8.1 atomics (the target's does); `options.lse` chooses here.
 */
import { JitError } from "../../errors.ts";
import { BPF_DW, BPF_SIZE } from "../../isa/opcodes.ts";
import {
  addReg,
  andReg,
  Barrier,
  casal,
  cbnz,
  dmb,
  eorReg,
  ldaddal,
  ldclral,
  ldeoral,
  ldsetal,
  ldxr,
  mvnReg,
  orrReg,
  stadd,
  stclr,
  steor,
  stlxr,
  stset,
  stxr,
  swpal,
} from "../asm/encode.ts";
import type { JitContext } from "./context.ts";
import { emitMov, emitMovImm32 } from "./immediates.ts";
import { A64_R0, a64, BPF_REG_AX, TMP1, TMP2, TMP3 } from "./regs.ts";

const ADD = 0x00;
const OR = 0x40;
const AND = 0x50;
const XOR = 0xa0;
const FETCH = 0x01;
const XCHG = 0xe0 | FETCH;
const CMPXCHG = 0xf0 | FETCH;

export function emitAtomic(ctx: JitContext, i: number): void {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const isdw = BPF_SIZE(p.code[pc]) === BPF_DW;
  const dst = a64(p.dst[pc]);
  const src = a64(p.src[pc]);
  const off = p.off[pc];
  // address = dst + off, formed in x10 when off is not zero
  let addr = dst;
  if (off !== 0) {
    emitMovImm32(ctx, true, TMP1, off);
    ctx.emit(addReg(true, TMP1, TMP1, dst));
    addr = TMP1;
  }
  const op = p.imm[pc];
  if (ctx.options.lse) emitLse(ctx, pc, op, isdw, src, addr);
  else emitLlSc(ctx, pc, op, isdw, src, addr);
}

function emitLse(ctx: JitContext, pc: number, op: number, isdw: boolean, src: number, addr: number): void {
  switch (op) {
    case ADD:
      ctx.emit(stadd(isdw, src, addr));
      return;
    case AND:
      // LSE has "clear bits" rather than AND: clear the complement
      ctx.emit(mvnReg(isdw, TMP2, src));
      ctx.emit(stclr(isdw, TMP2, addr));
      return;
    case OR:
      ctx.emit(stset(isdw, src, addr));
      return;
    case XOR:
      ctx.emit(steor(isdw, src, addr));
      return;
    case ADD | FETCH:
      ctx.emit(ldaddal(isdw, src, src, addr));
      return;
    case AND | FETCH:
      ctx.emit(mvnReg(isdw, TMP2, src));
      ctx.emit(ldclral(isdw, TMP2, src, addr));
      return;
    case OR | FETCH:
      ctx.emit(ldsetal(isdw, src, src, addr));
      return;
    case XOR | FETCH:
      ctx.emit(ldeoral(isdw, src, src, addr));
      return;
    case XCHG:
      ctx.emit(swpal(isdw, src, src, addr));
      return;
    case CMPXCHG:
      // R0 holds the expected value and receives the old one
      ctx.emit(casal(isdw, A64_R0, src, addr));
      return;
  }
  throw new JitError(pc, `unknown atomic operation 0x${op.toString(16)}`);
}

const logicOp = (op: number) =>
  op === ADD ? addReg : op === AND ? andReg : op === OR ? orrReg : op === XOR ? eorReg : null;

function emitLlSc(ctx: JitContext, pc: number, op: number, isdw: boolean, src: number, addr: number): void {
  const plain = logicOp(op);
  if (plain !== null) {
    // retry: load-exclusive, combine, store-exclusive (status in w12), loop on failure
    ctx.emit(ldxr(isdw, TMP2, addr));
    ctx.emit(plain(isdw, TMP2, TMP2, src));
    ctx.emit(stxr(isdw, TMP3, TMP2, addr));
    ctx.emit(cbnz(false, TMP3, -3 * 4));
    return;
  }
  const fetching = (op & FETCH) !== 0 ? logicOp(op & ~FETCH) : null;
  if (fetching !== null && op !== XCHG && op !== CMPXCHG) {
    // the operand is kept in x9 because src receives the old value
    const ax = a64(BPF_REG_AX);
    emitMov(ctx, isdw, ax, src);
    ctx.emit(ldxr(isdw, src, addr));
    ctx.emit(fetching(isdw, TMP2, src, ax));
    ctx.emit(stlxr(isdw, TMP3, TMP2, addr));
    ctx.emit(cbnz(false, TMP3, -3 * 4));
    ctx.emit(dmb(Barrier.ISH));
    return;
  }
  if (op === XCHG) {
    emitMov(ctx, isdw, TMP2, src);
    ctx.emit(ldxr(isdw, src, addr));
    ctx.emit(stlxr(isdw, TMP3, TMP2, addr));
    ctx.emit(cbnz(false, TMP3, -2 * 4));
    ctx.emit(dmb(Barrier.ISH));
    return;
  }
  if (op === CMPXCHG) {
    emitMov(ctx, isdw, TMP2, A64_R0);
    ctx.emit(ldxr(isdw, A64_R0, addr));
    ctx.emit(eorReg(isdw, TMP3, A64_R0, TMP2));
    // mismatch: skip the store and the barrier
    ctx.emit(cbnz(isdw, TMP3, 4 * 4));
    ctx.emit(stlxr(isdw, TMP3, src, addr));
    ctx.emit(cbnz(false, TMP3, -4 * 4));
    ctx.emit(dmb(Barrier.ISH));
    return;
  }
  throw new JitError(pc, `unknown atomic operation 0x${op.toString(16)}`);
}
