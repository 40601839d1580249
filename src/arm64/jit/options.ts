/**
 * Options of the arm64 JIT and the defaults that reproduce the reference target (Debian's
 * Linux 6.12.117 arm64, booted with nokaslr, on a CPU with LSE atomics).
 */

/** `__bpf_call_base` of the target; helper and kfunc call immediates are relative to it. */
export const DEFAULT_CALL_BASE = 0xffff800080268a70n;
/** `bpf_throw` of the target (only used to recognise the call when deriving facts). */
export const DEFAULT_BPF_THROW = 0xffff8000802a8868n;

/** Kinds of kernel objects whose addresses appear in ld_imm64 and that tsbpf does not model. */
export type KernelObjectKind = "map" | "map_value" | "map_idx" | "map_idx_value";

export interface JitOptions {
  /** Emit LSE atomics (true, the target's CPU) or LDXR/STXR loops (false). */
  lse?: boolean;
  /** `__bpf_call_base`; default {@link DEFAULT_CALL_BASE}. */
  callBase?: bigint;
  /** Addresses of kernel symbols the JIT or the fact derivation needs. */
  symbols?: { bpfThrow?: bigint };
  /** The kernel runs at EL2 (VHE): per-CPU offsets come from TPIDR_EL2 instead of TPIDR_EL1. */
  vhe?: boolean;
  /** offsetof(struct thread_info, cpu) for the inlined bpf_get_smp_processor_id (default 16). */
  cpuOffset?: number;
  /**
   * Address to load for a map reference in ld_imm64 (xlated dumps replace it by the map id and,
   * for values, the offset). Default: a fixed kernel-linear-map-like placeholder. The words are
   * flagged `kernelObject` either way.
   */
  kernelObjectAddress?: (kind: KernelObjectKind, id: number, offset: number) => bigint;
}

/** Placeholder address of a map: shaped like the target's linear-map pointers (3 instructions). */
export function placeholderAddress(_kind: KernelObjectKind, id: number, offset: number): bigint {
  return 0xfff0000003000000n + BigInt(id) * 0x10000n + 0x1000n + BigInt(offset);
}

/** Options with the defaults filled in (what the code generators read). */
export interface ResolvedOptions extends JitOptions {
  lse: boolean;
  callBase: bigint;
  vhe: boolean;
  cpuOffset: number;
}

export function resolveOptions(o: JitOptions = {}): ResolvedOptions {
  return {
    ...o,
    lse: o.lse ?? true,
    callBase: o.callBase ?? DEFAULT_CALL_BASE,
    vhe: o.vhe ?? false,
    cpuOffset: o.cpuOffset ?? 16,
  };
}
