/**
 * Helpers that need no packet: time, randomness, CPU and task identity (kernel/bpf/helpers.c,
 * kernel/trace/bpf_trace.c), bpf_loop (kernel/bpf/bpf_iter.c), spin locks, string parsing
 * (bpf_strtol, bpf_strtoul, bpf_strncmp) and the fault-safe memory readers
 * (bpf_probe_read_kernel / _user and their _str variants, mm/maccess.c semantics).
 */

import { E2BIG, EFAULT, EINVAL, ERANGE } from "../errno.ts";
import type { HelperEnv, HelperSpec } from "../helpers.ts";
import { MemoryAccessError } from "../memory.ts";
import { HelperArgError, readMem, ret, runtimeOf, sizeArg, writeMem } from "../program-runtime.ts";

/** BPF_MAX_LOOPS: the most iterations bpf_loop runs. */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;
/** BPF_STRTOX_BASE_MASK */
const BPF_STRTOX_BASE_MASK = 0x1f;
/** TASK_COMM_LEN */
const TASK_COMM_LEN = 16;

function noArgs(name: string, fn: (env: HelperEnv) => bigint): HelperSpec {
  return { name, args: [], ret: "integer", fn: (env) => fn(env) };
}

/** bpf_ktime_get_ns_proto: CLOCK_MONOTONIC. */
export const bpfKtimeGetNsProto = noArgs("bpf_ktime_get_ns", (env) =>
  runtimeOf(env, "bpf_ktime_get_ns").host.monotonicNs(),
);
/** bpf_ktime_get_boot_ns_proto: CLOCK_BOOTTIME. */
export const bpfKtimeGetBootNsProto = noArgs("bpf_ktime_get_boot_ns", (env) =>
  runtimeOf(env, "bpf_ktime_get_boot_ns").host.bootNs(),
);
/** bpf_ktime_get_coarse_ns_proto */
export const bpfKtimeGetCoarseNsProto = noArgs("bpf_ktime_get_coarse_ns", (env) =>
  runtimeOf(env, "bpf_ktime_get_coarse_ns").host.coarseNs(),
);
/** bpf_ktime_get_tai_ns_proto */
export const bpfKtimeGetTaiNsProto = noArgs("bpf_ktime_get_tai_ns", (env) =>
  runtimeOf(env, "bpf_ktime_get_tai_ns").host.taiNs(),
);
/** bpf_jiffies64_proto */
export const bpfJiffies64Proto = noArgs("bpf_jiffies64", (env) => runtimeOf(env, "bpf_jiffies64").host.jiffies64());
/** bpf_get_prandom_u32_proto (bpf_user_rnd_u32, per-CPU state). */
export const bpfGetPrandomU32Proto = noArgs("bpf_get_prandom_u32", (env) =>
  BigInt(runtimeOf(env, "bpf_get_prandom_u32").host.prandomU32()),
);
/** bpf_get_smp_processor_id_proto */
export const bpfGetSmpProcessorIdProto = noArgs("bpf_get_smp_processor_id", (env) =>
  BigInt(runtimeOf(env, "bpf_get_smp_processor_id").host.cpu),
);
/** bpf_get_numa_node_id_proto: one NUMA node. */
export const bpfGetNumaNodeIdProto = noArgs("bpf_get_numa_node_id", () => 0n);
/** bpf_get_current_pid_tgid_proto: tgid << 32 | pid. */
export const bpfGetCurrentPidTgidProto = noArgs("bpf_get_current_pid_tgid", (env) => {
  const t = runtimeOf(env, "bpf_get_current_pid_tgid").host.task;
  return (BigInt(t.tgid >>> 0) << 32n) | BigInt(t.pid >>> 0);
});
/** bpf_get_current_uid_gid_proto: gid << 32 | uid. */
export const bpfGetCurrentUidGidProto = noArgs("bpf_get_current_uid_gid", (env) => {
  const t = runtimeOf(env, "bpf_get_current_uid_gid").host.task;
  return (BigInt(t.gid >>> 0) << 32n) | BigInt(t.uid >>> 0);
});

