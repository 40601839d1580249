/**
 * AArch64 branch, PC-relative address and system-instruction encoders. Branch offsets are
 * byte offsets from the branch instruction itself (multiples of 4).
 */
import { EncodeError } from "../../errors.ts";
import { checkRange, reg, sfBit, signedField, u32 } from "./encode-common.ts";

function words(byteOffset: number, what: string): number {
  if (!Number.isInteger(byteOffset) || byteOffset % 4 !== 0)
    throw new EncodeError(`${what} offset ${byteOffset} is not a multiple of 4`);
  return byteOffset / 4;
}

/** B label (±128 MiB). */
export const b = (byteOffset: number): number => u32(0x14000000 | signedField(words(byteOffset, "B"), 26, "B offset"));
/** BL label (±128 MiB). */
export const bl = (byteOffset: number): number =>
  u32(0x94000000 | signedField(words(byteOffset, "BL"), 26, "BL offset"));
/** B.cond label (±1 MiB); `cond` is a {@link Cond} value. */
export function bCond(cond: number, byteOffset: number): number {
  checkRange(cond, 0, 15, "condition");
  return u32(0x54000000 | (signedField(words(byteOffset, "B.cond"), 19, "B.cond offset") << 5) | cond);
}
/** CBZ Rt, label (±1 MiB). */
export const cbz = (is64: boolean, rt: number, byteOffset: number): number =>
  u32(sfBit(is64) | 0x34000000 | (signedField(words(byteOffset, "CBZ"), 19, "CBZ offset") << 5) | reg(rt));
/** CBNZ Rt, label (±1 MiB). */
export const cbnz = (is64: boolean, rt: number, byteOffset: number): number =>
  u32(sfBit(is64) | 0x35000000 | (signedField(words(byteOffset, "CBNZ"), 19, "CBNZ offset") << 5) | reg(rt));
/** TBZ/TBNZ Rt, #bit, label (±32 KiB). */
export function tbz(nonZero: boolean, rt: number, bit: number, byteOffset: number): number {
  checkRange(bit, 0, 63, "test bit");
  const imm14 = signedField(words(byteOffset, "TBZ"), 14, "TBZ offset");
  return u32(((bit >> 5) << 31) | (nonZero ? 0x37000000 : 0x36000000) | ((bit & 31) << 19) | (imm14 << 5) | reg(rt));
}
/**
 * `word` (a B, BL, B.cond, CBZ/CBNZ or TBZ/TBNZ encoded with offset 0) with its offset field set
 * to `byteOffset`: lets a code generator emit a branch before its target is known and patch
 * it afterwards without re-encoding.
 */
export function withBranchOffset(word: number, byteOffset: number): number {
  const w = words(byteOffset, "branch");
  if ((word & 0x7c000000) === 0x14000000) return u32(word | signedField(w, 26, "B/BL offset"));
  if ((word & 0xff000010) === 0x54000000 || (word & 0x7e000000) === 0x34000000)
    return u32(word | (signedField(w, 19, "branch offset") << 5));
  if ((word & 0x7e000000) === 0x36000000) return u32(word | (signedField(w, 14, "TBZ offset") << 5));
  throw new EncodeError(`0x${(word >>> 0).toString(16)} is not a PC-relative branch`);
}
/** BR Xn. */
export const br = (rn: number): number => u32(0xd61f0000 | (reg(rn) << 5));
/** BLR Xn. */
export const blr = (rn: number): number => u32(0xd63f0000 | (reg(rn) << 5));
/** RET {Xn} (default x30). */
export const ret = (rn = 30): number => u32(0xd65f0000 | (reg(rn) << 5));

/** ADR Xd, label (±1 MiB, byte granular). */
export function adr(rd: number, byteOffset: number): number {
  const imm = signedField(byteOffset, 21, "ADR offset");
  return u32(0x10000000 | ((imm & 3) << 29) | ((imm >> 2) << 5) | reg(rd));
}
/** ADRP Xd, label: `pageOffset` is the distance in 4 KiB pages (±4 GiB). */
export function adrp(rd: number, pageOffset: number): number {
  const imm = signedField(pageOffset, 21, "ADRP page offset");
  return u32(0x90000000 | ((imm & 3) << 29) | ((imm >> 2) << 5) | reg(rd));
}

// ---- system ---------------------------------------------------------------------------------

/**
 * System registers the BPF JIT reads, as the 15-bit field below MRS's fixed bits: the low bit of
 * op0 (bit 19; op0 is 2 or 3 so its high bit is part of the opcode), op1, CRn, CRm, op2.
 */
export const SysReg = {
  SP_EL0: 0x4208,
  TPIDR_EL1: 0x4684,
  TPIDR_EL2: 0x6682,
} as const;

/** MRS Xt, <sysreg> (`sysreg` is the 15-bit o0:op1:CRn:CRm:op2 value, e.g. {@link SysReg}). */
export function mrs(rt: number, sysreg: number): number {
  checkRange(sysreg, 0, 0x7fff, "system register");
  return u32(0xd5300000 | (sysreg << 5) | reg(rt));
}

/** HINT #imm (NOP = 0, PACIASP = 25, AUTIASP = 29, BTI variants 32/34/36/38). */
export const hint = (imm: number): number => u32(0xd503201f | (checkRange(imm, 0, 127, "hint") << 5));
export const nop = (): number => hint(0);
export const paciasp = (): number => hint(25);
export const autiasp = (): number => hint(29);
export type BtiTarget = "" | "c" | "j" | "jc";
export function bti(target: BtiTarget): number {
  const t = { "": 32, c: 34, j: 36, jc: 38 }[target];
  if (t === undefined) throw new EncodeError(`bad BTI target ${target}`);
  return hint(t);
}
/** CLRBHB (hint #22). */
export const clrbhb = (): number => hint(22);

/** Barrier option for DMB/DSB (ISH = 0b1011, NSH = 0b0111, SY = 0b1111, ...). */
export const Barrier = {
  OSHLD: 1,
  OSHST: 2,
  OSH: 3,
  NSHLD: 5,
  NSHST: 6,
  NSH: 7,
  ISHLD: 9,
  ISHST: 10,
  ISH: 11,
  LD: 13,
  ST: 14,
  SY: 15,
} as const;
export const dmb = (option: number): number => u32(0xd50330bf | (checkRange(option, 0, 15, "barrier") << 8));
export const dsb = (option: number): number => u32(0xd503309f | (checkRange(option, 0, 15, "barrier") << 8));
export const isb = (): number => 0xd5033fdf;
export const sb = (): number => 0xd50330ff;

/** BRK #imm16; `brk(0x100)` is the kernel's AARCH64_BREAK_FAULT. */
export const brk = (imm16: number): number => u32(0xd4200000 | (checkRange(imm16, 0, 0xffff, "BRK immediate") << 5));
export const hvc = (imm16: number): number => u32(0xd4000002 | (checkRange(imm16, 0, 0xffff, "HVC immediate") << 5));
export const smc = (imm16: number): number => u32(0xd4000003 | (checkRange(imm16, 0, 0xffff, "SMC immediate") << 5));
