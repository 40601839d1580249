/**
 * Finding the program's functions, before any path is explored: kernel/bpf/verifier.c v6.12
 * `add_subprog_and_kfunc` (every bpf-to-bpf call target and `ld_imm64 BPF_PSEUDO_FUNC` target
 * starts a subprogram; kfunc calls are registered), `bpf_find_exception_callback_insn_off` (the
 * `exception_callback:` decl tag of the main function, spec §6.1), `mark_subprog_exc_cb`,
 * `check_subprogs` (jumps stay inside their function, each function ends in exit or jump) and
 * the func_info half of `check_btf_func` (each function's BTF and linkage).
 */
import { BPF_FUNC_tail_call } from "../isa/helper-ids.ts";
import {
  BPF_ABS,
  BPF_CALL,
  BPF_CALL_OP,
  BPF_EXIT,
  BPF_EXIT_OP,
  BPF_IND,
  BPF_JA,
  BPF_JA_OP,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LD_IMM64,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
} from "../isa/opcodes.ts";
import { E2BIG, EEXIST, EINVAL, ENOENT, type SubprogInfo, type VerifierEnv } from "./env.ts";

/** BPF_MAX_SUBPROGS */
export const BPF_MAX_SUBPROGS = 256;

const EXCEPTION_CALLBACK_TAG = "exception_callback:";

/** `bpf_pseudo_call` */
export function isPseudoCall(env: VerifierEnv, i: number): boolean {
  return env.prog.code[i] === BPF_CALL_OP && env.prog.src[i] === BPF_PSEUDO_CALL;
}

/** `bpf_pseudo_func`: `ld_imm64` of a subprogram's address. */
export function isPseudoFunc(env: VerifierEnv, i: number): boolean {
  return env.prog.code[i] === BPF_LD_IMM64 && env.prog.src[i] === BPF_PSEUDO_FUNC;
}

/** `bpf_pseudo_kfunc_call` */
export function isKfuncCall(env: VerifierEnv, i: number): boolean {
  return env.prog.code[i] === BPF_CALL_OP && env.prog.src[i] === BPF_PSEUDO_KFUNC_CALL;
}

/** `is_bpf_throw_kfunc`: a kfunc call (off 0) of bpf_throw. */
export function isThrowCall(env: VerifierEnv, i: number): boolean {
  return isKfuncCall(env, i) && env.prog.off[i] === 0 && env.cfg.kfuncs.get(env.prog.imm[i]) === "bpf_throw";
}

function newSubprog(env: VerifierEnv, start: number): SubprogInfo {
  return {
    start,
    name: env.cfg.functionNames.get(start) ?? "",
    btfTypeId: 0,
    linkage: "static",
    isCb: false,
    isAsyncCb: false,
    isExceptionCb: false,
    hasTailCall: false,
    tailCallReachable: false,
    hasLdAbs: false,
    stackDepth: 0,
    called: false,
    verified: false,
    args: null,
    hidden: false,
  };
}

/** `add_subprog`: the index of the subprogram starting at `off`, created when new. */
export function addSubprog(env: VerifierEnv, off: number): number {
  if (off >= env.prog.length || off < 0) env.reject(EINVAL, "CALL_TO_INVALID_DESTINATION");
  const found = env.findSubprog(off);
  if (found >= 0) return found;
  if (env.subprogs.length >= BPF_MAX_SUBPROGS) env.reject(E2BIG, "TOO_MANY_SUBPROGRAMS");
  env.subprogs.push(newSubprog(env, off));
  env.subprogs.sort((a, b) => a.start - b.start);
  return env.findSubprog(off);
}

/** `mark_subprog_exc_cb`: the exception callback is a callback, an async one, and itself. */
export function markSubprogExcCb(env: VerifierEnv, i: number): void {
  const s = env.subprogs[i];
  s.isExceptionCb = true;
  s.isCb = true;
  s.isAsyncCb = true;
}

/**
 * `btf_find_decl_tag_value(btf, main, -1, "exception_callback:")`: the callback's name,
 * ENOENT without such a tag, EEXIST with two.
 */
function findExceptionCallbackTag(env: VerifierEnv, mainTypeId: number): string | number {
  const btf = env.cfg.btf;
  if (btf === undefined) return -ENOENT;
  const tags = btf
    .declTagsOf(mainTypeId)
    .filter((t) => t.componentIdx === -1 && t.value.startsWith(EXCEPTION_CALLBACK_TAG));
  if (tags.length === 0) return -ENOENT;
  if (tags.length > 1) return -EEXIST;
  return tags[0].value.slice(EXCEPTION_CALLBACK_TAG.length);
}

/**
 * `bpf_find_exception_callback_insn_off`: the first instruction of the custom exception
 * callback named by the main function's decl tag, or 0 when there is none.
 */
export function findExceptionCallbackInsnOff(env: VerifierEnv): number {
  const fi = env.cfg.funcInfo;
  const btf = env.cfg.btf;
  if (fi.length === 0 || btf === undefined) return 0;
  const mainId = fi[0].typeId;
  const mainType = mainId < btf.typeCount ? btf.type(mainId) : undefined;
  if (mainType === undefined) env.reject(EINVAL, "EXC_CB_MAIN_BTF_ID");
  const name = findExceptionCallbackTag(env, mainId);
  if (typeof name === "number") {
    if (name === -ENOENT) return 0;
    env.reject(EEXIST, "EXC_CB_MULTIPLE_TAGS");
  }
  const t = btf.findByName(name, "func");
  if (t === undefined) env.reject(ENOENT, "EXC_CB_NOT_IN_BTF", name);
  if (t.kind !== "func" || t.linkage !== "global") env.reject(EINVAL, "EXC_CB_NOT_GLOBAL", name);
  let off = 0;
  for (const rec of fi) {
    if (rec.typeId !== t.id) continue;
    off = rec.insnOff;
    if (off === 0) env.reject(EINVAL, "EXC_CB_INSN_OFF_ZERO");
  }
  if (off === 0) env.reject(EINVAL, "EXC_CB_NOT_IN_FUNC_INFO");
  return off;
}

