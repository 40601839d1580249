/**
 * Program sections: what a `SEC("...")` name tells libbpf about a program (its BPF_PROG_TYPE_*,
 * expected attach type, load flags and attach target).
 *
 * This is the object layer's copy of libbpf's `section_defs` table and its matcher
 * `sec_def_matches`/`find_sec_def` (src/libbpf.c), in the same order, because the first match
 * wins: `xdp.frags/devmap` must come before `xdp.frags`, `tc/ingress` before `tc`. The three
 * spellings of a table entry mean:
 *
 *     "socket"    the section name must be exactly this;
 *     "kprobe+"   exactly `kprobe`, or `kprobe/<anything>` (the rest is the attach target);
 *     "tc/"       (none in the table today) any name starting with `tc/`.
 *
 * A leading `?` (libbpf's "do not autoload") is stripped before matching, as
 * `bpf_object__init_prog` does. The table follows libbpf v1.3 (tcx, netkit, netfilter, multi
 * uprobes, cgroup unix sockets included); libbpf-only flags that change no load attribute
 * (SEC_ATTACHABLE) are kept for completeness.
 */
import {
  BPF_CGROUP_DEVICE,
  BPF_CGROUP_GETSOCKOPT,
  BPF_CGROUP_INET_EGRESS,
  BPF_CGROUP_INET_INGRESS,
  BPF_CGROUP_INET_SOCK_CREATE,
  BPF_CGROUP_INET_SOCK_RELEASE,
  BPF_CGROUP_INET4_BIND,
  BPF_CGROUP_INET4_CONNECT,
  BPF_CGROUP_INET4_GETPEERNAME,
  BPF_CGROUP_INET4_GETSOCKNAME,
  BPF_CGROUP_INET4_POST_BIND,
  BPF_CGROUP_INET6_BIND,
  BPF_CGROUP_INET6_CONNECT,
  BPF_CGROUP_INET6_GETPEERNAME,
  BPF_CGROUP_INET6_GETSOCKNAME,
  BPF_CGROUP_INET6_POST_BIND,
  BPF_CGROUP_SETSOCKOPT,
  BPF_CGROUP_SOCK_OPS,
  BPF_CGROUP_SYSCTL,
  BPF_CGROUP_UDP4_RECVMSG,
  BPF_CGROUP_UDP4_SENDMSG,
  BPF_CGROUP_UDP6_RECVMSG,
  BPF_CGROUP_UDP6_SENDMSG,
  BPF_CGROUP_UNIX_CONNECT,
  BPF_CGROUP_UNIX_GETPEERNAME,
  BPF_CGROUP_UNIX_GETSOCKNAME,
  BPF_CGROUP_UNIX_RECVMSG,
  BPF_CGROUP_UNIX_SENDMSG,
  BPF_F_SLEEPABLE,
  BPF_F_XDP_HAS_FRAGS,
  BPF_FLOW_DISSECTOR,
  BPF_LIRC_MODE2,
  BPF_LSM_CGROUP,
  BPF_LSM_MAC,
  BPF_MODIFY_RETURN,
  BPF_NETFILTER,
  BPF_NETKIT_PEER,
  BPF_NETKIT_PRIMARY,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  BPF_PROG_TYPE_CGROUP_SKB,
  BPF_PROG_TYPE_CGROUP_SOCK,
  BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
  BPF_PROG_TYPE_CGROUP_SOCKOPT,
  BPF_PROG_TYPE_CGROUP_SYSCTL,
  BPF_PROG_TYPE_EXT,
  BPF_PROG_TYPE_FLOW_DISSECTOR,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_LIRC_MODE2,
  BPF_PROG_TYPE_LSM,
  BPF_PROG_TYPE_LWT_IN,
  BPF_PROG_TYPE_LWT_OUT,
  BPF_PROG_TYPE_LWT_SEG6LOCAL,
  BPF_PROG_TYPE_LWT_XMIT,
  BPF_PROG_TYPE_NETFILTER,
  BPF_PROG_TYPE_PERF_EVENT,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
  BPF_PROG_TYPE_SCHED_ACT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SK_LOOKUP,
  BPF_PROG_TYPE_SK_MSG,
  BPF_PROG_TYPE_SK_REUSEPORT,
  BPF_PROG_TYPE_SK_SKB,
  BPF_PROG_TYPE_SOCK_OPS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_STRUCT_OPS,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_TRACEPOINT,
  BPF_PROG_TYPE_TRACING,
  BPF_PROG_TYPE_XDP,
  BPF_SK_LOOKUP,
  BPF_SK_MSG_VERDICT,
  BPF_SK_REUSEPORT_SELECT,
  BPF_SK_REUSEPORT_SELECT_OR_MIGRATE,
  BPF_SK_SKB_STREAM_PARSER,
  BPF_SK_SKB_STREAM_VERDICT,
  BPF_TCX_EGRESS,
  BPF_TCX_INGRESS,
  BPF_TRACE_FENTRY,
  BPF_TRACE_FEXIT,
  BPF_TRACE_ITER,
  BPF_TRACE_KPROBE_MULTI,
  BPF_TRACE_RAW_TP,
  BPF_TRACE_UPROBE_MULTI,
  BPF_XDP,
  BPF_XDP_CPUMAP,
  BPF_XDP_DEVMAP,
} from "./uapi.ts";

