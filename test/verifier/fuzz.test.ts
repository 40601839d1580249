// Robustness fuzzer for the verifier (`verifyProgram`, which the runtime calls through `verify()`
// for every program it loads).
//
// Two kinds of input, generated from (seed, case index) alone:
//
// - mutants of every program of the fixture objects (test/fixtures/{progs,exceptions,verifier,
//   jit}/*.o, opened as the runtime opens them), verified with the object's BTF and maps: random
//   code/dst/src/off/imm of random slots, swapped, duplicated and deleted slots, truncated
//   programs, helper and kfunc ids, bpf-to-bpf call offsets, ld_imm64 halves and pseudo sources,
//   jump offsets, and now and then a damaged function table;
// - random structured programs: ALU/JMP/LDX/STX/ST/ATOMIC/CALL/EXIT/LD_IMM64 with random
//   registers and offsets, of random program types, some with bpf-to-bpf calls and bpf_loop
//   callbacks, a map lookup pattern and an object's maps and BTF.
//
// Each is verified with random options (kernel wording, the modelled kernel's symbols, helper
// availability, JIT exception support). The contract under test: `verifyProgram` returns
// `{ok: true}` or `{ok: false, error: VerifierError}`, never throws, and each case finishes within
// CASE_MS — except those rejected at the kernel's complexity limits (1M processed instructions,
// 8192 pending branches), which bound the work but take 2 to 10 s here to reach, and get
// LIMIT_MS, a bound against runaway work only. When it accepts, the rewritten instructions re-validate (after
// mapping the kernel-internal forms the rewrites legitimately introduce back to their public
// equivalents, see `publicForm`), every function starts inside them, `origIndex` covers them and
// `xlatedDump` works.
//
// Reproduce a failure with FUZZ_SEED=<seed> FUZZ_ONLY=<index> (runs one case in-process and
// prints it); FUZZ_CASES changes the number of cases, FUZZ_WORKERS the number of worker threads.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isMainThread, workerData } from "node:worker_threads";
import { DecodeError, TsbpfError, VerifierError } from "../../src/errors.ts";
import { allocProgram, type DecodedProgram, validateProgram } from "../../src/isa/insn.ts";
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_IMM,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOV,
  BPF_NEG,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_ST,
  BPF_STX,
  BPF_X,
} from "../../src/isa/opcodes.ts";
import { modelledKernelSymbols } from "../../src/kernel/kallsyms.ts";
import type { FunctionSpec, MapSpec, ObjectSpec, ProgramSpec } from "../../src/object/spec.ts";
import { BPF_F_SLEEPABLE } from "../../src/object/uapi.ts";
import { helperAllowed } from "../../src/runtime/func-proto.ts";
import {
  BPF_PROBE_MEM,
  BPF_PROBE_MEMSX,
  BPF_TAIL_CALL_OP,
  type VerifyOptions,
  type VerifyResult,
  verifyProgram,
  xlatedDump,
} from "../../src/verifier/index.ts";
import {
  addCounts,
  type FuzzRun,
  fuzzSettings,
  fuzzWorkerMain,
  InvariantError,
  keepSlowest,
  reproduceHint,
  runWorkers,
  type WorkerInput,
} from "../support/fuzz-workers.ts";
import { copyProgram, SIZES } from "../support/random-programs.ts";
import { caseRng, type CaseRng as Rng } from "../support/rng.ts";
import { type CorpusEntry, corpus, INTERESTING, interesting, pickEntry, structured } from "./fuzz-programs.ts";
import { openFixture, outcome, programOf } from "./helpers.ts";

const { seed: SEED, cases: CASES, workers: WORKERS } = fuzzSettings({ seed: 0x7e21f1e5, cases: 24_000, workers: 2 });
/** Time bound of one case. */
const CASE_MS = 2_000;
/**
 * Time bound of a case rejected for its complexity (E2BIG: the kernel's limit of 1M processed
 * instructions, or of 8192 pending branches). Reaching the limit takes 2 to 10 s here, depending
 * on the instructions (bounds deduction on every conditional jump costs most), so these get a
 * bound that only catches runaway work.
 */
const LIMIT_MS = 30_000;
const E2BIG = 7;
/** A worker that makes no progress this long is reported as hung. */
const HANG_MS = 20_000;

