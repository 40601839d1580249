/**
 * Call frames and the references a path holds: kernel/bpf/verifier.c v6.12 `setup_func_entry`,
 * the `set_*_callee_state` / `set_*_callback_state` callbacks that fill a callee's argument
 * registers, `push_callback_call` and `push_async_cb` (callbacks are explored as their own
 * branch), `prepare_func_exit` (return to the caller, or for a callback back to the calling
 * helper, with the callback's R0 checked), `clear_caller_saved_registers`,
 * `acquire_reference_state` / `release_reference`, and `clear_all_pkt_pointers`.
 */
import { E2BIG, EACCES, EINVAL, type VerifierEnv } from "./env.ts";
import { findPrevEntry, widenImpreciseScalars } from "./prune.ts";
import {
  type MapKeyReg,
  type MapPtrReg,
  type MapValueReg,
  NOT_INIT,
  type RegState,
  unknownScalar,
  type VerifierMap,
  ZERO_VAR,
} from "./reg.ts";
import { retvalRangeWithin, verboseInvalidScalar } from "./retcode.ts";
import { FuncState, VerifierState } from "./state.ts";

/** MAX_CALL_FRAMES */
export const MAX_CALL_FRAMES = 8;

/** Fills a callee frame's registers from its caller's (a `set_callee_state_fn`). */
export type SetCalleeState = (caller: FuncState, callee: FuncState) => void;

/** `set_callee_state`: a bpf-to-bpf call passes R1-R5. */
export const setCalleeState: SetCalleeState = (caller, callee) => {
  for (let i = 1; i <= 5; i++) callee.regs[i] = caller.regs[i];
};

/** `set_loop_callback_state`: callback(u32 index, void *ctx) returning 0 or 1. */
export const setLoopCallbackState: SetCalleeState = (caller, callee) => {
  callee.regs[1] = unknownScalar();
  callee.regs[2] = caller.regs[3];
  callee.regs[3] = NOT_INIT;
  callee.regs[4] = NOT_INIT;
  callee.regs[5] = NOT_INIT;
  callee.inCallbackFn = true;
  callee.callbackRetRange = { min: 0, max: 1 };
};

