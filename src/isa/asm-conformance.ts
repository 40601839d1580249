/**
 * Assembler for the bpf_conformance dialect (the uBPF-style syntax of the `-- asm` sections in
 * `third_party/bpf_conformance`), producing a {@link DecodedProgram}.
 *
 * It sits in `isa` beside the raw instruction format and is used by the conformance runner
 * (`src/conformance`). The dialect is specified in `third_party/bpf_conformance/README.md`; the
 * reference implementation is `src/bpf_assembler.cc` of bpf_conformance. Where the reference is
 * lenient (it wraps out-of-range numbers, accepts the fake registers `%r11`–`%r15`), this
 * assembler follows the README and rejects, always with an {@link AsmError} that names the line.
 * Error texts start like the reference's (`Invalid register: %r50`, `Invalid number of operands
 * for lock`, `Invalid label: X`) so the `-- error` lines of `negative/` match.
 *
 *   mov %r0, 1                 ALU64 MOV K          mov32 %r0, %r1   ALU MOV X
 *   ldxw %r0, [%r1+4]          LDX MEM W            stw [%r10-4], 7  ST MEM W
 *   lock fetch add [%r1], %r2  STX ATOMIC DW        lddw %r0, 0x…    two slots
 *   jne %r1, 3, label          JMP JNE K            ja32 label       JMP32 JA (imm)
 *   call 5 | call local f      helper | pseudo call call %r2         callx (dst = 2)
 *
 * Labels are `name:` lines; `+N`/`-N` are relative targets; `exit` as a target means the first
 * `exit` instruction of the program.
 */
import { AsmError } from "../errors.ts";
import { type DecodedProgram, type Insn, programFromInsns } from "./insn.ts";
import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_B,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_H,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JMP,
  BPF_JMP32,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_K,
  BPF_LD_IMM64,
  BPF_LDX,
  BPF_LSH,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_SUB,
  BPF_TO_BE,
  BPF_TO_LE,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
} from "./opcodes.ts";

/** ALU mnemonics (without the `32` suffix): operation and the `off` value they set. */
const ALU_MNEMONICS: Readonly<Record<string, { op: number; off: number }>> = {
  add: { op: BPF_ADD, off: 0 },
  sub: { op: BPF_SUB, off: 0 },
  mul: { op: BPF_MUL, off: 0 },
  div: { op: BPF_DIV, off: 0 },
  sdiv: { op: BPF_DIV, off: 1 },
  mod: { op: BPF_MOD, off: 0 },
  smod: { op: BPF_MOD, off: 1 },
  or: { op: BPF_OR, off: 0 },
  and: { op: BPF_AND, off: 0 },
  xor: { op: BPF_XOR, off: 0 },
  lsh: { op: BPF_LSH, off: 0 },
  rsh: { op: BPF_RSH, off: 0 },
  arsh: { op: BPF_ARSH, off: 0 },
  mov: { op: BPF_MOV, off: 0 },
};

/** Conditional jump mnemonics (without the `32` suffix). */
const JMP_MNEMONICS: Readonly<Record<string, number>> = {
  jeq: BPF_JEQ,
  jgt: BPF_JGT,
  jge: BPF_JGE,
  jset: BPF_JSET,
  jne: BPF_JNE,
  jsgt: BPF_JSGT,
  jsge: BPF_JSGE,
  jlt: BPF_JLT,
  jle: BPF_JLE,
  jslt: BPF_JSLT,
  jsle: BPF_JSLE,
};

/** Size suffixes of the load/store mnemonics. */
const SIZES: Readonly<Record<string, number>> = { b: BPF_B, h: BPF_H, w: BPF_W, dw: BPF_DW };

/** Read-modify-write atomics that accept `fetch`. */
const ATOMIC_RMW: Readonly<Record<string, number>> = { add: BPF_ADD, or: BPF_OR, and: BPF_AND, xor: BPF_XOR };