// ------------------------------------------------------------------------------------ cases

interface FuzzCase {
  readonly kind: "mutant" | "structured";
  /** What it is (fixture program and mutations, or generator flavour). */
  readonly what: string;
  readonly spec: ProgramSpec;
  readonly opts: VerifyOptions;
}

function moveSlot(from: DecodedProgram, i: number, to: DecodedProgram, j: number): void {
  to.code[j] = from.code[i];
  to.dst[j] = from.dst[i];
  to.src[j] = from.src[i];
  to.off[j] = from.off[i];
  to.imm[j] = from.imm[i];
}

/** `p` with slot `at` removed (del) or duplicated (dup). */
function resize(p: DecodedProgram, at: number, dup: boolean): DecodedProgram {
  const q = allocProgram(p.length + (dup ? 1 : -1));
  let j = 0;
  for (let i = 0; i < p.length; i++) {
    if (i === at && !dup) continue;
    moveSlot(p, i, q, j++);
    if (i === at && dup) moveSlot(p, i, q, j++);
  }
  return q;
}

const CODES = [
  0x85, 0x95, 0x18, 0x00, 0xbf, 0xb7, 0x07, 0x05, 0x06, 0x15, 0x55, 0x61, 0x79, 0x7b, 0x63, 0x62, 0x7a, 0xdb, 0xc3,
  0xe5, 0x8d, 0xf5, 0x20, 0x30, 0x28, 0x40, 0x71, 0x91, 0x99, 0x87, 0xd4, 0xdc, 0x3f, 0x9f, 0x37, 0x97, 0x2d, 0xa5,
];

const ALU_OP_BITS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0];
const JMP_OP_BITS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];

/**
 * A mutation that keeps the program well-formed, so that it goes past the structural checks
 * into path exploration: a nearby immediate or offset, another register, another ALU or jump
 * operation of the same class and source, another access size, another helper the object calls.
 */
function gentle(r: Rng, p: DecodedProgram, at: number, e: CorpusEntry): string {
  const code = p.code[at];
  const cls = code & 7;
  if (code === (BPF_LD | BPF_IMM | BPF_DW) || (at > 0 && p.code[at - 1] === (BPF_LD | BPF_IMM | BPF_DW)))
    return "gentle: ld_imm64 left alone";
  const isCall = code === (BPF_JMP | BPF_CALL);
  const isExit = code === (BPF_JMP | BPF_EXIT);
  switch (r.int(5)) {
    case 0: {
      if (isCall) {
        if (p.src[at] !== 0) return "gentle: call left alone";
        p.imm[at] = e.prog.helpers.length > 0 && r.chance(0.7) ? r.pick(e.prog.helpers) : r.range(1, 212);
        return `gentle: helper@${at}=${p.imm[at]}`;
      }
      p.imm[at] = r.chance(0.6) ? p.imm[at] + r.range(-8, 8) : r.pick(INTERESTING);
      return `gentle: imm@${at}=${p.imm[at]}`;
    }
    case 1: {
      if (isCall || isExit) return "gentle: call left alone";
      const jump = cls === BPF_JMP || cls === BPF_JMP32;
      p.off[at] = jump ? p.off[at] + r.range(-1, 1) : r.chance(0.7) ? p.off[at] + r.pick([-8, -4, -1, 1, 4, 8]) : 0;
      return `gentle: off@${at}=${p.off[at]}`;
    }
    case 2: {
      if (isCall || isExit) return "gentle: call left alone";
      const field = r.chance(0.5) ? "dst" : "src";
      p[field][at] = r.int(11);
      return `gentle: ${field}@${at}=${p[field][at]}`;
    }
    case 3: {
      if (cls === BPF_ALU || cls === BPF_ALU64) {
        const op = code & 0xf0;
        if (op === BPF_NEG || op === BPF_END) return "gentle: alu left alone";
        p.code[at] = (code & 0x0f) | r.pick(ALU_OP_BITS);
      } else if (
        (cls === BPF_JMP || cls === BPF_JMP32) &&
        !isCall &&
        !isExit &&
        (code & 0xf0) !== 0 &&
        (code & 0xf0) < 0xe0
      ) {
        p.code[at] = (code & 0x0f) | r.pick(JMP_OP_BITS);
      } else if (cls === BPF_LDX || cls === BPF_STX || cls === BPF_ST) {
        if ((code & 0xe0) === BPF_ATOMIC) return "gentle: atomic left alone";
        p.code[at] = (code & 0xe7) | r.pick(SIZES);
      } else return "gentle: left alone";
      return `gentle: code@${at}=0x${p.code[at].toString(16)}`;
    }
    default: {
      // sign or width of an ALU operation or jump
      if (cls === BPF_ALU || cls === BPF_ALU64) p.code[at] = code ^ (BPF_ALU ^ BPF_ALU64);
      else if ((cls === BPF_JMP || cls === BPF_JMP32) && !isCall && !isExit && (code & 0xf0) !== 0)
        p.code[at] = code ^ (BPF_JMP ^ BPF_JMP32);
      else return "gentle: left alone";
      return `gentle: class@${at}=0x${p.code[at].toString(16)}`;
    }
  }
}

