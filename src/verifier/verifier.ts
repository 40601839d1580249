/**
 * `verifyProgram`: a program checked the way Linux 6.12's verifier checks it for a privileged
 * loader (CAP_BPF, CAP_PERFMON; JIT on), in the kernel's order — kernel/bpf/verifier.c
 * `bpf_check`:
 *
 *   add_subprog_and_kfunc → check_subprogs → check_btf_func → (resolve_pseudo_ldimm64: the
 *   ISA layer's structural validation) → check_cfg → do_check_main → do_check_subprogs →
 *   check_max_stack_depth → opt_hard_wire_dead_code_branches → opt_remove_dead_code →
 *   opt_remove_nops → do_misc_fixups (the hidden exception callback)
 *
 * On success it returns the instruction stream as the kernel leaves it after those passes, the
 * function table with the callback and exception flags the JIT needs, and the stack depths; on
 * failure a VerifierError with the kernel's message as the last line of the log.
 */
import type { Btf } from "../btf/btf.ts";
import type { BtfType } from "../btf/types.ts";
import { DecodeError, VerifierError } from "../errors.ts";
import { type DecodedProgram, validateProgram } from "../isa/insn.ts";
import type { MapSpec, ProgramSpec } from "../object/spec.ts";
import { BPF_F_RDONLY_PROG, BPF_F_SLEEPABLE } from "../object/uapi.ts";
import { checkCfg } from "./cfg.ts";
import { doCheckMain, doCheckSubprogs } from "./check.ts";
import { EINVAL, type EnvConfig, VerifierEnv } from "./env.ts";
import { runFixups } from "./fixups.ts";
import type { KernelVersion } from "./messages.ts";
import type { KernelObjectRef, KernelSymbols } from "./misc-fixups.ts";
import type { VerifierMap } from "./reg.ts";
import { checkMaxStackDepth, roundUpStackDepth } from "./stack-depth.ts";
import { addSubprogAndKfunc, checkBtfFunc, checkSubprogs } from "./subprogs.ts";

/** Options of {@link verifyProgram}. */
export interface VerifyOptions {
  /** The object's BTF: func_info types, linkage, decl tags, map value layouts, bpf_obj_new types. */
  readonly btf?: Btf;
  /** The object's maps (ObjectSpec.maps), which BPF_PSEUDO_MAP_IDX loads index. */
  readonly maps?: readonly MapSpec[];
  /** BPF_PROG_TYPE_*; default the spec's. */
  readonly progType?: number;
  /** Expected attach type; default the spec's. */
  readonly expectedAttachType?: number;
  /** Message wording of this kernel (default "6.12"). */
  readonly kernel?: KernelVersion;
  /**
   * Whether a program type may call a helper (the kernel's `get_func_proto`); the runtime's
   * table is `funcProto(progType, id) !== undefined`. Default: every helper the model knows.
   */
  readonly helperAvailable?: (progType: number, id: number) => boolean;
  /** `bpf_jit_supports_exceptions()` (x86-64 and arm64 since 6.9: true). */
  readonly jitSupportsExceptions?: boolean;
  /**
   * The kernel's symbol table (e.g. from /proc/kallsyms of the target kernel): with it, helper
   * and kfunc calls get the kernel's immediates (`function - __bpf_call_base`); without it they
   * keep the helper id / kfunc BTF id. The structural rewrites happen either way.
   */
  readonly kernelSymbols?: KernelSymbols;
}

/** A function of the verified program. */
export interface VerifiedSubprog {
  readonly start: number;
  readonly name: string;
  readonly linkage: "static" | "global" | "extern";
  /** Deepest stack use (bytes, a multiple of 8), and rounded as the JIT allocates it. */
  readonly stackDepth: number;
  readonly stackDepthRounded: number;
  readonly isCb: boolean;
  readonly isAsyncCb: boolean;
  readonly isExceptionCb: boolean;
  readonly tailCallReachable: boolean;
  /** The hidden default exception callback (not in func_info, not listed by bpf_prog_info). */
  readonly hidden: boolean;
}

