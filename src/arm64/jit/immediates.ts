/**
 * How the JIT puts constants into registers and instructions (the rules of the kernel's
 * `emit_a64_mov_i`, `emit_a64_mov_i64`, `emit_addr_mov_i64`, `is_addsub_imm` and the
 * logical-immediate attempt made through `aarch64_insn_gen_logical_immediate`).
 */
import { encodeBitmaskImm, movAddImm, movk, movn, movz } from "../asm/encode.ts";
import type { JitContext } from "./context.ts";

const MASK64 = (1n << 64n) - 1n;

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

function chunk(v: bigint, shift: number): number {
  return Number((v >> BigInt(shift)) & 0xffffn);
}

/** How many of the four 16-bit chunks of `v` differ from `background`. */
function chunksDiffering(v: bigint, background: number): number {
  let n = 0;
  for (let s = 0; s < 64; s += 16) if (chunk(v, s) !== background) n++;
  return n;
}

/**
 * An arbitrary 64-bit constant. Values that fit in 32 bits use the 32-bit rule in W form (the
 * write zero-extends). Otherwise pick MOVN when fewer chunks differ from 0xffff than from 0,
 * start with the highest chunk that differs from that background, and MOVK each lower chunk
 * that differs. `kernelObject` marks the words as encoding a kernel address.
 */
export function emitMovImm64(ctx: JitContext, rd: number, value: bigint, kernelObject = false): void {
  const v = BigInt.asUintN(64, value);
  if (v >> 32n === 0n) {
    ctx.withKernelObject(kernelObject, () => emitMovImm32(ctx, false, rd, Number(v) | 0));
    return;
  }
  const inverse = chunksDiffering(v, 0xffff) < chunksDiffering(v, 0);
  const rev = ~v & MASK64;
  const top = inverse ? rev : v;
  // highest set bit of `top`, rounded down to a chunk boundary
  let shift = Math.max(Math.floor((top.toString(2).length - 1) / 16) * 16, 0);
  ctx.emit(inverse ? movn(true, rd, chunk(rev, shift), shift) : movz(true, rd, chunk(v, shift), shift), kernelObject);
  const background = inverse ? 0xffff : 0;
  for (shift -= 16; shift >= 0; shift -= 16) {
    const c = chunk(v, shift);
    if (c !== background) ctx.emit(movk(true, rd, c, shift), kernelObject);
  }
}

/**
 * A kernel address: always MOVN + two MOVKs. Kernel virtual addresses have bits 63..48 all
 * set, so the MOVN's inversion supplies them and the length never depends on the value —
 * which matters because the first JIT pass sizes calls before their targets are known.
 */
export function emitMovAddr(ctx: JitContext, rd: number, address: bigint, kernelObject = false): void {
  const v = BigInt.asUintN(64, address);
  ctx.emit(movn(true, rd, ~chunk(v, 0) & 0xffff, 0), kernelObject);
  ctx.emit(movk(true, rd, chunk(v, 16), 16), kernelObject);
  ctx.emit(movk(true, rd, chunk(v, 32), 32), kernelObject);
}

/** The kernel's `is_addsub_imm`: the value, as u32, is imm12 or imm12 << 12. */
export function isAddSubImm(value: number): boolean {
  const u = value >>> 0;
  return (u & ~0xfff) === 0 || (u & ~0xfff000) === 0;
}

/**
 * Whether a BPF 32-bit immediate can be a logical immediate, with the kernel's quirk: the s32
 * is sign-extended to u64 before the check, so for a 32-bit (W) operation any negative value
 * has bits above bit 31 and is refused — it then takes the MOV + register form.
 */
export function logicImmValue(is64: boolean, imm: number): bigint | null {
  const v = BigInt.asUintN(64, BigInt(imm | 0));
  if (!is64 && v >> 32n !== 0n) return null;
  return encodeBitmaskImm(v, is64) === null ? null : v;
}

/** The JIT's register move, ADD #0 (not ORR), which also works with sp. */
export function emitMov(ctx: JitContext, is64: boolean, rd: number, rn: number): void {
  ctx.emit(movAddImm(is64, rd, rn));
}
