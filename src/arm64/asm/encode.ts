/**
 * AArch64 data-processing encoders: add/sub (immediate and shifted register), logic
 * (immediate and shifted register), wide moves, bitfield moves and their aliases, byte
 * reversal, 2- and 3-source arithmetic. Loads/stores are in encode-mem.ts, branches and
 * system instructions in encode-branch.ts.
 *
 * Conventions: `is64` selects X (true) or W registers; register 31 is sp for the immediate
 * add/sub forms' Rd/Rn and zr everywhere else, as in the architecture.
 */
import { EncodeError } from "../../errors.ts";
import { encodeBitmaskImm } from "./encode-bitmask.ts";
import { checkRange, reg, SP, sfBit, u32, ZR } from "./encode-common.ts";

export * from "./encode-bitmask.ts";
export * from "./encode-branch.ts";
export * from "./encode-common.ts";
export * from "./encode-mem.ts";

// ---- add/sub (immediate): imm12, optionally shifted left by 12 --------------------------

function addSubImm(op: number, is64: boolean, rd: number, rn: number, imm: number, shift12: boolean): number {
  checkRange(imm, 0, 0xfff, "add/sub immediate");
  return u32(sfBit(is64) | op | (shift12 ? 1 << 22 : 0) | (imm << 10) | (reg(rn) << 5) | reg(rd));
}

/**
 * Splits an unsigned 24-bit value into imm12 + shift the way the assembler does: values with
 * bits only in 0..11 are unshifted, values with bits only in 12..23 use `lsl #12`.
 */
export function splitAddSubImm(value: number): { imm: number; shift12: boolean } | null {
  if (!Number.isInteger(value) || value < 0) return null;
  if (value <= 0xfff) return { imm: value, shift12: false };
  if (value <= 0xfff000 && (value & 0xfff) === 0) return { imm: value >>> 12, shift12: true };
  return null;
}

/** {@link splitAddSubImm} and encode, without building the split (the JIT's hot path). */
function addSubValue(op: number, is64: boolean, rd: number, rn: number, value: number): number {
  if (Number.isInteger(value) && value >= 0) {
    if (value <= 0xfff) return addSubImm(op, is64, rd, rn, value, false);
    if (value <= 0xfff000 && (value & 0xfff) === 0) return addSubImm(op, is64, rd, rn, value >>> 12, true);
  }
  throw new EncodeError(`add/sub immediate ${value} is not imm12 or imm12 << 12`);
}

/** ADD Rd|SP, Rn|SP, #value (value = imm12 or imm12 << 12). */
export const addImm = (is64: boolean, rd: number, rn: number, value: number): number =>
  addSubValue(0x11000000, is64, rd, rn, value);
/** ADDS Rd, Rn|SP, #value. */
export const addsImm = (is64: boolean, rd: number, rn: number, value: number): number =>
  addSubValue(0x31000000, is64, rd, rn, value);
/** SUB Rd|SP, Rn|SP, #value. */
export const subImm = (is64: boolean, rd: number, rn: number, value: number): number =>
  addSubValue(0x51000000, is64, rd, rn, value);
/** SUBS Rd, Rn|SP, #value. */
export const subsImm = (is64: boolean, rd: number, rn: number, value: number): number =>
  addSubValue(0x71000000, is64, rd, rn, value);
/** CMP Rn, #value (SUBS to zr). */
export const cmpImm = (is64: boolean, rn: number, value: number): number => subsImm(is64, ZR, rn, value);
/** CMN Rn, #value (ADDS to zr). */
export const cmnImm = (is64: boolean, rn: number, value: number): number => addsImm(is64, ZR, rn, value);
/** MOV between a register and sp, or the BPF JIT's register move: ADD Rd, Rn, #0. */
export const movAddImm = (is64: boolean, rd: number, rn: number): number => addImm(is64, rd, rn, 0);

// ---- add/sub (shifted register) ---------------------------------------------------------

export type Shift = "lsl" | "lsr" | "asr" | "ror";
const SHIFT_CODE: Record<Shift, number> = { lsl: 0, lsr: 1, asr: 2, ror: 3 };

