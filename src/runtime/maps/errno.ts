/**
 * The errno values map operations report, as the kernel returns them (negated) from
 * `bpf_map_*` helpers and BPF_MAP_* commands. Spelled like include/uapi/asm-generic/errno*.h;
 * ENOTSUPP (524) is the kernel-internal value of include/linux/errno.h that leaks out of
 * BPF_MAP_CREATE and map ops on types that lack an op, as the real syscall does.
 */

/** Operation not permitted: the map was created BPF_F_RDONLY/WRONLY or frozen. */
export const EPERM = 1;
/** No such element (lookup/delete/get_next_key) or, for BPF_EXIST, nothing to replace. */
export const ENOENT = 2;
/** Map full (hash, queue, stack) or index out of range on array update. */
export const E2BIG = 7;
/** Bad file descriptor: an fd in a prog_array/map-in-map update that names nothing. */
export const EBADF = 9;
/** Ringbuf output with no room. */
export const EAGAIN = 11;
/** LRU could not find a free node, or an allocation too large for this runtime. */
export const ENOMEM = 12;
/** User buffer of the wrong size (the kernel would fault copying it). */
export const EFAULT = 14;
/** Element exists (BPF_NOEXIST). */
export const EEXIST = 17;
/** Invalid flags, sizes or operation (array delete ...). */
export const EINVAL = 22;
/** Operation not supported by this map type (kernel-internal ENOTSUPP). */
export const ENOTSUPP = 524;

const NAMES: Readonly<Record<number, string>> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [E2BIG]: "E2BIG",
  [EBADF]: "EBADF",
  [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM",
  [EFAULT]: "EFAULT",
  [EEXIST]: "EEXIST",
  [EINVAL]: "EINVAL",
  [ENOTSUPP]: "ENOTSUPP",
};

const TEXTS: Readonly<Record<number, string>> = {
  [EPERM]: "Operation not permitted",
  [ENOENT]: "No such file or directory",
  [E2BIG]: "Argument list too long",
  [EBADF]: "Bad file descriptor",
  [EAGAIN]: "Resource temporarily unavailable",
  [ENOMEM]: "Cannot allocate memory",
  [EFAULT]: "Bad address",
  [EEXIST]: "File exists",
  [EINVAL]: "Invalid argument",
  [ENOTSUPP]: "Unknown error 524",
};

/** `ENOENT` for 2 (sign ignored), `E<n>` for numbers this module does not name. */
export function errnoName(errno: number): string {
  return NAMES[Math.abs(errno)] ?? `E${Math.abs(errno)}`;
}

/** glibc's strerror text, as bpftool prints it ("File exists"); used to read bpftool output. */
export function strerror(errno: number): string {
  return TEXTS[Math.abs(errno)] ?? `Unknown error ${Math.abs(errno)}`;
}

/** Inverse of {@link strerror} for the errnos above; 0 when the text is not one of them. */
export function errnoFromText(text: string): number {
  for (const [n, t] of Object.entries(TEXTS)) if (text.endsWith(t)) return Number(n);
  return 0;
}
