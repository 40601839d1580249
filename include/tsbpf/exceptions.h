/* SPDX-License-Identifier: MIT */
/*
 * tsbpf/exceptions.h - BPF exceptions (the bpf_throw kfunc) for BPF C programs.
 *
 * Copyright (c) the tsbpf authors. Written for tsbpf from the behaviour described in
 * docs/spec (exceptions-arm64.md section 2); it contains no kernel or libbpf code.
 *
 *   bpf_throw(cookie)                 unwind every BPF frame up to the main program and make it
 *                                     return what the exception callback returns for `cookie`
 *                                     (the default callback returns the cookie itself)
 *   __exception_cb(name)              on the main program: `name` is its exception callback, a
 *                                     global function `int name(__u64 cookie)`
 *   bpf_assert(cond)                  if (!(cond)) bpf_throw(0)
 *   bpf_assert_with(cond, value)      if (!(cond)) bpf_throw(value)
 *   bpf_assert_{eq,ne,lt,le,gt,ge}(x, c)          \  exactly three instructions:
 *   bpf_assert_{eq,ne,lt,le,gt,ge}_with(x, c, v)   >   if x <op> c goto +2
 *   bpf_assert_range(x, lo, hi)                    |   r1 = v            (0 without _with)
 *   bpf_assert_range_with(x, lo, hi, v)           /    call bpf_throw
 *                                     (range: two such triples, x >= lo then x <= hi)
 *   bpf_cmp_likely(x, op, c), bpf_cmp_unlikely(x, op, c)
 *                                     a compare the compiler cannot reorder or widen: one
 *                                     `if x <op> c goto` instruction, as an expression
 *
 * Rules for the instruction-level forms (checked at compile time where C allows it):
 *   - x must be a 64-bit integer (it is compared as a whole register);
 *   - the comparison is signed (s<, s<=, s>, s>=) when the type of x is signed, unsigned
 *     otherwise; eq/ne ignore the sign;
 *   - c must be a constant; a c whose type is narrower than 64 bits is encoded as the
 *     instruction's 32-bit immediate (sign-extended by the CPU: (__u64)x >= -100 compares with
 *     0xffffffffffffff9c), a 64-bit c is first loaded into a register;
 *   - v (the cookie) is an immediate when it is a constant that fits a sign-extended 32-bit
 *     immediate, else a register (`r1 = rN`, after loading a wide constant into rN);
 *   - x is evaluated once.
 * Requirements: clang with BTF (-g), a kernel with bpf_throw (Linux >= 6.7 on x86-64 with ORC,
 * >= 6.9 on arm64), a GPL-compatible license, libbpf >= 1.3 for __exception_cb.
 */
#ifndef TSBPF_EXCEPTIONS_H
#define TSBPF_EXCEPTIONS_H

#include <linux/types.h>

#ifndef __ksym
#define __ksym __attribute__((section(".ksyms")))
#endif

/* Not noreturn: the verifier treats the call as the end of the path, the compiler does not
 * need to know (and code after it is dead only at run time). */
extern void bpf_throw(__u64 cookie) __ksym;

/* BTF decl tag read by libbpf and the verifier on the main program's FUNC. */
#define __exception_cb(name) __attribute__((btf_decl_tag("exception_callback:" #name)))

#define bpf_assert(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			bpf_throw(0);                                                              \
	} while (0)

#define bpf_assert_with(cond, value)                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			bpf_throw(value);                                                          \
	} while (0)

/* 1 if the (integer) expression has a signed type. */
#define __tsbpf_signed(x)                                                                          \
	_Generic((x), signed char: 1, short: 1, int: 1, long: 1, long long: 1,                     \
		 char: ((char)-1 < 0), default: 0)

/* The three-instruction compare-and-throw. OPS is the BPF jump operator as a string; RC the
 * constraint of the right-hand side ("i": immediate, "r": register), VC the one of the value.
 * The jump skips the throw when `x OPS c` holds. Nothing is clobbered on the path that
 * continues. */
#define __tsbpf_assert_insn(X, OPS, RC, C, VC, V)                                                  \
	asm volatile("if %[lhs] " OPS " %[rhs] goto +2; r1 = %[val]; call bpf_throw"              \
		     :                                                                            \
		     : [lhs] "r"(X), [rhs] RC(C), [val] VC(V))

/* 1 if v is a compile-time constant that `r1 = imm` (a sign-extended 32-bit immediate) can
 * hold; other values go through a register. */
