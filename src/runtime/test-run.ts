/**
 * BPF_PROG_TEST_RUN, after net/bpf/test_run.c: builds the context a program type gets (an skb
 * for socket filters and tc, an xdp_buff for XDP, an argument array for raw tracepoints, a
 * free-form context for syscall programs), applies the user's ctx_in under the kernel's rules,
 * runs the program `repeat` times on the same context, and returns what the syscall copies out.
 *
 * The rules are those of the kernel test/fixtures/progs was recorded on (6.18, x86-64), which
 * the 6.12.y stable series shares for XDP (ctx_in.data_end may be below data_size_in, the rest
 * going to fragments; metadata up to 256 - sizeof(struct xdp_frame)) and for the ETH_HLEN
 * minimum; the recorded kernel also refuses an IPv4 / IPv6 frame too short for its IP header.
 * Architecture-dependent sizes (NET_IP_ALIGN) follow the host's `arch`.
 *
 * Every input error is a {@link TestRunError} carrying the errno the syscall returns. A program
 * fault (something the verifier would have refused) is the engine's BpfFault, not an errno.
 */
import { TsbpfError } from "../errors.ts";
import {
  BPF_PROG_TYPE_CGROUP_SKB,
  BPF_PROG_TYPE_LWT_IN,
  BPF_PROG_TYPE_LWT_OUT,
  BPF_PROG_TYPE_LWT_XMIT,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_ACT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_XDP,
  PROG_TYPE_NAMES,
} from "../object/uapi.ts";
import { csumFold, csumPartial } from "./csum.ts";
import {
  CHECKSUM_COMPLETE,
  ETH_HLEN,
  ETH_P_IP,
  ETH_P_IPV6,
  ethTypeTrans,
  LOOPBACK_DEV,
  type NetDevice,
  QDISC_CB_PRIV_LEN,
  SIZEOF_SK_BUFF_CTX,
  SKB_CTX,
  SkbBuff,
} from "./ctx/skb.ts";
import {
  MAX_SKB_FRAGS,
  SIZEOF_XDP_FRAME,
  SIZEOF_XDP_MD,
  SKB_SHARED_INFO_SIZE,
  XDP_MD,
  XDP_PACKET_HEADROOM,
  XDP_PAGE_SIZE,
  XdpBuff,
} from "./ctx/xdp.ts";
import type { EngineRunInput, ProgramEngine } from "./engine.ts";
import { E2BIG, EINVAL, ENODEV, ENOMEM, ENOSPC, ENOTSUPP, ENXIO, errnoName } from "./errno.ts";
import { xdpMetalenInvalid } from "./helper-impls/xdp.ts";
import type { AddressSpace, MemoryRegion } from "./memory.ts";
import { NO_CONTEXT, type ProgramRuntime, type RunContext } from "./program-runtime.ts";

/** PAGE_SIZE of the target. */
const PAGE_SIZE = 4096;
/** NET_SKB_PAD (64-byte cache lines); test-run skbs reserve it plus NET_IP_ALIGN. */
const NET_SKB_PAD = 64;
/** sizeof(struct iphdr), sizeof(struct ipv6hdr) */
const IPV4_HLEN = 20;
const IPV6_HLEN = 40;
/** GSO_LEGACY_MAX_SIZE, GSO_MAX_SEGS */
const GSO_LEGACY_MAX_SIZE = 65536;
const GSO_MAX_SEGS = 65535;
/** MAX_BPF_FUNC_ARGS: raw tracepoint contexts hold at most this many u64 arguments. */
const MAX_BPF_FUNC_ARGS = 12;
/** Test-run flag: run on the CPU given in `cpu` (raw tracepoints). */
export const BPF_F_TEST_RUN_ON_CPU = 1;
/** Test-run flag: transmit XDP frames for real (not supported here). */
export const BPF_F_TEST_XDP_LIVE_FRAMES = 2;
/** Test-run flag: make the skb CHECKSUM_COMPLETE and check its csum after the run. */
export const BPF_F_TEST_SKB_CHECKSUM_COMPLETE = 4;
/** BPF_XDP_DEVMAP, BPF_XDP_CPUMAP (enum bpf_attach_type). */
const BPF_XDP_DEVMAP = 33;
const BPF_XDP_CPUMAP = 35;
/** EBADMSG: the skb's CHECKSUM_COMPLETE csum no longer matches the packet. */
const EBADMSG = 74;