function shiftedReg(op: number, is64: boolean, rd: number, rn: number, rm: number, shift: Shift, amount: number) {
  checkRange(amount, 0, is64 ? 63 : 31, "shift amount");
  return u32(
    sfBit(is64) | op | (SHIFT_CODE[shift] << 22) | (reg(rm) << 16) | (amount << 10) | (reg(rn) << 5) | reg(rd),
  );
}

// (The encoders below are one function each over a shared worker, not closures made by a
// factory: V8 does not inline closures that share their code, and the JIT calls these for
// nearly every word it emits.)

function addSubReg(op: number, is64: boolean, rd: number, rn: number, rm: number, shift: Shift, amount: number) {
  if (shift === "ror") throw new EncodeError("add/sub (shifted register) has no ROR");
  return shiftedReg(op, is64, rd, rn, rm, shift, amount);
}

export const addReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  addSubReg(0x0b000000, is64, rd, rn, rm, shift, amount);
export const addsReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  addSubReg(0x2b000000, is64, rd, rn, rm, shift, amount);
export const subReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  addSubReg(0x4b000000, is64, rd, rn, rm, shift, amount);
export const subsReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  addSubReg(0x6b000000, is64, rd, rn, rm, shift, amount);
/** CMP Rn, Rm. */
export const cmpReg = (is64: boolean, rn: number, rm: number): number => subsReg(is64, ZR, rn, rm);
/** CMN Rn, Rm. */
export const cmnReg = (is64: boolean, rn: number, rm: number): number => addsReg(is64, ZR, rn, rm);
/** NEG Rd, Rm (SUB from zr). */
export const negReg = (is64: boolean, rd: number, rm: number): number => subReg(is64, rd, ZR, rm);

// ---- logic (shifted register) -----------------------------------------------------------

export const andReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  shiftedReg(0x0a000000, is64, rd, rn, rm, shift, amount);
export const bicReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  shiftedReg(0x0a200000, is64, rd, rn, rm, shift, amount);
export const orrReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  shiftedReg(0x2a000000, is64, rd, rn, rm, shift, amount);
export const ornReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  shiftedReg(0x2a200000, is64, rd, rn, rm, shift, amount);
export const eorReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  shiftedReg(0x4a000000, is64, rd, rn, rm, shift, amount);
export const eonReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  shiftedReg(0x4a200000, is64, rd, rn, rm, shift, amount);
export const andsReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  shiftedReg(0x6a000000, is64, rd, rn, rm, shift, amount);
export const bicsReg = (is64: boolean, rd: number, rn: number, rm: number, shift: Shift = "lsl", amount = 0): number =>
  shiftedReg(0x6a200000, is64, rd, rn, rm, shift, amount);
/** TST Rn, Rm (ANDS to zr). */
export const tstReg = (is64: boolean, rn: number, rm: number): number => andsReg(is64, ZR, rn, rm);
/** MVN Rd, Rm (ORN from zr). */
export const mvnReg = (is64: boolean, rd: number, rm: number): number => ornReg(is64, rd, ZR, rm);
/** MOV Rd, Rm as ORR from zr (the assembler's register move; the BPF JIT uses ADD #0 instead). */
export const movOrr = (is64: boolean, rd: number, rm: number): number => orrReg(is64, rd, ZR, rm);

// ---- logic (immediate) ------------------------------------------------------------------

function logicImm(op: number, is64: boolean, rd: number, rn: number, value: bigint | number): number {
  const enc = encodeBitmaskImm(value, is64);
  if (enc === null) throw new EncodeError(`${value} is not a ${is64 ? 64 : 32}-bit bitmask immediate`);
  return u32(sfBit(is64) | op | (enc.n << 22) | (enc.immr << 16) | (enc.imms << 10) | (reg(rn) << 5) | reg(rd));
}

/** AND Rd|SP, Rn, #bitmask. */
export const andImm = (is64: boolean, rd: number, rn: number, value: bigint | number): number =>
  logicImm(0x12000000, is64, rd, rn, value);
