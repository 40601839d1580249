/**
 * Data-processing instructions (immediate and register groups) of the AArch64 disassembler, with
 * the alias choices of LLVM's AArch64InstPrinter (`printInst` special cases and the InstAliases
 * with a non-zero emit priority).
 */

import {
  bit,
  bits,
  COND,
  type Decoded,
  decodeBitMask,
  hex,
  isAnyMovwAlias,
  isMovnAlias,
  isMovzAlias,
  mask,
  movImm,
  rsp,
  rz,
  sext,
} from "./disasm-common.ts";

const SHIFT = ["lsl", "lsr", "asr", "ror"];
const EXTEND = ["uxtb", "uxth", "uxtw", "uxtx", "sxtb", "sxth", "sxtw", "sxtx"];

/** Data processing -- immediate (op0 = 100x). */
export function decodeDpImm(w: number, address: bigint): Decoded | null {
  const op = bits(w, 23, 3);
  switch (op) {
    case 0:
    case 1:
      return decodeAdr(w, address);
    case 2:
      return decodeAddSubImm(w);
    case 4:
      return decodeLogicImm(w);
    case 5:
      return decodeMoveWide(w);
    case 6:
      return decodeBitfield(w);
    case 7:
      return decodeExtract(w);
    default:
      return null; // add/sub with tags (MTE), min/max immediate (CSSC): not decoded here
  }
}

function decodeAdr(w: number, address: bigint): Decoded {
  const rd = rz(1, bits(w, 0, 5));
  const imm = BigInt(sext((bits(w, 5, 19) << 2) | bits(w, 29, 2), 21));
  if (bit(w, 31)) {
    // ADRP: the 4 KiB page of the instruction plus imm pages.
    const target = BigInt.asUintN(64, (address & ~0xfffn) + imm * 4096n);
    return { text: `adrp\t${rd}, ${hex(target)}`, target };
  }
  const target = BigInt.asUintN(64, address + imm);
  return { text: `adr\t${rd}, ${hex(target)}`, target };
}

function decodeAddSubImm(w: number): Decoded {
  const sf = bit(w, 31);
  const isSub = bit(w, 30);
  const setFlags = bit(w, 29);
  const sh = bit(w, 22);
  const imm = bits(w, 10, 12);
  const rd = bits(w, 0, 5);
  const rn = bits(w, 5, 5);
  const immText = `#${hex(imm)}${sh ? ", lsl #12" : ""}`;
  // printAddSubImm adds the shifted value as a comment when `lsl #12` is present.
  const comment = sh ? { comment: `=${hex(imm * 4096)}` } : {};
  if (setFlags) {
    // ADDS/SUBS write a zero-register destination; Rd = xzr is the cmn/cmp alias.
    if (rd === 31) return { text: `${isSub ? "cmp" : "cmn"}\t${rsp(sf, rn)}, ${immText}`, ...comment };
    return { text: `${isSub ? "subs" : "adds"}\t${rz(sf, rd)}, ${rsp(sf, rn)}, ${immText}`, ...comment };
  }
  // `mov` to/from sp is ADD #0 with sp on one side; `add x9, x30, #0x0` stays an add.
  if (!isSub && imm === 0 && !sh && (rd === 31 || rn === 31)) return { text: `mov\t${rsp(sf, rd)}, ${rsp(sf, rn)}` };
  return { text: `${isSub ? "sub" : "add"}\t${rsp(sf, rd)}, ${rsp(sf, rn)}, ${immText}`, ...comment };
}

function decodeLogicImm(w: number): Decoded | null {
  const sf = bit(w, 31);
  const opc = bits(w, 29, 2);
  const width = sf ? 64 : 32;
  const value = decodeBitMask(bit(w, 22), bits(w, 16, 6), bits(w, 10, 6), width);
  if (value === null) return null;
  const rd = bits(w, 0, 5);
  const rn = bits(w, 5, 5);
  const imm = `#${hex(value)}`;
  if (opc === 3) {
    if (rd === 31) return { text: `tst\t${rz(sf, rn)}, ${imm}` };
    return { text: `ands\t${rz(sf, rd)}, ${rz(sf, rn)}, ${imm}` };
  }
  // ORR from the zero register prints as `mov` only when no single MOVZ/MOVN makes the value
  // (llvm's isAnyMOVWMovAlias check in printInst): `orr w0, wzr, #0x3fff` stays an orr.
  if (opc === 1 && rn === 31 && !isAnyMovwAlias(value, width)) return movImm(rsp(sf, rd), value, width);
  const mn = ["and", "orr", "eor"][opc];
  return { text: `${mn}\t${rsp(sf, rd)}, ${rz(sf, rn)}, ${imm}` };
}