/** What a test run is given (the `test` part of `union bpf_attr`). */
export interface TestRunOptions {
  /** data_in: the packet (or nothing for raw tracepoint / syscall programs). */
  readonly dataIn?: Uint8Array;
  /** ctx_in: the context as the program type's uapi struct (struct __sk_buff, struct xdp_md ...). */
  readonly ctxIn?: Uint8Array;
  /** Whether ctx_out is requested; by default when ctxIn is given (as bpftool does). */
  readonly ctxOut?: boolean;
  /** data_size_out: the data_out buffer size; 0 or absent means "large enough". */
  readonly dataSizeOut?: number;
  /** ctx_size_out: the ctx_out buffer size; absent means "large enough". */
  readonly ctxSizeOut?: number;
  /** Runs on the same context (0 means 1). */
  readonly repeat?: number;
  readonly flags?: number;
  readonly cpu?: number;
  readonly batchSize?: number;
}

/** What the syscall reports. */
export interface TestRunResult {
  /** The program's return value as the u32 the kernel reports. */
  readonly retval: number;
  /** The full 64-bit r0 of the last run. */
  readonly r0: bigint;
  /** data_out (cut to dataSizeOut if that was smaller; the error then says ENOSPC). */
  readonly dataOut: Uint8Array;
  /** data_size_out as the kernel writes it back: the full output size. */
  readonly dataSizeOut: number;
  /** ctx_out, or null when not requested. */
  readonly ctxOut: Uint8Array | null;
  /** Mean wall-clock time of one run, in ns. */
  readonly durationNs: number;
  /** Instructions executed by the last run. */
  readonly insnCount: number;
}

/** BPF_PROG_TEST_RUN failed: `errno` is what the syscall returns (positive). */
export class TestRunError extends TsbpfError {
  readonly errno: number;
  readonly program: string;
  /** For ENOSPC: the results the kernel still copied out. */
  readonly partial: TestRunResult | null;
  constructor(program: string, errno: number, message: string, partial: TestRunResult | null = null) {
    super(`test run of ${program}: ${errnoName(errno)}: ${message}`);
    this.errno = errno;
    this.program = program;
    this.partial = partial;
  }
}

/** A loaded program as the test-run driver needs it. */
export interface TestRunTarget {
  readonly name: string;
  /** BPF_PROG_TYPE_* */
  readonly type: number;
  readonly expectedAttachType: number;
  readonly runtime: ProgramRuntime;
  readonly engine: ProgramEngine;
  readonly space: AddressSpace;
}

/**
 * bpf_prog_test_run: dispatches on the program type like `prog->aux->ops->test_run`; types
 * without a test_run op fail with ENOTSUPP.
 */
export function testRun(prog: TestRunTarget, options: TestRunOptions = {}): TestRunResult {
  switch (prog.type) {
    case BPF_PROG_TYPE_SOCKET_FILTER:
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
    case BPF_PROG_TYPE_CGROUP_SKB:
    case BPF_PROG_TYPE_LWT_IN:
    case BPF_PROG_TYPE_LWT_OUT:
    case BPF_PROG_TYPE_LWT_XMIT:
      return testRunSkb(prog, options);
    case BPF_PROG_TYPE_XDP:
      return testRunXdp(prog, options);
    case BPF_PROG_TYPE_RAW_TRACEPOINT:
      return testRunRawTp(prog, options);
    case BPF_PROG_TYPE_SYSCALL:
      return testRunSyscall(prog, options);
    default:
      throw new TestRunError(
        prog.name,
        ENOTSUPP,
        `${PROG_TYPE_NAMES[prog.type] ?? `type ${prog.type}`} programs have no test_run`,
      );
  }
}

