/**
 * Call-chain limits after all paths are verified: kernel/bpf/verifier.c v6.12
 * `check_max_stack_depth` / `check_max_stack_depth_subprog`. Starting from the main program and
 * from every async callback (each its own root with its own 512-byte budget), it walks the
 * static call graph — bpf-to-bpf calls and, except for async callbacks, the callbacks handed to
 * helpers — adding up the (16-byte rounded, JIT) stack of each function on the chain. On the
 * way it enforces the exception rules that depend on the call graph: no `bpf_throw` in a
 * callback or anything it calls, no direct call of the exception callback, no tail call
 * reachable from it.
 */
import { E2BIG, EACCES, EFAULT, EINVAL, type VerifierEnv } from "./env.ts";
import { MAX_CALL_FRAMES } from "./frames.ts";
import { MAX_BPF_STACK } from "./mem.ts";
import { isPseudoCall, isPseudoFunc, isThrowCall } from "./subprogs.ts";

/** `round_up_stack_depth` for a JIT-requested program: 16-byte granules. */
export function roundUpStackDepth(depth: number): number {
  return Math.ceil(depth / 16) * 16;
}

/** `check_max_stack_depth_subprog` from root `root`. */
function checkFromRoot(env: VerifierEnv, root: number): void {
  const subprogs = env.subprogs;
  const p = env.prog;
  const retInsn: number[] = [];
  const retProg: number[] = [];
  let depth = 0;
  let frame = 0;
  let tailCallReachable = false;
  let idx = root;
  let i = subprogs[idx].start;
  for (;;) {
    // process_func
    if (idx !== 0 && subprogs[idx].hasTailCall && depth >= 256) {
      env.reject(EACCES, "TAIL_CALL_DEPTH", depth);
    }
    depth += roundUpStackDepth(subprogs[idx].stackDepth);
    if (depth > MAX_BPF_STACK) env.reject(EACCES, "COMBINED_STACK", frame + 1, depth);
    // continue_func
    let descended = false;
    for (;;) {
      const end = env.subprogEnd(idx);
      for (; i < end; i++) {
        env.insnIdx = i;
        if (p.code[i] === 0x85 && p.src[i] === 2 && p.off[i] === 0) {
          if (!isThrowCall(env, i)) continue;
          let cb = subprogs[idx].isCb;
          for (let c = 0; c < frame && !cb; c++) if (subprogs[retProg[c]].isCb) cb = true;
          if (!cb) continue;
          env.reject(EINVAL, "THROW_IN_CALLBACK", i, idx);
        }
        if (!isPseudoCall(env, i) && !isPseudoFunc(env, i)) continue;
        retInsn[frame] = i + 1;
        retProg[frame] = idx;
        const next = i + p.imm[i] + 1;
        const sidx = env.findSubprog(next);
        if (sidx < 0) env.reject(EFAULT, "NO_PROG_AT", next);
        if (subprogs[sidx].isAsyncCb) {
          if (subprogs[sidx].hasTailCall) env.fail(EFAULT);
          if (!isPseudoCall(env, i)) continue;
          if (subprogs[sidx].isExceptionCb) env.reject(EINVAL, "CALL_EXC_CB", i);
        }
        i = next;
        idx = sidx;
        if (subprogs[idx].hasTailCall) tailCallReachable = true;
        frame++;
        if (frame >= MAX_CALL_FRAMES) env.reject(E2BIG, "CALL_STACK_TOO_DEEP_CHECK", frame);
        descended = true;
        break;
      }
      if (descended) break;
      // end of the function: propagate tail-call reachability, return to the caller
      if (tailCallReachable) {
        for (let j = 0; j < frame; j++) {
          if (subprogs[retProg[j]].isExceptionCb) env.reject(EINVAL, "TAIL_CALL_EXC_CB");
          subprogs[retProg[j]].tailCallReachable = true;
        }
      }
      if (frame === 0) return;
      depth -= roundUpStackDepth(subprogs[idx].stackDepth);
      frame--;
      i = retInsn[frame];
      idx = retProg[frame];
    }
  }
}

/** `check_max_stack_depth`: the main program and each async callback as roots. */
export function checkMaxStackDepth(env: VerifierEnv): void {
  for (let i = 0; i < env.subprogs.length; i++) {
    if (i === 0 || env.subprogs[i].isAsyncCb) checkFromRoot(env, i);
  }
}