/** bpf_get_current_comm_proto: strscpy_pad of the task name into a `size`-byte buffer. */
export const bpfGetCurrentCommProto: HelperSpec = {
  name: "bpf_get_current_comm",
  args: ["ptr-to-uninit-mem", "const-size"],
  ret: "integer",
  fn: (env, buf, size) => {
    const n = sizeArg(size, "bpf_get_current_comm");
    const comm = runtimeOf(env, "bpf_get_current_comm").host.task.comm;
    const out = new Uint8Array(n);
    const len = Math.min(comm.length, TASK_COMM_LEN - 1, n - 1);
    for (let i = 0; i < len; i++) out[i] = comm.charCodeAt(i) & 0xff;
    writeMem(env, buf, out);
    return 0n;
  },
};

/**
 * bpf_loop_proto: calls the callback (i, ctx) for i = 0 .. nr_loops - 1 until it returns
 * non-zero; returns the number of calls made; -EINVAL for flags, -E2BIG above BPF_MAX_LOOPS.
 *
 * With flags 0 the verifier inlines the call (inline_bpf_loop), and the inlined code differs
 * from the helper in two observable ways this mirrors: nr_loops is compared as a full 64-bit
 * register, and -E2BIG is set with a 32-bit move, so the program sees 0xfffffff9, not -7.
 */
export const bpfLoopProto: HelperSpec = {
  name: "bpf_loop",
  args: ["scalar", "ptr-to-func", "ptr-to-stack-or-null", "anything"],
  ret: "integer",
  fn: (env, nrLoops, fn, ctx, flags) => {
    const inlined = flags === 0n;
    if (!inlined) return ret(-EINVAL);
    const max = BigInt(BPF_MAX_LOOPS);
    if (BigInt.asUintN(64, nrLoops) > max) return BigInt(-E2BIG >>> 0);
    const n = Number(nrLoops);
    for (let i = 0; i < n; i++) {
      if (env.callFunction(fn, [BigInt(i), ctx, 0n, 0n, 0n]) !== 0n) return BigInt(i + 1);
    }
    return BigInt(n);
  },
};

/**
 * bpf_spin_lock_proto: takes the qspinlock word of a map value. Programs run one at a time
 * here, so a lock found taken can only be a deadlock (the verifier forbids nesting).
 */
export const bpfSpinLockProto: HelperSpec = {
  name: "bpf_spin_lock",
  args: ["ptr-to-spin-lock"],
  ret: "void",
  fn: (env, lock) => {
    if (env.space.read(lock, 4) !== 0n) throw new HelperArgError("bpf_spin_lock", "deadlock: the lock is already held");
    env.space.write(lock, 4, 1n);
    return 0n;
  },
};

/** bpf_spin_unlock_proto: releases the lock (the word becomes 0 again). */
export const bpfSpinUnlockProto: HelperSpec = {
  name: "bpf_spin_unlock",
  args: ["ptr-to-spin-lock"],
  ret: "void",
  fn: (env, lock) => {
    if (env.space.read(lock, 4) === 0n) throw new HelperArgError("bpf_spin_unlock", "the lock is not held");
    env.space.write(lock, 4, 0n);
    return 0n;
  },
};

// ---------------------------------------------------------------------------------------------
// strtol / strtoul / strncmp

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return 99;
}

/** What __bpf_strtoull parsed: characters consumed and the magnitude, or an errno. */
type Parsed = { ok: true; consumed: number; value: bigint; negative: boolean } | { ok: false; errno: number };

/**
 * __bpf_strtoull: skips leading whitespace, takes one '-', then parses like _parse_integer
 * with _parse_integer_fixup_radix (base 0 guesses 16 from "0x", 8 from "0"), looking at no
 * more than 63 characters after the sign.
 */
