/**
 * Dynptrs as kfunc arguments (kernel/bpf/verifier.c v6.12 `process_dynptr_func`,
 * `mark_stack_slots_dynptr`, `is_dynptr_reg_valid_uninit/init`, `is_dynptr_type_expected`,
 * `mark_dynptr_read`): a `struct bpf_dynptr` is 16 bytes of stack, two STACK_DYNPTR slots, made
 * by a constructor (bpf_dynptr_from_skb/xdp, `__uninit` argument) and then handed to the
 * kfuncs that read through it (bpf_dynptr_slice, bpf_dynptr_size ...).
 *
 * Only the kinds without a reference are modelled (skb and xdp): destroying one by overwriting
 * its slots is allowed (mem.ts `destroyIfDynptrSlot`). A slice of one (bpf_dynptr_slice) is
 * read-only memory of a constant size that may be NULL; it is tied to its dynptr and, for
 * packet dynptrs, is dropped with the packet pointers when a helper may move the data.
 */
import { EINVAL, type VerifierEnv } from "./env.ts";
import { stackObjSpi } from "./iter.ts";
import { checkMemAccess, destroyIfDynptrSlot } from "./mem.ts";
import { NOT_INIT } from "./reg.ts";
import { BPF_REG_SIZE, type DynptrSlot, STACK_DYNPTR } from "./state.ts";

/** BPF_DYNPTR_SIZE */
const BPF_DYNPTR_SIZE = 16;
/** BPF_DYNPTR_NR_SLOTS */
const BPF_DYNPTR_NR_SLOTS = 2;

/** The dynptr kinds by the constructor that makes them. */
const CONSTRUCTED: ReadonlyMap<string, DynptrSlot["type"]> = new Map([
  ["bpf_dynptr_from_skb", "skb"],
  ["bpf_dynptr_from_xdp", "xdp"],
]);

/**
 * `process_dynptr_func` for the `__uninit` argument in `regno` of constructor `kfunc`: the two
 * slots become a fresh dynptr (whatever dynptr was there is destroyed first).
 */
export function constructDynptr(env: VerifierEnv, regno: number, kfunc: string): void {
  const reg = env.state.cur.regs[regno];
  if (reg.kind !== "fp") env.reject(EINVAL, "DYNPTR_ARG_NOT_STACK", regno);
  const type = CONSTRUCTED.get(kfunc);
  if (type === undefined) env.fail(EINVAL);
  // `is_dynptr_reg_valid_uninit`: beyond the allocated stack is fine (the writes below grow it)
  stackObjSpi(env, reg, "dynptr", BPF_DYNPTR_NR_SLOTS);
  for (let off = 0; off < BPF_DYNPTR_SIZE; off += BPF_REG_SIZE) {
    checkMemAccess(env, regno, off, BPF_REG_SIZE, true, -1, false, null);
  }
  const spi = stackObjSpi(env, reg, "dynptr", BPF_DYNPTR_NR_SLOTS);
  const frame = env.state.frames[reg.frameno];
  destroyIfDynptrSlot(env, frame, spi);
  destroyIfDynptrSlot(env, frame, spi - 1);
  const id = ++env.idGen;
  for (const [s, firstSlot] of [
    [spi, true],
    [spi - 1, false],
  ] as const) {
    frame.stack[s] = {
      types: new Uint8Array(BPF_REG_SIZE).fill(STACK_DYNPTR),
      spilled: NOT_INIT,
      dynptr: { type, firstSlot, id, refObjId: 0 },
    };
    frame.markWritten(s);
  }
}

/**
 * `process_dynptr_func` for an initialized dynptr argument in `regno` (`arg #regno` in the
 * messages, as v6.12 prints it): the dynptr it points to, which is read.
 */
export function useDynptr(env: VerifierEnv, regno: number): DynptrSlot {
  const reg = env.state.cur.regs[regno];
  if (reg.kind !== "fp") env.reject(EINVAL, "DYNPTR_ARG_NOT_STACK", regno);
  const spi = stackObjSpi(env, reg, "dynptr", BPF_DYNPTR_NR_SLOTS);
  const frame = env.state.frames[reg.frameno];
  const first = spi >= 0 ? frame.slot(spi) : undefined;
  const valid =
    first !== undefined &&
    first.dynptr?.firstSlot === true &&
    first.types.every((t) => t === STACK_DYNPTR) &&
    frame.slot(spi - 1).types.every((t) => t === STACK_DYNPTR);
  if (!valid || first.dynptr === undefined) env.reject(EINVAL, "DYNPTR_EXPECTED_INIT", regno);
  // `mark_dynptr_read`
  frame.markRead(spi);
  frame.markRead(spi - 1);
  return first.dynptr;
}