/** Sign-extending moves: class and `off` (the source width in bits). */
const MOVSX: Readonly<Record<string, { cls: number; off: number }>> = {
  movsx832: { cls: BPF_ALU, off: 8 },
  movsx1632: { cls: BPF_ALU, off: 16 },
  movsx864: { cls: BPF_ALU64, off: 8 },
  movsx1664: { cls: BPF_ALU64, off: 16 },
  movsx3264: { cls: BPF_ALU64, off: 32 },
};

const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/** A slot under construction; jump and call targets are patched once all labels are known. */
interface Slot {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** A label reference waiting for the second pass. */
interface Fixup {
  slot: number;
  line: number;
  label: string;
  field: "off" | "imm";
}

/** Mutable state of one assembly run. */
interface AsmState {
  readonly file: string | undefined;
  readonly slots: Slot[];
  readonly fixups: Fixup[];
  readonly labels: Map<string, number>;
  /** Slot of the first `exit` instruction, the implicit `exit` label; -1 until seen. */
  firstExit: number;
  /** Line being assembled (1-based, in the caller's numbering). */
  line: number;
}

/**
 * Assembles bpf_conformance source text into a program. `file` and `firstLine` (the line number
 * of the text's first line in that file, default 1) only affect error locations. Throws
 * {@link AsmError} on the first malformed line, an unknown label, or text with no instruction.
 */
export function assembleConformance(text: string, file?: string, firstLine = 1): DecodedProgram {
  const st: AsmState = { file, slots: [], fixups: [], labels: new Map(), firstExit: -1, line: firstLine };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    st.line = firstLine + i;
    const tokens = tokenize(st, lines[i]);
    if (tokens.length === 0) continue;
    if (tokens[0].endsWith(":")) {
      defineLabel(st, tokens[0].slice(0, -1));
      tokens.shift();
      if (tokens.length === 0) continue;
    }
    assembleInsn(st, tokens[0], tokens.slice(1));
  }
  if (st.slots.length === 0) {
    throw new AsmError(Math.max(firstLine, firstLine + lines.length - 1), "No instructions: empty program", file);
  }
  for (const f of st.fixups) resolveFixup(st, f);
  return programFromInsns(st.slots as readonly Insn[]);
}

function err(st: AsmState, message: string): never {
  throw new AsmError(st.line, message, st.file);
}

/**
 * Splits one line into tokens: the comment (`#` to end of line) is dropped, commas and
 * whitespace separate operands, and a bracketed memory operand is one token with its inner
 * spaces removed.
 */