export function bpfStrtoull(buf: Uint8Array, flags: bigint): Parsed {
  const f = BigInt.asUintN(64, flags);
  let base = Number(f & BigInt(BPF_STRTOX_BASE_MASK));
  if (buf.length === 0) return { ok: false, errno: EINVAL };
  if (base !== 0 && base !== 8 && base !== 10 && base !== 16) return { ok: false, errno: EINVAL };
  if (f & ~BigInt(BPF_STRTOX_BASE_MASK)) return { ok: false, errno: EINVAL };
  let i = 0;
  while (i < buf.length && isSpace(buf[i])) i++;
  const negative = i < buf.length && buf[i] === 0x2d;
  if (negative) i++;
  const consumed = i;
  if (consumed === buf.length) return { ok: false, errno: EINVAL };
  // The kernel copies at most 63 bytes into a NUL-terminated scratch string.
  const s = buf.subarray(i, Math.min(buf.length, i + 63));
  const at = (k: number): number => (k < s.length ? s[k] : 0);
  let p = 0;
  if (base === 0) {
    if (at(0) === 0x30) base = (at(1) | 0x20) === 0x78 && digitValue(at(2)) < 16 ? 16 : 8;
    else base = 10;
  }
  if (base === 16 && at(0) === 0x30 && (at(1) | 0x20) === 0x78) p = 2;
  const start = p;
  let value = 0n;
  let overflow = false;
  const b = BigInt(base);
  const max = (1n << 64n) - 1n;
  for (;;) {
    const c = at(p);
    if (c === 0) break;
    const d = digitValue(c);
    if (d >= base) break;
    const next = value * b + BigInt(d);
    if (next > max) overflow = true;
    value = next & max;
    p++;
  }
  if (overflow) return { ok: false, errno: ERANGE };
  if (p === start) return { ok: false, errno: EINVAL };
  return { ok: true, consumed: consumed + p, value, negative };
}

function strtox(name: string, signed: boolean): HelperSpec {
  return {
    name,
    args: ["ptr-to-mem", "const-size", "anything", "ptr-to-uninit-mem"],
    ret: "integer",
    fn: (env, bufPtr, bufLen, flags, resPtr) => {
      const len = sizeArg(bufLen, name);
      // The result slot is checked up front: the verifier makes it a writable 8-byte slot.
      env.space.bytesAt(resPtr, 8, true);
      const r = bpfStrtoull(readMem(env, bufPtr, len), flags);
      // Since v6.12 the result is zeroed on every error path.
      const failWith = (errno: number) => {
        env.space.write(resPtr, 8, 0n);
        return ret(-errno);
      };
      if (!r.ok) return failWith(r.errno);
      let v: bigint;
      if (signed) {
        if (r.negative) {
          if (BigInt.asIntN(64, -r.value) > 0n) return failWith(ERANGE);
          v = BigInt.asIntN(64, -r.value);
        } else {
          if (BigInt.asIntN(64, r.value) < 0n) return failWith(ERANGE);
          v = r.value;
        }
      } else {
        if (r.negative) return failWith(EINVAL);
        v = r.value;
      }
      env.space.write(resPtr, 8, v);
      return BigInt(r.consumed);
    },
  };
}

/** bpf_strtol_proto: the number of characters consumed, -EINVAL or -ERANGE; *res = the value. */
export const bpfStrtolProto = strtox("bpf_strtol", true);
/** bpf_strtoul_proto: as bpf_strtol, unsigned; a leading '-' is -EINVAL. */
export const bpfStrtoulProto = strtox("bpf_strtoul", false);

/** bpf_strncmp_proto: strncmp(s1, s2, s1_sz): -1, 0 or 1. */
export const bpfStrncmpProto: HelperSpec = {
  name: "bpf_strncmp",
  args: ["ptr-to-mem", "const-size", "ptr-to-mem"],
  ret: "integer",
  fn: (env, s1, s1Sz, s2) => {
    const n = sizeArg(s1Sz, "bpf_strncmp");
    for (let i = 0; i < n; i++) {
      const c1 = Number(env.space.read(s1 + BigInt(i), 1));
      const c2 = Number(env.space.read(s2 + BigInt(i), 1));
      if (c1 !== c2) return ret(c1 < c2 ? -1 : 1);
      if (c1 === 0) break;
    }
    return 0n;
  },
};

