/**
 * Helper prototypes as the verifier checks them: the `struct bpf_func_proto` of each helper
 * (argument types `ARG_*`, return type `RET_*`, `might_sleep`, `gpl_only`) at v6.12, from
 * kernel/bpf/helpers.c, net/core/filter.c, kernel/trace/bpf_trace.c, kernel/bpf/ringbuf.c and
 * friends, plus the verifier's own lists about helpers (`is_callback_calling_function`,
 * `bpf_helper_changes_pkt_data`, `is_acquire_function`, `is_release_function`).
 *
 * Which program type may call which helper is the runtime's business (src/runtime/func-proto.ts,
 * a higher layer); `verifyProgram` takes it as `helperAvailable`. A helper missing from this
 * table is one the model does not know: calling it is rejected as the kernel rejects an unknown
 * id.
 */
import {
  BPF_FUNC_find_vma,
  BPF_FUNC_for_each_map_elem,
  BPF_FUNC_loop,
  BPF_FUNC_timer_set_callback,
  BPF_FUNC_user_ringbuf_drain,
  funcIdName,
} from "../isa/helper-ids.ts";
import { BPF_CALL_OP, BPF_PSEUDO_KFUNC_CALL } from "../isa/opcodes.ts";
import type { VerifierEnv } from "./env.ts";

/** Argument types (`enum bpf_arg_type` with its flags), spelled for reading. */
export type ArgType =
  | "dontcare" // ARG_DONTCARE: unused
  | "anything" // ARG_ANYTHING
  | "map_ptr" // ARG_CONST_MAP_PTR
  | "map_key" // ARG_PTR_TO_MAP_KEY
  | "map_value" // ARG_PTR_TO_MAP_VALUE
  | "uninit_map_value" // ARG_PTR_TO_MAP_VALUE | MEM_UNINIT
  | "mem" // ARG_PTR_TO_MEM (read and written)
  | "rdonly_mem" // ARG_PTR_TO_MEM | MEM_RDONLY
  | "uninit_mem" // ARG_PTR_TO_MEM | MEM_UNINIT (the helper writes it)
  | "rdonly_mem_or_null" // ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY
  | "uninit_mem_or_null" // ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_UNINIT
  | "size" // ARG_CONST_SIZE
  | "size_or_zero" // ARG_CONST_SIZE_OR_ZERO
  | "alloc_size_or_zero" // ARG_CONST_ALLOC_SIZE_OR_ZERO
  | "ctx" // ARG_PTR_TO_CTX
  | "spin_lock" // ARG_PTR_TO_SPIN_LOCK
  | "timer" // ARG_PTR_TO_TIMER
  | "func" // ARG_PTR_TO_FUNC
  | "stack_or_null" // ARG_PTR_TO_STACK_OR_NULL
  | "const_str" // ARG_PTR_TO_CONST_STR
  | "ringbuf_mem_release" // ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE
  | "fixed_u64_uninit"; // ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_ALIGNED, 8 bytes (strtol result)

/** Return types (`enum bpf_return_type`). */
export type RetType =
  | "integer" // RET_INTEGER
  | "void" // RET_VOID
  | "map_value_or_null" // RET_PTR_TO_MAP_VALUE_OR_NULL
  | "ringbuf_mem_or_null" // RET_PTR_TO_RINGBUF_MEM_OR_NULL (size from the constant arg 2)
  | "btf_id_task"; // RET_PTR_TO_BTF_ID_TRUSTED (struct task_struct)

/** One helper's prototype. */
export interface HelperProto {
  /** `func_id_name`: "bpf_map_lookup_elem" ... */
  readonly name: string;
  readonly args: readonly ArgType[];
  readonly ret: RetType;
  readonly gplOnly?: boolean;
  readonly mightSleep?: boolean;
}

/** An entry of {@link HELPER_PROTOS}: the helper's name is the uapi one (`func_id_name`). */
const proto = (
  id: number,
  args: ArgType[],
  ret: RetType,
  extra: Partial<HelperProto> = {},
): readonly [number, HelperProto] => [id, { name: funcIdName(id), args, ret, ...extra }];

