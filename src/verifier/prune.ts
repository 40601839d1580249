/**
 * State pruning: kernel/bpf/verifier.c v6.12 `is_state_visited` with `states_equal`,
 * `func_states_equal`, `regsafe`, `stacksafe`, `refsafe`, `check_ids` / `check_scalar_ids`,
 * `update_branch_counts`, `find_prev_entry` and `widen_imprecise_scalars`.
 *
 * At a prune point the current state is compared with the states saved there before. A saved
 * state whose every continuation has been verified (`branches == 0`) and which allows at least
 * everything the current one can hold proves the current path safe: it is pruned. A saved state
 * still being explored is an ancestor on a loop: if it equals the current one exactly the loop
 * cannot make progress ("infinite loop detected"); at instructions that call callbacks and at
 * may_goto, inclusion in such a state also ends the path, as in the kernel.
 *
 * Two deliberate differences from v6.12, both on the safe side (fewer states pruned, never a
 * wrong prune): registers are compared only when live according to the static liveness of
 * cfg.ts instead of the kernel's read marks, and every scalar is compared by its range —
 * the kernel's precision tracking, which lets it ignore scalars nothing depended on, is not
 * modelled (widening, which only loses knowledge, treats every scalar as imprecise).
 * Against a may_goto loop's earlier iterations (states still being explored) the kernel only
 * has the precision marks set so far; there the comparison and the widening use
 * liveness.ts `loopPrecision`, where a conditional jump counts once the bounds decided it.
 */
import { EINVAL, type VerifierEnv } from "./env.ts";
import { loopPrecision } from "./liveness.ts";
import { isPointer, type RegState, unknownScalar } from "./reg.ts";
import {
  BPF_REG_SIZE,
  Checkpoint,
  type FuncState,
  isSpilledReg,
  STACK_DYNPTR,
  STACK_INVALID,
  STACK_ITER,
  STACK_MISC,
  STACK_SPILL,
  STACK_ZERO,
  type StackSlot,
  type VerifierState,
} from "./state.ts";
import { tnumIsConst } from "./tnum.ts";

/** `struct bpf_idmap`: old id → current id, built while comparing two states. */
class IdMap {
  readonly old: number[] = [];
  readonly cur: number[] = [];
  tmp = 1 << 30;

  /** `check_ids` */
  check(o: number, c: number): boolean {
    if ((o === 0) !== (c === 0)) return false;
    if (o === 0) return true;
    for (let i = 0; i < this.old.length; i++) {
      if (this.old[i] === o) return this.cur[i] === c;
      if (this.cur[i] === c) return false;
    }
    this.old.push(o);
    this.cur.push(c);
    return true;
  }

  /** `check_scalar_ids`: a zero id stands for a fresh, unique one. */
  checkScalar(o: number, c: number): boolean {
    return this.check(o === 0 ? ++this.tmp : o, c === 0 ? ++this.tmp : c);
  }
}

/** Fields of two pointers of the same kind other than ids and offsets (the kernel's memcmp). */
function samePointee(a: RegState, b: RegState): boolean {
  switch (a.kind) {
    case "map_ptr":
    case "map_key":
      return b.kind === a.kind && a.map === b.map;
    case "map_value":
      return b.kind === a.kind && a.map === b.map && a.maybeNull === b.maybeNull;
    case "fp":
      return b.kind === a.kind && a.frameno === b.frameno;
    case "func":
      return b.kind === a.kind && a.subprogno === b.subprogno;
    case "mem":
      return (
        b.kind === a.kind &&
        a.memSize === b.memSize &&
        a.maybeNull === b.maybeNull &&
        a.rdonly === b.rdonly &&
        a.ringbuf === b.ringbuf
      );
    case "btf_id":
      return (
        b.kind === a.kind &&
        a.typeName === b.typeName &&
        a.maybeNull === b.maybeNull &&
        a.alloc === b.alloc &&
        a.untrusted === b.untrusted
      );
    case "pkt":
    case "pkt_meta":
      return b.kind === a.kind && a.range === b.range;
    default:
      return a.kind === b.kind;
  }
}