/**
 * `add_subprog_and_kfunc`: subprogram 0 at instruction 0, one per call or function-pointer
 * target, the exception callback; kfunc calls need BTF, a JIT and a GPL-compatible license.
 */
export function addSubprogAndKfunc(env: VerifierEnv): void {
  addSubprog(env, 0);
  let kfuncTab = false;
  const p = env.prog;
  for (let i = 0; i < p.length; i++) {
    const func = isPseudoFunc(env, i);
    const call = isPseudoCall(env, i);
    const kfunc = isKfuncCall(env, i);
    if (!func && !call && !kfunc) continue;
    if (func || call) {
      addSubprog(env, i + p.imm[i] + 1);
      continue;
    }
    env.insnIdx = i;
    // the modelled kernel has BTF and a JIT that calls kfuncs (CONFIG_DEBUG_INFO_BTF, x86-64/arm64)
    if (!kfuncTab) {
      if (!env.cfg.gplCompatible) env.reject(EINVAL, "KFUNC_NOT_GPL");
      kfuncTab = true;
    }
    if (p.imm[i] === 0 && p.off[i] === 0) continue;
    if (!env.cfg.kfuncs.has(p.imm[i])) env.reject(EINVAL, "KFUNC_NOT_FUNCTION", p.imm[i] >>> 0);
  }
  env.insnIdx = 0;
  const exCbInsn = findExceptionCallbackInsnOff(env);
  if (exCbInsn !== 0) {
    addSubprog(env, exCbInsn);
    for (let i = 1; i < env.subprogs.length; i++) {
      if (env.subprogs[i].start !== exCbInsn) continue;
      env.exceptionCallbackSubprog = i;
      markSubprogExcCb(env, i);
      break;
    }
  }
}

/**
 * `check_subprogs`: every jump lands inside its own function, and the last instruction of each
 * function is an exit or an unconditional jump (so no function falls into the next). Marks
 * functions that tail-call or use LD_ABS/LD_IND.
 */
export function checkSubprogs(env: VerifierEnv): void {
  const p = env.prog;
  let cur = 0;
  let start = env.subprogs[0].start;
  let end = env.subprogEnd(0);
  for (let i = 0; i < p.length; i++) {
    const code = p.code[i];
    const cls = code & 0x07;
    if (code === BPF_CALL_OP && p.src[i] === 0 && p.imm[i] === BPF_FUNC_tail_call) {
      env.subprogs[cur].hasTailCall = true;
      env.subprogs[cur].tailCallReachable = true;
    }
    if (cls === BPF_LD && ((code & 0xe0) === BPF_ABS || (code & 0xe0) === BPF_IND)) env.subprogs[cur].hasLdAbs = true;
    const op = code & 0xf0;
    if ((cls === BPF_JMP || cls === BPF_JMP32) && op !== BPF_EXIT && op !== BPF_CALL) {
      const off = code === (BPF_JMP32 | BPF_JA) ? i + p.imm[i] + 1 : i + p.off[i] + 1;
      if (off < start || off >= end) {
        env.insnIdx = i;
        env.reject(EINVAL, "JUMP_OUT_OF_RANGE", i, off);
      }
    }
    if (i === end - 1) {
      if (code !== BPF_EXIT_OP && code !== (BPF_JMP32 | BPF_JA) && code !== BPF_JA_OP) {
        env.insnIdx = i;
        env.reject(EINVAL, "LAST_INSN_NOT_EXIT");
      }
      start = end;
      cur++;
      if (cur < env.subprogs.length) end = env.subprogEnd(cur);
    }
  }
}

/**
 * The func_info part of `check_btf_func`: one record per subprogram, at its first instruction;
 * each subprogram gets its BTF FUNC id, name and linkage from it.
 */
export function checkBtfFunc(env: VerifierEnv): void {
  const fi = env.cfg.funcInfo;
  const btf = env.cfg.btf;
  if (fi.length === 0 || btf === undefined) return;
  env.insnIdx = -1;
  // check_btf_func_early: every record must name a FUNC of the object's BTF. Without this
  // check a type id out of range made btf.type() throw a BtfError out of verifyProgram, and a
  // non-FUNC type reached the argument checks of global functions.
  for (const r of fi) {
    const t = Number.isInteger(r.typeId) && r.typeId > 0 && r.typeId < btf.typeCount ? btf.type(r.typeId) : undefined;
    if (t?.kind !== "func") env.reject(EINVAL, "FUNC_INFO_BAD_TYPE", r.typeId);
  }
  if (fi.length !== env.subprogs.length) env.reject(EINVAL, "FUNC_INFO_COUNT");
  for (let i = 0; i < fi.length; i++) {
    if (env.subprogs[i].start !== fi[i].insnOff) env.reject(EINVAL, "FUNC_INFO_LAYOUT");
    const t = btf.type(fi[i].typeId);
    const s = env.subprogs[i];
    s.btfTypeId = fi[i].typeId;
    if (t.kind === "func") {
      s.linkage = t.linkage;
      s.name = t.name;
    }
  }
}