function tokenize(st: AsmState, rawLine: string): string[] {
  const hash = rawLine.indexOf("#");
  const line = (hash >= 0 ? rawLine.slice(0, hash) : rawLine).trim();
  const tokens: string[] = [];
  let cur = "";
  let inBracket = false;
  for (const ch of line) {
    if (inBracket) {
      if (ch === "]") {
        inBracket = false;
        cur += ch;
      } else if (!/\s/.test(ch)) cur += ch;
      continue;
    }
    if (ch === "[") {
      inBracket = true;
      cur += ch;
    } else if (ch === "," || /\s/.test(ch)) {
      if (cur) tokens.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (inBracket) err(st, `Unterminated memory operand: ${cur}`);
  if (cur) tokens.push(cur);
  return tokens;
}

function defineLabel(st: AsmState, name: string): void {
  if (!/^[A-Za-z_.$][\w.$]*$/.test(name)) err(st, `Invalid label name: ${name}`);
  if (name === "exit") err(st, "Invalid label name: exit (reserved for the first exit instruction)");
  const prev = st.labels.get(name);
  if (prev !== undefined) err(st, `Duplicate label: ${name}`);
  st.labels.set(name, st.slots.length);
}

function emit(st: AsmState, code: number, dst: number, src: number, off: number, imm: number): number {
  st.slots.push({ code, dst, src, off, imm });
  return st.slots.length - 1;
}

function expectOperands(st: AsmState, mnemonic: string, ops: readonly string[], n: number): void {
  if (ops.length !== n) {
    err(st, `Invalid number of operands for mnemonic: ${mnemonic} (expected ${n}, got ${ops.length})`);
  }
}

function assembleInsn(st: AsmState, mnemonic: string, ops: string[]): void {
  if (mnemonic === "lock") {
    assembleLock(st, ops);
    return;
  }
  if (mnemonic === "exit") {
    expectOperands(st, mnemonic, ops, 0);
    const slot = emit(st, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    if (st.firstExit < 0) st.firstExit = slot;
    return;
  }
  if (mnemonic === "call" || mnemonic === "callx") {
    assembleCall(st, mnemonic, ops);
    return;
  }
  if (mnemonic === "ja" || mnemonic === "ja32") {
    expectOperands(st, mnemonic, ops, 1);
    if (mnemonic === "ja") target(st, emit(st, BPF_JMP | BPF_JA, 0, 0, 0, 0), ops[0], "off");
    else target(st, emit(st, BPF_JMP32 | BPF_JA, 0, 0, 0, 0), ops[0], "imm");
    return;
  }
  if (mnemonic === "lddw") {
    expectOperands(st, mnemonic, ops, 2);
    const dst = parseReg(st, ops[0]);
    const v = parseImm64(st, ops[1]);
    emit(st, BPF_LD_IMM64, dst, 0, 0, Number(BigInt.asIntN(32, v)));
    emit(st, 0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)));
    return;
  }
  let m = /^ldx(s?)(b|h|w|dw)$/.exec(mnemonic);
  if (m && !(m[1] && m[2] === "dw")) {
    expectOperands(st, mnemonic, ops, 2);
    const dst = parseReg(st, ops[0]);
    const mem = parseMem(st, ops[1]);
    emit(st, BPF_LDX | (m[1] ? BPF_MEMSX : BPF_MEM) | SIZES[m[2]], dst, mem.reg, mem.off, 0);
    return;
  }
  m = /^st(x?)(b|h|w|dw)$/.exec(mnemonic);
  if (m) {
    expectOperands(st, mnemonic, ops, 2);
    const mem = parseMem(st, ops[0]);
    if (m[1]) emit(st, BPF_STX | BPF_MEM | SIZES[m[2]], mem.reg, parseReg(st, ops[1]), mem.off, 0);
    else emit(st, BPF_ST | BPF_MEM | SIZES[m[2]], mem.reg, 0, mem.off, parseImm32(st, ops[1]));
    return;
  }
  m = /^(be|le|b?swap)(16|32|64)$/.exec(mnemonic);
  if (m) {
    expectOperands(st, mnemonic, ops, 1);
    const code =
      m[1] === "be"
        ? BPF_ALU | BPF_END | BPF_TO_BE
        : m[1] === "le"
          ? BPF_ALU | BPF_END | BPF_TO_LE
          : BPF_ALU64 | BPF_END | BPF_K;
    emit(st, code, parseReg(st, ops[0]), 0, 0, Number(m[2]));
    return;
  }
  const sx = MOVSX[mnemonic];
  if (sx) {
    expectOperands(st, mnemonic, ops, 2);
    emit(st, sx.cls | BPF_MOV | BPF_X, parseReg(st, ops[0]), parseReg(st, ops[1]), sx.off, 0);
    return;
  }
  m = /^(neg)(32)?$/.exec(mnemonic);
  if (m) {
    expectOperands(st, mnemonic, ops, 1);
    emit(st, (m[2] ? BPF_ALU : BPF_ALU64) | BPF_NEG | BPF_K, parseReg(st, ops[0]), 0, 0, 0);
    return;
  }
  m = /^([a-z]+)(32)?$/.exec(mnemonic);
  const alu = m ? ALU_MNEMONICS[m[1]] : undefined;
  if (m && alu) {
    expectOperands(st, mnemonic, ops, 2);
    const cls = m[2] ? BPF_ALU : BPF_ALU64;
    const dst = parseReg(st, ops[0]);
    if (ops[1].startsWith("%")) emit(st, cls | alu.op | BPF_X, dst, parseReg(st, ops[1]), alu.off, 0);
    else emit(st, cls | alu.op | BPF_K, dst, 0, alu.off, parseImm32(st, ops[1]));
    return;
  }
  const jop = m ? JMP_MNEMONICS[m[1]] : undefined;
  if (m && jop !== undefined) {
    expectOperands(st, mnemonic, ops, 3);
    const cls = m[2] ? BPF_JMP32 : BPF_JMP;
    const dst = parseReg(st, ops[0]);
    const slot = ops[1].startsWith("%")
      ? emit(st, cls | jop | BPF_X, dst, parseReg(st, ops[1]), 0, 0)
      : emit(st, cls | jop | BPF_K, dst, 0, 0, parseImm32(st, ops[1]));
    target(st, slot, ops[2], "off");
    return;
  }
  err(st, `Invalid mnemonic: ${mnemonic}`);
}

/** `call N`, `call helper N`, `call local target`, `call runtime N`, `call %rN` / `callx %rN`. */
function assembleCall(st: AsmState, mnemonic: string, ops: string[]): void {
  if (mnemonic === "callx" || (ops.length === 1 && ops[0].startsWith("%"))) {
    expectOperands(st, mnemonic, ops, 1);
    emit(st, BPF_JMP | BPF_CALL | BPF_X, parseReg(st, ops[0]), 0, 0, 0);
    return;
  }
  const [mode, arg] = ops.length === 1 ? ["helper", ops[0]] : ops;
  if (ops.length !== 1) expectOperands(st, mnemonic, ops, 2);
  switch (mode) {
    case "helper":
      emit(st, BPF_JMP | BPF_CALL, 0, 0, 0, parseImm32(st, arg));
      return;
    case "runtime":
      emit(st, BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, parseImm32(st, arg));
      return;
    case "local":
      target(st, emit(st, BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0), arg, "imm");
      return;
    default:
      err(st, `Invalid call mode: ${mode} (expected helper, local or runtime)`);
  }
}

/** `lock [fetch] add|or|and|xor[32] [%rD+off], %rS`, `lock xchg[32] …`, `lock cmpxchg[32] …`. */
function assembleLock(st: AsmState, ops: string[]): void {
  const fetch = ops[0] === "fetch";
  const rest = fetch ? ops.slice(1) : ops;
  if (rest.length !== 3) {
    err(st, `Invalid number of operands for lock (expected [fetch] op [%rD+off], %rS): ${["lock", ...ops].join(" ")}`);
  }
  const m = /^([a-z]+)(32)?$/.exec(rest[0]);
  const name = m ? m[1] : rest[0];
  let imm: number;
  if (ATOMIC_RMW[name] !== undefined) imm = ATOMIC_RMW[name] | (fetch ? BPF_FETCH : 0);
  else if (name === "xchg" && !fetch) imm = BPF_XCHG;
  else if (name === "cmpxchg" && !fetch) imm = BPF_CMPXCHG;
  else err(st, `Invalid mnemonic: lock ${fetch ? "fetch " : ""}${rest[0]}`);
  const size = m?.[2] ? BPF_W : BPF_DW;
  const mem = parseMem(st, rest[1]);
  emit(st, BPF_STX | BPF_ATOMIC | size, mem.reg, parseReg(st, rest[2]), mem.off, imm);
}

/** Records the jump or call target `tok` of `slot`: `+N`/`-N` directly, a label later. */
function target(st: AsmState, slot: number, tok: string, field: "off" | "imm"): void {
  if (/^[+-]/.test(tok)) {
    const v = parseInteger(tok);
    const [lo, hi] = field === "off" ? [INT16_MIN, INT16_MAX] : [INT32_MIN, INT32_MAX];
    if (v === null) err(st, `Invalid jump target: ${tok}`);
    if (v < BigInt(lo) || v > BigInt(hi)) err(st, `Jump offset out of range: ${tok}`);
    st.slots[slot][field] = Number(v);
    return;
  }
  if (!/^[A-Za-z_.$][\w.$]*$/.test(tok)) err(st, `Invalid label: ${tok}`);
  st.fixups.push({ slot, line: st.line, label: tok, field });
}

function resolveFixup(st: AsmState, f: Fixup): void {
  const dest = f.label === "exit" ? st.firstExit : (st.labels.get(f.label) ?? -1);
  if (dest < 0) throw new AsmError(f.line, `Invalid label: ${f.label}`, st.file);
  const rel = dest - (f.slot + 1);
  if (f.field === "off" && (rel < INT16_MIN || rel > INT16_MAX)) {
    throw new AsmError(f.line, `Jump offset out of range: ${f.label} is ${rel} slots away`, st.file);
  }
  st.slots[f.slot][f.field] = rel;
}

function parseReg(st: AsmState, tok: string): number {
  const m = /^%r(\d+)$/.exec(tok);
  if (!m || Number(m[1]) > 10 || (m[1].length > 1 && m[1][0] === "0")) err(st, `Invalid register: ${tok}`);
  return Number(m[1]);
}

/** Parses a memory operand `[%rN]`, `[%rN+off]` or `[%rN-off]`. */
function parseMem(st: AsmState, tok: string): { reg: number; off: number } {
  const m = /^\[([^+\-\]]*)(?:([+-])([^\]]*))?\]$/.exec(tok);
  if (!m) err(st, `Failed to decode register and offset (expected [%rN+off]): ${tok}`);
  const reg = parseReg(st, m[1]);
  if (m[2] === undefined) return { reg, off: 0 };
  const mag = parseInteger(m[3]);
  if (mag === null) err(st, `Invalid offset: ${m[2]}${m[3]}`);
  const hex = /^0x/i.test(m[3]);
  let v = m[2] === "-" ? -mag : mag;
  if (hex && v > BigInt(INT16_MAX) && v <= 0xffffn) v -= 0x10000n; // a 16-bit pattern
  if (v < BigInt(INT16_MIN) || v > BigInt(INT16_MAX)) err(st, `Offset out of 16-bit range: ${m[2]}${m[3]}`);
  return { reg, off: Number(v) };
}

