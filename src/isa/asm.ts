/**
 * The assembler for LLVM's BPF assembly syntax: the text the disassembler (disasm.ts) and
 * llvm-objdump-19 print, and the instructions llvm-mc-19 accepts, one per line.
 *
 * Accepted line shapes:
 *
 *   [N:[\t<raw bytes>\t]] [label:] [instruction] [<sym+0x..>] [; | # | // comment]
 *
 * - `N:` is the slot index llvm-objdump prints; it and the raw bytes of `llvm-objdump -d` are
 *   ignored, as is the `<sym+0x..>` branch-target suffix, so a listing pastes straight in.
 * - Branch targets are relative slot counts (`goto +0x3`, `goto -2`, `goto 5` all mean
 *   "from the next slot") or labels (`goto out`). `call label` is a bpf-to-bpf call (src 1,
 *   imm relative), as llvm-mc encodes it.
 * - The tsbpf extensions the disassembler prints in lossless mode: `call pc+0x2` (pseudo call),
 *   `call kfunc 0x1234` (src 2), a 64-bit third operand of `ld_pseudo` (llvm-mc keeps only the
 *   low 32 bits), `r0 = *(u8 *)skb[r1 + 0x4]` (LD_IND imm), and LLVM 21's `load_acquire` and
 *   `store_release`.
 *
 * Immediates follow llvm-mc: decimal or 0x-hex with optional sign, a 32-bit field takes
 * -0x80000000..0xffffffff (values above 0x7fffffff are the bit pattern, so `r0 = 0xffffffff`
 * is `r0 = -0x1`, as in llvm-mc; we reject what llvm-mc silently truncates). Offsets are
 * signed 16-bit. Registers are r0..r11 / w0..w11 (r11 is LLVM's, never valid in the kernel;
 * `validateProgram` rejects it). Any error is an {@link AsmError} with the 1-based line.
 */
import { AsmError } from "../errors.ts";
import { type DecodedProgram, programFromInsns } from "./insn.ts";
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_B,
  BPF_CMPXCHG,
  BPF_DW,
  BPF_END,
  BPF_FETCH,
  BPF_H,
  BPF_K,
  BPF_LOAD_ACQ,
  BPF_MEM,
  BPF_MEMSX,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_STORE_REL,
  BPF_W,
  BPF_X,
  BPF_XCHG,
} from "./opcodes.ts";

interface Slot {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

interface Fixup {
  slot: number;
  label: string;
  field: "off" | "imm";
  line: number;
}

const NUM = "[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)";
const LABEL = String.raw`[A-Za-z_.$][\w.$]*`;
const TARGET = `(${NUM}|${LABEL})`;
const LABEL_DEF = new RegExp(`^(${LABEL}):`);
/** `(rN + off)`, `(rN - off)` or `(rN)` after whitespace normalisation. */
const MEM = String.raw`\(r(\d+)(?:([+-])(${NUM}))?\)`;
const REG = String.raw`([rw])(\d+)`;

const SIZE_CODE: Readonly<Record<string, number>> = { "8": BPF_B, "16": BPF_H, "32": BPF_W, "64": BPF_DW };

const ALU_OP: Readonly<Record<string, readonly [op: number, off: number]>> = {
  "+": [0x00, 0],
  "-": [0x10, 0],
  "*": [0x20, 0],
  "/": [0x30, 0],
  "s/": [0x30, 1],
  "|": [0x40, 0],
  "&": [0x50, 0],
  "<<": [0x60, 0],
  ">>": [0x70, 0],
  "%": [0x90, 0],
  "s%": [0x90, 1],
  "^": [0xa0, 0],
  "s>>": [0xc0, 0],
};

const JMP_OP: Readonly<Record<string, number>> = {
  "==": 0x10,
  ">": 0x20,
  ">=": 0x30,
  "&": 0x40,
  "!=": 0x50,
  "s>": 0x60,
  "s>=": 0x70,
  "<": 0xa0,
  "<=": 0xb0,
  "s<": 0xc0,
  "s<=": 0xd0,
};

const ATOMIC_OP: Readonly<Record<string, number>> = { "+": 0x00, "|": 0x40, "&": 0x50, "^": 0xa0 };
const FETCH_OP: Readonly<Record<string, number>> = { add: 0x00, or: 0x40, and: 0x50, xor: 0xa0 };

/** Assembly state: the slots emitted so far, labels, pending label fixups and the current line. */
class Assembler {
  readonly slots: Slot[] = [];
  readonly fixups: Fixup[] = [];
  readonly labels = new Map<string, number>();
  line = 0;
  readonly file: string | undefined;

