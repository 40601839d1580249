/**
 * Path exploration: kernel/bpf/verifier.c v6.12 `do_check` — one instruction at a time on the
 * current path, prune points consulted (`is_state_visited`), every class of instruction
 * dispatched to its check, and at each exit (normal or the exceptional exit of `bpf_throw`) the
 * path's resources checked, the frame left or the path ended and the next pending branch popped
 * — and `do_check_common`, which sets up the first state of the main program, of a global
 * function or of the exception callback.
 *
 * The exit rules are those of the target, 6.12.117: at a normal exit the spin lock, RCU and
 * preempt regions are checked in frame 0 only ("bpf_rcu_read_unlock is missing" …); at a
 * `bpf_throw` (with the stable fix "bpf: Fix exception exit lock checking for subprogs") they
 * are checked in every frame ("bpf_throw cannot be used inside …-ed region"), before leaked
 * references. With `kernel: "6.18"` the v6.14+ `check_resource_leak` order and wording apply.
 */
import { BPF_FUNC_spin_unlock } from "../isa/helper-ids.ts";
import {
  BPF_ABS,
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DW,
  BPF_EXIT,
  BPF_FETCH,
  BPF_IMM,
  BPF_IND,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MEMSX,
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
  BPF_ST,
  BPF_STX,
  BPF_W,
  BPF_X,
  SIZE_BYTES,
} from "../isa/opcodes.ts";
import { checkAluOp, checkRegRead, checkRegWrite } from "./alu.ts";
import { checkFuncCall, checkKfuncCall } from "./calls.ts";
import { mayAccessSkb } from "./ctx-access.ts";
import { BPF_COMPLEXITY_LIMIT_INSNS, E2BIG, EACCES, EFAULT, EINVAL, type VerifierEnv } from "./env.ts";
import { prepareFuncExit } from "./frames.ts";
import { prepareFuncArgs } from "./func-args.ts";
import { checkHelperCall } from "./helper-call.ts";
import { checkCondJmpOp } from "./jmp.ts";
import { GRAPH_API_KFUNCS } from "./kfuncs.ts";
import { checkMemAccess, checkPtrOffReg } from "./mem.ts";
import { isStateVisited, updateBranchCounts } from "./prune.ts";
import { knownScalar, regTypeStr, unknownScalar, ZERO_VAR } from "./reg.ts";
import { checkReturnCode } from "./retcode.ts";
import { FuncState, VerifierState } from "./state.ts";

/** `check_reference_leak` of v6.12: the "Unreleased reference" lines, true when any was printed. */
function referenceLeak612(env: VerifierEnv, exceptionExit: boolean): boolean {
  const st = env.state;
  const cur = st.cur;
  if (!exceptionExit && cur.frameno !== 0 && !cur.inCallbackFn) return false;
  let lingering = false;
  for (const r of st.refs) {
    if (!exceptionExit && cur.inCallbackFn && r.callbackRef !== cur.frameno) continue;
    env.verbose("UNRELEASED_REFERENCE", r.id, r.insnIdx);
    lingering = true;
  }
  return lingering;
}

/**
 * The exit checks of the target, Linux 6.12.117 (`do_check`'s process_bpf_exit_full with the
 * stable fix "bpf: Fix exception exit lock checking for subprogs"): a normal exit checks the
 * spin lock, RCU and preempt regions in frame 0 only ("bpf_rcu_read_unlock is missing" …); an
 * exceptional exit (`bpf_throw`) checks them in every frame with the "bpf_throw cannot be used
 * inside …-ed region" wording. Then leaked references.
 */