/** `regs_exact` */
function regsExact(a: RegState, b: RegState, idmap: IdMap): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "not_init") return true;
  if (a.kind === "scalar") {
    return (
      b.kind === "scalar" &&
      a.s.equals(b.s) &&
      a.addConst === b.addConst &&
      a.delta === b.delta &&
      idmap.check(a.id, b.id)
    );
  }
  if (!isPointer(b)) return false;
  return (
    samePointee(a, b) &&
    a.off === b.off &&
    a.var.equals(b.var) &&
    idmap.check(a.id, b.id) &&
    idmap.check(a.refObjId, b.refObjId)
  );
}

/**
 * `regsafe`: every value `cur` may hold, `old` may hold too; an imprecise scalar (`precise`
 * false) holds anything.
 */
function regsafe(old: RegState, cur: RegState, idmap: IdMap, exact: boolean, precise: boolean): boolean {
  if (exact) return regsExact(old, cur, idmap);
  if (old.kind === "not_init") return true;
  if (old.kind !== cur.kind) return false;
  switch (old.kind) {
    case "scalar":
      if (!precise) return true;
      if (cur.kind !== "scalar" || old.addConst !== cur.addConst) return false;
      if (old.addConst && old.delta !== cur.delta) return false;
      return old.s.contains(cur.s) && idmap.checkScalar(old.id, cur.id);
    case "map_key":
    case "map_value":
    case "mem":
      return (
        isPointer(cur) &&
        samePointee(old, cur) &&
        old.off === cur.off &&
        old.var.contains(cur.var) &&
        idmap.check(old.id, cur.id) &&
        idmap.check(old.refObjId, cur.refObjId)
      );
    case "pkt":
    case "pkt_meta":
      if (cur.kind !== old.kind) return false;
      if (old.range > cur.range) return false;
      if (old.off !== cur.off) return false;
      if (!idmap.check(old.id, cur.id)) return false;
      return old.var.contains(cur.var);
    default:
      return regsExact(old, cur, idmap);
  }
}

/** `scalar_reg_for_stack`: a slot read as a 64-bit scalar, when it is one. */
function scalarForStack(slot: StackSlot): RegState | null {
  if (isSpilledReg(slot) && slot.spilled.kind === "scalar") {
    let all = true;
    for (let i = 0; i < BPF_REG_SIZE; i++) if (slot.types[i] !== STACK_SPILL) all = false;
    if (all) return slot.spilled;
  }
  for (let i = 0; i < BPF_REG_SIZE; i++) {
    const t = slot.types[i];
    if (t !== STACK_MISC && t !== STACK_INVALID) return null;
  }
  return unknownScalar();
}

/** `stacksafe`; `precise` has bit i when the scalar spilled in slot i must be compared exactly. */
function stacksafe(old: FuncState, cur: FuncState, idmap: IdMap, exact: boolean, precise: bigint): boolean {
  for (let i = 0; i < old.allocatedStack; i++) {
    const spi = Math.floor(i / BPF_REG_SIZE);
    const b = i % BPF_REG_SIZE;
    const os = old.slot(spi);
    const cs = cur.slot(spi);
    if (exact && (i >= cur.allocatedStack || os.types[b] !== cs.types[b])) return false;
    if (!exact && !old.wasRead(spi)) {
      // the explored state's continuations never read this slot
      i += BPF_REG_SIZE - 1 - b;
      continue;
    }
    if (os.types[b] === STACK_INVALID) continue;
    if (os.types[b] === STACK_MISC) continue;
    if (i >= cur.allocatedStack) return false;
    const oreg = scalarForStack(os);
    const creg = scalarForStack(cs);
    const slotPrecise = ((precise >> BigInt(spi)) & 1n) !== 0n;
    if (oreg !== null && creg !== null) {
      if (!regsafe(oreg, creg, idmap, exact, slotPrecise)) return false;
      i += BPF_REG_SIZE - 1 - b;
      continue;
    }
    if (os.types[b] === STACK_MISC && cs.types[b] === STACK_ZERO) continue;
    if (os.types[b] !== cs.types[b]) return false;
    if (b !== BPF_REG_SIZE - 1) continue;
    if (os.types[b] === STACK_SPILL && !regsafe(os.spilled, cs.spilled, idmap, exact, slotPrecise)) return false;
    if (os.types[b] === STACK_ITER) {
      // the depth is left out: it only keeps iterations apart for the infinite-loop check
      const a = os.iter;
      const c = cs.iter;
      if (a === undefined || c === undefined) return false;
      if (a.type !== c.type || a.state !== c.state || !idmap.check(a.refObjId, c.refObjId)) return false;
    }
    if (os.types[b] === STACK_DYNPTR) {
      const a = os.dynptr;
      const c = cs.dynptr;
      if (a === undefined || c === undefined) return false;
      if (a.type !== c.type || a.firstSlot !== c.firstSlot || !idmap.check(a.refObjId, c.refObjId)) return false;
    }
  }
  return true;
}

