/**
 * Facts the verifier knows but an xlated dump does not state, recovered from the
 * instructions. Rules (they reproduce every program of test/fixtures/exceptions/arm64-jit):
 *
 * - Exception boundary: the main program is one iff some function calls bpf_throw (a kfunc
 *   call whose target, __bpf_call_base + imm, is bpf_throw). The verifier sets
 *   `seen_exception` on reachable throws and dead code is gone from xlated output.
 * - Exception callback: every subprogram except the callback is reached by a BPF-to-BPF call
 *   or a callback reference (ld_imm64 of a function address), because that is how the
 *   verifier found it; the callback alone is found through its BTF decl tag. So it is the one
 *   non-main function nothing refers to (or the hidden default callback, listed last).
 * - Stack depth: the deepest R10-relative byte the function touches. A forward scan tracks
 *   registers holding R10 + constant (through mov and add/sub of constants); loads, stores and
 *   atomics through such a register, and such registers passed to a call (a helper may read or
 *   write the memory there), count. The JIT then rounds up to 16.
 */
import type { DecodedProgram } from "../../isa/insn.ts";
import {
  BPF_ADD,
  BPF_ALU64,
  BPF_CALL,
  BPF_CLASS,
  BPF_JMP,
  BPF_K,
  BPF_LDX,
  BPF_MOV,
  BPF_OP,
  BPF_SRC,
  BPF_ST,
  BPF_STX,
  BPF_SUB,
} from "../../isa/opcodes.ts";
import { PSEUDO_CALL, PSEUDO_KFUNC_CALL } from "./call.ts";

const LD_IMM64 = 0x18;
const PSEUDO_FUNC = 4;

export function isThrowCall(p: DecodedProgram, pc: number, callBase: bigint, bpfThrow: bigint): boolean {
  return (
    p.code[pc] === (BPF_JMP | BPF_CALL) &&
    p.src[pc] === PSEUDO_KFUNC_CALL &&
    BigInt.asUintN(64, callBase + BigInt(p.imm[pc])) === bpfThrow
  );
}

export function deriveBoundary(p: DecodedProgram, callBase: bigint, bpfThrow: bigint): boolean {
  const codes = p.code;
  for (let pc = 0; pc < p.length; pc++)
    if (codes[pc] === (BPF_JMP | BPF_CALL) && isThrowCall(p, pc, callBase, bpfThrow)) return true;
  return false;
}

/** Function indices referred to by calls or callback references. */
export function referencedFunctions(
  p: DecodedProgram,
  starts: readonly number[],
  addresses: readonly bigint[],
  pseudoCallImm: "index" | "relative",
): Set<number> {
  const refs = new Set<number>();
  for (let pc = 0; pc < p.length; pc++) {
    if (p.code[pc] === (BPF_JMP | BPF_CALL) && p.src[pc] === PSEUDO_CALL) {
      refs.add(pseudoCallImm === "index" ? p.imm[pc] : starts.indexOf(pc + 1 + p.imm[pc]));
    } else if (p.code[pc] === LD_IMM64 && p.src[pc] === PSEUDO_FUNC && pc + 1 < p.length) {
      const v = (BigInt(p.imm[pc + 1] >>> 0) << 32n) | BigInt(p.imm[pc] >>> 0);
      const k = addresses.indexOf(v);
      refs.add(k >= 0 ? k : starts.indexOf(pc + 1 + p.imm[pc]));
    }
  }
  return refs;
}

/** The non-main function nothing refers to, or -1. */
export function deriveExceptionCallback(
  p: DecodedProgram,
  starts: readonly number[],
  addresses: readonly bigint[],
  pseudoCallImm: "index" | "relative",
): number {
  if (starts.length < 2) return -1; // no subprogram: no scan
  const refs = referencedFunctions(p, starts, addresses, pseudoCallImm);
  for (let f = 1; f < starts.length; f++) if (!refs.has(f)) return f;
  return -1;
}

/** `depth` widened to cover [base + off, 0) when base + off is below the frame (NaN base: no). */
function touch(depth: number, base: number, off: number): number {
  const at = base + off;
  return at < 0 && -at > depth ? -at : depth;
}

/**
 * The first slot in [pc, end) that may read or write a register of the `known` mask: one that
 * names such a register, a call (writes R0..R5) or an atomic (may write R0) that may, and any
 * ld_imm64 (two slots). A tight loop of its own, as it runs over almost every slot.
 */
function nextInvolving(p: DecodedProgram, pc: number, end: number, known: number): number {
  const codes = p.code;
  const dsts = p.dst;
  const srcs = p.src;
  for (; pc < end; pc++) {
    const code = codes[pc];
    const implicit = code === (BPF_JMP | BPF_CALL) ? 0x3f : (code & 0x07) === BPF_STX ? 1 : 0;
    if ((((1 << dsts[pc]) | (1 << srcs[pc]) | implicit) & known) !== 0 || code === LD_IMM64) return pc;
  }
  return end;
}

/** Deepest R10-relative byte touched by slots [start, end), in bytes (0 = no stack). */
export function deriveStackDepth(p: DecodedProgram, start: number, end: number): number {
  // per register: its value minus R10 when it holds R10 + constant, NaN when not known to
  const fpOff: number[] = [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, 0];
  // bit r set iff fpOff[r] is known. Most instructions involve no such register: they can
  // neither touch the stack nor make a register hold a stack address, and are skipped.
  let known = 1 << 10;
  let depth = 0;
  for (let pc = nextInvolving(p, start, end, known); pc < end; pc = nextInvolving(p, pc + 1, end, known)) {
    const code = p.code[pc];
    const cls = BPF_CLASS(code);
    const dst = p.dst[pc];
    const src = p.src[pc];
    if (code === LD_IMM64) {
      if (dst < 10) fpOff[dst] = NaN;
      pc++;
    } else if (cls === BPF_LDX) {
      if (src <= 10) depth = touch(depth, fpOff[src], p.off[pc]);
      if (dst < 10) fpOff[dst] = NaN;
    } else if (cls === BPF_ST || cls === BPF_STX) {
      if (dst <= 10) depth = touch(depth, fpOff[dst], p.off[pc]);
      // atomic fetch forms write src (cmpxchg writes R0)
      if (cls === BPF_STX && (code & 0xe0) === 0xc0) {
        if (src < 10) fpOff[src] = NaN;
        fpOff[0] = NaN;
      }
    } else if (code === (BPF_JMP | BPF_CALL)) {
      for (let r = 1; r <= 5; r++) depth = touch(depth, fpOff[r], 0);
      for (let r = 0; r <= 5; r++) fpOff[r] = NaN;
    } else if (cls === BPF_ALU64 && dst < 10) {
      const op = BPF_OP(code);
      const isK = BPF_SRC(code) === BPF_K;
      if (op === BPF_MOV && !isK && p.off[pc] === 0) fpOff[dst] = src <= 10 ? fpOff[src] : NaN;
      else if ((op === BPF_ADD || op === BPF_SUB) && isK) fpOff[dst] += op === BPF_ADD ? p.imm[pc] : -p.imm[pc];
      else fpOff[dst] = NaN;
    } else if (cls === 0x04 && dst < 10) {
      fpOff[dst] = NaN; // 32-bit ALU truncates a pointer
    }
    known = 0;
    for (let r = 0; r <= 10; r++) if (!Number.isNaN(fpOff[r])) known |= 1 << r;
  }
  return depth;
}
