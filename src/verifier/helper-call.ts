/**
 * Helper calls: kernel/bpf/verifier.c v6.12 `check_helper_call` with `check_func_arg`
 * (`check_reg_type`'s compatible register types per argument type, `check_mem_size_reg`,
 * `process_spin_lock`, `process_timer_func`), the callbacks of bpf_loop, bpf_for_each_map_elem
 * and bpf_timer_set_callback, references acquired and released by ring buffer records, the
 * return value (`do_refine_retval_range`) and packet pointers invalidated by helpers that move
 * packet data.
 */
import {
  BPF_FUNC_for_each_map_elem,
  BPF_FUNC_get_smp_processor_id,
  BPF_FUNC_get_stack,
  BPF_FUNC_loop,
  BPF_FUNC_map_lookup_elem,
  BPF_FUNC_probe_read_kernel_str,
  BPF_FUNC_probe_read_str,
  BPF_FUNC_probe_read_user_str,
  BPF_FUNC_spin_lock,
  BPF_FUNC_timer_set_callback,
} from "../isa/helper-ids.ts";
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY } from "../object/uapi.ts";
import { checkRegRead } from "./alu.ts";
import { EACCES, EFAULT, EINVAL, type VerifierEnv } from "./env.ts";
import {
  acquireReference,
  clearAllPktPointers,
  clearCallerSavedRegs,
  pushCallbackCall,
  releaseReference,
  setLoopCallbackState,
  setMapElemCallbackState,
  setTimerCallbackState,
} from "./frames.ts";
import { type ArgType, CHANGES_PKT_DATA, HELPER_PROTOS, helperName } from "./helper-protos.ts";
import { checkHelperMemAccess, checkPtrOffReg, registerIsNull } from "./mem.ts";
import {
  isPointer,
  mayBeNull,
  type RegState,
  regTypeStr,
  scalarReg,
  unknownScalar,
  type VerifierMap,
  ZERO_VAR,
} from "./reg.ts";
import { Scalar } from "./scalar.ts";
import { byteIndex, isSpilledReg, STACK_SPILL, STACK_ZERO, slotIndex } from "./state.ts";

/** __BPF_FUNC_MAX_ID at v6.12 */
const BPF_FUNC_MAX_ID = 212;
/** BPF_MAX_VAR_SIZ */
const BPF_MAX_VAR_SIZ = 1 << 29;
/** MAX_ERRNO */
const MAX_ERRNO = 4095n;
/** nr_cpu_ids assumed by the model */
const NR_CPU_IDS = 2n;

/** `struct bpf_call_arg_meta`, the facts collected while checking arguments. */
interface CallMeta {
  map: VerifierMap | null;
  subprogno: number;
  rawMode: boolean;
  /** `mem_size` of an ARG_CONST_ALLOC_SIZE_OR_ZERO */
  memSize: number;
  msizeMaxValue: bigint;
  releaseRefObjId: number;
  /** The key's value when it is a constant on the stack (`const_map_key`, 6.14+), else -1. */
  constMapKey: bigint;
}

/** The kernel's names of the register types an argument type accepts (`compatible_reg_types`). */
function compatibleTypes(arg: ArgType): readonly string[] | null {
  switch (arg) {
    case "map_key":
    case "map_value":
    case "uninit_map_value":
    case "mem":
    case "rdonly_mem":
    case "uninit_mem":
    case "rdonly_mem_or_null":
    case "uninit_mem_or_null":
    case "fixed_u64_uninit":
      return ["fp", "pkt", "pkt_meta", "map_key", "map_value", "mem", "ringbuf_mem", "buf", "trusted_ptr_"];
    case "ctx":
      return ["ctx"];
    case "map_ptr":
      return ["map_ptr"];
    case "spin_lock":
      return ["map_value", "alloc_ptr_"];
    case "timer":
    case "const_str":
      return ["map_value"];
    case "func":
      return ["func"];
    case "stack_or_null":
      return ["fp"];
    case "ringbuf_mem_release":
      return ["ringbuf_mem"];
    default:
      return null;
  }
}

