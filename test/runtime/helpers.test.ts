// The runtime's helper implementations, each against the kernel behaviour it mirrors: the printf
// engine (bpf_bprintf_prepare + bstr_printf), bpf_strtol/strtoul, checksum arithmetic, map and
// ring-buffer helpers, bpf_loop and callbacks, tail calls, probe_read, spin locks, the host's
// clocks and PRNG, and the load-time checks of helper and kfunc calls.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BpfFault, LoadError, VerifierError } from "../../src/errors.ts";
import { Interpreter } from "../../src/interp/index.ts";
import { assemble } from "../../src/isa/asm.ts";
import type { MapContent, MapSpec, ObjectSpec, ProgramSpec } from "../../src/object/spec.ts";
import {
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_RINGBUF,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_XDP,
} from "../../src/object/uapi.ts";
import { type BprintfMemory, bpfBprintf } from "../../src/runtime/bprintf.ts";
import { csumFold, csumPartial, csumReplace2, csumReplace4, inetProtoCsumReplace4 } from "../../src/runtime/csum.ts";
import type { EngineFactory } from "../../src/runtime/engine.ts";
import { E2BIG, EFAULT, EINVAL, ENOENT, ERANGE } from "../../src/runtime/errno.ts";
import { bpfStrtoull } from "../../src/runtime/helper-impls/misc.ts";
import { type HostOptions, KernelHost, PrandomState } from "../../src/runtime/host.ts";
import { BpfObject, toHex } from "../../src/runtime/object.ts";

const engine: EngineFactory = (program, options) => new Interpreter(program, options);

function prog(
  name: string,
  text: string,
  type = BPF_PROG_TYPE_RAW_TRACEPOINT,
  kfuncs = new Map<number, string>(),
): ProgramSpec {
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
    kfuncs,
    helpers: [],
    declTags: [],
    license: "GPL",
    kernelVersion: 0,
  };
}

function map(
  name: string,
  type: number,
  keySize: number,
  valueSize: number,
  maxEntries: number,
  contents: MapContent[] = [],
): MapSpec {
  return {
    name,
    type,
    keySize,
    valueSize,
    maxEntries,
    flags: 0,
    pinning: 0,
    mapExtra: 0n,
    btfKeyTypeId: 0,
    btfValueTypeId: 0,
    innerMap: null,
    contents,
    section: "",
  };
}

/**
 * Loads hand-assembled programs without the verifier: these tests exercise the runtime's own
 * behaviour — helpers given bad arguments, maps without BTF, a second lock, load-time checks
 * of what the runtime provides — with programs the kernel's verifier would refuse before they
 * ever ran (the "the verifier decides first" tests below load them with it).
 */
function load(programs: ProgramSpec[], maps: MapSpec[] = [], host: HostOptions = {}, verify = false): BpfObject {
  const spec: ObjectSpec = { name: "t", programs, maps, license: "GPL", kernelVersion: 0, ksyms: [], btf: null };
  return BpfObject.load(spec, { engine, host: { seed: 7, clock: () => 5_000_000_000n, ...host }, verify });
}

/** Runs a raw-tracepoint program (no context needed) and returns r0. */
function run(obj: BpfObject, name: string): bigint {
  return obj.testRun(name).r0;
}

const neg = (e: number) => BigInt.asUintN(64, BigInt(-e));

/** A BprintfMemory over one byte array mapped at address 0x1000. */
function memory(bytes: Uint8Array): BprintfMemory {
  const at = (addr: bigint) => Number(addr) - 0x1000;
  return {
    readString: (addr, max) => {
      const start = at(addr);
      if (start < 0 || start >= bytes.length) return null;
      const end = bytes.indexOf(0, start);
      if (end < 0) return null;
      return bytes.slice(start, Math.min(end, start + max - 1));
    },
    readBytes: (addr, n) => {
      const start = at(addr);
      return start < 0 || start + n > bytes.length ? null : bytes.slice(start, start + n);
    },
  };
}

const fmt = (s: string) => new TextEncoder().encode(`${s}\0`);

