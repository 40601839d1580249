/**
 * Memory accesses: kernel/bpf/verifier.c v6.12 `check_mem_access` and what it dispatches to —
 * the stack (`check_stack_access_within_bounds`, `check_stack_{read,write}_{fixed,var}_off`,
 * spills and fills with `save_register_state`), map values (`check_map_access`,
 * `check_mem_region_access`, direct reads of frozen read-only maps), packets
 * (`check_packet_access`), helper memory (`PTR_TO_MEM`), the context (`check_ctx_access`) — and
 * `check_helper_mem_access` / `check_stack_range_initialized` for memory handed to helpers.
 *
 * The loader is privileged (CAP_BPF + CAP_PERFMON): reading uninitialised stack is allowed
 * (`allow_uninit_stack`) and pointers may be stored anywhere (`allow_ptr_leaks`), as for root.
 */

import { ctxAccess, isSkbProgType, mayWritePacket, SKB_TSTAMP_TYPE } from "./ctx-access.ts";
import { EACCES, EINVAL, type VerifierEnv } from "./env.ts";
import {
  isPointer,
  knownScalar,
  mayBeNull,
  NOT_INIT,
  pktEndReg,
  pktReg,
  type RegState,
  regTypeStr,
  type ScalarReg,
  scalarReg,
  unknownScalar,
} from "./reg.ts";
import { S32_MIN, S64_MIN, type Scalar } from "./scalar.ts";
import {
  BPF_REG_SIZE,
  byteIndex,
  EMPTY_SLOT,
  type FuncState,
  isSpecialSlot,
  isSpilledReg,
  STACK_DYNPTR,
  STACK_INVALID,
  STACK_MISC,
  STACK_SPILL,
  STACK_ZERO,
  type StackSlot,
  slotIndex,
} from "./state.ts";
import { tnumAdd, tnumConst, tnumIsAligned, tnumIsConst, tnumStr } from "./tnum.ts";

/** MAX_BPF_STACK */
export const MAX_BPF_STACK = 512;
/** BPF_MAX_VAR_OFF */
export const BPF_MAX_VAR_OFF = 1 << 29;
/** MAX_PACKET_OFF */
export const MAX_PACKET_OFF = 0xffff;

/** Where an access comes from, for messages (`enum bpf_access_src` and the access type). */
export type AccessKind = "read" | "write" | "helper";

/** Bits of a register's value (`get_reg_width`). */
function regWidth(s: Scalar): number {
  const v = s.umax;
  return v === 0n ? 0 : v.toString(2).length;
}

/** `register_is_null`: a scalar known to be zero. */
export function registerIsNull(r: RegState): boolean {
  return r.kind === "scalar" && r.s.equalsConst(0n);
}

/**
 * `assign_scalar_id_before_mov`: give an unknown scalar an id so that copies stay linked (a
 * register that already went through `+= const` loses its link first).
 */
export function assignScalarIdBeforeMov(env: VerifierEnv, regs: RegState[], regno: number): RegState {
  const r = regs[regno];
  if (r.kind !== "scalar") return r;
  let cur: ScalarReg = r.addConst ? scalarReg(r.s) : r;
  if (cur.id === 0 && !cur.s.isConst()) cur = scalarReg(cur.s, ++env.idGen);
  if (cur !== r) regs[regno] = cur;
  return cur;
}

function setSlot(frame: FuncState, spi: number, slot: StackSlot): void {
  frame.stack[spi] = slot;
}

/** `save_register_state`: spill `reg` (`size` bytes) into slot `spi`. */
function saveRegisterState(frame: FuncState, spi: number, reg: RegState, size: number): void {
  const old = frame.slot(spi);
  const types = old.types.slice();
  let i = BPF_REG_SIZE;
  for (; i > BPF_REG_SIZE - size; i--) types[i - 1] = STACK_SPILL;
  for (; i > 0; i--) {
    const t = types[i - 1];
    if (t !== STACK_ZERO && t !== STACK_INVALID) types[i - 1] = STACK_MISC;
  }
  setSlot(frame, spi, { types, spilled: reg });
}

