/**
 * Branches, exception generation and system instructions (op0 = 101x) of the AArch64
 * disassembler. Branch targets are absolute addresses, as llvm-objdump prints them
 * (`PrintBranchImmAsAddress`), computed from the instruction's own address.
 */

import { bit, bits, COND, type Decoded, hex, rz, sext, xz } from "./disasm-common.ts";

/** Branches, exception generation and system instructions. */
export function decodeBranchSys(w: number, address: bigint): Decoded | null {
  const op0 = bits(w, 29, 3);
  if (op0 === 0 || op0 === 4) {
    // B / BL imm26
    const target = BigInt.asUintN(64, address + BigInt(sext(bits(w, 0, 26), 26)) * 4n);
    return { text: `${op0 ? "bl" : "b"}\t${hex(target)}`, target };
  }
  if (op0 === 1 || op0 === 5) {
    const sf = op0 === 5 ? 1 : 0;
    if (!bit(w, 25)) {
      // CBZ / CBNZ
      const target = pcRel19(w, address);
      return { text: `${bit(w, 24) ? "cbnz" : "cbz"}\t${rz(sf, bits(w, 0, 5))}, ${hex(target)}`, target };
    }
    // TBZ / TBNZ: bit number b5:b40, W register when b5 = 0.
    const bitNo = (bit(w, 31) << 5) | bits(w, 19, 5);
    const target = BigInt.asUintN(64, address + BigInt(sext(bits(w, 5, 14), 14)) * 4n);
    const mn = bit(w, 24) ? "tbnz" : "tbz";
    return { text: `${mn}\t${rz(bit(w, 31), bits(w, 0, 5))}, #${hex(bitNo)}, ${hex(target)}`, target };
  }
  if (op0 === 2) {
    if (bits(w, 24, 2) !== 0) return null;
    // B.cond (bit 4 = 0) and BC.cond (FEAT_HBC, bit 4 = 1).
    const target = pcRel19(w, address);
    return { text: `${bit(w, 4) ? "bc" : "b"}.${COND[bits(w, 0, 4)]}\t${hex(target)}`, target };
  }
  if (op0 === 6) {
    if (bits(w, 24, 2) === 0) return decodeException(w);
    if (bits(w, 22, 4) === 4) return decodeSystem(w);
    if (bit(w, 25)) return decodeBranchReg(w);
  }
  return null;
}

function pcRel19(w: number, address: bigint): bigint {
  return BigInt.asUintN(64, address + BigInt(sext(bits(w, 5, 19), 19)) * 4n);
}

function decodeException(w: number): Decoded | null {
  const opc = bits(w, 21, 3);
  const ll = bits(w, 0, 2);
  const imm = bits(w, 5, 16);
  if (bits(w, 2, 3) !== 0) return null;
  // The 16-bit immediate prints in hex except that zero is a bare `#0`; dcps drops a zero one.
  const immText = imm ? `#${hex(imm)}` : "#0";
  if (opc === 0 && ll !== 0) return { text: `${["", "svc", "hvc", "smc"][ll]}\t${immText}` };
  if (opc === 1 && ll === 0) return { text: `brk\t${immText}` };
  if (opc === 2 && ll === 0) return { text: `hlt\t${immText}` };
  if (opc === 3 && ll === 0) return { text: `tcancel\t${immText}` };
  if (opc === 5 && ll !== 0) return { text: imm ? `dcps${ll}\t${immText}` : `dcps${ll}` };
  return null;
}

/** Hint names of the Arm ARM (HINT #imm with CRm:op2 = imm) that llvm-objdump knows by name. */
const HINTS: Record<number, string> = {
  0: "nop",
  1: "yield",
  2: "wfe",
  3: "wfi",
  4: "sev",
  5: "sevl",
  6: "dgh",
  7: "xpaclri",
  8: "pacia1716",
  10: "pacib1716",
  12: "autia1716",
  14: "autib1716",
  16: "esb",
  17: "psb\tcsync",
  18: "tsb\tcsync",
  19: "gcsb\tdsync",
  20: "csdb",
  22: "clrbhb",
  24: "paciaz",
  25: "paciasp",
  26: "pacibz",
  27: "pacibsp",
  28: "autiaz",
  29: "autiasp",
  30: "autibz",
  31: "autibsp",
  32: "bti",
  34: "bti\tc",
  36: "bti\tj",
  38: "bti\tjc",
  39: "pacm",
  40: "chkfeat\tx16",
};

const BARRIER = [
  "#0",
  "oshld",
  "oshst",
  "osh",
  "#4",
  "nshld",
  "nshst",
  "nsh",
  "#8",
  "ishld",
  "ishst",
  "ish",
  "#12",
  "ld",
  "st",
  "sy",
];