describe("bpf_bprintf_prepare + bstr_printf", () => {
  const mem = memory(new Uint8Array([0x68, 0x69, 0, 10, 0, 0, 1]));
  const f = (s: string, ...args: bigint[]) => bpfBprintf(fmt(s), args, 3, mem, 1024);
  const text = (s: string, ...args: bigint[]) => {
    const r = f(s, ...args);
    assert.ok(r.ok, `${s}: ${r.ok ? "" : r.reason}`);
    return r.text;
  };

  test("integer conversions use the argument's low 32 bits unless l/ll", () => {
    assert.equal(text("%d %i %u", 0xffffffffn, 5n, 0xffffffffn), "-1 5 4294967295");
    assert.equal(text("%x %X %lx", 0x1abcdefn, 0xabcn, 0x123456789n), "1abcdef ABC 123456789");
    assert.equal(text("%ld %lld %llu", neg(2), neg(3), neg(1)), "-2 -3 18446744073709551615");
  });

  test("flags and width: [0 +-][num]", () => {
    assert.equal(text("[%5d][%-5d][%05d]", 42n, 42n, neg(42)), "[   42][42   ][-0042]");
    assert.equal(text("[%+d][% d][%08x]", 7n, 7n, 0xbeefn), "[+7][ 7][0000beef]");
  });

  test("%c, %s and %% ", () => {
    assert.equal(text("%c%c%% %s.", 0x41n, 0x42n, 0x1000n), "AB% hi.");
    // A faulting string prints as empty.
    assert.equal(text("<%s>", 0x9999n), "<>");
  });

  test("pointers: NULL and %px are raw, %pI4 / %pi4 / %pI6 read the address", () => {
    assert.equal(text("%p %px", 0n, 0x1234n), "0000000000000000 0000000000001234");
    assert.equal(text("%pI4 %pi4", 0x1003n, 0x1003n), "10.0.0.1 010.000.000.001");
    assert.match(text("%p", 0xffff8000deadbeefn), /^[0-9a-f]{16}$/);
  });

  test("the return value counts the whole output; the text is cut at the buffer size", () => {
    const r = bpfBprintf(fmt("abcdef %d"), [12345n], 3, mem, 8);
    assert.ok(r.ok);
    assert.equal(r.length, 12);
    assert.equal(r.text, "abcdef ");
  });

  test("invalid formats are -EINVAL", () => {
    for (const bad of ["%d %d %d %d", "%z", "%hd", "%lc", "%sx", "%.2d", "%pZ", "tab\x01"]) {
      const r = f(bad, 1n, 2n, 3n);
      assert.ok(!r.ok && r.errno === EINVAL, bad);
    }
    const noNul = bpfBprintf(new TextEncoder().encode("abc"), [], 3, mem, 1024);
    assert.ok(!noNul.ok && noNul.errno === EINVAL);
  });
});

describe("bpf_strtol / bpf_strtoul parsing (__bpf_strtoull)", () => {
  const p = (s: string, flags = 0n) => bpfStrtoull(new TextEncoder().encode(s), flags);

  test("bases 0, 8, 10, 16, leading space and sign, trailing garbage", () => {
    assert.deepEqual(p("  -0x1fz"), { ok: true, consumed: 7, value: 31n, negative: true });
    assert.deepEqual(p("0755", 0n), { ok: true, consumed: 4, value: 493n, negative: false });
    assert.deepEqual(p("08", 0n), { ok: true, consumed: 1, value: 0n, negative: false });
    assert.deepEqual(p("0x", 0n), { ok: true, consumed: 1, value: 0n, negative: false });
    assert.deepEqual(p("ff", 16n), { ok: true, consumed: 2, value: 255n, negative: false });
    assert.deepEqual(p("0xff", 16n), { ok: true, consumed: 4, value: 255n, negative: false });
    assert.deepEqual(p("129", 10n), { ok: true, consumed: 3, value: 129n, negative: false });
  });

  test("errors: no digits, bad base, unknown flags, overflow", () => {
    assert.deepEqual(p("   "), { ok: false, errno: EINVAL });
    assert.deepEqual(p("+5"), { ok: false, errno: EINVAL });
    assert.deepEqual(p("0x", 16n), { ok: false, errno: EINVAL });
    assert.deepEqual(p("5", 2n), { ok: false, errno: EINVAL });
    assert.deepEqual(p("5", 0x20n), { ok: false, errno: EINVAL });
    assert.deepEqual(p("18446744073709551616"), { ok: false, errno: ERANGE });
    assert.deepEqual(p("18446744073709551615"), { ok: true, consumed: 20, value: (1n << 64n) - 1n, negative: false });
  });
});

