/**
 * Which kernel function a helper call ends up calling on Linux 6.12, for do_misc_fixups' call
 * immediates (`imm = func - __bpf_call_base`): the `.func` of the prototype the program type's
 * `get_func_proto` returns (usually `bpf_<helper>`, but some program types have their own
 * variants), or for the map helpers the map type's `bpf_map_ops` method, which the verifier
 * calls directly instead of going through the generic helper. Names are looked up in the
 * kernel's symbol table; candidates are tried in order, so a variant absent from a kernel
 * falls back to the generic one.
 */
import { funcIdName } from "../isa/helper-ids.ts";
import {
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_PERF_EVENT,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_ACT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_TRACEPOINT,
  BPF_PROG_TYPE_TRACING,
  BPF_PROG_TYPE_XDP,
} from "../object/uapi.ts";
import { isSkbProgType } from "./ctx-access.ts";

/** Helpers the arm64 JIT of 6.12 emits inline itself (`bpf_jit_inlines_helper_call`): their imm stays the helper id. */
export const JIT_INLINED_HELPERS: ReadonlySet<number> = new Set([8, 35, 158]);

/** Candidate function names for helper `id` in a program of `progType`, best first. */
export function helperFunctionNames(id: number, progType: number): string[] {
  const name = funcIdName(id); // "bpf_map_lookup_elem"
  const xdp = progType === BPF_PROG_TYPE_XDP;
  const skb = isSkbProgType(progType);
  const tc = progType === BPF_PROG_TYPE_SCHED_CLS || progType === BPF_PROG_TYPE_SCHED_ACT;
  const tracing = (base: string): string[] => {
    switch (progType) {
      case BPF_PROG_TYPE_TRACEPOINT:
        return [`${base}_tp`, base];
      case BPF_PROG_TYPE_RAW_TRACEPOINT:
      case BPF_PROG_TYPE_TRACING:
        return [`${base}_raw_tp`, base];
      case BPF_PROG_TYPE_PERF_EVENT:
        return [`${base}_pe`, base];
      default:
        return [base];
    }
  };
  switch (id) {
    case 7: // get_prandom_u32
      return ["bpf_user_rnd_u32"];
    case 25: // perf_event_output
      if (skb) return ["bpf_skb_event_output"];
      if (xdp) return ["bpf_xdp_event_output"];
      return tracing("bpf_perf_event_output");
    case 27:
    case 67: // get_stackid, get_stack
      return progType === BPF_PROG_TYPE_KPROBE ? [name] : tracing(name);
    case 69: // fib_lookup
      return [xdp ? "bpf_xdp_fib_lookup" : "bpf_skb_fib_lookup"];
    case 163: // check_mtu
      return [xdp ? "bpf_xdp_check_mtu" : "bpf_skb_check_mtu"];
    case 84:
    case 85:
    case 99: {
      // sk_lookup_tcp / sk_lookup_udp / skc_lookup_tcp
      const base = name.replace(/^bpf_/, "");
      if (xdp) return [`bpf_xdp_${base}`];
      if (tc) return [`bpf_tc_${base}`, name];
      return [name];
    }
    default:
      return [name];
  }
}

/** BPF_MAP_TYPE_* used below. */
const HASH = 1;
const ARRAY = 2;
const PROG_ARRAY = 3;
const PERCPU_HASH = 5;
const PERCPU_ARRAY = 6;
const LRU_HASH = 9;
const LRU_PERCPU_HASH = 10;
const ARRAY_OF_MAPS = 12;
const HASH_OF_MAPS = 13;
const DEVMAP = 14;
const CPUMAP = 16;
const XSKMAP = 17;
const QUEUE = 22;
const STACK = 23;
const DEVMAP_HASH = 25;

