/**
 * The verifier environment (`struct bpf_verifier_env`, include/linux/bpf_verifier.h, v6.12):
 * the program, its subprograms, per-instruction facts (`insn_aux_data`), the explored states,
 * the pending branches and the log. Every check receives it, as in the kernel.
 *
 * Rejections are raised with {@link VerifierEnv.reject}, which prints the kernel's message and
 * throws a VerifierError carrying the instruction index and the whole log; `verifyProgram`
 * turns it into its result.
 */
import type { Btf } from "../btf/btf.ts";
import { VerifierError } from "../errors.ts";
import type { DecodedProgram } from "../isa/insn.ts";
import { formatMessage, type KernelVersion, type MessageId, messageText } from "./messages.ts";
import type { VerifierMap } from "./reg.ts";
import type { Checkpoint, VerifierState } from "./state.ts";

/** errno values the verifier returns (positive, as in the kernel's -E*). */
export const EPERM = 1;
export const EFAULT = 14;
export const EINVAL = 22;
export const E2BIG = 7;
export const EACCES = 13;
export const ENOENT = 2;
export const EEXIST = 17;
export const ENOTSUPP = 524;

/** An argument of a global function, as `btf_prepare_func_args` classifies it. */
export type SubprogArg =
  | { readonly kind: "ctx" }
  | { readonly kind: "anything" }
  | { readonly kind: "mem"; readonly size: number; readonly maybeNull: boolean };

/** One function of the program (`struct bpf_subprog_info` + `bpf_func_info_aux`). */
export interface SubprogInfo {
  /** First instruction. */
  start: number;
  name: string;
  /** BTF FUNC id from func_info, 0 without. */
  btfTypeId: number;
  linkage: "static" | "global" | "extern";
  /** Called back by a helper or kfunc (bpf_loop, timers ...) or the exception callback. */
  isCb: boolean;
  isAsyncCb: boolean;
  isExceptionCb: boolean;
  hasTailCall: boolean;
  tailCallReachable: boolean;
  hasLdAbs: boolean;
  /** Deepest stack use seen while verifying it (bytes, positive). */
  stackDepth: number;
  /** Global function: reached by a call, so verified on its own after main. */
  called: boolean;
  verified: boolean;
  /** Arguments from btf_prepare_func_args, null until computed. */
  args: readonly SubprogArg[] | null;
  /** The hidden default exception callback appended by do_misc_fixups. */
  hidden: boolean;
}

/** Per-instruction facts (`struct bpf_insn_aux_data` and the cfg marks). */
export class InsnAux {
  /** Visited by do_check on some path (`seen`). */
  readonly seen: Uint8Array;
  readonly prunePoint: Uint8Array;
  readonly forceCheckpoint: Uint8Array;
  readonly callsCallback: Uint8Array;
  /** KF_ITER_NEXT kfunc calls (`is_iter_next_insn`). */
  readonly iterNext: Uint8Array;
  /** For conditional jumps: 1 when the fall-through was followed, 2 when the jump, 3 both. */
  readonly branchOutcome: Uint8Array;
  /** Conditional jumps whose outcome the bounds decided on some path so far (see loopPrecision). */
  readonly condDecided: Uint8Array;
  /** Bumped whenever `condDecided` gains a jump. */
  condDecidedVersion = 0;
  /** liveness.ts `loopPrecision` cache and the `condDecidedVersion` it was computed for. */
  loopFacts: { readonly precise: Uint16Array; readonly preciseSlots: BigUint64Array } | null = null;
  loopFactsVersion = -1;
  /** Registers live on entry of each instruction (bit r), from liveness.ts. */
  readonly liveIn: Uint16Array;
  /** Registers whose scalar value must be compared exactly on entry (bit r), from liveness.ts. */
  readonly preciseIn: Uint16Array;
  /** The function's own stack slots likewise (bit i: fp-8(i+1)), from liveness.ts. */
  readonly preciseSlotsIn: BigUint64Array;
  /**
   * What a load or store went through (`ptr_type`), for convert_ctx_accesses: 0 another
   * pointer, 1 the context, 2 a kernel object read with fault handling (PROBE_MEM).
   */
  readonly ptrType: Uint8Array;
  /** Helper calls taking a map: the map (`map_ptr_state`), null when paths disagree (poisoned). */
  readonly callMap = new Map<number, VerifierMap | null>();
  /** `bpf_obj_new_impl` calls: the allocated object's size (`obj_new_size`). */
  readonly objNewSize = new Map<number, number>();
  /** `bpf_loop` calls: whether they can be inlined (`loop_inline_state`) and their callback. */
  readonly loopInline = new Map<number, { fit: boolean; subprog: number }>();

