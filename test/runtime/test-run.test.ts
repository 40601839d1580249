// BPF_PROG_TEST_RUN as net/bpf/test_run.c does it: the context each program type gets, the
// ctx_in rules and their errnos, what data_out and ctx_out contain, repeat, and the packet
// helpers that move the packet's boundaries.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Interpreter } from "../../src/interp/index.ts";
import { assemble } from "../../src/isa/asm.ts";
import type { ObjectSpec, ProgramSpec } from "../../src/object/spec.ts";
import {
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_XDP,
} from "../../src/object/uapi.ts";
import { SKB_CTX } from "../../src/runtime/ctx/skb.ts";
import type { EngineFactory } from "../../src/runtime/engine.ts";
import { E2BIG, EINVAL, ENODEV, ENOSPC, ENOTSUPP } from "../../src/runtime/errno.ts";
import type { HostOptions } from "../../src/runtime/host.ts";
import { BpfObject, parseHex, toHex } from "../../src/runtime/object.ts";
import { TestRunError, type TestRunOptions } from "../../src/runtime/test-run.ts";

const engine: EngineFactory = (program, options) => new Interpreter(program, options);

function prog(name: string, type: number, text: string): ProgramSpec {
  return {
    name,
    section: `test/${name}`,
    type,
    expectedAttachType: 0,
    attachTo: "",
    autoload: true,
    flags: 0,
    insns: assemble(text),
    functions: [],
    lineInfo: [],
    maps: [],
    kfuncs: new Map(),
    helpers: [],
    declTags: [],
    license: "GPL",
    kernelVersion: 0,
  };
}

/**
 * Loads hand-assembled programs without the verifier: these tests are about BPF_PROG_TEST_RUN's
 * own input rules and context handling, and some programs read packets without the bounds
 * checks the verifier would demand (the engine's bounds checks are what they exercise).
 */
function load(programs: ProgramSpec[], host: HostOptions = {}): BpfObject {
  const spec: ObjectSpec = { name: "t", programs, maps: [], license: "GPL", kernelVersion: 0, ksyms: [], btf: null };
  return BpfObject.load(spec, { engine, host, verify: false });
}

function errnoOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof TestRunError) return e.errno;
    throw e;
  }
  assert.fail("expected a TestRunError");
}

/** An Ethernet frame: zero destination (lo), ethertype, payload. */
function frame(ethertype: number, payload: number[], dst = [0, 0, 0, 0, 0, 0]): Uint8Array {
  return Uint8Array.from([...dst, 2, 0, 0, 0, 0, 1, ethertype >> 8, ethertype & 0xff, ...payload]);
}

/** An IPv4 header (20 bytes, protocol UDP) followed by `rest`. */
function ipv4(rest: number[] = []): number[] {
  return [0x45, 0, 0, 20 + rest.length, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, ...rest];
}

const ctx = (fields: Record<number, number>, size = 192) => {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  for (const [off, val] of Object.entries(fields)) v.setUint32(Number(off), val, true);
  return b;
};

/** r0 = (len << 16) | protocol (as loaded) from the __sk_buff. */
const LEN_PROTO = `
  r2 = *(u32 *)(r1 + 0x0)
  r3 = *(u32 *)(r1 + 0x10)
  r0 = r2
  r0 <<= 0x10
  r0 |= r3
  exit`;

