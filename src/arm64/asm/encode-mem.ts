/**
 * AArch64 load/store encoders: single registers (unsigned scaled offset, register offset,
 * unscaled LDUR/STUR, PC-relative literal), pairs with writeback, exclusives, acquire/release
 * and the LSE atomics. Sizes are given as access bytes: 1 (B), 2 (H), 4 (W), 8 (X).
 */
import { EncodeError } from "../../errors.ts";
import { checkRange, reg, signedField, u32, ZR } from "./encode-common.ts";

export type AccessSize = 1 | 2 | 4 | 8;

const SIZE_CODE: Record<AccessSize, number> = { 1: 0, 2: 1, 4: 2, 8: 3 };

function sizeCode(size: AccessSize): number {
  const c = SIZE_CODE[size];
  if (c === undefined) throw new EncodeError(`access size ${size} is not 1, 2, 4 or 8`);
  return c;
}

// opc field (bits 23:22) of the single-register forms
const OPC_STR = 0;
const OPC_LDR = 1;
const OPC_LDRS_X = 2; // sign-extend into an X register
const OPC_LDRS_W = 3; // sign-extend into a W register

// ---- unsigned scaled 12-bit offset ------------------------------------------------------

function unsignedOffset(opc: number, size: AccessSize, rt: number, rn: number, offset: number): number {
  const sc = sizeCode(size); // log2(size): the scaling is a shift
  if (!isScaledOffset(offset, size))
    throw new EncodeError(`offset ${offset} is not a multiple of ${size} in [0, ${0xfff * size}]`);
  return u32((sc << 30) | 0x39000000 | (opc << 22) | ((offset >>> sc) << 10) | (reg(rn) << 5) | reg(rt));
}

/** LDR{B,H,,} Rt, [Rn|SP, #offset] (zero-extending; W for 1/2/4, X for 8). */
export const ldrImm = (size: AccessSize, rt: number, rn: number, offset: number): number =>
  unsignedOffset(OPC_LDR, size, rt, rn, offset);
/** STR{B,H,,} Rt, [Rn|SP, #offset]. */
export const strImm = (size: AccessSize, rt: number, rn: number, offset: number): number =>
  unsignedOffset(OPC_STR, size, rt, rn, offset);
/** LDRS{B,H,W} Xt, [Rn|SP, #offset]: sign-extend to 64 bits (to 32 bits with `toW`). */
export function ldrsImm(size: 1 | 2 | 4, rt: number, rn: number, offset: number, toW = false): number {
  if (toW && size === 4) throw new EncodeError("LDRSW has no W destination");
  return unsignedOffset(toW ? OPC_LDRS_W : OPC_LDRS_X, size, rt, rn, offset);
}

// ---- register offset (LSL #0) -------------------------------------------------------------

/** Index-register extension of the register-offset forms (bits 15:13, S = 0): both add Xm as is. */
export type IndexExtend = "lsl" | "sxtx";

function registerOffset(opc: number, size: AccessSize, rt: number, rn: number, rm: number, sxtx = false): number {
  // option = 011 (LSL/UXTX) or 111 (SXTX), S = 0: address = Rn + Rm either way
  const option = sxtx ? 0xe800 : 0x6800;
  return u32((sizeCode(size) << 30) | 0x38200000 | option | (opc << 22) | (reg(rm) << 16) | (reg(rn) << 5) | reg(rt));
}

/** LDR{B,H,,} Rt, [Rn|SP, Xm]. */
export const ldrReg = (size: AccessSize, rt: number, rn: number, rm: number): number =>
  registerOffset(OPC_LDR, size, rt, rn, rm);
/** STR{B,H,,} Rt, [Rn|SP, Xm]. */
export const strReg = (size: AccessSize, rt: number, rn: number, rm: number): number =>
  registerOffset(OPC_STR, size, rt, rn, rm);
/**
 * LDRS{B,H,W} Xt, [Rn|SP, Xm] (or `[Rn, Xm, sxtx]` with `extend` "sxtx", the form the kernel's
 * BPF JIT emits for sign-extending loads; same address).
 */
export function ldrsReg(
  size: 1 | 2 | 4,
  rt: number,
  rn: number,
  rm: number,
  toW = false,
  extend: IndexExtend = "lsl",
): number {
  if (toW && size === 4) throw new EncodeError("LDRSW has no W destination");
  return registerOffset(toW ? OPC_LDRS_W : OPC_LDRS_X, size, rt, rn, rm, extend === "sxtx");
}