function checkExitResources612(env: VerifierEnv, exceptionExit: boolean): void {
  const st = env.state;
  if (exceptionExit) {
    const region = (what: string): never => env.reject(EINVAL, "RESOURCE_IN_REGION", "bpf_throw", what);
    if (st.activeLock !== null) region("bpf_spin_lock");
    if (st.activeRcuLock) region("bpf_rcu_read_lock");
    if (st.activePreemptLock > 0) region("bpf_preempt_disable");
    if (referenceLeak612(env, true)) env.fail(EINVAL);
    return;
  }
  const frame0 = st.curframe === 0;
  if (st.activeLock !== null && frame0) env.reject(EINVAL, "SPIN_UNLOCK_MISSING");
  if (st.activeRcuLock && frame0) env.reject(EINVAL, "RCU_UNLOCK_MISSING");
  if (st.activePreemptLock > 0 && frame0) {
    const n = st.activePreemptLock;
    env.reject(EINVAL, "PREEMPT_ENABLE_MISSING", n, n === 1 ? " is" : "(s) are");
  }
  if (referenceLeak612(env, false)) env.fail(EINVAL);
}

/**
 * v6.14+ `check_resource_leak(env, exception_exit, exception_exit || !curframe, prefix)` as in
 * 6.18 with the same stable fix: prefix "bpf_throw" for exceptional exits, "BPF_EXIT
 * instruction in main prog" otherwise.
 */
function checkExitResources618(env: VerifierEnv, exceptionExit: boolean): void {
  const st = env.state;
  const checkLock = exceptionExit || st.curframe === 0;
  const prefix = exceptionExit ? "bpf_throw" : "BPF_EXIT instruction in main prog";
  const region = (what: string): never => env.reject(EINVAL, "RESOURCE_IN_REGION", prefix, what);
  if (checkLock && st.activeLock !== null) region("bpf_spin_lock");
  if (exceptionExit || st.cur.frameno === 0) {
    let lingering = false;
    for (const r of st.refs) {
      env.verbose("UNRELEASED_REFERENCE", r.id, r.insnIdx);
      lingering = true;
    }
    if (lingering) {
      env.reject(EINVAL, "RESOURCE_REF_LEAK", prefix);
    }
  }
  if (checkLock && st.activeIrq > 0) region("bpf_local_irq_save");
  if (checkLock && st.activeRcuLock) region("bpf_rcu_read_lock");
  if (checkLock && st.activePreemptLock > 0) region("bpf_preempt_disable");
}

/**
 * Ends the current path (`process_bpf_exit`): its checkpoints lose a pending path, and the next
 * queued branch becomes current. False when nothing is left to explore.
 */
function popNext(env: VerifierEnv): boolean {
  updateBranchCounts(env.state.parent);
  const next = env.stack.pop();
  if (next === undefined) {
    env.cur = null;
    return false;
  }
  env.cur = next.state;
  env.insnIdx = next.insnIdx;
  env.prevInsnIdx = next.prevInsnIdx;
  return true;
}

/**
 * An exit of the current frame (`exceptionExit` for `bpf_throw`): "exit" when the path ended,
 * "return" when it returned to a caller frame (`env.insnIdx` set to where it continues).
 */
function processExit(env: VerifierEnv, exceptionExit: boolean): "exit" | "return" {
  if (env.cfg.kernel === "6.12") checkExitResources612(env, exceptionExit);
  else checkExitResources618(env, exceptionExit);
  if (exceptionExit) return "exit";
  if (env.state.curframe > 0) {
    env.insnIdx = prepareFuncExit(env);
    return "return";
  }
  checkReturnCode(env, 0, "R0");
  return "exit";
}

