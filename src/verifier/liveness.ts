/**
 * Two backward dataflow analyses over each function, computed once after `check_cfg`, that
 * stand in for what the kernel learns during exploration and uses to prune states:
 *
 * - **liveness**: registers that may be read before being written (the kernel's read marks,
 *   `REG_LIVE_READ`, propagated by `mark_reg_read`); a dead register never makes two states
 *   different;
 * - **precision**: scalar registers whose exact value may matter to a later safety decision —
 *   a conditional jump, pointer arithmetic, a helper or kfunc argument, a store (the value may
 *   come back from the stack), a return value the kernel range-checks — directly or through
 *   moves and arithmetic (the kernel's `precise` marks, set by `mark_chain_precision` and
 *   `backtrack_insn`). A scalar register that is not precise compares equal to any scalar, as
 *   an imprecise one does in `regsafe`.
 *
 * Both over-approximate what the kernel would mark on any path, so pruning on them is sound;
 * they may keep states apart that the kernel would merge. Stack slots are always compared
 * exactly. Masks are bit r for register Rr.
 */
import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_LD_IMM64, BPF_PSEUDO_KFUNC_CALL } from "../isa/opcodes.ts";
import type { VerifierEnv } from "./env.ts";
import { HELPER_PROTOS } from "./helper-protos.ts";
import { KFUNCS } from "./kfuncs.ts";
import { progRetvalRange } from "./retcode.ts";

const R0 = 1;
const ARGS = 0x3e; // R1-R5
const CALLER_SAVED = 0x3f; // R0-R5
const FP = 1 << 10;

/** Registers an instruction reads (`use`) and writes (`def`). */
function useDef(env: VerifierEnv, t: number): { use: number; def: number } {
  const p = env.prog;
  const code = p.code[t];
  const cls = code & 0x07;
  const dst = 1 << p.dst[t];
  const src = 1 << p.src[t];
  const x = (code & 0x08) !== 0;
  const mode = code & 0xe0;
  switch (cls) {
    case 0x04: // ALU
    case 0x07: {
      // ALU64
      const op = code & 0xf0;
      if (op === 0xb0) return { use: x ? src : 0, def: dst }; // mov
      return { use: dst | (x && op !== 0x80 && op !== 0xd0 ? src : 0), def: dst };
    }
    case 0x01: // LDX
      return { use: src, def: dst };
    case 0x02: // ST
      return { use: dst, def: 0 };
    case 0x03: {
      // STX, atomics
      if (mode === 0xc0) {
        const imm = p.imm[t];
        if (imm === 0xf1) return { use: dst | src | R0, def: R0 }; // cmpxchg
        if (imm === 0x100) return { use: src, def: dst }; // load-acquire
        return { use: dst | src, def: (imm & 1) !== 0 ? src : 0 };
      }
      return { use: dst | src, def: 0 };
    }
    case 0x00: // LD
      if (code === BPF_LD_IMM64) return { use: 0, def: dst };
      return { use: (1 << 6) | (mode === 0x40 ? src : 0), def: CALLER_SAVED };
    default: {
      const op = code & 0xf0;
      if (op === BPF_EXIT) return { use: R0, def: 0 };
      if (op === BPF_CALL) return { use: ARGS, def: CALLER_SAVED };
      if (op === BPF_JA || op === 0xe0) return { use: 0, def: 0 };
      return { use: dst | (x ? src : 0), def: 0 };
    }
  }
}

/** Whether R0 matters at an exit of subprogram `s` (returned to a caller, or range-checked). */
function exitNeedsR0(env: VerifierEnv, s: number): boolean {
  const ranged = progRetvalRange(env.cfg.progType, env.cfg.expectedAttachType) !== null;
  if (s === 0) return ranged;
  if (env.subprogs[s].linkage === "global") return ranged;
  return true;
}

/**
 * The argument registers of a call whose scalar value may be checked: every argument of a
 * bpf-to-bpf call or kfunc, and of a helper those that are not ARG_ANYTHING.
 */
function callPreciseArgs(env: VerifierEnv, t: number): number {
  const p = env.prog;
  if (p.src[t] === BPF_PSEUDO_KFUNC_CALL) {
    const k = KFUNCS.get(env.cfg.kfuncs.get(p.imm[t]) ?? "");
    if (k === undefined) return ARGS;
    let m = 0;
    k.args.forEach((a, i) => {
      if (a !== "ignore") m |= 1 << (i + 1);
    });
    return m;
  }
  if (p.src[t] !== 0) return ARGS;
  const proto = HELPER_PROTOS.get(p.imm[t]);
  if (proto === undefined) return ARGS;
  let m = 0;
  proto.args.forEach((a, i) => {
    if (a !== "anything" && a !== "dontcare") m |= 1 << (i + 1);
  });
  return m;
}