function decodeMoveWide(w: number): Decoded | null {
  const sf = bit(w, 31);
  const opc = bits(w, 29, 2);
  const hw = bits(w, 21, 2);
  if (opc === 1 || (!sf && hw >= 2)) return null;
  const width = sf ? 64 : 32;
  const shift = hw * 16;
  const imm16 = bits(w, 5, 16);
  const rd = rz(sf, bits(w, 0, 5));
  const shiftText = shift ? `, lsl #${shift}` : "";
  if (opc === 2) {
    const value = BigInt(imm16) << BigInt(shift);
    if (isMovzAlias(value, shift, width)) return movImm(rd, value, width);
    return { text: `movz\t${rd}, #${hex(imm16)}${shiftText}` };
  }
  if (opc === 0) {
    const value = mask(~(BigInt(imm16) << BigInt(shift)), width);
    if (isMovnAlias(value, shift, width)) return movImm(rd, value, width);
    return { text: `movn\t${rd}, #${hex(imm16)}${shiftText}` };
  }
  return { text: `movk\t${rd}, #${hex(imm16)}${shiftText}` };
}

function decodeBitfield(w: number): Decoded | null {
  const sf = bit(w, 31);
  const opc = bits(w, 29, 2);
  const n = bit(w, 22);
  const immr = bits(w, 16, 6);
  const imms = bits(w, 10, 6);
  if (opc === 3 || n !== sf) return null;
  if (!sf && (immr >= 32 || imms >= 32)) return null;
  const size = sf ? 64 : 32;
  const rd = rz(sf, bits(w, 0, 5));
  const rnNum = bits(w, 5, 5);
  const rn = rz(sf, rnNum);
  if (opc === 1) {
    // BFM: bfi when imms < immr, otherwise bfxil. llvm-objdump-19 never prints the bfc alias
    // (Rn = zr stays `bfi xN, xzr, ...`).
    if (imms < immr) return { text: `bfi\t${rd}, ${rn}, #${(size - immr) % size}, #${imms + 1}` };
    return { text: `bfxil\t${rd}, ${rn}, #${immr}, #${imms - immr + 1}` };
  }
  const signed = opc === 0;
  if (immr === 0) {
    // sxtb/sxth/sxtw and the 32-bit uxtb/uxth take precedence (printInst order).
    let mn = "";
    if (imms === 7) mn = signed ? "sxtb" : sf ? "" : "uxtb";
    else if (imms === 15) mn = signed ? "sxth" : sf ? "" : "uxth";
    else if (imms === 31 && sf && signed) mn = "sxtw";
    if (mn) return { text: `${mn}\t${rd}, ${rz(0, rnNum)}` };
  }
  const top = size - 1;
  if (!signed && imms !== top && imms + 1 === immr) return { text: `lsl\t${rd}, ${rn}, #${top - imms}` };
  if (imms === top) return { text: `${signed ? "asr" : "lsr"}\t${rd}, ${rn}, #${immr}` };
  if (immr > imms) return { text: `${signed ? "sbfiz" : "ubfiz"}\t${rd}, ${rn}, #${size - immr}, #${imms + 1}` };
  return { text: `${signed ? "sbfx" : "ubfx"}\t${rd}, ${rn}, #${immr}, #${imms - immr + 1}` };
}

function decodeExtract(w: number): Decoded | null {
  const sf = bit(w, 31);
  if (bits(w, 29, 2) !== 0 || bit(w, 21) !== 0 || bit(w, 22) !== sf) return null;
  const imms = bits(w, 10, 6);
  if (!sf && imms >= 32) return null;
  const rd = rz(sf, bits(w, 0, 5));
  const rnNum = bits(w, 5, 5);
  const rmNum = bits(w, 16, 5);
  // ror (immediate) is EXTR with both sources the same register.
  if (rnNum === rmNum) return { text: `ror\t${rd}, ${rz(sf, rnNum)}, #${hex(imms)}` };
  return { text: `extr\t${rd}, ${rz(sf, rnNum)}, ${rz(sf, rmNum)}, #${hex(imms)}` };
}

/** Data processing -- register (op0 = x101). */
export function decodeDpReg(w: number): Decoded | null {
  const op1 = bit(w, 28);
  const op2 = bits(w, 21, 4);
  if (!op1) {
    if (op2 < 8) return decodeLogicReg(w);
    return bit(w, 21) ? decodeAddSubExt(w) : decodeAddSubShifted(w);
  }
  if (op2 === 6) return bit(w, 30) ? decode1Src(w) : decode2Src(w);
  if (op2 >= 8) return decode3Src(w);
  switch (op2) {
    case 0:
      return bits(w, 10, 6) === 0 ? decodeAdcSbc(w) : null;
    case 2:
      return decodeCondCompare(w);
    case 4:
      return decodeCondSelect(w);
    default:
      return null;
  }
}

