/**
 * The disassembler: one instruction slot to the text llvm-objdump-19 prints for it
 * (`llvm-objdump-19 -d --no-show-raw-insn`), so tsbpf listings, verifier logs and fault messages
 * read like the tool every BPF developer already uses.
 *
 * It mirrors LLVM 19's BPF decoder (BPFDisassembler.cpp + the tablegen'd tables from
 * BPFInstrInfo.td) and printer (BPFInstPrinter.cpp) rather than the kernel's print_bpf_insn:
 *
 * - LLVM decodes a slot by matching only the bits its instruction definitions fix. Fields a
 *   definition does not mention are "don't care": `r1 += 0x5` prints the same whatever the src
 *   nibble holds, `exit` must have imm 0 but may have any off. We reproduce that bit for bit, so
 *   for *any* 8 bytes we print what llvm-objdump-19 prints, `<unknown>` included (checked by the
 *   tests against llvm-objdump-19 on hundreds of thousands of random slots).
 * - Registers 0..11 decode (`r11` exists in LLVM), 12..15 make the slot `<unknown>`.
 * - Immediates are hex, signed: `0x5`, `-0x80000000`; the 64-bit LD_IMM64 value likewise.
 * - Plain llvm-objdump (no `--mattr=+alu32`) prints 32-bit loads and stores with `r`
 *   registers; {@link DisasmOptions.alu32} selects the `w` forms `--mattr=+alu32` prints.
 *
 * By default the text is llvm-objdump-19's to the letter, even where LLVM 19 is wrong, so that
 * `tsbpf disasm OBJ` and `llvm-objdump-19 -d` can be diffed. {@link DisasmOptions.lossless}
 * (used by traces, fault messages and the assembler round trip) instead prints what these valid
 * instructions really are, where LLVM 19 shows `<unknown>` or a *different operation*:
 *
 * - 32-bit atomics other than `lock +=` (fetch ops, `&=`/`|=`/`^=`, xchg, cmpxchg): plain
 *   llvm-objdump has no decoder for them (`<unknown>`), and prints `atomic_fetch_add` on u32
 *   (imm 0x01) as `lock *(u32 *)(r1 + 0x0) += r2` because its decoder ignores the fetch bit.
 *   We print the `--mattr=+alu32` text (`w2 = atomic_fetch_add((u32 *)(r1 + 0x0), w2)`).
 * - load-acquire / store-release (imm 0x100 / 0x110, Linux 6.15, LLVM 21): LLVM 19 looks at
 *   imm & 0xff only, so it shows `r0 = load_acquire((u64 *)(r1 + 0x0))` (and the u32 form) as
 *   `lock *(u64 *)(r0 + 0x0) += r1`, registers swapped too, and the others as `<unknown>`.
 *   We print LLVM 21's syntax: `r0 = load_acquire((u64 *)(r1 + 0x0))`,
 *   `store_release((u16 *)(r1 + 0x0), w2)`.
 *
 * Where LLVM's text is correct but drops a field, the default output stays LLVM's and
 * {@link DisasmOptions.lossless} adds tsbpf extensions the assembler reads back:
 *
 * - `call` prints only imm whatever the src (helper 0, bpf-to-bpf 1, kfunc 2): lossless prints
 *   `call pc+0x2` / `call pc-0x1` for BPF_PSEUDO_CALL and `call kfunc 0x1234` for kfuncs.
 * - LD_IMM64 with a pseudo src prints `ld_pseudo\tr1, 0x2, 0x3` (LLVM's tab) and LLVM drops the
 *   high word: its decoder merges it into the *pseudo* operand, which is printed as int32.
 *   Lossless appends it to the imm: `ld_pseudo\tr1, 0x2, 0x500000003`.
 * - LD_IND prints `r0 = *(u8 *)skb[r1]` and ignores imm (the kernel adds it to the offset):
 *   lossless prints `r0 = *(u8 *)skb[r1 + 0x4]` when imm is not 0.
 *
 * Branch targets: llvm-objdump appends ` <sym+0x..>` to every instruction its
 * MCInstrAnalysis calls a branch: `goto`, `gotol`, conditional jumps and `may_goto`. Calls
 * (helper, pseudo, kfunc, callx) never get one, even when they target a subprogram. The target
 * is `addr + 8 + 8 * offset` in unsigned 64-bit arithmetic, so a backward branch before the
 * section start prints `<f+0xfffffffffffffff8>`; see {@link llvmSymbolizer}.
 */

