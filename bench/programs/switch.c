// SPDX-License-Identifier: MIT
// Benchmark: a switch-heavy loop. An xorshift32 generator seeded from skb->len picks one of
// sixteen cases per iteration; clang-19 lowers the switch to a tree of compares (BPF has no
// jump tables before LLVM 20), so most instructions are 32-bit ALU ops and conditional jumps.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define ITERS 1024

SEC("tc")
int switchy(struct __sk_buff *skb)
{
	__u32 s = skb->len * 2654435761u + 1;
	__u32 acc = 0;

#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < ITERS; i++) {
		s ^= s << 13;
		s ^= s >> 17;
		s ^= s << 5;
		switch (s & 15) {
		case 0: acc += s; break;
		case 1: acc ^= s >> 3; break;
		case 2: acc = acc * 33 + 1; break;
		case 3: acc -= i; break;
		case 4: acc = (acc << 7) | (acc >> 25); break;
		case 5: acc += acc >> 11; break;
		case 6: acc = (acc | 0x1000) & ~s; break;
		case 7: acc = acc * 7 ^ i; break;
		case 8: acc += i * i; break;
		case 9: acc ^= acc << 9; break;
		case 10: acc = acc / ((s & 0xff) + 1); break;
		case 11: acc = (acc >> 1) + (s & 0xffff); break;
		case 12: acc = ~acc; break;
		case 13: acc = acc - (s >> 20); break;
		case 14: acc = (acc ^ 0x5bd1e995) * 0x5bd1e995; break;
		default: acc += 0x9e3779b9; break;
		}
	}
	return acc;
}

char LICENSE[] SEC("license") = "GPL";