/** Mutates a copy of the fixture program; returns the spec and a description of each mutation. */
function mutant(r: Rng, e: CorpusEntry): { prog: ProgramSpec; what: string[] } {
  let p = copyProgram(e.prog.insns);
  let functions: FunctionSpec[] = [...e.prog.functions];
  const what: string[] = [];
  const kfuncIds = [...e.prog.kfuncs.keys()];
  const rounds = r.chance(0.5) ? 1 : r.range(2, 5);
  for (let k = 0; k < rounds && p.length > 0; k++) {
    const at = r.int(p.length);
    if (r.chance(0.5)) {
      what.push(gentle(r, p, at, e));
      continue;
    }
    const m = r.int(100);
    if (m < 12) {
      const c = r.chance(0.5) ? r.pick(CODES) : r.int(256);
      p.code[at] = c;
      what.push(`code@${at}=0x${c.toString(16)}`);
    } else if (m < 18) {
      const v = r.int(16);
      p.dst[at] = v;
      what.push(`dst@${at}=${v}`);
    } else if (m < 24) {
      const v = r.int(16);
      p.src[at] = v;
      what.push(`src@${at}=${v}`);
    } else if (m < 32) {
      const v = r.chance(0.3) ? p.off[at] + r.range(-3, 3) : interesting(r);
      p.off[at] = v;
      what.push(`off@${at}=${p.off[at]}`);
    } else if (m < 42) {
      const v = r.chance(0.3) ? p.imm[at] + r.range(-3, 3) : interesting(r);
      p.imm[at] = v;
      what.push(`imm@${at}=${p.imm[at]}`);
    } else if (m < 47) {
      const b = r.int(p.length);
      const t = copyProgram(p, p.length);
      moveSlot(p, b, t, at);
      moveSlot(p, at, t, b);
      p = t;
      what.push(`swap ${at},${b}`);
    } else if (m < 51) {
      p = resize(p, at, true);
      what.push(`dup ${at}`);
    } else if (m < 56) {
      p = resize(p, at, false);
      what.push(`del ${at}`);
    } else if (m < 60) {
      const n = r.int(p.length);
      p = copyProgram(p, n);
      what.push(`truncate ${n}`);
    } else if (m < 67) {
      // a helper call with a random id
      p.code[at] = BPF_JMP | BPF_CALL;
      p.dst[at] = 0;
      p.src[at] = 0;
      p.off[at] = 0;
      p.imm[at] = r.chance(0.7) ? r.int(220) : interesting(r);
      what.push(`helper@${at}=${p.imm[at]}`);
    } else if (m < 72) {
      // a kfunc call: an id of the object, or a random one
      p.code[at] = BPF_JMP | BPF_CALL;
      p.dst[at] = 0;
      p.src[at] = BPF_PSEUDO_KFUNC_CALL;
      p.off[at] = r.chance(0.9) ? 0 : r.range(-2, 3);
      p.imm[at] = kfuncIds.length > 0 && r.chance(0.7) ? r.pick(kfuncIds) : interesting(r);
      what.push(`kfunc@${at}=${p.imm[at]}`);
    } else if (m < 77) {
      // a bpf-to-bpf call, often to a function start
      p.code[at] = BPF_JMP | BPF_CALL;
      p.dst[at] = 0;
      p.src[at] = BPF_PSEUDO_CALL;
      p.off[at] = 0;
      const target = functions.length > 0 && r.chance(0.6) ? r.pick(functions).start : r.range(-2, p.length + 2);
      p.imm[at] = target - (at + 1);
      what.push(`pseudo-call@${at}->${target}`);
    } else if (m < 87) {
      // ld_imm64: either half, the pseudo source, the map index / function offset
      let ld = -1;
      for (let i = 0; i < p.length; i++) {
        const j = (at + i) % p.length;
        if (p.code[j] === (BPF_LD | BPF_IMM | BPF_DW)) {
          ld = j;
          break;
        }
      }
      if (ld < 0) {
        if (at + 1 >= p.length) continue;
        p.code[at] = BPF_LD | BPF_IMM | BPF_DW;
        p.dst[at] = r.int(11);
        p.src[at] = r.int(7);
        p.imm[at] = interesting(r);
        what.push(`new ld_imm64@${at} src=${p.src[at]}`);
        continue;
      }
      switch (r.int(6)) {
        case 0:
          p.src[ld] = r.int(8);
          what.push(`ld_imm64@${ld}.src=${p.src[ld]}`);
          break;
        case 1:
          p.imm[ld] = r.chance(0.6) ? r.range(-1, e.spec.maps.length + 1) : interesting(r);
          what.push(`ld_imm64@${ld}.imm=${p.imm[ld]}`);
          break;
        case 2:
          if (ld + 1 < p.length) {
            p.imm[ld + 1] = interesting(r);
            what.push(`ld_imm64@${ld}.hi=${p.imm[ld + 1]}`);
          }
          break;
        case 3:
          if (ld + 1 < p.length) {
            p.code[ld + 1] = r.pick([0, 0x18, 0x07, r.int(256)]);
            p.src[ld + 1] = r.int(16) & (r.chance(0.5) ? 0 : 15);
            what.push(`ld_imm64@${ld} second half code=${p.code[ld + 1]} src=${p.src[ld + 1]}`);
          }
          break;
        case 4:
          p.off[ld] = interesting(r);
          what.push(`ld_imm64@${ld}.off=${p.off[ld]}`);
          break;
        default:
          p.src[ld] = BPF_PSEUDO_FUNC;
          p.imm[ld] =
            (functions.length > 0 && r.chance(0.7) ? r.pick(functions).start : r.range(-1, p.length)) - (ld + 1);
          what.push(`ld_imm64@${ld} func imm=${p.imm[ld]}`);
      }
    } else if (m < 95) {
      // a jump offset
      let j = -1;
      for (let i = 0; i < p.length; i++) {
        const s = (at + i) % p.length;
        const cls = p.code[s] & 7;
        if ((cls === BPF_JMP || cls === BPF_JMP32) && p.code[s] !== 0x85 && p.code[s] !== 0x95) {
          j = s;
          break;
        }
      }
      if (j < 0) continue;
      p.off[j] = r.chance(0.7) ? p.off[j] + r.range(-4, 4) : r.chance(0.5) ? -(j + 1) : interesting(r);
      what.push(`jump@${j}.off=${p.off[j]}`);
    } else {
      // the function table: a bogus start or func_info type, a lost or an extra function
      const sub = r.int(4);
      if (sub === 3 && functions.length > 0) {
        const i = r.int(functions.length);
        const types = e.spec.btf?.typeCount ?? 4;
        functions[i] = { ...functions[i], btfTypeId: r.chance(0.8) ? r.int(types + 2) : r.u32() };
        what.push(`function ${i} btf type ${functions[i].btfTypeId}`);
      } else if (sub === 0 && functions.length > 0) {
        const i = r.int(functions.length);
        functions[i] = { ...functions[i], start: r.range(-1, p.length + 1) };
        what.push(`function ${i} start=${functions[i].start}`);
      } else if (sub === 1 && functions.length > 1) {
        const i = r.int(functions.length);
        functions = functions.filter((_, q) => q !== i);
        what.push(`function ${i} dropped`);
      } else {
        const start = r.range(0, p.length);
        const f0 = functions[0];
        functions.push({
          name: `extra${start}`,
          start,
          length: 1,
          linkage: "static",
          btfTypeId: f0 !== undefined && r.chance(0.5) ? f0.btfTypeId : 0,
        });
        what.push(`extra function at ${start}`);
      }
    }
  }
  // now and then what the object says about the program: its type, license, flags
  let prog: ProgramSpec = { ...e.prog, insns: p, functions };
  if (r.chance(0.05)) {
    prog = {
      ...prog,
      type: r.pick([0, 1, 2, 3, 5, 6, 7, 8, 17, 26, 27, 28, 29, 31, 32, 99]),
      expectedAttachType: r.int(60),
    };
    what.push(`type ${prog.type}, attach type ${prog.expectedAttachType}`);
  }
  if (r.chance(0.03)) {
    prog = { ...prog, license: r.pick(["", "Proprietary", "GPL"]) };
    what.push(`license "${prog.license}"`);
  }
  if (r.chance(0.03)) {
    prog = { ...prog, flags: prog.flags ^ BPF_F_SLEEPABLE };
    what.push(`flags ${prog.flags}`);
  }
  return { prog, what };
}

