// SPDX-License-Identifier: MIT
// Benchmark: memcpy between two stack buffers, byte by byte and word by word, eight rounds.
// The length (192..223 bytes) and the data come from skb->len. The empty asm with a memory
// clobber keeps clang from turning the byte loop into a call to memcpy, which BPF lacks.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define WORDS 28
#define ROUNDS 8

SEC("tc")
int memcpy_bench(struct __sk_buff *skb)
{
	__u64 a[WORDS], b[WORDS];
	__u32 seed = skb->len;
	__u32 n = WORDS * 8 - 32 + (seed & 31);
	__u64 x = seed * 0x9e3779b97f4a7c15ull;

#pragma clang loop unroll(disable)
	for (int i = 0; i < WORDS; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		a[i] = x;
		b[i] = 0;
	}
#pragma clang loop unroll(disable)
	for (int r = 0; r < ROUNDS; r++) {
		__u8 *src = (__u8 *)a;
		__u8 *dst = (__u8 *)b;
#pragma clang loop unroll(disable)
		for (__u32 i = 0; i < n; i++) {
			dst[i] = src[i];
			asm volatile("" ::: "memory");
		}
		// Word copy back, rotated by one word so every round moves different data.
#pragma clang loop unroll(disable)
		for (int i = 0; i < WORDS - 1; i++) {
			a[i] = b[i + 1];
			asm volatile("" ::: "memory");
		}
		a[WORDS - 1] = b[0] + r;
	}
	return (__u32)(a[0] ^ (a[0] >> 32) ^ a[WORDS / 2]);
}

char LICENSE[] SEC("license") = "GPL";