// libbpf's `enum sec_def_flags` (the sec_def cookie).
/** No special handling. */
const SEC_NONE = 0;
/** expected_attach_type may be dropped on kernels that do not support it. */
const SEC_EXP_ATTACH_OPT = 1;
/** Legacy BPF_PROG_ATTACH-able: only libbpf's name listings use it. */
const SEC_ATTACHABLE = 2;
const SEC_ATTACHABLE_OPT = SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT;
/** The attach target is a BTF id found from the name after the `/`. */
const SEC_ATTACH_BTF = 4;
/** Loaded with BPF_F_SLEEPABLE. */
const SEC_SLEEPABLE = 8;
/** Loaded with BPF_F_XDP_HAS_FRAGS. */
const SEC_XDP_FRAGS = 16;
/** USDT: libbpf may switch the attach type to uprobe_multi at load time. */
const SEC_USDT = 32;

/** One row of libbpf's `section_defs`: prefix (with its `+`/`/` marker), types and flags. */
interface SecDef {
  readonly sec: string;
  readonly progType: number;
  readonly attachType: number;
  readonly flags: number;
}

function def(sec: string, progType: number, attachType: number, flags: number): SecDef {
  return { sec, progType, attachType, flags };
}

/** libbpf's `section_defs[]`, row for row and in its order (the first match wins). */
export const SECTION_DEFS: readonly SecDef[] = [
  def("socket", BPF_PROG_TYPE_SOCKET_FILTER, 0, SEC_NONE),
  def("sk_reuseport/migrate", BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, SEC_ATTACHABLE),
  def("sk_reuseport", BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT, SEC_ATTACHABLE),
  def("kprobe+", BPF_PROG_TYPE_KPROBE, 0, SEC_NONE),
  def("uprobe+", BPF_PROG_TYPE_KPROBE, 0, SEC_NONE),
  def("uprobe.s+", BPF_PROG_TYPE_KPROBE, 0, SEC_SLEEPABLE),
  def("kretprobe+", BPF_PROG_TYPE_KPROBE, 0, SEC_NONE),
  def("uretprobe+", BPF_PROG_TYPE_KPROBE, 0, SEC_NONE),
  def("uretprobe.s+", BPF_PROG_TYPE_KPROBE, 0, SEC_SLEEPABLE),
  def("kprobe.multi+", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, SEC_NONE),
  def("kretprobe.multi+", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, SEC_NONE),
  def("uprobe.multi+", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, SEC_NONE),
  def("uretprobe.multi+", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, SEC_NONE),
  def("uprobe.multi.s+", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, SEC_SLEEPABLE),
  def("uretprobe.multi.s+", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, SEC_SLEEPABLE),
  def("ksyscall+", BPF_PROG_TYPE_KPROBE, 0, SEC_NONE),
  def("kretsyscall+", BPF_PROG_TYPE_KPROBE, 0, SEC_NONE),
  def("usdt+", BPF_PROG_TYPE_KPROBE, 0, SEC_USDT),
  def("usdt.s+", BPF_PROG_TYPE_KPROBE, 0, SEC_USDT | SEC_SLEEPABLE),
  def("tc/ingress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, SEC_NONE),
  def("tc/egress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_EGRESS, SEC_NONE),
  def("tcx/ingress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, SEC_NONE),
  def("tcx/egress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_EGRESS, SEC_NONE),
  def("tc", BPF_PROG_TYPE_SCHED_CLS, 0, SEC_NONE),
  def("classifier", BPF_PROG_TYPE_SCHED_CLS, 0, SEC_NONE),
  def("action", BPF_PROG_TYPE_SCHED_ACT, 0, SEC_NONE),
  def("netkit/primary", BPF_PROG_TYPE_SCHED_CLS, BPF_NETKIT_PRIMARY, SEC_NONE),
  def("netkit/peer", BPF_PROG_TYPE_SCHED_CLS, BPF_NETKIT_PEER, SEC_NONE),
  def("tracepoint+", BPF_PROG_TYPE_TRACEPOINT, 0, SEC_NONE),
  def("tp+", BPF_PROG_TYPE_TRACEPOINT, 0, SEC_NONE),
  def("raw_tracepoint+", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, SEC_NONE),
  def("raw_tp+", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, SEC_NONE),
  def("raw_tracepoint.w+", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, SEC_NONE),
  def("raw_tp.w+", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, SEC_NONE),
  def("tp_btf+", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, SEC_ATTACH_BTF),
  def("fentry+", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, SEC_ATTACH_BTF),
  def("fmod_ret+", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, SEC_ATTACH_BTF),
  def("fexit+", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, SEC_ATTACH_BTF),
  def("fentry.s+", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def("fmod_ret.s+", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def("fexit.s+", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def("freplace+", BPF_PROG_TYPE_EXT, 0, SEC_ATTACH_BTF),
  def("lsm+", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, SEC_ATTACH_BTF),
  def("lsm.s+", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def("lsm_cgroup+", BPF_PROG_TYPE_LSM, BPF_LSM_CGROUP, SEC_ATTACH_BTF),
  def("iter+", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, SEC_ATTACH_BTF),
  def("iter.s+", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def("syscall", BPF_PROG_TYPE_SYSCALL, 0, SEC_SLEEPABLE),
  def("xdp.frags/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, SEC_XDP_FRAGS),
  def("xdp/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, SEC_ATTACHABLE),
  def("xdp.frags/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, SEC_XDP_FRAGS),
  def("xdp/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, SEC_ATTACHABLE),
  def("xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP, SEC_XDP_FRAGS),
  def("xdp", BPF_PROG_TYPE_XDP, BPF_XDP, SEC_ATTACHABLE_OPT),
  def("perf_event", BPF_PROG_TYPE_PERF_EVENT, 0, SEC_NONE),
  def("lwt_in", BPF_PROG_TYPE_LWT_IN, 0, SEC_NONE),
  def("lwt_out", BPF_PROG_TYPE_LWT_OUT, 0, SEC_NONE),
  def("lwt_xmit", BPF_PROG_TYPE_LWT_XMIT, 0, SEC_NONE),
  def("lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL, 0, SEC_NONE),
  def("sockops", BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS, SEC_ATTACHABLE_OPT),
  def("sk_skb/stream_parser", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_PARSER, SEC_ATTACHABLE_OPT),
  def("sk_skb/stream_verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_VERDICT, SEC_ATTACHABLE_OPT),
  def("sk_skb", BPF_PROG_TYPE_SK_SKB, 0, SEC_NONE),
  def("sk_msg", BPF_PROG_TYPE_SK_MSG, BPF_SK_MSG_VERDICT, SEC_ATTACHABLE_OPT),
  def("lirc_mode2", BPF_PROG_TYPE_LIRC_MODE2, BPF_LIRC_MODE2, SEC_ATTACHABLE_OPT),
  def("flow_dissector", BPF_PROG_TYPE_FLOW_DISSECTOR, BPF_FLOW_DISSECTOR, SEC_ATTACHABLE_OPT),
  def("cgroup_skb/ingress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS, SEC_ATTACHABLE_OPT),
  def("cgroup_skb/egress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, SEC_ATTACHABLE_OPT),
  def("cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB, 0, SEC_NONE),
  def("cgroup/sock_create", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, SEC_ATTACHABLE),
  def("cgroup/sock_release", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE, SEC_ATTACHABLE),
  def("cgroup/sock", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, SEC_ATTACHABLE_OPT),
  def("cgroup/post_bind4", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND, SEC_ATTACHABLE),
  def("cgroup/post_bind6", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET6_POST_BIND, SEC_ATTACHABLE),
  def("cgroup/bind4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_BIND, SEC_ATTACHABLE),
  def("cgroup/bind6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_BIND, SEC_ATTACHABLE),
  def("cgroup/connect4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, SEC_ATTACHABLE),
  def("cgroup/connect6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT, SEC_ATTACHABLE),
  def("cgroup/connect_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_CONNECT, SEC_ATTACHABLE),
  def("cgroup/sendmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG, SEC_ATTACHABLE),
  def("cgroup/sendmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG, SEC_ATTACHABLE),
  def("cgroup/sendmsg_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_SENDMSG, SEC_ATTACHABLE),
  def("cgroup/recvmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG, SEC_ATTACHABLE),
  def("cgroup/recvmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_RECVMSG, SEC_ATTACHABLE),
  def("cgroup/recvmsg_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_RECVMSG, SEC_ATTACHABLE),
  def("cgroup/getpeername4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETPEERNAME, SEC_ATTACHABLE),
  def("cgroup/getpeername6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETPEERNAME, SEC_ATTACHABLE),
  def("cgroup/getpeername_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_GETPEERNAME, SEC_ATTACHABLE),
  def("cgroup/getsockname4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETSOCKNAME, SEC_ATTACHABLE),
  def("cgroup/getsockname6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETSOCKNAME, SEC_ATTACHABLE),
  def("cgroup/getsockname_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_GETSOCKNAME, SEC_ATTACHABLE),
  def("cgroup/sysctl", BPF_PROG_TYPE_CGROUP_SYSCTL, BPF_CGROUP_SYSCTL, SEC_ATTACHABLE),
  def("cgroup/getsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_GETSOCKOPT, SEC_ATTACHABLE),
  def("cgroup/setsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT, SEC_ATTACHABLE),
  def("cgroup/dev", BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, SEC_ATTACHABLE_OPT),
  def("struct_ops+", BPF_PROG_TYPE_STRUCT_OPS, 0, SEC_NONE),
  def("struct_ops.s+", BPF_PROG_TYPE_STRUCT_OPS, 0, SEC_SLEEPABLE),
  def("sk_lookup", BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, SEC_ATTACHABLE),
  def("netfilter", BPF_PROG_TYPE_NETFILTER, BPF_NETFILTER, SEC_NONE),
];

/** libbpf's `sec_def_matches`: exact, `type+` (exact or `type/...`) or `type/` (prefix). */
function secDefMatches(d: SecDef, name: string): boolean {
  const last = d.sec[d.sec.length - 1];
  if (last === "/") return name.startsWith(d.sec);
  if (last === "+") {
    const prefix = d.sec.slice(0, -1);
    if (!name.startsWith(prefix)) return false;
    return name.length === prefix.length || name[prefix.length] === "/";
  }
  return name === d.sec;
}

/** What a program's section name decides, as libbpf derives it at open and load time. */
export interface SectionInfo {
  /** The section name without libbpf's `?` prefix (what `bpf_program__section_name` returns). */
  readonly section: string;
  /** False when the name had the `?` prefix. */
  readonly autoload: boolean;
  /** BPF_PROG_TYPE_*. */
  readonly type: number;
  /** The expected attach type libbpf passes to BPF_PROG_LOAD. */
  readonly expectedAttachType: number;
  /** BPF_F_SLEEPABLE / BPF_F_XDP_HAS_FRAGS, as `libbpf_prepare_prog_load` sets them. */
  readonly flags: number;
  /** The text after the first `/` of a `type+` or `type/` section ("" when none): the attach target. */
  readonly attachTo: string;
  /** True when the target is resolved through BTF (fentry, lsm, iter, tp_btf ...: SEC_ATTACH_BTF). */
  readonly attachBtf: boolean;
}

/**
 * Looks up a program section name in libbpf's table (libbpf's `find_sec_def` plus the parts of
 * `bpf_object__init_prog` and `libbpf_prepare_prog_load` that read the name). Returns null for a
 * name libbpf does not know: libbpf then leaves the type unset and fails at load time with
 * "missing BPF prog type, check ELF section name".
 */
export function sectionInfo(rawName: string): SectionInfo | null {
  const autoload = !rawName.startsWith("?");
  const section = autoload ? rawName : rawName.slice(1);
  for (const d of SECTION_DEFS) {
    if (!secDefMatches(d, section)) continue;
    let flags = 0;
    if (d.flags & SEC_SLEEPABLE) flags |= BPF_F_SLEEPABLE;
    if (d.progType === BPF_PROG_TYPE_XDP && d.flags & SEC_XDP_FRAGS) flags |= BPF_F_XDP_HAS_FRAGS;
    const last = d.sec[d.sec.length - 1];
    const slash = section.indexOf("/");
    const attachTo = (last === "+" || last === "/") && slash >= 0 ? section.slice(slash + 1) : "";
    return {
      section,
      autoload,
      type: d.progType,
      expectedAttachType: d.attachType,
      flags,
      attachTo,
      attachBtf: (d.flags & SEC_ATTACH_BTF) !== 0,
    };
  }
  return null;
}