describe("skb test runs (bpf_prog_test_run_skb)", () => {
  const obj = load([
    prog("tc", BPF_PROG_TYPE_SCHED_CLS, LEN_PROTO),
    prog("sock", BPF_PROG_TYPE_SOCKET_FILTER, LEN_PROTO),
    prog("ptype", BPF_PROG_TYPE_SCHED_CLS, "r0 = *(u32 *)(r1 + 0x4)\nexit"),
    prog("proto", BPF_PROG_TYPE_SCHED_CLS, "r0 = *(u32 *)(r1 + 0x10)\nexit"),
    prog(
      "first",
      BPF_PROG_TYPE_SCHED_CLS,
      "r2 = *(u32 *)(r1 + 0x4c)\nr3 = *(u32 *)(r1 + 0x50)\nr0 = *(u8 *)(r2 + 0xc)\nr3 -= r2\nr3 <<= 0x8\nr0 |= r3\nexit",
    ),
    prog(
      "writer",
      BPF_PROG_TYPE_SCHED_CLS,
      "r2 = *(u32 *)(r1 + 0x8)\nr2 += 0x1\n*(u32 *)(r1 + 0x8) = r2\nr2 = *(u32 *)(r1 + 0x30)\nr2 += 0x2\n*(u32 *)(r1 + 0x30) = r2\nr0 = 0x0\nexit",
    ),
    prog(
      "ldabs",
      BPF_PROG_TYPE_SOCKET_FILTER,
      "r6 = r1\nr0 = *(u16 *)skb[-0x1ffff4]\nr7 = r0\nr0 = *(u8 *)skb[-0xffff7]\nr7 <<= 0x8\nr0 |= r7\nexit",
    ),
    prog("oob", BPF_PROG_TYPE_SOCKET_FILTER, "r6 = r1\nr0 = *(u32 *)skb[0x100]\nr0 = 0x7\nexit"),
  ]);
  const ip = frame(0x0800, ipv4([1, 2, 3, 4]));

  test("tc sees the frame from the Ethernet header, socket filters from the IP header", () => {
    assert.equal(obj.testRun("tc", { dataIn: ip }).retval, (ip.length << 16) | 0x0008);
    const s = obj.testRun("sock", { dataIn: ip });
    assert.equal(s.retval, ((ip.length - 14) << 16) | 0x0008);
    // The kernel pushes a blank link-layer header back in front of an L3 program's packet.
    assert.equal(toHex(s.dataOut), "00".repeat(14) + toHex(ip.subarray(14)));
    assert.equal(toHex(obj.testRun("tc", { dataIn: ip }).dataOut), toHex(ip));
  });

  test("data and data_end are pointers into the packet", () => {
    assert.equal(obj.testRun("first", { dataIn: ip }).retval, (ip.length << 8) | 0x08);
  });

  test("pkt_type and protocol as eth_type_trans sets them on lo", () => {
    const pt = (dst: number[]) => obj.testRun("ptype", { dataIn: frame(0x88b5, [0], dst) }).retval;
    assert.equal(pt([0, 0, 0, 0, 0, 0]), 0); // HOST
    assert.equal(pt([2, 0, 0, 0, 0, 2]), 3); // OTHERHOST
    assert.equal(pt([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 2); // lo has no broadcast address
    assert.equal(pt([0x01, 0x00, 0x5e, 0, 0, 1]), 2); // MULTICAST
    const proto = (type: number, payload: number[]) => obj.testRun("proto", { dataIn: frame(type, payload) }).retval;
    assert.equal(proto(0x0040, [0xaa, 0xaa, 3]), 0x0400); // ETH_P_802_2, as loaded (__be16)
    assert.equal(proto(0x0040, [0xff, 0xff, 3]), 0x0100); // raw 802.3: ETH_P_802_3
  });

  test("input errors: short or oversized packets, truncated IP headers", () => {
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: new Uint8Array(13) })),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: new Uint8Array(3713) })),
      EINVAL,
    );
    assert.equal(obj.testRun("tc", { dataIn: new Uint8Array(3712) }).retval >>> 16, 3712);
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: frame(0x0800, ipv4().slice(0, 19)) })),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: frame(0x86dd, new Array(39).fill(0)) })),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: ip, flags: 1 })),
      EINVAL,
    );
  });

  test("ctx_in may set only the documented fields; ctx_out reports them", () => {
    const C = SKB_CTX;
    const r = obj.testRun("writer", {
      dataIn: ip,
      ctxIn: ctx({ [C.mark]: 5, [C.priority]: 6, [C.cb]: 10, [C.ingress_ifindex]: 9, [C.gso_size]: 100 }),
    });
    const out = new DataView((r.ctxOut ?? new Uint8Array(0)).buffer);
    assert.equal(out.getUint32(C.mark, true), 6);
    assert.equal(out.getUint32(C.priority, true), 6);
    assert.equal(out.getUint32(C.cb, true), 12);
    assert.equal(out.getUint32(C.ingress_ifindex, true), 9);
    assert.equal(out.getUint32(C.ifindex, true), 1);
    assert.equal(out.getUint32(C.wire_len, true), ip.length);
    assert.equal(out.getUint32(C.gso_size, true), 100); // echoed from ctx_in
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: ip, ctxIn: ctx({ [C.len]: 60 }) })),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: ip, ctxIn: ctx({ [C.tc_index]: 1 }) })),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: ip, ctxIn: ctx({ [C.wire_len]: 10 }) })),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: ip, ctxIn: ctx({ [C.gso_segs]: 65536 }) })),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: ip, ctxIn: ctx({ [C.ifindex]: 7 }) })),
      ENODEV,
    );
    assert.equal(
      errnoOf(() => obj.testRun("tc", { dataIn: ip, ctxIn: ctx({ 192: 1 }, 200) })),
      E2BIG,
    );
    assert.equal(obj.testRun("tc", { dataIn: ip, ctxIn: ctx({}, 200) }).ctxOut?.length, 192);
  });

  test("repeat runs on the same skb: context writes accumulate", () => {
    const r = obj.testRun("writer", { dataIn: ip, ctxIn: ctx({}), repeat: 3 });
    assert.equal(new DataView((r.ctxOut ?? new Uint8Array(0)).buffer).getUint32(SKB_CTX.mark, true), 3);
  });

  test("LD_ABS reaches the mac and network headers through SKF_LL_OFF / SKF_NET_OFF", () => {
    // ethertype (mac + 12) << 8 | IPv4 protocol (net + 9)
    assert.equal(obj.testRun("ldabs", { dataIn: ip }).retval, (0x0800 << 8) | 17);
    // An out-of-bounds load ends the program with 0.
    assert.equal(obj.testRun("oob", { dataIn: ip }).retval, 0);
  });

  test("data_size_out smaller than the packet: ENOSPC with the data cut", () => {
    try {
      obj.testRun("tc", { dataIn: ip, dataSizeOut: 10 });
      assert.fail("expected ENOSPC");
    } catch (e) {
      assert.ok(e instanceof TestRunError && e.errno === ENOSPC);
      assert.equal(e.partial?.dataOut.length, 10);
      assert.equal(e.partial?.dataSizeOut, ip.length);
    }
  });
});