function mapPtr(map: VerifierMap): MapPtrReg {
  return { kind: "map_ptr", map, off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
}

function mapKey(map: VerifierMap): MapKeyReg {
  return { kind: "map_key", map, off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
}

function mapValue(map: VerifierMap): MapValueReg {
  return { kind: "map_value", map, off: 0, var: ZERO_VAR, id: 0, refObjId: 0, maybeNull: false };
}

/** `set_map_elem_callback_state`: callback(map, key, value, ctx) returning 0 or 1. */
export function setMapElemCallbackState(map: VerifierMap): SetCalleeState {
  return (caller, callee) => {
    callee.regs[1] = mapPtr(map);
    callee.regs[2] = mapKey(map);
    callee.regs[3] = mapValue(map);
    callee.regs[4] = caller.regs[3];
    callee.regs[5] = NOT_INIT;
    callee.inCallbackFn = true;
    callee.callbackRetRange = { min: 0, max: 1 };
  };
}

/** `set_timer_callback_state`: callback(map, key, timer value) of an async timer, returning 0. */
export function setTimerCallbackState(map: VerifierMap): SetCalleeState {
  return (_caller, callee) => {
    callee.regs[1] = mapPtr(map);
    callee.regs[2] = mapKey(map);
    callee.regs[3] = mapValue(map);
    callee.regs[4] = NOT_INIT;
    callee.regs[5] = NOT_INIT;
    callee.inAsyncCallbackFn = true;
    callee.callbackRetRange = { min: 0, max: 0 };
  };
}

/** `set_rbtree_add_callback_state`: less(node a, node b) returning 0 or 1, under the lock. */
export function setRbtreeAddCallbackState(node: RegState): SetCalleeState {
  return (_caller, callee) => {
    callee.regs[1] = node;
    callee.regs[2] = node;
    callee.regs[3] = NOT_INIT;
    callee.regs[4] = NOT_INIT;
    callee.regs[5] = NOT_INIT;
    callee.inCallbackFn = true;
    callee.callbackRetRange = { min: 0, max: 1 };
  };
}

/** `setup_func_entry`: a new frame for `subprog` called from `callsite` on path `state`. */
export function setupFuncEntry(
  env: VerifierEnv,
  state: VerifierState,
  subprog: number,
  callsite: number,
  set: SetCalleeState,
): void {
  if (state.curframe + 1 >= MAX_CALL_FRAMES) env.reject(E2BIG, "CALL_STACK_TOO_DEEP", state.curframe + 2);
  const caller = state.cur;
  const callee = new FuncState(callsite, state.curframe + 1, subprog);
  callee.regs[10] = { kind: "fp", frameno: callee.frameno, off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
  set(caller, callee);
  state.frames.push(callee);
}

/** `clear_caller_saved_registers` (R0-R5). */
export function clearCallerSavedRegs(regs: RegState[]): void {
  for (let i = 0; i <= 5; i++) regs[i] = NOT_INIT;
}

/**
 * `push_callback_call`: subprogram `subprog` becomes a callback; an async one starts a fresh
 * path of its own, a synchronous one is explored as a call from `pc` on a queued copy of the
 * current state (the current path continues after the helper, as if no more iterations).
 */
export function pushCallbackCall(
  env: VerifierEnv,
  pc: number,
  subprog: number,
  set: SetCalleeState,
  async: boolean,
): void {
  const sub = env.subprogs[subprog];
  sub.isCb = true;
  const caller = env.state.cur;
  if (async) {
    sub.isAsyncCb = true;
    const frame = new FuncState(-1, 0, subprog);
    frame.regs[10] = { kind: "fp", frameno: 0, off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
    frame.asyncEntryCnt = caller.asyncEntryCnt + 1;
    set(caller, frame);
    const st = new VerifierState([frame]);
    env.stack.push({ state: st, insnIdx: sub.start, prevInsnIdx: pc });
    return;
  }
  const cb = env.pushStack(sub.start, pc);
  setupFuncEntry(env, cb, subprog, pc, set);
  cb.callbackUnrollDepth++;
  cb.frames[cb.curframe - 1].callbackDepth++;
  caller.callbackDepth = 0;
}

/**
 * `prepare_func_exit`: leaves the current frame; returns the instruction to continue at (after
 * the call, or the calling helper itself for a callback, which decides whether to iterate).
 */
export function prepareFuncExit(env: VerifierEnv): number {
  const st = env.state;
  const callee = st.cur;
  const r0 = callee.regs[0];
  if (r0.kind === "fp") env.reject(EINVAL, "RETURN_STACK_PTR");
  const caller = st.frames[st.frames.length - 2];
  if (callee.inCallbackFn) {
    if (r0.kind !== "scalar") env.reject(EACCES, "CALLBACK_NOT_SCALAR");
    if (!retvalRangeWithin(callee.callbackRetRange, r0.s)) {
      verboseInvalidScalar(env, r0.s, callee.callbackRetRange, "At callback return", "R0");
      env.fail(EINVAL);
    }
  } else {
    caller.regs[0] = r0;
  }
  const inCallback = callee.inCallbackFn;
  const next = inCallback ? callee.callsite : callee.callsite + 1;
  st.frames.pop();
  if (inCallback) {
    const prev = findPrevEntry(env, next);
    if (prev !== null) widenImpreciseScalars(env, prev.state, st, next);
  }
  return next;
}

/** `acquire_reference_state`: a new reference acquired at `insnIdx`; returns its id. */
export function acquireReference(env: VerifierEnv, insnIdx: number): number {
  const st = env.state;
  const id = ++env.idGen;
  const f = st.cur;
  st.refs = [...st.refs, { id, insnIdx, callbackRef: f.inCallbackFn ? f.frameno : 0 }];
  return id;
}

/** `release_reference`: drops reference `refObjId`; every pointer holding it becomes unusable. */
export function releaseReference(env: VerifierEnv, refObjId: number): boolean {
  const st = env.state;
  const before = st.refs.length;
  st.refs = st.refs.filter((r) => r.id !== refObjId);
  if (st.refs.length === before) return false;
  st.mapRegs((r) => ("refObjId" in r && r.refObjId === refObjId ? unknownScalar() : r));
  return true;
}

/** `clear_all_pkt_pointers`: after a helper that may move packet data. */
export function clearAllPktPointers(env: VerifierEnv): void {
  env.state.mapRegs((r) =>
    r.kind === "pkt" || r.kind === "pkt_meta" || r.kind === "pkt_end" || (r.kind === "mem" && r.pktSlice === true)
      ? unknownScalar()
      : r,
  );
}
