/**
 * bpf-to-bpf calls and kfunc calls: kernel/bpf/verifier.c v6.12 `check_func_call` (a static
 * callee is entered with a new frame; a global one is assumed valid against its BTF prototype,
 * `btf_check_subprog_call`, and verified on its own later) and `check_kfunc_call` (arguments,
 * bpf_rcu_read_lock/unlock, bpf_preempt_disable/enable, references acquired by bpf_obj_new and
 * released by bpf_obj_drop, the callback of bpf_rbtree_add, open-coded iterators (iter.ts),
 * dynptrs and their slices (dynptr.ts), and `bpf_throw`: the exception is noted and, with the
 * default callback, the cookie in R1 is checked as a return value).
 */
import { checkRegRead } from "./alu.ts";
import { constructDynptr, useDynptr } from "./dynptr.ts";
import { EACCES, EFAULT, EINVAL, ENOTSUPP, type VerifierEnv } from "./env.ts";
import {
  acquireReference,
  clearCallerSavedRegs,
  pushCallbackCall,
  releaseReference,
  setCalleeState,
  setRbtreeAddCallbackState,
  setupFuncEntry,
} from "./frames.ts";
import { prepareFuncArgs } from "./func-args.ts";
import { type IterRef, processIterArg, processIterNextCall } from "./iter.ts";
import { KFUNCS } from "./kfuncs.ts";
import { checkHelperMemAccess, registerIsNull } from "./mem.ts";
import { type BtfIdReg, isPointer, mayBeNull, type RegState, regTypeStr, unknownScalar, ZERO_VAR } from "./reg.ts";
import { checkReturnCode } from "./retcode.ts";
import type { DynptrSlot } from "./state.ts";

/** `btf_check_subprog_call`: 0, or a negative errno when the arguments do not fit the prototype. */
function btfCheckSubprogCall(env: VerifierEnv, subprog: number, regs: RegState[]): number {
  if (env.cfg.funcInfo.length === 0) return -EINVAL;
  if (env.subprogs[subprog].btfTypeId === 0) return -EFAULT;
  const args = prepareFuncArgs(env, subprog);
  if (typeof args === "number") return args;
  for (let i = 0; i < args.length; i++) {
    const regno = i + 1;
    const reg = regs[regno];
    const a = args[i];
    switch (a.kind) {
      case "anything":
        if (reg.kind !== "scalar") {
          env.verbose("ARG_NOT_SCALAR", regno);
          return -EINVAL;
        }
        break;
      case "ctx":
        if (reg.kind !== "ctx") {
          env.verbose("GLOBAL_ARG_CTX", i);
          return -EINVAL;
        }
        break;
      case "mem": {
        if (registerIsNull(reg)) break;
        if (!isPointer(reg)) {
          env.verbose("ARG_TYPE", regno, regTypeStr(reg), "fp");
          return -EINVAL;
        }
        // check_mem_reg: the memory as if the pointer were not NULL, the register unchanged
        if (mayBeNull(reg)) regs[regno] = { ...reg, maybeNull: false } as RegState;
        checkHelperMemAccess(env, regno, a.size, false, true);
        checkHelperMemAccess(env, regno, a.size, true, true);
        regs[regno] = reg;
        break;
      }
    }
  }
  return 0;
}

/**
 * `check_func_call` for the bpf-to-bpf call at `pc`: returns the instruction before the one the
 * path continues at (the caller's next instruction, or the callee's first minus one).
 */
export function checkFuncCall(env: VerifierEnv, pc: number): number {
  const target = pc + env.prog.imm[pc] + 1;
  const subprog = env.findSubprog(target);
  if (subprog < 0) env.reject(EFAULT, "NO_PROG_AT", target);
  const st = env.state;
  const caller = st.cur;
  const err = btfCheckSubprogCall(env, subprog, caller.regs);
  if (err === -EFAULT) env.fail(EFAULT);
  if (env.isGlobal(subprog)) {
    const name = env.subprogName(subprog);
    if (st.activeLock !== null) env.reject(EINVAL, "GLOBAL_CALL_LOCKED");
    if (st.activePreemptLock > 0) env.reject(EINVAL, "GLOBAL_CALL_PREEMPT");
    if (err !== 0) env.reject(-err, "GLOBAL_BAD_ARGS", subprog, name);
    env.verbose("GLOBAL_ASSUMED_VALID", subprog, name);
    env.subprogs[subprog].called = true;
    clearCallerSavedRegs(caller.regs);
    caller.regs[0] = unknownScalar();
    return pc;
  }
  setupFuncEntry(env, st, subprog, pc, setCalleeState);
  clearCallerSavedRegs(caller.regs);
  return env.subprogs[subprog].start - 1;
}

