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
 *   an imprecise one does in `regsafe`. The same holds for the function's own stack slots
 *   (spills and fills at constant frame offsets); a value loaded through any other pointer,
 *   or memory handed to a callee or callback, makes every slot precise.
 *
 * Both over-approximate what the kernel would mark on any path, so pruning on them is sound;
 * they may keep states apart that the kernel would merge. Register masks have bit r for Rr,
 * slot masks bit i for the slot at fp-8(i+1).
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

/**
 * Registers that may hold a pointer, and those that may hold a pointer into a stack, on entry of
 * each instruction of one function (forward dataflow): a scalar-only ALU result, a narrow load
 * or a constant is no pointer; arguments, 8- and 4-byte loads (spilled pointers, packet pointers
 * from the context), pointer-typed ld_imm64 and call results may be. Stack pointers come only
 * from R10, arguments and 8-byte loads, and survive only moves and pointer arithmetic; 32-bit ALU
 * never yields a pointer (the kernel rejects 32-bit pointer arithmetic).
 */
function pointerFacts(
  env: VerifierEnv,
  start: number,
  end: number,
  isMain: boolean,
): { ptr: Uint16Array; stack: Uint16Array } {
  const p = env.prog;
  const len = end - start;
  const ptr = new Uint16Array(len);
  const stack = new Uint16Array(len);
  const seen = new Uint8Array(len);
  ptr[0] = isMain ? 0x402 : 0x43e;
  stack[0] = isMain ? 0x400 : 0x43e;
  seen[0] = 1;
  const succ: number[] = [];
  let changed = true;
  while (changed) {
    changed = false;
    for (let t = start; t < end; t++) {
      if (!seen[t - start]) continue;
      let m = ptr[t - start];
      let k = stack[t - start];
      const code = p.code[t];
      const cls = code & 0x07;
      const dst = 1 << p.dst[t];
      const src = 1 << p.src[t];
      const x = (code & 0x08) !== 0;
      const op = code & 0xf0;
      if (cls === 0x07) {
        if (op === 0xb0) {
          const copy = x && p.off[t] === 0;
          m = copy && (m & src) !== 0 ? m | dst : m & ~dst;
          k = copy && (k & src) !== 0 ? k | dst : k & ~dst;
        } else if (op === 0x00 || op === 0x10) {
          if (x && (m & src) !== 0) m |= dst;
          if (x && (k & src) !== 0) k |= dst;
        } else {
          m &= ~dst;
          k &= ~dst;
        }
      } else if (cls === 0x04) {
        m &= ~dst;
        k &= ~dst;
      } else if (cls === 0x01) {
        const size = code & 0x18;
        const narrow = size === 0x10 || size === 0x08 || (code & 0xe0) === 0x80;
        m = narrow ? m & ~dst : m | dst;
        k = size === 0x18 && (code & 0xe0) !== 0x80 ? k | dst : k & ~dst;
      } else if (cls === 0x03 && (code & 0xe0) === 0xc0) {
        if ((p.imm[t] & 1) !== 0) {
          const r = p.imm[t] === 0xf1 ? 1 : src;
          m |= r;
          k |= r;
        }
      } else if (code === BPF_LD_IMM64) {
        m = p.src[t] === 0 ? m & ~dst : m | dst;
        k &= ~dst;
      } else if (cls === 0x00) {
        m &= ~CALLER_SAVED;
        k &= ~CALLER_SAVED;
      } else if ((cls === BPF_JMP || cls === BPF_JMP32) && op === BPF_CALL) {
        m = (m & ~CALLER_SAVED) | 1;
        k &= ~CALLER_SAVED;
      }
      successors(env, t, start, end, succ);
      for (const w of succ) {
        const i = w - start;
        const nm = ptr[i] | m;
        const nk = stack[i] | k;
        if (!seen[i] || nm !== ptr[i] || nk !== stack[i]) {
          ptr[i] = nm;
          stack[i] = nk;
          seen[i] = 1;
          changed = true;
        }
      }
    }
  }
  return { ptr, stack };
}