describe("checksum arithmetic", () => {
  // An IPv4 header with a valid checksum (from RFC 1071-style examples).
  const hdr = Uint8Array.from([
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00,
    0xc7,
  ]);
  const sumOf = (b: Uint8Array) => b[10] | (b[11] << 8);
  const le32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

  test("a valid header sums to 0xffff (folds to 0)", () => {
    assert.equal(csumFold(csumPartial(hdr, 0)), 0);
  });

  test("incremental updates equal a full recomputation", () => {
    const b = hdr.slice();
    const from = le32(b, 16);
    b.set([10, 1, 2, 3], 16);
    const to = le32(b, 16);
    const full = b.slice();
    full[10] = 0;
    full[11] = 0;
    const want = csumFold(csumPartial(full, 0));
    assert.equal(csumReplace4(sumOf(hdr), from, to), want);
    assert.equal(inetProtoCsumReplace4(sumOf(hdr), from, to), want);
    const c = hdr.slice();
    const from16 = c[8] | (c[9] << 8);
    c[8] = 0x3f; // TTL 64 -> 63
    const to16 = c[8] | (c[9] << 8);
    const full2 = c.slice();
    full2[10] = 0;
    full2[11] = 0;
    assert.equal(csumReplace2(sumOf(hdr), from16, to16), csumFold(csumPartial(full2, 0)));
  });
});

describe("map helpers", () => {
  test("hash lookup / update / delete, with the kernel's errnos", () => {
    const obj = load(
      [
        prog(
          "h",
          `
          *(u32 *)(r10 - 0x4) = 0x7
          *(u64 *)(r10 - 0x10) = 0x63
          r1 = 0x0 ll
          ld_pseudo r1, 0x5, 0x0
          r2 = r10
          r2 += -0x4
          r3 = r10
          r3 += -0x10
          r4 = 0x1
          call 0x2
          r6 = r0
          ld_pseudo r1, 0x5, 0x0
          r2 = r10
          r2 += -0x4
          r3 = r10
          r3 += -0x10
          r4 = 0x1
          call 0x2
          r7 = r0
          ld_pseudo r1, 0x5, 0x0
          r2 = r10
          r2 += -0x4
          call 0x1
          r8 = *(u64 *)(r0 + 0x0)
          r0 = r6
          r0 <<= 0x8
          r7 &= 0xff
          r0 |= r7
          r0 <<= 0x8
          r0 |= r8
          exit`.replace("r1 = 0x0 ll\n", ""),
        ),
      ],
      [map("hm", BPF_MAP_TYPE_HASH, 4, 8, 4)],
    );
    // first update 0, second (BPF_NOEXIST on an existing key) -EEXIST = 0xef, value 0x63.
    assert.equal(run(obj, "h"), (0n << 16n) | (0xefn << 8n) | 0x63n);
    assert.deepEqual(obj.dumpMap("hm"), [{ key: "07000000", value: "6300000000000000" }]);
  });

  test("queue push / pop and -ENOENT when empty", () => {
    const obj = load(
      [
        prog(
          "q",
          `
          *(u32 *)(r10 - 0x4) = 0x2a
          ld_pseudo r1, 0x5, 0x0
          r2 = r10
          r2 += -0x4
          r3 = 0x0
          call 0x57
          ld_pseudo r1, 0x5, 0x0
          r2 = r10
          r2 += -0x8
          call 0x58
          r6 = *(u32 *)(r10 - 0x8)
          ld_pseudo r1, 0x5, 0x0
          r2 = r10
          r2 += -0x8
          call 0x58
          r0 <<= 0x20
          r0 |= r6
          exit`,
        ),
      ],
      [map("fifo", BPF_MAP_TYPE_QUEUE, 0, 4, 2)],
    );
    assert.equal(run(obj, "q"), (BigInt.asUintN(32, BigInt(-ENOENT)) << 32n) | 0x2an);
  });

  test("ring buffer output, reserve + submit, query", () => {
    const obj = load(
      [
        prog(
          "rb",
          `
          *(u64 *)(r10 - 0x8) = 0x55
          ld_pseudo r1, 0x5, 0x0
          r2 = r10
          r2 += -0x8
          r3 = 0x5
          r4 = 0x0
          call 0x82
          ld_pseudo r1, 0x5, 0x0
          r2 = 0x10
          r3 = 0x0
          call 0x83
          if r0 == 0x0 goto +0x4
          *(u64 *)(r0 + 0x0) = 0x77
          r1 = r0
          r2 = 0x0
          call 0x84
          ld_pseudo r1, 0x5, 0x0
          r2 = 0x0
          call 0x86
          exit`,
        ),
      ],
      [map("rb", BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)],
    );
    // (8 + 5 rounded to 16) + (8 + 16) = 40 bytes available.
    assert.equal(run(obj, "rb"), 40n);
  });

  test("a helper given something that is not a map stops the program", () => {
    const obj = load([prog("bad", "r1 = r10\nr2 = r10\ncall 0x1\nexit")]);
    assert.throws(
      () => run(obj, "bad"),
      (e: unknown) => e instanceof BpfFault && e.kind === "helper",
    );
  });
});