/** Whether register `r` has one of the accepted types (`check_reg_type`'s loop). */
function typeMatches(r: RegState, arg: ArgType): boolean {
  switch (compatibleTypes(arg)?.[0]) {
    case "fp":
      if (arg === "stack_or_null") return r.kind === "fp";
      return (
        (r.kind === "fp" ||
          r.kind === "pkt" ||
          r.kind === "pkt_meta" ||
          r.kind === "map_key" ||
          r.kind === "map_value" ||
          r.kind === "mem" ||
          (r.kind === "btf_id" && !r.untrusted)) &&
        !mayBeNull(r)
      );
    case "ctx":
      return r.kind === "ctx";
    case "map_ptr":
      return r.kind === "map_ptr";
    case "map_value":
      if (arg === "spin_lock") return (r.kind === "map_value" || (r.kind === "btf_id" && r.alloc)) && !mayBeNull(r);
      return r.kind === "map_value" && !r.maybeNull;
    case "func":
      return r.kind === "func";
    case "ringbuf_mem":
      return r.kind === "mem" && r.ringbuf && !r.maybeNull;
    default:
      return true;
  }
}

function argMayBeNull(arg: ArgType): boolean {
  return arg === "rdonly_mem_or_null" || arg === "uninit_mem_or_null" || arg === "stack_or_null";
}

/** `process_spin_lock` */
function processSpinLock(env: VerifierEnv, regno: number, isLock: boolean): void {
  const st = env.state;
  const reg = st.cur.regs[regno];
  if (reg.kind !== "map_value" && reg.kind !== "btf_id") return;
  if (!reg.var.isConst()) env.reject(EINVAL, "SPIN_LOCK_VAR_OFF", regno);
  const val = reg.var.varOff.value + BigInt(reg.off);
  const key = reg.kind === "map_value" ? `map:${reg.map.index}` : "obj";
  const lockOff = reg.kind === "map_value" ? reg.map.spinLockOff : -1;
  if (lockOff < 0) {
    const isMap = reg.kind === "map_value";
    env.reject(EINVAL, "SPIN_LOCK_NO_FIELD", isMap ? "map" : "local", isMap ? reg.map.name : "kptr");
  }
  if (BigInt(lockOff) !== val) env.reject(EINVAL, "SPIN_LOCK_OFF", val, lockOff);
  if (isLock) {
    if (st.activeLock !== null) env.reject(EINVAL, "SPIN_LOCK_TWO");
    st.activeLock = { key, id: reg.id };
  } else {
    if (st.activeLock === null) env.reject(EINVAL, "SPIN_UNLOCK_NONE");
    if (st.activeLock.key !== key || st.activeLock.id !== reg.id) env.reject(EINVAL, "SPIN_UNLOCK_DIFF");
    st.activeLock = null;
  }
}

/** `process_timer_func`: the timer inside a map value; returns its map. */
function processTimerFunc(env: VerifierEnv, regno: number): VerifierMap {
  const reg = env.state.cur.regs[regno];
  if (reg.kind !== "map_value") env.reject(EINVAL, "ARG_TYPE", regno, regTypeStr(reg), "map_value");
  if (!reg.var.isConst()) env.reject(EINVAL, "TIMER_VAR_OFF", regno);
  if (reg.map.timerOff < 0) env.reject(EINVAL, "TIMER_NO_FIELD", reg.map.name);
  const val = reg.var.varOff.value + BigInt(reg.off);
  if (BigInt(reg.map.timerOff) !== val) env.reject(EINVAL, "TIMER_OFF", val, reg.map.timerOff);
  return reg.map;
}

