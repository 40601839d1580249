/**
 * Which helpers each program type may call: the runtime's counterpart of the kernel's
 * `*_func_proto` functions (bpf_base_func_proto in kernel/bpf/helpers.c, tc_cls_act_func_proto,
 * sk_filter_func_proto, xdp_func_proto and bpf_sk_base_func_proto in net/core/filter.c,
 * bpf_tracing_func_proto in kernel/trace/bpf_trace.c), at v6.12 and for a privileged loader
 * (CAP_BPF and CAP_PERFMON granted, so the capability-gated groups of bpf_base_func_proto are in).
 *
 * A helper the kernel offers but this runtime does not implement is simply absent: loading a
 * program that calls it fails with a LoadError naming it, as the verifier's "program of this
 * type cannot use helper" would.
 */

import * as F from "../isa/helper-ids.ts";
import {
  BPF_PROG_TYPE_CGROUP_SKB,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_PERF_EVENT,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_ACT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_TRACEPOINT,
  BPF_PROG_TYPE_TRACING,
  BPF_PROG_TYPE_XDP,
} from "../object/uapi.ts";
import * as Maps from "./helper-impls/maps.ts";
import * as Misc from "./helper-impls/misc.ts";
import * as Skb from "./helper-impls/skb.ts";
import * as Resize from "./helper-impls/skb-resize.ts";
import * as Trace from "./helper-impls/trace.ts";
import * as Xdp from "./helper-impls/xdp.ts";
import { HelperRegistry, type HelperSpec } from "./helpers.ts";

type ProtoTable = ReadonlyArray<readonly [number, HelperSpec]>;

/** bpf_base_func_proto, first group: open to every program type. */
const BASE: ProtoTable = [
  [F.BPF_FUNC_map_lookup_elem, Maps.bpfMapLookupElemProto],
  [F.BPF_FUNC_map_update_elem, Maps.bpfMapUpdateElemProto],
  [F.BPF_FUNC_map_delete_elem, Maps.bpfMapDeleteElemProto],
  [F.BPF_FUNC_map_push_elem, Maps.bpfMapPushElemProto],
  [F.BPF_FUNC_map_pop_elem, Maps.bpfMapPopElemProto],
  [F.BPF_FUNC_map_peek_elem, Maps.bpfMapPeekElemProto],
  [F.BPF_FUNC_map_lookup_percpu_elem, Maps.bpfMapLookupPercpuElemProto],
  [F.BPF_FUNC_get_prandom_u32, Misc.bpfGetPrandomU32Proto],
  [F.BPF_FUNC_get_smp_processor_id, Misc.bpfGetSmpProcessorIdProto],
  [F.BPF_FUNC_get_numa_node_id, Misc.bpfGetNumaNodeIdProto],
  [F.BPF_FUNC_tail_call, Maps.bpfTailCallProto],
  [F.BPF_FUNC_ktime_get_ns, Misc.bpfKtimeGetNsProto],
  [F.BPF_FUNC_ktime_get_boot_ns, Misc.bpfKtimeGetBootNsProto],
  [F.BPF_FUNC_ktime_get_tai_ns, Misc.bpfKtimeGetTaiNsProto],
  [F.BPF_FUNC_ringbuf_output, Maps.bpfRingbufOutputProto],
  [F.BPF_FUNC_ringbuf_reserve, Maps.bpfRingbufReserveProto],
  [F.BPF_FUNC_ringbuf_submit, Maps.bpfRingbufSubmitProto],
  [F.BPF_FUNC_ringbuf_discard, Maps.bpfRingbufDiscardProto],
  [F.BPF_FUNC_ringbuf_query, Maps.bpfRingbufQueryProto],
  [F.BPF_FUNC_strncmp, Misc.bpfStrncmpProto],
  [F.BPF_FUNC_strtol, Misc.bpfStrtolProto],
  [F.BPF_FUNC_strtoul, Misc.bpfStrtoulProto],
  [F.BPF_FUNC_get_current_pid_tgid, Misc.bpfGetCurrentPidTgidProto],
  // CAP_BPF
  [F.BPF_FUNC_spin_lock, Misc.bpfSpinLockProto],
  [F.BPF_FUNC_spin_unlock, Misc.bpfSpinUnlockProto],
  [F.BPF_FUNC_jiffies64, Misc.bpfJiffies64Proto],
  [F.BPF_FUNC_for_each_map_elem, Maps.bpfForEachMapElemProto],
  [F.BPF_FUNC_loop, Misc.bpfLoopProto],
  // CAP_PERFMON
  [F.BPF_FUNC_trace_printk, Trace.bpfTracePrintkProto],
  [F.BPF_FUNC_probe_read_user, Misc.bpfProbeReadUserProto],
  [F.BPF_FUNC_probe_read_kernel, Misc.bpfProbeReadKernelProto],
  [F.BPF_FUNC_probe_read_user_str, Misc.bpfProbeReadUserStrProto],
  [F.BPF_FUNC_probe_read_kernel_str, Misc.bpfProbeReadKernelStrProto],
  [F.BPF_FUNC_snprintf, Trace.bpfSnprintfProto],
  [F.BPF_FUNC_trace_vprintk, Trace.bpfTraceVprintkProto],
];

