/**
 * The rewrites that follow a successful verification, as far as the model goes: kernel/bpf/
 * verifier.c v6.12 `opt_hard_wire_dead_code_branches` (a conditional jump with one edge never
 * followed becomes `ja`), `opt_remove_dead_code` (instructions no path visited are deleted, with
 * `bpf_remove_insns`/`bpf_adj_branches` from kernel/bpf/core.c fixing jumps and calls across the
 * hole and `adjust_subprog_starts_after_remove` the function table), `opt_remove_nops` (`ja 0`
 * and `may_goto 0` go), and from `do_misc_fixups` the hidden default exception callback
 * `r0 = r1; exit` appended by `add_hidden_subprog` when a `bpf_throw` was seen and the program
 * has no callback of its own. Context-access conversion and helper inlining are not modelled.
 */
import { allocProgram, type DecodedProgram } from "../isa/insn.ts";
import {
  BPF_ALU64,
  BPF_CALL,
  BPF_EXIT,
  BPF_EXIT_OP,
  BPF_JA,
  BPF_JA_OP,
  BPF_JMP,
  BPF_JMP32,
  BPF_MAY_GOTO_OP,
  BPF_MOV,
  BPF_X,
} from "../isa/opcodes.ts";
import { convertCtxAccesses } from "./ctx-convert.ts";
import type { SubprogInfo, VerifierEnv } from "./env.ts";
import {
  doMiscFixups,
  finishCallsAndMaps,
  type KernelObjectRef,
  type KernelSymbols,
  optimizeBpfLoop,
} from "./misc-fixups.ts";
import { type Insns, removeInsns } from "./patch.ts";
import { markSubprogExcCb } from "./subprogs.ts";
import { zextCmpxchg } from "./zext.ts";

function copyInsns(p: DecodedProgram, seen: Uint8Array): Insns {
  const n = p.length;
  const r: Insns = { code: [], dst: [], src: [], off: [], imm: [], orig: [], seen: [] };
  for (let i = 0; i < n; i++) {
    r.code.push(p.code[i]);
    r.dst.push(p.dst[i]);
    r.src.push(p.src[i]);
    r.off.push(p.off[i]);
    r.imm.push(p.imm[i]);
    r.orig.push(i);
    r.seen.push(seen[i]);
  }
  return r;
}

/** `insn_is_cond_jump` */
function isCondJump(code: number): boolean {
  const op = code & 0xf0;
  const cls = code & 0x07;
  if (cls === BPF_JMP32) return op !== BPF_JA;
  if (cls !== BPF_JMP) return false;
  return op !== BPF_JA && op !== BPF_EXIT && op !== BPF_CALL;
}

/** `opt_hard_wire_dead_code_branches` */
function hardWireDeadCodeBranches(ins: Insns): void {
  for (let i = 0; i < ins.code.length; i++) {
    if (!isCondJump(ins.code[i])) continue;
    let off: number;
    if (!ins.seen[i + 1]) off = ins.off[i];
    else if (!ins.seen[i + 1 + ins.off[i]]) off = 0;
    else continue;
    ins.code[i] = BPF_JA_OP;
    ins.dst[i] = 0;
    ins.src[i] = 0;
    ins.off[i] = off;
    ins.imm[i] = 0;
  }
}

/** `opt_remove_dead_code` */
function removeDeadCode(ins: Insns, subprogs: SubprogInfo[]): void {
  for (let i = 0; i < ins.code.length; i++) {
    let j = 0;
    while (i + j < ins.code.length && !ins.seen[i + j]) j++;
    if (j === 0) continue;
    removeInsns(ins, subprogs, i, j);
  }
}

/** `opt_remove_nops` */
function removeNops(ins: Insns, subprogs: SubprogInfo[]): void {
  for (let i = 0; i < ins.code.length; i++) {
    const isJa0 =
      ins.code[i] === BPF_JA_OP && ins.dst[i] === 0 && ins.src[i] === 0 && ins.off[i] === 0 && ins.imm[i] === 0;
    const isMayGoto0 =
      ins.code[i] === BPF_MAY_GOTO_OP && ins.dst[i] === 0 && ins.src[i] === 0 && ins.off[i] === 0 && ins.imm[i] === 0;
    if (!isJa0 && !isMayGoto0) continue;
    removeInsns(ins, subprogs, i, 1);
    i -= isMayGoto0 && i > 0 ? 2 : 1;
  }
}

/** The result of the post-verification passes. */
export interface FixupResult {
  readonly insns: DecodedProgram;
  /** For each final slot, the original slot it came from (-1 for the hidden callback). */
  readonly origIndex: Int32Array;
  /** ld_imm64 slots that carry kernel object addresses the model leaves 0. */
  readonly kernelObjects: readonly KernelObjectRef[];
  /** Call targets missing from the symbol table. */
  readonly unresolvedCalls: readonly string[];
}

/**
 * Runs the passes above on `env.prog` (privileged load) and appends the hidden exception
 * callback when needed; updates `env.subprogs` and `env.exceptionCallbackSubprog` to match.
 */
export function runFixups(env: VerifierEnv, syms: KernelSymbols | undefined): FixupResult {
  const ins = copyInsns(env.prog, env.aux.seen);
  const excCb = env.exceptionCallbackSubprog !== 0 ? env.subprogs[env.exceptionCallbackSubprog] : null;
  optimizeBpfLoop(env, ins);
  hardWireDeadCodeBranches(ins);
  removeDeadCode(ins, env.subprogs);
  removeNops(ins, env.subprogs);
  convertCtxAccesses(env, ins);
  env.exceptionCallbackSubprog = excCb !== null ? Math.max(0, env.subprogs.indexOf(excCb)) : 0;
  if (env.seenException && env.exceptionCallbackSubprog === 0) {
    const start = ins.code.length;
    const add = (code: number, dst: number, src: number): void => {
      ins.code.push(code);
      ins.dst.push(dst);
      ins.src.push(src);
      ins.off.push(0);
      ins.imm.push(0);
      ins.orig.push(-1);
      ins.seen.push(1);
    };
    add(BPF_ALU64 | BPF_MOV | BPF_X, 0, 1);
    add(BPF_EXIT_OP, 0, 0);
    env.subprogs.push({
      start,
      name: "",
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
      verified: true,
      args: null,
      hidden: true,
    });
    env.exceptionCallbackSubprog = env.subprogs.length - 1;
    markSubprogExcCb(env, env.exceptionCallbackSubprog);
  }
  const { unresolvedCalls } = doMiscFixups(env, ins, syms);
  zextCmpxchg(ins, env.subprogs);
  const kernelObjects = finishCallsAndMaps(env, ins);
  const out = allocProgram(ins.code.length);
  for (let i = 0; i < ins.code.length; i++) {
    out.code[i] = ins.code[i];
    out.dst[i] = ins.dst[i];
    out.src[i] = ins.src[i];
    out.off[i] = ins.off[i];
    out.imm[i] = ins.imm[i];
  }
  return { insns: out, origIndex: Int32Array.from(ins.orig), kernelObjects, unresolvedCalls };
}