function fail(prog: TestRunTarget, errno: number, message: string): never {
  throw new TestRunError(prog.name, errno, message);
}

/**
 * bpf_ctx_init: the context buffer (zeroed, `maxSize` bytes) when ctx_in or ctx_out is given,
 * with ctx_in copied in; bytes of ctx_in past `maxSize` must be zero (E2BIG otherwise,
 * bpf_check_uarg_tail_zero).
 */
function ctxInit(prog: TestRunTarget, o: TestRunOptions, maxSize: number): Uint8Array | null {
  const wantOut = o.ctxOut ?? o.ctxIn !== undefined;
  if (o.ctxIn === undefined && !wantOut) return null;
  const ctx = new Uint8Array(maxSize);
  if (o.ctxIn !== undefined) {
    for (let i = maxSize; i < o.ctxIn.length; i++) {
      if (o.ctxIn[i] !== 0) fail(prog, E2BIG, `ctx_in has non-zero bytes past the ${maxSize}-byte context`);
    }
    ctx.set(o.ctxIn.subarray(0, maxSize));
  }
  return ctx;
}

/** The run loop of bpf_test_run: `repeat` runs on one context, timed. */
function runRepeated(
  prog: TestRunTarget,
  ctx: RunContext,
  input: EngineRunInput,
  repeat: number,
): { r0: bigint; insnCount: number; durationNs: number } {
  const n = repeat === 0 ? 1 : repeat;
  const rt = prog.runtime;
  const saved = rt.ctx;
  rt.ctx = ctx;
  let r0 = 0n;
  let insnCount = 0;
  const t0 = process.hrtime.bigint();
  try {
    for (let i = 0; i < n; i++) {
      const r = prog.engine.run(input);
      r0 = r.r0;
      insnCount = r.insnCount;
    }
  } finally {
    rt.ctx = saved;
  }
  const spent = Number(process.hrtime.bigint() - t0) / n;
  return { r0, insnCount, durationNs: Math.min(Math.round(spent), 0xffffffff) };
}

/** bpf_test_finish + bpf_ctx_finish: applies the output buffer sizes (ENOSPC when too small). */
function finish(
  prog: TestRunTarget,
  o: TestRunOptions,
  out: { r0: bigint; insnCount: number; durationNs: number; data: Uint8Array; ctx: Uint8Array | null },
): TestRunResult {
  let enospc = "";
  let dataOut = out.data;
  if (o.dataSizeOut !== undefined && o.dataSizeOut > 0 && out.data.length > o.dataSizeOut) {
    dataOut = out.data.slice(0, o.dataSizeOut);
    enospc = `data_out needs ${out.data.length} bytes, data_size_out is ${o.dataSizeOut}`;
  }
  let ctxOut = out.ctx;
  if (ctxOut !== null && !enospc && o.ctxSizeOut !== undefined && ctxOut.length > o.ctxSizeOut) {
    ctxOut = ctxOut.slice(0, o.ctxSizeOut);
    enospc = `ctx_out needs ${out.ctx?.length} bytes, ctx_size_out is ${o.ctxSizeOut}`;
  }
  const result: TestRunResult = {
    retval: Number(out.r0 & 0xffffffffn),
    r0: out.r0,
    dataOut,
    dataSizeOut: out.data.length,
    ctxOut: enospc && ctxOut === out.ctx ? null : ctxOut,
    durationNs: out.durationNs,
    insnCount: out.insnCount,
  };
  if (enospc) throw new TestRunError(prog.name, ENOSPC, enospc, result);
  return result;
}

// ---------------------------------------------------------------------------------------------
// skb

/** The devices of the test run's network namespace: only lo. */
function deviceByIndex(ifindex: number): NetDevice | null {
  return ifindex === LOOPBACK_DEV.ifindex ? LOOPBACK_DEV : null;
}

/** True when ctx[from, to) is all zero (range_is_zero). */
function rangeIsZero(ctx: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (ctx[i] !== 0) return false;
  return true;
}

