; Counts the primes below n, where n is the u32 at the start of the input memory (r1),
; clamped to 500, with a sieve of Eratosthenes kept on the 512-byte BPF stack.
;   tsbpf run --asm examples/primes.s --mem "64 00 00 00"     -> r0 = 25 (primes below 100)
	r6 = *(u32 *)(r1 + 0x0)
	if r6 <= 0x1f4 goto clear
	r6 = 0x1f4
clear:
	r2 = 0x0
clear_loop:
	if r2 >= r6 goto sieve
	r3 = r10
	r3 += -0x200
	r3 += r2
	*(u8 *)(r3 + 0x0) = 0x0
	r2 += 0x1
	goto clear_loop
sieve:
	r0 = 0x0
	r2 = 0x2
outer:
	if r2 >= r6 goto done
	r3 = r10
	r3 += -0x200
	r3 += r2
	r4 = *(u8 *)(r3 + 0x0)
	if r4 != 0x0 goto next
	r0 += 0x1
	r4 = r2
	r4 *= r2
inner:
	if r4 >= r6 goto next
	r5 = r10
	r5 += -0x200
	r5 += r4
	*(u8 *)(r5 + 0x0) = 0x1
	r4 += r2
	goto inner
next:
	r2 += 0x1
	goto outer
done:
	exit
