/**
 * A loaded BPF object: what libbpf's bpf_object__load leaves behind, made runnable. Creating a
 * {@link BpfObject} from an ObjectSpec
 *
 *   1. verifies every autoloaded program with the modelled kernel's verifier (src/verifier): a
 *      program the kernel would reject is refused with its VerifierError (the kernel's message,
 *      instruction index and source line), so it never runs; then checks what the runtime
 *      itself must provide: each helper its program type may call (the kernel's
 *      `get_func_proto`), each kfunc, each map reference a map of the object;
 *   2. builds one engine per program on a single address space, with the helpers of its type,
 *      an LD_IMM64 resolver turning BPF_PSEUDO_MAP_IDX / _IDX_VALUE into map handles and
 *      global-data addresses, and a tail-call resolver turning prog-array entries into the
 *      target program's engine;
 *   3. creates every map (bpf_object__create_maps) and fills its initial contents: global data
 *      images, and the prog_array / map-in-map slots of `.maps` initialisers.
 *
 * The user side mirrors bpftool: `setMapEntry` is `bpftool map update`, `dumpMap` is
 * `bpftool map dump`, `testRun` is `bpftool prog run`.
 *
 * Objects are read for the runtime with {@link openObjectSpec} (or {@link BpfObject.open}): the
 * loader with the modelled kernel's BTF (kernel-btf/) as the CO-RE target unless another is given,
 * as libbpf takes the running kernel's.
 */
import type { Btf } from "../btf/btf.ts";
import { CORE_POISON_IMM } from "../btf/constants.ts";
import { LoadError, MapError, TsbpfError, VerifierError } from "../errors.ts";
import { BPF_FUNC_MAX_ID, funcIdName } from "../isa/helper-ids.ts";
import {
  BPF_CALL_OP,
  BPF_LD_IMM64,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
} from "../isa/opcodes.ts";
import { sourceLineOf } from "../object/lines.ts";
import { type LoadOptions, loadObjectSpec } from "../object/loader.ts";
import type { ObjectSpec, ProgramSpec } from "../object/spec.ts";
import { BPF_ANY, BPF_MAP_TYPE_ARRAY, BPF_PROG_TYPE_EXT, MAP_TYPE_NAMES, PROG_TYPE_NAMES } from "../object/uapi.ts";
import { type KernelSymbols, type KernelVersion, type VerifiedProgram, verifyProgram } from "../verifier/index.ts";
import type { EngineFactory, LdImm64Resolver, ProgramEngine } from "./engine.ts";
import { EINVAL } from "./errno.ts";
import { funcProto, helperAllowed, helpersFor } from "./func-proto.ts";
import type { HelperRegistry, KfuncRegistry } from "./helpers.ts";
import { type HostOptions, KernelHost, type TraceRecord } from "./host.ts";
import { bundledKernelBtf } from "./kernel-btf/index.ts";
import { defaultKfuncs } from "./kfuncs.ts";
import { ArrayMap, type BpfMap, FdArrayMap, HashMap, type MapRecord, MapSet, roundUp8 } from "./maps/index.ts";
import { AddressSpace } from "./memory.ts";
import { ProgramRuntime } from "./program-runtime.ts";
import { type TestRunOptions, type TestRunResult, type TestRunTarget, testRun } from "./test-run.ts";

/** How to instantiate an object. */
export interface ObjectOptions {
  /** Builds each program's engine (the interpreter, or a JIT back end). */
  readonly engine: EngineFactory;
  /** The simulated kernel, or options for a new one. */
  readonly host?: KernelHost | HostOptions;
  /** Kfunc implementations by name (default: {@link defaultKfuncs}). */
  readonly kfuncs?: KfuncRegistry;
  /** BTF facts per map name (the offset of a bpf_spin_lock in the value). */
  readonly mapRecords?: ReadonlyMap<string, MapRecord>;
  /** Instruction budget of one run. */
  readonly budget?: number;
  /** LRU free-target rule of the maps (see MapContext). */
  readonly lruFreeTarget?: "scaled" | "fixed";
  /**
   * Verify every program before it may run (default true). Only tests of the runtime's own
   * fault handling, which must run programs the kernel would never accept, turn it off.
   */
  readonly verify?: boolean;
  /** The kernel whose verifier decides (messages and rules; default "6.12", the target). */
  readonly kernel?: KernelVersion;
  /**
   * freplace: the loaded program whose global functions this object's extension programs
   * (SEC("freplace/FUNC")) replace — libbpf's `bpf_program__set_attach_target(prog, fd, FUNC)`.
   * The object then shares the target's kernel and address space, and each extension is
   * attached as it is loaded: every call of FUNC in the target runs the extension instead,
   * which is its own exception boundary.
   */
  readonly attachTarget?: BpfProgram;
  /** The function of `attachTarget` to replace, when the section name does not say it. */
  readonly attachFunction?: string;
}

