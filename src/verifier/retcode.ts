/**
 * Return values: kernel/bpf/verifier.c v6.12 `check_return_code` with `retval_range_within`
 * and `verbose_invalid_scalar` (the v6.8+ "smin=… smax=…" format). It checks R0 at the exit of
 * the main program, of a global function verified on its own, of the exception callback (which
 * uses the main program's rules) and of async callbacks; and R1 at a `bpf_throw` when the
 * default exception callback will return the cookie.
 */
import {
  BPF_CGROUP_INET_EGRESS,
  BPF_CGROUP_INET4_BIND,
  BPF_CGROUP_INET4_GETPEERNAME,
  BPF_CGROUP_INET4_GETSOCKNAME,
  BPF_CGROUP_INET6_BIND,
  BPF_CGROUP_INET6_GETPEERNAME,
  BPF_CGROUP_INET6_GETSOCKNAME,
  BPF_CGROUP_UDP4_RECVMSG,
  BPF_CGROUP_UDP6_RECVMSG,
  BPF_CGROUP_UNIX_GETPEERNAME,
  BPF_CGROUP_UNIX_GETSOCKNAME,
  BPF_CGROUP_UNIX_RECVMSG,
  BPF_LSM_CGROUP,
  BPF_MODIFY_RETURN,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  BPF_PROG_TYPE_CGROUP_SKB,
  BPF_PROG_TYPE_CGROUP_SOCK,
  BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
  BPF_PROG_TYPE_CGROUP_SOCKOPT,
  BPF_PROG_TYPE_CGROUP_SYSCTL,
  BPF_PROG_TYPE_LSM,
  BPF_PROG_TYPE_NETFILTER,
  BPF_PROG_TYPE_SK_LOOKUP,
  BPF_PROG_TYPE_SOCK_OPS,
  BPF_PROG_TYPE_TRACING,
  BPF_TRACE_FENTRY,
  BPF_TRACE_FEXIT,
  BPF_TRACE_ITER,
  BPF_TRACE_RAW_TP,
} from "../object/uapi.ts";
import { EACCES, EINVAL, type VerifierEnv } from "./env.ts";
import { regTypeStr } from "./reg.ts";
import { S64_MAX, S64_MIN, type Scalar } from "./scalar.ts";

/** `struct bpf_retval_range` */
export interface RetRange {
  readonly min: number;
  readonly max: number;
}

/** The main program's return range, or null when any value is fine. */
export function progRetvalRange(progType: number, attach: number): RetRange | null {
  switch (progType) {
    case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
      if (
        attach === BPF_CGROUP_UDP4_RECVMSG ||
        attach === BPF_CGROUP_UDP6_RECVMSG ||
        attach === BPF_CGROUP_UNIX_RECVMSG ||
        attach === BPF_CGROUP_INET4_GETPEERNAME ||
        attach === BPF_CGROUP_INET6_GETPEERNAME ||
        attach === BPF_CGROUP_UNIX_GETPEERNAME ||
        attach === BPF_CGROUP_INET4_GETSOCKNAME ||
        attach === BPF_CGROUP_INET6_GETSOCKNAME ||
        attach === BPF_CGROUP_UNIX_GETSOCKNAME
      ) {
        return { min: 1, max: 1 };
      }
      if (attach === BPF_CGROUP_INET4_BIND || attach === BPF_CGROUP_INET6_BIND) return { min: 0, max: 3 };
      return { min: 0, max: 1 };
    case BPF_PROG_TYPE_CGROUP_SKB:
      return attach === BPF_CGROUP_INET_EGRESS ? { min: 0, max: 3 } : { min: 0, max: 1 };
    case BPF_PROG_TYPE_CGROUP_SOCK:
    case BPF_PROG_TYPE_SOCK_OPS:
    case BPF_PROG_TYPE_CGROUP_DEVICE:
    case BPF_PROG_TYPE_CGROUP_SYSCTL:
    case BPF_PROG_TYPE_CGROUP_SOCKOPT:
      return { min: 0, max: 1 };
    case BPF_PROG_TYPE_TRACING:
      switch (attach) {
        case BPF_TRACE_FENTRY:
        case BPF_TRACE_FEXIT:
          return { min: 0, max: 0 };
        case BPF_TRACE_RAW_TP:
        case BPF_MODIFY_RETURN:
          return null;
        case BPF_TRACE_ITER:
          return { min: 0, max: 1 };
        default:
          return null;
      }
    case BPF_PROG_TYPE_SK_LOOKUP:
      return { min: 0, max: 1 };
    case BPF_PROG_TYPE_LSM:
      return attach === BPF_LSM_CGROUP ? { min: 0, max: 1 } : null;
    case BPF_PROG_TYPE_NETFILTER:
      return { min: 0, max: 1 };
    default:
      return null;
  }
}

/** `verbose_invalid_scalar`: "<ctx> the register <name> has smin=… smax=… should have been in [a, b]". */
export function verboseInvalidScalar(env: VerifierEnv, s: Scalar, range: RetRange, ctx: string, name: string): void {
  let desc = "";
  if (s.smin > S64_MIN) desc += ` smin=${s.smin}`;
  if (s.smax < S64_MAX) desc += ` smax=${s.smax}`;
  if (desc === "") desc = " unknown scalar value";
  env.verbose("RET_RANGE", ctx, name, desc, range.min, range.max);
}

/** `retval_range_within` */
export function retvalRangeWithin(range: RetRange, s: Scalar): boolean {
  return BigInt(range.min) <= s.smin && s.smax <= BigInt(range.max);
}

/** `check_return_code(env, regno, regName)` for the current path. */
export function checkReturnCode(env: VerifierEnv, regno: number, regName: string): void {
  const st = env.state;
  const frame = st.frames[0];
  const isSubprog = frame.subprogno !== 0;
  const reg = st.cur.regs[regno];
  if (reg.kind === "not_init") env.reject(EACCES, "REG_NOT_READ_OK", regno);
  let exitCtx = "At program exit";
  let range: RetRange | null;
  if (frame.inAsyncCallbackFn) {
    exitCtx = "At async callback return";
    range = { min: 0, max: 0 };
  } else if (isSubprog && !frame.inExceptionCallbackFn) {
    if (reg.kind !== "scalar") env.reject(EINVAL, "SUBPROG_RET_NOT_SCALAR", regno, regTypeStr(reg));
    return;
  } else {
    range = progRetvalRange(env.cfg.progType, env.cfg.expectedAttachType);
  }
  if (range === null) return;
  if (reg.kind !== "scalar") env.reject(EINVAL, "RET_NOT_KNOWN", exitCtx, regno, regTypeStr(reg));
  if (!retvalRangeWithin(range, reg.s)) {
    verboseInvalidScalar(env, reg.s, range, exitCtx, regName);
    env.fail(EINVAL);
  }
}