#define __tsbpf_imm32(v)                                                                           \
	(__builtin_constant_p(v) && (long long)(v) >= -2147483648LL && (long long)(v) <= 2147483647LL)

#define __tsbpf_assert_val(X, OPS, RC, C, V)                                                       \
	do {                                                                                       \
		if (__tsbpf_imm32(V)) {                                                            \
			__tsbpf_assert_insn(X, OPS, RC, C, "i", V);                                \
		} else {                                                                           \
			__u64 __tsbpf_v = (V);                                                     \
			__tsbpf_assert_insn(X, OPS, RC, C, "r", __tsbpf_v);                        \
		}                                                                                  \
	} while (0)

#define __tsbpf_assert_rhs(X, OPS, C, V)                                                           \
	do {                                                                                       \
		if (sizeof(C) == 8) {                                                              \
			const __typeof__(C) __tsbpf_c = (C);                                       \
			__tsbpf_assert_val(X, OPS, "r", __tsbpf_c, V);                             \
		} else {                                                                           \
			__tsbpf_assert_val(X, OPS, "i", C, V);                                     \
		}                                                                                  \
	} while (0)

/* OP is the unsigned spelling; SIGNED_OK says whether a signed x selects "s" OP. */
#define __tsbpf_assert_op(X, OP, SIGNED_OK, C, V)                                                  \
	do {                                                                                       \
		__typeof__(X) __tsbpf_x = (X);                                                     \
		_Static_assert(sizeof(__tsbpf_x) == 8, "bpf_assert_*: x must be 64 bits wide");    \
		_Static_assert(__builtin_constant_p(C), "bpf_assert_*: c must be a constant");      \
		(void)bpf_throw;                                                                   \
		if ((SIGNED_OK) && __tsbpf_signed(__tsbpf_x))                                      \
			__tsbpf_assert_rhs(__tsbpf_x, "s" OP, C, V);                               \
		else                                                                               \
			__tsbpf_assert_rhs(__tsbpf_x, OP, C, V);                                   \
	} while (0)

#define bpf_assert_eq_with(x, c, v) __tsbpf_assert_op(x, "==", 0, c, v)
#define bpf_assert_ne_with(x, c, v) __tsbpf_assert_op(x, "!=", 0, c, v)
#define bpf_assert_lt_with(x, c, v) __tsbpf_assert_op(x, "<", 1, c, v)
#define bpf_assert_le_with(x, c, v) __tsbpf_assert_op(x, "<=", 1, c, v)
#define bpf_assert_gt_with(x, c, v) __tsbpf_assert_op(x, ">", 1, c, v)
#define bpf_assert_ge_with(x, c, v) __tsbpf_assert_op(x, ">=", 1, c, v)

#define bpf_assert_eq(x, c) bpf_assert_eq_with(x, c, 0)
#define bpf_assert_ne(x, c) bpf_assert_ne_with(x, c, 0)
#define bpf_assert_lt(x, c) bpf_assert_lt_with(x, c, 0)
#define bpf_assert_le(x, c) bpf_assert_le_with(x, c, 0)
#define bpf_assert_gt(x, c) bpf_assert_gt_with(x, c, 0)
#define bpf_assert_ge(x, c) bpf_assert_ge_with(x, c, 0)

/* lo <= x <= hi, as two compare-and-throw triples on the same register. */
#define bpf_assert_range_with(x, lo, hi, v)                                                        \
	do {                                                                                       \
		__typeof__(x) __tsbpf_r = (x);                                                     \
		bpf_assert_ge_with(__tsbpf_r, lo, v);                                              \
		bpf_assert_le_with(__tsbpf_r, hi, v);                                              \
	} while (0)

#define bpf_assert_range(x, lo, hi) bpf_assert_range_with(x, lo, hi, 0)

/* bpf_cmp_{likely,unlikely}(x, op, c): the value of `x op c` (1 or 0), computed by one BPF
 * conditional jump that the compiler cannot rewrite, so that the verifier learns exactly that
 * bound on x's register on each path. op is one of == != < <= > >= (written bare); signedness
 * follows the type of x as for the asserts. "unlikely" jumps when the comparison holds,
 * "likely" jumps when it does not (the jump is `if x <negated op> c`). */
#define __tsbpf_cmp_asm(X, OPS, RC, C)                                                             \
	asm volatile goto("if %[lhs] " OPS " %[rhs] goto %l[__tsbpf_jumped]"                      \
			  :                                                                       \
			  : [lhs] "r"(X), [rhs] RC(C)                                             \
			  :                                                                       \
			  : __tsbpf_jumped)