/** bpf_sk_base_func_proto: the base plus what networking programs share. */
const SK_BASE: ProtoTable = [...BASE, [F.BPF_FUNC_ktime_get_coarse_ns, Misc.bpfKtimeGetCoarseNsProto]];

/** sk_filter_func_proto */
const SOCKET_FILTER: ProtoTable = [
  [F.BPF_FUNC_skb_load_bytes, Skb.bpfSkbLoadBytesProto],
  [F.BPF_FUNC_skb_load_bytes_relative, Skb.bpfSkbLoadBytesRelativeProto],
  ...SK_BASE,
];

/** tc_cls_act_func_proto */
const TC: ProtoTable = [
  [F.BPF_FUNC_skb_store_bytes, Skb.bpfSkbStoreBytesProto],
  [F.BPF_FUNC_skb_load_bytes, Skb.bpfSkbLoadBytesProto],
  [F.BPF_FUNC_skb_load_bytes_relative, Skb.bpfSkbLoadBytesRelativeProto],
  [F.BPF_FUNC_skb_pull_data, Skb.bpfSkbPullDataProto],
  [F.BPF_FUNC_csum_diff, Skb.bpfCsumDiffProto],
  [F.BPF_FUNC_csum_update, Skb.bpfCsumUpdateProto],
  [F.BPF_FUNC_csum_level, Skb.bpfCsumLevelProto],
  [F.BPF_FUNC_l3_csum_replace, Skb.bpfL3CsumReplaceProto],
  [F.BPF_FUNC_l4_csum_replace, Skb.bpfL4CsumReplaceProto],
  [F.BPF_FUNC_clone_redirect, Skb.bpfCloneRedirectProto],
  [F.BPF_FUNC_get_cgroup_classid, Skb.bpfGetCgroupClassidProto],
  [F.BPF_FUNC_skb_vlan_push, Resize.bpfSkbVlanPushProto],
  [F.BPF_FUNC_skb_vlan_pop, Resize.bpfSkbVlanPopProto],
  [F.BPF_FUNC_skb_change_type, Skb.bpfSkbChangeTypeProto],
  [F.BPF_FUNC_skb_adjust_room, Resize.bpfSkbAdjustRoomProto],
  [F.BPF_FUNC_skb_change_tail, Resize.bpfSkbChangeTailProto],
  [F.BPF_FUNC_skb_change_head, Resize.bpfSkbChangeHeadProto],
  [F.BPF_FUNC_redirect, Skb.bpfRedirectProto],
  [F.BPF_FUNC_redirect_neigh, Skb.bpfRedirectNeighProto],
  [F.BPF_FUNC_redirect_peer, Skb.bpfRedirectPeerProto],
  [F.BPF_FUNC_get_route_realm, Skb.bpfGetRouteRealmProto],
  [F.BPF_FUNC_set_hash_invalid, Skb.bpfSetHashInvalidProto],
  [F.BPF_FUNC_set_hash, Skb.bpfSetHashProto],
  ...SK_BASE,
];

