/**
 * The verifier's state of one path: call frames with registers and stack, and the resources the
 * path holds. Mirrors `struct bpf_func_state` and `struct bpf_verifier_state`
 * (include/linux/bpf_verifier.h, v6.12).
 *
 * Stack layout of a frame, as the kernel keeps it: 8-byte slots counted down from the frame
 * pointer, each byte with a slot type, and a whole spilled register per slot.
 *
 *   fp-1 .. fp-8    slot 0   types[0] = byte fp-1 ... types[7] = byte fp-8
 *   fp-9 .. fp-16   slot 1
 *   ...
 *
 * A spill of a full register marks all eight bytes STACK_SPILL and keeps the register in
 * `spilled`; `types[7] === STACK_SPILL` is the kernel's `is_spilled_reg`.
 *
 * One deliberate difference: v6.12 keeps acquired references in each frame and hands them to a
 * callee on a call and back on return, so only the current frame ever holds them; here they live
 * in the path state, which is the same information.
 */
import { MAX_BPF_REG, NOT_INIT, type RegState } from "./reg.ts";

/** Slot types (`enum bpf_stack_slot_type`). */
export const STACK_INVALID = 0;
export const STACK_SPILL = 1;
export const STACK_MISC = 2;
export const STACK_ZERO = 3;
/** Part of a `struct bpf_dynptr` (dynptr.ts). */
export const STACK_DYNPTR = 4;
/** Part of an open-coded iterator (iter.ts). */
export const STACK_ITER = 5;

/** Stack slot liveness bits (`REG_LIVE_WRITTEN`, `REG_LIVE_READ`). */
export const LIVE_WRITTEN = 1;
export const LIVE_READ = 2;

/** Bytes per stack slot (BPF_REG_SIZE). */
export const BPF_REG_SIZE = 8;

/**
 * An open-coded iterator in STACK_ITER slots (the kernel's `spilled_ptr.iter`): its type
 * (`bpf_iter_<type>`), whether it may still yield (`BPF_ITER_STATE_ACTIVE`) or returned NULL
 * (`DRAINED`), how many next() calls deep this path is, and the reference it holds (first
 * slot only).
 */
export interface IterSlot {
  readonly type: string;
  readonly state: "active" | "drained";
  readonly depth: number;
  readonly refObjId: number;
}

/**
 * A `struct bpf_dynptr` in STACK_DYNPTR slots (the kernel's `spilled_ptr.dynptr`): its kind
 * (`BPF_DYNPTR_TYPE_*`), which of its two slots this is, its id (slices taken from it carry it)
 * and its reference (0: not refcounted).
 */
export interface DynptrSlot {
  readonly type: "local" | "ringbuf" | "skb" | "xdp";
  readonly firstSlot: boolean;
  readonly id: number;
  readonly refObjId: number;
}

/** One 8-byte stack slot; immutable. */
export interface StackSlot {
  /** Slot type of each byte (see the module comment for the byte order). */
  readonly types: Uint8Array;
  /** The register spilled here (meaningful while some bytes are STACK_SPILL). */
  readonly spilled: RegState;
  /** STACK_ITER slots: the iterator. */
  readonly iter?: IterSlot;
  /** STACK_DYNPTR slots: the dynptr. */
  readonly dynptr?: DynptrSlot;
}

/** An empty (STACK_INVALID) slot. */
export const EMPTY_SLOT: StackSlot = { types: new Uint8Array(BPF_REG_SIZE), spilled: NOT_INIT };

/** The slot index of the byte at frame offset `off` (negative). */
export function slotIndex(off: number): number {
  return (-off - 1) >> 3;
}

/** The byte index inside its slot of the byte at frame offset `off`. */
export function byteIndex(off: number): number {
  return (-off - 1) & 7;
}

/** `is_stack_slot_special`: a spill, a dynptr or an iterator (a plain write scrubs it to STACK_MISC). */
export function isSpecialSlot(slot: StackSlot): boolean {
  const t = slot.types[BPF_REG_SIZE - 1];
  return t === STACK_SPILL || t === STACK_DYNPTR || t === STACK_ITER;
}

/** `is_spilled_reg` */
export function isSpilledReg(slot: StackSlot): boolean {
  return slot.types[BPF_REG_SIZE - 1] === STACK_SPILL;
}