import { type DecodedProgram, ldImm64Value } from "./insn.ts";
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_DW,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_LOAD_ACQ,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_ST,
  BPF_STORE_REL,
  BPF_W,
} from "./opcodes.ts";

/** Options of {@link disasmInsn} and {@link disasmProgram}. */
export interface DisasmOptions {
  /**
   * Names a branch target slot (may be negative or past the end) for the ` <...>` suffix
   * llvm-objdump prints after jumps; return undefined for no suffix. See {@link llvmSymbolizer}.
   */
  symbolize?: (targetPc: number) => string | undefined;
  /** Print sub-64-bit LDX/STX/atomics with `w` registers, as `llvm-objdump --mattr=+alu32`. */
  alu32?: boolean;
  /**
   * Print every field and the true meaning of every valid instruction: tsbpf extensions where
   * LLVM's text drops a field (call src, ld_pseudo high word, LD_IND imm), and correct text for
   * the atomics LLVM 19 misdecodes. The assembler reads all of it back.
   */
  lossless?: boolean;
}

/** What llvm-objdump prints for bytes it cannot decode. */
export const UNKNOWN = "<unknown>";

/** Hex text of a signed integer as LLVM's `formatImm` prints it in hex mode. */
export function formatImm(v: number | bigint): string {
  if (typeof v === "bigint") return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

/** Branch displacement as LLVM's printBrTargetOperand: explicit `+` for non-negative values. */
function formatRel(v: number): string {
  return v >= 0 ? `+${formatImm(v)}` : formatImm(v);
}

const ALU_SYM: readonly (string | undefined)[] = [
  "+=",
  "-=",
  "*=",
  "/=",
  "|=",
  "&=",
  "<<=",
  ">>=",
  undefined, // neg
  "%=",
  "^=",
  undefined, // mov
  "s>>=",
  undefined, // end
  undefined,
  undefined,
];

/** Condition of each jump op (code >> 4), as in `if r1 s> r2 goto`. */
const JMP_COND: readonly (string | undefined)[] = [
  undefined, // ja
  "==",
  ">",
  ">=",
  "&",
  "!=",
  "s>",
  "s>=",
  undefined, // call
  undefined, // exit
  "<",
  "<=",
  "s<",
  "s<=",
  undefined, // jcond
  undefined,
];

/** Width names by the size field (code >> 3 & 3): W, H, B, DW. */
const SIZE_U = ["u32", "u16", "u8", "u64"] as const;
const SIZE_S = ["s32", "s16", "s8", "s64"] as const;

const ATOMIC_NAME: Readonly<Record<number, string>> = { 0: "add", 4: "or", 5: "and", 10: "xor" };

function reg(prefix: "r" | "w", n: number): string | null {
  return n <= 11 ? `${prefix}${n}` : null;
}

function mem(base: number, off: number): string | null {
  if (base > 11) return null;
  return off >= 0 ? `r${base} + ${formatImm(off)}` : `r${base} - ${formatImm(-off)}`;
}

function branch(pc: number, rel: number, opts: DisasmOptions | undefined): string {
  const name = opts?.symbolize?.(pc + 1 + rel);
  return name === undefined ? formatRel(rel) : `${formatRel(rel)} <${name}>`;
}

/**
 * The llvm-objdump-19 text of the instruction at slot `pc`, reading slot pc+1 as well for
 * LD_IMM64. Total: any bytes give a string, `<unknown>` when LLVM cannot decode them.
 */
export function disasmInsn(p: DecodedProgram, pc: number, opts?: DisasmOptions): string {
  if (pc < 0 || pc >= p.length) return UNKNOWN;
  const code = p.code[pc];
  switch (code & 0x07) {
    case BPF_ALU:
    case BPF_ALU64:
      return disasmAlu(p, pc) ?? UNKNOWN;
    case BPF_JMP:
    case BPF_JMP32:
      return disasmJmp(p, pc, opts) ?? UNKNOWN;
    case BPF_LD:
      return disasmLd(p, pc, opts) ?? UNKNOWN;
    default:
      return disasmMem(p, pc, opts) ?? UNKNOWN;
  }
}

function disasmAlu(p: DecodedProgram, pc: number): string | null {
  const code = p.code[pc];
  const is64 = (code & 0x07) === BPF_ALU64;
  const r = is64 ? "r" : "w";
  const op = code >> 4;
  const x = (code & 0x08) !== 0;
  const off = p.off[pc];
  const imm = p.imm[pc];
  const dst = reg(r, p.dst[pc]);
  if (dst === null) return null;
  const src = () => reg(r, p.src[pc]);
  switch (op) {
    case 0x3: // div
    case 0x9: {
      // mod
      if (off !== 0 && off !== 1) return null;
      const sym = `${off === 1 ? "s" : ""}${ALU_SYM[op]}`;
      if (!x) return `${dst} ${sym} ${formatImm(imm)}`;
      const s = src();
      return s === null ? null : `${dst} ${sym} ${s}`;
    }
    case 0x8: // neg: src, off and imm are not decoded
      return x ? null : `${dst} = -${dst}`;
    case 0xb: {
      // mov, movsx, addr_space_cast
      if (!x) return off === 0 ? `${dst} = ${formatImm(imm)}` : null;
      const s = src();
      if (s === null) return null;
      if (off === 0) return `${dst} = ${s}`;
      if (off === 8 || off === 16 || (off === 32 && is64)) return `${dst} = (s${off})${s}`;
      if (off === 1 && is64)
        return `${dst} = addr_space_cast(${s}, ${formatImm(imm >>> 16)}, ${formatImm(imm & 0xffff)})`;
      return null;
    }
    case 0xd: {
      // end: always printed with r registers, even in the ALU class
      if (imm !== 16 && imm !== 32 && imm !== 64) return null;
      const d = `r${p.dst[pc]}`;
      if (is64) return x ? null : `${d} = bswap${imm} ${d}`;
      return `${d} = ${x ? "be" : "le"}${imm} ${d}`;
    }
    default: {
      const sym = ALU_SYM[op];
      if (sym === undefined || off !== 0) return null;
      if (!x) return `${dst} ${sym} ${formatImm(imm)}`;
      const s = src();
      return s === null ? null : `${dst} ${sym} ${s}`;
    }
  }
}

function disasmJmp(p: DecodedProgram, pc: number, opts: DisasmOptions | undefined): string | null {
  const code = p.code[pc];
  const is32 = (code & 0x07) === BPF_JMP32;
  const op = code >> 4;
  const x = (code & 0x08) !== 0;
  const off = p.off[pc];
  const imm = p.imm[pc];
  switch (op) {
    case 0x0: // ja: gotol in JMP32 takes imm, goto takes off
      if (x) return null;
      return is32 ? `gotol ${branch(pc, imm, opts)}` : `goto ${branch(pc, off, opts)}`;
    case 0x8: {
      if (is32) return null;
      if (x) return reg("r", p.dst[pc]) === null ? null : `callx r${p.dst[pc]}`;
      if (opts?.lossless) {
        if (p.src[pc] === BPF_PSEUDO_CALL) return `call pc${formatRel(imm)}`;
        if (p.src[pc] === BPF_PSEUDO_KFUNC_CALL) return `call kfunc ${formatImm(imm)}`;
      }
      return `call ${formatImm(imm)}`;
    }
    case 0x9:
      return is32 || x || imm !== 0 ? null : "exit";
    case 0xe:
      return is32 || x ? null : `may_goto ${branch(pc, off, opts)}`;
    default: {
      const cond = JMP_COND[op];
      if (cond === undefined) return null;
      const r = is32 ? "w" : "r";
      const dst = reg(r, p.dst[pc]);
      if (dst === null) return null;
      let rhs: string | null = formatImm(imm);
      if (x) rhs = reg(r, p.src[pc]);
      if (rhs === null) return null;
      return `if ${dst} ${cond} ${rhs} goto ${branch(pc, off, opts)}`;
    }
  }
}

function disasmLd(p: DecodedProgram, pc: number, opts: DisasmOptions | undefined): string | null {
  const code = p.code[pc];
  const size = (code >> 3) & 3;
  const mode = code >> 5;
  if (mode === 0 && size === 3) {
    // LD_IMM64: LLVM checks neither the second slot's code nor its registers.
    if (pc + 1 >= p.length || p.off[pc] !== 0) return null;
    const dst = reg("r", p.dst[pc]);
    if (dst === null) return null;
    const src = p.src[pc];
    if (src === 0) return `${dst} = ${formatImm(BigInt.asIntN(64, ldImm64Value(p, pc)))} ll`;
    const hi = p.imm[pc + 1];
    const value = opts?.lossless && hi !== 0 ? ldImm64Value(p, pc) : BigInt(p.imm[pc] >>> 0);
    return `ld_pseudo\t${dst}, ${formatImm(src)}, ${formatImm(value)}`;
  }
  if (size === 3) return null;
  if (mode === 1) return `r0 = *(${SIZE_U[size]} *)skb[${formatImm(p.imm[pc])}]`;
  if (mode === 2) {
    const s = reg("r", p.src[pc]);
    if (s === null) return null;
    const imm = p.imm[pc];
    return opts?.lossless && imm !== 0
      ? `r0 = *(${SIZE_U[size]} *)skb[${s} ${imm < 0 ? "-" : "+"} ${formatImm(Math.abs(imm))}]`
      : `r0 = *(${SIZE_U[size]} *)skb[${s}]`;
  }
  return null;
}

/** LDX, ST and STX: loads, stores and atomics. */
function disasmMem(p: DecodedProgram, pc: number, opts: DisasmOptions | undefined): string | null {
  const code = p.code[pc];
  const cls = code & 0x07;
  const size = (code >> 3) & 3;
  const mode = code >> 5;
  const alu32 = opts?.alu32 === true;
  const narrow = (code & 0x18) !== BPF_DW;
  // LLVM switches to its ALU32 table for every sub-DW LDX/STX in MEM or ATOMIC mode.
  const r = alu32 && narrow ? "w" : "r";
  const dstN = p.dst[pc];
  const srcN = p.src[pc];
  const off = p.off[pc];
  if (cls === BPF_LDX) {
    if (mode === 3) {
      const a = mem(srcN, off);
      const d = reg(r, dstN);
      return a === null || d === null ? null : `${d} = *(${SIZE_U[size]} *)(${a})`;
    }
    if (mode === 4 && narrow) {
      const a = mem(srcN, off);
      const d = reg("r", dstN);
      return a === null || d === null ? null : `${d} = *(${SIZE_S[size]} *)(${a})`;
    }
    return null;
  }
  if (cls === BPF_ST) {
    const a = mode === 3 ? mem(dstN, off) : null;
    return a === null ? null : `*(${SIZE_U[size]} *)(${a}) = ${formatImm(p.imm[pc])}`;
  }
  // BPF_STX
  if (mode === 3) {
    const a = mem(dstN, off);
    const s = reg(r, srcN);
    return a === null || s === null ? null : `*(${SIZE_U[size]} *)(${a}) = ${s}`;
  }
  if (mode !== 6) return null;
  return disasmAtomic(p, pc, alu32, opts?.lossless === true);
}

/**
 * BPF_STX | BPF_ATOMIC. LLVM 19 decodes only imm bits 0..7: bits 4..7 pick the operation and,
 * for add/or/and/xor, a low nibble of 1 the fetch form (any other nibble is the plain form).
 * That is why it misprints valid instructions; see the module comment for what we print instead.
 */
function disasmAtomic(p: DecodedProgram, pc: number, alu32: boolean, corrected: boolean): string | null {
  const code = p.code[pc];
  const size = (code >> 3) & 3;
  const imm = p.imm[pc];
  const dstN = p.dst[pc];
  const srcN = p.src[pc];
  const off = p.off[pc];
  const sizeField = code & 0x18;
  const validRegs = corrected && dstN <= 10 && srcN <= 10;
  // Lossless mode: valid instructions LLVM 19 cannot show correctly, in newer LLVM's syntax.
  if (validRegs && (imm === BPF_LOAD_ACQ || imm === BPF_STORE_REL)) {
    const r = sizeField === BPF_DW ? "r" : "w";
    // load-acquire: dst = *(src + off); store-release: *(dst + off) = src.
    if (imm === BPF_LOAD_ACQ && dstN !== 10) {
      return `${r}${dstN} = load_acquire((${SIZE_U[size]} *)(${mem(srcN, off)}))`;
    }
    if (imm === BPF_STORE_REL) return `store_release((${SIZE_U[size]} *)(${mem(dstN, off)}), ${r}${srcN})`;
  }
  const a = mem(dstN, off);
  if (a === null) return null;
  if (sizeField === BPF_W && !alu32 && validRegs && VALID_RMW.has(imm) && imm !== 0) {
    return atomicText("w", size, imm, a, srcN);
  }
  return llvmAtomic(size, imm, a, srcN, alu32);
}

/** The imm values of the read-modify-write atomics the kernel accepts. */
const VALID_RMW = new Set([0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]);

/** Text of a valid read-modify-write atomic with `r` or `w` registers. */
function atomicText(r: "r" | "w", size: number, imm: number, a: string, srcN: number): string {
  const op = (imm >> 4) & 0xf;
  const s = `${r}${srcN}`;
  const bits = r === "r" ? "64" : "32";
  if (op === 0xe) return `${s} = xchg${r === "w" ? "32" : ""}_${bits}(${a}, ${s})`;
  if (op === 0xf) return `${r}0 = cmpxchg${r === "w" ? "32" : ""}_${bits}(${a}, ${r}0, ${s})`;
  const name = ATOMIC_NAME[op];
  if ((imm & 0xf) === 1) return `${s} = atomic_fetch_${name}((${SIZE_U[size]} *)(${a}), ${s})`;
  return `lock *(${SIZE_U[size]} *)(${a}) ${ALU_SYM[op]} ${s}`;
}

/** What LLVM 19 prints for an atomic, bugs included (only imm & 0xff is looked at). */
function llvmAtomic(size: number, imm: number, a: string, srcN: number, alu32: boolean): string | null {
  if (srcN > 11) return null;
  const sizeField = size << 3;
  const op = (imm >> 4) & 0xf;
  const fetch = (imm & 0xf) === 1;
  // Without ALU32 only XADDW (`lock *(u32 *) += r`) decodes a 32-bit atomic; it ignores the nibble.
  if (sizeField === BPF_W && !alu32) return op === 0 ? `lock *(u32 *)(${a}) += r${srcN}` : null;
  if (sizeField !== BPF_W && sizeField !== BPF_DW) return null;
  const r = sizeField === BPF_DW ? "r" : "w";
  if (op === 0xe || op === 0xf) return fetch ? atomicText(r, size, (op << 4) | 1, a, srcN) : null;
  if (ATOMIC_NAME[op] === undefined) return null;
  return atomicText(r, size, fetch ? (op << 4) | 1 : op << 4, a, srcN);
}

/** One listing entry: the first slot of an instruction and its text. */
export interface DisasmLine {
  pc: number;
  text: string;
}

/**
 * Disassembles a whole program, one entry per instruction; an LD_IMM64 covers two slots and
 * yields one entry (as llvm-objdump, which also skips 16 bytes for it). Listing layout beyond
 * the instruction text (symbol headers, `...` for runs of zero bytes, resynchronising after a
 * truncated LD_IMM64) is src/object/listing.ts's business.
 */
export function disasmProgram(p: DecodedProgram, opts?: DisasmOptions): DisasmLine[] {
  const out: DisasmLine[] = [];
  for (let pc = 0; pc < p.length; pc++) {
    const text = disasmInsn(p, pc, opts);
    out.push({ pc, text });
    if (insnSlots(p, pc) === 2) pc++;
  }
  return out;
}

/**
 * Slots the instruction at `pc` occupies in llvm-objdump's walk: 2 for a decodable LD_IMM64
 * (opcode 0x18, off 0, dst <= 11, second slot present), else 1.
 */
export function insnSlots(p: DecodedProgram, pc: number): 1 | 2 {
  return p.code[pc] === 0x18 && p.off[pc] === 0 && p.dst[pc] <= 11 && pc + 1 < p.length ? 2 : 1;
}

/** A symbol for {@link llvmSymbolizer}: name, byte offset in the section, ELF symbol type. */
export interface LlvmSymbol {
  name: string;
  /** Byte offset in the section (st_value of a relocatable object). */
  value: number;
  /** STT_* type: llvm-objdump orders symbols by (address, name, type) and takes the last. */
  type?: number;
}

const U64 = (1n << 64n) - 1n;

/**
 * The suffix llvm-objdump-19 prints for a branch target, given the symbols of the code
 * section: the last symbol at or below the target address in (value, name, type) order, as
 * `name` or `name+0x..`; the address arithmetic is unsigned 64-bit, so a target before the
 * section start wraps. With no symbol at or below the target llvm-objdump falls back to the
 * section name, as it does for sections without symbols. (The full rules, data symbols and
 * absolute symbols included, are implemented by the object listing in src/object/listing.ts.)
 */
export function llvmSymbolizer(symbols: readonly LlvmSymbol[], sectionName: string): (targetPc: number) => string {
  const sorted = [...symbols].sort(
    (a, b) => a.value - b.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.type ?? 0) - (b.type ?? 0),
  );
  return (targetPc) => {
    const target = BigInt(targetPc * 8) & U64;
    let name = sectionName;
    let base = 0n;
    for (const s of sorted) {
      if (BigInt(s.value) > target) break;
      name = s.name;
      base = BigInt(s.value);
    }
    const delta = target - base;
    return delta === 0n ? name : `${name}+0x${delta.toString(16)}`;
  };
}