/** Random verifier options. */
function options(r: Rng, btf: ObjectSpec["btf"] | undefined, maps: readonly MapSpec[]): VerifyOptions {
  return {
    btf: btf ?? undefined,
    maps,
    kernel: r.chance(0.8) ? "6.12" : "6.18",
    ...(r.chance(0.3) ? { kernelSymbols: modelledKernelSymbols() } : {}),
    ...(r.chance(0.3) ? { helperAvailable: helperAllowed } : {}),
    ...(r.chance(0.05) ? { jitSupportsExceptions: false } : {}),
  };
}

function generateCase(seed: number, index: number): FuzzCase {
  const r = caseRng(seed, index);
  if (r.chance(0.6)) {
    const e = pickEntry(r);
    const { prog, what } = mutant(r, e);
    return {
      kind: "mutant",
      what: `${e.label}: ${what.join(", ") || "unchanged"}`,
      spec: prog,
      opts: options(r, e.spec.btf, e.spec.maps),
    };
  }
  const s = structured(r);
  return { kind: "structured", what: s.what, spec: s.prog, opts: options(r, s.btf, s.maps) };
}

// ------------------------------------------------------------------------------------ checking

/**
 * The verified instructions with the kernel-internal forms the verifier's rewrites introduce
 * mapped back to public ones, so that `validateProgram` can judge everything else: the
 * auxiliary register r11 (BPF_REG_AX, used by inlined code) becomes r9, BPF_PROBE_MEM(SX) loads
 * become plain loads, the tail-call opcode becomes a helper call, the per-CPU address move
 * (`mov64 r, r` with off BPF_ADDR_PERCPU, -1, of inlined per-CPU lookups) and the zero-extension
 * marker (`BPF_ZEXT_REG`: `mov32 r, r` with imm 1, after cmpxchg) plain moves, and a bpf-to-bpf call or
 * function address gets back its relative offset (jit_subprogs moves it to off and puts the
 * callee's subprogram index in imm, or in the second half of the ld_imm64).
 */