/**
 * convert___skb_to_skb: of struct __sk_buff only mark, priority, ingress_ifindex, ifindex,
 * cb[], tstamp, wire_len, gso_segs, gso_size and hwtstamp may be set; wire_len must lie
 * between the packet length and GSO_LEGACY_MAX_SIZE, gso_segs at most GSO_MAX_SEGS.
 * Returns a reason for EINVAL, or null.
 */
function skbCtxIn(ctx: Uint8Array, skb: SkbBuff): string | null {
  const C = SKB_CTX;
  const zeroRanges: ReadonlyArray<readonly [number, number]> = [
    [0, C.mark],
    [C.mark + 4, C.priority],
    [C.ifindex + 4, C.cb],
    [C.cb + QDISC_CB_PRIV_LEN, C.tstamp],
    [C.gso_segs + 4, C.gso_size],
    [C.gso_size + 4, C.hwtstamp],
  ];
  for (const [from, to] of zeroRanges) {
    if (!rangeIsZero(ctx, from, to)) return `__sk_buff bytes ${from}..${to - 1} may not be set`;
  }
  const v = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  skb.setU32(C.mark, v.getUint32(C.mark, true));
  skb.setU32(C.priority, v.getUint32(C.priority, true));
  skb.skbIif = v.getUint32(C.ingress_ifindex, true);
  skb.tstamp = v.getBigUint64(C.tstamp, true);
  skb.ctx.bytes.set(ctx.subarray(C.cb, C.cb + QDISC_CB_PRIV_LEN), C.cb);
  const wireLen = v.getUint32(C.wire_len, true);
  if (wireLen === 0) skb.pktLen = skb.len;
  else {
    if (wireLen < skb.len || wireLen > GSO_LEGACY_MAX_SIZE) return `wire_len ${wireLen} is out of range`;
    skb.pktLen = wireLen;
  }
  const gsoSegs = v.getUint32(C.gso_segs, true);
  if (gsoSegs > GSO_MAX_SEGS) return `gso_segs ${gsoSegs} is above GSO_MAX_SEGS`;
  skb.gsoSegs = gsoSegs;
  skb.gsoSize = v.getUint32(C.gso_size, true) & 0xffff;
  skb.hwtstamp = v.getBigUint64(C.hwtstamp, true);
  return null;
}

/** convert_skb_to___skb: the fields BPF_PROG_TEST_RUN copies back into ctx_out. */
function skbCtxOut(skb: SkbBuff, ctx: Uint8Array): void {
  const C = SKB_CTX;
  const v = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  v.setUint32(C.mark, skb.getU32(C.mark), true);
  v.setUint32(C.priority, skb.getU32(C.priority), true);
  v.setUint32(C.ingress_ifindex, skb.skbIif, true);
  v.setUint32(C.ifindex, skb.dev.ifindex, true);
  v.setBigUint64(C.tstamp, skb.tstamp, true);
  ctx.set(skb.ctx.bytes.subarray(C.cb, C.cb + QDISC_CB_PRIV_LEN), C.cb);
  v.setUint32(C.wire_len, skb.pktLen, true);
  v.setUint32(C.gso_segs, skb.gsoSegs, true);
  v.setBigUint64(C.hwtstamp, skb.hwtstamp, true);
}

/** The checksum of the packet from the network header on (the CHECKSUM_COMPLETE check). */
function networkCsum(skb: SkbBuff): number {
  return csumPartial(skb.buf.subarray(skb.networkHeader, skb.tail), 0);
}

/**
 * bpf_prog_test_run_skb: tc programs see the packet from the Ethernet header, the others from
 * the network header (eth_type_trans pulled it); afterwards an L3 program's data_out gets 14
 * zero bytes in front, where the kernel pushes a blank link-layer header back.
 */
