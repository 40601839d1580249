/**
 * Shared helpers of the AArch64 disassembler: register names, immediate formatting and field
 * extraction, written to reproduce the operand spelling of LLVM's AArch64InstPrinter as
 * llvm-objdump-19 drives it (immediates in hex because llvm-objdump turns on `print-imm-hex`).
 */

/** The result of decoding one word: the text plus, for PC-relative forms, the address it names. */
export interface Decoded {
  text: string;
  /** Target of a PC-relative operand (branches, ADR/ADRP, literal loads); llvm-objdump annotates it. */
  target?: bigint;
  /** A trailing comment llvm prints after the operands (e.g. `=65536` for `mov`), without `// `. */
  comment?: string;
}

/** Extracts `width` bits of `w` starting at bit `lo`. */
export function bits(w: number, lo: number, width: number): number {
  return width === 32 ? w >>> 0 : (w >>> lo) & ((1 << width) - 1);
}

/** Bit `n` of `w` as 0 or 1. */
export function bit(w: number, n: number): number {
  return (w >>> n) & 1;
}

/** Sign-extends the low `width` bits of `v`. */
export function sext(v: number, width: number): number {
  const shift = 32 - width;
  return (v << shift) >> shift;
}

/** General-purpose register where number 31 is the zero register (`xzr` / `wzr`). */
export function rz(sf: number, n: number): string {
  if (n === 31) return sf ? "xzr" : "wzr";
  return (sf ? "x" : "w") + n;
}

/** General-purpose register where number 31 is the stack pointer (`sp` / `wsp`). */
export function rsp(sf: number, n: number): string {
  if (n === 31) return sf ? "sp" : "wsp";
  return (sf ? "x" : "w") + n;
}

/** 64-bit register, 31 = xzr. */
export function xz(n: number): string {
  return rz(1, n);
}

/** 64-bit register, 31 = sp (the base register of every load/store). */
export function xsp(n: number): string {
  return rsp(1, n);
}

/** Unsigned hex immediate as llvm's `formatHex(uint64_t)` spells it: `0x1f`. */
export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

/** Signed hex immediate as llvm's `formatHex(int64_t)` spells it: `-0x10` for negatives. */
export function shex(v: number | bigint): string {
  if (typeof v === "bigint") return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

/** Condition-code names in the spelling LLVM prints (`hs`/`lo`, not `cs`/`cc`). */
export const COND = ["eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al", "nv"];

/** Masks a bigint to `width` bits. */
export function mask(v: bigint, width: number): bigint {
  return v & ((1n << BigInt(width)) - 1n);
}

/** Sign-extends a bigint holding a `width`-bit value (llvm's `SignExtend64`). */
export function sext64(v: bigint, width: number): bigint {
  return BigInt.asIntN(width, v);
}

/**
 * DecodeBitMasks of the Arm ARM for logical immediates: the element of `2^len` bits with
 * `imms+1` ones rotated right by `immr`, replicated to the register width. Returns null for the
 * reserved encodings (N=1 in a 32-bit instruction, an all-ones element, no element size).
 */
export function decodeBitMask(n: number, immr: number, imms: number, regSize: number): bigint | null {
  if (regSize === 32 && n) return null;
  const combined = (n << 6) | (~imms & 0x3f);
  if (combined === 0) return null;
  const len = 31 - Math.clz32(combined);
  if (len < 1) return null;
  const size = 1 << len;
  const levels = size - 1;
  const s = imms & levels;
  const r = immr & levels;
  if (s === levels) return null;
  const sz = BigInt(size);
  let elem = (1n << BigInt(s + 1)) - 1n;
  if (r !== 0) elem = mask((elem >> BigInt(r)) | (elem << (sz - BigInt(r))), size);
  let out = 0n;
  for (let i = 0; i < regSize; i += size) out |= elem << BigInt(i);
  return out;
}

/**
 * llvm's `isMOVZMovAlias`: the value is one 16-bit chunk at `shift` (zero counts only at shift 0),
 * so a MOVZ with that shift produces it and `mov` is its preferred spelling.
 */
export function isMovzAlias(value: bigint, shift: number, width: number): boolean {
  const v = mask(value, width);
  if (v === 0n && shift !== 0) return false;
  return (v & ~(0xffffn << BigInt(shift))) === 0n;
}

function isAnyMovzAlias(value: bigint, width: number): boolean {
  for (let s = 0; s < width; s += 16) if (isMovzAlias(value, s, width)) return true;
  return false;
}

/** llvm's `isMOVNMovAlias`: MOVN with `shift` makes the value and MOVZ cannot (MOVZ takes precedence). */
export function isMovnAlias(value: bigint, shift: number, width: number): boolean {
  if (isAnyMovzAlias(value, width)) return false;
  return isMovzAlias(mask(~value, width), shift, width);
}

/** llvm's `isAnyMOVWMovAlias`: some single MOVZ or MOVN produces the value. */
export function isAnyMovwAlias(value: bigint, width: number): boolean {
  for (let s = 0; s < width; s += 16) {
    if (isMovzAlias(value, s, width) || isMovnAlias(value, s, width)) return true;
  }
  return false;
}

/** The `mov Rd, #imm` rendering llvm uses for MOVZ/MOVN/ORR aliases: signed hex plus `// =decimal`. */
export function movImm(rd: string, value: bigint, width: number): Decoded {
  const v = sext64(mask(value, width), width);
  return { text: `mov\t${rd}, #${shex(v)}`, comment: `=${v.toString(10)}` };
}