/** xdp_func_proto */
const XDP: ProtoTable = [
  [F.BPF_FUNC_csum_diff, Skb.bpfCsumDiffProto],
  [F.BPF_FUNC_xdp_adjust_head, Xdp.bpfXdpAdjustHeadProto],
  [F.BPF_FUNC_xdp_adjust_meta, Xdp.bpfXdpAdjustMetaProto],
  [F.BPF_FUNC_redirect, Xdp.bpfXdpRedirectProto],
  [F.BPF_FUNC_xdp_adjust_tail, Xdp.bpfXdpAdjustTailProto],
  [F.BPF_FUNC_xdp_get_buff_len, Xdp.bpfXdpGetBuffLenProto],
  [F.BPF_FUNC_xdp_load_bytes, Xdp.bpfXdpLoadBytesProto],
  [F.BPF_FUNC_xdp_store_bytes, Xdp.bpfXdpStoreBytesProto],
  ...SK_BASE,
];

/** bpf_tracing_func_proto: the base plus the current task's identity. */
const TRACING: ProtoTable = [
  [F.BPF_FUNC_get_current_uid_gid, Misc.bpfGetCurrentUidGidProto],
  [F.BPF_FUNC_get_current_comm, Misc.bpfGetCurrentCommProto],
  [F.BPF_FUNC_ktime_get_coarse_ns, Misc.bpfKtimeGetCoarseNsProto],
  ...BASE,
];

function tableFor(progType: number): ProtoTable {
  switch (progType) {
    case BPF_PROG_TYPE_SOCKET_FILTER:
    case BPF_PROG_TYPE_CGROUP_SKB:
      return SOCKET_FILTER;
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
      return TC;
    case BPF_PROG_TYPE_XDP:
      return XDP;
    case BPF_PROG_TYPE_KPROBE:
    case BPF_PROG_TYPE_TRACEPOINT:
    case BPF_PROG_TYPE_PERF_EVENT:
    case BPF_PROG_TYPE_RAW_TRACEPOINT:
    case BPF_PROG_TYPE_TRACING:
    case BPF_PROG_TYPE_SYSCALL:
      return TRACING;
    default:
      return BASE;
  }
}

/**
 * The helper a program of type `progType` gets for `id` (the kernel's
 * `env->ops->get_func_proto(func_id, prog)`), or undefined when it may not call it here.
 */
export function funcProto(progType: number, id: number): HelperSpec | undefined {
  for (const [i, spec] of tableFor(progType)) if (i === id) return spec;
  return undefined;
}

const ALL_TABLES: readonly ProtoTable[] = [SOCKET_FILTER, TC, XDP, TRACING];

/** Whether the runtime implements helper `id` for at least one program type. */
export function implementsHelper(id: number): boolean {
  return ALL_TABLES.some((t) => t.some(([i]) => i === id));
}

/**
 * The verifier's `get_func_proto` question — may a `progType` program call helper `id`? — as
 * far as the runtime can answer it. Its tables follow the kernel's per-type groups, minus the
 * helpers it does not implement; so a helper it implements for other types but not this one is
 * one the kernel refuses here too ("program of this type cannot use helper"), while a helper it
 * implements nowhere is left to the kernel's rules (the verifier checks the call) and then
 * refused by the loader as missing from this runtime.
 */
export function helperAllowed(progType: number, id: number): boolean {
  return funcProto(progType, id) !== undefined || !implementsHelper(id);
}

/** A registry holding every helper `progType` may call, ready for an engine. */
export function helpersFor(progType: number): HelperRegistry {
  const reg = new HelperRegistry();
  // Earlier entries win: a type's own variant (bpf_redirect for XDP) shadows the base one.
  const table = tableFor(progType);
  for (let i = table.length - 1; i >= 0; i--) reg.register(table[i][0], table[i][1]);
  return reg;
}