/** `check_mem_size_reg`: the size argument after a memory argument. */
function checkMemSizeReg(env: VerifierEnv, regno: number, zeroOk: boolean, write: boolean, meta: CallMeta): void {
  const reg = env.state.cur.regs[regno];
  if (reg.kind !== "scalar") env.reject(EACCES, "ARG_TYPE", regno, regTypeStr(reg), "scalar");
  meta.msizeMaxValue = reg.s.umax;
  if (reg.s.smin < 0n) env.reject(EACCES, "ARG_NEG_SIZE", regno);
  if (reg.s.umin === 0n && !zeroOk) env.reject(EACCES, "ARG_ZERO_SIZE", regno, reg.s.umin, reg.s.umax);
  if (reg.s.umax >= BigInt(BPF_MAX_VAR_SIZ)) env.reject(EACCES, "ARG_UNBOUNDED_SIZE", regno);
  checkHelperMemAccess(env, regno - 1, Number(reg.s.umax), write, zeroOk);
}

/** `check_func_arg` for argument `arg` (0-based) of the helper at the current instruction. */
function checkFuncArg(env: VerifierEnv, arg: number, args: readonly ArgType[], meta: CallMeta): void {
  const type = args[arg] ?? "dontcare";
  if (type === "dontcare") return;
  const regno = arg + 1;
  const reg = checkRegRead(env, regno);
  if (type === "anything") return;
  if (type === "size" || type === "size_or_zero") {
    const prev = args[arg - 1];
    // MEM_UNINIT (raw mode): the helper only writes; ARG_PTR_TO_MEM is read (and may be written)
    const raw = prev === "uninit_mem" || prev === "uninit_mem_or_null";
    checkMemSizeReg(env, regno, type === "size_or_zero", raw, meta);
    if (prev === "mem") checkMemSizeReg(env, regno, type === "size_or_zero", true, meta);
    return;
  }
  if (type === "alloc_size_or_zero") {
    if (reg.kind !== "scalar" || !reg.s.isConst()) env.reject(EACCES, "ARG_NOT_KNOWN_CONST", regno);
    meta.memSize = Number(reg.s.varOff.value);
    return;
  }
  if (argMayBeNull(type) && registerIsNull(reg)) return;
  const compat = compatibleTypes(type);
  if (compat !== null && !typeMatches(reg, type)) {
    env.reject(EACCES, "ARG_TYPE", regno, regTypeStr(reg), compat.join(", "));
  }
  if (type === "ctx" || type === "map_ptr" || type === "func") checkPtrOffReg(env, regno);
  switch (type) {
    case "map_ptr":
      if (reg.kind === "map_ptr") meta.map = reg.map;
      break;
    case "map_key":
      if (meta.map === null) env.reject(EACCES, "INVALID_MAP_PTR");
      checkHelperMemAccess(env, regno, meta.map.keySize, false, false);
      if (env.cfg.kernel !== "6.12") meta.constMapKey = constantMapKey(env, regno, meta.map.keySize);
      break;
    case "map_value":
    case "uninit_map_value":
      if (meta.map === null) env.reject(EACCES, "INVALID_MAP_PTR");
      checkHelperMemAccess(env, regno, meta.map.valueSize, type === "uninit_map_value", false);
      break;
    case "mem":
    case "rdonly_mem":
    case "uninit_mem":
    case "rdonly_mem_or_null":
    case "uninit_mem_or_null":
      meta.rawMode = type.startsWith("uninit");
      break;
    case "fixed_u64_uninit":
      checkHelperMemAccess(env, regno, 8, true, false);
      break;
    case "spin_lock":
      processSpinLock(env, regno, env.prog.imm[env.insnIdx] === BPF_FUNC_spin_lock);
      break;
    case "timer":
      meta.map = processTimerFunc(env, regno);
      break;
    case "func":
      if (reg.kind === "func") meta.subprogno = reg.subprogno;
      break;
    case "ringbuf_mem_release":
      if (isPointer(reg)) {
        if (reg.off !== 0) env.reject(EACCES, "RELEASE_OFF", regno);
        if (reg.refObjId === 0) env.reject(EACCES, "REF_NOT_ACQUIRED", regno);
        meta.releaseRefObjId = reg.refObjId;
      }
      break;
    default:
      break;
  }
}