/** The instruction frame `f` of `st` resumes at, and the registers clobbered before it. */
function resumePoint(st: VerifierState, f: number, insnIdx: number): { at: number; clobbered: number } {
  if (f === st.frames.length - 1) return { at: insnIdx, clobbered: 0 };
  const callee = st.frames[f + 1];
  if (callee.inCallbackFn) return { at: callee.callsite, clobbered: 0 };
  return { at: callee.callsite + 1, clobbered: 0x3f };
}

const ALL_SLOTS = (1n << 64n) - 1n;

/**
 * What of frame `f` matters at `insnIdx`: its live registers, the precise among them, and its
 * precise stack slots (all of them for a caller's frame, whose stack a callee may read).
 */
function frameMasks(
  env: VerifierEnv,
  st: VerifierState,
  f: number,
  insnIdx: number,
  soFar = false,
): { live: number; precise: number; slots: bigint } {
  const { at, clobbered } = resumePoint(st, f, insnIdx);
  if (at >= env.prog.length) return { live: 0x7c0, precise: 0x3c0, slots: ALL_SLOTS };
  const facts = soFar ? loopPrecision(env) : { precise: env.aux.preciseIn, preciseSlots: env.aux.preciseSlotsIn };
  const slots = f === st.frames.length - 1 ? facts.preciseSlots[at] : ALL_SLOTS;
  return { live: env.aux.liveIn[at] & ~clobbered, precise: facts.precise[at] & ~clobbered, slots };
}

/**
 * `states_equal` (`exact`: EXACT, else RANGE_WITHIN) at instruction `insnIdx`; `soFar` compares
 * with the precision known so far (liveness.ts `loopPrecision`), as against a state of the
 * current path.
 */
export function statesEqual(
  env: VerifierEnv,
  old: VerifierState,
  cur: VerifierState,
  insnIdx: number,
  exact: boolean,
  soFar = false,
) {
  if (old.frames.length !== cur.frames.length) return false;
  const idmap = new IdMap();
  const ol = old.activeLock;
  const cl = cur.activeLock;
  if ((ol === null) !== (cl === null)) return false;
  if (ol !== null && cl !== null && (ol.key !== cl.key || !idmap.check(ol.id, cl.id))) return false;
  if (old.activeRcuLock !== cur.activeRcuLock) return false;
  if (old.activePreemptLock !== cur.activePreemptLock) return false;
  if (old.activeIrq !== cur.activeIrq) return false;
  for (let i = 0; i < old.frames.length; i++) {
    const fo = old.frames[i];
    const fc = cur.frames[i];
    if (fo.callsite !== fc.callsite) return false;
    if (fo.callbackDepth > fc.callbackDepth) return false;
    const m = exact ? { live: 0x7ff, precise: 0x7ff, slots: ALL_SLOTS } : frameMasks(env, cur, i, insnIdx, soFar);
    for (let r = 0; r < fo.regs.length; r++) {
      if ((m.live & (1 << r)) === 0) continue;
      if (!regsafe(fo.regs[r], fc.regs[r], idmap, exact, (m.precise & (1 << r)) !== 0)) return false;
    }
    if (!stacksafe(fo, fc, idmap, exact, m.slots)) return false;
  }
  if (old.refs.length !== cur.refs.length) return false;
  for (let i = 0; i < old.refs.length; i++) if (!idmap.check(old.refs[i].id, cur.refs[i].id)) return false;
  return true;
}

