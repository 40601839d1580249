// The building blocks of the fuzzers' random programs: operation tables, operand values and
// program copies. The generators themselves differ per fuzzer and stay with them.
import { allocProgram, type DecodedProgram } from "../../src/isa/insn.ts";
import {
  BPF_ADD,
  BPF_AND,
  BPF_ARSH,
  BPF_B,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_FETCH,
  BPF_H,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_LSH,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_RSH,
  BPF_SUB,
  BPF_W,
  BPF_XCHG,
  BPF_XOR,
} from "../../src/isa/opcodes.ts";
import type { Random } from "./rng.ts";

/** Every ALU operation (the op bits of an ALU or ALU64 opcode). */
export const ALU_OPS: readonly number[] = [
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
];

/** Every conditional jump (the op bits of a JMP or JMP32 opcode). */
export const JMP_OPS: readonly number[] = [
  BPF_JEQ,
  BPF_JGT,
  BPF_JGE,
  BPF_JSET,
  BPF_JNE,
  BPF_JSGT,
  BPF_JSGE,
  BPF_JLT,
  BPF_JLE,
  BPF_JSLT,
  BPF_JSLE,
];

/** The access sizes of loads and stores. */
export const SIZES: readonly number[] = [BPF_B, BPF_H, BPF_W, BPF_DW];

/** The imm of every read-modify-write atomic (not load-acquire / store-release). */
export const ATOMIC_OPS: readonly number[] = [
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
];

/**
 * An immediate or offset worth trying, each way a quarter of the time: a small signed number,
 * a number below `below`, one of `table`, any 32-bit value.
 */
export function interestingImm(r: Random, table: readonly number[], below: number): number {
  switch (r.int(4)) {
    case 0:
      return r.range(-16, 16);
    case 1:
      return r.int(below);
    case 2:
      return r.pick(table);
    default:
      return r.u32() | 0;
  }
}

/** A copy of `p`, cut short or padded with zero slots to `length`. */
export function copyProgram(p: DecodedProgram, length = p.length): DecodedProgram {
  const q = allocProgram(length);
  const n = Math.min(length, p.length);
  q.code.set(p.code.subarray(0, n));
  q.dst.set(p.dst.subarray(0, n));
  q.src.set(p.src.subarray(0, n));
  q.off.set(p.off.subarray(0, n));
  q.imm.set(p.imm.subarray(0, n));
  return q;
}
