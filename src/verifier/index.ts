/**
 * The verifier layer's public API: `verifyProgram`, a model of the Linux 6.12 BPF verifier for a
 * privileged loader — subprograms and the exception callback, the control-flow check, path
 * exploration with register and stack states, scalar bounds and tnums, pointers, helper and
 * kfunc calls, callbacks, bpf-to-bpf calls, state pruning, return-value and stack-depth rules,
 * the BPF exception rules, and the post-verification rewrites (dead code, hidden exception
 * callback). Sits between `object` (which produces ProgramSpec) and `runtime`.
 */
export { BPF_PROBE_MEM, BPF_PROBE_MEMSX } from "./ctx-convert.ts";
export { xlatedDump } from "./dump.ts";
export { type KernelVersion, MESSAGES, NEWER_MESSAGES } from "./messages.ts";
export { BPF_TAIL_CALL_OP, type KernelObjectRef, type KernelSymbols } from "./misc-fixups.ts";
export { Scalar } from "./scalar.ts";
export type { Tnum } from "./tnum.ts";
export {
  type VerifiedProgram,
  type VerifiedSubprog,
  type VerifyOptions,
  type VerifyResult,
  verifyProgram,
} from "./verifier.ts";
