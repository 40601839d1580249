// SPDX-License-Identifier: MIT
/* BPF exceptions, the demo's example (the spec's program A). exc_main calls the static
 * function thrower, which throws the cookie 7 when the packet is longer than 32 bytes: the
 * throw unwinds thrower's frame and runs the custom exception callback my_cb on exc_main's
 * frame (exc_main is the exception boundary), so a 64-byte packet gives my_cb(7) = 107; a
 * 20-byte one returns normally: 7 + 20 + 1000 = 1027. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <tsbpf/exceptions.h>

__noinline int my_cb(__u64 cookie)
{
	return cookie + 100;
}

static __noinline int thrower(struct __sk_buff *skb, __u64 x)
{
	if (skb->len > 32)
		bpf_throw(x);
	return x + skb->len;
}

SEC("tc")
__exception_cb(my_cb)
int exc_main(struct __sk_buff *skb)
{
	return thrower(skb, 7) + 1000;
}

/* kfuncs are GPL-only: "Dual MIT/GPL" is GPL-compatible for the kernel. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
