/**
 * The modelled kernel's BTF: what the runtime resolves CO-RE relocations against, as libbpf
 * resolves them against `/sys/kernel/btf/vmlinux` when it loads an object.
 *
 * tsbpf models Linux 6.12.117 (Debian 13). The bundled BTF (data.ts, the same bytes as
 * vmlinux.btf) is a few dozen types cut from that kernel's own BTF by scripts/gen-kernel-btf.ts:
 * the context structs of tc, xdp and socket programs (`struct __sk_buff`, `struct xdp_md`,
 * `struct bpf_sock` ...), the packet headers, the fib/tunnel helper structs and the enums
 * programs probe (`enum bpf_func_id`, `enum bpf_map_type`, `enum bpf_prog_type` ...). Relocations
 * against anything else find no candidate, as against a kernel without that type: existence
 * checks give 0 and the other relocations poison their instruction. Another kernel's BTF (a
 * whole `/sys/kernel/btf/vmlinux`) can be given instead with {@link loadKernelBtf}.
 */
import { readFileSync } from "node:fs";
import type { Btf } from "../../btf/btf.ts";
import { parseBtf } from "../../btf/parse.ts";
import { LoadError, TsbpfError } from "../../errors.ts";
import {
  KERNEL_BTF_BASE64,
  KERNEL_BTF_ROOTS,
  KERNEL_BTF_SHA256,
  KERNEL_BTF_SOURCE,
  KERNEL_KFUNC_BTF_IDS,
} from "./data.ts";

export { KERNEL_BTF_ROOTS, KERNEL_BTF_SHA256, KERNEL_BTF_SOURCE, KERNEL_KFUNC_BTF_IDS };

/** The name bundled BTF errors and CO-RE messages give it. */
const BUNDLED = `kernel BTF (bundled, ${KERNEL_BTF_SOURCE.release})`;

let bundled: Btf | undefined;

/** The bundled BTF's raw bytes (a fresh copy). */
export function bundledKernelBtfBytes(): Uint8Array {
  const bin = atob(KERNEL_BTF_BASE64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The modelled kernel's BTF (parsed once; Btf is immutable, so it is shared). */
export function bundledKernelBtf(): Btf {
  bundled ??= parseBtf(bundledKernelBtfBytes(), { section: BUNDLED });
  return bundled;
}

/**
 * The target BTF for CO-RE: the bundled one when `path` is undefined, else the raw BTF in file
 * `path` (e.g. `/sys/kernel/btf/vmlinux`, as libbpf's `btf_custom_path`). A file that cannot be
 * read or parsed is a LoadError (libbpf: "failed to parse target BTF") with the cause attached.
 */
export function loadKernelBtf(path?: string): Btf {
  if (path === undefined) return bundledKernelBtf();
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (cause) {
    throw new LoadError(`cannot read target BTF ${path}: ${(cause as Error).message}`, {}, { cause });
  }
  try {
    return parseBtf(bytes, { section: path });
  } catch (cause) {
    if (!(cause instanceof TsbpfError)) throw cause;
    throw new LoadError(`failed to parse target BTF ${path}: ${cause.message}`, {}, { cause });
  }
}
