/**
 * What a global function's BTF prototype promises: kernel/bpf/btf.c v6.12
 * `btf_prepare_func_args` (the return type must be a scalar, up to five arguments, each a
 * context pointer, a scalar or a pointer to memory of a known size) with
 * `btf_get_prog_ctx_type` reduced to the context struct names of the modelled program types.
 * Global functions — and the exception callback — are verified once, on their own, assuming
 * only this; their callers are checked against it (`btf_check_func_arg_match`).
 */
import type { BtfType } from "../btf/types.ts";
import {
  BPF_PROG_TYPE_CGROUP_SKB,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_LWT_IN,
  BPF_PROG_TYPE_LWT_OUT,
  BPF_PROG_TYPE_LWT_XMIT,
  BPF_PROG_TYPE_PERF_EVENT,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_ACT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_XDP,
} from "../object/uapi.ts";
import { EFAULT, EINVAL, type SubprogArg, type VerifierEnv } from "./env.ts";

/** MAX_BPF_FUNC_REG_ARGS */
export const MAX_BPF_FUNC_REG_ARGS = 5;

/** The context struct names a program type's functions receive (`bpf_ctx_convert`). */
function ctxTypeNames(progType: number): readonly string[] {
  switch (progType) {
    case BPF_PROG_TYPE_SOCKET_FILTER:
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
    case BPF_PROG_TYPE_CGROUP_SKB:
    case BPF_PROG_TYPE_LWT_IN:
    case BPF_PROG_TYPE_LWT_OUT:
    case BPF_PROG_TYPE_LWT_XMIT:
      return ["__sk_buff"];
    case BPF_PROG_TYPE_XDP:
      return ["xdp_md"];
    case BPF_PROG_TYPE_KPROBE:
      return ["pt_regs", "bpf_user_pt_regs_t"];
    case BPF_PROG_TYPE_PERF_EVENT:
      return ["bpf_perf_event_data"];
    case BPF_PROG_TYPE_RAW_TRACEPOINT:
      return ["bpf_raw_tracepoint_args"];
    default:
      return [];
  }
}

/** `btf_type_str`: the kind's name in messages ("ptr", "struct" ...). */
function btfTypeStr(t: BtfType): string {
  return t.kind === "func_proto" ? "func_proto" : t.kind === "decl_tag" ? "decl_tag" : t.kind;
}

/**
 * `btf_prepare_func_args` for subprogram `i`: its arguments, or a negative errno. A global
 * function's problems are logged; a static one's are not (it is verified with its caller).
 */
export function prepareFuncArgs(env: VerifierEnv, i: number): readonly SubprogArg[] | number {
  const sub = env.subprogs[i];
  if (sub.args !== null) return sub.args;
  const isGlobal = sub.linkage === "global";
  const btf = env.cfg.btf;
  if (btf === undefined || env.cfg.funcInfo.length === 0) {
    env.verbose("EXT_NEEDS_BTF");
    return -EFAULT;
  }
  if (sub.btfTypeId === 0) {
    if (!isGlobal) return -EINVAL;
    env.verbose("GLOBAL_NO_BTF");
    return -EFAULT;
  }
  const fn = btf.type(sub.btfTypeId);
  if (fn.kind !== "func") {
    env.verbose("GLOBAL_NOT_FUNC", i);
    return -EFAULT;
  }
  const proto = btf.type(fn.type);
  if (proto.kind !== "func_proto") {
    env.verbose("GLOBAL_BAD_PROTO", fn.name);
    return -EFAULT;
  }
  if (proto.params.length > MAX_BPF_FUNC_REG_ARGS) {
    if (!isGlobal) return -EINVAL;
    env.verbose("GLOBAL_TOO_MANY_ARGS", fn.name, proto.params.length, MAX_BPF_FUNC_REG_ARGS);
    return -EINVAL;
  }
  const ret = btf.resolve(proto.returnType);
  if (ret.kind !== "int" && ret.kind !== "enum" && ret.kind !== "enum64") {
    if (!isGlobal) return -EINVAL;
    env.verbose("GLOBAL_RET_NOT_SCALAR", fn.name);
    return -EINVAL;
  }
  const args: SubprogArg[] = [];
  const ctxNames = ctxTypeNames(env.cfg.progType);
  for (let a = 0; a < proto.params.length; a++) {
    const t = btf.resolve(proto.params[a].type);
    if (t.kind === "ptr") {
      const pointee = btf.resolve(t.type);
      if ((pointee.kind === "struct" || pointee.kind === "union") && ctxNames.includes(pointee.name)) {
        args.push({ kind: "ctx" });
        continue;
      }
      if (isGlobal) {
        let size: number;
        try {
          size = btf.sizeOf(t.type);
        } catch {
          const ref = btf.type(t.type);
          env.verbose("GLOBAL_ARG_SIZE", a, btfTypeStr(ref), ref.name, -EINVAL);
          return -EINVAL;
        }
        args.push({ kind: "mem", size, maybeNull: true });
        continue;
      }
    }
    if (t.kind === "int" || t.kind === "enum" || t.kind === "enum64") {
      args.push({ kind: "anything" });
      continue;
    }
    if (!isGlobal) return -EINVAL;
    env.verbose("GLOBAL_ARG_UNSUPPORTED", a, btfTypeStr(t), fn.name);
    return -EINVAL;
  }
  sub.args = args;
  return args;
}
