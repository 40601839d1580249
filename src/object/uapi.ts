/**
 * Program and map type numbers of the kernel's uapi (include/uapi/linux/bpf.h), with the names
 * bpftool prints. Plain constants, composed and compared as the kernel does.
 */

// ---- enum bpf_prog_type
export const BPF_PROG_TYPE_UNSPEC = 0;
export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
export const BPF_PROG_TYPE_KPROBE = 2;
export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_PROG_TYPE_SCHED_ACT = 4;
export const BPF_PROG_TYPE_TRACEPOINT = 5;
export const BPF_PROG_TYPE_XDP = 6;
export const BPF_PROG_TYPE_PERF_EVENT = 7;
export const BPF_PROG_TYPE_CGROUP_SKB = 8;
export const BPF_PROG_TYPE_CGROUP_SOCK = 9;
export const BPF_PROG_TYPE_LWT_IN = 10;
export const BPF_PROG_TYPE_LWT_OUT = 11;
export const BPF_PROG_TYPE_LWT_XMIT = 12;
export const BPF_PROG_TYPE_SOCK_OPS = 13;
export const BPF_PROG_TYPE_SK_SKB = 14;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_PROG_TYPE_SK_MSG = 16;
export const BPF_PROG_TYPE_RAW_TRACEPOINT = 17;
export const BPF_PROG_TYPE_CGROUP_SOCK_ADDR = 18;
export const BPF_PROG_TYPE_LWT_SEG6LOCAL = 19;
export const BPF_PROG_TYPE_LIRC_MODE2 = 20;
export const BPF_PROG_TYPE_SK_REUSEPORT = 21;
export const BPF_PROG_TYPE_FLOW_DISSECTOR = 22;
export const BPF_PROG_TYPE_CGROUP_SYSCTL = 23;
export const BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE = 24;
export const BPF_PROG_TYPE_CGROUP_SOCKOPT = 25;
export const BPF_PROG_TYPE_TRACING = 26;
export const BPF_PROG_TYPE_STRUCT_OPS = 27;
export const BPF_PROG_TYPE_EXT = 28;
export const BPF_PROG_TYPE_LSM = 29;
export const BPF_PROG_TYPE_SK_LOOKUP = 30;
export const BPF_PROG_TYPE_SYSCALL = 31;
export const BPF_PROG_TYPE_NETFILTER = 32;

/** bpftool's names of the program types, by number. */
export const PROG_TYPE_NAMES: readonly string[] = [
  "unspec",
  "socket_filter",
  "kprobe",
  "sched_cls",
  "sched_act",
  "tracepoint",
  "xdp",
  "perf_event",
  "cgroup_skb",
  "cgroup_sock",
  "lwt_in",
  "lwt_out",
  "lwt_xmit",
  "sock_ops",
  "sk_skb",
  "cgroup_device",
  "sk_msg",
  "raw_tracepoint",
  "cgroup_sock_addr",
  "lwt_seg6local",
  "lirc_mode2",
  "sk_reuseport",
  "flow_dissector",
  "cgroup_sysctl",
  "raw_tracepoint_writable",
  "cgroup_sockopt",
  "tracing",
  "struct_ops",
  "ext",
  "lsm",
  "sk_lookup",
  "syscall",
  "netfilter",
];

// ---- enum bpf_map_type
export const BPF_MAP_TYPE_UNSPEC = 0;
export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_PROG_ARRAY = 3;
export const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
export const BPF_MAP_TYPE_STACK_TRACE = 7;
export const BPF_MAP_TYPE_CGROUP_ARRAY = 8;
export const BPF_MAP_TYPE_LRU_HASH = 9;
export const BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;
export const BPF_MAP_TYPE_LPM_TRIE = 11;
export const BPF_MAP_TYPE_ARRAY_OF_MAPS = 12;
export const BPF_MAP_TYPE_HASH_OF_MAPS = 13;
export const BPF_MAP_TYPE_DEVMAP = 14;
export const BPF_MAP_TYPE_SOCKMAP = 15;
export const BPF_MAP_TYPE_CPUMAP = 16;
export const BPF_MAP_TYPE_XSKMAP = 17;
export const BPF_MAP_TYPE_SOCKHASH = 18;
export const BPF_MAP_TYPE_CGROUP_STORAGE = 19;
export const BPF_MAP_TYPE_REUSEPORT_SOCKARRAY = 20;
export const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = 21;
export const BPF_MAP_TYPE_QUEUE = 22;
export const BPF_MAP_TYPE_STACK = 23;
export const BPF_MAP_TYPE_SK_STORAGE = 24;
export const BPF_MAP_TYPE_DEVMAP_HASH = 25;
export const BPF_MAP_TYPE_STRUCT_OPS = 26;
export const BPF_MAP_TYPE_RINGBUF = 27;
export const BPF_MAP_TYPE_INODE_STORAGE = 28;
export const BPF_MAP_TYPE_TASK_STORAGE = 29;
export const BPF_MAP_TYPE_BLOOM_FILTER = 30;
export const BPF_MAP_TYPE_USER_RINGBUF = 31;
export const BPF_MAP_TYPE_CGRP_STORAGE = 32;
export const BPF_MAP_TYPE_ARENA = 33;

/** bpftool's names of the map types, by number. */
export const MAP_TYPE_NAMES: readonly string[] = [
  "unspec",
  "hash",
  "array",
  "prog_array",
  "perf_event_array",
  "percpu_hash",
  "percpu_array",
  "stack_trace",
  "cgroup_array",
  "lru_hash",
  "lru_percpu_hash",
  "lpm_trie",
  "array_of_maps",
  "hash_of_maps",
  "devmap",
  "sockmap",
  "cpumap",
  "xskmap",
  "sockhash",
  "cgroup_storage",
  "reuseport_sockarray",
  "percpu_cgroup_storage",
  "queue",
  "stack",
  "sk_storage",
  "devmap_hash",
  "struct_ops",
  "ringbuf",
  "inode_storage",
  "task_storage",
  "bloom_filter",
  "user_ringbuf",
  "cgrp_storage",
  "arena",
];