/**
 * `get_constant_map_key` (6.14+): the value of a map key the program keeps on the stack as a
 * known constant (zeroed bytes, or a spilled constant of the key's size), else -1.
 */
function constantMapKey(env: VerifierEnv, regno: number, keySize: number): bigint {
  const key = env.state.cur.regs[regno];
  if (key.kind !== "fp" || !key.var.isConst()) return -1n;
  const stackOff = key.off + Number(BigInt.asIntN(64, key.var.varOff.value));
  const frame = env.state.frames[key.frameno];
  const slot = frame.slot(slotIndex(stackOff));
  const off = byteIndex(stackOff);
  let zero = 0;
  for (let i = off; i >= 0 && slot.types[i] === STACK_ZERO; i--) zero++;
  if (zero >= keySize) return 0n;
  if (!isSpilledReg(slot) || slot.spilled.kind !== "scalar") return -1n;
  let spill = 0;
  for (let i = off; i >= 0 && slot.types[i] === STACK_SPILL; i--) spill++;
  if (spill !== keySize || !slot.spilled.s.isConst()) return -1n;
  return slot.spilled.s.varOff.value;
}

/** `do_refine_retval_range` */
function refineRetval(id: number, meta: CallMeta): Scalar | null {
  switch (id) {
    case BPF_FUNC_get_stack:
    case BPF_FUNC_probe_read_str:
    case BPF_FUNC_probe_read_kernel_str:
    case BPF_FUNC_probe_read_user_str: {
      const s = Scalar.unknown();
      s.smax = meta.msizeMaxValue;
      s.s32max = meta.msizeMaxValue;
      s.smin = -MAX_ERRNO;
      s.s32min = -MAX_ERRNO;
      s.sync();
      return s;
    }
    case BPF_FUNC_get_smp_processor_id: {
      const s = Scalar.unknown();
      s.umax = s.u32max = s.smax = s.s32max = NR_CPU_IDS - 1n;
      s.umin = s.u32min = s.smin = s.s32min = 0n;
      s.sync();
      return s;
    }
    default:
      return null;
  }
}