/** ORR Rd|SP, Rn, #bitmask. */
export const orrImm = (is64: boolean, rd: number, rn: number, value: bigint | number): number =>
  logicImm(0x32000000, is64, rd, rn, value);
/** EOR Rd|SP, Rn, #bitmask. */
export const eorImm = (is64: boolean, rd: number, rn: number, value: bigint | number): number =>
  logicImm(0x52000000, is64, rd, rn, value);
/** ANDS Rd, Rn, #bitmask. */
export const andsImm = (is64: boolean, rd: number, rn: number, value: bigint | number): number =>
  logicImm(0x72000000, is64, rd, rn, value);
/** TST Rn, #bitmask. */
export const tstImm = (is64: boolean, rn: number, value: bigint | number): number => andsImm(is64, ZR, rn, value);

// ---- move wide --------------------------------------------------------------------------

function moveWide(op: number, is64: boolean, rd: number, imm16: number, shift: number): number {
  checkRange(imm16, 0, 0xffff, "move-wide immediate");
  if (shift % 16 !== 0 || shift < 0 || shift > (is64 ? 48 : 16))
    throw new EncodeError(`move-wide shift ${shift} is not 0/16${is64 ? "/32/48" : ""}`);
  return u32(sfBit(is64) | op | ((shift / 16) << 21) | (imm16 << 5) | reg(rd));
}

/** MOVN Rd, #imm16, LSL #shift: Rd = ~(imm16 << shift). */
export const movn = (is64: boolean, rd: number, imm16: number, shift = 0): number =>
  moveWide(0x12800000, is64, rd, imm16, shift);
/** MOVZ Rd, #imm16, LSL #shift. */
export const movz = (is64: boolean, rd: number, imm16: number, shift = 0): number =>
  moveWide(0x52800000, is64, rd, imm16, shift);
/** MOVK Rd, #imm16, LSL #shift: replaces one 16-bit chunk. */
export const movk = (is64: boolean, rd: number, imm16: number, shift = 0): number =>
  moveWide(0x72800000, is64, rd, imm16, shift);

// ---- bitfield moves and aliases -----------------------------------------------------------

function bitfield(op: number, is64: boolean, rd: number, rn: number, immr: number, imms: number): number {
  const max = is64 ? 63 : 31;
  checkRange(immr, 0, max, "immr");
  checkRange(imms, 0, max, "imms");
  const n = is64 ? 1 << 22 : 0;
  return u32(sfBit(is64) | op | n | (immr << 16) | (imms << 10) | (reg(rn) << 5) | reg(rd));
}

export const sbfm = (is64: boolean, rd: number, rn: number, immr: number, imms: number): number =>
  bitfield(0x13000000, is64, rd, rn, immr, imms);
export const bfm = (is64: boolean, rd: number, rn: number, immr: number, imms: number): number =>
  bitfield(0x33000000, is64, rd, rn, immr, imms);
export const ubfm = (is64: boolean, rd: number, rn: number, immr: number, imms: number): number =>
  bitfield(0x53000000, is64, rd, rn, immr, imms);

const width = (is64: boolean): number => (is64 ? 64 : 32);

