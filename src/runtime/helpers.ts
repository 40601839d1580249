/**
 * Registries of the functions a BPF program may call: helpers by numeric id (`call 1`) and
 * kfuncs by name (`call` with src = BPF_PSEUDO_KFUNC_CALL, imm = a BTF id the loader maps to a
 * name).
 *
 * Each entry carries its prototype in the spirit of the kernel's `struct bpf_func_proto` and
 * `btf_func_model`: the argument kinds and the return kind. Engines only use `fn`; the verifier
 * uses the prototype.
 */
import { TsbpfError } from "../errors.ts";
import type { AddressSpace } from "./memory.ts";

/** Argument kinds (a subset of the kernel's `enum bpf_arg_type`, spelled for reading). */
export type HelperArgType =
  | "anything" // ARG_ANYTHING: any scalar or pointer
  | "scalar" // a known scalar
  | "const-size" // ARG_CONST_SIZE
  | "const-size-or-zero" // ARG_CONST_SIZE_OR_ZERO
  | "ptr-to-mem" // ARG_PTR_TO_MEM (readable)
  | "ptr-to-uninit-mem" // ARG_PTR_TO_UNINIT_MEM (written by the helper)
  | "ptr-to-ctx" // ARG_PTR_TO_CTX
  | "const-map-ptr" // ARG_CONST_MAP_PTR
  | "ptr-to-map-key" // ARG_PTR_TO_MAP_KEY
  | "ptr-to-map-value" // ARG_PTR_TO_MAP_VALUE
  | "ptr-to-func" // ARG_PTR_TO_FUNC (callback)
  | "ptr-to-stack-or-null" // ARG_PTR_TO_STACK_OR_NULL
  | "ptr-to-spin-lock" // ARG_PTR_TO_SPIN_LOCK
  | "ptr-to-alloc-mem" // ARG_PTR_TO_ALLOC_MEM (ringbuf record)
  | "const-alloc-size-or-zero"; // ARG_CONST_ALLOC_SIZE_OR_ZERO

/** Return kinds (a subset of the kernel's `enum bpf_return_type`). */
export type HelperRetType =
  | "integer" // RET_INTEGER
  | "void" // RET_VOID
  | "ptr-to-map-value-or-null" // RET_PTR_TO_MAP_VALUE_OR_NULL
  | "ptr-to-alloc-mem-or-null" // RET_PTR_TO_RINGBUF_MEM_OR_NULL
  | "ptr-to-mem-or-null";

/** What a helper or kfunc can reach while it runs; the engine running the program provides it. */
export interface HelperEnv {
  /** The program's address space: read and write BPF memory through it (bounds-checked). */
  readonly space: AddressSpace;
  /** Anything the runtime attaches (maps, the current context, output sinks ...). */
  readonly runtime: unknown;
  /**
   * Calls the BPF function at `fn` (a BPF_PSEUDO_FUNC code address, as passed to bpf_loop or
   * bpf_for_each_map_elem) with r1..r5 = `args` on a new frame, and returns its r0. Throws a
   * BpfFault if the callee faults.
   */
  callFunction(fn: bigint, args: readonly bigint[]): bigint;
  /**
   * Asks the engine to replace the running program by `target` once the helper returns
   * (bpf_tail_call). `target` is whatever the runtime stored in the prog array; the engine
   * resolves it through {@link TailCallResolver}. The helper then returns 0 to be ignored.
   */
  requestTailCall(target: unknown): void;
  /**
   * bpf_throw: unwinds every frame up to the nearest main-program frame (the exception
   * boundary) and runs its exception callback with `cookie`; the callback's r0 becomes that
   * program's return value. The engine takes over when the kfunc returns: it never resumes.
   */
  throwException(cookie: bigint): void;
}

/**
 * Turns a prog-array entry into something the engine can run. Engines call it when a helper
 * requested a tail call; it returns null when the entry is not runnable by that engine.
 */
export type TailCallResolver = (target: unknown) => unknown;

/**
 * A helper implementation. Arguments are r1..r5 as unsigned 64-bit values; the result becomes r0
 * (truncated to 64 bits). A helper that needs to stop the program throws a TsbpfError.
 */
export type HelperFn = (env: HelperEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint;

/** A registered helper or kfunc with its prototype. */
export interface HelperSpec {
  readonly name: string;
  readonly args: readonly HelperArgType[];
  readonly ret: HelperRetType;
  readonly fn: HelperFn;
}

/** Helpers by kernel id (`BPF_FUNC_*`). */
export class HelperRegistry {
  private readonly byId = new Map<number, HelperSpec>();

  /** Adds (or replaces) helper `id`; returns this for chaining. */
  register(id: number, spec: HelperSpec): this {
    if (!Number.isInteger(id) || id < 0) throw new TsbpfError(`helper id must be a non-negative integer, got ${id}`);
    this.byId.set(id, spec);
    return this;
  }

  /** The helper with kernel id `id`, or undefined. */
  get(id: number): HelperSpec | undefined {
    return this.byId.get(id);
  }

  /** Every registered id, ascending. */
  ids(): number[] {
    return [...this.byId.keys()].sort((a, b) => a - b);
  }
}

/** Kfuncs by name; the loader gives each referenced name a BTF id, the engines look up by id. */
export class KfuncRegistry {
  private readonly byName = new Map<string, HelperSpec>();
  private readonly idToName = new Map<number, string>();
  private readonly nameToId = new Map<string, number>();

  /** Adds (or replaces) kfunc `spec.name`. */
  register(spec: HelperSpec): this {
    this.byName.set(spec.name, spec);
    return this;
  }

  /** The kfunc called `name`, or undefined. */
  get(name: string): HelperSpec | undefined {
    return this.byName.get(name);
  }

  /** Binds BTF id `id` (the `imm` of the call instruction) to kfunc `name`. */
  bindId(id: number, name: string): void {
    this.idToName.set(id, name);
    this.nameToId.set(name, id);
  }

  /** The id bound to `name`, or undefined. */
  idOf(name: string): number | undefined {
    return this.nameToId.get(name);
  }

  /** The kfunc bound to BTF id `id`, or undefined. */
  byId(id: number): HelperSpec | undefined {
    const name = this.idToName.get(id);
    return name === undefined ? undefined : this.byName.get(name);
  }
}
