/**
 * The printf-like helpers: bpf_trace_printk and bpf_trace_vprintk (kernel/trace/bpf_trace.c),
 * which format into a 1024-byte buffer and emit it as a `bpf_trace_printk` trace event, and
 * bpf_snprintf (kernel/bpf/helpers.c), which formats into BPF memory. The formatting itself is
 * `bprintf.ts`; the output goes to the host's trace pipe.
 */
import {
  type BprintfMemory,
  bpfBprintf,
  MAX_BPRINTF_BUF,
  MAX_BPRINTF_VARARGS,
  MAX_TRACE_PRINTK_VARARGS,
} from "../bprintf.ts";
import { EBUSY, EINVAL } from "../errno.ts";
import type { HelperEnv, HelperSpec } from "../helpers.ts";
import { type ProgramRuntime, readMem, ret, runtimeOf, sizeArg, writeMem } from "../program-runtime.ts";
import { readNofault, strncpyNofault } from "./misc.ts";

/** MAX_BPRINTF_NEST_LEVEL: printf helpers nested deeper (from callbacks) get -EBUSY. */
const MAX_BPRINTF_NEST_LEVEL = 3;

function memOf(env: HelperEnv): BprintfMemory {
  return {
    readString: (addr, max) => {
      const s = strncpyNofault(env, addr, max);
      return typeof s === "number" ? null : s.subarray(0, s.length - 1);
    },
    readBytes: (addr, n) => {
      const b = readNofault(env, addr, n);
      return typeof b === "number" ? null : b;
    },
  };
}

/** Runs `fn` with the nest level raised, as try_get_buffers / bpf_bprintf_cleanup do. */
function nested(rt: ProgramRuntime, fn: () => bigint): bigint {
  if (rt.printkNest >= MAX_BPRINTF_NEST_LEVEL) return ret(-EBUSY);
  rt.printkNest++;
  try {
    return fn();
  } finally {
    rt.printkNest--;
  }
}

/** Formats `fmt` with `args` and emits the trace event; returns the length or -errno. */
function tracePrintk(env: HelperEnv, name: string, fmt: Uint8Array, args: readonly bigint[], numArgs: number): bigint {
  const rt = runtimeOf(env, name);
  return nested(rt, () => {
    const r = bpfBprintf(fmt, args, numArgs, memOf(env), MAX_BPRINTF_BUF);
    if (!r.ok) return ret(-r.errno);
    rt.host.printk(rt.progName, r.text);
    return ret(r.length);
  });
}

/**
 * bpf_trace_printk_proto: at most three arguments; the return value is the length of the
 * formatted message (as bstr_printf counts it), or -EINVAL for a bad format.
 */
export const bpfTracePrintkProto: HelperSpec = {
  name: "bpf_trace_printk",
  args: ["ptr-to-mem", "const-size", "anything", "anything", "anything"],
  ret: "integer",
  fn: (env, fmt, fmtSize, a1, a2, a3) => {
    const f = readMem(env, fmt, sizeArg(fmtSize, "bpf_trace_printk"));
    return tracePrintk(env, "bpf_trace_printk", f, [a1, a2, a3], MAX_TRACE_PRINTK_VARARGS);
  },
};

/** Reads the u64 argument array of bpf_trace_vprintk / bpf_snprintf, or returns null for -EINVAL. */
function argArray(env: HelperEnv, args: bigint, dataLen: number): bigint[] | null {
  if (dataLen % 8 !== 0 || dataLen > MAX_BPRINTF_VARARGS * 8 || (dataLen !== 0 && args === 0n)) return null;
  const raw = readMem(env, args, dataLen);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: bigint[] = [];
  for (let i = 0; i < dataLen; i += 8) out.push(view.getBigUint64(i, true));
  return out;
}

/** bpf_trace_vprintk_proto: bpf_trace_printk with up to 12 arguments passed in an array. */
export const bpfTraceVprintkProto: HelperSpec = {
  name: "bpf_trace_vprintk",
  args: ["ptr-to-mem", "const-size", "ptr-to-mem", "const-size-or-zero"],
  ret: "integer",
  fn: (env, fmt, fmtSize, args, dataLen) => {
    const len = sizeArg(dataLen, "bpf_trace_vprintk", 0xffffffff);
    const list = argArray(env, args, len);
    if (list === null) return ret(-EINVAL);
    const f = readMem(env, fmt, sizeArg(fmtSize, "bpf_trace_vprintk"));
    return tracePrintk(env, "bpf_trace_vprintk", f, list, list.length);
  },
};

/**
 * bpf_snprintf_proto: formats into `str` (at most str_size - 1 characters and a NUL) and
 * returns the length the whole output needs, NUL included; -EINVAL for a bad format.
 */
export const bpfSnprintfProto: HelperSpec = {
  name: "bpf_snprintf",
  args: ["ptr-to-mem", "const-size-or-zero", "ptr-to-mem", "ptr-to-mem", "const-size-or-zero"],
  ret: "integer",
  fn: (env, str, strSize, fmt, args, dataLen) => {
    const size = sizeArg(strSize, "bpf_snprintf");
    const len = sizeArg(dataLen, "bpf_snprintf", 0xffffffff);
    const list = argArray(env, args, len);
    if (list === null) return ret(-EINVAL);
    // ARG_PTR_TO_CONST_STR: a NUL-terminated string in a read-only map.
    const f = strncpyNofault(env, fmt, 1 << 16);
    if (typeof f === "number") return ret(-EINVAL);
    const rt = runtimeOf(env, "bpf_snprintf");
    return nested(rt, () => {
      const r = bpfBprintf(f, list, list.length, memOf(env), Math.max(size, 1));
      if (!r.ok) return ret(-r.errno);
      if (size > 0) {
        const out = new Uint8Array(Math.min(r.text.length + 1, size));
        for (let i = 0; i < out.length - 1; i++) out[i] = r.text.charCodeAt(i);
        writeMem(env, str, out);
      }
      return ret(r.length + 1);
    });
  },
};