// ---------------------------------------------------------------------------------------------
// probe_read

/** Why a fault-safe kernel read failed: -ERANGE (address refused up front) or -EFAULT. */
export type NofaultError = typeof EFAULT | typeof ERANGE;

/**
 * copy_from_kernel_nofault: `n` bytes at `addr`, or the errno. BPF memory is kernel memory in
 * this model even though it sits at low addresses; for anything else the host's
 * copy_from_kernel_nofault_allowed decides between -ERANGE (x86-64 refuses user-half and
 * non-canonical addresses) and -EFAULT (the read itself faults).
 */
export function readNofault(env: HelperEnv, addr: bigint, n: number): Uint8Array | NofaultError {
  try {
    return readMem(env, addr, n);
  } catch (e) {
    if (!(e instanceof MemoryAccessError)) throw e;
    return runtimeOf(env, "copy_from_kernel_nofault").host.kernelReadAllowed(addr) ? EFAULT : ERANGE;
  }
}

/**
 * strncpy_from_kernel_nofault: copies up to `count` bytes, stopping after a NUL, and forces the
 * last copied byte to NUL; returns the bytes copied (NUL included) or the errno.
 */
export function strncpyNofault(env: HelperEnv, addr: bigint, count: number): Uint8Array | NofaultError {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const b = readNofault(env, addr + BigInt(i), 1);
    if (typeof b === "number") return b;
    out.push(b[0]);
    if (b[0] === 0) break;
  }
  if (out.length > 0) out[out.length - 1] = 0;
  return Uint8Array.from(out);
}

function probeRead(name: string, user: boolean): HelperSpec {
  return {
    name,
    args: ["ptr-to-uninit-mem", "const-size-or-zero", "anything"],
    ret: "integer",
    fn: (env, dst, size, src) => {
      const n = sizeArg(size, name);
      env.space.bytesAt(dst, n, true);
      // No user memory exists behind a test run: user reads fault like an unmapped page.
      const bytes = user ? (n === 0 ? new Uint8Array(0) : EFAULT) : readNofault(env, src, n);
      if (typeof bytes === "number") {
        writeMem(env, dst, new Uint8Array(n));
        return ret(-bytes);
      }
      writeMem(env, dst, bytes);
      return 0n;
    },
  };
}

function probeReadStr(name: string, user: boolean): HelperSpec {
  return {
    name,
    args: ["ptr-to-uninit-mem", "const-size-or-zero", "anything"],
    ret: "integer",
    fn: (env, dst, size, src) => {
      const n = sizeArg(size, name);
      env.space.bytesAt(dst, n, true);
      if (n === 0) return 0n;
      const bytes = user ? EFAULT : strncpyNofault(env, src, n);
      if (typeof bytes === "number") {
        writeMem(env, dst, new Uint8Array(n));
        return ret(-bytes);
      }
      writeMem(env, dst, bytes);
      return BigInt(bytes.length);
    },
  };
}

/** bpf_probe_read_kernel_proto: 0, or -EFAULT / -ERANGE with the destination zeroed. */
export const bpfProbeReadKernelProto = probeRead("bpf_probe_read_kernel", false);
/** bpf_probe_read_user_proto */
export const bpfProbeReadUserProto = probeRead("bpf_probe_read_user", true);
/** bpf_probe_read_kernel_str_proto: the string's length with its NUL, or -EFAULT / -ERANGE. */
export const bpfProbeReadKernelStrProto = probeReadStr("bpf_probe_read_kernel_str", false);
/** bpf_probe_read_user_str_proto */
export const bpfProbeReadUserStrProto = probeReadStr("bpf_probe_read_user_str", true);
