/**
 * Every errno the runtime's helpers and BPF_PROG_TEST_RUN return, as the kernel spells them
 * (include/uapi/asm-generic/errno-base.h, errno.h, and ENOTSUPP from include/linux/errno.h).
 * The map errnos live with the maps (`maps/errno.ts`) and are re-exported here so that helper
 * code has one place to import from.
 */
export { E2BIG, EAGAIN, EBADF, EEXIST, EFAULT, EINVAL, ENOENT, ENOMEM, ENOTSUPP, EPERM } from "./maps/errno.ts";

/** Interrupted system call: a signal arrived during a repeated test run. */
export const EINTR = 4;
/** No such device or address: BPF_F_TEST_RUN_ON_CPU with an offline CPU. */
export const ENXIO = 6;
/** Permission denied: bpf_csum_level(BPF_CSUM_LEVEL_QUERY) on an skb that is not CHECKSUM_UNNECESSARY. */
export const EACCES = 13;
/** Device or resource busy: printf-like helpers nested more than three deep. */
export const EBUSY = 16;
/** No such device: a test-run context naming an ifindex that does not exist. */
export const ENODEV = 19;
/** No space left: data_out / ctx_out buffers smaller than the output. */
export const ENOSPC = 28;
/** Result out of range: bpf_strtol overflow, redirect without a link-layer header. */
export const ERANGE = 34;
/** Message too long. */
export const EMSGSIZE = 90;
/** Protocol not supported: bpf_skb_change_proto / adjust_room on an unsupported protocol. */
export const EPROTONOSUPPORT = 93;
/** Operation not supported (the user-visible one, 95). */
export const EOPNOTSUPP = 95;

const NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  6: "ENXIO",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  28: "ENOSPC",
  34: "ERANGE",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  524: "ENOTSUPP",
};

/** `EINVAL` for 22 or -22, `E<n>` for numbers without a name here. */
export function errnoName(errno: number): string {
  return NAMES[Math.abs(errno)] ?? `E${Math.abs(errno)}`;
}

/** A negative errno as the 64-bit register value a helper returns (`-EINVAL` → 2^64 - 22). */
export function negErrno(errno: number): bigint {
  return BigInt.asUintN(64, BigInt(-Math.abs(errno)));
}
