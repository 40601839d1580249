/**
 * BPF_LDX / BPF_ST / BPF_STX memory accesses and ld_imm64 (`build_insn`, v6.12).
 *
 * R10-relative accesses are rewritten to sp-relative ones: the BPF stack ends at x25 and sp
 * sits `stackSize` below it, so `[x25 + off]` is `[sp + off + stackSize]`, which is usually a
 * non-negative multiple of the access size and fits the unsigned scaled form. When it does not,
 * the offset goes into x10 and the register-offset form uses the original base and offset.
 */
import { JitError } from "../../errors.ts";
import { BPF_CLASS, BPF_LDX, BPF_MODE, BPF_SIZE, BPF_ST, SIZE_BYTES } from "../../isa/opcodes.ts";
import { type AccessSize, isScaledOffset, ldrImm, ldrReg, ldrsImm, ldrsReg, strImm, strReg } from "../asm/encode.ts";
import { SP } from "../asm/encode-common.ts";
import type { JitContext } from "./context.ts";
import { emitMovAddr, emitMovAddrBig, emitMovImm32, emitMovImm64, emitMovImm64Big } from "./immediates.ts";
import type { KernelObjectKind } from "./options.ts";
import { placeholderAddress } from "./options.ts";
import { A64_BPF_FP, a64, TMP1, TMP2 } from "./regs.ts";

const MODE_MEM = 0x60;
const MODE_MEMSX = 0x80;
const MODE_PROBE_MEM = 0x20;
const MODE_PROBE_MEMSX = 0x40;
const MODE_PROBE_MEM32 = 0xa0;

/** ld_imm64 pseudo sources (src_reg) as the kernel's xlated dump leaves them. */
const PSEUDO_MAP_FD = 1;
const PSEUDO_MAP_VALUE = 2;
const PSEUDO_MAP_IDX = 5;
const PSEUDO_MAP_IDX_VALUE = 6;
const PSEUDO_FUNC = 4;

export function emitLoad(ctx: JitContext, i: number): void {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const code = p.code[pc];
  const mode = BPF_MODE(code);
  if (mode === MODE_PROBE_MEM32) throw new JitError(pc, "arena loads are not supported");
  if (mode !== MODE_MEM && mode !== MODE_MEMSX && mode !== MODE_PROBE_MEM && mode !== MODE_PROBE_MEMSX)
    throw new JitError(pc, `unsupported load mode 0x${mode.toString(16)}`);
  const size = SIZE_BYTES[BPF_SIZE(code)] as AccessSize;
  const signExtend = mode === MODE_MEMSX || mode === MODE_PROBE_MEMSX;
  const dst = a64(p.dst[pc]);
  const src = a64(p.src[pc]);
  const off = p.off[pc];
  // R10 -> sp rewrite
  const base = src === A64_BPF_FP ? SP : src;
  const adjusted = src === A64_BPF_FP ? off + ctx.stackSize : off;
  if (signExtend && size === 8) throw new JitError(pc, "sign-extending 64-bit load");
  if (isScaledOffset(adjusted, size)) {
    ctx.emit(signExtend ? ldrsImm(size as 1 | 2 | 4, dst, base, adjusted) : ldrImm(size, dst, base, adjusted));
  } else {
    emitMovImm32(ctx, true, TMP1, off);
    // the kernel's sign-extending register-offset loads name the index SXTX (recorded:
    // `ldrsb x2, [x1, x10, sxtx]`), the zero-extending ones LSL
    ctx.emit(signExtend ? ldrsReg(size as 1 | 2 | 4, dst, src, TMP1, false, "sxtx") : ldrReg(size, dst, src, TMP1));
  }
}

export function emitStore(ctx: JitContext, i: number): void {
  const p = ctx.prog;
  const pc = ctx.global(i);
  const code = p.code[pc];
  if (BPF_MODE(code) !== MODE_MEM) throw new JitError(pc, `unsupported store mode 0x${BPF_MODE(code).toString(16)}`);
  const size = SIZE_BYTES[BPF_SIZE(code)] as AccessSize;
  const dst = a64(p.dst[pc]);
  const off = p.off[pc];
  let value: number;
  let offsetReg: number;
  if (BPF_CLASS(code) === BPF_ST) {
    // the immediate goes through x10, so a large offset needs the second scratch register
    emitMovImm32(ctx, true, TMP1, p.imm[pc]);
    value = TMP1;
    offsetReg = TMP2;
  } else {
    value = a64(p.src[pc]);
    offsetReg = TMP1;
  }
  const base = dst === A64_BPF_FP ? SP : dst;
  const adjusted = dst === A64_BPF_FP ? off + ctx.stackSize : off;
  if (isScaledOffset(adjusted, size)) {
    ctx.emit(strImm(size, value, base, adjusted));
  } else {
    emitMovImm32(ctx, true, offsetReg, off);
    ctx.emit(strReg(size, value, dst, offsetReg));
  }
}

const KIND: Record<number, KernelObjectKind> = {
  [PSEUDO_MAP_FD]: "map",
  [PSEUDO_MAP_VALUE]: "map_value",
  [PSEUDO_MAP_IDX]: "map_idx",
  [PSEUDO_MAP_IDX_VALUE]: "map_idx_value",
};

/**
 * dst = 64-bit immediate. A callback address (BPF_PSEUDO_FUNC) uses the fixed-length address
 * form, since the callee's address is unknown when the kernel's first pass sizes the image;
 * the instruction names the callback either by its kernel address or, as the kernel's xlated
 * dump and tsbpf's verifier leave it, by the slot distance from the next instruction (imm) to
 * the callback's first slot — then the address is that function's, from the layout. Map
 * references carry, in an xlated dump, the map id (and value offset) instead of the kernel
 * pointer: the address comes from `options.kernelObjectAddress` and its words are flagged.
 */
export function emitLdImm64(ctx: JitContext, i: number): void {
  const p = ctx.prog;
  const pc = ctx.global(i);
  if (pc + 1 >= p.length) throw new JitError(pc, "ld_imm64 without its second slot");
  const dst = a64(p.dst[pc]);
  const src = p.src[pc];
  if (src === PSEUDO_FUNC) {
    const hi = p.imm[pc + 1];
    if (hi >>> 16 === 0xffff) {
      emitMovAddr(ctx, dst, hi, p.imm[pc]);
      return;
    }
    const start = pc + 1 + p.imm[pc];
    const callee = ctx.functions.find((f) => f.start === start);
    if (callee === undefined) throw new JitError(pc, `callback reference to slot ${start}, not a function`);
    emitMovAddrBig(ctx, dst, callee.address);
    return;
  }
  const kind = KIND[src];
  if (kind !== undefined) {
    const resolve = ctx.options.kernelObjectAddress ?? placeholderAddress;
    emitMovImm64Big(ctx, dst, resolve(kind, p.imm[pc], p.imm[pc + 1]), true);
    return;
  }
  if (src !== 0) throw new JitError(pc, `unsupported ld_imm64 source ${src}`);
  emitMovImm64(ctx, dst, p.imm[pc + 1], p.imm[pc]);
}

export const isLoadClass = (code: number): boolean => BPF_CLASS(code) === BPF_LDX;
