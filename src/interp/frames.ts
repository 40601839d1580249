/**
 * Static facts about a program's functions that the interpreter needs before it runs: where each
 * bpf-to-bpf function starts and how much stack each one uses.
 *
 * The kernel learns a function's stack depth from the verifier (`subprog_info[].stack_depth`) and
 * refuses call chains whose combined depth exceeds MAX_BPF_STACK (`check_max_stack_depth`). The
 * interpreter runs unverified programs too, so it estimates the depth of each function from the
 * accesses it can see: loads, stores and atomics based on r10, and r10-derived pointers built with
 * `rX = r10; rX += K`. Each depth is rounded up like the kernel's interpreter does
 * (`round_up_stack_depth`: at least 1 byte, a multiple of 32).
 */

import type { DecodedProgram } from "../isa/insn.ts";
import {
  BPF_ADD,
  BPF_ALU64,
  BPF_CALL,
  BPF_JMP,
  BPF_K,
  BPF_LD_IMM64,
  BPF_LDX,
  BPF_MOV,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_ST,
  BPF_STX,
  BPF_X,
  MAX_BPF_STACK,
} from "../isa/opcodes.ts";

/** One bpf-to-bpf function: the slots [start, end). */
export interface FunctionRange {
  readonly start: number;
  readonly end: number;
  /** Stack bytes it uses, rounded as the kernel interpreter rounds them. */
  readonly stackDepth: number;
}

/**
 * Entry slots of every function: 0, every pseudo-call target, every BPF_PSEUDO_FUNC target, and
 * `extra` ones known from elsewhere (an exception callback nothing calls).
 */
export function functionEntries(p: DecodedProgram, extra: readonly number[] = []): number[] {
  const entries = new Set<number>([0, ...extra]);
  for (let pc = 0; pc < p.length; pc++) {
    const code = p.code[pc];
    if (code === (BPF_JMP | BPF_CALL) && p.src[pc] === BPF_PSEUDO_CALL) entries.add(pc + 1 + p.imm[pc]);
    else if (code === BPF_LD_IMM64) {
      if (p.src[pc] === BPF_PSEUDO_FUNC) entries.add(pc + 1 + p.imm[pc]);
      pc++;
    }
  }
  return [...entries].filter((e) => e >= 0 && e < p.length).sort((a, b) => a - b);
}

/** Rounds a stack depth as the kernel does for interpreted programs. */
export function roundUpStackDepth(depth: number): number {
  return Math.ceil(Math.max(depth, 1) / 32) * 32;
}

/** Splits the program into functions and estimates each one's stack depth. */
export function analyzeFunctions(p: DecodedProgram, extraEntries: readonly number[] = []): FunctionRange[] {
  const entries = functionEntries(p, extraEntries);
  const out: FunctionRange[] = [];
  for (let i = 0; i < entries.length; i++) {
    const start = entries[i];
    const end = i + 1 < entries.length ? entries[i + 1] : p.length;
    out.push({ start, end, stackDepth: roundUpStackDepth(estimateStackDepth(p, start, end)) });
  }
  return out;
}

function estimateStackDepth(p: DecodedProgram, start: number, end: number): number {
  // fpOff[r] = known offset of rX from r10, or NaN.
  const fpOff = new Float64Array(11).fill(Number.NaN);
  fpOff[10] = 0;
  let depth = 0;
  const note = (base: number, off: number, size: number) => {
    const o = fpOff[base] + off;
    if (!Number.isNaN(o) && o < 0) depth = Math.max(depth, Math.min(-o, MAX_BPF_STACK + size));
  };
  for (let pc = start; pc < end; pc++) {
    const code = p.code[pc];
    const cls = code & 7;
    const dst = p.dst[pc];
    const src = p.src[pc];
    if (code === BPF_LD_IMM64) {
      fpOff[dst] = Number.NaN;
      pc++;
      continue;
    }
    if (cls === BPF_LDX) {
      note(src, p.off[pc], 1);
      if (dst !== 10) fpOff[dst] = Number.NaN;
    } else if (cls === BPF_ST || cls === BPF_STX) {
      note(dst, p.off[pc], 1);
    } else if (code === (BPF_ALU64 | BPF_MOV | BPF_X) && p.off[pc] === 0) {
      fpOff[dst] = fpOff[src];
    } else if (code === (BPF_ALU64 | BPF_ADD | BPF_K)) {
      fpOff[dst] += p.imm[pc];
      if (fpOff[dst] < 0) depth = Math.max(depth, Math.min(-fpOff[dst], MAX_BPF_STACK));
    } else if (cls === BPF_JMP && (code & 0xf0) === BPF_CALL) {
      for (let r = 0; r <= 5; r++) fpOff[r] = Number.NaN;
    } else if ((cls === BPF_ALU64 || cls === 4) && dst !== 10) {
      fpOff[dst] = Number.NaN;
    }
  }
  return depth;
}