function publicForm(p: DecodedProgram): DecodedProgram {
  const q = copyProgram(p);
  for (let i = 0; i < q.length; i++) {
    if (q.dst[i] === 11) q.dst[i] = 9;
    if (q.src[i] === 11) q.src[i] = 9;
    const code = q.code[i];
    if ((code & 7) === BPF_LDX && ((code & 0xe0) === BPF_PROBE_MEM || (code & 0xe0) === BPF_PROBE_MEMSX))
      q.code[i] = (code & 0x1f) | ((code & 0xe0) === BPF_PROBE_MEM ? BPF_MEM : BPF_MEMSX);
    else if (code === (BPF_ALU64 | BPF_MOV | BPF_X) && q.off[i] === -1) q.off[i] = 0;
    else if (code === (BPF_ALU | BPF_MOV | BPF_X) && q.imm[i] === 1 && q.dst[i] === q.src[i]) q.imm[i] = 0;
    else if (code === BPF_TAIL_CALL_OP) {
      q.code[i] = BPF_JMP | BPF_CALL;
      q.imm[i] = 12;
    } else if (code === (BPF_JMP | BPF_CALL) && q.src[i] === BPF_PSEUDO_CALL) {
      q.imm[i] = q.off[i];
      q.off[i] = 0;
    } else if (code === (BPF_LD | BPF_IMM | BPF_DW)) {
      if (q.src[i] === BPF_PSEUDO_FUNC && i + 1 < q.length) q.imm[i + 1] = 0;
      i++;
    }
  }
  return q;
}

