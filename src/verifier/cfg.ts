/**
 * The control-flow pass: kernel/bpf/verifier.c v6.12 `check_cfg` with `visit_insn`,
 * `visit_func_call_insn` and `push_insn` — an iterative depth-first walk from instruction 0
 * (and then from the exception callback, which nothing calls) that rejects jumps out of the
 * program and instructions no edge reaches, and marks the prune points where `do_check` saves
 * and compares states. Back-edges are loops; a CAP_BPF loader may have them, so they end the
 * walk of that edge as the kernel does for privileged programs.
 *
 * It then computes the per-instruction register facts of liveness.ts that state pruning uses.
 */
import {
  BPF_CALL,
  BPF_EXIT,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD_IMM64,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL,
} from "../isa/opcodes.ts";
import { E2BIG, EINVAL, type VerifierEnv } from "./env.ts";
import { isAsyncCallbackCallingInsn, isSyncCallbackCallingInsn } from "./helper-protos.ts";
import { KFUNCS } from "./kfuncs.ts";
import { computeRegisterFacts } from "./liveness.ts";
import { isPseudoFunc } from "./subprogs.ts";

const DISCOVERED = 0x10;
const EXPLORED = 0x20;
const FALLTHROUGH = 1;
const BRANCH = 2;
const DONE_EXPLORING = 0;
const KEEP_EXPLORING = 1;

/** `check_cfg` (see the module comment). */
export function checkCfg(env: VerifierEnv): void {
  const p = env.prog;
  const n = p.length;
  const state = new Uint8Array(n);
  const stack = new Int32Array(n);
  let cur = 0;
  const aux = env.aux;

  const markPrune = (t: number): void => {
    aux.prunePoint[t] = 1;
  };

  const pushInsn = (t: number, w: number, e: number): number => {
    if (e === FALLTHROUGH && state[t] >= (DISCOVERED | FALLTHROUGH)) return DONE_EXPLORING;
    if (e === BRANCH && state[t] >= (DISCOVERED | BRANCH)) return DONE_EXPLORING;
    if (w < 0 || w >= n) {
      env.insnIdx = t;
      env.reject(EINVAL, "JUMP_OUT_OF_RANGE", t, w);
    }
    if (e === BRANCH) markPrune(w);
    if (state[w] === 0) {
      state[t] = DISCOVERED | e;
      state[w] = DISCOVERED;
      if (cur >= n) env.fail(E2BIG);
      stack[cur++] = w;
      return KEEP_EXPLORING;
    }
    if ((state[w] & 0xf0) === DISCOVERED) {
      // a back-edge: a loop, which CAP_BPF programs may contain
      return DONE_EXPLORING;
    }
    if (state[w] === EXPLORED) {
      state[t] = DISCOVERED | e;
      return DONE_EXPLORING;
    }
    return DONE_EXPLORING;
  };

  const visitFuncCall = (t: number, visitCallee: boolean): number => {
    const sz = p.code[t] === BPF_LD_IMM64 ? 2 : 1;
    const r = pushInsn(t, t + sz, FALLTHROUGH);
    if (r !== DONE_EXPLORING) return r;
    markPrune(t + sz);
    if (visitCallee) {
      markPrune(t);
      return pushInsn(t, t + p.imm[t] + 1, BRANCH);
    }
    return r;
  };

  const visitInsn = (t: number): number => {
    const code = p.code[t];
    if (isPseudoFunc(env, t)) return visitFuncCall(t, true);
    const cls = code & 0x07;
    if (cls !== BPF_JMP && cls !== BPF_JMP32) return pushInsn(t, t + (code === BPF_LD_IMM64 ? 2 : 1), FALLTHROUGH);
    const op = code & 0xf0;
    switch (op) {
      case BPF_EXIT:
        return DONE_EXPLORING;
      case BPF_CALL:
        if (isAsyncCallbackCallingInsn(env, t)) markPrune(t);
        if (isSyncCallbackCallingInsn(env, t)) {
          aux.callsCallback[t] = 1;
          aux.forceCheckpoint[t] = 1;
          markPrune(t);
        }
        if (p.src[t] === BPF_PSEUDO_KFUNC_CALL && KFUNCS.get(env.cfg.kfuncs.get(p.imm[t]) ?? "")?.iter === "next") {
          // iterator loops converge at their next() calls: always save a state there
          aux.iterNext[t] = 1;
          aux.forceCheckpoint[t] = 1;
          markPrune(t);
        }
        return visitFuncCall(t, p.src[t] === BPF_PSEUDO_CALL);
      case BPF_JA: {
        const off = cls === BPF_JMP ? p.off[t] : p.imm[t];
        const r = pushInsn(t, t + off + 1, FALLTHROUGH);
        if (r !== DONE_EXPLORING) return r;
        markPrune(t + off + 1);
        return r;
      }
      default: {
        markPrune(t);
        const r = pushInsn(t, t + 1, FALLTHROUGH);
        if (r !== DONE_EXPLORING) return r;
        return pushInsn(t, t + p.off[t] + 1, BRANCH);
      }
    }
  };

  const walk = (from: number): void => {
    state[from] = DISCOVERED;
    stack[0] = from;
    cur = 1;
    while (cur > 0) {
      const t = stack[cur - 1];
      if (visitInsn(t) === DONE_EXPLORING) {
        state[t] = EXPLORED;
        cur--;
      }
    }
  };

  walk(0);
  if (env.exceptionCallbackSubprog !== 0) walk(env.subprogs[env.exceptionCallbackSubprog].start);

  for (let i = 0; i < n; i++) {
    if (state[i] !== EXPLORED) {
      env.insnIdx = i;
      env.reject(EINVAL, "UNREACHABLE_INSN", i);
    }
    if (p.code[i] === BPF_LD_IMM64) {
      if (state[i + 1] !== 0) {
        env.insnIdx = i;
        env.reject(EINVAL, "JUMP_INTO_LDIMM64", i);
      }
      i++;
    }
  }
  computeRegisterFacts(env);
}