// ---- map flags (BPF_MAP_CREATE map_flags)
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_STACK_BUILD_ID = 1 << 5;
export const BPF_F_ZERO_SEED = 1 << 6;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_WRONLY_PROG = 1 << 8;
export const BPF_F_CLONE = 1 << 9;
export const BPF_F_MMAPABLE = 1 << 10;
export const BPF_F_PRESERVE_ELEMS = 1 << 11;
export const BPF_F_INNER_MAP = 1 << 12;

// ---- update flags (BPF_MAP_UPDATE_ELEM)
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

// ---- pinning (libbpf LIBBPF_PIN_*)
export const LIBBPF_PIN_NONE = 0;
export const LIBBPF_PIN_BY_NAME = 1;

// ---- enum bpf_attach_type (BPF_PROG_LOAD expected_attach_type)
export const BPF_CGROUP_INET_INGRESS = 0;
export const BPF_CGROUP_INET_EGRESS = 1;
export const BPF_CGROUP_INET_SOCK_CREATE = 2;
export const BPF_CGROUP_SOCK_OPS = 3;
export const BPF_SK_SKB_STREAM_PARSER = 4;
export const BPF_SK_SKB_STREAM_VERDICT = 5;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_SK_MSG_VERDICT = 7;
export const BPF_CGROUP_INET4_BIND = 8;
export const BPF_CGROUP_INET6_BIND = 9;
export const BPF_CGROUP_INET4_CONNECT = 10;
export const BPF_CGROUP_INET6_CONNECT = 11;
export const BPF_CGROUP_INET4_POST_BIND = 12;
export const BPF_CGROUP_INET6_POST_BIND = 13;
export const BPF_CGROUP_UDP4_SENDMSG = 14;
export const BPF_CGROUP_UDP6_SENDMSG = 15;
export const BPF_LIRC_MODE2 = 16;
export const BPF_FLOW_DISSECTOR = 17;
export const BPF_CGROUP_SYSCTL = 18;
export const BPF_CGROUP_UDP4_RECVMSG = 19;
export const BPF_CGROUP_UDP6_RECVMSG = 20;
export const BPF_CGROUP_GETSOCKOPT = 21;
export const BPF_CGROUP_SETSOCKOPT = 22;
export const BPF_TRACE_RAW_TP = 23;
export const BPF_TRACE_FENTRY = 24;
export const BPF_TRACE_FEXIT = 25;
export const BPF_MODIFY_RETURN = 26;
export const BPF_LSM_MAC = 27;
export const BPF_TRACE_ITER = 28;
export const BPF_CGROUP_INET4_GETPEERNAME = 29;
export const BPF_CGROUP_INET6_GETPEERNAME = 30;
export const BPF_CGROUP_INET4_GETSOCKNAME = 31;
export const BPF_CGROUP_INET6_GETSOCKNAME = 32;
export const BPF_XDP_DEVMAP = 33;
export const BPF_CGROUP_INET_SOCK_RELEASE = 34;
export const BPF_XDP_CPUMAP = 35;
export const BPF_SK_LOOKUP = 36;
export const BPF_XDP = 37;
export const BPF_SK_SKB_VERDICT = 38;
export const BPF_SK_REUSEPORT_SELECT = 39;
export const BPF_SK_REUSEPORT_SELECT_OR_MIGRATE = 40;
export const BPF_PERF_EVENT = 41;
export const BPF_TRACE_KPROBE_MULTI = 42;
export const BPF_LSM_CGROUP = 43;
export const BPF_STRUCT_OPS = 44;
export const BPF_NETFILTER = 45;
export const BPF_TCX_INGRESS = 46;
export const BPF_TCX_EGRESS = 47;
export const BPF_TRACE_UPROBE_MULTI = 48;
export const BPF_CGROUP_UNIX_CONNECT = 49;
export const BPF_CGROUP_UNIX_SENDMSG = 50;
export const BPF_CGROUP_UNIX_RECVMSG = 51;
export const BPF_CGROUP_UNIX_GETPEERNAME = 52;
export const BPF_CGROUP_UNIX_GETSOCKNAME = 53;
export const BPF_NETKIT_PRIMARY = 54;
export const BPF_NETKIT_PEER = 55;

// ---- BPF_PROG_LOAD prog_flags libbpf sets from the section name
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;

/** `offsetof(struct __sk_buff, *)` (include/uapi/linux/bpf.h, v6.12). */
export const SK_BUFF_OFFSETS = {
  len: 0,
  pkt_type: 4,
  mark: 8,
  queue_mapping: 12,
  protocol: 16,
  vlan_present: 20,
  vlan_tci: 24,
  vlan_proto: 28,
  priority: 32,
  ingress_ifindex: 36,
  ifindex: 40,
  tc_index: 44,
  cb: 48,
  hash: 68,
  tc_classid: 72,
  data: 76,
  data_end: 80,
  napi_id: 84,
  family: 88,
  remote_ip4: 92,
  local_ip4: 96,
  remote_ip6: 100,
  local_ip6: 116,
  remote_port: 132,
  local_port: 136,
  data_meta: 140,
  flow_keys: 144,
  tstamp: 152,
  wire_len: 160,
  gso_segs: 164,
  sk: 168,
  gso_size: 176,
  tstamp_type: 180,
  hwtstamp: 184,
} as const;