/** Prototypes by helper id. */
export const HELPER_PROTOS: ReadonlyMap<number, HelperProto> = new Map<number, HelperProto>([
  proto(1, ["map_ptr", "map_key"], "map_value_or_null"),
  proto(2, ["map_ptr", "map_key", "map_value", "anything"], "integer"),
  proto(3, ["map_ptr", "map_key"], "integer"),
  proto(4, ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true }),
  proto(5, [], "integer"),
  proto(6, ["rdonly_mem", "size"], "integer", { gplOnly: true }),
  proto(7, [], "integer"),
  proto(8, [], "integer"),
  proto(9, ["ctx", "anything", "rdonly_mem", "size", "anything"], "integer"),
  proto(10, ["ctx", "anything", "anything", "anything", "anything"], "integer"),
  proto(11, ["ctx", "anything", "anything", "anything", "anything"], "integer"),
  proto(12, ["ctx", "map_ptr", "anything"], "void"),
  proto(13, ["ctx", "anything", "anything"], "integer"),
  proto(14, [], "integer"),
  proto(15, [], "integer"),
  proto(16, ["uninit_mem", "size"], "integer"),
  proto(17, ["ctx"], "integer"),
  proto(18, ["ctx", "anything", "anything"], "integer"),
  proto(19, ["ctx"], "integer"),
  proto(23, ["anything", "anything"], "integer"),
  proto(24, ["ctx"], "integer"),
  proto(25, ["ctx", "map_ptr", "anything", "rdonly_mem", "size_or_zero"], "integer"),
  proto(26, ["ctx", "anything", "uninit_mem", "size"], "integer"),
  proto(28, ["rdonly_mem_or_null", "size_or_zero", "rdonly_mem_or_null", "size_or_zero", "anything"], "integer"),
  proto(31, ["ctx", "anything", "anything"], "integer"),
  proto(32, ["ctx", "anything"], "integer"),
  proto(34, ["ctx"], "integer"),
  proto(35, [], "integer"),
  proto(38, ["ctx", "anything", "anything"], "integer"),
  proto(39, ["ctx", "anything"], "integer"),
  proto(40, ["ctx", "anything"], "integer"),
  proto(41, ["ctx"], "void"),
  proto(42, [], "integer"),
  proto(43, ["ctx", "anything", "anything"], "integer"),
  proto(44, ["ctx", "anything"], "integer"),
  proto(45, ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true }),
  proto(48, ["ctx", "anything"], "integer"),
  proto(50, ["ctx", "anything", "anything", "anything"], "integer"),
  proto(51, ["map_ptr", "anything", "anything"], "integer"),
  proto(54, ["ctx", "anything"], "integer"),
  proto(65, ["ctx", "anything"], "integer"),
  proto(68, ["ctx", "anything", "uninit_mem", "size", "anything"], "integer"),
  proto(80, [], "integer"),
  proto(87, ["map_ptr", "map_value", "anything"], "integer"),
  proto(88, ["map_ptr", "uninit_map_value"], "integer"),
  proto(89, ["map_ptr", "uninit_map_value"], "integer"),
  proto(93, ["spin_lock"], "void"),
  proto(94, ["spin_lock"], "void"),
  proto(105, ["rdonly_mem", "size", "anything", "fixed_u64_uninit"], "integer"),
  proto(106, ["rdonly_mem", "size", "anything", "fixed_u64_uninit"], "integer"),
  proto(112, ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true }),
  proto(113, ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true }),
  proto(114, ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true }),
  proto(115, ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true }),
  proto(118, [], "integer"),
  proto(125, [], "integer"),
  proto(130, ["map_ptr", "rdonly_mem", "size_or_zero", "anything"], "integer"),
  proto(131, ["map_ptr", "alloc_size_or_zero", "anything"], "ringbuf_mem_or_null"),
  proto(132, ["ringbuf_mem_release", "anything"], "void"),
  proto(133, ["ringbuf_mem_release", "anything"], "void"),
  proto(134, ["map_ptr", "anything"], "integer"),
  proto(135, ["ctx", "anything"], "integer"),
  proto(152, ["anything", "rdonly_mem_or_null", "size_or_zero", "anything"], "integer"),
  proto(155, ["anything", "anything"], "integer"),
  proto(158, [], "btf_id_task", { gplOnly: true }),
  proto(160, [], "integer"),
  proto(164, ["map_ptr", "func", "stack_or_null", "anything"], "integer"),
  proto(165, ["uninit_mem_or_null", "size_or_zero", "const_str", "rdonly_mem_or_null", "size_or_zero"], "integer"),
  proto(169, ["timer", "map_ptr", "anything"], "integer"),
  proto(170, ["timer", "func"], "integer"),
  proto(171, ["timer", "anything", "anything"], "integer"),
  proto(172, ["timer"], "integer"),
  proto(177, ["rdonly_mem", "size", "rdonly_mem_or_null", "size_or_zero"], "integer", { gplOnly: true }),
  proto(181, ["anything", "func", "stack_or_null", "anything"], "integer"),
  proto(182, ["rdonly_mem", "size", "const_str"], "integer"),
  proto(188, ["ctx"], "integer"),
  proto(189, ["ctx", "anything", "uninit_mem", "size"], "integer"),
  proto(190, ["ctx", "anything", "rdonly_mem", "size"], "integer"),
  proto(195, ["map_ptr", "map_key", "anything"], "map_value_or_null"),
  proto(208, [], "integer"),
]);

