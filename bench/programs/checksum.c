// SPDX-License-Identifier: MIT
// Benchmark: the Internet checksum (RFC 1071) of a 256-byte stack buffer, folded 64 bits at a
// time, sixteen rounds; each round perturbs one word so no round repeats the previous one.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define WORDS 32
#define ROUNDS 16

SEC("tc")
int checksum(struct __sk_buff *skb)
{
	__u64 buf[WORDS];
	__u64 x = skb->len * 0x2545f4914f6cdd1dull + 1;
	__u32 csum = 0;

#pragma clang loop unroll(disable)
	for (int i = 0; i < WORDS; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		buf[i] = x;
	}
#pragma clang loop unroll(disable)
	for (int r = 0; r < ROUNDS; r++) {
		__u64 sum = 0;
#pragma clang loop unroll(disable)
		for (int i = 0; i < WORDS; i++) {
			__u64 w = buf[i];
			sum += (w & 0xffffffff) + (w >> 32);
		}
		sum = (sum & 0xffffffff) + (sum >> 32);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		csum = (__u16)~sum;
		buf[r & (WORDS - 1)] ^= (__u64)csum << (r & 31);
	}
	return csum;
}

char LICENSE[] SEC("license") = "GPL";