  constructor(n: number) {
    this.seen = new Uint8Array(n);
    this.prunePoint = new Uint8Array(n);
    this.forceCheckpoint = new Uint8Array(n);
    this.callsCallback = new Uint8Array(n);
    this.iterNext = new Uint8Array(n);
    this.branchOutcome = new Uint8Array(n);
    this.condDecided = new Uint8Array(n);
    this.liveIn = new Uint16Array(n).fill(0x7ff);
    this.preciseIn = new Uint16Array(n).fill(0x7ff);
    this.preciseSlotsIn = new BigUint64Array(n).fill((1n << 64n) - 1n);
    this.ptrType = new Uint8Array(n);
  }
}

/** A pending branch (`struct bpf_verifier_stack_elem`). */
export interface PendingBranch {
  readonly state: VerifierState;
  readonly insnIdx: number;
  readonly prevInsnIdx: number;
}

/** What the verifier is told about the program besides its instructions. */
export interface EnvConfig {
  readonly prog: DecodedProgram;
  readonly progType: number;
  readonly expectedAttachType: number;
  readonly kernel: KernelVersion;
  readonly btf: Btf | undefined;
  /** func_info records: (first insn, BTF FUNC id), sorted; empty without BTF. */
  readonly funcInfo: readonly { readonly insnOff: number; readonly typeId: number }[];
  /** Names of kfuncs by call imm. */
  readonly kfuncs: ReadonlyMap<number, string>;
  readonly maps: readonly VerifierMap[];
  readonly gplCompatible: boolean;
  readonly sleepable: boolean;
  readonly jitSupportsExceptions: boolean;
  readonly helperAvailable: (progType: number, id: number) => boolean;
  /** Function names by first instruction (from the object), for messages. */
  readonly functionNames: ReadonlyMap<number, string>;
  /** Contents of frozen read-only maps by map index (`.rodata`), read by `bpf_map_direct_read`. */
  readonly rodata: ReadonlyMap<number, Uint8Array>;
}

/** BPF_COMPLEXITY_LIMIT_INSNS */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;
/** BPF_COMPLEXITY_LIMIT_JMP_SEQ */
export const BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192;

/** The verifier's working state (see the module comment). */
export class VerifierEnv {
  readonly cfg: EnvConfig;
  readonly prog: DecodedProgram;
  readonly log: string[] = [];
  subprogs: SubprogInfo[] = [];
  readonly aux: InsnAux;
  /** `exception_callback_subprog`, 0 when there is none. */
  exceptionCallbackSubprog = 0;
  seenException = false;
  /** A store into packet data was verified (`seen_direct_write`): tc programs get a prologue. */
  seenDirectWrite = false;
  /** `__sk_buff->tstamp_type` was accessed (`prog->tstamp_type_access`). */
  tstampTypeAccess = false;
  /** `id_gen` */
  idGen = 0;
  insnProcessed = 0;
  jmpsProcessed = 0;
  prevJmpsProcessed = 0;
  prevInsnProcessed = 0;
  /** The instruction being checked (`insn_idx`). */
  insnIdx = 0;
  prevInsnIdx = -1;
  /** `explored_states`, by instruction. */
  readonly explored = new Map<number, Checkpoint[]>();
  /** Pending branches (`head`, LIFO). */
  readonly stack: PendingBranch[] = [];
  /** The current path (`cur_state`). */
  cur: VerifierState | null = null;
  /** Highest number of states stored at once, for statistics. */
  peakStates = 0;
  totalStates = 0;

