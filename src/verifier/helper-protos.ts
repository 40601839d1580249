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

const P = (name: string, args: ArgType[], ret: RetType, extra: Partial<HelperProto> = {}): HelperProto => ({
  name: `bpf_${name}`,
  args,
  ret,
  ...extra,
});

export const BPF_FUNC_map_lookup_elem = 1;
export const BPF_FUNC_tail_call = 12;
export const BPF_FUNC_get_smp_processor_id = 8;
export const BPF_FUNC_spin_lock = 93;
export const BPF_FUNC_spin_unlock = 94;
export const BPF_FUNC_ringbuf_reserve = 131;
export const BPF_FUNC_ringbuf_submit = 132;
export const BPF_FUNC_ringbuf_discard = 133;
export const BPF_FUNC_for_each_map_elem = 164;
export const BPF_FUNC_timer_init = 169;
export const BPF_FUNC_timer_set_callback = 170;
export const BPF_FUNC_find_vma = 180;
export const BPF_FUNC_loop = 181;
export const BPF_FUNC_user_ringbuf_drain = 209;
export const BPF_FUNC_probe_read_str = 45;
export const BPF_FUNC_probe_read_user_str = 114;
export const BPF_FUNC_probe_read_kernel_str = 115;
export const BPF_FUNC_get_stack = 67;