/** `check_stack_access_within_bounds`: rejects accesses outside [-512, 0), grows the frame. */
function checkStackAccessWithinBounds(
  env: VerifierEnv,
  regno: number,
  off: number,
  size: number,
  kind: AccessKind,
): { min: number; max: number } {
  const reg = env.state.cur.regs[regno];
  if (reg.kind !== "fp") throw new Error("not a stack pointer");
  const extra = kind === "helper" ? " indirect access to" : kind === "read" ? " read from" : " write to";
  let minOff: number;
  let maxOff: number;
  const constOff = tnumIsConst(reg.var.varOff);
  if (constOff) {
    minOff = Number(BigInt.asIntN(64, reg.var.varOff.value)) + off;
    maxOff = minOff + size;
  } else {
    if (reg.var.smax >= BigInt(BPF_MAX_VAR_OFF) || reg.var.smin <= -BigInt(BPF_MAX_VAR_OFF)) {
      env.reject(EACCES, "UNBOUNDED_VAR_STACK", extra, regno);
    }
    minOff = Number(reg.var.smin) + off;
    maxOff = Number(reg.var.smax) + off + size;
  }
  let bad = minOff < -MAX_BPF_STACK || minOff > -1;
  if (!bad && maxOff > 0) bad = true;
  if (!bad && size < 0) bad = true;
  if (bad) {
    if (constOff) env.reject(EACCES, "INVALID_STACK_ACCESS", extra, regno, off, size);
    env.reject(EACCES, "INVALID_VAR_STACK_ACCESS", extra, regno, tnumStr(reg.var.varOff), off, size);
  }
  const frame = env.state.frames[reg.frameno];
  const before = frame.allocatedStack;
  frame.growStack(-minOff);
  if (frame.allocatedStack > before) {
    const sub = env.subprogs[frame.subprogno];
    if (sub.stackDepth < frame.allocatedStack) sub.stackDepth = frame.allocatedStack;
  }
  return { min: minOff, max: maxOff };
}

/**
 * `destroy_if_dynptr_stack_slot`: a write into either slot of a dynptr destroys the whole
 * dynptr and the slices taken from it — unless it holds a reference, which would leak.
 */
export function destroyIfDynptrSlot(env: VerifierEnv, frame: FuncState, spi: number): void {
  let slot = frame.slot(spi);
  if (slot.types[0] !== STACK_DYNPTR || slot.dynptr === undefined) return;
  if (!slot.dynptr.firstSlot) {
    spi++;
    slot = frame.slot(spi);
  }
  const d = slot.dynptr;
  if (d === undefined) return;
  if (d.refObjId !== 0) env.reject(EINVAL, "DYNPTR_OVERWRITE_REF");
  frame.stack[spi] = EMPTY_SLOT;
  frame.stack[spi - 1] = EMPTY_SLOT;
  frame.markWritten(spi);
  frame.markWritten(spi - 1);
  env.state.mapRegs((r) => (r.kind === "mem" && r.dynptrId === d.id ? unknownScalar() : r));
}

/** `check_stack_write_fixed_off` */
function stackWriteFixed(
  env: VerifierEnv,
  frame: FuncState,
  off: number,
  size: number,
  valueRegno: number,
  stImm: number | null,
): void {
  const spi = slotIndex(off);
  destroyIfDynptrSlot(env, frame, spi);
  if (size === BPF_REG_SIZE) frame.markWritten(spi);
  const cur = env.state.cur;
  let reg: RegState | null = valueRegno >= 0 ? cur.regs[valueRegno] : null;
  if (reg !== null && off % BPF_REG_SIZE === 0 && reg.kind === "scalar") {
    const fits = regWidth(reg.s) <= 8 * size;
    if (fits) reg = assignScalarIdBeforeMov(env, cur.regs, valueRegno);
    const r = reg as ScalarReg;
    saveRegisterState(frame, spi, fits ? r : scalarReg(r.s), size);
    return;
  }
  if (reg === null && off % BPF_REG_SIZE === 0 && stImm !== null) {
    saveRegisterState(frame, spi, knownScalar(BigInt(stImm)), size);
    return;
  }
  if (reg !== null && isPointer(reg)) {
    if (size !== BPF_REG_SIZE) env.reject(EACCES, "SPILLED_PTR_PARTIAL");
    if (frame !== cur && reg.kind === "fp") env.reject(EINVAL, "SPILL_FP_TO_CALLER");
    saveRegisterState(frame, spi, reg, size);
    return;
  }
  const old = frame.slot(spi);
  const types = old.types.slice();
  const special = isSpecialSlot(old);
  if (special) for (let i = 0; i < BPF_REG_SIZE; i++) if (types[i] !== STACK_INVALID) types[i] = STACK_MISC;
  const zero = (reg !== null && registerIsNull(reg)) || (reg === null && stImm === 0);
  const type = zero ? STACK_ZERO : STACK_MISC;
  for (let i = 0; i < size; i++) types[byteIndex(off + i)] = type;
  setSlot(frame, spi, { types, spilled: NOT_INIT });
}

