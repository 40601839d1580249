/**
 * The interpreter's machine state and everything that is not the instruction loop: registers,
 * the frame stack with the kernel's limits, stack regions, calls out to helpers and kfuncs,
 * callbacks, tail-call requests and faults. `Interpreter` (interpreter.ts) adds the loop.
 *
 * Frames: each call depth has its own 512-byte stack region, r10 pointing at its top; a call saves
 * the caller's r6..r10, return slot and program; `exit` in a callee restores them. Limits as the
 * kernel: MAX_CALL_FRAMES frames and MAX_BPF_STACK bytes of combined (rounded) stack.
 */
import { BpfFault, type FaultKind, TsbpfError } from "../errors.ts";
import { disasmInsn } from "../isa/disasm.ts";
import type { DecodedProgram, IsaOptions } from "../isa/insn.ts";
import { MAX_BPF_STACK, MAX_CALL_FRAMES } from "../isa/opcodes.ts";
import type { FunctionReplacement } from "../runtime/engine.ts";
import type { HelperEnv, HelperRegistry, HelperSpec, KfuncRegistry, TailCallResolver } from "../runtime/helpers.ts";
import {
  AddressSpace,
  joinU64,
  MemoryAccessError,
  type MemoryRegion,
  REGION_LO_BASE,
  ResolvedAccess,
} from "../runtime/memory.ts";
import { LoadedCode, resolveCodeAddress } from "./code.ts";
import type { FunctionRange } from "./frames.ts";

/** Initial value of the per-frame may_goto counter (kernel BPF_MAX_LOOPS). */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;

/** Default instruction budget of one run. */
export const DEFAULT_BUDGET = 100_000_000;

/** Read access to the registers for trace hooks. */
export interface RegisterView {
  /** Register r`i` as an unsigned 64-bit value. */
  get(i: number): bigint;
  /** Low and high words of all registers (read-only by contract). */
  readonly lo: Int32Array;
  readonly hi: Int32Array;
}

/** Called before each instruction executes. */
export type TraceHook = (pc: number, regs: RegisterView, frame: number) => void;

/**
 * Resolves the value of an LD_IMM64 whose src is a pseudo source the interpreter does not know
 * itself (map fd, map value, BTF id, ...). Returns the 64-bit value to load.
 */
export type LdImm64Resolver = (pc: number, src: number, imm: number, nextImm: number) => bigint;

/** Options of an interpreter instance. */
export interface InterpOptions extends IsaOptions {
  /** Entry slot of the program's exception callback; -1 (default) for the verifier's default one. */
  exceptionCallback?: number;
  helpers?: HelperRegistry;
  kfuncs?: KfuncRegistry;
  /** Maximum instructions per run (default {@link DEFAULT_BUDGET}). */
  budget?: number;
  trace?: TraceHook | null;
  ldImm64?: LdImm64Resolver;
  /** Whatever helpers should see as `env.runtime`. */
  runtime?: unknown;
  /** Address space to map stacks into (a new one by default). */
  space?: AddressSpace;
  /** Upper 32 bits of the arena's user address (addr_space_cast to as(1)); default 0. */
  arenaUserVmStartHi?: number;
  /** Engine name in faults. */
  engineName?: string;
  /**
   * Turns what bpf_tail_call found in a prog array into a program to run: an `Interpreter` (or
   * its `LoadedCode`) on the same address space. Without it, entries are taken as such.
   */
  tailCalls?: TailCallResolver;
}

/**
 * Reads `size` bytes big-endian at `offset` of the packet for LD_ABS / LD_IND and returns them
 * as an unsigned number, or -1 when the kernel's bpf_skb_load_helper_* would fail (the program
 * then ends with r0 = 0). `offset` is the signed 32-bit offset, SKF_NET_OFF / SKF_LL_OFF bases
 * included.
 */
export type LdAbsHook = (offset: number, size: 1 | 2 | 4) => number;

/** Inputs of one run: r1..r5 and the packet LD_ABS/LD_IND read. */
export interface RunInput {
  args?: readonly bigint[];
  /** The region LD_ABS / LD_IND read (the skb's linear data). */
  packet?: MemoryRegion | null;
  /** Overrides `packet` for LD_ABS / LD_IND (runtimes that model the skb's headers). */
  ldAbs?: LdAbsHook | null;
}