/** The iterator a next() call at a prune point would advance (R1), when it is active. */
export function iterActiveAtR1(st: VerifierState): boolean {
  const r1 = st.cur.regs[1];
  if (r1.kind !== "fp" || !tnumIsConst(r1.var.varOff)) return false;
  const off = r1.off + Number(BigInt.asIntN(64, r1.var.varOff.value));
  const spi = Math.floor((-off - 1) / BPF_REG_SIZE);
  return st.frames[r1.frameno]?.slot(spi).iter?.state === "active";
}

/**
 * `iter_active_depths_differ`: an active iterator of `old` is at another depth in `cur` — two
 * iterations of an iterator loop, which look alike but are no infinite loop.
 */
export function iterActiveDepthsDiffer(old: VerifierState, cur: VerifierState): boolean {
  for (let f = 0; f < old.frames.length && f < cur.frames.length; f++) {
    const fo = old.frames[f];
    const fc = cur.frames[f];
    for (let spi = 0; spi < fo.stack.length; spi++) {
      const it = fo.stack[spi].iter;
      if (it === undefined || it.state !== "active") continue;
      if (it.depth !== fc.slot(spi).iter?.depth) return true;
    }
  }
  return false;
}

/** `states_maybe_looping`: same frames and identical registers in the current one (a quick test). */
function statesMaybeLooping(old: VerifierState, cur: VerifierState): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  const fo = old.cur;
  const fc = cur.cur;
  for (let i = 0; i < fo.regs.length; i++) {
    const a = fo.regs[i];
    const b = fc.regs[i];
    if (a === b) continue;
    if (a.kind !== b.kind) return false;
    if (a.kind === "scalar" && b.kind === "scalar" && (a.id !== b.id || !a.s.equals(b.s))) return false;
  }
  return true;
}

/** `same_callsites` */
function sameCallsites(a: VerifierState, b: VerifierState): boolean {
  if (a.frames.length !== b.frames.length) return false;
  for (let i = 0; i < a.frames.length; i++) if (a.frames[i].callsite !== b.frames[i].callsite) return false;
  return true;
}

/**
 * `find_prev_entry`: a state saved at `insnIdx`, still being explored, with the same call chain
 * (other than `exclude`: the checkpoint the current path just saved there).
 */
export function findPrevEntry(env: VerifierEnv, insnIdx: number, exclude: Checkpoint | null = null): Checkpoint | null {
  for (const cp of env.explored.get(insnIdx) ?? []) {
    if (cp !== exclude && cp.branches > 0 && sameCallsites(cp.state, env.state)) return cp;
  }
  return null;
}

/**
 * `widen_imprecise_scalars`: scalars that changed since `old` become unknown in `cur` — in
 * registers not marked precise at `insnIdx`, and in every spilled stack slot (the static slot
 * precision of liveness.ts is too coarse around callbacks, where widening matters most).
 */
export function widenImpreciseScalars(
  env: VerifierEnv,
  old: VerifierState,
  cur: VerifierState,
  insnIdx: number,
  soFar = false,
): void {
  const idmap = new IdMap();
  const widen = (o: RegState, c: RegState): RegState => {
    if (o.kind !== "scalar" || c.kind !== "scalar") return c;
    return regsExact(o, c, idmap) ? c : unknownScalar();
  };
  for (let f = Math.min(old.frames.length, cur.frames.length) - 1; f >= 0; f--) {
    const fo = old.frames[f];
    const fc = cur.frames[f];
    const { precise } = frameMasks(env, cur, f, insnIdx, soFar);
    for (let i = 0; i < fo.regs.length; i++) {
      if ((precise & (1 << i)) === 0) fc.regs[i] = widen(fo.regs[i], fc.regs[i]);
    }
    const n = Math.min(fo.stack.length, fc.stack.length);
    for (let spi = 0; spi < n; spi++) {
      const so = fo.stack[spi];
      const sc = fc.stack[spi];
      if (!isSpilledReg(so) || !isSpilledReg(sc)) continue;
      const w = widen(so.spilled, sc.spilled);
      if (w !== sc.spilled) fc.stack[spi] = { types: sc.types, spilled: w };
    }
  }
}

