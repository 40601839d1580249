/**
 * Raw BPF instructions: the 8-byte slot format, decoding into a struct-of-arrays program, encoding
 * back, and structural validation with typed errors.
 *
 * A slot (struct bpf_insn) in little-endian byte order:
 *
 *   byte  0        1          2..3        4..7
 *       +------+----------+-----------+-----------+
 *       | code | src|dst  |  off (s16)|  imm (s32)|
 *       +------+----------+-----------+-----------+
 *                 hi   lo
 *
 * In big-endian objects the register nibbles swap (dst high, src low) and off/imm are big-endian.
 * LD_IMM64 (`lddw`) takes two slots; the second slot's imm holds the upper 32 bits, exactly as
 * the kernel's `insn[1].imm`. A slot index is the only instruction index used in tsbpf.
 */
import { DecodeError } from "../errors.ts";
import {
  BPF_ABS,
  BPF_ADD,
  BPF_ADDR_SPACE_CAST,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_B,
  BPF_CALL,
  BPF_CLASS,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_H,
  BPF_IMM,
  BPF_IND,
  BPF_JA,
  BPF_JCOND,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_LD,
  BPF_LD_IMM64,
  BPF_LDX,
  BPF_LOAD_ACQ,
  BPF_LSH,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MODE,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OP,
  BPF_OR,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_RSH,
  BPF_SIZE,
  BPF_SRC,
  BPF_ST,
  BPF_STORE_REL,
  BPF_STX,
  BPF_SUB,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
  MAX_BPF_REG,
} from "./opcodes.ts";

/** One instruction slot, as in `struct bpf_insn`. */
export interface Insn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  /** Signed 16-bit offset. */
  readonly off: number;
  /** Signed 32-bit immediate. */
  readonly imm: number;
}

/** Size of one instruction slot in bytes. */
export const INSN_SIZE = 8;

/**
 * A program decoded once into parallel typed arrays, one entry per slot. Engines and the verifier
 * index these by pc without allocating; the second slot of LD_IMM64 is kept as a slot whose imm
 * is the high word.
 */
export interface DecodedProgram {
  readonly length: number;
  readonly code: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int16Array;
  readonly imm: Int32Array;
}

/** Allocates an empty program of `length` slots. */
export function allocProgram(length: number): DecodedProgram {
  return {
    length,
    code: new Uint8Array(length),
    dst: new Uint8Array(length),
    src: new Uint8Array(length),
    off: new Int16Array(length),
    imm: new Int32Array(length),
  };
}

/** Builds a program from a list of slots. */
export function programFromInsns(insns: readonly Insn[]): DecodedProgram {
  const p = allocProgram(insns.length);
  for (let i = 0; i < insns.length; i++) {
    const s = insns[i];
    p.code[i] = s.code;
    p.dst[i] = s.dst;
    p.src[i] = s.src;
    p.off[i] = s.off;
    p.imm[i] = s.imm;
  }
  return p;
}

/** The slot at `pc` as an `Insn` object (for tools; engines read the arrays directly). */
export function insnAt(p: DecodedProgram, pc: number): Insn {
  return { code: p.code[pc], dst: p.dst[pc], src: p.src[pc], off: p.off[pc], imm: p.imm[pc] };
}

/** Decodes raw bytecode. Only the length is checked here; see {@link validateProgram}. */
export function decodeProgram(bytes: Uint8Array, options: { bigEndian?: boolean } = {}): DecodedProgram {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new DecodeError(
      Math.floor(bytes.length / INSN_SIZE),
      `truncated instruction: ${bytes.length} bytes is not a multiple of ${INSN_SIZE}`,
    );
  }
  const n = bytes.length / INSN_SIZE;
  const p = allocProgram(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = !options.bigEndian;
  for (let i = 0; i < n; i++) {
    const b = i * INSN_SIZE;
    p.code[i] = bytes[b];
    const regs = bytes[b + 1];
    p.dst[i] = le ? regs & 0x0f : regs >> 4;
    p.src[i] = le ? regs >> 4 : regs & 0x0f;
    p.off[i] = view.getInt16(b + 2, le);
    p.imm[i] = view.getInt32(b + 4, le);
  }
  return p;
}