  constructor(file: string | undefined) {
    this.file = file;
  }

  fail(msg: string): never {
    throw new AsmError(this.line, msg, this.file);
  }

  emit(code: number, dst: number, src: number, off: number, imm: number): void {
    this.slots.push({ code, dst, src, off, imm });
  }

  num(text: string, min: bigint, max: bigint, what: string): bigint {
    const neg = text.startsWith("-");
    const body = text.replace(/^[+-]/, "");
    const v = neg ? -BigInt(body) : BigInt(body);
    if (v < min || v > max) this.fail(`${what} ${text} out of range`);
    return v;
  }

  /** A 32-bit immediate: signed, or the unsigned bit pattern as llvm-mc allows. */
  imm32(text: string): number {
    return Number(BigInt.asIntN(32, this.num(text, -(1n << 31n), (1n << 32n) - 1n, "immediate")));
  }

  off16(sign: string, text: string): number {
    if (text === "") return 0;
    const v = this.num(text, -(1n << 16n), 1n << 16n, "offset");
    const signed = sign === "-" ? -v : v;
    if (signed < -0x8000n || signed > 0x7fffn) this.fail(`offset ${sign}${text} is not a 16-bit signed integer`);
    return Number(signed);
  }

  reg(kind: string, n: string, want?: "r" | "w"): number {
    const r = Number(n);
    if (n.length > 2 || r > 11) this.fail(`invalid register ${kind}${n}`);
    if (want !== undefined && kind !== want) this.fail(`expected a ${want} register, got ${kind}${n}`);
    return r;
  }

  /** Records a branch target: a relative number now, or a label resolved at the end. */
  target(text: string, field: "off" | "imm"): number {
    if (/^[A-Za-z_.$]/.test(text)) {
      this.fixups.push({ slot: this.slots.length, label: text, field, line: this.line });
      return 0;
    }
    if (field === "off") return Number(this.num(text, -0x8000n, 0x7fffn, "branch offset"));
    return Number(this.num(text, -(1n << 31n), (1n << 31n) - 1n, "branch offset"));
  }
}

/** Removes spaces next to punctuation so that each form has one spelling to match. */
function normalize(s: string): string {
  return s
    .replace(/\s+/g, " ")
    .replace(/ ?([^\w$. ]) ?/g, "$1")
    .trim();
}

/** Strips the objdump index and raw bytes, comments and the `<sym>` suffix of one line. */
function stripLine(raw: string): string {
  let s = raw.replace(/\r$/, "");
  s = s.replace(/(\/\/|;|#).*$/, "");
  s = s.replace(/^\s*\d+:\s*(?:(?:[0-9a-f]{2} ){7,15}[0-9a-f]{2}(?:\t|\s{2,}|$))?/, "");
  s = s.replace(/(\S)\s*<[^<>]*>\s*$/, "$1");
  return s.trim();
}

/**
 * Assembles LLVM-syntax BPF assembly into a program. `file` only names the source in errors.
 * Throws {@link AsmError} (with the 1-based line) for anything it cannot encode.
 */
export function assemble(text: string, file?: string): DecodedProgram {
  const a: Assembler = new Assembler(file);
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    a.line = i + 1;
    let s = stripLine(lines[i]);
    const label = LABEL_DEF.exec(s);
    if (label) {
      if (a.labels.has(label[1])) a.fail(`label ${label[1]} defined twice`);
      a.labels.set(label[1], a.slots.length);
      s = s.slice(label[0].length).trim();
    }
    if (s === "") continue;
    assembleLine(a, normalize(s), s);
  }
  for (const f of a.fixups) {
    a.line = f.line;
    const target = a.labels.get(f.label);
    if (target === undefined) a.fail(`undefined label ${f.label}`);
    const rel = target - (f.slot + 1);
    const slot = a.slots[f.slot];
    if (f.field === "off") {
      if (rel < -0x8000 || rel > 0x7fff) a.fail(`jump to ${f.label} out of 16-bit range (${rel})`);
      slot.off = rel;
    } else {
      slot.imm = rel;
    }
  }
  return programFromInsns(a.slots);
}

/** One instruction form: a pattern over the normalised line and the encoder for its captures. */
type Rule = readonly [pattern: RegExp, encode: (a: Assembler, m: string[]) => void];

function rule(pattern: string, encode: (a: Assembler, m: string[]) => void): Rule {
  return [new RegExp(`^${pattern}$`), encode];
}

function assembleLine(a: Assembler, s: string, orig: string): void {
  for (const [re, encode] of RULES) {
    const m = re.exec(s);
    if (m) {
      encode(
        a,
        m.map((x) => x ?? ""),
      );
      return;
    }
  }
  if (orig.startsWith(".")) a.fail(`directives are not supported: ${orig}`);
  a.fail(`cannot parse instruction: ${orig}`);
}

const STX_ATOMIC = 0x03 | BPF_ATOMIC;
const I32_MIN = -(1n << 31n);
const I32_MAX = (1n << 31n) - 1n;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

function emitLdImm64(a: Assembler, dst: number, src: number, v: bigint): void {
  a.emit(0x18, dst, src, 0, Number(BigInt.asIntN(32, v)));
  a.emit(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)));
}