  constructor(cfg: EnvConfig) {
    this.cfg = cfg;
    this.prog = cfg.prog;
    this.aux = new InsnAux(cfg.prog.length);
  }

  /** Where the current error block starts in the log (see VerifierError). */
  blockStart = 0;

  /** Appends the message `id` to the log (`verbose`). */
  verbose(id: MessageId, ...args: (number | bigint | string)[]): void {
    // a message with a newline is two lines of the log, as the kernel prints it
    for (const line of formatMessage(messageText(id, this.cfg.kernel), args).split("\n")) this.log.push(line);
    // progress lines, like the kernel's state dumps, end the previous block
    if (id === "VALIDATING" || id === "GLOBAL_ASSUMED_VALID") this.markBlock();
  }

  /** Starts a new error block: lines printed from now on belong to the next check. */
  markBlock(): void {
    this.blockStart = this.log.length;
  }

  /** Appends a line that is not a table message (state dumps and the like). */
  verboseRaw(line: string): void {
    this.log.push(line);
  }

  /** Prints message `id` and rejects the program with `errno` at the current instruction. */
  reject(errno: number, id: MessageId, ...args: (number | bigint | string)[]): never {
    this.verbose(id, ...args);
    return this.fail(errno);
  }

  /** Rejects with the log as it is (the reason was printed already). */
  fail(errno: number): never {
    throw new VerifierError(this.insnIdx, this.log.slice(), errno, this.blockStart);
  }

  /** The current path's state. */
  get state(): VerifierState {
    if (this.cur === null) {
      this.log.push("verifier bug: no state");
      return this.fail(EFAULT);
    }
    return this.cur;
  }

  /** The subprogram starting at `off` (`find_subprog`), or -1. */
  findSubprog(off: number): number {
    let lo = 0;
    let hi = this.subprogs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.subprogs[mid].start;
      if (s === off) return mid;
      if (s < off) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The subprogram containing instruction `insn` (`bpf_find_containing_subprog`). */
  containingSubprog(insn: number): number {
    let idx = 0;
    for (let i = 0; i < this.subprogs.length; i++) if (this.subprogs[i].start <= insn) idx = i;
    return idx;
  }

  /** First instruction after subprogram `i` (the next one's start, or the program's end). */
  subprogEnd(i: number): number {
    return i + 1 < this.subprogs.length ? this.subprogs[i + 1].start : this.prog.length;
  }

  /**
   * `push_stack`: queues a copy of the current state to be explored from `insnIdx` later, and
   * returns it (the caller adjusts it for that edge). The copy continues from the same
   * checkpoint, which now has one more path to wait for.
   */
  pushStack(insnIdx: number, prevInsnIdx: number): VerifierState {
    const st = this.state.clone();
    this.stack.push({ state: st, insnIdx, prevInsnIdx });
    if (this.stack.length > BPF_COMPLEXITY_LIMIT_JMP_SEQ) this.reject(E2BIG, "JMP_SEQ_TOO_COMPLEX", this.stack.length);
    if (st.parent !== null) st.parent.branches++;
    return st;
  }

  /** The bytes of a frozen read-only map, or null. */
  mapData(index: number): Uint8Array | null {
    return this.cfg.rodata.get(index) ?? null;
  }

  /** `subprog_name` */
  subprogName(i: number): string {
    const s = this.subprogs[i];
    return s.name;
  }

  /** `subprog_is_global` */
  isGlobal(i: number): boolean {
    return this.subprogs[i].linkage === "global";
  }
}