function shiftSuffix(type: number, amount: number): string {
  // printShifter omits only `lsl #0`.
  if (type === 0 && amount === 0) return "";
  return `, ${SHIFT[type]} #${amount}`;
}

function decodeLogicReg(w: number): Decoded | null {
  const sf = bit(w, 31);
  const opc = bits(w, 29, 2);
  const negate = bit(w, 21);
  const type = bits(w, 22, 2);
  const amount = bits(w, 10, 6);
  if (!sf && amount >= 32) return null;
  const rd = bits(w, 0, 5);
  const rn = bits(w, 5, 5);
  const rm = rz(sf, bits(w, 16, 5));
  const sh = shiftSuffix(type, amount);
  const mn = (negate ? ["bic", "orn", "eon", "bics"] : ["and", "orr", "eor", "ands"])[opc];
  if (opc === 1 && rn === 31) {
    if (!negate && type === 0 && amount === 0) return { text: `mov\t${rz(sf, rd)}, ${rm}` };
    if (negate) return { text: `mvn\t${rz(sf, rd)}, ${rm}${sh}` };
  }
  if (opc === 3 && !negate && rd === 31) return { text: `tst\t${rz(sf, rn)}, ${rm}${sh}` };
  return { text: `${mn}\t${rz(sf, rd)}, ${rz(sf, rn)}, ${rm}${sh}` };
}

function decodeAddSubShifted(w: number): Decoded | null {
  const sf = bit(w, 31);
  const isSub = bit(w, 30);
  const setFlags = bit(w, 29);
  const type = bits(w, 22, 2);
  const amount = bits(w, 10, 6);
  if (type === 3 || (!sf && amount >= 32)) return null;
  const rd = bits(w, 0, 5);
  const rn = bits(w, 5, 5);
  const rm = rz(sf, bits(w, 16, 5));
  const sh = shiftSuffix(type, amount);
  if (setFlags && rd === 31) return { text: `${isSub ? "cmp" : "cmn"}\t${rz(sf, rn)}, ${rm}${sh}` };
  if (isSub && rn === 31) return { text: `${setFlags ? "negs" : "neg"}\t${rz(sf, rd)}, ${rm}${sh}` };
  const mn = (isSub ? "sub" : "add") + (setFlags ? "s" : "");
  return { text: `${mn}\t${rz(sf, rd)}, ${rz(sf, rn)}, ${rm}${sh}` };
}

function decodeAddSubExt(w: number): Decoded | null {
  const sf = bit(w, 31);
  const isSub = bit(w, 30);
  const setFlags = bit(w, 29);
  const option = bits(w, 13, 3);
  const amount = bits(w, 10, 3);
  if (bits(w, 22, 2) !== 0 || amount > 4) return null;
  const rd = bits(w, 0, 5);
  const rn = bits(w, 5, 5);
  const rm = rz(sf && (option & 3) === 3 ? 1 : 0, bits(w, 16, 5));
  // printExtend: uxtx (64-bit) / uxtw (32-bit) next to sp is spelled `lsl`, and omitted at #0.
  // The flag-setting forms have a zero-register Rd, so only Rn = sp counts there.
  let ext: string;
  const spInvolved = rn === 31 || (!setFlags && rd === 31);
  if (spInvolved && option === (sf ? 3 : 2)) ext = amount ? `, lsl #${amount}` : "";
  else ext = `, ${EXTEND[option]}${amount ? ` #${amount}` : ""}`;
  if (setFlags && rd === 31) return { text: `${isSub ? "cmp" : "cmn"}\t${rsp(sf, rn)}, ${rm}${ext}` };
  const mn = (isSub ? "sub" : "add") + (setFlags ? "s" : "");
  const dst = setFlags ? rz(sf, rd) : rsp(sf, rd);
  return { text: `${mn}\t${dst}, ${rsp(sf, rn)}, ${rm}${ext}` };
}

function decodeAdcSbc(w: number): Decoded {
  const sf = bit(w, 31);
  const isSub = bit(w, 30);
  const setFlags = bit(w, 29);
  const rd = rz(sf, bits(w, 0, 5));
  const rn = bits(w, 5, 5);
  const rm = rz(sf, bits(w, 16, 5));
  if (isSub && rn === 31) return { text: `${setFlags ? "ngcs" : "ngc"}\t${rd}, ${rm}` };
  const mn = (isSub ? "sbc" : "adc") + (setFlags ? "s" : "");
  return { text: `${mn}\t${rd}, ${rz(sf, rn)}, ${rm}` };
}

function decodeCondCompare(w: number): Decoded | null {
  const sf = bit(w, 31);
  if (!bit(w, 29) || bit(w, 10) || bit(w, 4)) return null;
  const mn = bit(w, 30) ? "ccmp" : "ccmn";
  const rn = rz(sf, bits(w, 5, 5));
  const f = bits(w, 16, 5);
  const second = bit(w, 11) ? `#${hex(f)}` : rz(sf, f);
  return { text: `${mn}\t${rn}, ${second}, #${hex(bits(w, 0, 4))}, ${COND[bits(w, 12, 4)]}` };
}