/** What the kernel keeps of a verified program, as far as the model goes. */
export interface VerifiedProgram {
  /** Instructions after dead-code removal, with the hidden exception callback appended. */
  readonly insns: DecodedProgram;
  /**
   * For each slot of `insns`, the slot of the submitted program it came from: an instruction
   * the kernel expanded into several gives its index to all of them; -1 for added code (the
   * hidden exception callback, the tc un-clone prologue).
   */
  readonly origIndex: Int32Array;
  /**
   * The ld_imm64 slots whose value is the address of a kernel object (a map, a map value, a
   * kernel variable): the kernel puts the address there; the model leaves 0.
   */
  readonly kernelObjects: readonly KernelObjectRef[];
  /** Call targets that `kernelSymbols` did not know (their imm is left as submitted). */
  readonly unresolvedCalls: readonly string[];
  readonly subprogs: readonly VerifiedSubprog[];
  /** Index in `subprogs` of the exception callback (custom or hidden), 0 when none. */
  readonly exceptionCallbackSubprog: number;
  /** A reachable `bpf_throw` exists (`seen_exception`). */
  readonly seenException: boolean;
  /** The main function must save all callee-saved registers (`exception_boundary`). */
  readonly exceptionBoundary: boolean;
  /** Instructions processed, the kernel's `insn_processed` / bpftool's verified_insns. */
  readonly insnProcessed: number;
  /** States saved at prune points. */
  readonly totalStates: number;
  /** The verifier log. */
  readonly log: readonly string[];
}

/** The result of {@link verifyProgram}. */
export type VerifyResult =
  | { readonly ok: true; readonly prog: VerifiedProgram }
  | { readonly ok: false; readonly error: VerifierError };

/** Offsets of `struct <name>` fields in a value type, searched through nested structs. */
function findFieldOffset(btf: Btf, typeId: number, name: string, base = 0, depth = 0): number {
  if (depth > 8 || typeId === 0) return -1;
  const t: BtfType = btf.resolve(typeId);
  if (t.kind === "struct" && t.name === name) return base;
  if (t.kind === "datasec") {
    for (const v of t.vars) {
      const off = findFieldOffset(btf, v.type, name, base + v.offset, depth + 1);
      if (off >= 0) return off;
    }
    return -1;
  }
  if (t.kind === "var") return findFieldOffset(btf, t.type, name, base, depth + 1);
  if (t.kind !== "struct" && t.kind !== "union") return -1;
  for (const m of t.members) {
    const off = findFieldOffset(btf, m.type, name, base + Math.floor(m.bitOffset / 8), depth + 1);
    if (off >= 0) return off;
  }
  return -1;
}

/** The verifier's view of one map (`index` -1 for an inner-map template). */
function verifierMap(m: MapSpec, index: number, btf: Btf | undefined): VerifierMap {
  const valueType = m.btfValueTypeId;
  const field = (name: string): number =>
    btf !== undefined && valueType !== 0 ? findFieldOffset(btf, valueType, name) : -1;
  return {
    index,
    name: m.name,
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    spinLockOff: field("bpf_spin_lock"),
    timerOff: field("bpf_timer"),
    rdonlyProg: (m.flags & BPF_F_RDONLY_PROG) !== 0,
    inner: m.innerMap !== null ? verifierMap(m.innerMap, -1, btf) : null,
  };
}

/** The verifier's view of the object's maps. */
function verifierMaps(maps: readonly MapSpec[], btf: Btf | undefined): VerifierMap[] {
  return maps.map((m, index) => verifierMap(m, index, btf));
}

/** Contents of the frozen read-only data maps (libbpf freezes `.rodata*` after filling them). */
function rodataContents(maps: readonly MapSpec[]): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  maps.forEach((m, i) => {
    if ((m.flags & BPF_F_RDONLY_PROG) === 0 || !m.section.startsWith(".rodata")) return;
    const bytes = new Uint8Array(m.valueSize);
    for (const c of m.contents) if (c.kind === "bytes") bytes.set(c.value.subarray(0, m.valueSize));
    out.set(i, bytes);
  });
  return out;
}