/** Prototypes by helper id. */
export const HELPER_PROTOS: ReadonlyMap<number, HelperProto> = new Map<number, HelperProto>([
  [1, P("map_lookup_elem", ["map_ptr", "map_key"], "map_value_or_null")],
  [2, P("map_update_elem", ["map_ptr", "map_key", "map_value", "anything"], "integer")],
  [3, P("map_delete_elem", ["map_ptr", "map_key"], "integer")],
  [4, P("probe_read", ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true })],
  [5, P("ktime_get_ns", [], "integer")],
  [6, P("trace_printk", ["rdonly_mem", "size"], "integer", { gplOnly: true })],
  [7, P("get_prandom_u32", [], "integer")],
  [8, P("get_smp_processor_id", [], "integer")],
  [9, P("skb_store_bytes", ["ctx", "anything", "rdonly_mem", "size", "anything"], "integer")],
  [10, P("l3_csum_replace", ["ctx", "anything", "anything", "anything", "anything"], "integer")],
  [11, P("l4_csum_replace", ["ctx", "anything", "anything", "anything", "anything"], "integer")],
  [12, P("tail_call", ["ctx", "map_ptr", "anything"], "void")],
  [13, P("clone_redirect", ["ctx", "anything", "anything"], "integer")],
  [14, P("get_current_pid_tgid", [], "integer")],
  [15, P("get_current_uid_gid", [], "integer")],
  [16, P("get_current_comm", ["uninit_mem", "size"], "integer")],
  [17, P("get_cgroup_classid", ["ctx"], "integer")],
  [18, P("skb_vlan_push", ["ctx", "anything", "anything"], "integer")],
  [19, P("skb_vlan_pop", ["ctx"], "integer")],
  [23, P("redirect", ["anything", "anything"], "integer")],
  [24, P("get_route_realm", ["ctx"], "integer")],
  [25, P("perf_event_output", ["ctx", "map_ptr", "anything", "rdonly_mem", "size_or_zero"], "integer")],
  [26, P("skb_load_bytes", ["ctx", "anything", "uninit_mem", "size"], "integer")],
  [
    28,
    P("csum_diff", ["rdonly_mem_or_null", "size_or_zero", "rdonly_mem_or_null", "size_or_zero", "anything"], "integer"),
  ],
  [31, P("skb_change_proto", ["ctx", "anything", "anything"], "integer")],
  [32, P("skb_change_type", ["ctx", "anything"], "integer")],
  [34, P("get_hash_recalc", ["ctx"], "integer")],
  [35, P("get_current_task", [], "integer")],
  [38, P("skb_change_tail", ["ctx", "anything", "anything"], "integer")],
  [39, P("skb_pull_data", ["ctx", "anything"], "integer")],
  [40, P("csum_update", ["ctx", "anything"], "integer")],
  [41, P("set_hash_invalid", ["ctx"], "void")],
  [42, P("get_numa_node_id", [], "integer")],
  [43, P("skb_change_head", ["ctx", "anything", "anything"], "integer")],
  [44, P("xdp_adjust_head", ["ctx", "anything"], "integer")],
  [45, P("probe_read_str", ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true })],
  [48, P("set_hash", ["ctx", "anything"], "integer")],
  [50, P("skb_adjust_room", ["ctx", "anything", "anything", "anything"], "integer")],
  [51, P("redirect_map", ["map_ptr", "anything", "anything"], "integer")],
  [54, P("xdp_adjust_meta", ["ctx", "anything"], "integer")],
  [65, P("xdp_adjust_tail", ["ctx", "anything"], "integer")],
  [68, P("skb_load_bytes_relative", ["ctx", "anything", "uninit_mem", "size", "anything"], "integer")],
  [80, P("get_current_cgroup_id", [], "integer")],
  [87, P("map_push_elem", ["map_ptr", "map_value", "anything"], "integer")],
  [88, P("map_pop_elem", ["map_ptr", "uninit_map_value"], "integer")],
  [89, P("map_peek_elem", ["map_ptr", "uninit_map_value"], "integer")],
  [93, P("spin_lock", ["spin_lock"], "void")],
  [94, P("spin_unlock", ["spin_lock"], "void")],
  [105, P("strtol", ["rdonly_mem", "size", "anything", "fixed_u64_uninit"], "integer")],
  [106, P("strtoul", ["rdonly_mem", "size", "anything", "fixed_u64_uninit"], "integer")],
  [112, P("probe_read_user", ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true })],
  [113, P("probe_read_kernel", ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true })],
  [114, P("probe_read_user_str", ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true })],
  [115, P("probe_read_kernel_str", ["uninit_mem", "size_or_zero", "anything"], "integer", { gplOnly: true })],
  [118, P("jiffies64", [], "integer")],
  [125, P("ktime_get_boot_ns", [], "integer")],
  [130, P("ringbuf_output", ["map_ptr", "rdonly_mem", "size_or_zero", "anything"], "integer")],
  [131, P("ringbuf_reserve", ["map_ptr", "alloc_size_or_zero", "anything"], "ringbuf_mem_or_null")],
  [132, P("ringbuf_submit", ["ringbuf_mem_release", "anything"], "void")],
  [133, P("ringbuf_discard", ["ringbuf_mem_release", "anything"], "void")],
  [134, P("ringbuf_query", ["map_ptr", "anything"], "integer")],
  [135, P("csum_level", ["ctx", "anything"], "integer")],
  [152, P("redirect_neigh", ["anything", "rdonly_mem_or_null", "size_or_zero", "anything"], "integer")],
  [155, P("redirect_peer", ["anything", "anything"], "integer")],
  [158, P("get_current_task_btf", [], "btf_id_task", { gplOnly: true })],
  [160, P("ktime_get_coarse_ns", [], "integer")],
  [164, P("for_each_map_elem", ["map_ptr", "func", "stack_or_null", "anything"], "integer")],
  [
    165,
    P("snprintf", ["uninit_mem_or_null", "size_or_zero", "const_str", "rdonly_mem_or_null", "size_or_zero"], "integer"),
  ],
  [169, P("timer_init", ["timer", "map_ptr", "anything"], "integer")],
  [170, P("timer_set_callback", ["timer", "func"], "integer")],
  [171, P("timer_start", ["timer", "anything", "anything"], "integer")],
  [172, P("timer_cancel", ["timer"], "integer")],
  [177, P("trace_vprintk", ["rdonly_mem", "size", "rdonly_mem_or_null", "size_or_zero"], "integer", { gplOnly: true })],
  [181, P("loop", ["anything", "func", "stack_or_null", "anything"], "integer")],
  [182, P("strncmp", ["rdonly_mem", "size", "const_str"], "integer")],
  [188, P("xdp_get_buff_len", ["ctx"], "integer")],
  [189, P("xdp_load_bytes", ["ctx", "anything", "uninit_mem", "size"], "integer")],
  [190, P("xdp_store_bytes", ["ctx", "anything", "rdonly_mem", "size"], "integer")],
  [195, P("map_lookup_percpu_elem", ["map_ptr", "map_key", "anything"], "map_value_or_null")],
  [208, P("ktime_get_tai_ns", [], "integer")],
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