function testRunSkb(prog: TestRunTarget, o: TestRunOptions): TestRunResult {
  const flags = o.flags ?? 0;
  if (flags & ~BPF_F_TEST_SKB_CHECKSUM_COMPLETE || (o.cpu ?? 0) !== 0 || (o.batchSize ?? 0) !== 0) {
    fail(prog, EINVAL, "flags, cpu and batch_size must be 0");
  }
  const data = o.dataIn ?? new Uint8Array(0);
  const size = data.length;
  const headroom = NET_SKB_PAD + prog.runtime.host.netIpAlign;
  if (size < ETH_HLEN) fail(prog, EINVAL, `data_in of ${size} bytes is shorter than an Ethernet header`);
  if (size > PAGE_SIZE - headroom - SKB_SHARED_INFO_SIZE) {
    fail(prog, EINVAL, `data_in of ${size} bytes does not fit a page with headroom and shared info`);
  }
  const ctx = ctxInit(prog, o, SIZEOF_SK_BUFF_CTX);
  const isL2 = prog.type === BPF_PROG_TYPE_SCHED_CLS || prog.type === BPF_PROG_TYPE_SCHED_ACT;

  const buf = new Uint8Array(headroom + ((size + 63) & ~63) + 64);
  buf.set(data, headroom);
  let dev = LOOPBACK_DEV;
  if (ctx !== null) {
    const ifindex = new DataView(ctx.buffer).getUint32(SKB_CTX.ifindex, true);
    if (ifindex > 1) {
      const d = deviceByIndex(ifindex);
      if (d === null) fail(prog, ENODEV, `no device with ifindex ${ifindex} (only lo exists)`);
      dev = d;
    }
  }
  const skb = new SkbBuff(prog.space, buf, headroom, size, dev);
  try {
    skb.protocol = ethTypeTrans(skb, dev);
    skb.resetNetworkHeader();
    // The IP header must be there for the test run's socket to take its addresses from it.
    if (skb.protocol === ETH_P_IP && skb.len < IPV4_HLEN) fail(prog, EINVAL, "IPv4 frame without a full IP header");
    if (skb.protocol === ETH_P_IPV6 && skb.len < IPV6_HLEN) fail(prog, EINVAL, "IPv6 frame without a full IPv6 header");
    if (isL2) skb.push(ETH_HLEN);
    skb.pktLen = skb.len;
    if (ctx !== null) {
      const why = skbCtxIn(ctx, skb);
      if (why !== null) fail(prog, EINVAL, why);
    }
    if (flags & BPF_F_TEST_SKB_CHECKSUM_COMPLETE) {
      skb.csum = networkCsum(skb);
      skb.ipSummed = CHECKSUM_COMPLETE;
    }
    skb.syncCtx();
    const run = runRepeated(
      prog,
      { kind: "skb", skb },
      { args: [skb.ctx.address(0)], ldAbs: (k, sz) => skb.loadHelper(k, sz) },
      o.repeat ?? 0,
    );
    if (flags & BPF_F_TEST_SKB_CHECKSUM_COMPLETE && csumFold(skb.csum) !== csumFold(networkCsum(skb))) {
      fail(prog, EBADMSG, "skb->csum does not match the packet after the run");
    }
    if (!isL2) {
      skb.reserve(ETH_HLEN, 0);
      skb.push(ETH_HLEN);
      skb.buf.fill(0, skb.data, skb.data + ETH_HLEN);
    }
    if (ctx !== null) skbCtxOut(skb, ctx);
    return finish(prog, o, { ...run, data: skb.bytes().slice(), ctx });
  } finally {
    release(prog.space, skb.region, skb.ctx);
  }
}

/** Unmaps a run's regions: stale pointers fault, and the bytes can be collected. */
function release(space: AddressSpace, ...regions: MemoryRegion[]): void {
  for (const r of regions) {
    space.unmap(r);
    r.resize(new Uint8Array(0));
  }
}

// ---------------------------------------------------------------------------------------------
// xdp

/**
 * bpf_prog_test_run_xdp (non-live mode): the packet starts XDP_PACKET_HEADROOM bytes into a
 * page; ctx_in.data bytes of data_in are metadata in front of it, ctx_in.data_end bytes go in
 * the linear part and the rest into fragments. data_out starts at data_meta.
 */