/** Checks what an accepted program comes with. */
function checkAccepted(r: Extract<VerifyResult, { ok: true }>): void {
  const v = r.prog;
  const n = v.insns.length;
  try {
    validateProgram(publicForm(v.insns));
  } catch (e) {
    if (e instanceof DecodeError) throw new InvariantError(`accepted program does not re-validate: ${e.message}`);
    throw e;
  }
  if (v.origIndex.length !== n) throw new InvariantError(`origIndex has ${v.origIndex.length} entries for ${n} slots`);
  if (v.subprogs.length === 0 || v.subprogs[0].start !== 0) throw new InvariantError("main function not at slot 0");
  for (let i = 1; i < v.subprogs.length; i++) {
    const s = v.subprogs[i];
    if (s.start <= v.subprogs[i - 1].start || s.start >= n)
      throw new InvariantError(`function ${i} starts at ${s.start} (of ${n})`);
  }
  // calls and function addresses name the function that starts where their offset leads
  const p = v.insns;
  for (let i = 0; i < n; i++) {
    let target = -1;
    let index = -1;
    if (p.code[i] === (BPF_JMP | BPF_CALL) && p.src[i] === BPF_PSEUDO_CALL) {
      target = i + p.off[i] + 1;
      index = p.imm[i];
    } else if (p.code[i] === (BPF_LD | BPF_IMM | BPF_DW)) {
      if (p.src[i] === BPF_PSEUDO_FUNC) {
        target = i + p.imm[i] + 1;
        index = p.imm[i + 1];
      }
      i++;
    } else continue;
    if (target >= 0 && v.subprogs[index]?.start !== target)
      throw new InvariantError(`slot ${i}: function index ${index} does not start at the target ${target}`);
  }
  for (const s of v.subprogs)
    if (!(s.stackDepth >= 0 && s.stackDepth <= 512)) throw new InvariantError(`stack depth ${s.stackDepth}`);
  if (!Number.isInteger(v.insnProcessed) || v.insnProcessed < 1 || v.insnProcessed > 1_000_000)
    throw new InvariantError(`insnProcessed ${v.insnProcessed}`);
  const x = xlatedDump(v);
  if (x.length !== n) throw new InvariantError(`xlatedDump has ${x.length} slots for ${n}`);
}

interface Stats {
  cases: number;
  mutants: number;
  structured: number;
  accepted: number;
  rejected: number;
  acceptedMutants: number;
  acceptedStructured: number;
  /** Rejections by kernel reason (the first words of the message). */
  reasons: Record<string, number>;
  /** The slowest case that did not reach the complexity limit. */
  slowestMs: number;
  slowest: number;
  /** Cases rejected at the complexity limit, the time they took, the slowest. */
  limit: number;
  limitMs: number;
  slowestLimitMs: number;
  /** Fixture objects opened and programs in the mutation corpus. */
  objects: number;
  programs: number;
}

function newStats(): Stats {
  return {
    cases: 0,
    mutants: 0,
    structured: 0,
    accepted: 0,
    rejected: 0,
    acceptedMutants: 0,
    acceptedStructured: 0,
    reasons: {},
    slowestMs: 0,
    slowest: -1,
    limit: 0,
    limitMs: 0,
    slowestLimitMs: 0,
    objects: 0,
    programs: 0,
  };
}