/** Every stack slot of a frame (64 slots of 8 bytes). */
const ALL_SLOTS = (1n << 64n) - 1n;

/** Bit of the slot holding frame offset `off`. */
function slotBit(off: number): bigint {
  const spi = (-off - 1) >> 3;
  return spi >= 0 && spi < 64 ? 1n << BigInt(spi) : 0n;
}

/** Whether helper `t` hands a BPF callback the memory it is given (bpf_loop's ctx ...). */
function callsBack(env: VerifierEnv, t: number): boolean {
  if (env.prog.src[t] !== 0) return false;
  return HELPER_PROTOS.get(env.prog.imm[t])?.args.includes("func") ?? true;
}

/**
 * One backward step of the precision analysis: the registers and own-frame stack slots whose
 * scalar value matters before instruction `t`, given those that matter after it.
 */
function precisionStep(
  env: VerifierEnv,
  t: number,
  regs: number,
  slots: bigint,
  exitR0: boolean,
  mayPtr: number,
  mayStack: number,
  condSource: (t: number) => boolean,
): [number, bigint] {
  const p = env.prog;
  const code = p.code[t];
  const cls = code & 0x07;
  const dstNo = p.dst[t];
  const srcNo = p.src[t];
  const dst = 1 << dstNo;
  const src = 1 << srcNo;
  const x = (code & 0x08) !== 0;
  const off = p.off[t];
  const size = code & 0x18;
  switch (cls) {
    case 0x04:
    case 0x07: {
      const op = code & 0xf0;
      if (op === 0xb0) {
        if ((regs & dst) === 0) return [regs, slots];
        return [(regs & ~dst) | (x ? src : 0), slots];
      }
      let need = regs;
      // pointer arithmetic with a scalar: the scalar's value becomes the pointer's offset
      if (cls === 0x07 && x && (op === 0x00 || op === 0x10) && (mayPtr & (dst | src)) !== 0) need |= dst | src;
      if ((regs & dst) !== 0 && x && op !== 0x80 && op !== 0xd0) need |= src;
      return [need, slots];
    }
    case 0x01: {
      if ((regs & dst) === 0) return [regs, slots];
      // a fill needs the spilled value; a load through another pointer may read any slot
      return [regs & ~dst, slots | (srcNo === 10 ? slotBit(off) : ALL_SLOTS)];
    }
    case 0x02:
      if (dstNo === 10 && size === 0x18 && off % 8 === 0) return [regs, slots & ~slotBit(off)];
      return [regs, slots];
    case 0x03: {
      if ((code & 0xe0) === 0xc0) {
        const imm = p.imm[t];
        const base = dstNo === 10 ? ((slots & slotBit(off)) !== 0n ? src : 0) : (mayStack & dst) !== 0 ? src : 0;
        if (imm === 0xf1) return [(regs & ~R0) | base | R0, slots];
        if (imm === 0x100) return [regs & ~dst, slots | ((regs & dst) !== 0 ? ALL_SLOTS : 0n)];
        return [((imm & 1) !== 0 ? regs & ~src : regs) | base, slots];
      }
      // a value stored through a stack pointer may be filled and needed later; elsewhere not
      if (dstNo !== 10) return [(mayStack & dst) !== 0 ? regs | src : regs, slots];
      const bit = slotBit(off);
      if ((slots & bit) === 0n) return [regs, slots];
      const full = size === 0x18 && off % 8 === 0;
      return [regs | src, full ? slots & ~bit : slots];
    }
    case 0x00:
      if (code === BPF_LD_IMM64) return [regs & ~dst, slots];
      return [regs & ~CALLER_SAVED, slots];
    default: {
      const op = code & 0xf0;
      if (op === BPF_EXIT) return [exitR0 ? R0 : 0, 0n];
      if (op === BPF_CALL) {
        const args = callPreciseArgs(env, t);
        const shared = srcNo === 1 || callsBack(env, t);
        return [(regs & ~CALLER_SAVED) | args, shared ? ALL_SLOTS : slots];
      }
      if (op === BPF_JA || op === 0xe0) return [regs, slots];
      return condSource(t) ? [regs | dst | (x ? src : 0), slots] : [regs, slots];
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

/** Register facts of the whole program: live registers, precise registers and precise slots. */
interface Facts {
  readonly live: Uint16Array;
  readonly precise: Uint16Array;
  readonly preciseSlots: BigUint64Array;
}

/** The two dataflow analyses, with `condSource(t)` telling whether conditional jump `t` needs its operands. */
function registerFacts(env: VerifierEnv, out: Facts, condSource: (t: number) => boolean): void {
  const p = env.prog;
  const n = p.length;
  const { live, precise, preciseSlots } = out;
  const use = new Uint16Array(n);
  const def = new Uint16Array(n);
  for (let t = 0; t < n; t++) {
    const ud = useDef(env, t);
    use[t] = ud.use | FP;
    def[t] = ud.def;
    live[t] = 0;
    precise[t] = 0;
    preciseSlots[t] = 0n;
  }
  const succ: number[] = [];
  for (let s = 0; s < env.subprogs.length; s++) {
    const start = env.subprogs[s].start;
    const end = env.subprogEnd(s);
    const exitR0 = exitNeedsR0(env, s);
    const facts = pointerFacts(env, start, end, s === 0);
    let changed = true;
    while (changed) {
      changed = false;
      for (let t = end - 1; t >= start; t--) {
        if (t > start && p.code[t - 1] === BPF_LD_IMM64) continue; // second slot
        successors(env, t, start, end, succ);
        let liveOut = 0;
        let needOut = 0;
        let slotsOut = 0n;
        for (const w of succ) {
          liveOut |= live[w];
          needOut |= precise[w];
          slotsOut |= preciseSlots[w];
        }
        const liveIn = use[t] | (liveOut & ~def[t]);
        const [regsIn, slotsIn] = precisionStep(
          env,
          t,
          needOut,
          slotsOut,
          exitR0,
          facts.ptr[t - start],
          facts.stack[t - start],
          condSource,
        );
        const needIn = regsIn & liveIn;
        if (liveIn !== live[t] || needIn !== precise[t] || slotsIn !== preciseSlots[t]) {
          live[t] = liveIn;
          precise[t] = needIn;
          preciseSlots[t] = slotsIn;
          changed = true;
        }
      }
    }
  }
}

/** Fills `env.aux.liveIn`, `preciseIn` and `preciseSlotsIn` (see the module comment). */
export function computeRegisterFacts(env: VerifierEnv): void {
  registerFacts(
    env,
    { live: env.aux.liveIn, precise: env.aux.preciseIn, preciseSlots: env.aux.preciseSlotsIn },
    () => true,
  );
}

/**
 * Precision as it stands so far, for the comparisons the kernel makes against states still
 * being explored (a may_goto loop's earlier iterations): there the kernel only knows the
 * precise marks set up to now, and a conditional jump sets them only once its outcome was
 * decided from the bounds (`check_cond_jmp_op` calling `mark_chain_precision` when
 * `is_branch_taken` answers) — an undecided loop condition leaves its counter imprecise, so
 * iterations that differ only in it are the same state to the kernel. `env.aux.condDecided`
 * records the jumps decided on some path so far; the facts are recomputed when it grows.
 */
export function loopPrecision(env: VerifierEnv): { precise: Uint16Array; preciseSlots: BigUint64Array } {
  const aux = env.aux;
  if (aux.loopFacts === null || aux.loopFactsVersion !== aux.condDecidedVersion) {
    const n = env.prog.length;
    const out: Facts = { live: new Uint16Array(n), precise: new Uint16Array(n), preciseSlots: new BigUint64Array(n) };
    registerFacts(env, out, (t) => aux.condDecided[t] === 1);
    aux.loopFacts = out;
    aux.loopFactsVersion = aux.condDecidedVersion;
  }
  return aux.loopFacts;
}