/** Parses a 32-bit immediate: signed decimal in the int32 range, or hex up to 0xffffffff. */
function parseImm32(st: AsmState, tok: string): number {
  const v = parseInteger(tok);
  if (v === null) err(st, `Invalid immediate: ${tok}`);
  const hex = /^[+-]?0x/i.test(tok);
  const max = hex ? 0xffffffffn : BigInt(INT32_MAX);
  if (v < BigInt(INT32_MIN) || v > max) err(st, `Immediate out of 32-bit range: ${tok}`);
  return Number(BigInt.asIntN(32, v));
}

/** Parses a 64-bit immediate (`lddw`): decimal or hex, signed or an unsigned bit pattern. */
function parseImm64(st: AsmState, tok: string): bigint {
  const v = parseInteger(tok);
  if (v === null) err(st, `Invalid immediate: ${tok}`);
  if (v < -(1n << 63n) || v > (1n << 64n) - 1n) err(st, `Immediate out of 64-bit range: ${tok}`);
  return BigInt.asUintN(64, v);
}

/** An optionally signed decimal or `0x` hex integer, or null when `tok` is not one. */
function parseInteger(tok: string): bigint | null {
  const m = /^([+-]?)(0x[0-9a-f]+|[0-9]+)$/i.exec(tok);
  if (!m) return null;
  const v = BigInt(m[2]);
  return m[1] === "-" ? -v : v;
}