// ---- unscaled signed 9-bit offset -------------------------------------------------------

function unscaled(opc: number, size: AccessSize, rt: number, rn: number, offset: number): number {
  const imm9 = signedField(offset, 9, "unscaled offset");
  return u32((sizeCode(size) << 30) | 0x38000000 | (opc << 22) | (imm9 << 12) | (reg(rn) << 5) | reg(rt));
}

export const ldur = (size: AccessSize, rt: number, rn: number, offset: number): number =>
  unscaled(OPC_LDR, size, rt, rn, offset);
export const stur = (size: AccessSize, rt: number, rn: number, offset: number): number =>
  unscaled(OPC_STR, size, rt, rn, offset);
export const ldursw = (rt: number, rn: number, offset: number): number => unscaled(OPC_LDRS_X, 4, rt, rn, offset);

// ---- PC-relative literal ------------------------------------------------------------------

/** LDR Xt (or Wt), label at pc + byteOffset (multiple of 4, ±1 MiB). */
export function ldrLiteral(is64: boolean, rt: number, byteOffset: number): number {
  if (byteOffset % 4 !== 0) throw new EncodeError(`literal offset ${byteOffset} is not a multiple of 4`);
  const imm19 = signedField(byteOffset / 4, 19, "literal offset");
  return u32((is64 ? 0x58000000 : 0x18000000) | (imm19 << 5) | reg(rt));
}

// ---- pairs --------------------------------------------------------------------------------

export type PairMode = "pre" | "post" | "offset";
const PAIR_MODE: Record<PairMode, number> = { post: 0x00800000, pre: 0x01800000, offset: 0x01000000 };

function pair(load: boolean, is64: boolean, rt: number, rt2: number, rn: number, offset: number, mode: PairMode) {
  const scale = is64 ? 8 : 4;
  if (offset % scale !== 0) throw new EncodeError(`pair offset ${offset} is not a multiple of ${scale}`);
  const imm7 = signedField(offset / scale, 7, "pair offset");
  const base = (is64 ? 0xa8000000 : 0x28000000) | PAIR_MODE[mode] | (load ? 1 << 22 : 0);
  return u32(base | (imm7 << 15) | (reg(rt2) << 10) | (reg(rn) << 5) | reg(rt));
}

/** STP Rt, Rt2, [Rn|SP, #offset]! / [Rn], #offset / [Rn, #offset] (register 31 = zr). */
export const stp = (is64: boolean, rt: number, rt2: number, rn: number, offset: number, mode: PairMode): number =>
  pair(false, is64, rt, rt2, rn, offset, mode);
/** LDP Rt, Rt2, ... (register 31 as a destination = discard into zr). */
export const ldp = (is64: boolean, rt: number, rt2: number, rn: number, offset: number, mode: PairMode): number =>
  pair(true, is64, rt, rt2, rn, offset, mode);

// ---- exclusives and acquire/release --------------------------------------------------------

const exclusiveSize = (is64: boolean): number => (is64 ? 3 : 2) << 30;

/** LDXR Rt, [Rn]. */
export const ldxr = (is64: boolean, rt: number, rn: number): number =>
  u32(exclusiveSize(is64) | 0x085f7c00 | (reg(rn) << 5) | reg(rt));
/** LDAXR Rt, [Rn]. */
export const ldaxr = (is64: boolean, rt: number, rn: number): number =>
  u32(exclusiveSize(is64) | 0x085ffc00 | (reg(rn) << 5) | reg(rt));
/** STXR Ws, Rt, [Rn]: Ws = 0 on success. */
export const stxr = (is64: boolean, ws: number, rt: number, rn: number): number =>
  u32(exclusiveSize(is64) | 0x08007c00 | (reg(ws) << 16) | (reg(rn) << 5) | reg(rt));
/** STLXR Ws, Rt, [Rn] (release). */
export const stlxr = (is64: boolean, ws: number, rt: number, rn: number): number =>
  u32(exclusiveSize(is64) | 0x0800fc00 | (reg(ws) << 16) | (reg(rn) << 5) | reg(rt));
/** LDAR{B,H,,} Rt, [Rn]. */
export const ldar = (size: AccessSize, rt: number, rn: number): number =>
  u32((sizeCode(size) << 30) | 0x08dffc00 | (reg(rn) << 5) | reg(rt));
