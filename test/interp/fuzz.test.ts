// Robustness fuzzer for the decode -> validate -> interpret pipeline.
//
// Feeds 300 000 random programs (raw bytes of any length, random slots, and structured random
// instructions, some damaged on purpose) to decodeProgram, validateProgram, new Interpreter and
// run() with a budget of 1000 and random memory. The contract under test: bad input of any kind
// ends in a TsbpfError subclass (DecodeError, BpfFault, ...), never in a TypeError, RangeError,
// a wrong-shaped result or a hang. It also checks invariants of what comes back:
//
// - r0 is an unsigned 64-bit bigint, insnCount lies in 1..budget, a fault's pc is in the program;
// - a second run on the same Interpreter ends exactly like the first (no state leaks out of a
//   fault), and so does a run on a fresh traced Interpreter, whose trace hook also checks that r10
//   always points at the top of the current frame (validated programs cannot write it) and counts
//   the instructions, which must match insnCount;
// - with a budget of exactly that count the run ends the same way, with one less it stops with a
//   budget fault inside the program.
//
// Cases are generated from (seed, case index) alone, so any failure is reproducible:
//   FUZZ_SEED=<seed> FUZZ_ONLY=<index> node scripts/run-tests.mjs interp/fuzz
// reruns a single case in-process and prints it. FUZZ_CASES changes the number of cases.
//
// The fuzz loop runs in a worker thread watched by the test: a case that makes no progress for
// HANG_MS is reported as a hang, with its bytes, instead of stalling the test run.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isMainThread, workerData } from "node:worker_threads";
import { BpfFault, DecodeError, type FaultKind, TsbpfError } from "../../src/errors.ts";
import { Interpreter, type TraceHook } from "../../src/interp/index.ts";
import { type DecodedProgram, decodeProgram, validateProgram } from "../../src/isa/insn.ts";
import {
  BPF_ABS,
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_B,
  BPF_CALL,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_H,
  BPF_IMM,
  BPF_IND,
  BPF_JA,
  BPF_JCOND,
  BPF_JEQ,
  BPF_JGT,
  BPF_JMP,
  BPF_JMP32,
  BPF_JNE,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_LOAD_ACQ,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MOV,
  BPF_NEG,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_ST,
  BPF_STORE_REL,
  BPF_STX,
  BPF_TO_BE,
  BPF_TO_LE,
  BPF_W,
  BPF_X,
  MAX_BPF_STACK,
  SIZE_BYTES,
} from "../../src/isa/opcodes.ts";
import { HelperRegistry } from "../../src/runtime/helpers.ts";
import { type MemoryRegion, REGION_LO_BASE } from "../../src/runtime/memory.ts";
import {
  type FuzzRun,
  fuzzSettings,
  fuzzWorkerMain,
  hex,
  InvariantError,
  reproduceHint,
  runWorker,
  type WorkerInput,
} from "../support/fuzz-workers.ts";
import { ALU_OPS, ATOMIC_OPS, interestingImm, JMP_OPS, SIZES } from "../support/random-programs.ts";
import { type Random, Sfc32 } from "../support/rng.ts";

const { seed: SEED, cases: CASES } = fuzzSettings({ seed: 0x5eed_b9f0, cases: 300_000 });
const BUDGET = 1000;
const HANG_MS = 15_000;

// ------------------------------------------------------------------------------------ cases

/** One fuzz input: the raw bytecode, the memory r1 points at, and how to run it. */
interface FuzzCase {
  /** Which generator made it (for the statistics and the failure report). */
  kind: "bytes" | "slots" | "structured";
  bytes: Uint8Array;
  /** Writable memory: r1 = its address, r2 = its length; LD_ABS/LD_IND read it. */
  mem: Uint8Array;
  /** Read-only memory: r3 = its address. */
  ro: Uint8Array;
  /** Decode as a big-endian object (the register nibbles swap, off and imm are big-endian). */
  bigEndian: boolean;
  /** Give the interpreter an LD_IMM64 resolver for pseudo sources. */
  resolver: boolean;
  /**
   * After the first run: run again on the same Interpreter ("same"), or on a fresh one with a
   * trace hook that counts instructions ("traced"); either way the outcome must not change.
   */
  rerun: "none" | "same" | "traced";
}