/** `check_helper_call` for the helper call at `pc`. */
export function checkHelperCall(env: VerifierEnv, pc: number): void {
  const id = env.prog.imm[pc];
  const name = helperName(id);
  if (id < 0 || id >= BPF_FUNC_MAX_ID) env.reject(EINVAL, "INVALID_FUNC", name, id);
  const proto = HELPER_PROTOS.get(id);
  if (proto === undefined || !env.cfg.helperAvailable(env.cfg.progType, id)) {
    env.reject(EINVAL, "HELPER_NOT_ALLOWED", name, id);
  }
  if (proto.gplOnly && !env.cfg.gplCompatible) env.reject(EINVAL, "GPL_ONLY_HELPER");
  const st = env.state;
  if (proto.mightSleep && st.activeRcuLock) env.reject(EINVAL, "SLEEPABLE_IN_RCU", name, id);
  if (proto.mightSleep && st.activePreemptLock > 0) env.reject(EINVAL, "SLEEPABLE_IN_PREEMPT", name, id);
  const meta: CallMeta = {
    map: null,
    subprogno: -1,
    rawMode: false,
    memSize: 0,
    msizeMaxValue: 0n,
    releaseRefObjId: 0,
    constMapKey: -1n,
  };
  for (let i = 0; i < 5; i++) checkFuncArg(env, i, proto.args, meta);
  if (meta.map !== null && proto.args.includes("map_ptr")) {
    // `record_func_map`: one map per call site, else poisoned (no inlining, generic call)
    const seen = env.aux.callMap.get(pc);
    env.aux.callMap.set(pc, seen === undefined || seen === meta.map ? meta.map : null);
  }
  if (meta.releaseRefObjId !== 0 && !releaseReference(env, meta.releaseRefObjId)) {
    env.reject(EINVAL, "REF_NOT_ACQUIRED", 1);
  }
  const regs = st.cur.regs;
  switch (id) {
    case BPF_FUNC_for_each_map_elem:
      if (meta.map === null || meta.subprogno < 0) env.fail(EFAULT);
      pushCallbackCall(env, pc, meta.subprogno, setMapElemCallbackState(meta.map), false);
      break;
    case BPF_FUNC_timer_set_callback:
      if (meta.map === null || meta.subprogno < 0) env.fail(EFAULT);
      pushCallbackCall(env, pc, meta.subprogno, setTimerCallbackState(meta.map), true);
      break;
    case BPF_FUNC_loop: {
      if (meta.subprogno < 0) env.fail(EFAULT);
      {
        // `update_loop_inline_state`: inlinable while every path passes flags 0 and the same callback
        const r4 = regs[4];
        const zero = r4.kind === "scalar" && r4.s.isConst() && r4.s.varOff.value === 0n;
        const prev = env.aux.loopInline.get(pc);
        const fit = prev === undefined ? zero : prev.fit && zero && prev.subprog === meta.subprogno;
        env.aux.loopInline.set(pc, { fit, subprog: prev?.subprog ?? meta.subprogno });
      }
      const r1 = regs[1];
      const umax = r1.kind === "scalar" ? r1.s.umax : 0n;
      if (BigInt(st.cur.callbackDepth) < umax) pushCallbackCall(env, pc, meta.subprogno, setLoopCallbackState, false);
      else st.cur.callbackDepth = 0;
      break;
    }
    default:
      break;
  }
  clearCallerSavedRegs(regs);
  switch (proto.ret) {
    case "integer":
      regs[0] = unknownScalar();
      break;
    case "void":
      break;
    case "map_value_or_null": {
      if (meta.map === null) env.fail(EFAULT);
      // 6.14+: an array lookup with a constant key inside the array cannot fail
      const nonNull =
        id === BPF_FUNC_map_lookup_elem &&
        (meta.map.type === BPF_MAP_TYPE_ARRAY || meta.map.type === BPF_MAP_TYPE_PERCPU_ARRAY) &&
        meta.constMapKey >= 0n &&
        meta.constMapKey < BigInt(meta.map.maxEntries);
      const needsId = !nonNull || meta.map.spinLockOff >= 0;
      regs[0] = {
        kind: "map_value",
        map: meta.map,
        off: 0,
        var: ZERO_VAR,
        id: needsId ? ++env.idGen : 0,
        refObjId: 0,
        maybeNull: !nonNull,
      };
      break;
    }
    case "ringbuf_mem_or_null": {
      ++env.idGen; // the kernel gives the nullable result an id, then replaces it by the reference's
      const refId = acquireReference(env, pc);
      regs[0] = {
        kind: "mem",
        memSize: meta.memSize,
        off: 0,
        var: ZERO_VAR,
        id: refId,
        refObjId: refId,
        maybeNull: true,
        rdonly: false,
        ringbuf: true,
      };
      break;
    }
    case "btf_id_task":
      regs[0] = {
        kind: "btf_id",
        typeName: "task_struct",
        size: 0,
        off: 0,
        var: ZERO_VAR,
        id: 0,
        refObjId: 0,
        maybeNull: false,
        alloc: false,
        untrusted: false,
      };
      break;
  }
  const refined = refineRetval(id, meta);
  if (refined !== null) regs[0] = scalarReg(refined);
  if (CHANGES_PKT_DATA.has(id)) clearAllPktPointers(env);
}