/** What a run produced. */
export interface RunResult {
  /** Full 64-bit r0, unsigned. */
  r0: bigint;
  /** Instructions executed. */
  insnCount: number;
}

const _TWO_32 = 4294967296;

/** Thrown inside the engine when LD_ABS/LD_IND ends the run with r0 = 0. */
export class EndOfRun {}

/**
 * A bpf_throw on its way to an exception boundary outside the running instruction loop (through
 * a callback's nested loop). Control flow, not a failure: it is no TsbpfError and never leaves
 * the engine.
 */
export class BpfThrow {
  readonly cookie: bigint;
  constructor(cookie: bigint) {
    this.cookie = cookie;
  }
}

/** Machine state of one program; see {@link Interpreter} for the instruction loop. */
export abstract class Machine {
  readonly program: DecodedProgram;
  readonly space: AddressSpace;
  readonly functions: readonly FunctionRange[];
  /** The program in the interpreter's internal form. */
  readonly code: LoadedCode;
  protected readonly lo = new Int32Array(11);
  protected readonly hi = new Int32Array(11);
  protected readonly stacks: MemoryRegion[] = [];
  protected readonly helpers: HelperRegistry | undefined;
  protected readonly kfuncs: KfuncRegistry | undefined;
  protected readonly budget: number;
  protected readonly trace: TraceHook | null;
  protected readonly ldImm64: LdImm64Resolver | undefined;
  protected readonly tailCallResolver: TailCallResolver | undefined;
  protected readonly env: HelperEnv;
  protected readonly engine: string;
  protected readonly arenaHi: number;
  protected readonly acc = new ResolvedAccess();
  protected readonly regView: RegisterView;

  // ---- state of the current run
  /** The program whose instructions execute now (differs from `code` after a tail call). */
  protected cur: LoadedCode;
  /** Current call depth: 0 = the main frame. */
  protected depth = 0;
  /** Combined (rounded) stack of the frames 0..depth. */
  protected stackUsed = 0;
  /** Instructions left in the budget (the loop keeps a local copy, synced around calls out). */
  protected left = 0;
  protected tailCalls = 0;
  protected tailPending = false;
  protected tailTarget: LoadedCode | null = null;
  protected throwPending = false;
  protected throwCookie = 0n;
  /** 1 where the frame runs a main program (depth 0, and frames a tail call replaced). */
  protected readonly frameMain = new Uint8Array(MAX_CALL_FRAMES);
  protected packet: MemoryRegion | null = null;
  protected ldAbs: LdAbsHook | null = null;
  // Frame stack: saved r6..r10 (5 pairs), return slot and program, stack used, may_goto counter.
  protected readonly savedLo = new Int32Array(MAX_CALL_FRAMES * 5);
  protected readonly savedHi = new Int32Array(MAX_CALL_FRAMES * 5);
  protected readonly savedPc = new Int32Array(MAX_CALL_FRAMES);
  protected readonly savedCode: LoadedCode[] = [];
  protected readonly frameDepth = new Int32Array(MAX_CALL_FRAMES);
  protected readonly mayGoto = new Float64Array(MAX_CALL_FRAMES);

  constructor(program: DecodedProgram, options: InterpOptions = {}) {
    this.space = options.space ?? new AddressSpace();
    this.code = new LoadedCode(program, this.space, options);
    this.cur = this.code;
    this.program = program;
    this.functions = this.code.functions;
    for (let i = 0; i < MAX_CALL_FRAMES; i++) {
      this.stacks.push(this.space.map("stack", new Uint8Array(MAX_BPF_STACK), { name: `stack${i}` }));
      this.savedCode.push(this.code);
    }
    this.helpers = options.helpers;
    this.kfuncs = options.kfuncs;
    this.budget = options.budget ?? DEFAULT_BUDGET;
    this.trace = options.trace ?? null;
    this.ldImm64 = options.ldImm64;
    this.tailCallResolver = options.tailCalls;
    this.env = {
      space: this.space,
      runtime: options.runtime,
      callFunction: (fn, args) => this.callFunction(fn, args),
      requestTailCall: (target) => this.requestTailCall(target),
      throwException: (cookie) => {
        this.throwPending = true;
        this.throwCookie = BigInt.asUintN(64, cookie);
      },
    };
    this.engine = options.engineName ?? "interp";
    this.arenaHi = options.arenaUserVmStartHi ?? 0;
    const lo = this.lo;
    const hi = this.hi;
    this.regView = { lo, hi, get: (i: number) => joinU64(hi[i], lo[i]) };
  }