/** Encodes a program back to raw bytes (inverse of {@link decodeProgram}). */
export function encodeProgram(p: DecodedProgram, options: { bigEndian?: boolean } = {}): Uint8Array {
  const out = new Uint8Array(p.length * INSN_SIZE);
  const view = new DataView(out.buffer);
  const le = !options.bigEndian;
  for (let i = 0; i < p.length; i++) {
    const b = i * INSN_SIZE;
    out[b] = p.code[i];
    out[b + 1] = le ? (p.src[i] << 4) | (p.dst[i] & 0x0f) : (p.dst[i] << 4) | (p.src[i] & 0x0f);
    view.setInt16(b + 2, p.off[i], le);
    view.setInt32(b + 4, p.imm[i], le);
  }
  return out;
}

/** The 64-bit immediate of the LD_IMM64 at `pc` (both slots), as an unsigned bigint. */
export function ldImm64Value(p: DecodedProgram, pc: number): bigint {
  const lo = BigInt(p.imm[pc] >>> 0);
  const hi = BigInt(p.imm[pc + 1] >>> 0);
  return (hi << 32n) | lo;
}

/** True for the first slot of a two-slot LD_IMM64. */
export function isLdImm64(code: number): boolean {
  return code === BPF_LD_IMM64;
}

/** Which instruction-set features a program may use; defaults allow everything. */
export interface IsaOptions {
  /** Allow `callx` (JMP|CALL|X), an LLVM extension the kernel does not accept. Default true. */
  callx?: boolean;
}

/**
 * Checks that every slot is a well-formed instruction: a known opcode, unused fields zero,
 * registers in range, both halves of LD_IMM64 present, and every jump or call landing on an
 * instruction inside the program. Throws {@link DecodeError} at the first problem, with
 * messages modelled on the kernel verifier's.
 */
export function validateProgram(p: DecodedProgram, options: IsaOptions = {}): void {
  const callx = options.callx ?? true;
  const n = p.length;
  if (n === 0) throw new DecodeError(-1, "empty program");
  // Second halves of LD_IMM64: may not be jump targets nor decoded on their own.
  const isSecondHalf = new Uint8Array(n);
  for (let pc = 0; pc < n; pc++) {
    if (p.code[pc] === BPF_LD_IMM64) {
      if (pc + 1 >= n) throw new DecodeError(pc, "invalid BPF_LD_IMM insn: truncated LD_IMM64 (missing second slot)");
      isSecondHalf[pc + 1] = 1;
      pc++;
    }
  }
  for (let pc = 0; pc < n; pc++) {
    if (isSecondHalf[pc]) continue;
    checkInsn(p, pc, callx);
    const target = branchTarget(p, pc);
    if (target !== null) {
      if (target < 0 || target >= n) throw new DecodeError(pc, `jump out of range from insn ${pc} to ${target}`);
      if (isSecondHalf[target]) throw new DecodeError(pc, `jump into the middle of ldimm64 insn ${target - 1}`);
    }
  }
}

/**
 * The slot a jump, pseudo call or may_goto at `pc` transfers to, or null for instructions that
 * do not branch (helper and kfunc calls, callx and exit included).
 */
export function branchTarget(p: DecodedProgram, pc: number): number | null {
  const code = p.code[pc];
  const cls = code & 0x07;
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return null;
  const op = code & 0xf0;
  if (op === BPF_EXIT) return null;
  if (op === BPF_CALL) {
    return cls === BPF_JMP && (code & BPF_X) === 0 && p.src[pc] === BPF_PSEUDO_CALL ? pc + 1 + p.imm[pc] : null;
  }
  if (op === BPF_JA && cls === BPF_JMP32) return pc + 1 + p.imm[pc];
  return pc + 1 + p.off[pc];
}

function fail(pc: number, msg: string): never {
  throw new DecodeError(pc, msg);
}

function checkReg(pc: number, r: number, what: string): void {
  if (r >= MAX_BPF_REG) fail(pc, `invalid register r${r} in ${what}`);
}