/** `check_stack_write_var_off`: every byte the write may touch becomes STACK_MISC. */
function stackWriteVar(frame: FuncState, minOff: number, maxOff: number): void {
  for (let i = minOff; i < maxOff; i++) {
    const spi = slotIndex(i);
    const old = frame.slot(spi);
    const types = old.types.slice();
    if (isSpilledReg(old)) for (let j = 0; j < BPF_REG_SIZE; j++) if (types[j] === STACK_SPILL) types[j] = STACK_MISC;
    types[byteIndex(i)] = STACK_MISC;
    setSlot(frame, spi, { types, spilled: NOT_INIT });
  }
}

/** Marks every slot of the stack range [minOff, maxOff) read (`mark_reg_read` per slot). */
function markRangeRead(frame: FuncState, minOff: number, maxOff: number): void {
  for (let spi = slotIndex(maxOff - 1); spi <= slotIndex(minOff); spi++) frame.markRead(spi);
}

/** `mark_reg_stack_read`: the value read from plain stack bytes (zero when all are STACK_ZERO). */
function stackBytesValue(frame: FuncState, minOff: number, maxOff: number): RegState {
  markRangeRead(frame, minOff, maxOff);
  let zeros = 0;
  for (let i = minOff; i < maxOff; i++) if (frame.slot(slotIndex(i)).types[byteIndex(i)] === STACK_ZERO) zeros++;
  return zeros === maxOff - minOff ? knownScalar(0n) : unknownScalar();
}

/** `check_stack_read_fixed_off`: what a load of `size` bytes at `off` gives. */
function stackReadFixed(env: VerifierEnv, frame: FuncState, off: number, size: number): RegState {
  const spi = slotIndex(off);
  frame.markRead(spi);
  const slot = frame.slot(spi);
  const types = slot.types;
  if (isSpilledReg(slot)) {
    let spillSize = 1;
    for (let i = BPF_REG_SIZE - 1; i > 0 && types[i - 1] === STACK_SPILL; i--) spillSize++;
    const spilled = slot.spilled;
    if (size !== BPF_REG_SIZE || spillSize !== BPF_REG_SIZE) {
      if (spilled.kind !== "scalar") env.reject(EACCES, "INVALID_SIZE_OF_FILL");
      if (size <= spillSize && off % BPF_REG_SIZE === 0) {
        return regWidth(spilled.s) > size * 8 ? scalarReg(spilled.s) : spilled;
      }
      let spillCnt = 0;
      let zeroCnt = 0;
      for (let i = 0; i < size; i++) {
        const t = types[byteIndex(off + i)];
        if (t === STACK_SPILL) spillCnt++;
        else if (t === STACK_ZERO) zeroCnt++;
      }
      if (spillCnt === size && spilled.s.equalsConst(0n)) return knownScalar(0n);
      if (zeroCnt === size) return knownScalar(0n);
      return unknownScalar();
    }
    return spilled;
  }
  return stackBytesValue(frame, off, off + size);
}

/** `check_generic_ptr_alignment` for the stack (always strict). */
function checkStackAlignment(
  env: VerifierEnv,
  reg: RegState & { off: number; var: Scalar },
  off: number,
  size: number,
) {
  const regOff = tnumAdd(reg.var.varOff, tnumConst(BigInt(reg.off + off)));
  if (!tnumIsAligned(regOff, size)) {
    env.reject(EACCES, "MISALIGNED_STACK", tnumStr(reg.var.varOff), reg.off, off, size);
  }
}