/** The license strings the kernel treats as GPL-compatible (`license_is_gpl_compatible`). */
function gplCompatible(license: string): boolean {
  return ["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"].includes(
    license,
  );
}

/** Builds the environment's configuration from a program spec and options. */
function envConfig(spec: ProgramSpec, opts: VerifyOptions): EnvConfig {
  const btf = opts.btf;
  const haveFuncInfo = btf !== undefined && spec.functions.length > 0 && spec.functions.every((f) => f.btfTypeId !== 0);
  const funcInfo = haveFuncInfo
    ? spec.functions.map((f) => ({ insnOff: f.start, typeId: f.btfTypeId })).sort((a, b) => a.insnOff - b.insnOff)
    : [];
  const maps = opts.maps ?? [];
  return {
    prog: spec.insns,
    progType: opts.progType ?? spec.type,
    expectedAttachType: opts.expectedAttachType ?? spec.expectedAttachType,
    kernel: opts.kernel ?? "6.12",
    btf,
    funcInfo,
    kfuncs: spec.kfuncs,
    maps: verifierMaps(maps, btf),
    rodata: rodataContents(maps),
    gplCompatible: gplCompatible(spec.license),
    sleepable: (spec.flags & BPF_F_SLEEPABLE) !== 0,
    jitSupportsExceptions: opts.jitSupportsExceptions ?? true,
    helperAvailable: opts.helperAvailable ?? (() => true),
    functionNames: new Map(spec.functions.map((f) => [f.start, f.name])),
  };
}

/** Verifies `spec` as Linux 6.12 would (see the module comment). */
export function verifyProgram(spec: ProgramSpec, opts: VerifyOptions = {}): VerifyResult {
  const env = new VerifierEnv(envConfig(spec, opts));
  try {
    if (env.prog.length === 0) env.reject(EINVAL, "INVALID_INSN_IDX", 0, 0);
    addSubprogAndKfunc(env);
    checkSubprogs(env);
    checkBtfFunc(env);
    try {
      validateProgram(env.prog, { callx: false });
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      env.insnIdx = e.pc;
      env.markBlock();
      env.verboseRaw(e.message.replace(/^insn \d+: /, ""));
      env.fail(EINVAL);
    }
    checkCfg(env);
    doCheckMain(env);
    doCheckSubprogs(env);
    env.insnIdx = -1;
    env.markBlock();
    checkMaxStackDepth(env);
  } catch (e) {
    if (e instanceof VerifierError) return { ok: false, error: e };
    throw e;
  }
  const seenException = env.seenException;
  let fixed: ReturnType<typeof runFixups>;
  try {
    fixed = runFixups(env, opts.kernelSymbols);
  } catch (e) {
    // the rewrites can still refuse the program, as the kernel's jit_subprogs does (EFAULT)
    if (e instanceof VerifierError) return { ok: false, error: e };
    throw e;
  }
  const subprogs: VerifiedSubprog[] = env.subprogs.map((s) => ({
    start: s.start,
    name: s.name,
    linkage: s.linkage,
    stackDepth: s.stackDepth,
    stackDepthRounded: roundUpStackDepth(s.stackDepth),
    isCb: s.isCb,
    isAsyncCb: s.isAsyncCb,
    isExceptionCb: s.isExceptionCb,
    tailCallReachable: s.tailCallReachable,
    hidden: s.hidden,
  }));
  return {
    ok: true,
    prog: {
      insns: fixed.insns,
      origIndex: fixed.origIndex,
      kernelObjects: fixed.kernelObjects,
      unresolvedCalls: fixed.unresolvedCalls,
      subprogs,
      exceptionCallbackSubprog: env.exceptionCallbackSubprog,
      seenException,
      exceptionBoundary: seenException,
      insnProcessed: env.insnProcessed,
      totalStates: env.totalStates,
      log: env.log.slice(),
    },
  };
}