function checkWritableDst(p: DecodedProgram, pc: number): void {
  checkReg(pc, p.dst[pc], "dst");
  if (p.dst[pc] === 10) fail(pc, "frame pointer is read only");
}

const ALU_OPS = new Set([
  BPF_ADD,
  BPF_SUB,
  BPF_MUL,
  BPF_DIV,
  BPF_OR,
  BPF_AND,
  BPF_LSH,
  BPF_RSH,
  BPF_NEG,
  BPF_MOD,
  BPF_XOR,
  BPF_MOV,
  BPF_ARSH,
  BPF_END,
]);

const ATOMIC_RMW = new Set([
  BPF_ADD,
  BPF_OR,
  BPF_AND,
  BPF_XOR,
  BPF_ADD | BPF_FETCH,
  BPF_OR | BPF_FETCH,
  BPF_AND | BPF_FETCH,
  BPF_XOR | BPF_FETCH,
  BPF_XCHG,
  BPF_CMPXCHG,
]);

function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, "0")}`;
}

function checkInsn(p: DecodedProgram, pc: number, callx: boolean): void {
  const code = p.code[pc];
  const dst = p.dst[pc];
  const src = p.src[pc];
  const off = p.off[pc];
  const imm = p.imm[pc];
  const cls = BPF_CLASS(code);
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      const op = BPF_OP(code);
      if (!ALU_OPS.has(op)) fail(pc, `unknown opcode ${hex(code)}`);
      const name = cls === BPF_ALU ? "BPF_ALU" : "BPF_ALU64";
      if (op === BPF_END) {
        if (cls === BPF_ALU64 && BPF_SRC(code) !== BPF_K) fail(pc, `unknown opcode ${hex(code)}`);
        if (src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64))
          fail(pc, "BPF_END uses reserved fields");
      } else if (op === BPF_NEG) {
        if (BPF_SRC(code) !== BPF_K || src !== 0 || off !== 0 || imm !== 0) fail(pc, "BPF_NEG uses reserved fields");
      } else if (BPF_SRC(code) === BPF_X) {
        checkReg(pc, src, "src");
        let offOk = off === 0;
        let immOk = imm === 0;
        if (op === BPF_DIV || op === BPF_MOD) offOk = off === 0 || off === 1;
        if (op === BPF_MOV) {
          if (cls === BPF_ALU) offOk = off === 0 || off === 8 || off === 16;
          else if (off === BPF_ADDR_SPACE_CAST) {
            offOk = true;
            immOk = imm === 1 || imm === 1 << 16;
          } else offOk = off === 0 || off === 8 || off === 16 || off === 32;
        }
        if (!offOk || !immOk) fail(pc, `${name} uses reserved fields`);
      } else {
        let offOk = off === 0;
        if (op === BPF_DIV || op === BPF_MOD) offOk = off === 0 || off === 1;
        if (src !== 0 || !offOk) fail(pc, `${name} uses reserved fields`);
      }
      checkWritableDst(p, pc);
      return;
    }
    case BPF_JMP:
    case BPF_JMP32: {
      const op = BPF_OP(code);
      const x = BPF_SRC(code) === BPF_X;
      switch (op) {
        case BPF_JA:
          if (x || dst !== 0 || src !== 0) fail(pc, "BPF_JA uses reserved fields");
          if (cls === BPF_JMP ? imm !== 0 : off !== 0) fail(pc, "BPF_JA uses reserved fields");
          return;
        case BPF_CALL:
          if (cls === BPF_JMP32) fail(pc, `unknown opcode ${hex(code)}`);
          if (x) {
            if (!callx) fail(pc, `unknown opcode ${hex(code)}`);
            // LLVM's callx: target register in dst.
            checkReg(pc, dst, "callx");
            if (src !== 0 || off !== 0 || imm !== 0) fail(pc, "BPF_CALL uses reserved fields");
            return;
          }
          if (dst !== 0 || off !== 0 || (src !== 0 && src !== BPF_PSEUDO_CALL && src !== BPF_PSEUDO_KFUNC_CALL)) {
            fail(pc, "BPF_CALL uses reserved fields");
          }
          return;
        case BPF_EXIT:
          if (cls === BPF_JMP32 || x) fail(pc, `unknown opcode ${hex(code)}`);
          if (dst !== 0 || src !== 0 || off !== 0 || imm !== 0) fail(pc, "BPF_EXIT uses reserved fields");
          return;
        case BPF_JCOND:
          if (cls === BPF_JMP32 || x) fail(pc, `unknown opcode ${hex(code)}`);
          if (dst !== 0 || src !== 0 || imm !== 0) fail(pc, "may_goto uses reserved fields");
          return;
        case 0xf0:
          fail(pc, `unknown opcode ${hex(code)}`);
          break;
        default:
          checkReg(pc, dst, "dst");
          if (x) {
            checkReg(pc, src, "src");
            if (imm !== 0) fail(pc, "BPF_JMP/JMP32 uses reserved fields");
          } else if (src !== 0) fail(pc, "BPF_JMP/JMP32 uses reserved fields");
          return;
      }
      return;
    }
    case BPF_LD: {
      const mode = BPF_MODE(code);
      if (mode === BPF_IMM) {
        if (BPF_SIZE(code) !== BPF_DW) fail(pc, `unknown opcode ${hex(code)}`);
        if (off !== 0 || src > 6) fail(pc, "invalid BPF_LD_IMM insn");
        const n = pc + 1;
        if (p.code[n] !== 0 || p.dst[n] !== 0 || p.src[n] !== 0 || p.off[n] !== 0) fail(pc, "invalid BPF_LD_IMM insn");
        checkWritableDst(p, pc);
        return;
      }
      if (mode === BPF_ABS || mode === BPF_IND) {
        if (BPF_SIZE(code) === BPF_DW) fail(pc, `unknown opcode ${hex(code)}`);
        if (dst !== 0 || off !== 0 || (mode === BPF_ABS && src !== 0))
          fail(pc, "BPF_LD_[ABS|IND] uses reserved fields");
        checkReg(pc, src, "src");
        return;
      }
      fail(pc, `unknown opcode ${hex(code)}`);
      break;
    }
    case BPF_LDX: {
      const mode = BPF_MODE(code);
      if (mode !== BPF_MEM && mode !== BPF_MEMSX) fail(pc, `unknown opcode ${hex(code)}`);
      if (mode === BPF_MEMSX && BPF_SIZE(code) === BPF_DW) fail(pc, `unknown opcode ${hex(code)}`);
      if (imm !== 0) fail(pc, "BPF_LDX uses reserved fields");
      checkReg(pc, src, "src");
      checkWritableDst(p, pc);
      return;
    }
    case BPF_ST: {
      if (BPF_MODE(code) !== BPF_MEM) fail(pc, `unknown opcode ${hex(code)}`);
      if (src !== 0) fail(pc, "BPF_ST uses reserved fields");
      checkReg(pc, dst, "dst");
      return;
    }
    case BPF_STX: {
      const mode = BPF_MODE(code);
      checkReg(pc, dst, "dst");
      checkReg(pc, src, "src");
      if (mode === BPF_MEM) {
        if (imm !== 0) fail(pc, "BPF_STX uses reserved fields");
        return;
      }
      if (mode !== BPF_ATOMIC) fail(pc, `unknown opcode ${hex(code)}`);
      const size = BPF_SIZE(code);
      if (imm === BPF_LOAD_ACQ || imm === BPF_STORE_REL) {
        if (imm === BPF_LOAD_ACQ && dst === 10) fail(pc, "frame pointer is read only");
        return;
      }
      if (size !== BPF_W && size !== BPF_DW)
        fail(pc, `invalid atomic operand size ${size === BPF_B ? 1 : size === BPF_H ? 2 : 8}`);
      if (!ATOMIC_RMW.has(imm)) fail(pc, `BPF_ATOMIC uses invalid atomic opcode ${hex(imm)}`);
      // A fetch writes the old value to src (cmpxchg writes r0 instead).
      if ((imm & BPF_FETCH) !== 0 && imm !== BPF_CMPXCHG && src === 10) fail(pc, "frame pointer is read only");
      return;
    }
  }
}