/** `__check_mem_access`: [off, off+size) inside [0, memSize). */
function checkMemBounds(
  env: VerifierEnv,
  regno: number,
  off: number,
  size: number,
  memSize: number,
  zeroSizeAllowed: boolean,
): boolean {
  const sizeOk = size > 0 || (size === 0 && zeroSizeAllowed);
  if (off >= 0 && sizeOk && off + size <= memSize) return true;
  const reg = env.state.cur.regs[regno];
  switch (reg.kind) {
    case "map_key":
      env.verbose("INVALID_MAP_KEY_ACCESS", memSize, off, size);
      break;
    case "map_value":
      env.verbose("INVALID_MAP_VALUE_ACCESS", memSize, off, size);
      break;
    case "pkt":
    case "pkt_meta":
    case "pkt_end":
      env.verbose("INVALID_PKT_ACCESS", off, size, regno, reg.id, off, memSize);
      break;
    default:
      env.verbose("INVALID_MEM_REGION_ACCESS", memSize, off, size);
      break;
  }
  return false;
}

/** `check_mem_region_access`: both ends of a variable offset inside the region. */
export function checkMemRegionAccess(
  env: VerifierEnv,
  regno: number,
  off: number,
  size: number,
  memSize: number,
  zeroSizeAllowed: boolean,
): void {
  const reg = env.state.cur.regs[regno];
  if (!isPointer(reg)) return;
  const v = reg.var;
  if (v.smin < 0n && (v.smin === S64_MIN || BigInt(off) + v.smin < S32_MIN || v.smin + BigInt(off) < 0n)) {
    env.reject(EACCES, "MIN_NEGATIVE", regno);
  }
  if (!checkMemBounds(env, regno, Number(v.smin) + off, size, memSize, zeroSizeAllowed)) {
    env.reject(EACCES, "MIN_OUTSIDE", regno);
  }
  if (v.umax >= BigInt(BPF_MAX_VAR_OFF)) env.reject(EACCES, "UNBOUNDED_MEM", regno);
  if (!checkMemBounds(env, regno, Number(v.umax) + off, size, memSize, zeroSizeAllowed)) {
    env.reject(EACCES, "MAX_OUTSIDE", regno);
  }
}

/** `check_map_access`: inside the value, and not touching its special fields. */
function checkMapAccess(env: VerifierEnv, regno: number, off: number, size: number, zeroSizeAllowed: boolean): void {
  const reg = env.state.cur.regs[regno];
  if (reg.kind !== "map_value") return;
  checkMemRegionAccess(env, regno, off, size, reg.map.valueSize, zeroSizeAllowed);
  const fields: [number, number, "SPIN_LOCK_DIRECT" | "TIMER_DIRECT"][] = [];
  if (reg.map.spinLockOff >= 0) fields.push([reg.map.spinLockOff, 4, "SPIN_LOCK_DIRECT"]);
  if (reg.map.timerOff >= 0) fields.push([reg.map.timerOff, 16, "TIMER_DIRECT"]);
  for (const [p, fsize, msg] of fields) {
    if (reg.var.smin + BigInt(off) < BigInt(p + fsize) && BigInt(p) < reg.var.umax + BigInt(off + size)) {
      env.reject(EACCES, msg);
    }
  }
}

/** `check_packet_access` */
export function checkPacketAccess(
  env: VerifierEnv,
  regno: number,
  off: number,
  size: number,
  zeroSizeAllowed: boolean,
): void {
  const reg = env.state.cur.regs[regno];
  if (reg.kind !== "pkt" && reg.kind !== "pkt_meta") return;
  if (reg.var.smin < 0n) env.reject(EACCES, "MIN_NEGATIVE", regno);
  const ok = reg.range >= 0 && checkMemBounds(env, regno, off, size, reg.range, zeroSizeAllowed);
  if (!ok) env.reject(EACCES, "PKT_OUTSIDE", regno);
}

/** `check_ptr_off_reg` for pointers that must be unmodified (ctx). */
export function checkPtrOffReg(env: VerifierEnv, regno: number): void {
  const reg = env.state.cur.regs[regno];
  if (!isPointer(reg)) return;
  if (reg.off < 0) env.reject(EACCES, "NEG_CTX_OFF", regTypeStr(reg), regno, reg.off);
  if (reg.off !== 0) env.reject(EACCES, "MODIFIED_CTX", regTypeStr(reg), regno, reg.off);
  if (!reg.var.equalsConst(0n)) env.reject(EACCES, "VAR_PTR_ACCESS", regTypeStr(reg), tnumStr(reg.var.varOff));
}