/** The object a `bpf_obj_new_impl(type_id)` allocates: the program's BTF struct. */
function allocatedObject(env: VerifierEnv, typeId: number, refId: number): BtfIdReg {
  const btf = env.cfg.btf;
  const t = btf !== undefined && typeId > 0 && typeId < btf.typeCount ? btf.type(typeId) : undefined;
  if (t === undefined || t.kind !== "struct") env.reject(EINVAL, "KFUNC_OBJ_NEW_TYPE");
  return {
    kind: "btf_id",
    typeName: t.name,
    size: t.size,
    off: 0,
    var: ZERO_VAR,
    id: refId,
    refObjId: refId,
    maybeNull: true,
    alloc: true,
    untrusted: false,
  };
}

/**
 * `check_kfunc_call` for the kfunc call at `pc`; true when it is `bpf_throw`, whose path ends
 * here with an exceptional exit.
 */
export function checkKfuncCall(env: VerifierEnv, pc: number): boolean {
  const p = env.prog;
  const name = env.cfg.kfuncs.get(p.imm[pc]) ?? "";
  const desc = KFUNCS.get(name);
  if (desc === undefined || (desc.since !== undefined && env.cfg.kernel === "6.12")) {
    env.reject(EACCES, "KFUNC_UNKNOWN", name);
  }
  if (desc.sleepable && !env.cfg.sleepable) env.reject(EACCES, "KFUNC_SLEEPABLE", name);
  const st = env.state;
  const regs = st.cur.regs;
  let releaseRef = 0;
  let callbackSubprog = -1;
  let constArg = 0n;
  let node: RegState | null = null;
  let iter: IterRef | null = null;
  let dynptr: DynptrSlot | null = null;
  for (let i = 0; i < desc.args.length; i++) {
    const regno = i + 1;
    const a = desc.args[i];
    if (a === "ignore") continue;
    const reg = regs[regno];
    switch (a) {
      case "scalar":
      case "const":
        if (reg.kind !== "scalar") env.reject(EINVAL, "ARG_NOT_SCALAR", regno);
        if (a === "const") {
          if (!reg.s.isConst()) env.reject(EINVAL, "KFUNC_ARG_CONST", regno);
          constArg = reg.s.varOff.value;
        }
        break;
      case "alloc_obj":
      case "rb_node":
        checkRegRead(env, regno);
        if (reg.kind !== "btf_id" || !reg.alloc || reg.maybeNull) env.reject(EINVAL, "KFUNC_EXPECTS_ALLOC", i);
        if (reg.off !== 0) env.reject(EINVAL, "RELEASE_OFF", regno);
        releaseRef = reg.refObjId;
        node = { ...reg, refObjId: 0, maybeNull: false };
        break;
      case "ctx":
        if (reg.kind !== "ctx") env.reject(EINVAL, "KFUNC_ARG_CTX", i, regTypeStr(reg));
        break;
      case "any_ptr":
        checkRegRead(env, regno);
        break;
      case "rb_root":
        checkRegRead(env, regno);
        break;
      case "irq_flag":
        if (reg.kind !== "fp") env.reject(EINVAL, "ARG_TYPE", regno, regTypeStr(reg), "fp");
        break;
      case "callback":
        if (reg.kind !== "func") env.reject(EINVAL, "ARG_TYPE", regno, regTypeStr(reg), "func");
        callbackSubprog = reg.subprogno;
        break;
      case "iter":
        checkRegRead(env, regno);
        iter = processIterArg(env, pc, i, desc);
        break;
      case "dynptr_uninit":
        checkRegRead(env, regno);
        constructDynptr(env, regno, name);
        break;
      case "dynptr":
        checkRegRead(env, regno);
        dynptr = useDynptr(env, regno);
        break;
      case "mem_or_null": {
        // a buffer (may be NULL: `__opt`) and its constant size (`__szk`), the next argument
        const size = regs[regno + 1];
        if (size.kind !== "scalar" || !size.s.isConst()) env.reject(EINVAL, "KFUNC_ARG_CONST", regno + 1);
        const n = Number(size.s.varOff.value);
        if (!registerIsNull(reg)) {
          checkHelperMemAccess(env, regno, n, false, true);
          checkHelperMemAccess(env, regno, n, true, true);
        }
        constArg = size.s.varOff.value;
        i++;
        break;
      }
      case "mem_size":
        break;
    }
  }
  if (name === "bpf_rbtree_add_impl" && callbackSubprog >= 0 && node !== null) {
    pushCallbackCall(env, pc, callbackSubprog, setRbtreeAddCallbackState(node), false);
  }
  const rcuLock = name === "bpf_rcu_read_lock";
  const rcuUnlock = name === "bpf_rcu_read_unlock";
  if (st.activeRcuLock) {
    if (rcuLock) env.reject(EINVAL, "NESTED_RCU", name);
    else if (rcuUnlock) st.activeRcuLock = false;
  } else if (rcuLock) st.activeRcuLock = true;
  else if (rcuUnlock) env.reject(EINVAL, "UNMATCHED_RCU", name);
  const preemptDisable = name === "bpf_preempt_disable";
  const preemptEnable = name === "bpf_preempt_enable";
  if (st.activePreemptLock > 0) {
    if (preemptDisable) st.activePreemptLock++;
    else if (preemptEnable) st.activePreemptLock--;
  } else if (preemptDisable) st.activePreemptLock++;
  else if (preemptEnable) env.reject(EINVAL, "UNMATCHED_PREEMPT", name);

  if (desc.release && releaseRef !== 0 && !releaseReference(env, releaseRef)) {
    env.reject(EINVAL, "KFUNC_NOT_ACQUIRED", name, p.imm[pc]);
  }
  if (name === "bpf_local_irq_save") st.activeIrq++;
  else if (name === "bpf_local_irq_restore") {
    if (st.activeIrq === 0) env.reject(EINVAL, "UNMATCHED_IRQ");
    st.activeIrq--;
  }
  const isThrow = name === "bpf_throw";
  if (isThrow) {
    if (!env.cfg.jitSupportsExceptions) env.reject(ENOTSUPP, "JIT_NO_EXCEPTIONS", name, p.imm[pc]);
    env.seenException = true;
    if (env.exceptionCallbackSubprog === 0) checkReturnCode(env, 1, "R1");
  }
  clearCallerSavedRegs(regs);
  switch (desc.ret) {
    case "void":
      break;
    case "scalar":
      regs[0] = unknownScalar();
      break;
    case "alloc_obj": {
      if (desc.retNull) ++env.idGen; // KF_RET_NULL's id, replaced by the reference's
      const refId = acquireReference(env, pc);
      regs[0] = allocatedObject(env, Number(constArg), refId);
      env.aux.objNewSize.set(pc, regs[0].kind === "btf_id" ? regs[0].size : 0);
      break;
    }
    case "rdonly_mem":
      regs[0] = {
        kind: "mem",
        memSize: desc.retSize ?? 0,
        off: 0,
        var: ZERO_VAR,
        id: desc.retNull ? ++env.idGen : 0,
        refObjId: 0,
        maybeNull: desc.retNull === true,
        rdonly: true,
        ringbuf: false,
      };
      break;
    case "dynptr_slice":
      // read-only memory of the constant size, tied to the dynptr it was sliced from
      regs[0] = {
        kind: "mem",
        memSize: Number(constArg),
        off: 0,
        var: ZERO_VAR,
        id: desc.retNull ? ++env.idGen : 0,
        refObjId: 0,
        maybeNull: desc.retNull === true,
        rdonly: true,
        ringbuf: false,
        dynptrId: dynptr?.id ?? 0,
        pktSlice: dynptr?.type === "skb" || dynptr?.type === "xdp",
      };
      break;
    case "kern_ctx":
    case "untrusted":
      regs[0] = {
        kind: "btf_id",
        typeName: desc.ret === "kern_ctx" ? "sk_buff" : "",
        size: 0,
        off: 0,
        var: ZERO_VAR,
        id: 0,
        refObjId: 0,
        maybeNull: false,
        alloc: false,
        untrusted: desc.ret === "untrusted",
      };
      break;
  }
  if (desc.iter === "next" && iter !== null) processIterNextCall(env, pc, iter);
  return isThrow;
}