function memOperand(a: Assembler, base: string, sign: string, value: string) {
  return { base: a.reg("r", base), off: a.off16(sign, value) };
}

function regClass(k: string): "r" | "w" {
  return k === "r" ? "r" : "w";
}

/** Every instruction form, tried in order; the first pattern that matches encodes the line. */
const RULES: readonly Rule[] = [
  // ---- jumps, calls, exit
  rule("exit", (a) => a.emit(0x95, 0, 0, 0, 0)),
  rule(`call ?kfunc ?(${NUM})`, (a, m) => a.emit(0x85, 0, BPF_PSEUDO_KFUNC_CALL, 0, a.imm32(m[1]))),
  rule("call ?pc([+-](?:0[xX][0-9a-fA-F]+|[0-9]+))", (a, m) =>
    a.emit(0x85, 0, BPF_PSEUDO_CALL, 0, Number(a.num(m[1], I32_MIN, I32_MAX, "call offset"))),
  ),
  rule(`call ?(${NUM})`, (a, m) => a.emit(0x85, 0, 0, 0, a.imm32(m[1]))),
  rule(`call (${LABEL})`, (a, m) => {
    a.fixups.push({ slot: a.slots.length, label: m[1], field: "imm", line: a.line });
    a.emit(0x85, 0, BPF_PSEUDO_CALL, 0, 0);
  }),
  rule(`callx ${REG}`, (a, m) => a.emit(0x8d, a.reg(m[1], m[2], "r"), 0, 0, 0)),
  rule(`gotol ?${TARGET}`, (a, m) => {
    const imm = a.target(m[1], "imm");
    a.emit(0x06, 0, 0, 0, imm);
  }),
  rule(`(goto|may_goto) ?${TARGET}`, (a, m) => {
    const off = a.target(m[2], "off");
    a.emit(m[1] === "goto" ? 0x05 : 0xe5, 0, 0, off, 0);
  }),
  rule(`if ${REG} ?(==|!=|s>=|s<=|s>|s<|>=|<=|>|<|&)(?:${REG}|(${NUM})) ?goto ?${TARGET}`, (a, m) => {
    const [, k, d, op, sk, sn, imm, target] = m;
    const code = (k === "r" ? 0x05 : 0x06) | JMP_OP[op];
    const dst = a.reg(k, d);
    if (sk !== "") {
      const src = a.reg(sk, sn, regClass(k));
      const off = a.target(target, "off");
      a.emit(code | BPF_X, dst, src, off, 0);
    } else {
      const value = a.imm32(imm);
      const off = a.target(target, "off");
      a.emit(code | BPF_K, dst, 0, off, value);
    }
  }),
  // ---- LD: 64-bit immediates and legacy packet loads
  rule(`r(\\d+)=(${NUM}) ll`, (a, m) => {
    const v = BigInt.asUintN(64, a.num(m[2], I64_MIN, U64_MAX, "64-bit immediate"));
    emitLdImm64(a, a.reg("r", m[1]), 0, v);
  }),
  rule(`ld_pseudo r(\\d+),(${NUM}),(${NUM})`, (a, m) => {
    const src = Number(a.num(m[2], 0n, 15n, "pseudo source"));
    const v = BigInt.asUintN(64, a.num(m[3], I64_MIN, U64_MAX, "64-bit immediate"));
    emitLdImm64(a, a.reg("r", m[1]), src, v);
  }),
  rule(`r0=\\*\\(u(8|16|32)\\*\\)skb\\[(${NUM})\\]`, (a, m) => a.emit(0x20 | SIZE_CODE[m[1]], 0, 0, 0, a.imm32(m[2]))),
  rule(`r0=\\*\\(u(8|16|32)\\*\\)skb\\[r(\\d+)(?:([+-])(${NUM}))?\\]`, (a, m) => {
    let imm = 0;
    if (m[4] !== "") {
      const v = a.num(m[4], -(1n << 32n), 1n << 32n, "offset");
      imm = Number(a.num(String(m[3] === "-" ? -v : v), I32_MIN, I32_MAX, "offset"));
    }
    a.emit(0x40 | SIZE_CODE[m[1]], 0, a.reg("r", m[2]), 0, imm);
  }),
  // ---- LDX, ST, STX (MEM and MEMSX)
  rule(`${REG}=\\*\\(([us])(8|16|32|64)\\*\\)${MEM}`, (a, m) => {
    const [, k, d, sign, bits, base, os, ov] = m;
    const dst = a.reg(k, d);
    if (sign === "s" && bits === "64") a.fail("there is no sign-extending 64-bit load");
    if (k === "w" && (bits === "64" || sign === "s")) a.fail(`a w register cannot take a ${sign}${bits} load`);
    const mode = sign === "s" ? BPF_MEMSX : BPF_MEM;
    a.emit(0x01 | mode | SIZE_CODE[bits], dst, a.reg("r", base), a.off16(os, ov), 0);
  }),
  rule(`\\*\\(u(8|16|32|64)\\*\\)${MEM}=(?:${REG}|(${NUM}))`, (a, m) => {
    const [, bits, base, os, ov, k, n, imm] = m;
    const dst = a.reg("r", base);
    const off = a.off16(os, ov);
    if (k !== "") {
      if (k === "w" && bits === "64") a.fail("a w register cannot be stored as u64");
      a.emit(0x03 | BPF_MEM | SIZE_CODE[bits], dst, a.reg(k, n), off, 0);
    } else {
      a.emit(0x02 | BPF_MEM | SIZE_CODE[bits], dst, 0, off, a.imm32(imm));
    }
  }),
  // ---- atomics
  rule(`lock ?\\*\\(u(32|64)\\*\\)${MEM}(\\+|\\||&|\\^)=${REG}`, (a, m) => {
    const [, bits, base, os, ov, op, k, n] = m;
    const { base: dst, off } = memOperand(a, base, os, ov);
    const src = a.reg(k, n, bits === "64" ? "r" : undefined);
    a.emit(STX_ATOMIC | SIZE_CODE[bits], dst, src, off, ATOMIC_OP[op]);
  }),
  rule(`${REG}=atomic_fetch_(add|or|and|xor)\\(\\(u(32|64)\\*\\)${MEM},${REG}\\)`, (a, m) => {
    const [, k, d, op, bits, base, os, ov, k2, n2] = m;
    const want = bits === "64" ? "r" : "w";
    const out = a.reg(k, d, want);
    const src = a.reg(k2, n2, want);
    if (out !== src) a.fail("atomic_fetch_* must name the same register on both sides");
    const { base: dst, off } = memOperand(a, base, os, ov);
    a.emit(STX_ATOMIC | SIZE_CODE[bits], dst, src, off, FETCH_OP[op] | BPF_FETCH);
  }),
  rule(`${REG}=xchg(32)?_(32|64)\\(r(\\d+)(?:([+-])(${NUM}))?,${REG}\\)`, (a, m) => {
    const [, k, d, is32, bits, base, os, ov, k2, n2] = m;
    if ((is32 !== "") !== (bits === "32")) a.fail("use xchg_64 or xchg32_32");
    const want = bits === "64" ? "r" : "w";
    const out = a.reg(k, d, want);
    const src = a.reg(k2, n2, want);
    if (out !== src) a.fail("xchg must name the same register on both sides");
    const { base: dst, off } = memOperand(a, base, os, ov);
    a.emit(STX_ATOMIC | SIZE_CODE[bits], dst, src, off, BPF_XCHG);
  }),
  rule(`${REG}=cmpxchg(32)?_(32|64)\\(r(\\d+)(?:([+-])(${NUM}))?,${REG},${REG}\\)`, (a, m) => {
    const [, k, d, is32, bits, base, os, ov, k2, n2, k3, n3] = m;
    if ((is32 !== "") !== (bits === "32")) a.fail("use cmpxchg_64 or cmpxchg32_32");
    const want = bits === "64" ? "r" : "w";
    if (a.reg(k, d, want) !== 0 || a.reg(k2, n2, want) !== 0) a.fail(`cmpxchg compares with ${want}0`);
    const { base: dst, off } = memOperand(a, base, os, ov);
    a.emit(STX_ATOMIC | SIZE_CODE[bits], dst, a.reg(k3, n3, want), off, BPF_CMPXCHG);
  }),
  rule(`${REG}=load_acquire\\(\\(u(8|16|32|64)\\*\\)${MEM}\\)`, (a, m) => {
    const [, k, d, bits, base, os, ov] = m;
    const dst = a.reg(k, d, bits === "64" ? "r" : undefined);
    const { base: src, off } = memOperand(a, base, os, ov);
    a.emit(STX_ATOMIC | SIZE_CODE[bits], dst, src, off, BPF_LOAD_ACQ);
  }),
  rule(`store_release\\(\\(u(8|16|32|64)\\*\\)${MEM},${REG}\\)`, (a, m) => {
    const [, bits, base, os, ov, k, n] = m;
    const { base: dst, off } = memOperand(a, base, os, ov);
    a.emit(STX_ATOMIC | SIZE_CODE[bits], dst, a.reg(k, n, bits === "64" ? "r" : undefined), off, BPF_STORE_REL);
  }),
  // ---- ALU and ALU64
  rule(`${REG} ?(\\+|-|\\*|/|\\||&|<<|>>|%|\\^|s>>|s/|s%)=(?:${REG}|(${NUM}))`, (a, m) => {
    const [, k, d, op, k2, n2, imm] = m;
    const cls = k === "r" ? BPF_ALU64 : BPF_ALU;
    const dst = a.reg(k, d);
    const [code, off] = ALU_OP[op];
    if (k2 !== "") a.emit(cls | code | BPF_X, dst, a.reg(k2, n2, regClass(k)), off, 0);
    else a.emit(cls | code | BPF_K, dst, 0, off, a.imm32(imm));
  }),
  rule(`${REG}=(?:${REG}|(${NUM}))`, (a, m) => {
    const [, k, d, k2, n2, imm] = m;
    const cls = k === "r" ? BPF_ALU64 : BPF_ALU;
    const dst = a.reg(k, d);
    if (k2 !== "") a.emit(cls | 0xb0 | BPF_X, dst, a.reg(k2, n2, regClass(k)), 0, 0);
    else a.emit(cls | 0xb0 | BPF_K, dst, 0, 0, a.imm32(imm));
  }),
  rule(`${REG}=-${REG}`, (a, m) => {
    const [, k, d, k2, n2] = m;
    const dst = a.reg(k, d);
    if (a.reg(k2, n2, regClass(k)) !== dst) a.fail("negation works in place: use rN = -rN");
    a.emit((k === "r" ? BPF_ALU64 : BPF_ALU) | 0x80, dst, 0, 0, 0);
  }),
  rule(`${REG}=\\(s(8|16|32)\\)${REG}`, (a, m) => {
    const [, k, d, bits, k2, n2] = m;
    if (k === "w" && bits === "32") a.fail("there is no (s32) move into a w register");
    const dst = a.reg(k, d);
    a.emit((k === "r" ? BPF_ALU64 : BPF_ALU) | 0xb0 | BPF_X, dst, a.reg(k2, n2, regClass(k)), Number(bits), 0);
  }),
  rule(`r(\\d+)=addr_space_cast\\(r(\\d+),(${NUM}),(${NUM})\\)`, (a, m) => {
    const dstAs = Number(a.num(m[3], 0n, 0xffffn, "address space"));
    const srcAs = Number(a.num(m[4], 0n, 0xffffn, "address space"));
    a.emit(BPF_ALU64 | 0xb0 | BPF_X, a.reg("r", m[1]), a.reg("r", m[2]), 1, (dstAs << 16) | srcAs);
  }),
  rule("r(\\d+)=(bswap|be|le)(16|32|64) r(\\d+)", (a, m) => {
    const [, d, kind, bits, d2] = m;
    const dst = a.reg("r", d);
    if (a.reg("r", d2) !== dst) a.fail(`${kind}${bits} works in place: use rN = ${kind}${bits} rN`);
    const code = kind === "bswap" ? BPF_ALU64 | BPF_END : BPF_ALU | BPF_END | (kind === "be" ? BPF_X : BPF_K);
    a.emit(code, dst, 0, 0, Number(bits));
  }),
];
