/**
 * Loads and stores (op0 = x1x0) of the AArch64 disassembler: single registers in every
 * addressing mode (GPR and FP/SIMD), pairs, literals, exclusives / acquire-release, compare and
 * swap and the LSE atomic memory operations, spelled as LLVM's AArch64InstPrinter prints them.
 */

import { bit, bits, type Decoded, hex, rz, sext, shex, xsp, xz } from "./disasm-common.ts";

/** Loads and stores. */
export function decodeLdSt(w: number, address: bigint): Decoded | null {
  const v = bit(w, 26);
  if (bits(w, 27, 3) === 1 && bits(w, 24, 2) === 0 && !v) return decodeExclusive(w);
  if (bits(w, 27, 3) === 3 && !bit(w, 24)) return decodeLiteral(w, address);
  if (bits(w, 27, 3) === 5) return decodePair(w);
  if (bits(w, 27, 3) === 7) {
    if (bit(w, 24)) return decodeSingle(w, "uimm");
    if (!bit(w, 21)) return decodeSingle(w, ["unscaled", "post", "unpriv", "pre"][bits(w, 10, 2)] as Mode);
    const op4 = bits(w, 10, 2);
    if (op4 === 2) return decodeSingle(w, "reg");
    if (op4 === 0 && !v) return decodeAtomic(w);
    return null;
  }
  return null;
}

type Mode = "uimm" | "unscaled" | "post" | "unpriv" | "pre" | "reg";

/** FP/SIMD register of 8 << scale bits. */
function vreg(scale: number, n: number): string {
  return "bhsdq"[scale] + n;
}

interface SingleForm {
  mn: string;
  /** Register text of Rt. */
  rt: string;
  scale: number;
  prefetch: boolean;
}

/** Mnemonic stem, transfer register and access scale of a single-register load/store. */
function singleForm(size: number, v: number, opc: number, rtNum: number): SingleForm | null {
  if (v) {
    if (opc >= 2 && size !== 0) return null;
    const scale = opc >= 2 ? 4 : size;
    return { mn: opc & 1 ? "ldr" : "str", rt: vreg(scale, rtNum), scale, prefetch: false };
  }
  switch ((size << 2) | opc) {
    case 0b0000:
      return { mn: "strb", rt: rz(0, rtNum), scale: 0, prefetch: false };
    case 0b0001:
      return { mn: "ldrb", rt: rz(0, rtNum), scale: 0, prefetch: false };
    case 0b0010:
      return { mn: "ldrsb", rt: rz(1, rtNum), scale: 0, prefetch: false };
    case 0b0011:
      return { mn: "ldrsb", rt: rz(0, rtNum), scale: 0, prefetch: false };
    case 0b0100:
      return { mn: "strh", rt: rz(0, rtNum), scale: 1, prefetch: false };
    case 0b0101:
      return { mn: "ldrh", rt: rz(0, rtNum), scale: 1, prefetch: false };
    case 0b0110:
      return { mn: "ldrsh", rt: rz(1, rtNum), scale: 1, prefetch: false };
    case 0b0111:
      return { mn: "ldrsh", rt: rz(0, rtNum), scale: 1, prefetch: false };
    case 0b1000:
      return { mn: "str", rt: rz(0, rtNum), scale: 2, prefetch: false };
    case 0b1001:
      return { mn: "ldr", rt: rz(0, rtNum), scale: 2, prefetch: false };
    case 0b1010:
      return { mn: "ldrsw", rt: rz(1, rtNum), scale: 2, prefetch: false };
    case 0b1100:
      return { mn: "str", rt: rz(1, rtNum), scale: 3, prefetch: false };
    case 0b1101:
      return { mn: "ldr", rt: rz(1, rtNum), scale: 3, prefetch: false };
    case 0b1110:
      return { mn: "prfm", rt: prfop(rtNum), scale: 3, prefetch: true };
    default:
      return null;
  }
}

/** Prefetch operation names (type pld/pli/pst, target l1/l2/l3/slc, policy keep/strm). */
function prfop(rt: number): string {
  const type = rt >> 3;
  if (type === 3) return `#${hex(rt)}`;
  return `${["pld", "pli", "pst"][type]}${["l1", "l2", "l3", "slc"][(rt >> 1) & 3]}${rt & 1 ? "strm" : "keep"}`;
}

/** Unscaled and unprivileged mnemonics derive from the scaled ones: ldrsb -> ldursb / ldtrsb. */
function renameStem(mn: string, infix: "u" | "t"): string {
  if (mn === "prfm") return "prfum";
  return `${mn.slice(0, 2)}${infix}${mn.slice(2)}`;
}