function testRunXdp(prog: TestRunTarget, o: TestRunOptions): TestRunResult {
  const flags = o.flags ?? 0;
  if (prog.expectedAttachType === BPF_XDP_DEVMAP || prog.expectedAttachType === BPF_XDP_CPUMAP) {
    fail(prog, EINVAL, "devmap and cpumap programs cannot be test-run");
  }
  if (flags & ~BPF_F_TEST_XDP_LIVE_FRAMES) fail(prog, EINVAL, "unknown flags");
  if (flags & BPF_F_TEST_XDP_LIVE_FRAMES) {
    throw new TsbpfError(`test run of ${prog.name}: live-frame mode (BPF_F_TEST_XDP_LIVE_FRAMES) is not supported`);
  }
  if ((o.batchSize ?? 0) !== 0) fail(prog, EINVAL, "batch_size needs BPF_F_TEST_XDP_LIVE_FRAMES");
  const data = o.dataIn ?? new Uint8Array(0);
  const sizeIn = data.length;
  const ctx = ctxInit(prog, o, SIZEOF_XDP_MD);
  let headroom = XDP_PACKET_HEADROOM;
  let metaSz = 0;
  let linear = sizeIn;
  const md = ctx === null ? null : new DataView(ctx.buffer);
  if (md !== null) {
    const mData = md.getUint32(XDP_MD.data, true);
    const mEnd = md.getUint32(XDP_MD.data_end, true);
    if (md.getUint32(XDP_MD.data_meta, true) !== 0) fail(prog, EINVAL, "xdp_md.data_meta must be 0");
    if (mEnd > sizeIn) fail(prog, EINVAL, `xdp_md.data_end ${mEnd} is past data_size_in ${sizeIn}`);
    if (mData > mEnd) fail(prog, EINVAL, "xdp_md.data is past data_end");
    metaSz = mData;
    if (xdpMetalenInvalid(metaSz) || metaSz > headroom - SIZEOF_XDP_FRAME) {
      fail(prog, EINVAL, `metadata of ${metaSz} bytes is not allowed`);
    }
    headroom -= metaSz;
    linear = mEnd;
  }
  const maxLinear = PAGE_SIZE - headroom - SKB_SHARED_INFO_SIZE;
  linear = Math.min(linear, maxLinear);
  if (sizeIn - metaSz < ETH_HLEN) fail(prog, EINVAL, `${sizeIn - metaSz} bytes of packet is less than ETH_HLEN`);

  const page = new Uint8Array(XDP_PAGE_SIZE);
  page.set(data.subarray(0, linear), headroom);
  const xdp = new XdpBuff(prog.space, page, headroom, linear, LOOPBACK_DEV.ifindex);
  try {
    if (md !== null) {
      // xdp_convert_md_to_buff
      if (md.getUint32(XDP_MD.egress_ifindex, true) !== 0) fail(prog, EINVAL, "egress_ifindex must be 0");
      const ingress = md.getUint32(XDP_MD.ingress_ifindex, true);
      const rxq = md.getUint32(XDP_MD.rx_queue_index, true);
      if (!ingress && rxq) fail(prog, EINVAL, "rx_queue_index needs an ingress_ifindex");
      if (ingress) {
        const dev = deviceByIndex(ingress);
        if (dev === null) fail(prog, ENODEV, `no device with ifindex ${ingress} (only lo exists)`);
        if (rxq >= 1) fail(prog, EINVAL, `lo has no rx queue ${rxq}`);
        xdp.ingressIfindex = dev.ifindex;
        xdp.rxQueueIndex = rxq;
      }
      xdp.data = xdp.dataMeta + metaSz;
    }
    for (let off = linear; off < sizeIn; ) {
      if (xdp.frags.length === MAX_SKB_FRAGS) fail(prog, ENOMEM, `more than ${MAX_SKB_FRAGS} fragments`);
      const n = Math.min(sizeIn - off, PAGE_SIZE);
      xdp.frags.push(data.slice(off, off + n));
      off += n;
    }
    xdp.syncCtx();
    const run = runRepeated(prog, { kind: "xdp", xdp }, { args: [xdp.ctx.address(0)] }, o.repeat ?? 0);
    if (md !== null && ctx !== null) {
      md.setUint32(XDP_MD.data, xdp.data - xdp.dataMeta, true);
      md.setUint32(XDP_MD.data_end, xdp.dataEnd - xdp.dataMeta, true);
    }
    return finish(prog, o, { ...run, data: xdp.output(), ctx });
  } finally {
    release(prog.space, xdp.region, xdp.ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// raw tracepoint, syscall

/**
 * bpf_prog_test_run_raw_tp: the context is ctx_in, an array of at most 12 u64 arguments; no
 * data, no ctx_out, no repeat.
 */
function testRunRawTp(prog: TestRunTarget, o: TestRunOptions): TestRunResult {
  if (o.dataIn !== undefined || o.ctxOut === true || (o.repeat ?? 0) !== 0 || (o.batchSize ?? 0) !== 0) {
    fail(prog, EINVAL, "raw tracepoint test runs take only ctx_in");
  }
  const ctxIn = o.ctxIn ?? new Uint8Array(0);
  if (ctxIn.length > MAX_BPF_FUNC_ARGS * 8) fail(prog, EINVAL, "ctx_in holds more than 12 arguments");
  const flags = o.flags ?? 0;
  const cpu = o.cpu ?? 0;
  if ((flags & BPF_F_TEST_RUN_ON_CPU) === 0 && cpu !== 0) fail(prog, EINVAL, "cpu needs BPF_F_TEST_RUN_ON_CPU");
  const host = prog.runtime.host;
  if (flags & BPF_F_TEST_RUN_ON_CPU && cpu >= host.nrCpus) fail(prog, ENXIO, `cpu ${cpu} is not online`);
  return runOnRawCtx(prog, o, ctxIn.slice(), flags & BPF_F_TEST_RUN_ON_CPU ? cpu : host.cpu, false);
}

/**
 * bpf_prog_test_run_syscall: the context is a copy of ctx_in (at most U16_MAX bytes) that is
 * copied back to the caller afterwards; no data, ctx_out, repeat or flags.
 */
function testRunSyscall(prog: TestRunTarget, o: TestRunOptions): TestRunResult {
  if (
    o.dataIn !== undefined ||
    o.ctxOut === true ||
    (o.repeat ?? 0) !== 0 ||
    (o.flags ?? 0) !== 0 ||
    (o.batchSize ?? 0) !== 0
  ) {
    fail(prog, EINVAL, "syscall program test runs take only ctx_in");
  }
  const ctxIn = o.ctxIn ?? new Uint8Array(0);
  if (ctxIn.length > 0xffff) fail(prog, EINVAL, "ctx_in is larger than 65535 bytes");
  return runOnRawCtx(prog, o, ctxIn.slice(), prog.runtime.host.cpu, true);
}

function runOnRawCtx(
  prog: TestRunTarget,
  o: TestRunOptions,
  ctx: Uint8Array,
  cpu: number,
  copyBack: boolean,
): TestRunResult {
  const region = ctx.length > 0 ? prog.space.map("ctx", ctx, { name: "ctx" }) : null;
  const host = prog.runtime.host;
  const savedCpu = host.cpu;
  host.cpu = cpu;
  try {
    const addr = region === null ? 0n : region.address(0);
    const ctxState: RunContext = region === null ? NO_CONTEXT : { kind: "raw", region: addr };
    const run = runRepeated(prog, ctxState, { args: [addr] }, 0);
    return finish(
      prog,
      { ...o, dataSizeOut: undefined },
      {
        ...run,
        durationNs: 0,
        data: new Uint8Array(0),
        ctx: copyBack && region !== null ? ctx.slice() : null,
      },
    );
  } finally {
    host.cpu = savedCpu;
    if (region !== null) release(prog.space, region);
  }
}