function runCase(c: FuzzCase, index: number, stats: Stats): void {
  stats.cases++;
  stats[c.kind === "mutant" ? "mutants" : "structured"]++;
  const t0 = performance.now();
  let r: VerifyResult;
  try {
    r = verifyProgram(c.spec, c.opts);
  } catch (e) {
    const kind = e instanceof TsbpfError ? "a TsbpfError" : "a non-TsbpfError";
    throw new InvariantError(`verifyProgram threw ${kind} instead of returning it`, { cause: e });
  }
  const ms = performance.now() - t0;
  if (!r.ok && r.error.errno === E2BIG) {
    stats.limit++;
    stats.limitMs += ms;
    stats.slowestLimitMs = Math.max(stats.slowestLimitMs, ms);
    if (ms > LIMIT_MS)
      throw new InvariantError(`took ${ms.toFixed(0)} ms to reach the complexity limit (bound ${LIMIT_MS} ms)`);
  } else {
    if (ms > stats.slowestMs) {
      stats.slowestMs = ms;
      stats.slowest = index;
    }
    if (ms > CASE_MS) throw new InvariantError(`took ${ms.toFixed(0)} ms (bound ${CASE_MS} ms)`);
  }
  if (r.ok) {
    stats.accepted++;
    if (c.kind === "mutant") stats.acceptedMutants++;
    else stats.acceptedStructured++;
    checkAccepted(r);
  } else {
    if (!(r.error instanceof VerifierError)) throw new InvariantError(`error is not a VerifierError: ${r.error}`);
    if (typeof r.error.reason !== "string" || r.error.reason === "")
      throw new InvariantError("rejection without a reason");
    stats.rejected++;
    const key = `${c.kind === "mutant" ? "m" : "s"}: ${r.error.reason.replace(/-?(0x[0-9a-f]+|\d+)/g, "N").slice(0, 48)}`;
    stats.reasons[key] = (stats.reasons[key] ?? 0) + 1;
  }
}

function hexProgram(p: DecodedProgram): string {
  const lines: string[] = [];
  for (let i = 0; i < p.length; i++)
    lines.push(
      `  ${String(i).padStart(4)}: code 0x${p.code[i].toString(16).padStart(2, "0")} dst ${p.dst[i]} src ${p.src[i]} off ${p.off[i]} imm ${p.imm[i]}`,
    );
  return lines.join("\n");
}

function describeCase(seed: number, index: number): string {
  const c = generateCase(seed, index);
  return [
    `seed 0x${seed.toString(16)}, case ${index} (${c.kind}): ${c.what}`,
    `options: kernel ${c.opts.kernel}, kernelSymbols ${c.opts.kernelSymbols !== undefined}, helperAvailable ${c.opts.helperAvailable !== undefined}, jitSupportsExceptions ${c.opts.jitSupportsExceptions ?? true}`,
    reproduceHint(seed, index, "verifier/fuzz"),
    `functions: ${c.spec.functions.map((f) => `${f.name}@${f.start}`).join(" ")}`,
    `program (${c.spec.insns.length} slots):\n${hexProgram(c.spec.insns)}`,
  ].join("\n");
}

// ------------------------------------------------------------------------------------ workers

const RUN: FuzzRun = {
  url: import.meta.url,
  seed: SEED,
  cases: CASES,
  hangMs: HANG_MS,
  loading: "the corpus",
  failed: "failed",
  describeCase,
};

function merge(all: readonly Stats[]): Stats {
  const s = newStats();
  for (const x of all) {
    s.cases += x.cases;
    s.mutants += x.mutants;
    s.structured += x.structured;
    s.accepted += x.accepted;
    s.rejected += x.rejected;
    s.acceptedMutants += x.acceptedMutants;
    s.acceptedStructured += x.acceptedStructured;
    addCounts(s.reasons, x.reasons);
    keepSlowest(s, x);
    s.limit += x.limit;
    s.limitMs += x.limitMs;
    s.slowestLimitMs = Math.max(s.slowestLimitMs, x.slowestLimitMs);
    s.objects = Math.max(s.objects, x.objects);
    s.programs = Math.max(s.programs, x.programs);
  }
  return s;
}

// ------------------------------------------------------------------------------------ tests