function decodeCondSelect(w: number): Decoded | null {
  const sf = bit(w, 31);
  if (bit(w, 29) || bit(w, 11)) return null;
  const op = (bit(w, 30) << 1) | bit(w, 10);
  const rdT = rz(sf, bits(w, 0, 5));
  const rnNum = bits(w, 5, 5);
  const rmNum = bits(w, 16, 5);
  const cond = bits(w, 12, 4);
  const rn = rz(sf, rnNum);
  const rm = rz(sf, rmNum);
  // cset/csetm/cinc/cinv/cneg need Rn = Rm and a condition that can be inverted (not al/nv).
  if (op !== 0 && rnNum === rmNum && cond < 14) {
    const inv = COND[cond ^ 1];
    if (op === 1) return { text: rnNum === 31 ? `cset\t${rdT}, ${inv}` : `cinc\t${rdT}, ${rn}, ${inv}` };
    if (op === 2) return { text: rnNum === 31 ? `csetm\t${rdT}, ${inv}` : `cinv\t${rdT}, ${rn}, ${inv}` };
    return { text: `cneg\t${rdT}, ${rn}, ${inv}` };
  }
  const mn = ["csel", "csinc", "csinv", "csneg"][op];
  return { text: `${mn}\t${rdT}, ${rn}, ${rm}, ${COND[cond]}` };
}

function decode1Src(w: number): Decoded | null {
  const sf = bit(w, 31);
  if (bit(w, 29) || bits(w, 16, 5) !== 0) return null;
  const opc = bits(w, 10, 6);
  let mn: string | undefined;
  // ctz/cnt/abs are FEAT_CSSC, which llvm-objdump enables by default.
  if (sf) mn = ["rbit", "rev16", "rev32", "rev", "clz", "cls", "ctz", "cnt", "abs"][opc];
  else mn = ["rbit", "rev16", "rev", undefined, "clz", "cls", "ctz", "cnt", "abs"][opc];
  if (!mn) return null;
  return { text: `${mn}\t${rz(sf, bits(w, 0, 5))}, ${rz(sf, bits(w, 5, 5))}` };
}

function decode2Src(w: number): Decoded | null {
  const sf = bit(w, 31);
  if (bit(w, 29)) return null;
  const opc = bits(w, 10, 6);
  // udiv/sdiv and the shift-by-register forms (LSLV etc. print as lsl/lsr/asr/ror).
  const mn = { 2: "udiv", 3: "sdiv", 8: "lsl", 9: "lsr", 10: "asr", 11: "ror" }[opc];
  if (!mn) return null;
  return { text: `${mn}\t${rz(sf, bits(w, 0, 5))}, ${rz(sf, bits(w, 5, 5))}, ${rz(sf, bits(w, 16, 5))}` };
}

function decode3Src(w: number): Decoded | null {
  const sf = bit(w, 31);
  if (bits(w, 29, 2) !== 0) return null;
  const op31 = bits(w, 21, 3);
  const o0 = bit(w, 15);
  const rd = bits(w, 0, 5);
  const rn = bits(w, 5, 5);
  const rm = bits(w, 16, 5);
  const ra = bits(w, 10, 5);
  if (op31 === 0) {
    const mn = o0 ? "msub" : "madd";
    if (ra === 31) return { text: `${o0 ? "mneg" : "mul"}\t${rz(sf, rd)}, ${rz(sf, rn)}, ${rz(sf, rm)}` };
    return { text: `${mn}\t${rz(sf, rd)}, ${rz(sf, rn)}, ${rz(sf, rm)}, ${rz(sf, ra)}` };
  }
  if (!sf) return null;
  if (op31 === 3) {
    // FEAT_CPA checked multiply-add of pointers.
    return { text: `${o0 ? "msubpt" : "maddpt"}\t${rz(1, rd)}, ${rz(1, rn)}, ${rz(1, rm)}, ${rz(1, ra)}` };
  }
  const u = op31 >= 4 ? "u" : "s";
  const low = op31 & 3;
  if (low === 1) {
    const mn = `${u}m${o0 ? "sub" : "add"}l`;
    if (ra === 31) return { text: `${u}m${o0 ? "negl" : "ull"}\t${rz(1, rd)}, ${rz(0, rn)}, ${rz(0, rm)}` };
    return { text: `${mn}\t${rz(1, rd)}, ${rz(0, rn)}, ${rz(0, rm)}, ${rz(1, ra)}` };
  }
  if (low === 2 && !o0) return { text: `${u}mulh\t${rz(1, rd)}, ${rz(1, rn)}, ${rz(1, rm)}` };
  return null;
}