/** `need_in` of instruction `t` for the precision analysis, given `need_out`. */
function precisionTransfer(env: VerifierEnv, t: number, out: number, exitR0: boolean): number {
  const p = env.prog;
  const code = p.code[t];
  const cls = code & 0x07;
  const dst = 1 << p.dst[t];
  const src = 1 << p.src[t];
  const x = (code & 0x08) !== 0;
  switch (cls) {
    case 0x04:
    case 0x07: {
      const op = code & 0xf0;
      if (op === 0xb0) {
        if ((out & dst) === 0) return out;
        return (out & ~dst) | (x ? src : 0);
      }
      let need = out;
      if (x && (op === 0x00 || op === 0x10)) need |= dst | src; // pointer arithmetic with a scalar
      if ((out & dst) !== 0 && x && op !== 0x80 && op !== 0xd0) need |= src;
      return need;
    }
    case 0x01:
      return out & ~dst;
    case 0x02:
      return out;
    case 0x03: {
      if ((code & 0xe0) === 0xc0) {
        const imm = p.imm[t];
        if (imm === 0xf1) return (out & ~R0) | src | R0;
        if (imm === 0x100) return out & ~dst;
        return ((imm & 1) !== 0 ? out & ~src : out) | src;
      }
      return out | src;
    }
    case 0x00:
      if (code === BPF_LD_IMM64) return out & ~dst;
      return out & ~CALLER_SAVED;
    default: {
      const op = code & 0xf0;
      if (op === BPF_EXIT) return exitR0 ? R0 : 0;
      if (op === BPF_CALL) return (out & ~CALLER_SAVED) | callPreciseArgs(env, t);
      if (op === BPF_JA || op === 0xe0) return out;
      return out | dst | (x ? src : 0);
    }
  }
}

/** Successors of `t` inside its function [start, end). */
function successors(env: VerifierEnv, t: number, start: number, end: number, out: number[]): void {
  const p = env.prog;
  const code = p.code[t];
  const cls = code & 0x07;
  out.length = 0;
  const add = (w: number): void => {
    if (w >= start && w < end) out.push(w);
  };
  if (cls === BPF_JMP || cls === BPF_JMP32) {
    const op = code & 0xf0;
    if (op === BPF_EXIT) return;
    if (op === BPF_JA) add(t + 1 + (cls === BPF_JMP ? p.off[t] : p.imm[t]));
    else if (op === BPF_CALL) add(t + 1);
    else {
      add(t + 1);
      add(t + 1 + p.off[t]);
    }
    return;
  }
  add(t + (code === BPF_LD_IMM64 ? 2 : 1));
}

/** Fills `env.aux.liveIn` and `env.aux.preciseIn` (see the module comment). */
export function computeRegisterFacts(env: VerifierEnv): void {
  const p = env.prog;
  const n = p.length;
  const live = env.aux.liveIn;
  const precise = env.aux.preciseIn;
  const use = new Uint16Array(n);
  const def = new Uint16Array(n);
  for (let t = 0; t < n; t++) {
    const ud = useDef(env, t);
    use[t] = ud.use | FP;
    def[t] = ud.def;
    live[t] = 0;
    precise[t] = 0;
  }
  const succ: number[] = [];
  for (let s = 0; s < env.subprogs.length; s++) {
    const start = env.subprogs[s].start;
    const end = env.subprogEnd(s);
    const exitR0 = exitNeedsR0(env, s);
    let changed = true;
    while (changed) {
      changed = false;
      for (let t = end - 1; t >= start; t--) {
        if (t > start && p.code[t - 1] === BPF_LD_IMM64) continue; // second slot
        successors(env, t, start, end, succ);
        let liveOut = 0;
        let needOut = 0;
        for (const w of succ) {
          liveOut |= live[w];
          needOut |= precise[w];
        }
        const liveIn = use[t] | (liveOut & ~def[t]);
        const needIn = precisionTransfer(env, t, needOut, exitR0) & liveIn;
        if (liveIn !== live[t] || needIn !== precise[t]) {
          live[t] = liveIn;
          precise[t] = needIn;
          changed = true;
        }
      }
    }
  }
}