if (isMainThread && process.env.FUZZ_ONLY === undefined) {
  // what the fuzzer found, pinned whatever the seed
  test("verifier fuzz regression: a callback deleted as dead code is refused, not given index -1", () => {
    // bpf_throw before bpf_loop: the callbacks whose addresses were loaded are never explored,
    // dead code removal deletes them, and jit_subprogs finds no function at the loaded address
    const o = openFixture("exceptions", "reject_loop_cb_diff.o");
    const orig = programOf(o, "reject_exception_throw_cb_diff");
    const bpfThrow = [...orig.kfuncs].find(([, n]) => n === "bpf_throw")?.[0];
    assert.ok(bpfThrow !== undefined);
    const insns = copyProgram(orig.insns);
    insns.code[6] = BPF_JMP | BPF_CALL;
    insns.dst[6] = 0;
    insns.src[6] = BPF_PSEUDO_KFUNC_CALL;
    insns.off[6] = 0;
    insns.imm[6] = bpfThrow;
    const prog = { ...orig, insns };
    const r = verifyProgram(prog, { btf: o.btf, maps: o.spec.maps, kernelSymbols: modelledKernelSymbols() });
    assert.ok(!r.ok);
    assert.match(r.error.reason, /^verifier bug\. No program starts at insn \d+$/);
    assert.equal(r.error.errno, 14);
  });

  test("verifier fuzz regression: a func_info record must name a FUNC of the object's BTF", () => {
    const o = openFixture("exceptions", "selftest_assert.o");
    const prog = programOf(o, "exception_bad_assert_neg_gfunc_with");
    const btf = o.btf;
    assert.ok(btf !== undefined && prog.functions.length === 2);
    const notFunc = btf.types.findIndex((t, i) => i > 0 && t.kind !== "func");
    for (const id of [569986909, btf.typeCount, notFunc]) {
      const functions = [prog.functions[0], { ...prog.functions[1], btfTypeId: id }];
      const r = verifyProgram({ ...prog, functions }, { btf, maps: o.spec.maps });
      assert.equal(outcome(r), `invalid type id ${id} in func info`);
    }
  });
}

if (!isMainThread) {
  const input = workerData as WorkerInput;
  const stats = newStats();
  stats.objects = corpus().objects;
  stats.programs = corpus().entries.length;
  await fuzzWorkerMain(input, stats, (i) => runCase(generateCase(input.seed, i), i, stats));
} else if (process.env.FUZZ_ONLY !== undefined) {
  test(`verifier fuzz: single case ${process.env.FUZZ_ONLY}`, () => {
    const index = Number(process.env.FUZZ_ONLY);
    console.log(describeCase(SEED, index));
    const c = generateCase(SEED, index);
    const r = verifyProgram(c.spec, c.opts);
    if (r.ok) console.log(`accepted:\n${hexProgram(r.prog.insns)}`);
    else console.log(`rejected: ${r.error.message}`);
    const stats = newStats();
    runCase(c, index, stats);
    console.log(JSON.stringify(stats));
  });
} else {
  test(`verifier fuzz: ${CASES} mutated and random programs are accepted or rejected with a VerifierError (seed 0x${SEED.toString(16)})`, async (t) => {
    const t0 = performance.now();
    const parts = await runWorkers<Stats>(RUN, WORKERS);
    const s = merge(parts);
    const secs = (performance.now() - t0) / 1000;
    const top = Object.entries(s.reasons)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, v]) => `${k.trim()}: ${v}`)
      .join("; ");
    t.diagnostic(
      `seed 0x${SEED.toString(16)}: ${s.cases} cases in ${secs.toFixed(1)} s on ${WORKERS} workers ` +
        `(corpus: ${s.programs} programs of ${s.objects} objects) ` +
        `(mutants ${s.mutants}, structured ${s.structured}); accepted ${s.accepted} ` +
        `(mutants ${s.acceptedMutants}, structured ${s.acceptedStructured}), rejected ${s.rejected}; ` +
        `slowest case ${s.slowest} (${s.slowestMs.toFixed(0)} ms); ${s.limit} reached the complexity limit ` +
        `(${(s.limitMs / 1000).toFixed(1)} s in all, slowest ${s.slowestLimitMs.toFixed(0)} ms)`,
    );
    t.diagnostic(`top rejections: ${top}`);
    assert.equal(s.cases, CASES);
    assert.ok(s.programs >= 300, `only ${s.programs} fixture programs to mutate`);
    if (CASES >= 10_000) {
      // guards against generators that silently stopped producing interesting programs
      assert.ok(s.acceptedMutants >= CASES * 0.03, `accepted mutants: ${s.acceptedMutants}`);
      assert.ok(s.acceptedStructured >= CASES * 0.03, `accepted structured programs: ${s.acceptedStructured}`);
      assert.ok(s.rejected >= CASES * 0.2, `rejected: ${s.rejected}`);
      assert.ok(Object.keys(s.reasons).length >= 40, `distinct rejection reasons: ${Object.keys(s.reasons).length}`);
    }
  });
}
