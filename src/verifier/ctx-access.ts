/**
 * Which context accesses a program type may make, and what a load gives: the
 * `is_valid_access` callbacks of the kernel's `bpf_verifier_ops` at v6.12 —
 * net/core/filter.c `bpf_skb_is_valid_access`, `tc_cls_act_is_valid_access`,
 * `sk_filter_is_valid_access`, `cg_skb_is_valid_access`, `xdp_is_valid_access`; and, for the
 * tracing types whose context layout comes from the kernel's BTF (not modelled here), a plain
 * read-only array of u64 arguments (`btf_ctx_access` without the attach target's prototype).
 */
import {
  BPF_PROG_TYPE_CGROUP_SKB,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_LSM,
  BPF_PROG_TYPE_LWT_IN,
  BPF_PROG_TYPE_LWT_OUT,
  BPF_PROG_TYPE_LWT_XMIT,
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

/** What a valid context load yields (`bpf_insn_access_aux.reg_type`). */
export type CtxLoad = "scalar" | "pkt" | "pkt_meta" | "pkt_end" | "sock_common_or_null";

/** struct __sk_buff field offsets (include/uapi/linux/bpf.h). */
const SKB = {
  mark: 8,
  queue_mapping: 12,
  priority: 32,
  tc_index: 44,
  cb0: 48,
  cbEnd: 68,
  tc_classid: 72,
  data: 76,
  data_end: 80,
  family: 88,
  remote_ip4: 92,
  local_ip4: 96,
  remote_ip6: 100,
  local_ip6: 116,
  local_port_end: 140,
  data_meta: 140,
  flow_keys: 144,
  tstamp: 152,
  wire_len: 160,
  sk: 168,
  tstamp_type: 180,
  hwtstamp: 184,
  size: 192,
} as const;

const inRange = (off: number, start: number, size: number): boolean => off >= start && off < start + size;

/** `bpf_ctx_narrow_access_ok` */
function narrowOk(size: number, sizeDefault: number): boolean {
  return size <= sizeDefault && (size & (size - 1)) === 0;
}

/** `bpf_skb_is_valid_access`: null when invalid. */
function skbValid(off: number, size: number, write: boolean, load: CtxLoad): CtxLoad | null {
  if (off < 0 || off >= SKB.size) return null;
  if (off % size !== 0) return null;
  if (off >= SKB.cb0 && off < SKB.cbEnd) {
    if (off + size > SKB.cbEnd) return null;
    return load;
  }
  if (
    inRange(off, SKB.remote_ip6, 16) ||
    inRange(off, SKB.local_ip6, 16) ||
    inRange(off, SKB.remote_ip4, 4) ||
    inRange(off, SKB.local_ip4, 4) ||
    inRange(off, SKB.data, 4) ||
    inRange(off, SKB.data_meta, 4) ||
    inRange(off, SKB.data_end, 4)
  ) {
    return size === 4 ? load : null;
  }
  if (inRange(off, SKB.flow_keys, 8)) return null;
  if (inRange(off, SKB.hwtstamp, 8)) return write || size !== 8 ? null : load;
  if (inRange(off, SKB.tstamp, 8)) return size === 8 ? load : null;
  if (off === SKB.sk) return write || size !== 8 ? null : "sock_common_or_null";
  if (off === SKB.tstamp_type) return null;
  if (off > SKB.tstamp_type && off < SKB.hwtstamp) return null;
  if (write) return size === 4 ? load : null;
  return narrowOk(size, 4) ? load : null;
}

/** `tc_cls_act_is_valid_access` */
function tcValid(off: number, size: number, write: boolean): CtxLoad | null {
  if (write) {
    const ok =
      inRange(off, SKB.mark, 4) ||
      inRange(off, SKB.tc_index, 4) ||
      inRange(off, SKB.priority, 4) ||
      inRange(off, SKB.tc_classid, 4) ||
      (off >= SKB.cb0 && off < SKB.cbEnd) ||
      inRange(off, SKB.tstamp, 8) ||
      inRange(off, SKB.queue_mapping, 4);
    if (!ok) return null;
  }
  let load: CtxLoad = "scalar";
  if (inRange(off, SKB.data, 4)) load = "pkt";
  else if (inRange(off, SKB.data_meta, 4)) load = "pkt_meta";
  else if (inRange(off, SKB.data_end, 4)) load = "pkt_end";
  else if (off >= SKB.family && off < SKB.local_port_end) return null;
  else if (off === SKB.tstamp_type) return size === 1 ? "scalar" : null;
  return skbValid(off, size, write, load);
}

/** `sk_filter_is_valid_access` */
function socketFilterValid(off: number, size: number, write: boolean): CtxLoad | null {
  if (
    inRange(off, SKB.tc_classid, 4) ||
    inRange(off, SKB.data, 4) ||
    inRange(off, SKB.data_meta, 4) ||
    inRange(off, SKB.data_end, 4) ||
    (off >= SKB.family && off < SKB.local_port_end) ||
    inRange(off, SKB.tstamp, 8) ||
    inRange(off, SKB.wire_len, 4) ||
    inRange(off, SKB.hwtstamp, 8)
  ) {
    return null;
  }
  if (write && !(off >= SKB.cb0 && off < SKB.cbEnd)) return null;
  return skbValid(off, size, write, "scalar");
}

/** `cg_skb_is_valid_access` for a CAP_BPF + CAP_PERFMON loader (direct packet reads allowed). */
function cgSkbValid(off: number, size: number, write: boolean): CtxLoad | null {
  if (inRange(off, SKB.tc_classid, 4) || inRange(off, SKB.data_meta, 4) || inRange(off, SKB.wire_len, 4)) return null;
  if (inRange(off, SKB.hwtstamp, 8)) return null;
  let load: CtxLoad = "scalar";
  if (inRange(off, SKB.data, 4)) load = "pkt";
  else if (inRange(off, SKB.data_end, 4)) load = "pkt_end";
  if (write) {
    const ok =
      inRange(off, SKB.mark, 4) ||
      inRange(off, SKB.priority, 4) ||
      (off >= SKB.cb0 && off < SKB.cbEnd) ||
      inRange(off, SKB.tstamp, 8);
    if (!ok) return null;
  }
  return skbValid(off, size, write, load);
}

/** `xdp_is_valid_access` (xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex). */
function xdpValid(off: number, size: number, write: boolean): CtxLoad | null {
  if (off === 20) return null; // egress_ifindex: devmap programs only
  if (write) return null;
  if (off < 0 || off >= 24 || off % size !== 0 || size !== 4) return null;
  if (off === 0) return "pkt";
  if (off === 4) return "pkt_end";
  if (off === 8) return "pkt_meta";
  return "scalar";
}

/** Tracing contexts: an array of u64 arguments, read-only (`btf_ctx_access`, abridged). */
function tracingValid(off: number, size: number, write: boolean): CtxLoad | null {
  if (write || off < 0 || off % size !== 0 || off + size > 8 * 12) return null;
  return "scalar";
}

/** Read-only contexts of other tracing types (pt_regs, tracepoint records, raw args). */
function readOnlyValid(off: number, size: number, write: boolean, limit: number): CtxLoad | null {
  if (write || off < 0 || off % size !== 0 || off + size > limit) return null;
  return "scalar";
}

/**
 * The program type's `is_valid_access` for an access of `size` bytes at context offset `off`:
 * what a load yields, or null when the access is invalid ("invalid bpf_context access").
 */
export function ctxAccess(progType: number, off: number, size: number, write: boolean): CtxLoad | null {
  switch (progType) {
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
      return tcValid(off, size, write);
    case BPF_PROG_TYPE_SOCKET_FILTER:
      return socketFilterValid(off, size, write);
    case BPF_PROG_TYPE_CGROUP_SKB:
      return cgSkbValid(off, size, write);
    case BPF_PROG_TYPE_LWT_IN:
    case BPF_PROG_TYPE_LWT_OUT:
    case BPF_PROG_TYPE_LWT_XMIT:
      return socketFilterValid(off, size, write);
    case BPF_PROG_TYPE_XDP:
      return xdpValid(off, size, write);
    case BPF_PROG_TYPE_TRACING:
    case BPF_PROG_TYPE_LSM:
    case BPF_PROG_TYPE_RAW_TRACEPOINT:
      return tracingValid(off, size, write);
    case BPF_PROG_TYPE_KPROBE:
    case BPF_PROG_TYPE_PERF_EVENT:
      return readOnlyValid(off, size, write, 336);
    case BPF_PROG_TYPE_TRACEPOINT:
      return readOnlyValid(off, size, write, 4096);
    case BPF_PROG_TYPE_SYSCALL:
      return off >= 0 && off + size <= 4096 ? "scalar" : null;
    default:
      return readOnlyValid(off, size, write, 4096);
  }
}

/** `offsetof(struct __sk_buff, tstamp_type)` */
export const SKB_TSTAMP_TYPE = SKB.tstamp_type;

/** Program types whose context is a `struct __sk_buff`. */
export function isSkbProgType(progType: number): boolean {
  switch (progType) {
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
    case BPF_PROG_TYPE_SOCKET_FILTER:
    case BPF_PROG_TYPE_CGROUP_SKB:
    case BPF_PROG_TYPE_LWT_IN:
    case BPF_PROG_TYPE_LWT_OUT:
    case BPF_PROG_TYPE_LWT_XMIT:
      return true;
    default:
      return false;
  }
}

/** Whether a program type may read and write packet data directly (`may_access_direct_pkt_data`). */
export function mayWritePacket(progType: number): boolean {
  switch (progType) {
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
    case BPF_PROG_TYPE_XDP:
    case BPF_PROG_TYPE_LWT_XMIT:
      return true;
    default:
      return false;
  }
}

/** LD_ABS / LD_IND are allowed (`may_access_skb`). */
export function mayAccessSkb(progType: number): boolean {
  switch (progType) {
    case BPF_PROG_TYPE_SOCKET_FILTER:
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
      return true;
    default:
      return false;
  }
}