describe("callbacks and tail calls", () => {
  test("bpf_loop counts calls, stops on a non-zero return, refuses flags and too many loops", () => {
    const loopProg = (n: string, flags: number) =>
      prog(
        `loop_${flags}_${n.replace(/\W/g, "")}`,
        `
        r1 = ${n}
        ld_pseudo r2, 0x4, 0x5
        r3 = 0x0
        r4 = ${flags}
        call 0xb5
        exit
        r0 = 0x0
        if r1 != 0x3 goto +0x1
        r0 = 0x1
        exit`,
      );
    const obj = load([loopProg("0xa", 0), loopProg("0x2", 0), loopProg("0xa", 1), loopProg("0x800001", 0)]);
    assert.equal(run(obj, "loop_0_0xa"), 4n); // i = 3 stops after the fourth call
    assert.equal(run(obj, "loop_0_0x2"), 2n);
    assert.equal(run(obj, "loop_1_0xa"), neg(EINVAL));
    // Inlined bpf_loop sets -E2BIG with a 32-bit move.
    assert.equal(run(obj, "loop_0_0x800001"), BigInt(-E2BIG >>> 0));
  });

  test("tail calls follow the prog array, including slots set by name", () => {
    const obj = load(
      [
        prog("entry", "r6 = r1\nr1 = r6\nld_pseudo r2, 0x5, 0x0\nr3 = 0x1\ncall 0xc\nr0 = 0x64\nexit"),
        prog("target", "r0 = 0x2a\nexit"),
      ],
      [map("jmp", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2)],
    );
    assert.equal(run(obj, "entry"), 100n);
    obj.setMapEntry("jmp", "01000000", "@target");
    assert.equal(run(obj, "entry"), 42n);
    assert.deepEqual(obj.map("jmp").lookup(new Uint8Array([1, 0, 0, 0])), new Uint8Array([2, 0, 0, 0]));
  });
});

describe("probe_read, spin locks, task and time", () => {
  test("probe_read_kernel copies BPF memory and reports faults the host's way", () => {
    const text = `
      *(u64 *)(r10 - 0x8) = 0x1122
      r1 = r10
      r1 += -0x10
      r2 = 0x8
      r3 = r10
      r3 += -0x8
      call 0x71
      r6 = *(u64 *)(r10 - 0x10)
      r1 = r10
      r1 += -0x10
      r2 = 0x8
      r3 = 0x0
      call 0x71
      r1 = *(u64 *)(r10 - 0x10)
      r6 += r1
      r0 <<= 0x20
      r0 |= r6
      exit`;
    const x86 = load([prog("pr", text)]);
    assert.equal(run(x86, "pr"), (BigInt(-ERANGE >>> 0) << 32n) | 0x1122n);
    const arm = load([prog("pr", text)], [], { arch: "arm64" });
    assert.equal(run(arm, "pr"), (BigInt(-EFAULT >>> 0) << 32n) | 0x1122n);
  });

  test("a spin lock taken twice is a deadlock", () => {
    const obj = load(
      [prog("lk", "ld_pseudo r1, 0x6, 0x0\ncall 0x5d\nld_pseudo r1, 0x6, 0x0\ncall 0x5d\nexit")],
      [map("v", BPF_MAP_TYPE_ARRAY, 4, 8, 1)],
    );
    assert.throws(() => run(obj, "lk"), /deadlock/);
  });

  test("time, CPU, task and PRNG come from the host", () => {
    const obj = load(
      [
        prog("t", "call 0x5\nexit"),
        prog("pid", "call 0xe\nexit"),
        prog("cpu", "call 0x8\nexit"),
        prog("j", "call 0x76\nexit"),
        prog("rnd", "call 0x7\nexit"),
      ],
      [],
      { cpu: 1, task: { pid: 10, tgid: 20 } },
    );
    assert.equal(run(obj, "t"), 5_000_000_000n);
    assert.equal(run(obj, "pid"), (20n << 32n) | 10n);
    assert.equal(run(obj, "cpu"), 1n);
    assert.equal(run(obj, "j"), BigInt((-300 * 250) >>> 0) + 1250n);
    const a = new PrandomState(7n + 1n);
    assert.equal(run(obj, "rnd"), BigInt(a.next()));
    const h = new KernelHost({ seed: 3 });
    const h2 = new KernelHost({ seed: 3 });
    assert.equal(h.prandomU32(), h2.prandomU32());
  });

  test("bpf_trace_printk writes the trace pipe and returns the length", () => {
    const obj = load([
      prog(
        "p",
        `
        r1 = 0x64253d78 ll
        *(u64 *)(r10 - 0x8) = r1
        r1 = r10
        r1 += -0x8
        r2 = 0x8
        r3 = 0x2a
        call 0x6
        exit`,
      ),
    ]);
    assert.equal(run(obj, "p"), 4n);
    assert.equal(obj.tracePipe(), "x=42\n");
    assert.equal(obj.trace[0].program, "p");
  });
});