#define __tsbpf_cmp_rhs(X, OPS, C)                                                                 \
	do {                                                                                       \
		if (sizeof(C) == 8) {                                                              \
			const __typeof__(C) __tsbpf_c = (C);                                       \
			__tsbpf_cmp_asm(X, OPS, "r", __tsbpf_c);                                   \
		} else {                                                                           \
			__tsbpf_cmp_asm(X, OPS, "i", C);                                           \
		}                                                                                  \
	} while (0)

#define __tsbpf_is_op(OPS, LIT) (__builtin_strcmp(OPS, LIT) == 0)

/* Jumps to __tsbpf_jumped when `X OPS C` holds (OPS: "==" ... ">=", signed if S). */
#define __tsbpf_cmp_jump(X, OPS, S, C)                                                             \
	do {                                                                                       \
		if (__tsbpf_is_op(OPS, "=="))                                                      \
			__tsbpf_cmp_rhs(X, "==", C);                                               \
		else if (__tsbpf_is_op(OPS, "!="))                                                 \
			__tsbpf_cmp_rhs(X, "!=", C);                                               \
		else if (__tsbpf_is_op(OPS, "<") && (S))                                           \
			__tsbpf_cmp_rhs(X, "s<", C);                                               \
		else if (__tsbpf_is_op(OPS, "<"))                                                  \
			__tsbpf_cmp_rhs(X, "<", C);                                                \
		else if (__tsbpf_is_op(OPS, "<=") && (S))                                          \
			__tsbpf_cmp_rhs(X, "s<=", C);                                              \
		else if (__tsbpf_is_op(OPS, "<="))                                                 \
			__tsbpf_cmp_rhs(X, "<=", C);                                               \
		else if (__tsbpf_is_op(OPS, ">") && (S))                                           \
			__tsbpf_cmp_rhs(X, "s>", C);                                               \
		else if (__tsbpf_is_op(OPS, ">"))                                                  \
			__tsbpf_cmp_rhs(X, ">", C);                                                \
		else if (__tsbpf_is_op(OPS, ">=") && (S))                                          \
			__tsbpf_cmp_rhs(X, "s>=", C);                                              \
		else                                                                               \
			__tsbpf_cmp_rhs(X, ">=", C);                                               \
	} while (0)

#define __tsbpf_negate_op(OPS)                                                                     \
	(__tsbpf_is_op(OPS, "==") ? "!=" : __tsbpf_is_op(OPS, "!=") ? "==" :                       \
	 __tsbpf_is_op(OPS, "<")  ? ">=" : __tsbpf_is_op(OPS, "<=") ? ">"  :                       \
	 __tsbpf_is_op(OPS, ">")  ? "<=" : "<")

#define __tsbpf_cmp(x, OP, c, JUMP_WHEN_TRUE)                                                      \
	({                                                                                         \
		__label__ __tsbpf_jumped, __tsbpf_done;                                            \
		__typeof__(x) __tsbpf_x = (x);                                                     \
		int __tsbpf_v;                                                                     \
		_Static_assert(sizeof(__tsbpf_x) == 8, "bpf_cmp_*: x must be 64 bits wide");       \
		_Static_assert(__tsbpf_is_op(#OP, "==") || __tsbpf_is_op(#OP, "!=") ||             \
			       __tsbpf_is_op(#OP, "<") || __tsbpf_is_op(#OP, "<=") ||              \
			       __tsbpf_is_op(#OP, ">") || __tsbpf_is_op(#OP, ">="),                \
			       "bpf_cmp_*: op must be one of == != < <= > >=");                    \
		__tsbpf_cmp_jump(__tsbpf_x, (JUMP_WHEN_TRUE) ? #OP : __tsbpf_negate_op(#OP),       \
				 __tsbpf_signed(__tsbpf_x), c);                                    \
		__tsbpf_v = !(JUMP_WHEN_TRUE);                                                     \
		goto __tsbpf_done;                                                                 \
	__tsbpf_jumped:                                                                            \
		__tsbpf_v = !!(JUMP_WHEN_TRUE);                                                    \
	__tsbpf_done:                                                                              \
		__tsbpf_v;                                                                         \
	})

#define bpf_cmp_unlikely(x, op, c) __tsbpf_cmp(x, op, c, 1)
#define bpf_cmp_likely(x, op, c) __tsbpf_cmp(x, op, c, 0)

#endif /* TSBPF_EXCEPTIONS_H */