/**
 * Reads an object file for this runtime (libbpf's open, plus the load-time relocations): the
 * loader's {@link loadObjectSpec} with `targetBtf` defaulting to the modelled kernel's bundled BTF
 * ({@link bundledKernelBtf}); pass `loadKernelBtf(path)` to relocate against another kernel's.
 */
export function openObjectSpec(bytes: Uint8Array, opts: LoadOptions = {}): ObjectSpec {
  return loadObjectSpec(bytes, { ...opts, targetBtf: opts.targetBtf ?? bundledKernelBtf() });
}

/** How to open and instantiate an object file ({@link BpfObject.open}). */
export interface OpenOptions extends ObjectOptions {
  /** The object's file name (gives the object its libbpf name). */
  readonly fileName?: string;
  /** The CO-RE target (default: the bundled kernel BTF). */
  readonly targetBtf?: Btf;
}

/** One map entry as hex strings, as `bpftool map dump` lists it. */
export interface HexEntry {
  readonly key: string;
  readonly value: string;
}

/** A loaded program: its spec, engine and helper runtime. */
export class BpfProgram implements TestRunTarget {
  readonly spec: ProgramSpec;
  /** The program id (also its "fd" in prog_array updates); 1, 2, ... in object order. */
  readonly id: number;
  readonly runtime: ProgramRuntime;
  readonly engine: ProgramEngine;
  readonly space: AddressSpace;
  /** The helpers this program's type may call. */
  readonly helpers: HelperRegistry;
  /** What the verifier left of the program (null when the object was loaded without verifying). */
  readonly verified: VerifiedProgram | null;

  constructor(
    spec: ProgramSpec,
    id: number,
    runtime: ProgramRuntime,
    engine: ProgramEngine,
    space: AddressSpace,
    helpers: HelperRegistry,
    verified: VerifiedProgram | null,
  ) {
    this.spec = spec;
    this.id = id;
    this.runtime = runtime;
    this.engine = engine;
    this.space = space;
    this.helpers = helpers;
    this.verified = verified;
  }

  get name(): string {
    return this.spec.name;
  }

  /** BPF_PROG_TYPE_* */
  get type(): number {
    return this.spec.type;
  }

  get expectedAttachType(): number {
    return this.spec.expectedAttachType;
  }

  /** BPF_PROG_TEST_RUN on this program. */
  testRun(options: TestRunOptions = {}): TestRunResult {
    return testRun(this, options);
  }
}