/**
 * `propagate_liveness`: the pruned path continues as the explored one did, so the stack slots
 * that state's continuations read are read by this path's checkpoints too.
 */
function propagateLiveness(old: VerifierState, cur: VerifierState): void {
  const n = Math.min(old.frames.length, cur.frames.length);
  for (let f = 0; f < n; f++) {
    const fo = old.frames[f];
    for (let spi = 0; spi < fo.live.length; spi++) if (fo.wasRead(spi)) cur.frames[f].markRead(spi);
  }
}

/** `update_branch_counts`: a path from `cp` ended; checkpoints whose every path ended are complete. */
export function updateBranchCounts(cp: Checkpoint | null): void {
  while (cp !== null) {
    cp.branches--;
    if (cp.branches > 0) break;
    cp = cp.parent;
  }
}

/**
 * `is_state_visited`: true when the current path can be pruned at `insnIdx`; otherwise the
 * state may be saved as a new checkpoint there. Saved states are visited newest first; one
 * that keeps failing to match (`miss_cnt` beyond `hit_cnt * n + n`) is forgotten, as in the
 * kernel, which keeps the number of comparisons per visit small.
 */
export function isStateVisited(env: VerifierEnv, insnIdx: number): boolean {
  const cur = env.state;
  const force = env.aux.forceCheckpoint[insnIdx] === 1;
  let addNew = force;
  if (env.jmpsProcessed - env.prevJmpsProcessed >= 2 && env.insnProcessed - env.prevInsnProcessed >= 8) addNew = true;
  const list = env.explored.get(insnIdx);
  if (list !== undefined) {
    const isMayGoto = env.prog.code[insnIdx] === 0xe5;
    // newest first: the list is kept oldest first, so walk it backwards
    for (let i = list.length - 1; i >= 0; i--) {
      const sl = list[i];
      let hit = false;
      if (sl.branches > 0) {
        if (env.aux.iterNext[insnIdx] === 1) {
          // an iterator loop converges when an earlier iteration still being explored covers
          // this one and the iterator may still yield (next() will return NULL eventually)
          hit = statesEqual(env, sl.state, cur, insnIdx, false, true) && iterActiveAtR1(cur);
        } else if (
          isMayGoto &&
          sl.state.mayGotoDepth !== cur.mayGotoDepth &&
          statesEqual(env, sl.state, cur, insnIdx, false, true)
        ) {
          hit = true;
        } else if (env.aux.callsCallback[insnIdx]) {
          hit = statesEqual(env, sl.state, cur, insnIdx, false);
        } else if (
          statesMaybeLooping(sl.state, cur) &&
          !iterActiveDepthsDiffer(sl.state, cur) &&
          sl.state.mayGotoDepth === cur.mayGotoDepth &&
          sl.state.callbackUnrollDepth === cur.callbackUnrollDepth &&
          statesEqual(env, sl.state, cur, insnIdx, true)
        ) {
          env.reject(EINVAL, "INFINITE_LOOP", insnIdx);
        }
        if (
          !hit &&
          !force &&
          env.jmpsProcessed - env.prevJmpsProcessed < 20 &&
          env.insnProcessed - env.prevInsnProcessed < 100
        ) {
          addNew = false;
        }
      } else {
        hit = statesEqual(env, sl.state, cur, insnIdx, false);
      }
      if (hit) {
        sl.hitCnt++;
        propagateLiveness(sl.state, cur);
        return true;
      }
      if (addNew) sl.missCnt++;
      const n = force && sl.branches > 0 ? 64 : 3;
      if (sl.missCnt > sl.hitCnt * n + n) list.splice(i, 1);
    }
  }
  if (!addNew) return false;
  env.prevJmpsProcessed = env.jmpsProcessed;
  env.prevInsnProcessed = env.insnProcessed;
  const snapshot = cur.clone();
  snapshot.parent = null;
  const cp = new Checkpoint(snapshot, insnIdx, cur.parent);
  if (list === undefined) env.explored.set(insnIdx, [cp]);
  else list.push(cp);
  cur.parent = cp;
  cur.frames.forEach((f, j) => {
    f.parentFrame = snapshot.frames[j];
    f.live = [];
  });
  env.totalStates++;
  return false;
}