/** `check_ld_imm`: the 64-bit immediate forms (numbers, maps, map values, functions, ksyms). */
function checkLdImm(env: VerifierEnv, pc: number): void {
  const p = env.prog;
  const dst = p.dst[pc];
  checkRegWrite(env, dst);
  const regs = env.state.cur.regs;
  const src = p.src[pc];
  if (src === 0) {
    regs[dst] = knownScalar((BigInt(p.imm[pc + 1] >>> 0) << 32n) | BigInt(p.imm[pc] >>> 0));
    return;
  }
  if (src === BPF_PSEUDO_BTF_ID) {
    regs[dst] = {
      kind: "btf_id",
      typeName: "",
      size: 0,
      off: 0,
      var: ZERO_VAR,
      id: 0,
      refObjId: 0,
      maybeNull: false,
      alloc: false,
      untrusted: false,
    };
    return;
  }
  if (src === BPF_PSEUDO_FUNC) {
    const subprogno = env.findSubprog(pc + p.imm[pc] + 1);
    if (env.cfg.funcInfo.length === 0) env.reject(EINVAL, "LDIMM64_NO_FUNC_INFO");
    if (env.subprogs[subprogno].linkage !== "static") env.reject(EINVAL, "LDIMM64_CB_NOT_STATIC");
    regs[dst] = { kind: "func", subprogno, off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
    return;
  }
  const map = env.cfg.maps.find((m) => m.index === p.imm[pc]);
  if (map === undefined) env.reject(EINVAL, "LDIMM64_BAD_MAP", p.imm[pc]);
  if (src === BPF_PSEUDO_MAP_IDX_VALUE || src === BPF_PSEUDO_MAP_VALUE) {
    regs[dst] = { kind: "map_value", map, off: p.imm[pc + 1], var: ZERO_VAR, id: 0, refObjId: 0, maybeNull: false };
  } else if (src === BPF_PSEUDO_MAP_IDX || src === BPF_PSEUDO_MAP_FD) {
    regs[dst] = { kind: "map_ptr", map, off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
  } else {
    env.reject(EFAULT, "INVALID_LD_IMM");
  }
}

/** `check_ld_abs`: legacy packet loads through the context in R6. */
function checkLdAbs(env: VerifierEnv, pc: number): void {
  const p = env.prog;
  const code = p.code[pc];
  const mode = code & 0xe0;
  if (!mayAccessSkb(env.cfg.progType)) env.reject(EINVAL, "LD_ABS_TYPE");
  if (p.dst[pc] !== 0 || p.off[pc] !== 0 || (code & 0x18) === BPF_DW || (mode === BPF_ABS && p.src[pc] !== 0)) {
    env.reject(EINVAL, "LD_ABS_RESERVED");
  }
  checkRegRead(env, 6);
  const st = env.state;
  if (st.refs.length > 0) {
    for (const r of st.refs) env.verbose("UNRELEASED_REFERENCE", r.id, r.insnIdx);
    env.reject(EINVAL, "LD_ABS_REF");
  }
  if (st.activeLock !== null) env.reject(EINVAL, "LD_ABS_LOCK");
  if (st.activeRcuLock) env.reject(EINVAL, "LD_ABS_RCU");
  if (st.activePreemptLock > 0) env.reject(EINVAL, "LD_ABS_PREEMPT");
  const regs = st.cur.regs;
  if (regs[6].kind !== "ctx") env.reject(EINVAL, "LD_ABS_CTX");
  if (mode === BPF_IND) checkRegRead(env, p.src[pc]);
  checkPtrOffReg(env, 6);
  for (let i = 0; i <= 5; i++) regs[i] = { kind: "not_init" };
  regs[0] = unknownScalar();
}

/** `check_atomic` */
function checkAtomic(env: VerifierEnv, pc: number): void {
  const p = env.prog;
  const imm = p.imm[pc];
  const ops = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1];
  if (!ops.includes(imm)) env.reject(EINVAL, "ATOMIC_OPCODE", imm);
  const size = p.code[pc] & 0x18;
  if (size !== BPF_W && size !== BPF_DW) env.reject(EINVAL, "ATOMIC_SIZE");
  const src = p.src[pc];
  const dst = p.dst[pc];
  checkRegRead(env, src);
  const dreg = checkRegRead(env, dst);
  if (imm === BPF_CMPXCHG) checkRegRead(env, 0);
  if (dreg.kind === "ctx" || dreg.kind === "pkt" || dreg.kind === "pkt_meta" || dreg.kind === "pkt_end") {
    env.reject(EACCES, "ATOMIC_TYPE", dst, regTypeStr(dreg));
  }
  let loadReg = -1;
  if ((imm & BPF_FETCH) !== 0) {
    loadReg = imm === BPF_CMPXCHG ? 0 : src;
    checkRegWrite(env, loadReg);
  }
  const bytes = SIZE_BYTES[size];
  checkMemAccess(env, dst, p.off[pc], bytes, false, -1, false, null);
  if (loadReg >= 0) checkMemAccess(env, dst, p.off[pc], bytes, false, loadReg, false, null);
  checkMemAccess(env, dst, p.off[pc], bytes, true, -1, false, null);
}

/** `do_check`: explores every path from the current state; returns when all have ended. */
export function doCheck(env: VerifierEnv): void {
  const p = env.prog;
  const n = p.length;
  for (;;) {
    const pc = env.insnIdx;
    if (pc >= n || pc < 0) env.reject(EFAULT, "INVALID_INSN_IDX", pc, n);
    env.markBlock();
    if (++env.insnProcessed > BPF_COMPLEXITY_LIMIT_INSNS) env.reject(E2BIG, "TOO_LARGE", env.insnProcessed);
    if (env.aux.prunePoint[pc] && isStateVisited(env, pc)) {
      if (!popNext(env)) return;
      continue;
    }
    env.aux.seen[pc] = 1;
    const code = p.code[pc];
    const cls = code & 0x07;
    const st = env.state;
    if (cls === BPF_ALU || cls === BPF_ALU64) {
      checkAluOp(env, pc);
    } else if (cls === BPF_LDX) {
      const mode = code & 0xe0;
      checkRegRead(env, p.src[pc]);
      checkRegWrite(env, p.dst[pc]);
      checkMemAccess(env, p.src[pc], p.off[pc], SIZE_BYTES[code & 0x18], false, p.dst[pc], mode === BPF_MEMSX, null);
    } else if (cls === BPF_STX) {
      if ((code & 0xe0) === BPF_ATOMIC) {
        checkAtomic(env, pc);
      } else {
        if ((code & 0xe0) !== BPF_MEM || p.imm[pc] !== 0) env.reject(EINVAL, "STX_RESERVED");
        checkRegRead(env, p.src[pc]);
        checkRegRead(env, p.dst[pc]);
        const bytes = SIZE_BYTES[code & 0x18];
        checkMemAccess(env, p.dst[pc], p.off[pc], bytes, true, -1, false, { regno: p.src[pc], imm: null });
      }
    } else if (cls === BPF_ST) {
      // an immediate store into the context is allowed since 6.3 (converted like a register
      // store by convert_ctx_accesses); older kernels refused it with ST_CTX
      checkRegRead(env, p.dst[pc]);
      const bytes = SIZE_BYTES[code & 0x18];
      checkMemAccess(env, p.dst[pc], p.off[pc], bytes, true, -1, false, { regno: -1, imm: p.imm[pc] });
    } else if (cls === BPF_JMP || cls === BPF_JMP32) {
      const op = code & 0xf0;
      env.jmpsProcessed++;
      if (op === BPF_CALL) {
        const src = p.src[pc];
        if ((code & BPF_X) !== 0 || p.dst[pc] !== 0 || cls === BPF_JMP32) env.reject(EINVAL, "CALL_RESERVED");
        if (src !== BPF_PSEUDO_KFUNC_CALL && p.off[pc] !== 0) env.reject(EINVAL, "CALL_RESERVED");
        if (st.activeLock !== null) {
          const kname = env.cfg.kfuncs.get(p.imm[pc]) ?? "";
          if (
            (src === 0 && p.imm[pc] !== BPF_FUNC_spin_unlock) ||
            (src === BPF_PSEUDO_KFUNC_CALL && (p.off[pc] !== 0 || !GRAPH_API_KFUNCS.has(kname)))
          ) {
            env.reject(EINVAL, "CALLS_WHILE_LOCKED");
          }
        }
        if (src === BPF_PSEUDO_CALL) {
          env.insnIdx = checkFuncCall(env, pc);
        } else if (src === BPF_PSEUDO_KFUNC_CALL) {
          if (checkKfuncCall(env, pc)) {
            processExit(env, true);
            if (!popNext(env)) return;
            continue;
          }
        } else {
          checkHelperCall(env, pc);
        }
      } else if (op === BPF_JA) {
        env.insnIdx += cls === BPF_JMP ? p.off[pc] : p.imm[pc];
      } else if (op === BPF_EXIT) {
        if (processExit(env, false) === "return") continue;
        if (!popNext(env)) return;
        continue;
      } else {
        env.insnIdx = checkCondJmpOp(env, pc);
      }
    } else if (cls === BPF_LD) {
      const mode = code & 0xe0;
      if (mode === BPF_ABS || mode === BPF_IND) {
        checkLdAbs(env, pc);
      } else if (mode === BPF_IMM) {
        checkLdImm(env, pc);
        env.insnIdx++;
        env.aux.seen[env.insnIdx] = 1;
      } else {
        env.reject(EINVAL, "INVALID_LD_IMM");
      }
    } else {
      env.reject(EINVAL, "UNKNOWN_OPCODE", code);
    }
    env.prevInsnIdx = pc;
    env.insnIdx++;
  }
}

/**
 * `do_check_common`: verifies subprogram `subprog` from its first instruction — the main
 * program with R1 = ctx, or a global function / the exception callback with the arguments its
 * BTF prototype declares.
 */
export function doCheckCommon(env: VerifierEnv, subprog: number): void {
  const frame = new FuncState(-1, 0, subprog);
  frame.regs[10] = { kind: "fp", frameno: 0, off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
  const st = new VerifierState([frame]);
  env.cur = st;
  env.stack.length = 0;
  env.insnIdx = env.subprogs[subprog].start;
  env.prevInsnIdx = -1;
  if (subprog !== 0) {
    env.verbose("VALIDATING", env.subprogName(subprog), subprog);
    const args = prepareFuncArgs(env, subprog);
    if (typeof args === "number") env.fail(-args);
    if (env.subprogs[subprog].isExceptionCb) {
      frame.inExceptionCallbackFn = true;
      if (args.length !== 1 || args[0].kind !== "anything") env.reject(EINVAL, "EXC_CB_ARGS");
    }
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      switch (a.kind) {
        case "ctx":
          frame.regs[i + 1] = { kind: "ctx", off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
          break;
        case "anything":
          frame.regs[i + 1] = unknownScalar();
          break;
        case "mem":
          frame.regs[i + 1] = {
            kind: "mem",
            memSize: a.size,
            off: 0,
            var: ZERO_VAR,
            id: ++env.idGen,
            refObjId: 0,
            maybeNull: a.maybeNull,
            rdonly: false,
            ringbuf: false,
          };
          break;
      }
    }
  } else {
    frame.regs[1] = { kind: "ctx", off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
  }
  doCheck(env);
}

/** `do_check_main` */
export function doCheckMain(env: VerifierEnv): void {
  doCheckCommon(env, 0);
}

/**
 * `do_check_subprogs`: every global function a verified path called, and the exception
 * callback, verified on its own, until no new one is found.
 */
export function doCheckSubprogs(env: VerifierEnv): void {
  if (env.cfg.funcInfo.length === 0) return;
  if (env.exceptionCallbackSubprog !== 0) env.subprogs[env.exceptionCallbackSubprog].called = true;
  for (;;) {
    let newCnt = 0;
    for (let i = 1; i < env.subprogs.length; i++) {
      const s = env.subprogs[i];
      if (s.linkage !== "global" || !s.called || s.verified) continue;
      doCheckCommon(env, i);
      s.verified = true;
      newCnt++;
    }
    if (newCnt === 0) return;
  }
}