function decodeSingle(w: number, mode: Mode): Decoded | null {
  const size = bits(w, 30, 2);
  const v = bit(w, 26);
  const opc = bits(w, 22, 2);
  const rtNum = bits(w, 0, 5);
  const form = singleForm(size, v, opc, rtNum);
  if (!form) return null;
  const rn = xsp(bits(w, 5, 5));
  if (mode === "uimm") {
    const off = bits(w, 10, 12) << form.scale;
    return { text: `${form.mn}\t${form.rt}, [${rn}${off ? `, #${hex(off)}` : ""}]` };
  }
  if (mode === "reg") {
    const option = bits(w, 13, 3);
    if (!(option & 2)) return null;
    const s = bit(w, 12);
    if (form.prefetch && rtNum >> 3 === 3) {
      // RPRFM (range prefetch): operation = option<2>:option<0>:S:Rt<2:0>, Rm always an X register.
      const rop = ((option >> 2) << 5) | ((option & 1) << 4) | (s << 3) | (rtNum & 7);
      const name = { 0: "pldkeep", 1: "pstkeep", 4: "pldstrm", 5: "pststrm" }[rop] ?? `#${hex(rop)}`;
      return { text: `rprfm\t${name}, ${xz(bits(w, 16, 5))}, [${rn}]` };
    }
    const rm = rz(option & 1, bits(w, 16, 5));
    // printMemExtend: option 011 is `lsl`, printed (with the access scale) only when S = 1.
    let ext: string;
    if (option === 3) ext = s ? `, lsl #${form.scale}` : "";
    else ext = `, ${["", "", "uxtw", "", "", "", "sxtw", "sxtx"][option]}${s ? ` #${form.scale}` : ""}`;
    return { text: `${form.mn}\t${form.rt}, [${rn}, ${rm}${ext}]` };
  }
  const imm = sext(bits(w, 12, 9), 9);
  if (mode === "unscaled" || mode === "unpriv") {
    if (mode === "unpriv" && (v || form.prefetch)) return null;
    const mn = renameStem(form.mn, mode === "unscaled" ? "u" : "t");
    return { text: `${mn}\t${form.rt}, [${rn}${imm ? `, #${shex(imm)}` : ""}]` };
  }
  if (form.prefetch) return null;
  if (mode === "pre") return { text: `${form.mn}\t${form.rt}, [${rn}, #${shex(imm)}]!` };
  return { text: `${form.mn}\t${form.rt}, [${rn}], #${shex(imm)}` };
}

function decodeLiteral(w: number, address: bigint): Decoded | null {
  const opc = bits(w, 30, 2);
  const v = bit(w, 26);
  const rt = bits(w, 0, 5);
  const target = BigInt.asUintN(64, address + BigInt(sext(bits(w, 5, 19), 19)) * 4n);
  let mn = "ldr";
  let reg: string;
  if (v) {
    if (opc === 3) return null;
    reg = vreg(opc + 2, rt);
  } else if (opc === 3) {
    mn = "prfm";
    reg = prfop(rt);
  } else if (opc === 2) {
    mn = "ldrsw";
    reg = xz(rt);
  } else {
    reg = rz(opc, rt);
  }
  return { text: `${mn}\t${reg}, ${hex(target)}`, target };
}

function decodePair(w: number): Decoded | null {
  const opc = bits(w, 30, 2);
  const v = bit(w, 26);
  const l = bit(w, 22);
  const kind = bits(w, 23, 2); // 0 no-allocate, 1 post, 2 offset, 3 pre
  let scale: number;
  let reg: (n: number) => string;
  let mn = l ? "ldp" : "stp";
  if (v) {
    if (opc === 3) return null;
    scale = opc + 2;
    reg = (n) => vreg(opc + 2, n);
  } else if (opc === 0) {
    scale = 2;
    reg = (n) => rz(0, n);
  } else if (opc === 2) {
    scale = 3;
    reg = (n) => rz(1, n);
  } else if (opc === 1) {
    if (kind === 0) return null;
    // ldpsw (L = 1) and the MTE stgp (L = 0, 16-byte granules).
    scale = l ? 2 : 4;
    mn = l ? "ldpsw" : "stgp";
    reg = (n) => rz(1, n);
  } else {
    return null;
  }
  if (kind === 0) mn = l ? "ldnp" : "stnp";
  const off = sext(bits(w, 15, 7), 7) * 2 ** scale;
  const regs = `${reg(bits(w, 0, 5))}, ${reg(bits(w, 10, 5))}`;
  const rn = xsp(bits(w, 5, 5));
  if (kind === 1) return { text: `${mn}\t${regs}, [${rn}], #${shex(off)}` };
  if (kind === 3) return { text: `${mn}\t${regs}, [${rn}, #${shex(off)}]!` };
  return { text: `${mn}\t${regs}, [${rn}${off ? `, #${shex(off)}` : ""}]` };
}

const SIZE_SUFFIX = ["b", "h", "", ""];

function decodeExclusive(w: number): Decoded | null {
  const size = bits(w, 30, 2);
  const o2 = bit(w, 23);
  const l = bit(w, 22);
  const o1 = bit(w, 21);
  const o0 = bit(w, 15);
  const rs = bits(w, 16, 5);
  const rt2 = bits(w, 10, 5);
  const rt = bits(w, 0, 5);
  const rn = xsp(bits(w, 5, 5));
  const sf = size === 3 ? 1 : 0;
  const sfx = SIZE_SUFFIX[size];
  if (!o2 && !o1) {
    // LDXR/LDAXR/STXR/STLXR: the status register Rs is always a W register.
    const mn = `${l ? "ld" : "st"}${o0 ? (l ? "a" : "l") : ""}xr${sfx}`;
    if (l) return { text: `${mn}\t${rz(sf, rt)}, [${rn}]` };
    return { text: `${mn}\t${rz(0, rs)}, ${rz(sf, rt)}, [${rn}]` };
  }
  if (!o2 && o1) {
    if (size >= 2) {
      const psf = size & 1;
      const mn = `${l ? "ld" : "st"}${o0 ? (l ? "a" : "l") : ""}xp`;
      if (l) return { text: `${mn}\t${rz(psf, rt)}, ${rz(psf, rt2)}, [${rn}]` };
      return { text: `${mn}\t${rz(0, rs)}, ${rz(psf, rt)}, ${rz(psf, rt2)}, [${rn}]` };
    }
    // CASP: even register pairs only, Rt2 = 11111 (llvm rejects other values).
    if (rs & 1 || rt & 1 || rt2 !== 31) return null;
    const psf = size & 1;
    const mn = `casp${l ? "a" : ""}${o0 ? "l" : ""}`;
    return {
      text: `${mn}\t${rz(psf, rs)}, ${rz(psf, rs + 1)}, ${rz(psf, rt)}, ${rz(psf, rt + 1)}, [${rn}]`,
    };
  }
  if (o2 && !o1) {
    // LDAR/STLR, and LDLAR/STLLR (LOR) when o0 = 0.
    const mn = l ? (o0 ? `ldar${sfx}` : `ldlar${sfx}`) : o0 ? `stlr${sfx}` : `stllr${sfx}`;
    return { text: `${mn}\t${rz(sf, rt)}, [${rn}]` };
  }
  if (rt2 !== 31) return null;
  const mn = `cas${l ? "a" : ""}${o0 ? "l" : ""}${sfx}`;
  return { text: `${mn}\t${rz(sf, rs)}, ${rz(sf, rt)}, [${rn}]` };
}

const ATOMIC_OPS = ["add", "clr", "eor", "set", "smax", "smin", "umax", "umin"];

function decodeAtomic(w: number): Decoded | null {
  const size = bits(w, 30, 2);
  const a = bit(w, 23);
  const r = bit(w, 22);
  const o3 = bit(w, 15);
  const opc = bits(w, 12, 3);
  const rs = bits(w, 16, 5);
  const rt = bits(w, 0, 5);
  const rn = xsp(bits(w, 5, 5));
  const sf = size === 3 ? 1 : 0;
  const order = `${a ? "a" : ""}${r ? "l" : ""}`;
  const sfx = SIZE_SUFFIX[size];
  // An acquiring atomic whose result goes to the zero register gets llvm's warning comment.
  const dropped = a && rt === 31 ? { comment: "acquire semantics dropped since destination is zero" } : {};
  if (o3) {
    if (opc === 0) return { text: `swp${order}${sfx}\t${rz(sf, rs)}, ${rz(sf, rt)}, [${rn}]`, ...dropped };
    if (opc === 4 && a && !r && rs === 31) return { text: `ldapr${sfx}\t${rz(sf, rt)}, [${rn}]` };
    return null;
  }
  const op = ATOMIC_OPS[opc];
  // ST<op> is the alias of LD<op> without acquire that discards the old value (Rt = zr).
  if (rt === 31 && !a) return { text: `st${op}${r ? "l" : ""}${sfx}\t${rz(sf, rs)}, [${rn}]` };
  return { text: `ld${op}${order}${sfx}\t${rz(sf, rs)}, ${rz(sf, rt)}, [${rn}]`, ...dropped };
}