const INTERESTING_IMMS = [0, 1, -1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 0xff, 0xffff, 0x7fffffff, -0x80000000, 0x10000000];

/** Writes slots into a growing byte buffer. */
class SlotWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(slots: number) {
    this.bytes = new Uint8Array(slots * 8);
    this.view = new DataView(this.bytes.buffer);
  }

  set(pc: number, code: number, dst: number, src: number, off: number, imm: number): void {
    const b = pc * 8;
    this.bytes[b] = code;
    this.bytes[b + 1] = ((src & 15) << 4) | (dst & 15);
    this.view.setInt16(b + 2, off, true);
    this.view.setInt32(b + 4, imm, true);
  }
}

/**
 * A structured random program: each slot a well-formed instruction of a random kind, operands
 * drawn so that many programs validate and run. Three flavours:
 *
 * - tame (40%): a counted loop around a body whose jumps go forward, whose memory accesses are
 *   in bounds and aligned, and which leaves r1 (memory), r3 (read-only memory) and r9 (the loop
 *   counter) alone, so it runs long, usually into the budget;
 * - sloppy (18%): a few invalid fields (bad registers, reserved bits) for the validator;
 * - wild (the rest): anything well-formed, including accesses through any register, jumps
 *   anywhere and recursion.
 */
function structured(r: Random, memLen: number): Uint8Array {
  const tame = r.chance(0.4);
  const sloppy = !tame && r.chance(0.3);
  const body = r.range(1, 48);
  // Tame layout: [0] r9 = K; [1 .. body] body; [body+1] r9 -= 1; [body+2] if r9 != 0 goto 1; [body+3] exit
  const n = tame ? body + 4 : body;
  const first = tame ? 1 : 0;
  const end = tame ? body + 1 : n;
  const w = new SlotWriter(n);
  const bad = (): boolean => sloppy && r.chance(0.04);
  const TAME_DST = [0, 2, 4, 5, 6, 7, 8];
  /** A register operand: r0..r10, or a nonexistent r11..r15 when sloppy. */
  const reg = (): number => (bad() ? r.range(11, 15) : r.int(11));
  /** A writable destination: r0..r9 (tame: not r1, r3, r9), sometimes r10 or worse when sloppy. */
  const dstReg = (): number => (tame ? r.pick(TAME_DST) : bad() ? r.pick([10, 11, 12, 15]) : r.int(10));
  const imm = (): number => interestingImm(r, INTERESTING_IMMS, 70);
  /** Offset from the slot after `pc` to a random slot (tame: a later one; wild: rarely outside). */
  const jumpOff = (pc: number): number => {
    if (tame) return r.range(pc + 1, n - 1) - (pc + 1);
    const target = r.chance(0.97) ? r.int(n) : r.range(-4, n + 4);
    return target - (pc + 1);
  };
  /** A base register and offset for a `size`-byte access; `write` keeps tame ones off r3. */
  const memOperand = (size: number, write: boolean): [number, number] => {
    if (tame) {
      const k = r.int(write ? 2 : 3);
      if (k === 1 && memLen >= size) return [1, r.int(Math.floor(memLen / size)) * size];
      if (k === 2) return [3, r.int(16 / size) * size];
      return [10, -r.range(1, 512 / size) * size];
    }
    switch (r.int(6)) {
      case 0:
      case 1: {
        const off = -r.range(1, 512 / size) * size;
        return [10, r.chance(0.9) ? off : off + r.range(-3, 3)];
      }
      case 2:
      case 3:
        return [1, r.range(-4, memLen + 4)];
      case 4:
        return [3, r.range(-2, 18)];
      default:
        return [reg(), r.range(-64, 64)];
    }
  };

  if (tame) {
    w.set(0, BPF_ALU64 | BPF_MOV | BPF_K, 9, 0, 0, r.range(1, 300));
    w.set(body + 1, BPF_ALU64 | BPF_ADD | BPF_K, 9, 0, 0, -1);
    w.set(body + 2, BPF_JMP | BPF_JNE | BPF_K, 9, 0, -(body + 2), 0);
    w.set(body + 3, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  for (let pc = first; pc < end; pc++) {
    if (!tame && pc === n - 1 && r.chance(0.85)) {
      w.set(pc, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
      break;
    }
    const kind = r.int(100);
    if (kind < 30) {
      // ALU / ALU64
      const cls = r.chance(0.5) ? BPF_ALU64 : BPF_ALU;
      const op = r.pick(ALU_OPS);
      const d = dstReg();
      if (op === BPF_NEG) w.set(pc, cls | BPF_NEG | BPF_K, d, 0, 0, bad() ? 1 : 0);
      else if (op === BPF_END) {
        const code =
          cls === BPF_ALU64 ? BPF_ALU64 | BPF_END | BPF_K : BPF_ALU | BPF_END | r.pick([BPF_TO_LE, BPF_TO_BE]);
        w.set(pc, code, d, 0, 0, bad() ? r.int(70) : r.pick([16, 32, 64]));
      } else if (r.chance(0.5)) {
        let off = 0;
        let im = 0;
        if (op === BPF_DIV || op === BPF_MOD) off = r.int(2);
        else if (op === BPF_MOV) {
          if (cls === BPF_ALU64 && r.chance(0.1)) {
            off = 1; // addr_space_cast
            im = r.pick([1, 1 << 16]);
          } else off = r.pick(cls === BPF_ALU64 ? [0, 0, 8, 16, 32] : [0, 0, 8, 16]);
        }
        w.set(pc, cls | op | BPF_X, d, reg(), bad() ? 3 : off, im);
      } else {
        const off = op === BPF_DIV || op === BPF_MOD ? r.int(2) : bad() ? 5 : 0;
        w.set(pc, cls | op | BPF_K, d, 0, off, imm());
      }
    } else if (kind < 52) {
      // conditional jumps, ja, gotol, may_goto
      const sub = r.int(20);
      if (sub === 0) w.set(pc, BPF_JMP | BPF_JA, 0, 0, jumpOff(pc), 0);
      else if (sub === 1) w.set(pc, BPF_JMP32 | BPF_JA, 0, 0, 0, jumpOff(pc));
      else if (sub === 2) w.set(pc, BPF_JMP | BPF_JCOND, 0, 0, jumpOff(pc), 0);
      else {
        const cls = r.chance(0.5) ? BPF_JMP : BPF_JMP32;
        const op = r.pick(JMP_OPS);
        if (r.chance(0.5)) w.set(pc, cls | op | BPF_X, reg(), reg(), jumpOff(pc), bad() ? 1 : 0);
        else w.set(pc, cls | op | BPF_K, reg(), bad() ? 1 : 0, jumpOff(pc), imm());
      }
    } else if (kind < 78) {
      // loads, stores, atomics
      const size = r.pick(SIZES);
      const bytes = SIZE_BYTES[size];
      const sub = r.int(10);
      if (sub < 3) {
        const [base, off] = memOperand(bytes, false);
        const mode = size !== BPF_DW && r.chance(0.3) ? BPF_MEMSX : BPF_MEM;
        w.set(pc, BPF_LDX | mode | size, dstReg(), base, off, bad() ? 1 : 0);
      } else if (sub < 5) {
        const [base, off] = memOperand(bytes, true);
        w.set(pc, BPF_ST | BPF_MEM | size, base, bad() ? 1 : 0, off, imm());
      } else if (sub < 8) {
        const [base, off] = memOperand(bytes, true);
        w.set(pc, BPF_STX | BPF_MEM | size, base, reg(), off, 0);
      } else if (sub < 9) {
        const asize = r.chance(0.5) ? BPF_W : BPF_DW;
        const [base, off] = memOperand(asize === BPF_W ? 4 : 8, true);
        const op = r.pick(ATOMIC_OPS);
        // A tame fetch must not land in r1, r3 or r9 (cmpxchg writes r0, the others src).
        const src = tame && (op & BPF_FETCH) !== 0 ? r.pick(TAME_DST) : reg();
        w.set(pc, BPF_STX | BPF_ATOMIC | asize, base, src, off, bad() ? r.int(256) : op);
      } else {
        const acq = r.chance(0.5);
        const [base, off] = memOperand(bytes, !acq);
        w.set(
          pc,
          BPF_STX | BPF_ATOMIC | size,
          acq ? dstReg() : base,
          acq ? base : reg(),
          off,
          acq ? BPF_LOAD_ACQ : BPF_STORE_REL,
        );
      }
    } else if (kind < 84) {
      // LD_IMM64 (two slots; a truncated one when it lands on the last slot)
      const sub = r.int(10);
      if (tame && pc + 1 >= end) {
        w.set(pc, BPF_ALU64 | BPF_MOV | BPF_K, dstReg(), 0, 0, imm());
        continue;
      }
      const src = sub < 6 ? 0 : sub < 8 ? BPF_PSEUDO_FUNC : r.range(1, 6);
      const lo = src === BPF_PSEUDO_FUNC ? jumpOff(pc) : imm();
      w.set(pc, BPF_LD | BPF_IMM | BPF_DW, dstReg(), src, bad() ? 1 : 0, lo);
      if (pc + 1 < end) {
        w.set(pc + 1, bad() ? 0x07 : 0, 0, 0, 0, r.chance(0.5) ? 0 : imm());
        pc++;
      }
    } else if (kind < 87) {
      // legacy packet loads
      const size = r.pick([BPF_W, BPF_H, BPF_B]);
      if (r.chance(0.5)) w.set(pc, BPF_LD | BPF_ABS | size, 0, 0, 0, r.range(-2, memLen + 2));
      else w.set(pc, BPF_LD | BPF_IND | size, 0, tame ? r.pick(TAME_DST) : reg(), 0, r.range(-2, 8));
    } else if (kind < 95) {
      // calls: helpers 0..5 (1..4 exist), bpf-to-bpf, kfunc, callx
      const sub = r.int(10);
      if (tame) w.set(pc, BPF_JMP | BPF_CALL, 0, 0, 0, 1);
      else if (sub < 4) w.set(pc, BPF_JMP | BPF_CALL, 0, 0, 0, r.int(6));
      else if (sub < 7) w.set(pc, BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, jumpOff(pc));
      else if (sub < 8) w.set(pc, BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, r.u32() | 0);
      else w.set(pc, BPF_JMP | BPF_CALL | BPF_X, reg(), 0, 0, 0);
    } else {
      w.set(pc, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
  }
  return mutate(r, w.bytes);
}

/** Damages a program in one of the ways a broken toolchain or a hostile loader would. */
function mutate(r: Random, bytes: Uint8Array): Uint8Array {
  if (!r.chance(0.25) || bytes.length === 0) return bytes;
  const n = bytes.length / 8;
  const slot = r.int(n) * 8;
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  switch (r.int(6)) {
    case 0: // truncated LD_IMM64: the first half in the last slot
      out.set([0x18, r.int(10), 0, 0, 1, 2, 3, 4], out.length - 8);
      return out;
    case 1: // a nonexistent register in the dst or src nibble
      out[slot + 1] = r.chance(0.5)
        ? (out[slot + 1] & 0xf0) | r.range(11, 15)
        : (out[slot + 1] & 0x0f) | (r.range(11, 15) << 4);
      return out;
    case 2: {
      // a jump out of range, or into the middle of an LD_IMM64
      out[slot] = r.pick([BPF_JMP | BPF_JA, BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP32 | BPF_JGT | BPF_X]);
      out[slot + 1] = 0;
      view.setInt16(slot + 2, r.chance(0.5) ? n - slot / 8 + r.int(100) : -(slot / 8) - 1 - r.int(100), true);
      return out;
    }
    case 3: // one random byte
      out[r.int(out.length)] = r.int(256);
      return out;
    case 4: // torn off: not a multiple of 8 bytes any more
      return out.subarray(0, out.length - r.range(1, 7));
    default: // a random opcode byte
      out[slot] = r.int(256);
      return out;
  }
}

/** The case with index `index` of the run seeded with `seed`. */
function generateCase(seed: number, index: number): FuzzCase {
  const r = new Sfc32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const mem = new Uint8Array(r.int(97));
  for (let i = 0; i < mem.length; i++) mem[i] = r.int(256);
  const ro = new Uint8Array(16);
  for (let i = 0; i < ro.length; i++) ro[i] = r.int(256);
  const bigEndian = r.chance(0.05);
  const resolver = r.chance(0.5);
  const rr = r.int(4);
  const rerun = rr === 0 ? "same" : rr === 1 ? "traced" : "none";
  const pick = r.int(100);
  if (pick < 8) {
    // raw random bytes, any length (mostly not a multiple of 8)
    const bytes = new Uint8Array(r.int(200));
    for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
    return { kind: "bytes", bytes, mem, ro, bigEndian, resolver, rerun };
  }
  if (pick < 15) {
    // random slots with a plausible opcode and exit: exercises the validator's reserved-field checks
    const n = r.range(1, 24);
    const bytes = new Uint8Array(n * 8);
    for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
    for (let pc = 0; pc < n; pc++) {
      bytes[pc * 8 + 1] &= r.chance(0.8) ? 0x9a : 0xff; // mostly registers below 11
      if (r.chance(0.7)) bytes[pc * 8 + 2] = bytes[pc * 8 + 3] = 0; // off 0
    }
    bytes.set([0x95, 0, 0, 0, 0, 0, 0, 0], (n - 1) * 8);
    return { kind: "slots", bytes, mem, ro, bigEndian, resolver, rerun };
  }
  return { kind: "structured", bytes: structured(r, mem.length), mem, ro, bigEndian, resolver, rerun };
}

// ------------------------------------------------------------------------------------ running

/** What the fuzzer saw; the counts make sure the test cannot pass vacuously. */
interface Stats {
  cases: number;
  byKind: Record<FuzzCase["kind"], number>;
  decodeErrors: number;
  invalid: number;
  /** Programs that validated and got an Interpreter. */
  constructed: number;
  exited: number;
  /** Ran more than 10 instructions (exit or budget; for other faults only known when traced). */
  ranOver10: number;
  insns: number;
  faults: Record<FaultKind, number>;
  /** TsbpfErrors other than BpfFault out of the constructor or run(). */
  otherErrors: number;
  reruns: number;
}

function newStats(): Stats {
  return {
    cases: 0,
    byKind: { bytes: 0, slots: 0, structured: 0 },
    decodeErrors: 0,
    invalid: 0,
    constructed: 0,
    exited: 0,
    ranOver10: 0,
    insns: 0,
    faults: {
      "out-of-bounds": 0,
      misaligned: 0,
      "read-only": 0,
      budget: 0,
      "call-depth": 0,
      "stack-size": 0,
      "bad-call": 0,
      "bad-insn": 0,
      helper: 0,
    },
    otherErrors: 0,
    reruns: 0,
  };
}

const helpers = new HelperRegistry()
  .register(1, { name: "fuzz_add", args: ["anything", "anything"], ret: "integer", fn: (_env, a, b) => a + b })
  .register(2, { name: "fuzz_load", args: ["ptr-to-mem"], ret: "integer", fn: (env, a) => env.space.read(a, 8) })
  .register(3, {
    name: "fuzz_store",
    args: ["ptr-to-mem", "anything"],
    ret: "integer",
    fn: (env, a, b) => {
      env.space.write(a, 4, b);
      return 0n;
    },
  })
  .register(4, {
    name: "fuzz_fail",
    args: [],
    ret: "integer",
    fn: () => {
      throw new TsbpfError("fuzz_fail refuses");
    },
  });

const resolveLdImm64 = (_pc: number, src: number, imm: number, nextImm: number): bigint =>
  (BigInt(nextImm >>> 0) << 32n) | BigInt((imm ^ src) >>> 0);

/** Low word of r10: the top of a 512-byte stack region. */
const FP_LO = REGION_LO_BASE + MAX_BPF_STACK;

/** An Interpreter for `program` with the fuzz memory mapped: r1 = mem, r3 = read-only memory. */
interface FuzzVm {
  vm: Interpreter;
  mem: MemoryRegion;
  ro: MemoryRegion;
}

function makeVm(program: DecodedProgram, c: FuzzCase, trace: TraceHook | null, budget = BUDGET): FuzzVm {
  const vm = new Interpreter(program, {
    helpers,
    budget,
    trace,
    ...(c.resolver ? { ldImm64: resolveLdImm64 } : {}),
  });
  const mem = vm.space.map("mem", new Uint8Array(c.mem.length), { name: "fuzz-mem" });
  const ro = vm.space.map("other", new Uint8Array(c.ro.length), { name: "fuzz-ro", writable: false });
  return { vm, mem, ro };
}

/** One run's outcome as a comparable string, plus what the statistics need. */
interface Outcome {
  text: string;
  fault: BpfFault | null;
  /** Instructions executed, when known (exit, budget); 0 for other faults. */
  insns: number;
}

function runOnce(f: FuzzVm, c: FuzzCase, n: number): Outcome {
  f.mem.bytes.set(c.mem);
  f.ro.bytes.set(c.ro);
  try {
    const res = f.vm.run({ args: [f.mem.address(0), BigInt(c.mem.length), f.ro.address(0)], packet: f.mem });
    if (typeof res.r0 !== "bigint" || res.r0 < 0n || res.r0 >= 1n << 64n) {
      throw new InvariantError(`r0 out of range: ${String(res.r0)}`);
    }
    if (!Number.isInteger(res.insnCount) || res.insnCount < 1 || res.insnCount > BUDGET) {
      throw new InvariantError(`insnCount ${res.insnCount} outside 1..${BUDGET}`);
    }
    return { text: `exit r0=${res.r0} insns=${res.insnCount}`, fault: null, insns: res.insnCount };
  } catch (e) {
    if (e instanceof BpfFault) {
      if (!Number.isInteger(e.pc) || e.pc < 0 || e.pc >= n) {
        throw new InvariantError(`fault pc ${e.pc} outside 0..${n - 1}: ${e.message}`);
      }
      return { text: `fault ${e.kind}: ${e.message}`, fault: e, insns: e.kind === "budget" ? BUDGET : 0 };
    }
    throw e;
  }
}

/** Runs one case through the whole pipeline, counting outcomes; anything but a TsbpfError escapes. */
function runCase(c: FuzzCase, stats: Stats): void {
  stats.cases++;
  stats.byKind[c.kind]++;
  let program: DecodedProgram;
  try {
    program = decodeProgram(c.bytes, { bigEndian: c.bigEndian });
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    stats.decodeErrors++;
    return;
  }
  try {
    validateProgram(program);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    stats.invalid++;
    return;
  }
  let f: FuzzVm;
  try {
    f = makeVm(program, c, null);
  } catch (e) {
    if (!(e instanceof TsbpfError)) throw e;
    stats.otherErrors++;
    return;
  }
  stats.constructed++;
  let first: Outcome;
  try {
    first = runOnce(f, c, program.length);
  } catch (e) {
    if (e instanceof InvariantError || !(e instanceof TsbpfError)) throw e;
    stats.otherErrors++;
    return;
  }
  if (first.fault === null) stats.exited++;
  else stats.faults[first.fault.kind]++;
  let executed = first.insns;
  if (c.rerun !== "none") {
    stats.reruns++;
    let traced = 0;
    let again = f;
    if (c.rerun === "traced") {
      // Validated programs cannot write r10: it must point at the top of the current frame's stack.
      // The hook also sees the sentinel slot past the end when a program falls off it; that is
      // not an instruction, so it is not counted.
      const trace: TraceHook = (pc, regs, frame) => {
        if (pc < program.length) traced++;
        if (regs.lo[10] !== FP_LO || regs.hi[10] !== again.vm.stackRegion(frame).hi) {
          throw new InvariantError(`r10 = 0x${regs.get(10).toString(16)} before insn ${pc} in frame ${frame}`);
        }
      };
      again = makeVm(program, c, trace);
    }
    const second = runOnce(again, c, program.length);
    if (second.text !== first.text) {
      throw new InvariantError(`${c.rerun} rerun differs:\n  first:  ${first.text}\n  second: ${second.text}`);
    }
    if (c.rerun === "traced") {
      if (first.fault === null && traced !== first.insns) {
        throw new InvariantError(`trace saw ${traced} instructions, run() reported ${first.insns}`);
      }
      executed = traced;
      checkBudgetEdge(program, c, first, traced);
    }
  }
  if (executed > 10) stats.ranOver10++;
  stats.insns += executed;
}

/**
 * The budget boundary: a program that needed `traced` instructions must end the same way with a
 * budget of exactly `traced`, and with one less must stop with a budget fault inside the program.
 */
function checkBudgetEdge(program: DecodedProgram, c: FuzzCase, first: Outcome, traced: number): void {
  if (first.fault?.kind === "budget" || traced < 2) return;
  const exact = runOnce(makeVm(program, c, null, traced), c, program.length);
  if (exact.text !== first.text) {
    throw new InvariantError(`with a budget of ${traced}:\n  expected: ${first.text}\n  got:      ${exact.text}`);
  }
  const short = runOnce(makeVm(program, c, null, traced - 1), c, program.length);
  if (short.fault?.kind !== "budget") {
    throw new InvariantError(`with a budget of ${traced - 1} (one short): ${short.text}`);
  }
}

function hexSlots(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 8) {
    const slot = [...bytes.subarray(i, i + 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    lines.push(`  ${String(i / 8).padStart(3)}: ${slot}`);
  }
  return lines.join("\n");
}

function describeCase(seed: number, index: number): string {
  const c = generateCase(seed, index);
  return [
    `seed 0x${seed.toString(16)}, case ${index} (${c.kind}, ${c.bytes.length} bytes, ${c.bigEndian ? "big" : "little"}-endian, resolver ${c.resolver}, rerun ${c.rerun})`,
    reproduceHint(seed, index, "interp/fuzz"),
    `program bytes:\n${hexSlots(c.bytes)}`,
    `program hex: ${hex(c.bytes)}`,
    `mem (r1, ${c.mem.length} bytes): ${hex(c.mem)}`,
    `ro (r3): ${hex(c.ro)}`,
  ].join("\n");
}

// ------------------------------------------------------------------------------------ worker

/** The fuzz loop runs in one worker. */
const RUN: FuzzRun = {
  url: import.meta.url,
  seed: SEED,
  cases: CASES,
  hangMs: HANG_MS,
  failed: "threw a non-TsbpfError or broke an invariant",
  describeCase,
};

// ------------------------------------------------------------------------------------ tests

if (!isMainThread) {
  const input = workerData as WorkerInput;
  const stats = newStats();
  await fuzzWorkerMain(input, stats, (i) => runCase(generateCase(input.seed, i), stats), { causes: false });
} else if (process.env.FUZZ_ONLY !== undefined) {
  test(`fuzz: single case ${process.env.FUZZ_ONLY}`, () => {
    const index = Number(process.env.FUZZ_ONLY);
    console.log(describeCase(SEED, index));
    const stats = newStats();
    runCase(generateCase(SEED, index), stats);
    console.log(JSON.stringify(stats));
  });
} else {
  test(`fuzz: ${CASES} random programs end in a TsbpfError or a clean exit (seed 0x${SEED.toString(16)})`, async (t) => {
    const t0 = performance.now();
    const s = await runWorker<Stats>(RUN, 0, 1);
    const secs = (performance.now() - t0) / 1000;
    t.diagnostic(
      `seed 0x${SEED.toString(16)}: ${s.cases} cases in ${secs.toFixed(1)} s ` +
        `(bytes ${s.byKind.bytes}, slots ${s.byKind.slots}, structured ${s.byKind.structured}); ` +
        `decode errors ${s.decodeErrors}, invalid ${s.invalid}, ran ${s.constructed}, exited ${s.exited}, ` +
        `ran >10 insns ${s.ranOver10}, ${s.insns} insns executed, reruns ${s.reruns}, other TsbpfErrors ${s.otherErrors}`,
    );
    t.diagnostic(`faults: ${JSON.stringify(s.faults)}`);
    // Guards against a generator that silently stopped producing interesting programs.
    assert.equal(s.cases, CASES);
    if (CASES >= 100_000) {
      assert.ok(s.decodeErrors >= 1000, `decode errors: ${s.decodeErrors}`);
      assert.ok(s.invalid >= 10_000, `invalid programs: ${s.invalid}`);
      assert.ok(s.constructed >= 30_000, `programs that validated: ${s.constructed}`);
      assert.ok(s.exited >= 10_000, `programs that exited: ${s.exited}`);
      assert.ok(s.ranOver10 >= 5000, `programs that ran more than 10 instructions: ${s.ranOver10}`);
      for (const kind of ["out-of-bounds", "budget", "bad-call"] as const) {
        assert.ok(s.faults[kind] >= 1000, `${kind} faults: ${s.faults[kind]}`);
      }
      for (const kind of ["misaligned", "read-only", "call-depth", "stack-size", "bad-insn", "helper"] as const) {
        assert.ok(s.faults[kind] >= 20, `${kind} faults: ${s.faults[kind]}`);
      }
    }
  });
}