/** LSL Rd, Rn, #s = UBFM Rd, Rn, #(-s mod size), #(size - 1 - s). */
export function lslImm(is64: boolean, rd: number, rn: number, s: number): number {
  const n = width(is64);
  checkRange(s, 0, n - 1, "shift amount");
  return ubfm(is64, rd, rn, (n - s) % n, n - 1 - s);
}
/** LSR Rd, Rn, #s = UBFM Rd, Rn, #s, #(size - 1). */
export function lsrImm(is64: boolean, rd: number, rn: number, s: number): number {
  checkRange(s, 0, width(is64) - 1, "shift amount");
  return ubfm(is64, rd, rn, s, width(is64) - 1);
}
/** ASR Rd, Rn, #s = SBFM Rd, Rn, #s, #(size - 1). */
export function asrImm(is64: boolean, rd: number, rn: number, s: number): number {
  checkRange(s, 0, width(is64) - 1, "shift amount");
  return sbfm(is64, rd, rn, s, width(is64) - 1);
}
/** UXTB/UXTH/UXTW as UBFM #0, #(bits-1); the 64-bit forms are what disassemblers call UBFX. */
export const uxtb = (is64: boolean, rd: number, rn: number): number => ubfm(is64, rd, rn, 0, 7);
export const uxth = (is64: boolean, rd: number, rn: number): number => ubfm(is64, rd, rn, 0, 15);
export const uxtw = (is64: boolean, rd: number, rn: number): number => ubfm(is64, rd, rn, 0, 31);
/** SXTB/SXTH/SXTW as SBFM #0, #(bits-1). */
export const sxtb = (is64: boolean, rd: number, rn: number): number => sbfm(is64, rd, rn, 0, 7);
export const sxth = (is64: boolean, rd: number, rn: number): number => sbfm(is64, rd, rn, 0, 15);
export const sxtw = (is64: boolean, rd: number, rn: number): number => sbfm(is64, rd, rn, 0, 31);

// ---- 1-source: byte reversal ------------------------------------------------------------

const oneSource = (op: number, is64: boolean, rd: number, rn: number): number =>
  u32(sfBit(is64) | 0x5ac00000 | op | (reg(rn) << 5) | reg(rd));

/** REV16: swap the bytes of every halfword. */
export const rev16 = (is64: boolean, rd: number, rn: number): number => oneSource(0x400, is64, rd, rn);
/** REV32 Xd (64-bit: swap bytes of each word) or REV Wd (32-bit): the BPF JIT's 32-bit swap. */
export const rev32 = (is64: boolean, rd: number, rn: number): number => oneSource(0x800, is64, rd, rn);
/** REV Xd, Xn: full 64-bit byte reversal. */
export const rev64 = (rd: number, rn: number): number => oneSource(0xc00, true, rd, rn);

// ---- 2- and 3-source --------------------------------------------------------------------

const twoSource = (op: number, is64: boolean, rd: number, rn: number, rm: number): number =>
  u32(sfBit(is64) | 0x1ac00000 | (reg(rm) << 16) | op | (reg(rn) << 5) | reg(rd));

export const udiv = (is64: boolean, rd: number, rn: number, rm: number): number => twoSource(0x800, is64, rd, rn, rm);
export const sdiv = (is64: boolean, rd: number, rn: number, rm: number): number => twoSource(0xc00, is64, rd, rn, rm);
export const lslv = (is64: boolean, rd: number, rn: number, rm: number): number => twoSource(0x2000, is64, rd, rn, rm);
export const lsrv = (is64: boolean, rd: number, rn: number, rm: number): number => twoSource(0x2400, is64, rd, rn, rm);
export const asrv = (is64: boolean, rd: number, rn: number, rm: number): number => twoSource(0x2800, is64, rd, rn, rm);
export const rorv = (is64: boolean, rd: number, rn: number, rm: number): number => twoSource(0x2c00, is64, rd, rn, rm);

/** MADD Rd, Rn, Rm, Ra: Rd = Ra + Rn * Rm. */
export const madd = (is64: boolean, rd: number, rn: number, rm: number, ra: number): number =>
  u32(sfBit(is64) | 0x1b000000 | (reg(rm) << 16) | (reg(ra) << 10) | (reg(rn) << 5) | reg(rd));
/** MSUB Rd, Rn, Rm, Ra: Rd = Ra - Rn * Rm. */
export const msub = (is64: boolean, rd: number, rn: number, rm: number, ra: number): number =>
  u32(sfBit(is64) | 0x1b008000 | (reg(rm) << 16) | (reg(ra) << 10) | (reg(rn) << 5) | reg(rd));
/** MUL Rd, Rn, Rm = MADD with Ra = zr. */
export const mul = (is64: boolean, rd: number, rn: number, rm: number): number => madd(is64, rd, rn, rm, ZR);

/** Re-exported so callers can name sp explicitly next to these encoders. */
export { SP };
