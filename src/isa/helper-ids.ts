/**
 * Helper ids of the kernel's uapi (`enum bpf_func_id`, the ___BPF_FUNC_MAPPER list of
 * include/uapi/linux/bpf.h at v6.12) and their names as the verifier prints them
 * (`func_id_name`: "bpf_map_lookup_elem"). A `call imm` instruction names its helper by this id.
 */

/** bpf_map_lookup_elem */
export const BPF_FUNC_map_lookup_elem = 1;
/** bpf_map_update_elem */
export const BPF_FUNC_map_update_elem = 2;
/** bpf_map_delete_elem */
export const BPF_FUNC_map_delete_elem = 3;
/** bpf_probe_read */
export const BPF_FUNC_probe_read = 4;
/** bpf_ktime_get_ns */
export const BPF_FUNC_ktime_get_ns = 5;
/** bpf_trace_printk */
export const BPF_FUNC_trace_printk = 6;
/** bpf_get_prandom_u32 */
export const BPF_FUNC_get_prandom_u32 = 7;
/** bpf_get_smp_processor_id */
export const BPF_FUNC_get_smp_processor_id = 8;
/** bpf_skb_store_bytes */
export const BPF_FUNC_skb_store_bytes = 9;
/** bpf_l3_csum_replace */
export const BPF_FUNC_l3_csum_replace = 10;
/** bpf_l4_csum_replace */
export const BPF_FUNC_l4_csum_replace = 11;
/** bpf_tail_call */
export const BPF_FUNC_tail_call = 12;
/** bpf_clone_redirect */
export const BPF_FUNC_clone_redirect = 13;
/** bpf_get_current_pid_tgid */
export const BPF_FUNC_get_current_pid_tgid = 14;
/** bpf_get_current_uid_gid */
export const BPF_FUNC_get_current_uid_gid = 15;
/** bpf_get_current_comm */
export const BPF_FUNC_get_current_comm = 16;
/** bpf_get_cgroup_classid */
export const BPF_FUNC_get_cgroup_classid = 17;
/** bpf_skb_vlan_push */
export const BPF_FUNC_skb_vlan_push = 18;
/** bpf_skb_vlan_pop */
export const BPF_FUNC_skb_vlan_pop = 19;
/** bpf_redirect */
export const BPF_FUNC_redirect = 23;
/** bpf_get_route_realm */
export const BPF_FUNC_get_route_realm = 24;
/** bpf_skb_load_bytes */
export const BPF_FUNC_skb_load_bytes = 26;
/** bpf_csum_diff */
export const BPF_FUNC_csum_diff = 28;
/** bpf_skb_change_proto */
export const BPF_FUNC_skb_change_proto = 31;
/** bpf_skb_change_type */
export const BPF_FUNC_skb_change_type = 32;
/** bpf_get_hash_recalc */
export const BPF_FUNC_get_hash_recalc = 34;
/** bpf_skb_change_tail */
export const BPF_FUNC_skb_change_tail = 38;
/** bpf_skb_pull_data */
export const BPF_FUNC_skb_pull_data = 39;
/** bpf_csum_update */
export const BPF_FUNC_csum_update = 40;
/** bpf_set_hash_invalid */
export const BPF_FUNC_set_hash_invalid = 41;
/** bpf_get_numa_node_id */
export const BPF_FUNC_get_numa_node_id = 42;
/** bpf_skb_change_head */
export const BPF_FUNC_skb_change_head = 43;
/** bpf_xdp_adjust_head */
export const BPF_FUNC_xdp_adjust_head = 44;
/** bpf_probe_read_str */
export const BPF_FUNC_probe_read_str = 45;
/** bpf_set_hash */
export const BPF_FUNC_set_hash = 48;
/** bpf_skb_adjust_room */
export const BPF_FUNC_skb_adjust_room = 50;
/** bpf_redirect_map */
export const BPF_FUNC_redirect_map = 51;
/** bpf_xdp_adjust_meta */
export const BPF_FUNC_xdp_adjust_meta = 54;
/** bpf_xdp_adjust_tail */
export const BPF_FUNC_xdp_adjust_tail = 65;
/** bpf_skb_load_bytes_relative */
export const BPF_FUNC_skb_load_bytes_relative = 68;
/** bpf_skb_cgroup_id */
export const BPF_FUNC_skb_cgroup_id = 79;
/** bpf_map_push_elem */
export const BPF_FUNC_map_push_elem = 87;
/** bpf_map_pop_elem */
export const BPF_FUNC_map_pop_elem = 88;
/** bpf_map_peek_elem */
export const BPF_FUNC_map_peek_elem = 89;
/** bpf_spin_lock */
export const BPF_FUNC_spin_lock = 93;
/** bpf_spin_unlock */
export const BPF_FUNC_spin_unlock = 94;
/** bpf_strtol */
export const BPF_FUNC_strtol = 105;
/** bpf_strtoul */
export const BPF_FUNC_strtoul = 106;
/** bpf_probe_read_user */
export const BPF_FUNC_probe_read_user = 112;
/** bpf_probe_read_kernel */
export const BPF_FUNC_probe_read_kernel = 113;
/** bpf_probe_read_user_str */
export const BPF_FUNC_probe_read_user_str = 114;
/** bpf_probe_read_kernel_str */
export const BPF_FUNC_probe_read_kernel_str = 115;
/** bpf_jiffies64 */
export const BPF_FUNC_jiffies64 = 118;
/** bpf_get_ns_current_pid_tgid */
export const BPF_FUNC_get_ns_current_pid_tgid = 120;
/** bpf_ktime_get_boot_ns */
export const BPF_FUNC_ktime_get_boot_ns = 125;
/** bpf_ringbuf_output */
export const BPF_FUNC_ringbuf_output = 130;
/** bpf_ringbuf_reserve */
export const BPF_FUNC_ringbuf_reserve = 131;
/** bpf_ringbuf_submit */
export const BPF_FUNC_ringbuf_submit = 132;
/** bpf_ringbuf_discard */
export const BPF_FUNC_ringbuf_discard = 133;
/** bpf_ringbuf_query */
export const BPF_FUNC_ringbuf_query = 134;
/** bpf_csum_level */
export const BPF_FUNC_csum_level = 135;
/** bpf_skb_cgroup_classid */
export const BPF_FUNC_skb_cgroup_classid = 151;
/** bpf_redirect_neigh */
export const BPF_FUNC_redirect_neigh = 152;
/** bpf_redirect_peer */
export const BPF_FUNC_redirect_peer = 155;
/** bpf_ktime_get_coarse_ns */
export const BPF_FUNC_ktime_get_coarse_ns = 160;
/** bpf_for_each_map_elem */
export const BPF_FUNC_for_each_map_elem = 164;
/** bpf_snprintf */
export const BPF_FUNC_snprintf = 165;
/** bpf_trace_vprintk */
export const BPF_FUNC_trace_vprintk = 177;
/** bpf_loop */
export const BPF_FUNC_loop = 181;
/** bpf_strncmp */
export const BPF_FUNC_strncmp = 182;
/** bpf_xdp_get_buff_len */
export const BPF_FUNC_xdp_get_buff_len = 188;
/** bpf_xdp_load_bytes */
export const BPF_FUNC_xdp_load_bytes = 189;
/** bpf_xdp_store_bytes */
export const BPF_FUNC_xdp_store_bytes = 190;
/** bpf_map_lookup_percpu_elem */
export const BPF_FUNC_map_lookup_percpu_elem = 195;
/** bpf_ktime_get_tai_ns */
export const BPF_FUNC_ktime_get_tai_ns = 208;