/** The `bpf_map_ops` methods the fixups call, by map type: [lookup, update, delete, for_each, lookup_percpu]. */
const MAP_OPS: ReadonlyMap<number, readonly (string | null)[]> = new Map([
  [HASH, ["htab_map_lookup_elem", "htab_map_update_elem", "htab_map_delete_elem", "bpf_for_each_hash_elem", null]],
  [
    PERCPU_HASH,
    [
      "htab_percpu_map_lookup_elem",
      "htab_percpu_map_update_elem",
      "htab_map_delete_elem",
      "bpf_for_each_hash_elem",
      "htab_percpu_map_lookup_percpu_elem",
    ],
  ],
  [
    LRU_HASH,
    [
      "htab_lru_map_lookup_elem",
      "htab_lru_map_update_elem",
      "htab_lru_map_delete_elem",
      "bpf_for_each_hash_elem",
      null,
    ],
  ],
  [
    LRU_PERCPU_HASH,
    [
      "htab_lru_percpu_map_lookup_elem",
      "htab_lru_percpu_map_update_elem",
      "htab_lru_map_delete_elem",
      "bpf_for_each_hash_elem",
      "htab_lru_percpu_map_lookup_percpu_elem",
    ],
  ],
  [ARRAY, ["array_map_lookup_elem", "array_map_update_elem", "array_map_delete_elem", "bpf_for_each_array_elem", null]],
  [
    PERCPU_ARRAY,
    [
      "percpu_array_map_lookup_elem",
      "array_map_update_elem",
      "array_map_delete_elem",
      "bpf_for_each_array_elem",
      "percpu_array_map_lookup_percpu_elem",
    ],
  ],
  [PROG_ARRAY, ["fd_array_map_lookup_elem", "bpf_fd_array_map_update_elem", "fd_array_map_delete_elem", null, null]],
  [ARRAY_OF_MAPS, ["array_of_map_lookup_elem", null, "fd_array_map_delete_elem", null, null]],
  [HASH_OF_MAPS, ["htab_of_map_lookup_elem", null, "htab_map_delete_elem", null, null]],
  [QUEUE, ["queue_stack_map_lookup_elem", "queue_stack_map_update_elem", "queue_stack_map_delete_elem", null, null]],
  [STACK, ["queue_stack_map_lookup_elem", "queue_stack_map_update_elem", "queue_stack_map_delete_elem", null, null]],
]);

/** The map method a map helper (`id`) calls on a map of `mapType`, or null (generic helper). */
export function mapOpName(id: number, mapType: number): string | null {
  switch (id) {
    case 87: // map_push_elem
      return mapType === QUEUE || mapType === STACK ? "queue_stack_map_push_elem" : null;
    case 88: // map_pop_elem
      return mapType === QUEUE ? "queue_map_pop_elem" : mapType === STACK ? "stack_map_pop_elem" : null;
    case 89: // map_peek_elem
      return mapType === QUEUE ? "queue_map_peek_elem" : mapType === STACK ? "stack_map_peek_elem" : null;
    case 51: // redirect_map
      switch (mapType) {
        case DEVMAP:
          return "dev_map_redirect";
        case DEVMAP_HASH:
          return "dev_hash_map_redirect";
        case CPUMAP:
          return "cpu_map_redirect";
        case XSKMAP:
          return "xsk_map_redirect";
        default:
          return null;
      }
    default:
      break;
  }
  const slot = { 1: 0, 2: 1, 3: 2, 164: 3, 195: 4 }[id];
  if (slot === undefined) return null;
  return MAP_OPS.get(mapType)?.[slot] ?? null;
}

/** The map helpers do_misc_fixups sends to the map's own methods (when the call site has one map). */
export const MAP_HELPERS: ReadonlySet<number> = new Set([1, 2, 3, 87, 88, 89, 51, 164, 195]);

export { ARRAY as MAP_ARRAY, ARRAY_OF_MAPS as MAP_ARRAY_OF_MAPS, HASH as MAP_HASH, HASH_OF_MAPS as MAP_HASH_OF_MAPS };