/** Parses a hex string ("0a 00 00 00", "0a000000" or "0x0a...") into bytes. */
export function parseHex(text: string, what: string): Uint8Array {
  const clean = text.replace(/0x/gi, "").replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new TsbpfError(`${what}: "${text}" is not hex bytes`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bytes as lowercase hex without separators. */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** An ObjectSpec instantiated: maps created and filled, programs ready to run. */
export class BpfObject {
  readonly spec: ObjectSpec;
  readonly space: AddressSpace;
  readonly host: KernelHost;
  readonly maps: MapSet;
  readonly kfuncs: KfuncRegistry;
  /** The loaded (autoload) programs, in object order. */
  readonly programs: readonly BpfProgram[];
  /** The object's maps in ObjectSpec.maps order (what BPF_PSEUDO_MAP_IDX indexes). */
  private readonly mapList: BpfMap[] = [];

  private constructor(spec: ObjectSpec, options: ObjectOptions) {
    this.spec = spec;
    const target = options.attachTarget;
    this.space = target?.space ?? new AddressSpace();
    this.host =
      target?.runtime.host ?? (options.host instanceof KernelHost ? options.host : new KernelHost(options.host));
    this.kfuncs = options.kfuncs ?? defaultKfuncs(spec.btf);
    const byId = new Map<number, BpfProgram>();
    this.maps = new MapSet({
      space: this.space,
      nrCpus: this.host.nrCpus,
      lruFreeTarget: options.lruFreeTarget,
      userCpu: this.host.cpu,
      progByFd: (fd) => byId.get(fd) ?? null,
      progId: (p) => (p instanceof BpfProgram ? p.id : 0),
    });
    const ldImm64: LdImm64Resolver = (pc, src, imm, nextImm) => this.resolveLdImm64(pc, src, imm, nextImm);
    const tailCalls = (target: unknown) =>
      target instanceof BpfProgram && target.space === this.space ? target.engine : null;
    const programs: BpfProgram[] = [];
    for (const p of spec.programs) {
      if (!p.autoload) continue;
      const replaced = p.type === BPF_PROG_TYPE_EXT ? extensionTarget(p, target, options.attachFunction) : null;
      const verified =
        options.verify === false ? null : verify(spec, p, options.kernel ?? "6.12", { replaces: replaced?.program });
      const helpers = this.prepare(p);
      const runtime = new ProgramRuntime(this.host, this.maps, p.type, p.name);
      const engine = options.engine(p.insns, {
        space: this.space,
        helpers,
        kfuncs: this.kfuncs,
        ldImm64,
        tailCalls,
        runtime,
        budget: options.budget,
        exceptionCallback: exceptionCallbackOf(p),
      });
      const prog = new BpfProgram(p, programs.length + 1, runtime, engine, this.space, helpers, verified);
      byId.set(prog.id, prog);
      programs.push(prog);
      if (replaced !== null) {
        replaced.program.engine.replaceFunction(replaced.start, (args) => engine.run({ args }).r0);
      }
    }
    this.programs = programs;
    try {
      this.mapList = this.maps.createAll(spec.maps, {
        records: options.mapRecords,
        resolveProgram: (name) => programs.find((q) => q.name === name) ?? null,
      });
    } catch (e) {
      if (e instanceof MapError) throw new LoadError(`creating maps: ${e.message}`, {}, { cause: e });
      throw e;
    }
  }

  /** bpf_object__load: instantiates `spec` (throws LoadError for what the kernel would refuse). */
  static load(spec: ObjectSpec, options: ObjectOptions): BpfObject {
    return new BpfObject(spec, options);
  }

  /** bpf_object__open_mem + bpf_object__load: {@link openObjectSpec}, then {@link BpfObject.load}. */
  static open(bytes: Uint8Array, options: OpenOptions): BpfObject {
    return new BpfObject(openObjectSpec(bytes, { fileName: options.fileName, targetBtf: options.targetBtf }), options);
  }

  /**
   * The load-time checks of one program (the verifier's check_helper_call / check_kfunc_call /
   * ld_imm64 resolution, without the data-flow analysis): returns its helper registry.
   */
  private prepare(p: ProgramSpec): HelperRegistry {
    const insns = p.insns;
    const where = (pc: number) => ({ section: p.section, insn: pc });
    const typeName = PROG_TYPE_NAMES[p.type] ?? `type ${p.type}`;
    for (let pc = 0; pc < insns.length; pc++) {
      const code = insns.code[pc];
      const src = insns.src[pc];
      const imm = insns.imm[pc];
      if (code === BPF_CALL_OP) {
        if (src === 0) {
          // A CO-RE relocation that found no target: the verifier rejects it ("invalid func
          // unknown#195896080") only where it is reachable, which this check cannot know, so it
          // is left to the engine, which faults if it gets there.
          if (imm === CORE_POISON_IMM) continue;
          if (imm <= 0 || imm >= BPF_FUNC_MAX_ID)
            throw new LoadError(`${p.name}: invalid func unknown#${imm}`, where(pc));
          if (funcProto(p.type, imm) === undefined) {
            throw new LoadError(
              `${p.name}: program of type ${typeName} cannot use helper ${funcIdName(imm)}#${imm} in this runtime`,
              where(pc),
            );
          }
        } else if (src === BPF_PSEUDO_KFUNC_CALL) {
          const name = p.kfuncs.get(imm);
          if (name === undefined) throw new LoadError(`${p.name}: kfunc call with unknown BTF id ${imm}`, where(pc));
          if (this.kfuncs.get(name) === undefined) {
            throw new LoadError(`${p.name}: kfunc ${name} is not supported by this runtime`, where(pc));
          }
          const bound = this.kfuncs.byId(imm);
          if (bound !== undefined && bound.name !== name) {
            throw new LoadError(
              `${p.name}: kfunc id ${imm} is ${name} here but ${bound.name} in another program`,
              where(pc),
            );
          }
          this.kfuncs.bindId(imm, name);
        } else if (src !== BPF_PSEUDO_CALL) {
          throw new LoadError(`${p.name}: call with unknown source ${src}`, where(pc));
        }
      } else if (code === BPF_LD_IMM64) {
        if (src === BPF_PSEUDO_MAP_IDX || src === BPF_PSEUDO_MAP_IDX_VALUE) {
          const m = this.spec.maps[imm];
          if (m === undefined) throw new LoadError(`${p.name}: map index ${imm} out of range`, where(pc));
          if (src === BPF_PSEUDO_MAP_IDX_VALUE) {
            const off = insns.imm[pc + 1] >>> 0;
            if (m.type !== BPF_MAP_TYPE_ARRAY) {
              throw new LoadError(
                `${p.name}: no direct value access support for map ${m.name} (${MAP_TYPE_NAMES[m.type] ?? m.type})`,
                where(pc),
              );
            }
            if (off >= m.valueSize) {
              throw new LoadError(
                `${p.name}: invalid access to map value pointer, value_size=${m.valueSize} off=${off}`,
                where(pc),
              );
            }
          }
        } else if (src !== 0 && src !== BPF_PSEUDO_FUNC) {
          throw new LoadError(`${p.name}: ld_imm64 with unsupported pseudo source ${src}`, where(pc));
        }
        pc++;
      }
    }
    return helpersFor(p.type);
  }

  /** The LD_IMM64 resolver every engine of this object uses. */
  private resolveLdImm64(pc: number, src: number, imm: number, nextImm: number): bigint {
    const map = this.mapList[imm];
    if (map === undefined) throw new TsbpfError(`insn ${pc}: map index ${imm} is not a map of this object`);
    if (src === BPF_PSEUDO_MAP_IDX) return map.address;
    if (src === BPF_PSEUDO_MAP_IDX_VALUE && map instanceof ArrayMap && !map.percpu) {
      return map.lookupElemPtr(new Uint8Array(4), 0) + BigInt(nextImm >>> 0);
    }
    throw new TsbpfError(`insn ${pc}: pseudo source ${src} is not resolvable here`);
  }

  /** The loaded program called `name`. */
  program(name: string): BpfProgram {
    const p = this.programs.find((q) => q.name === name);
    if (p === undefined) {
      const known = this.programs.map((q) => q.name).join(", ");
      throw new TsbpfError(`no loaded program named ${name} (have: ${known || "none"})`);
    }
    return p;
  }

  /** The map called `name` (libbpf's name: `.bss`, `.rodata`, a variable name ...). */
  map(name: string): BpfMap {
    const m = this.maps.get(name);
    if (m === undefined) throw new TsbpfError(`no map named ${name}`);
    return m;
  }

  /**
   * `bpftool map update`: sets `key` (hex; null for queues and stacks) to `value` (hex), or,
   * for a prog_array or map-in-map, to the program or map named by "@name". A per-CPU map given
   * one value_size value gets it on every CPU. Throws MapError with the syscall's errno.
   */
  setMapEntry(mapName: string, keyHex: string | null, valueHex: string): void {
    const map = this.map(mapName);
    const key = keyHex === null ? null : parseHex(keyHex, `map ${mapName} key`);
    if (valueHex.startsWith("@")) {
      const target = valueHex.slice(1);
      const ref: unknown = this.programs.find((p) => p.name === target) ?? this.maps.get(target) ?? null;
      if (ref === null) throw new TsbpfError(`map ${mapName}: no program or map named ${target}`);
      if (map instanceof FdArrayMap) map.setRef(key ?? new Uint8Array(0), ref);
      else if (map instanceof HashMap && ref !== null && !(ref instanceof BpfProgram)) {
        map.setRef(key ?? new Uint8Array(0), ref as BpfMap);
      } else throw new TsbpfError(`map ${mapName} (${map.typeName}) does not hold programs or maps`);
      return;
    }
    let value = parseHex(valueHex, `map ${mapName} value`);
    if (value.length === map.valueSize && map.userValueSize !== map.valueSize) {
      const full = new Uint8Array(map.userValueSize);
      for (let off = 0; off < full.length; off += roundUp8(map.valueSize)) full.set(value, off);
      value = full;
    }
    map.update(key, value, BPF_ANY);
  }

  /** `bpftool map delete`. */
  deleteMapEntry(mapName: string, keyHex: string | null): void {
    this.map(mapName).delete(keyHex === null ? null : parseHex(keyHex, `map ${mapName} key`));
  }

  /** `bpftool map dump`: every entry in BPF_MAP_GET_NEXT_KEY order, as hex. */
  dumpMap(mapName: string): HexEntry[] {
    return this.map(mapName)
      .entries()
      .map((e) => ({ key: toHex(e.key), value: toHex(e.value) }));
  }

  /** `bpftool prog run` of the program called `name`. */
  testRun(name: string, options: TestRunOptions = {}): TestRunResult {
    return this.program(name).testRun(options);
  }

  /** What bpf_trace_printk wrote, oldest first. */
  get trace(): readonly TraceRecord[] {
    return this.host.trace;
  }

  /** The trace pipe as text. */
  tracePipe(): string {
    return this.host.tracePipe();
  }
}

/**
 * Verifies program `p` of `spec` as `kernel` would load it (bpf_prog_load → bpf_check), with the
 * object's BTF and maps and the runtime's helper table; throws the kernel's rejection as a
 * VerifierError naming the program and the source line of the rejected instruction.
 */
export function verify(
  spec: ObjectSpec,
  p: ProgramSpec,
  kernel: KernelVersion,
  opts: { replaces?: BpfProgram; kernelSymbols?: KernelSymbols } = {},
): VerifiedProgram {
  const replaces = opts.replaces;
  const r = verifyProgram(p, {
    btf: spec.btf ?? undefined,
    maps: spec.maps,
    kernel,
    helperAvailable: helperAllowed,
    kernelSymbols: opts.kernelSymbols,
    // an extension is checked with its target's program type (the kernel's resolve_prog_type)
    ...(replaces !== undefined ? { progType: replaces.type, expectedAttachType: replaces.expectedAttachType } : {}),
  });
  if (r.ok) return r.prog;
  const line = r.error.insn >= 0 ? sourceLineOf(p, r.error.insn) : undefined;
  throw r.error.located(p.name, line);
}

/**
 * The function an extension program replaces (bpf_check_attach_target for BPF_PROG_TYPE_EXT):
 * `p.attachTo` of `target`, which must exist, be global — a static function may be inlined or
 * called with a private calling convention — and not be the target's exception callback, which
 * runs on the boundary's frame and must not be swapped out.
 */
function extensionTarget(
  p: ProgramSpec,
  target: BpfProgram | undefined,
  func = p.attachTo,
): { program: BpfProgram; start: number } {
  if (target === undefined) {
    throw new LoadError(`${p.name}: an freplace program needs its target program (ObjectOptions.attachTarget)`, {
      section: p.section,
    });
  }
  const f = target.spec.functions.find((fn) => fn.name === func);
  if (f === undefined) {
    throw new LoadError(`${p.name}: ${target.name} has no function ${func || "(none named)"}`, {
      section: p.section,
    });
  }
  const reject = (message: string) => new VerifierError(-1, [message], EINVAL, 0, { program: p.name });
  if (f.start !== 0 && f.start === exceptionCallbackOf(target.spec)) {
    throw reject("Extension programs cannot attach to exception callback");
  }
  if (f.start !== 0 && f.linkage !== "global") throw reject(`${f.name}() is not a global function`);
  return { program: target, start: f.start };
}

/**
 * The entry slot of the function a program's `exception_callback:NAME` decl tag names, or -1
 * when it has none (a throw then runs the verifier's default callback, which returns the cookie).
 */
export function exceptionCallbackOf(p: ProgramSpec): number {
  const prefix = "exception_callback:";
  const tags = p.declTags.filter((t) => t.startsWith(prefix));
  if (tags.length === 0) return -1;
  if (tags.length > 1) throw new LoadError("multiple exception callback tags for main subprog", { section: p.section });
  const name = tags[0].slice(prefix.length);
  const f = p.functions.find((fn) => fn.name === name);
  if (f === undefined)
    throw new LoadError(`exception callback '${name}' could not be found in BTF`, { section: p.section });
  return f.start;
}
