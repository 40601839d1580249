/**
 * BPF_LDX / BPF_ST / BPF_STX memory accesses and ld_imm64 (`build_insn`, v6.12).
 *
 * R10-relative accesses are rewritten to sp-relative ones: the BPF stack ends at x25 and sp
 * sits `stackSize` below it, so `[x25 + off]` is `[sp + off + stackSize]`, which is usually a
 * non-negative multiple of the access size and fits the unsigned scaled form. When it does not,
 * the offset goes into x10 and the register-offset form uses the original base and offset.
 */
import { JitError } from "../../errors.ts";
import { ldImm64Value } from "../../isa/insn.ts";
import { BPF_CLASS, BPF_LDX, BPF_MODE, BPF_SIZE, BPF_ST, SIZE_BYTES } from "../../isa/opcodes.ts";
import { type AccessSize, isScaledOffset, ldrImm, ldrReg, ldrsImm, ldrsReg, strImm, strReg } from "../asm/encode.ts";
import { SP } from "../asm/encode-common.ts";
import type { JitContext } from "./context.ts";
import { emitMovAddr, emitMovImm32, emitMovImm64 } from "./immediates.ts";
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

/** Base register and offset after the R10 -> sp rewrite. */
function adjust(ctx: JitContext, base: number, off: number): { base: number; off: number } {
  return base === A64_BPF_FP ? { base: SP, off: off + ctx.stackSize } : { base, off };
}

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
  const a = adjust(ctx, src, off);
  if (signExtend && size === 8) throw new JitError(pc, "sign-extending 64-bit load");
  if (isScaledOffset(a.off, size)) {
    ctx.emit(signExtend ? ldrsImm(size as 1 | 2 | 4, dst, a.base, a.off) : ldrImm(size, dst, a.base, a.off));
  } else {
    emitMovImm32(ctx, true, TMP1, off);
    ctx.emit(signExtend ? ldrsReg(size as 1 | 2 | 4, dst, src, TMP1) : ldrReg(size, dst, src, TMP1));
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
  const a = adjust(ctx, dst, off);
  if (isScaledOffset(a.off, size)) {
    ctx.emit(strImm(size, value, a.base, a.off));
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
 * form, since the callee's address is unknown when the first pass sizes the image. Map
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
    emitMovAddr(ctx, dst, ldImm64Value(p, pc));
    return;
  }
  const kind = KIND[src];
  if (kind !== undefined) {
    const resolve = ctx.options.kernelObjectAddress ?? placeholderAddress;
    emitMovImm64(ctx, dst, resolve(kind, p.imm[pc], p.imm[pc + 1]), true);
    return;
  }
  if (src !== 0) throw new JitError(pc, `unsupported ld_imm64 source ${src}`);
  emitMovImm64(ctx, dst, ldImm64Value(p, pc));
}

export const isLoadClass = (code: number): boolean => BPF_CLASS(code) === BPF_LDX;