/** System register names (op0:op1:CRn:CRm:op2 packed as 16 bits) that the decoder knows. */
const SYSREGS: Record<number, string> = {
  [sysreg(3, 0, 4, 1, 0)]: "SP_EL0",
  [sysreg(3, 0, 13, 0, 4)]: "TPIDR_EL1",
  [sysreg(3, 4, 13, 0, 2)]: "TPIDR_EL2",
  [sysreg(3, 3, 13, 0, 2)]: "TPIDR_EL0",
  [sysreg(3, 3, 13, 0, 3)]: "TPIDRRO_EL0",
  [sysreg(3, 0, 4, 2, 2)]: "CurrentEL",
  [sysreg(3, 3, 4, 2, 0)]: "NZCV",
  [sysreg(3, 3, 4, 2, 1)]: "DAIF",
  [sysreg(3, 3, 14, 0, 0)]: "CNTFRQ_EL0",
  [sysreg(3, 3, 14, 0, 1)]: "CNTPCT_EL0",
  [sysreg(3, 3, 14, 0, 2)]: "CNTVCT_EL0",
  [sysreg(3, 0, 0, 0, 0)]: "MIDR_EL1",
  [sysreg(3, 0, 0, 0, 5)]: "MPIDR_EL1",
  [sysreg(3, 0, 1, 0, 0)]: "SCTLR_EL1",
  [sysreg(3, 0, 12, 0, 0)]: "VBAR_EL1",
  [sysreg(3, 0, 5, 2, 0)]: "ESR_EL1",
  [sysreg(3, 0, 6, 0, 0)]: "FAR_EL1",
  [sysreg(3, 0, 4, 0, 0)]: "SPSR_EL1",
  [sysreg(3, 0, 4, 0, 1)]: "ELR_EL1",
  [sysreg(3, 3, 4, 4, 0)]: "FPCR",
  [sysreg(3, 3, 4, 4, 1)]: "FPSR",
};

/** Read-only registers: llvm names them only for MRS (an MSR prints the generic form). */
const READ_ONLY = new Set([
  sysreg(3, 0, 4, 2, 2),
  sysreg(3, 3, 14, 0, 1),
  sysreg(3, 3, 14, 0, 2),
  sysreg(3, 0, 0, 0, 0),
  sysreg(3, 0, 0, 0, 5),
]);

function sysreg(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

/** Whether the packed system register (bits 20:5 of MRS/MSR) has a name in SYSREGS. */
export function knownSysreg(packed: number): boolean {
  return SYSREGS[packed] !== undefined;
}

function decodeSystem(w: number): Decoded | null {
  const l = bit(w, 21);
  const op0 = bits(w, 19, 2);
  const op1 = bits(w, 16, 3);
  const crn = bits(w, 12, 4);
  const crm = bits(w, 8, 4);
  const op2 = bits(w, 5, 3);
  const rt = bits(w, 0, 5);
  if (op0 >= 2) {
    // MRS / MSR (register): named registers, otherwise the generic S<op0>_<op1>_C<n>_C<m>_<op2>.
    const packed = bits(w, 5, 16);
    const known = l || !READ_ONLY.has(packed) ? SYSREGS[packed] : undefined;
    const name = known ?? `S${op0}_${op1}_C${crn}_C${crm}_${op2}`;
    return { text: l ? `mrs\t${xz(rt)}, ${name}` : `msr\t${name}, ${xz(rt)}` };
  }
  if (l || op0 !== 0 || rt !== 31 || op1 !== 3) return null;
  if (crn === 2) {
    const n = (crm << 3) | op2;
    return { text: HINTS[n] ?? `hint\t#${hex(n)}` };
  }
  if (crn !== 3) return null;
  // Encodings of the barrier group llvm has no instruction for print as the generic
  // `msr S0_3_C3_Cm_op2, xzr` (the system-register fallback with op0 = 0).
  const generic = { text: `msr\tS0_3_C3_C${crm}_${op2}, xzr` };
  switch (op2) {
    case 1:
      // DSB with the nXS qualifier (FEAT_XS): CRm = imm2:10.
      if ((crm & 3) !== 2) return generic;
      return { text: `dsb\t${["oshnxs", "nshnxs", "ishnxs", "synxs"][crm >> 2]}` };
    case 2:
      return { text: crm === 15 ? "clrex" : `clrex\t#${hex(crm)}` };
    case 3:
      return crm === 0 ? { text: "tcommit" } : generic;
    case 4:
      // DSB #0 / #4 / #12 are ssbb / pssbb / dfb; other unnamed options print in decimal.
      if (crm === 0) return { text: "ssbb" };
      if (crm === 4) return { text: "pssbb" };
      if (crm === 12) return { text: "dfb" };
      return { text: `dsb\t${BARRIER[crm]}` };
    case 5:
      return { text: `dmb\t${BARRIER[crm]}` };
    case 6:
      return { text: crm === 15 ? "isb" : `isb\t#${crm}` };
    case 7:
      return { text: "sb" }; // llvm ignores CRm here
    default:
      return generic;
  }
}

function decodeBranchReg(w: number): Decoded | null {
  const opc = bits(w, 21, 4);
  const op2 = bits(w, 16, 5);
  const op3 = bits(w, 10, 6);
  const rn = bits(w, 5, 5);
  const op4 = bits(w, 0, 5);
  if (op2 !== 31 || op3 !== 0 || op4 !== 0) return null;
  if (opc === 0) return { text: `br\t${xz(rn)}` };
  if (opc === 1) return { text: `blr\t${xz(rn)}` };
  if (opc === 2) return { text: rn === 30 ? "ret" : `ret\t${xz(rn)}` };
  if (opc === 4 && rn === 31) return { text: "eret" };
  if (opc === 5 && rn === 31) return { text: "drps" };
  return null;
}