  /** The address a BPF_PSEUDO_FUNC load gives for the function at slot `pc`. */
  codeAddress(pc: number): bigint {
    return this.code.address(pc);
  }

  /** Stack region of call depth `depth` (0 = the main program's frame). */
  stackRegion(depth: number): MemoryRegion {
    return this.stacks[depth];
  }

  protected fault(kind: FaultKind, pc: number, message: string, address?: bigint, cause?: unknown): BpfFault {
    let text = "";
    try {
      text = pc >= 0 && pc < this.cur.length ? disasmInsn(this.cur.program, pc, { lossless: true }) : "";
    } catch {
      text = "";
    }
    return new BpfFault(kind, message, { engine: this.engine, pc, insn: text, address }, { cause });
  }

  protected memFault(pc: number, hi: number, lo: number, off: number, size: number, write: boolean): BpfFault {
    const addr = BigInt.asUintN(64, joinU64(hi, lo) + BigInt(off));
    if (this.space.resolve(hi, lo, off, size, this.acc) && write && !this.acc.region.writable) {
      return this.fault("read-only", pc, `write of ${size} bytes to read-only ${this.acc.region.name}`, addr);
    }
    return this.fault(
      "out-of-bounds",
      pc,
      `invalid ${write ? "write" : "read"} of ${size} byte${size === 1 ? "" : "s"} at 0x${addr.toString(16)} (${this.space.describe(addr)})`,
      addr,
    );
  }

  protected callFn(spec: HelperSpec, pc: number): void {
    const lo = this.lo;
    const hi = this.hi;
    let r: bigint;
    try {
      r = spec.fn(
        this.env,
        joinU64(hi[1], lo[1]),
        joinU64(hi[2], lo[2]),
        joinU64(hi[3], lo[3]),
        joinU64(hi[4], lo[4]),
        joinU64(hi[5], lo[5]),
      );
    } catch (e) {
      if (e instanceof EndOfRun) throw e;
      if (e instanceof BpfThrow) {
        // A throw a callback's loop could not take to its boundary: this loop will.
        this.throwPending = true;
        this.throwCookie = e.cookie;
        return;
      }
      if (e instanceof MemoryAccessError) {
        throw this.fault("out-of-bounds", pc, `${spec.name}: ${e.message}`, e.address, e);
      }
      if (e instanceof BpfFault) throw e;
      if (e instanceof TsbpfError) throw this.fault("helper", pc, `${spec.name}: ${e.message}`, undefined, e);
      throw this.fault("helper", pc, `${spec.name} failed: ${(e as Error)?.message ?? String(e)}`, undefined, e);
    }
    // bpf_tail_call does not return to its caller when it succeeds and leaves r0 alone when it
    // fails (the kernel turns it into an instruction, BPF_JMP | BPF_TAIL_CALL).
    if (this.tailPending || this.throwPending) return;
    const u = BigInt.asUintN(64, r);
    lo[0] = Number(u & 0xffffffffn);
    hi[0] = Number(u >> 32n);
  }

  protected requestTailCall(target: unknown): void {
    this.tailPending = true;
    const resolved = target === null || target === undefined ? null : (this.tailCallResolver?.(target) ?? target);
    const code = resolved instanceof Machine ? resolved.code : resolved instanceof LoadedCode ? resolved : null;
    // A program mapped in another address space cannot run on this one's memory.
    this.tailTarget = code !== null && this.space.regions[code.codeRegion.id] === code.codeRegion ? code : null;
  }