describe("xdp test runs (bpf_prog_test_run_xdp)", () => {
  // r0 = (data_end - data) << 16 | (data - data_meta) << 8 | ingress_ifindex
  const FIELDS = `
    r2 = *(u32 *)(r1 + 0x0)
    r3 = *(u32 *)(r1 + 0x4)
    r4 = *(u32 *)(r1 + 0x8)
    r5 = *(u32 *)(r1 + 0xc)
    r3 -= r2
    r2 -= r4
    r0 = r3
    r0 <<= 0x8
    r0 |= r2
    r0 <<= 0x8
    r0 |= r5
    exit`;
  const obj = load([
    prog("fields", BPF_PROG_TYPE_XDP, FIELDS),
    prog("push", BPF_PROG_TYPE_XDP, "r2 = -0x10\ncall 0x2c\nexit"),
    prog("pop", BPF_PROG_TYPE_XDP, "r2 = 0x4\ncall 0x2c\nexit"),
    prog("grow", BPF_PROG_TYPE_XDP, "r2 = 0x8\ncall 0x41\nexit"),
    prog("meta", BPF_PROG_TYPE_XDP, "r2 = -0x8\ncall 0x36\nexit"),
    prog("len", BPF_PROG_TYPE_XDP, "call 0xbc\nexit"),
  ]);
  const pkt = frame(0x88b5, [1, 2, 3, 4, 5, 6]);

  test("without ctx_in: no metadata, ingress_ifindex 1 (lo)", () => {
    assert.equal(obj.testRun("fields", { dataIn: pkt }).retval, (pkt.length << 16) | 1);
  });

  test("ctx_in metadata is the front of data_in; data_out starts at data_meta; ctx_out reports the offsets", () => {
    const data = Uint8Array.from([9, 9, 9, 9, ...pkt]);
    const r = obj.testRun("fields", { dataIn: data, ctxIn: ctx({ 0: 4, 4: data.length }, 24) });
    assert.equal(r.retval, (pkt.length << 16) | (4 << 8) | 1);
    assert.equal(toHex(r.dataOut), toHex(data));
    assert.equal(toHex(r.ctxOut ?? new Uint8Array(0)), toHex(ctx({ 0: 4, 4: data.length }, 24)));
  });

  test("xdp_md ctx_in rules", () => {
    const run =
      (c: Record<number, number>, data = pkt) =>
      () =>
        obj.testRun("fields", { dataIn: data, ctxIn: ctx(c, 24) });
    assert.equal(errnoOf(run({ 4: pkt.length, 8: 4 })), EINVAL); // data_meta
    assert.equal(errnoOf(run({ 4: pkt.length + 1 })), EINVAL); // data_end past data_in
    assert.equal(errnoOf(run({ 4: pkt.length, 16: 1 })), EINVAL); // rx queue without ifindex
    assert.equal(errnoOf(run({ 4: pkt.length, 12: 1, 16: 1 })), EINVAL); // lo has one queue
    assert.equal(errnoOf(run({ 4: pkt.length, 12: 3 })), ENODEV);
    assert.equal(errnoOf(run({ 4: pkt.length, 20: 1 })), EINVAL); // egress_ifindex
    assert.equal(errnoOf(run({ 0: 2, 4: pkt.length })), EINVAL); // metadata not a multiple of 4
    const big = Uint8Array.from([...new Array(220).fill(0), ...pkt]);
    assert.equal(errnoOf(run({ 0: 220, 4: big.length }, big)), EINVAL); // more than 256 - sizeof(xdp_frame)
    assert.equal(
      errnoOf(() => obj.testRun("fields", { dataIn: new Uint8Array(13) })),
      EINVAL,
    );
  });

  test("a data_end below data_size_in leaves the rest in a fragment", () => {
    const r = obj.testRun("fields", { dataIn: pkt, ctxIn: ctx({ 4: 14 }, 24) });
    assert.equal(r.retval >>> 16, 14);
    assert.equal(toHex(r.dataOut), toHex(pkt));
    assert.equal(obj.testRun("len", { dataIn: pkt, ctxIn: ctx({ 4: 14 }, 24) }).retval, pkt.length);
  });

  test("bpf_xdp_adjust_head, adjust_tail and adjust_meta move what data_out shows", () => {
    const push = obj.testRun("push", { dataIn: pkt });
    assert.equal(push.retval, 0);
    assert.equal(toHex(push.dataOut), "00".repeat(16) + toHex(pkt));
    const pop = obj.testRun("pop", { dataIn: pkt });
    assert.equal(toHex(pop.dataOut), toHex(pkt.subarray(4)));
    assert.equal(obj.testRun("pop", { dataIn: frame(0x88b5, [1, 2, 3]) }).retval, 2 ** 32 - EINVAL);
    const grow = obj.testRun("grow", { dataIn: pkt });
    assert.equal(toHex(grow.dataOut), toHex(pkt) + "00".repeat(8));
    const meta = obj.testRun("meta", { dataIn: pkt });
    assert.equal(meta.dataOut.length, pkt.length + 8);
  });

  test("repeat keeps moved boundaries", () => {
    const long = frame(0x88b5, new Array(20).fill(7));
    assert.equal(toHex(obj.testRun("pop", { dataIn: long, repeat: 2 }).dataOut), toHex(long.subarray(8)));
    // The third pop would leave less than ETH_HLEN: refused, retval -EINVAL, boundaries kept.
    const r = obj.testRun("pop", { dataIn: pkt, repeat: 2 });
    assert.equal(r.retval, 2 ** 32 - EINVAL);
    assert.equal(toHex(r.dataOut), toHex(pkt.subarray(4)));
  });
});

