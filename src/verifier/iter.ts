/**
 * Open-coded iterators (`bpf_iter_<type>_new/next/destroy` kfuncs, e.g. bpf_iter_num_*): the
 * iterator lives in stack slots of type STACK_ITER, created by a KF_ITER_NEW kfunc, advanced by
 * KF_ITER_NEXT and released by KF_ITER_DESTROY (kernel/bpf/verifier.c v6.12 `process_iter_arg`,
 * `mark_stack_slots_iter`, `unmark_stack_slots_iter`, `is_iter_reg_valid_uninit/init`,
 * `process_iter_next_call`).
 *
 * The verifier cannot know how many elements an iterator yields, so a next() call forks: the
 * current path sees NULL and the iterator drained, a queued path gets an element and the
 * iterator one level deeper. The loop converges when a next() call is reached in a state that
 * an earlier iteration still being explored already covers (prune.ts); iterators promise to
 * return NULL eventually, which is what makes that sound.
 */
import { EFAULT, EINVAL, type VerifierEnv } from "./env.ts";
import { acquireReference, releaseReference } from "./frames.ts";
import type { KfuncDesc } from "./kfuncs.ts";
import { checkMemAccess } from "./mem.ts";
import { findPrevEntry, widenImpreciseScalars } from "./prune.ts";
import { knownScalar, NOT_INIT, type StackReg } from "./reg.ts";
import { BPF_REG_SIZE, EMPTY_SLOT, type IterSlot, STACK_ITER, type VerifierState } from "./state.ts";
import { tnumIsConst } from "./tnum.ts";

/** Where an iterator argument points: its first slot (`spi`) and the frame. */
export interface IterRef {
  readonly spi: number;
  readonly frameno: number;
}

/**
 * `stack_slot_obj_get_spi` for an object of `nrSlots` slots (`kind` names it in messages):
 * the slot index, or -1 when it lies beyond the allocated stack (-ERANGE: fine for a
 * constructor, which grows the stack).
 */
export function stackObjSpi(env: VerifierEnv, reg: StackReg, kind: string, nrSlots: number): number {
  if (!tnumIsConst(reg.var.varOff)) env.reject(EINVAL, "STACK_OBJ_VAR_OFF", kind);
  const off = reg.off + Number(BigInt.asIntN(64, reg.var.varOff.value));
  if (off % BPF_REG_SIZE !== 0) env.reject(EINVAL, "STACK_OBJ_BAD_OFF", kind, off);
  const spi = Math.floor((-off - 1) / BPF_REG_SIZE);
  if (spi + 1 < nrSlots) env.reject(EINVAL, "STACK_OBJ_BAD_OFF", kind, off);
  const allocated = env.state.frames[reg.frameno].allocatedStack / BPF_REG_SIZE;
  if (spi >= allocated || spi - nrSlots + 1 < 0) return -1;
  return spi;
}

/** The iterator state in the first slot of `ref` in `st`. */
function iterAt(st: VerifierState, ref: IterRef): IterSlot | undefined {
  return st.frames[ref.frameno].slot(ref.spi).iter;
}

/** Whether every slot of the object at `ref` holds an iterator of `type`. */
function validInit(env: VerifierEnv, ref: IterRef, nrSlots: number, type: string): boolean {
  const frame = env.state.frames[ref.frameno];
  for (let i = 0; i < nrSlots; i++) {
    const slot = frame.slot(ref.spi - i);
    if (slot.types.some((t) => t !== STACK_ITER)) return false;
    if (slot.iter === undefined || slot.iter.type !== type) return false;
    if (i === 0 && slot.iter.refObjId === 0) return false;
  }
  return true;
}

/**
 * `process_iter_arg` for argument `argIdx` (register `argIdx + 1`) of a KF_ITER_* kfunc:
 * constructs, checks or destroys the iterator; returns where it is.
 */
export function processIterArg(env: VerifierEnv, pc: number, argIdx: number, desc: KfuncDesc): IterRef {
  const regno = argIdx + 1;
  const reg = env.state.cur.regs[regno];
  const type = desc.iterType ?? "";
  if (reg.kind !== "fp") env.reject(EINVAL, "ITER_ARG_NOT_STACK", argIdx);
  const nrSlots = (desc.iterSize ?? BPF_REG_SIZE) / BPF_REG_SIZE;
  const spi = stackObjSpi(env, reg, "iter", nrSlots);
  const frame = env.state.frames[reg.frameno];
  if (desc.iter === "new") {
    // the slots must not hold an iterator already (beyond the stack is fine: it grows below)
    if (spi >= 0) {
      for (let i = 0; i < nrSlots; i++) {
        if (frame.slot(spi - i).types.includes(STACK_ITER)) env.reject(EINVAL, "ITER_EXPECTED_UNINIT", type, regno);
      }
    }
    // the constructor writes the whole object
    for (let off = 0; off < nrSlots * BPF_REG_SIZE; off += BPF_REG_SIZE) {
      checkMemAccess(env, regno, off, BPF_REG_SIZE, true, -1, false, null);
    }
    const first = stackObjSpi(env, reg, "iter", nrSlots);
    const refObjId = acquireReference(env, pc);
    for (let i = 0; i < nrSlots; i++) {
      frame.stack[first - i] = {
        types: new Uint8Array(BPF_REG_SIZE).fill(STACK_ITER),
        spilled: NOT_INIT,
        iter: { type, state: "active", depth: 0, refObjId: i === 0 ? refObjId : 0 },
      };
      frame.markWritten(first - i);
    }
    return { spi: first, frameno: reg.frameno };
  }
  const ref = { spi, frameno: reg.frameno };
  if (spi < 0 || !validInit(env, ref, nrSlots, type)) env.reject(EINVAL, "ITER_EXPECTED_INIT", type, regno);
  // `mark_iter_read`: the iterator is read, for the stack liveness of pruning
  for (let i = 0; i < nrSlots; i++) frame.markRead(spi - i);
  if (desc.iter === "destroy") {
    const refObjId = iterAt(env.state, ref)?.refObjId ?? 0;
    releaseReference(env, refObjId);
    for (let i = 0; i < nrSlots; i++) {
      frame.stack[spi - i] = EMPTY_SLOT;
      frame.markWritten(spi - i);
    }
  }
  return ref;
}

/**
 * `process_iter_next_call`, after R0 was set to the maybe-NULL element: while the iterator is
 * active a path with an element (R0 not NULL) and the iterator one level deeper is queued,
 * widened against the previous iteration's state; the current path goes on with NULL and the
 * iterator drained.
 */
export function processIterNextCall(env: VerifierEnv, pc: number, ref: IterRef): void {
  const cur = env.state;
  const it = iterAt(cur, ref);
  if (it === undefined) env.fail(EFAULT);
  if (it.state === "active") {
    const prev = findPrevEntry(env, pc, cur.parent);
    const queued = env.pushStack(pc + 1, pc);
    const qf = queued.frames[ref.frameno];
    qf.stack[ref.spi] = { ...qf.slot(ref.spi), iter: { ...it, state: "active", depth: it.depth + 1 } };
    if (prev !== null) widenImpreciseScalars(env, prev.state, queued, pc + 1, true);
    const r0 = queued.cur.regs[0];
    if (r0.kind === "mem") queued.cur.regs[0] = { ...r0, maybeNull: false };
  }
  const f = cur.frames[ref.frameno];
  f.stack[ref.spi] = { ...f.slot(ref.spi), iter: { ...it, state: "drained" } };
  cur.cur.regs[0] = knownScalar(0n);
}