/** bpf_get_stack */
export const BPF_FUNC_get_stack = 67;
/** bpf_timer_init */
export const BPF_FUNC_timer_init = 169;
/** bpf_timer_set_callback */
export const BPF_FUNC_timer_set_callback = 170;
/** bpf_find_vma */
export const BPF_FUNC_find_vma = 180;
/** bpf_user_ringbuf_drain */
export const BPF_FUNC_user_ringbuf_drain = 209;

/** One past the last helper id of v6.12 (`__BPF_FUNC_MAX_ID`). */
export const BPF_FUNC_MAX_ID = 212;

const NAMES: readonly string[] = [
  "unspec",
  "map_lookup_elem",
  "map_update_elem",
  "map_delete_elem",
  "probe_read",
  "ktime_get_ns",
  "trace_printk",
  "get_prandom_u32",
  "get_smp_processor_id",
  "skb_store_bytes",
  "l3_csum_replace",
  "l4_csum_replace",
  "tail_call",
  "clone_redirect",
  "get_current_pid_tgid",
  "get_current_uid_gid",
  "get_current_comm",
  "get_cgroup_classid",
  "skb_vlan_push",
  "skb_vlan_pop",
  "skb_get_tunnel_key",
  "skb_set_tunnel_key",
  "perf_event_read",
  "redirect",
  "get_route_realm",
  "perf_event_output",
  "skb_load_bytes",
  "get_stackid",
  "csum_diff",
  "skb_get_tunnel_opt",
  "skb_set_tunnel_opt",
  "skb_change_proto",
  "skb_change_type",
  "skb_under_cgroup",
  "get_hash_recalc",
  "get_current_task",
  "probe_write_user",
  "current_task_under_cgroup",
  "skb_change_tail",
  "skb_pull_data",
  "csum_update",
  "set_hash_invalid",
  "get_numa_node_id",
  "skb_change_head",
  "xdp_adjust_head",
  "probe_read_str",
  "get_socket_cookie",
  "get_socket_uid",
  "set_hash",
  "setsockopt",
  "skb_adjust_room",
  "redirect_map",
  "sk_redirect_map",
  "sock_map_update",
  "xdp_adjust_meta",
  "perf_event_read_value",
  "perf_prog_read_value",
  "getsockopt",
  "override_return",
  "sock_ops_cb_flags_set",
  "msg_redirect_map",
  "msg_apply_bytes",
  "msg_cork_bytes",
  "msg_pull_data",
  "bind",
  "xdp_adjust_tail",
  "skb_get_xfrm_state",
  "get_stack",
  "skb_load_bytes_relative",
  "fib_lookup",
  "sock_hash_update",
  "msg_redirect_hash",
  "sk_redirect_hash",
  "lwt_push_encap",
  "lwt_seg6_store_bytes",
  "lwt_seg6_adjust_srh",
  "lwt_seg6_action",
  "rc_repeat",
  "rc_keydown",
  "skb_cgroup_id",
  "get_current_cgroup_id",
  "get_local_storage",
  "sk_select_reuseport",
  "skb_ancestor_cgroup_id",
  "sk_lookup_tcp",
  "sk_lookup_udp",
  "sk_release",
  "map_push_elem",
  "map_pop_elem",
  "map_peek_elem",
  "msg_push_data",
  "msg_pop_data",
  "rc_pointer_rel",
  "spin_lock",
  "spin_unlock",
  "sk_fullsock",
  "tcp_sock",
  "skb_ecn_set_ce",
  "get_listener_sock",
  "skc_lookup_tcp",
  "tcp_check_syncookie",
  "sysctl_get_name",
  "sysctl_get_current_value",
  "sysctl_get_new_value",
  "sysctl_set_new_value",
  "strtol",
  "strtoul",
  "sk_storage_get",
  "sk_storage_delete",
  "send_signal",
  "tcp_gen_syncookie",
  "skb_output",
  "probe_read_user",
  "probe_read_kernel",
  "probe_read_user_str",
  "probe_read_kernel_str",
  "tcp_send_ack",
  "send_signal_thread",
  "jiffies64",
  "read_branch_records",
  "get_ns_current_pid_tgid",
  "xdp_output",
  "get_netns_cookie",
  "get_current_ancestor_cgroup_id",
  "sk_assign",
  "ktime_get_boot_ns",
  "seq_printf",
  "seq_write",
  "sk_cgroup_id",
  "sk_ancestor_cgroup_id",
  "ringbuf_output",
  "ringbuf_reserve",
  "ringbuf_submit",
  "ringbuf_discard",
  "ringbuf_query",
  "csum_level",
  "skc_to_tcp6_sock",
  "skc_to_tcp_sock",
  "skc_to_tcp_timewait_sock",
  "skc_to_tcp_request_sock",
  "skc_to_udp6_sock",
  "get_task_stack",
  "load_hdr_opt",
  "store_hdr_opt",
  "reserve_hdr_opt",
  "inode_storage_get",
  "inode_storage_delete",
  "d_path",
  "copy_from_user",
  "snprintf_btf",
  "seq_printf_btf",
  "skb_cgroup_classid",
  "redirect_neigh",
  "per_cpu_ptr",
  "this_cpu_ptr",
  "redirect_peer",
  "task_storage_get",
  "task_storage_delete",
  "get_current_task_btf",
  "bprm_opts_set",
  "ktime_get_coarse_ns",
  "ima_inode_hash",
  "sock_from_file",
  "check_mtu",
  "for_each_map_elem",
  "snprintf",
  "sys_bpf",
  "btf_find_by_name_kind",
  "sys_close",
  "timer_init",
  "timer_set_callback",
  "timer_start",
  "timer_cancel",
  "get_func_ip",
  "get_attach_cookie",
  "task_pt_regs",
  "get_branch_snapshot",
  "trace_vprintk",
  "skc_to_unix_sock",
  "kallsyms_lookup_name",
  "find_vma",
  "loop",
  "strncmp",
  "get_func_arg",
  "get_func_ret",
  "get_func_arg_cnt",
  "get_retval",
  "set_retval",
  "xdp_get_buff_len",
  "xdp_load_bytes",
  "xdp_store_bytes",
  "copy_from_user_task",
  "skb_set_tstamp",
  "ima_file_hash",
  "kptr_xchg",
  "map_lookup_percpu_elem",
  "skc_to_mptcp_sock",
  "dynptr_from_mem",
  "ringbuf_reserve_dynptr",
  "ringbuf_submit_dynptr",
  "ringbuf_discard_dynptr",
  "dynptr_read",
  "dynptr_write",
  "dynptr_data",
  "tcp_raw_gen_syncookie_ipv4",
  "tcp_raw_gen_syncookie_ipv6",
  "tcp_raw_check_syncookie_ipv4",
  "tcp_raw_check_syncookie_ipv6",
  "ktime_get_tai_ns",
  "user_ringbuf_drain",
  "cgrp_storage_get",
  "cgrp_storage_delete",
];

/** The verifier's name of helper `id` ("bpf_map_lookup_elem"), or "unknown" like `func_id_name`. */
export function funcIdName(id: number): string {
  return id > 0 && id < NAMES.length ? `bpf_${NAMES[id]}` : "unknown";
}