/** A frozen read-only map's bytes (`bpf_map_direct_read`), or null. */
function directRead(env: VerifierEnv, mapIndex: number, off: number, size: number, sx: boolean): bigint | null {
  const data = env.mapData(mapIndex);
  if (data === null || off < 0 || off + size > data.length) return null;
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[off + i]);
  return sx ? BigInt.asUintN(64, BigInt.asIntN(size * 8, v)) : v;
}

/** What a store writes: a register, an immediate (BPF_ST) or, for atomics, nothing tracked. */
export interface StoreSource {
  readonly regno: number;
  readonly imm: number | null;
}

/**
 * `check_mem_access`: a load (`write` false: the value goes to `valueRegno`, -1 to discard) or a
 * store (`src` says what is stored) of `size` bytes at `regno + off`.
 */
export function checkMemAccess(
  env: VerifierEnv,
  regno: number,
  off: number,
  size: number,
  write: boolean,
  valueRegno: number,
  isLdsx: boolean,
  src: StoreSource | null,
): void {
  const st = env.state;
  const regs = st.cur.regs;
  const reg = regs[regno];
  let value: RegState | null = null;
  if (reg.kind === "fp") checkStackAlignment(env, reg, off, size);
  switch (reg.kind) {
    case "map_key": {
      const o = off + reg.off;
      if (write) env.reject(EACCES, "KEY_WRITE", regno);
      checkMemRegionAccess(env, regno, o, size, reg.map.keySize, false);
      if (valueRegno >= 0) value = unknownScalar();
      break;
    }
    case "map_value": {
      if (reg.maybeNull) env.reject(EACCES, "INVALID_MEM_ACCESS", regno, regTypeStr(reg));
      const o = off + reg.off;
      if (write && reg.map.rdonlyProg) env.reject(EACCES, "MAP_READ_ONLY", reg.map.valueSize, o, size);
      checkMapAccess(env, regno, o, size, false);
      if (!write && valueRegno >= 0) {
        const c =
          reg.var.isConst() && reg.map.rdonlyProg
            ? directRead(env, reg.map.index, o + Number(reg.var.varOff.value), size, isLdsx)
            : null;
        value = c !== null ? knownScalar(c) : unknownScalar();
      }
      break;
    }
    case "mem": {
      if (reg.maybeNull) env.reject(EACCES, "INVALID_MEM_ACCESS", regno, regTypeStr(reg));
      if (write && reg.rdonly) env.reject(EACCES, "RDONLY_MEM_WRITE", regno, regTypeStr(reg));
      checkMemRegionAccess(env, regno, off + reg.off, size, reg.memSize, false);
      if (valueRegno >= 0 && !write) value = unknownScalar();
      break;
    }
    case "ctx": {
      checkPtrOffReg(env, regno);
      const o = off + reg.off;
      const load = ctxAccess(env.cfg.progType, o, size, write);
      if (load === null) env.reject(EACCES, "INVALID_CTX_ACCESS", o, size);
      env.aux.ptrType[env.insnIdx] = 1;
      if (o === SKB_TSTAMP_TYPE && isSkbProgType(env.cfg.progType)) env.tstampTypeAccess = true;
      if (!write && valueRegno >= 0) {
        if (load === "scalar") value = unknownScalar();
        else if (load === "sock_common_or_null") value = unknownScalar();
        else if (load === "pkt_end") value = pktEndReg();
        else value = pktReg(load);
      }
      break;
    }
    case "fp": {
      const o = off + reg.off;
      const { min, max } = checkStackAccessWithinBounds(env, regno, o, size, write ? "write" : "read");
      const frame = st.frames[reg.frameno];
      if (write) {
        if (reg.var.isConst()) stackWriteFixed(env, frame, min, size, src?.regno ?? -1, src?.imm ?? null);
        else stackWriteVar(frame, min, max);
      } else if (valueRegno >= 0 || reg.var.isConst()) {
        const v = reg.var.isConst() ? stackReadFixed(env, frame, min, size) : stackBytesValue(frame, min, max);
        if (valueRegno >= 0) value = v;
      }
      break;
    }
    case "pkt":
    case "pkt_meta": {
      if (write && !mayWritePacket(env.cfg.progType)) env.reject(EACCES, "PKT_WRITE_DENIED");
      if (write) env.seenDirectWrite = true;
      checkPacketAccess(env, regno, off + reg.off, size, false);
      if (!write && valueRegno >= 0) value = unknownScalar();
      break;
    }
    case "btf_id": {
      if (reg.maybeNull) env.reject(EACCES, "INVALID_MEM_ACCESS", regno, regTypeStr(reg));
      // untrusted kernel pointers are read with fault handling (PTR_TO_BTF_ID | PTR_UNTRUSTED)
      if (reg.untrusted && !write) env.aux.ptrType[env.insnIdx] = 2;
      if (reg.size > 0) checkMemRegionAccess(env, regno, off + reg.off, size, reg.size, false);
      if (!write && valueRegno >= 0) value = unknownScalar();
      break;
    }
    case "map_ptr":
      if (write) env.reject(EACCES, "INVALID_MEM_ACCESS", regno, regTypeStr(reg));
      if (valueRegno >= 0) value = unknownScalar();
      break;
    case "not_init":
    case "scalar":
    case "pkt_end":
    case "func":
      env.reject(EACCES, "INVALID_MEM_ACCESS", regno, regTypeStr(reg));
  }
  if (value !== null && valueRegno >= 0) {
    if (value.kind === "scalar" && size < BPF_REG_SIZE) {
      const s = value.s.clone();
      if (isLdsx) s.coerceToSizeSx(size);
      else s.coerceToSize(size);
      value = regWidth(value.s) <= size * 8 ? { ...value, s } : scalarReg(s);
    }
    regs[valueRegno] = value;
  }
}

