/**
 * How the JIT puts constants into registers and instructions (the rules of the kernel's
 * `emit_a64_mov_i`, `emit_a64_mov_i64`, `emit_addr_mov_i64`, `is_addsub_imm` and the
 * logical-immediate attempt made through `aarch64_insn_gen_logical_immediate`).
 */
import { encodeBitmaskImm, movAddImm, movk, movn, movz } from "../asm/encode.ts";
import type { JitContext } from "./context.ts";

/**
 * A signed 32-bit constant: at most two instructions. A value whose upper half has its sign
 * bit set starts from MOVN (so negative numbers come out sign-extended in X form); a value
 * whose upper half is all ones needs just the MOVN. Otherwise MOVZ the low half and MOVK the
 * high half if it is non-zero. `is64` picks X or W forms (W forms zero-extend).
 */
export function emitMovImm32(ctx: JitContext, is64: boolean, rd: number, value: number): void {
  const v = value | 0;
  const hi = (v >>> 16) & 0xffff;
  const lo = v & 0xffff;
  if (hi & 0x8000) {
    if (hi === 0xffff) {
      ctx.emit(movn(is64, rd, ~lo & 0xffff, 0));
    } else {
      ctx.emit(movn(is64, rd, ~hi & 0xffff, 16));
      if (lo !== 0xffff) ctx.emit(movk(is64, rd, lo, 0));
    }
  } else {
    ctx.emit(movz(is64, rd, lo, 0));
    if (hi !== 0) ctx.emit(movk(is64, rd, hi, 16));
  }
}

/** Chunk `k` (0..3, bits 16k..16k+15) of the 64-bit value hi:lo (two u32 halves). */
const chunk = (hi: number, lo: number, k: number): number =>
  (k === 0 ? lo : k === 1 ? lo >>> 16 : k === 2 ? hi : hi >>> 16) & 0xffff;

/**
 * An arbitrary 64-bit constant, given as its u32 halves `hi`:`lo` (numbers, not a BigInt: this
 * runs for every ld_imm64 and tail call). Values that fit in 32 bits use the 32-bit rule in W
 * form (the write zero-extends). Otherwise pick MOVN when fewer chunks differ from 0xffff than
 * from 0, start with the highest chunk that differs from that background (0 if none), and MOVK
 * each lower chunk that differs. `kernelObject` marks the words as encoding a kernel address.
 */
export function emitMovImm64(ctx: JitContext, rd: number, hi: number, lo: number, kernelObject = false): void {
  if (hi === 0) {
    const from = ctx.idx;
    emitMovImm32(ctx, false, rd, lo | 0);
    if (kernelObject) ctx.markKernelObject(from, ctx.idx);
    return;
  }
  let zeros = 0;
  let ones = 0;
  for (let k = 0; k < 4; k++) {
    const c = chunk(hi, lo, k);
    if (c !== 0) zeros++;
    if (c !== 0xffff) ones++;
  }
  const inverse = ones < zeros;
  const background = inverse ? 0xffff : 0;
  let k = 3;
  while (k > 0 && chunk(hi, lo, k) === background) k--;
  const top = chunk(hi, lo, k);
  ctx.emit(inverse ? movn(true, rd, ~top & 0xffff, k * 16) : movz(true, rd, top, k * 16), kernelObject);
  for (k--; k >= 0; k--) {
    const c = chunk(hi, lo, k);
    if (c !== background) ctx.emit(movk(true, rd, c, k * 16), kernelObject);
  }
}

/** {@link emitMovImm64} of a BigInt (map addresses from `options.kernelObjectAddress`). */
export function emitMovImm64Big(ctx: JitContext, rd: number, value: bigint, kernelObject = false): void {
  const v = BigInt.asUintN(64, value);
  emitMovImm64(ctx, rd, Number(v >> 32n), Number(v & 0xffffffffn), kernelObject);
}

/**
 * A kernel address: always MOVN + two MOVKs. Kernel virtual addresses have bits 63..48 all
 * set, so the MOVN's inversion supplies them and the length never depends on the value —
 * which matters because the kernel's first JIT pass sizes calls before their targets are
 * known. `hi`:`lo` are the address's u32 halves.
 */
export function emitMovAddr(ctx: JitContext, rd: number, hi: number, lo: number, kernelObject = false): void {
  ctx.emit(movn(true, rd, ~lo & 0xffff, 0), kernelObject);
  ctx.emit(movk(true, rd, (lo >>> 16) & 0xffff, 16), kernelObject);
  ctx.emit(movk(true, rd, hi & 0xffff, 32), kernelObject);
}

/** {@link emitMovAddr} of a BigInt address. */
export function emitMovAddrBig(ctx: JitContext, rd: number, address: bigint): void {
  const v = BigInt.asUintN(64, address);
  emitMovAddr(ctx, rd, Number(v >> 32n), Number(v & 0xffffffffn));
}

/** The kernel's `is_addsub_imm`: the value, as u32, is imm12 or imm12 << 12. */
export function isAddSubImm(value: number): boolean {
  const u = value >>> 0;
  return (u & ~0xfff) === 0 || (u & ~0xfff000) === 0;
}

/**
 * The value a logical-immediate instruction (AND/ORR/EOR/TST #imm) would carry for a BPF
 * immediate, or null when it has no bitmask encoding and the JIT must go through x10. A 32-bit
 * (W) operation sees the immediate as u32 (recorded: `and w1, w1, #0xfffffff0` for
 * `w1 &= -16`); a 64-bit one sees it sign-extended (`and x7, x7, #0xfffffffffffffff0`), which
 * needs a BigInt only for negative values.
 */
export function logicImmValue(is64: boolean, imm: number): number | bigint | null {
  if (!is64 || imm >= 0) {
    const u = imm >>> 0;
    return encodeBitmaskImm(u, is64) === null ? null : u;
  }
  const v = BigInt.asUintN(64, BigInt(imm | 0));
  return encodeBitmaskImm(v, true) === null ? null : v;
}

/** The JIT's register move, ADD #0 (not ORR), which also works with sp. */
export function emitMov(ctx: JitContext, is64: boolean, rd: number, rn: number): void {
  ctx.emit(movAddImm(is64, rd, rn));
}
