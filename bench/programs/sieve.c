// SPDX-License-Identifier: MIT
// Benchmark: sieve of Eratosthenes on a 448-byte bitmap on the stack. Counts the primes below
// n = 3582 + (skb->len & 1), so clang cannot fold the result.
//
// Every i with i * i < n strikes its multiples, prime or not: skipping composites would branch on
// bitmap contents the verifier cannot know, and it would then explore every combination of
// skipped strikes. The count is branch-free for the same reason. A wider range of n would make
// the verifier walk the loops once per value of n.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_N (448 * 8)

SEC("tc")
int sieve(struct __sk_buff *skb)
{
	__u8 composite[MAX_N / 8];
	__u32 n = MAX_N - 2 + (skb->len & 1);
	__u32 count = 0;

	__builtin_memset(composite, 0, sizeof(composite));
#pragma clang loop unroll(disable)
	for (__u32 i = 2; i * i < n; i++) {
#pragma clang loop unroll(disable)
		for (__u32 j = i * i; j < n; j += i)
			composite[j >> 3] |= 1 << (j & 7);
	}
#pragma clang loop unroll(disable)
	for (__u32 i = 2; i < n; i++)
		count += ((composite[i >> 3] >> (i & 7)) & 1) ^ 1;
	return count;
}

char LICENSE[] SEC("license") = "GPL";