/**
 * `check_helper_mem_access` with `check_stack_range_initialized`: `accessSize` bytes at the
 * pointer in `regno`, read or written by a helper (`write`); a NULL pointer is fine for an
 * empty access when `zeroSizeAllowed`.
 */
export function checkHelperMemAccess(
  env: VerifierEnv,
  regno: number,
  accessSize: number,
  write: boolean,
  zeroSizeAllowed: boolean,
): void {
  const regs = env.state.cur.regs;
  const reg = regs[regno];
  switch (reg.kind) {
    case "pkt":
    case "pkt_meta":
      checkPacketAccess(env, regno, reg.off, accessSize, zeroSizeAllowed);
      return;
    case "map_key":
      if (write) env.reject(EACCES, "RDONLY_MEM_WRITE", regno, regTypeStr(reg));
      checkMemRegionAccess(env, regno, reg.off, accessSize, reg.map.keySize, false);
      return;
    case "map_value":
      if (write && reg.map.rdonlyProg) env.reject(EACCES, "MAP_READ_ONLY", reg.map.valueSize, reg.off, accessSize);
      checkMapAccess(env, regno, reg.off, accessSize, zeroSizeAllowed);
      return;
    case "mem":
      if (reg.rdonly && write) env.reject(EACCES, "RDONLY_MEM_WRITE", regno, regTypeStr(reg));
      checkMemRegionAccess(env, regno, reg.off, accessSize, reg.memSize, zeroSizeAllowed);
      return;
    case "btf_id":
      if (reg.size > 0) checkMemRegionAccess(env, regno, reg.off, accessSize, reg.size, zeroSizeAllowed);
      return;
    case "fp": {
      if (accessSize === 0 && zeroSizeAllowed) return;
      const { min, max } = checkStackAccessWithinBounds(env, regno, reg.off, accessSize, "helper");
      if (!write) markRangeRead(env.state.frames[reg.frameno], min, max);
      if (write) {
        const frame = env.state.frames[reg.frameno];
        // the helper may write anything: spilled registers in range become unknown data
        for (let i = min; i < max; i++) {
          const spi = slotIndex(i);
          const old = frame.slot(spi);
          const types = old.types.slice();
          if (isSpilledReg(old))
            for (let j = 0; j < BPF_REG_SIZE; j++) if (types[j] !== STACK_INVALID) types[j] = STACK_MISC;
          types[byteIndex(i)] = STACK_MISC;
          setSlot(env.state.frames[reg.frameno], spi, { types, spilled: NOT_INIT });
        }
      }
      return;
    }
    default:
      if (zeroSizeAllowed && accessSize === 0 && registerIsNull(reg)) return;
      if (mayBeNull(reg) && accessSize === 0 && zeroSizeAllowed) return;
      env.reject(EACCES, "ARG_TYPE", regno, regTypeStr(reg), "fp");
  }
}
