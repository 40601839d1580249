/* SPDX-License-Identifier: MIT */
/* A small XDP firewall, the demo's BPF object: drops TCP/UDP packets whose destination port is
 * in the `blocked` hash map and counts every verdict in the `verdicts` array map. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);  /* destination port, host byte order */
	__type(value, __u8);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);  /* XDP verdict */
	__type(value, __u64);
} verdicts SEC(".maps");

static __noinline int count(__u32 verdict)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &verdict);
	if (n)
		__sync_fetch_and_add(n, 1);
	return verdict;
}

SEC("xdp")
int firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u16 port;

	if ((void *)(ip + 1) > data_end)
		return count(XDP_ABORTED);
	/* IPv4 without options only: keeps the header arithmetic simple for the verifier. */
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return count(XDP_PASS);
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *th = (void *)(ip + 1);
		if ((void *)(th + 1) > data_end)
			return count(XDP_ABORTED);
		port = bpf_ntohs(th->dest);
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *uh = (void *)(ip + 1);
		if ((void *)(uh + 1) > data_end)
			return count(XDP_ABORTED);
		port = bpf_ntohs(uh->dest);
	} else {
		return count(XDP_PASS);
	}
	if (bpf_map_lookup_elem(&blocked, &port))
		return count(XDP_DROP);
	return count(XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