describe("the verifier decides first", () => {
  test("a program the kernel rejects is refused with the kernel's message and never runs", () => {
    const kfuncs = new Map([[0x10, "bpf_rcu_read_lock"]]);
    const rejects = (text: string, type: number, message: string, insn: number) =>
      assert.throws(
        () => load([prog("x", text, type, kfuncs)], [], {}, true),
        (e: unknown) => e instanceof VerifierError && e.reason === message && e.insn === insn && e.program === "x",
      );
    rejects("call 0x9\nexit", BPF_PROG_TYPE_XDP, "program of this type cannot use helper bpf_skb_store_bytes#9", 0);
    rejects(
      "call 0x9\nexit",
      BPF_PROG_TYPE_SOCKET_FILTER,
      "program of this type cannot use helper bpf_skb_store_bytes#9",
      0,
    );
    rejects("exit", BPF_PROG_TYPE_SCHED_CLS, "R0 !read_ok", 0);
    rejects("call kfunc 0x10\nr0 = 0x1\nexit", BPF_PROG_TYPE_RAW_TRACEPOINT, "bpf_rcu_read_unlock is missing", 2);
  });

  test("an accepted program keeps what the verifier made of it", () => {
    const obj = load([prog("ok", "r0 = 0x2a\nif r0 == 0x2a goto +0x1\nr0 = 0x1\nexit")], [], {}, true);
    const p = obj.program("ok");
    assert.ok(p.verified !== null);
    assert.equal(p.verified.insns.length, 2, "the never-taken path and then the jump are removed (dead code, nops)");
    assert.equal(obj.testRun("ok").retval, 42);
  });
});

describe("load-time checks", () => {
  test("a helper the program type may not call is refused, naming it", () => {
    assert.throws(
      () => load([prog("x", "call 0x9\nexit", BPF_PROG_TYPE_XDP)]),
      (e: unknown) => e instanceof LoadError && /bpf_skb_store_bytes#9/.test(e.message) && e.insn === 0,
    );
    assert.throws(
      () => load([prog("x", "r0 = 0x0\ncall 0x22\nexit", BPF_PROG_TYPE_SCHED_CLS)]),
      /bpf_get_hash_recalc#34/,
    );
    assert.throws(() => load([prog("x", "call 0x270f\nexit")]), /invalid func unknown#9999/);
  });

  test("kfuncs must be known by name", () => {
    const ok = load([prog("k", "call kfunc 0x10\nr0 = 0x1\nexit", undefined, new Map([[0x10, "bpf_rcu_read_lock"]]))]);
    assert.equal(run(ok, "k"), 1n);
    assert.throws(
      () => load([prog("k", "call kfunc 0x10\nexit", undefined, new Map([[0x10, "bpf_no_such_kfunc"]]))]),
      /kfunc bpf_no_such_kfunc is not supported/,
    );
    assert.throws(() => load([prog("k", "call kfunc 0x11\nexit")]), /unknown BTF id 17/);
  });

  test("map references must name a map of the object, values only of arrays within value_size", () => {
    assert.throws(() => load([prog("m", "ld_pseudo r1, 0x5, 0x3\nexit")]), /map index 3 out of range/);
    assert.throws(
      () => load([prog("m", "ld_pseudo r1, 0x6, 0x800000000\nexit")], [map("a", BPF_MAP_TYPE_ARRAY, 4, 8, 1)]),
      /value_size=8 off=8/,
    );
    const obj = load(
      [prog("m", "ld_pseudo r1, 0x6, 0x400000000\nr0 = *(u32 *)(r1 + 0x0)\nexit")],
      [
        map("a", BPF_MAP_TYPE_ARRAY, 4, 8, 1, [
          { kind: "bytes", key: new Uint8Array(4), value: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) },
        ]),
      ],
    );
    assert.equal(run(obj, "m"), 0x08070605n);
    assert.equal(toHex(obj.map("a").lookup(new Uint8Array(4)) ?? new Uint8Array(0)), "0102030405060708");
  });
});