/** STLR{B,H,,} Rt, [Rn]. */
export const stlr = (size: AccessSize, rt: number, rn: number): number =>
  u32((sizeCode(size) << 30) | 0x089ffc00 | (reg(rn) << 5) | reg(rt));

// ---- LSE atomics ----------------------------------------------------------------------------

export type LseOp = "add" | "clr" | "eor" | "set" | "smax" | "smin" | "umax" | "umin" | "swp";
const LSE_OPC: Record<LseOp, number> = {
  add: 0,
  clr: 1,
  eor: 2,
  set: 3,
  smax: 4,
  smin: 5,
  umax: 6,
  umin: 7,
  swp: 0x8, // o3 = 1, opc = 000
};

/**
 * LD<op>{A}{L} Rs, Rt, [Rn] / SWP{A}{L}: Rt = old value, memory = old <op> Rs.
 * `acquire`/`release` set the A and R bits. ST<op> is the alias with Rt = zr and no acquire.
 */
export function lseAtomic(
  op: LseOp,
  is64: boolean,
  rs: number,
  rt: number,
  rn: number,
  acquire: boolean,
  release: boolean,
): number {
  const opc = LSE_OPC[op];
  if (opc === undefined) throw new EncodeError(`unknown LSE operation ${op}`);
  const o3 = opc & 0x8 ? 1 << 15 : 0;
  return u32(
    exclusiveSize(is64) |
      0x38200000 |
      (acquire ? 1 << 23 : 0) |
      (release ? 1 << 22 : 0) |
      (reg(rs) << 16) |
      o3 |
      ((opc & 7) << 12) |
      (reg(rn) << 5) |
      reg(rt),
  );
}

/** ST<op> Rs, [Rn] (= LD<op> Rs, zr, [Rn], no ordering). */
export const stAtomic = (op: Exclude<LseOp, "swp">, is64: boolean, rs: number, rn: number): number =>
  lseAtomic(op, is64, rs, ZR, rn, false, false);
export const stadd = (is64: boolean, rs: number, rn: number): number => stAtomic("add", is64, rs, rn);
export const stclr = (is64: boolean, rs: number, rn: number): number => stAtomic("clr", is64, rs, rn);
export const stset = (is64: boolean, rs: number, rn: number): number => stAtomic("set", is64, rs, rn);
export const steor = (is64: boolean, rs: number, rn: number): number => stAtomic("eor", is64, rs, rn);
/** LD<op>AL Rs, Rt, [Rn] (acquire + release), the BPF fetch forms. */
export const ldaddal = (is64: boolean, rs: number, rt: number, rn: number): number =>
  lseAtomic("add", is64, rs, rt, rn, true, true);
export const ldclral = (is64: boolean, rs: number, rt: number, rn: number): number =>
  lseAtomic("clr", is64, rs, rt, rn, true, true);
export const ldsetal = (is64: boolean, rs: number, rt: number, rn: number): number =>
  lseAtomic("set", is64, rs, rt, rn, true, true);
export const ldeoral = (is64: boolean, rs: number, rt: number, rn: number): number =>
  lseAtomic("eor", is64, rs, rt, rn, true, true);
export const swpal = (is64: boolean, rs: number, rt: number, rn: number): number =>
  lseAtomic("swp", is64, rs, rt, rn, true, true);

/** CAS{A}{L} Rs, Rt, [Rn]: compare Rs with memory, store Rt if equal, Rs = old value. */
export function cas(is64: boolean, rs: number, rt: number, rn: number, acquire: boolean, release: boolean): number {
  return u32(
    exclusiveSize(is64) |
      0x08a07c00 |
      (acquire ? 1 << 22 : 0) |
      (release ? 1 << 15 : 0) |
      (reg(rs) << 16) |
      (reg(rn) << 5) |
      reg(rt),
  );
}
export const casal = (is64: boolean, rs: number, rt: number, rn: number): number => cas(is64, rs, rt, rn, true, true);

/** Checks an offset is encodable by the unsigned scaled form (the BPF JIT's `is_lsi_offset`). */
export function isScaledOffset(offset: number, size: AccessSize): boolean {
  // size is a power of two: a multiple of it has no bits below it (no division on this path)
  return Number.isInteger(offset) && offset >= 0 && offset <= 0xfff * size && (offset & (size - 1)) === 0;
}

/** Range check helper for callers building addresses from parts. */
export const checkImm12 = (v: number): number => checkRange(v, 0, 0xfff, "imm12");