describe("other program types", () => {
  test("raw tracepoints run on an argument array; syscall programs copy their context back", () => {
    const obj = load([
      prog("raw", BPF_PROG_TYPE_RAW_TRACEPOINT, "r0 = *(u64 *)(r1 + 0x8)\nexit"),
      prog("sys", BPF_PROG_TYPE_SYSCALL, "r2 = *(u32 *)(r1 + 0x0)\nr2 += 0x1\n*(u32 *)(r1 + 0x0) = r2\nr0 = 0x0\nexit"),
      prog("kp", BPF_PROG_TYPE_KPROBE, "r0 = 0x0\nexit"),
    ]);
    assert.equal(obj.testRun("raw", { ctxIn: parseHex("0100000000000000 2a00000000000000", "ctx") }).retval, 42);
    assert.equal(
      errnoOf(() => obj.testRun("raw", { ctxIn: new Uint8Array(104) })),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => obj.testRun("raw", { ctxIn: new Uint8Array(8), repeat: 2 })),
      EINVAL,
    );
    assert.equal(
      toHex(obj.testRun("sys", { ctxIn: parseHex("07000000", "ctx") }).ctxOut ?? new Uint8Array(0)),
      "08000000",
    );
    assert.equal(
      errnoOf(() => obj.testRun("kp", {} as TestRunOptions)),
      ENOTSUPP,
    );
  });
});