/** `func_id_name`: the helper's name, "unknown" when the model does not know it. */
export function helperName(id: number): string {
  return HELPER_PROTOS.get(id)?.name ?? "unknown";
}

/** `bpf_helper_changes_pkt_data` (net/core/filter.c): helpers after which packet pointers are stale. */
export const CHANGES_PKT_DATA: ReadonlySet<number> = new Set([9, 10, 11, 13, 18, 19, 31, 38, 39, 43, 44, 50, 54, 65]);

/** `is_callback_calling_function`: helpers taking a BPF callback. */
export function isCallbackCallingHelper(id: number): boolean {
  return (
    id === BPF_FUNC_for_each_map_elem ||
    id === BPF_FUNC_timer_set_callback ||
    id === BPF_FUNC_find_vma ||
    id === BPF_FUNC_loop ||
    id === BPF_FUNC_user_ringbuf_drain
  );
}

/** Kfuncs that take a BPF callback called synchronously (`is_sync_callback_calling_kfunc`). */
const SYNC_CALLBACK_KFUNCS = new Set(["bpf_rbtree_add_impl"]);
/** Kfuncs that take an asynchronous callback (`is_async_callback_calling_kfunc`). */
const ASYNC_CALLBACK_KFUNCS = new Set(["bpf_wq_set_callback_impl"]);

/** `is_sync_callback_calling_insn` */
export function isSyncCallbackCallingInsn(env: VerifierEnv, t: number): boolean {
  const p = env.prog;
  if (p.code[t] !== BPF_CALL_OP) return false;
  if (p.src[t] === 0) {
    const id = p.imm[t];
    return isCallbackCallingHelper(id) && id !== BPF_FUNC_timer_set_callback;
  }
  if (p.src[t] === BPF_PSEUDO_KFUNC_CALL) return SYNC_CALLBACK_KFUNCS.has(env.cfg.kfuncs.get(p.imm[t]) ?? "");
  return false;
}

/** `is_async_callback_calling_insn` */
export function isAsyncCallbackCallingInsn(env: VerifierEnv, t: number): boolean {
  const p = env.prog;
  if (p.code[t] !== BPF_CALL_OP) return false;
  if (p.src[t] === 0) return p.imm[t] === BPF_FUNC_timer_set_callback;
  if (p.src[t] === BPF_PSEUDO_KFUNC_CALL) return ASYNC_CALLBACK_KFUNCS.has(env.cfg.kfuncs.get(p.imm[t]) ?? "");
  return false;
}
