/**
 * What a helper reaches through `env.runtime` while a program runs: the kernel host, the maps of
 * the program's object, the program type, and the context of the run in progress (the skb or
 * xdp_buff of a test run). One per loaded program; the test-run driver sets {@link ctx} before
 * each run. It plays the part of the kernel's `current`, `bpf_redirect_info` and the run
 * context a helper gets as its first argument.
 *
 * Also here: the argument accessors every helper uses, so that each helper validates its
 * arguments the same way and reads or writes BPF memory only through the bounds-checked
 * address space.
 */
import { TsbpfError } from "../errors.ts";
import type { SkbBuff } from "./ctx/skb.ts";
import type { XdpBuff } from "./ctx/xdp.ts";
import type { HelperEnv } from "./helpers.ts";
import type { KernelHost } from "./host.ts";
import { type BpfMap, type MapSet, RingbufMap } from "./maps/index.ts";

/** The context of the run in progress. */
export type RunContext =
  | { readonly kind: "none" }
  | { readonly kind: "skb"; readonly skb: SkbBuff }
  | { readonly kind: "xdp"; readonly xdp: XdpBuff }
  | { readonly kind: "raw"; readonly region: bigint };

/** No run in progress (helpers that need a context fail). */
export const NO_CONTEXT: RunContext = { kind: "none" };

/** The per-CPU `struct bpf_redirect_info` bpf_redirect and friends fill in. */
export interface RedirectInfo {
  ifindex: number;
  flags: number;
  /** The map of bpf_redirect_map, or null for an ifindex redirect. */
  map: BpfMap | null;
}

/** The runtime state of one loaded program, as its helpers see it. */
export class ProgramRuntime {
  readonly host: KernelHost;
  readonly maps: MapSet;
  /** BPF_PROG_TYPE_* */
  readonly progType: number;
  readonly progName: string;
  /** The context of the run in progress. */
  ctx: RunContext = NO_CONTEXT;
  readonly redirect: RedirectInfo = { ifindex: 0, flags: 0, map: null };
  /** bpf_bprintf_nest_level: printf-like helpers may nest three deep. */
  printkNest = 0;

  constructor(host: KernelHost, maps: MapSet, progType: number, progName: string) {
    this.host = host;
    this.maps = maps;
    this.progType = progType;
    this.progName = progName;
  }

  /** The ring buffer whose data area holds `addr` (a sample pointer), or null. */
  ringbufOf(addr: bigint): RingbufMap | null {
    const where = this.maps.space.lookup(addr, 1);
    if (where === null) return null;
    for (const m of this.maps) if (m instanceof RingbufMap && m.data === where.region) return m;
    return null;
  }
}

/** A helper called with an argument the kernel's verifier would have refused. */
export class HelperArgError extends TsbpfError {
  readonly helper: string;
  constructor(helper: string, message: string) {
    super(`${helper}: ${message}`);
    this.helper = helper;
  }
}

/** The ProgramRuntime of the running program; throws when the engine was set up without one. */
export function runtimeOf(env: HelperEnv, helper: string): ProgramRuntime {
  const rt = env.runtime;
  if (!(rt instanceof ProgramRuntime)) throw new HelperArgError(helper, "no tsbpf runtime attached to this engine");
  return rt;
}

/** The map a program passed (a map handle address); throws for anything else. */
export function mapArg(env: HelperEnv, addr: bigint, helper: string): BpfMap {
  const map = runtimeOf(env, helper).maps.mapByAddress(addr);
  if (map === null)
    throw new HelperArgError(helper, `0x${addr.toString(16)} is not a map (${env.space.describe(addr)})`);
  return map;
}

/** A copy of `len` bytes of BPF memory at `addr` (bounds-checked; faults propagate). */
export function readMem(env: HelperEnv, addr: bigint, len: number): Uint8Array {
  return env.space.bytesAt(addr, len).slice();
}

/** Writes `bytes` to BPF memory at `addr` (bounds- and write-checked). */
export function writeMem(env: HelperEnv, addr: bigint, bytes: Uint8Array): void {
  env.space.bytesAt(addr, bytes.length, true).set(bytes);
}

/** The skb of the running program, checking that `ctxAddr` is its context. */
export function skbArg(env: HelperEnv, ctxAddr: bigint, helper: string): SkbBuff {
  const rt = runtimeOf(env, helper);
  if (rt.ctx.kind !== "skb") throw new HelperArgError(helper, "the program is not running on an skb");
  const skb = rt.ctx.skb;
  if (ctxAddr !== skb.ctx.address(0)) throw new HelperArgError(helper, "r1 is not the context pointer");
  return skb;
}

/** The xdp_buff of the running program, checking that `ctxAddr` is its context. */
export function xdpArg(env: HelperEnv, ctxAddr: bigint, helper: string): XdpBuff {
  const rt = runtimeOf(env, helper);
  if (rt.ctx.kind !== "xdp") throw new HelperArgError(helper, "the program is not running on an xdp_buff");
  const xdp = rt.ctx.xdp;
  if (ctxAddr !== xdp.ctx.address(0)) throw new HelperArgError(helper, "r1 is not the context pointer");
  return xdp;
}

/** The low 32 bits of a register as an unsigned number (a `u32` parameter). */
export function u32(v: bigint): number {
  return Number(v & 0xffffffffn);
}

/** The low 32 bits of a register as a signed number (an `int` parameter). */
export function s32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

/** A size argument: the full 64-bit register must be a safe non-negative integer. */
export function sizeArg(v: bigint, helper: string, max = 0x7fffffff): number {
  const u = BigInt.asUintN(64, v);
  if (u > BigInt(max)) throw new HelperArgError(helper, `size ${u} is too large`);
  return Number(u);
}

/** A helper's int result as the 64-bit r0 value (sign-extended). */
export function ret(v: number): bigint {
  return BigInt.asUintN(64, BigInt(v));
}