/** The return-value range a callback must respect (`struct bpf_retval_range`). */
export interface RetvalRange {
  readonly min: number;
  readonly max: number;
}

/** One call frame (`struct bpf_func_state`). */
export class FuncState {
  regs: RegState[];
  stack: StackSlot[];
  /** Bytes of stack in use, a multiple of 8 (`allocated_stack`). */
  allocatedStack: number;
  /** The call instruction of the caller, -1 for the outermost frame (BPF_MAIN_FUNC). */
  callsite: number;
  frameno: number;
  subprogno: number;
  /** Verifying a synchronous callback (bpf_loop ...). */
  inCallbackFn: boolean;
  /** Verifying an asynchronous callback (timer). */
  inAsyncCallbackFn: boolean;
  /** Verifying the exception callback. */
  inExceptionCallbackFn: boolean;
  callbackRetRange: RetvalRange;
  /** Iterations of a callback visited from this frame (`callback_depth`). */
  callbackDepth: number;
  asyncEntryCnt: number;
  /**
   * Liveness of each stack slot (the kernel's `spilled_ptr.live`): LIVE_WRITTEN when the slot was
   * fully written since the last checkpoint (in the current path), LIVE_READ when a later path
   * read it (in a checkpoint).
   */
  live: number[];
  /** The same frame in the checkpoint this path continues from (`spilled_ptr.parent`), or null. */
  parentFrame: FuncState | null;

  constructor(callsite: number, frameno: number, subprogno: number) {
    this.regs = new Array<RegState>(MAX_BPF_REG).fill(NOT_INIT);
    this.stack = [];
    this.allocatedStack = 0;
    this.callsite = callsite;
    this.frameno = frameno;
    this.subprogno = subprogno;
    this.inCallbackFn = false;
    this.inAsyncCallbackFn = false;
    this.inExceptionCallbackFn = false;
    this.callbackRetRange = { min: 0, max: 0 };
    this.callbackDepth = 0;
    this.asyncEntryCnt = 0;
    this.live = [];
    this.parentFrame = null;
  }

  /** A copy whose registers and stack can be changed independently. */
  clone(): FuncState {
    const f = new FuncState(this.callsite, this.frameno, this.subprogno);
    f.regs = this.regs.slice();
    f.stack = this.stack.slice();
    f.allocatedStack = this.allocatedStack;
    f.inCallbackFn = this.inCallbackFn;
    f.inAsyncCallbackFn = this.inAsyncCallbackFn;
    f.inExceptionCallbackFn = this.inExceptionCallbackFn;
    f.callbackRetRange = this.callbackRetRange;
    f.callbackDepth = this.callbackDepth;
    f.asyncEntryCnt = this.asyncEntryCnt;
    f.live = this.live.slice();
    f.parentFrame = this.parentFrame;
    return f;
  }

  /** Slot `spi` was fully written (an 8-byte store): reads below no longer reach the parents. */
  markWritten(spi: number): void {
    this.live[spi] = (this.live[spi] ?? 0) | LIVE_WRITTEN;
  }

  /**
   * `mark_reg_read` for slot `spi`: every checkpoint up the parent chain learns that a
   * continuation reads it, up to the first one after which the path wrote it.
   */
  markRead(spi: number): void {
    let f: FuncState = this;
    for (;;) {
      const p = f.parentFrame;
      if (p === null || ((f.live[spi] ?? 0) & LIVE_WRITTEN) !== 0) return;
      if (((p.live[spi] ?? 0) & LIVE_READ) !== 0) return;
      p.live[spi] = (p.live[spi] ?? 0) | LIVE_READ;
      f = p;
    }
  }

  /** Whether a continuation of this checkpoint read slot `spi`. */
  wasRead(spi: number): boolean {
    return ((this.live[spi] ?? 0) & LIVE_READ) !== 0;
  }

  /** `grow_stack_state`: make room for `size` bytes. */
  growStack(size: number): void {
    const n = Math.ceil(size / BPF_REG_SIZE);
    while (this.stack.length < n) this.stack.push(EMPTY_SLOT);
    if (n * BPF_REG_SIZE > this.allocatedStack) this.allocatedStack = n * BPF_REG_SIZE;
  }