  /**
   * Runs the function at code address `fn` on a new frame with r1..r5 = args and returns its r0;
   * the caller's registers are restored afterwards (callbacks of bpf_loop and friends).
   */
  protected callFunction(fn: bigint, args: readonly bigint[]): bigint {
    const lo = this.lo;
    const hi = this.hi;
    const u = BigInt.asUintN(64, fn);
    const where = resolveCodeAddress(this.space, Number(u >> 32n) | 0, Number(u & 0xffffffffn) | 0);
    if (where === null) throw new TsbpfError(`callback address 0x${u.toString(16)} is not a BPF function`);
    const saveLo = lo.slice();
    const saveHi = hi.slice();
    for (let r = 1; r <= 5; r++) {
      const v = BigInt.asUintN(64, args[r - 1] ?? 0n);
      lo[r] = Number(v & 0xffffffffn);
      hi[r] = Number(v >> 32n);
    }
    const caller = this.cur;
    const callerDepth = this.depth;
    this.pushFrame(this.callSite, 0, where.code, where.pc);
    try {
      this.execute(where.pc, this.depth, where.code);
    } finally {
      this.stackUsed -= this.frameDepth[callerDepth + 1];
      this.depth = callerDepth;
      this.cur = caller;
    }
    const r0 = joinU64(hi[0], lo[0]);
    lo.set(saveLo);
    hi.set(saveHi);
    return r0;
  }

  /** Functions replaced by other programs (freplace), by entry slot of this program's code. */
  protected readonly replacements = new Map<number, FunctionReplacement>();

  /** freplace: calls of the function at `start` (0: the whole program) run `impl` instead. */
  replaceFunction(start: number, impl: FunctionReplacement): void {
    this.replacements.set(start, impl);
  }

  /**
   * A call of a replaced function: the replacement (another program's run, its own exception
   * boundary) gets r1..r5 and its result is r0, as if the callee had returned it.
   */
  protected callReplacement(target: number): void {
    const lo = this.lo;
    const hi = this.hi;
    const args: bigint[] = [];
    for (let r = 1; r <= 5; r++) args.push(joinU64(hi[r], lo[r]));
    const impl = this.replacements.get(target) as FunctionReplacement;
    const r0 = BigInt.asUintN(64, impl(args));
    lo[0] = Number(r0 & 0xffffffffn) | 0;
    hi[0] = Number(r0 >> 32n) | 0;
  }

  protected callHelper(id: number, pc: number): void {
    const spec = this.helpers?.get(id);
    if (spec === undefined) throw this.fault("bad-call", pc, `unknown helper ${id}`);
    this.callFn(spec, pc);
  }

  /** Slot of the helper call being executed, for faults raised by callbacks it starts. */
  protected callSite = 0;

  /**
   * Enters a new frame for a call at slot `at` (returning to `returnPc` of `returnCode`) into the
   * function at `target` of `targetCode`: saves r6..r10, checks the kernel's frame and combined
   * stack limits, points r10 at the new frame's stack.
   */
  protected pushFrame(
    at: number,
    returnPc: number,
    returnCode: LoadedCode,
    target: number,
    targetCode = returnCode,
  ): void {
    const lo = this.lo;
    const hi = this.hi;
    const depth = this.depth;
    if (depth + 1 >= MAX_CALL_FRAMES) {
      throw this.fault("call-depth", at, `the call stack of ${depth + 2} frames is too deep`);
    }
    const need = targetCode.depthAt[target];
    if (this.stackUsed + need > MAX_BPF_STACK) {
      throw this.fault(
        "stack-size",
        at,
        `combined stack size of ${depth + 2} calls is ${this.stackUsed + need}. Too large`,
      );
    }
    for (let r = 0; r < 5; r++) {
      this.savedLo[depth * 5 + r] = lo[6 + r];
      this.savedHi[depth * 5 + r] = hi[6 + r];
    }
    this.savedPc[depth] = returnPc;
    this.savedCode[depth] = returnCode;
    this.frameMain[depth + 1] = 0;
    this.depth = depth + 1;
    this.stackUsed += need;
    this.frameDepth[depth + 1] = need;
    this.mayGoto[depth + 1] = BPF_MAX_LOOPS;
    hi[10] = this.stacks[depth + 1].hi;
    lo[10] = REGION_LO_BASE + MAX_BPF_STACK;
  }

  /**
   * The exception boundary of a throw at the current depth: the deepest frame that runs a main
   * program, as bpf_stack_walker skips subprogram frames (kernel/bpf/helpers.c).
   */
  protected throwBoundary(): number {
    let d = this.depth;
    while (d > 0 && this.frameMain[d] === 0) d--;
    return d;
  }

  /**
   * Executes `start` from `startPc` until an `exit` at call depth `base`, following calls,
   * returns and tail calls; implemented by the instruction loop.
   */
  protected abstract execute(startPc: number, base: number, start: LoadedCode): void;
}