  /** The slot at index `spi` (EMPTY_SLOT beyond the allocated stack). */
  slot(spi: number): StackSlot {
    return spi < this.stack.length ? this.stack[spi] : EMPTY_SLOT;
  }
}

/** An acquired reference (`struct bpf_reference_state`). */
export interface Reference {
  readonly id: number;
  /** The instruction that acquired it (`alloc_insn` in messages). */
  readonly insnIdx: number;
  /** The callback frame that acquired it, or 0 (`callback_ref`). */
  readonly callbackRef: number;
}

/** A held bpf_spin_lock (`active_lock`): which object and which pointer id. */
export interface ActiveLock {
  /** `map:<index>` or `obj:<id>`: what the lock lives in. */
  readonly key: string;
  readonly id: number;
}

/** The state of one path (`struct bpf_verifier_state`). */
export class VerifierState {
  frames: FuncState[];
  refs: Reference[];
  activeLock: ActiveLock | null;
  /** Inside bpf_rcu_read_lock (a flag in v6.12, not a depth). */
  activeRcuLock: boolean;
  /** bpf_preempt_disable nesting depth. */
  activePreemptLock: number;
  /** bpf_local_irq_save regions open (v6.14+ kfuncs). */
  activeIrq: number;
  /** Callback bodies entered along this path (`callback_unroll_depth`). */
  callbackUnrollDepth: number;
  /** may_goto iterations taken along this path (`may_goto_depth`). */
  mayGotoDepth: number;
  /** The checkpoint this path continues from (`parent`), for branch counting. */
  parent: Checkpoint | null;

  constructor(frames: FuncState[]) {
    this.frames = frames;
    this.refs = [];
    this.activeLock = null;
    this.activeRcuLock = false;
    this.activePreemptLock = 0;
    this.activeIrq = 0;
    this.callbackUnrollDepth = 0;
    this.mayGotoDepth = 0;
    this.parent = null;
  }

  /** `curframe` */
  get curframe(): number {
    return this.frames.length - 1;
  }

  /** The current frame. */
  get cur(): FuncState {
    return this.frames[this.frames.length - 1];
  }

  /**
   * `bpf_for_each_reg_in_vstate`: replaces every register of every frame, spilled registers
   * included, by `fn(reg)` (which returns `reg` itself to leave it alone).
   */
  mapRegs(fn: (reg: RegState) => RegState): void {
    for (const f of this.frames) {
      for (let i = 0; i < f.regs.length; i++) {
        const r = f.regs[i];
        if (r.kind !== "not_init") f.regs[i] = fn(r);
      }
      for (let spi = 0; spi < f.stack.length; spi++) {
        const slot = f.stack[spi];
        if (!isSpilledReg(slot) || slot.spilled.kind === "not_init") continue;
        const n = fn(slot.spilled);
        if (n !== slot.spilled) f.stack[spi] = { types: slot.types, spilled: n };
      }
    }
  }

  /** `copy_verifier_state`: an independent copy (frames, registers, stack, resources). */
  clone(): VerifierState {
    const s = new VerifierState(this.frames.map((f) => f.clone()));
    s.refs = this.refs.slice();
    s.activeLock = this.activeLock;
    s.activeRcuLock = this.activeRcuLock;
    s.activePreemptLock = this.activePreemptLock;
    s.activeIrq = this.activeIrq;
    s.callbackUnrollDepth = this.callbackUnrollDepth;
    s.mayGotoDepth = this.mayGotoDepth;
    s.parent = this.parent;
    return s;
  }
}

/**
 * An explored state at a prune point (`struct bpf_verifier_state_list` entry): a frozen copy of
 * a path's state, the number of paths from it still being explored (`branches`; 0 means every
 * continuation was verified safe, so an equivalent state can be pruned), and its own parent.
 */
export class Checkpoint {
  readonly state: VerifierState;
  readonly insnIdx: number;
  branches: number;
  readonly parent: Checkpoint | null;
  /** Prunes it allowed (`hit_cnt`) and visits it did not match (`miss_cnt`). */
  hitCnt: number;
  missCnt: number;

  constructor(state: VerifierState, insnIdx: number, parent: Checkpoint | null) {
    this.state = state;
    this.insnIdx = insnIdx;
    this.branches = 1;
    this.parent = parent;
    this.hitCnt = 0;
    this.missCnt = 0;
  }
}
