// Behaviour of the reference interpreter beyond plain ALU semantics: bpf-to-bpf frames and their
// kernel limits, helpers and kfuncs through registries, callx, may_goto, legacy packet loads,
// atomics, the memory model's faults, the budget and the trace hook.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BpfFault, DecodeError } from "../../src/errors.ts";
import { BPF_MAX_LOOPS, Interpreter, runRawProgram } from "../../src/interp/index.ts";
import { assemble } from "../../src/isa/asm.ts";
import { HelperRegistry, KfuncRegistry } from "../../src/runtime/helpers.ts";
import { AddressSpace } from "../../src/runtime/memory.ts";

const run = (src: string, mem: Uint8Array | null = null, opts = {}) => runRawProgram(assemble(src), mem, opts);

function faultOf(fn: () => unknown): BpfFault {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfFault) return e;
    throw e;
  }
  assert.fail("expected a BpfFault");
}

describe("bpf-to-bpf calls", () => {
  test("a callee gets its own frame, and r6-r9 and r10 are restored on return", () => {
    const r = run(`
      r6 = 0x6
      r9 = 0x9
      *(u64 *)(r10 - 0x8) = 0x77
      r1 = 0x5
      call add_one
      r0 += r6
      r0 += r9
      r1 = *(u64 *)(r10 - 0x8)
      r0 += r1
      exit
    add_one:
      r6 = 0x1000
      r9 = 0x2000
      *(u64 *)(r10 - 0x8) = 0x1
      r0 = r1
      r0 += 0x1
      exit`);
    // 6 + 6 + 9 + 0x77: the callee's r6, r9 and stack slot did not leak into the caller.
    assert.equal(r.r0, 6n + 6n + 9n + 0x77n);
  });

  test("eight frames are allowed, a ninth is refused with the kernel's message", () => {
    const chain = (n: number) => {
      let s = "r0 = 0x0\ncall f1\nexit\n";
      for (let i = 1; i < n; i++) s += `f${i}:\nr0 += 0x1\ncall f${i + 1}\nexit\n`;
      s += `f${n}:\nr0 += 0x1\nexit\n`;
      return s;
    };
    assert.equal(run(chain(7)).r0, 7n); // main + 7 callees = 8 frames
    const f = faultOf(() => run(chain(8)));
    assert.equal(f.kind, "call-depth");
    assert.match(f.message, /the call stack of 9 frames is too deep/);
  });

  test("the combined stack of a call chain is limited to 512 bytes, rounded per frame like the kernel", () => {
    // main uses 0x100, the callee 0x108 -> 256 + 288 (rounded up to 32) = 544 > 512.
    const src = (calleeDepth: number) => `
      *(u64 *)(r10 - 0x100) = 0x1
      call f
      exit
    f:
      *(u64 *)(r10 - ${calleeDepth}) = 0x2
      r0 = 0x3
      exit`;
    assert.equal(run(src(0x100)).r0, 3n);
    const f = faultOf(() => run(src(0x108)));
    assert.equal(f.kind, "stack-size");
    assert.match(f.message, /combined stack size of 2 calls is 544\. Too large/);
  });
});

describe("helpers and kfuncs", () => {
  test("a helper gets r1-r5 and its result becomes r0; an unknown helper faults", () => {
    const helpers = new HelperRegistry().register(7, {
      name: "sum5",
      args: ["anything", "anything", "anything", "anything", "anything"],
      ret: "integer",
      fn: (_env, a, b, c, d, e) => a + b + c + d + e,
    });
    const src = "r1 = 0x1\nr2 = 0x2\nr3 = 0x3\nr4 = 0x4\nr5 = -0x1\ncall 0x7\nexit";
    // 1 + 2 + 3 + 4 + (2^64 - 1) wraps to 9.
    assert.equal(run(src, null, { helpers }).r0, 9n);
    const f = faultOf(() => run("call 0x8\nexit", null, { helpers }));
    assert.equal(f.kind, "bad-call");
    assert.match(f.message, /unknown helper 8/);
  });

  test("a helper reads BPF memory through the bounds-checked address space", () => {
    const helpers = new HelperRegistry().register(1, {
      name: "read_u32",
      args: ["ptr-to-mem"],
      ret: "integer",
      fn: (env, p) => env.space.read(p, 4),
    });
    const mem = new Uint8Array([0x78, 0x56, 0x34, 0x12]);
    assert.equal(run("call 0x1\nexit", mem, { helpers }).r0, 0x12345678n);
    const f = faultOf(() => run("r1 += 0x2\ncall 0x1\nexit", mem, { helpers }));
    assert.equal(f.kind, "out-of-bounds");
    assert.equal(f.pc, 1);
    assert.match(f.message, /read_u32/);
  });

  test("kfunc calls resolve by BTF id through the registry", () => {
    const kfuncs = new KfuncRegistry().register({
      name: "bpf_twice",
      args: ["scalar"],
      ret: "integer",
      fn: (_env, a) => a * 2n,
    });
    kfuncs.bindId(42, "bpf_twice");
    assert.equal(run("r1 = 0x15\ncall kfunc 0x2a\nexit", null, { kfuncs }).r0, 42n);
    assert.equal(faultOf(() => run("call kfunc 0x2b\nexit", null, { kfuncs })).kind, "bad-call");
  });
});

describe("callx and function pointers", () => {
  test("callx to a BPF_PSEUDO_FUNC address is a bpf-to-bpf call; a small number is a helper", () => {
    const helpers = new HelperRegistry().register(5, {
      name: "id",
      args: ["anything"],
      ret: "integer",
      fn: (_e, a) => a,
    });
    const r = run(
      `
      ld_pseudo r2, 0x4, 0x9
      r1 = 0x20
      callx r2
      r6 = r0
      r2 = 0x5
      r1 = 0x3
      callx r2
      r0 += r6
      exit
      r0 = r1
      r0 += 0x1
      exit`,
      null,
      { helpers },
    );
    assert.equal(r.r0, 0x21n + 3n);
  });
});

test("may_goto falls through BPF_MAX_LOOPS times, then jumps", () => {
  const r = run(`
    r0 = 0x0
  loop:
    may_goto done
    r0 += 0x1
    goto loop
  done:
    exit`);
  assert.equal(r.r0, BigInt(BPF_MAX_LOOPS));
});

test("LD_ABS and LD_IND read the packet in network byte order; out of bounds ends the run with 0", () => {
  const pkt = new Uint8Array([0x11, 0x22, 0x33, 0x44, 0x55]);
  assert.equal(run("r6 = r1\nr0 = *(u32 *)skb[0x1]\nexit", pkt).r0, 0x22334455n);
  assert.equal(run("r6 = r1\nr0 = *(u16 *)skb[0x0]\nexit", pkt).r0, 0x1122n);
  assert.equal(run("r6 = r1\nr2 = 0x3\nr0 = *(u8 *)skb[r2 + 0x1]\nexit", pkt, {}).r0, 0x55n);
  assert.equal(run("r6 = r1\nr0 = *(u32 *)skb[0x2]\nr0 = 0x7\nexit", pkt).r0, 0n);
});

describe("memory faults", () => {
  test("an access past a region's end faults with pc, instruction and address", () => {
    const f = faultOf(() => run("r0 = *(u32 *)(r1 + 0x2)\nexit", new Uint8Array(4)));
    assert.equal(f.kind, "out-of-bounds");
    assert.equal(f.pc, 0);
    assert.equal(f.insn, "r0 = *(u32 *)(r1 + 0x2)");
    assert.match(f.message, /invalid read of 4 bytes at 0x[0-9a-f]+ \(mem\+0x2/);
    assert.notEqual(f.address, undefined);
  });

  test("NULL and the stack's bounds are checked", () => {
    assert.equal(faultOf(() => run("r1 = 0x0\nr0 = *(u8 *)(r1 + 0x0)\nexit")).kind, "out-of-bounds");
    assert.equal(faultOf(() => run("*(u64 *)(r10 - 0x208) = 0x1\nexit")).kind, "out-of-bounds");
    assert.equal(faultOf(() => run("*(u64 *)(r10 + 0x0) = 0x1\nexit")).kind, "out-of-bounds");
    assert.equal(run("*(u64 *)(r10 - 0x200) = 0x1\nr0 = *(u64 *)(r10 - 0x200)\nexit").r0, 1n);
  });

  test("read-only regions refuse stores", () => {
    const vm = new Interpreter(assemble("*(u8 *)(r1 + 0x0) = 0x1\nexit"));
    const ro = vm.space.map("global", new Uint8Array(4), { name: ".rodata", writable: false });
    const f = faultOf(() => vm.run({ args: [ro.address(0)] }));
    assert.equal(f.kind, "read-only");
  });

  test("atomics must be aligned; fetch and cmpxchg return the old value", () => {
    assert.equal(
      faultOf(() => run("r2 = 0x1\nlock *(u32 *)(r1 + 0x2) += w2\nexit", new Uint8Array(8))).kind,
      "misaligned",
    );
    const mem = new Uint8Array(8);
    const r = run(
      `r2 = 0x5
       r2 = atomic_fetch_add((u64 *)(r1 + 0x0), r2)
       r0 = 0x5
       r3 = 0x9
       r0 = cmpxchg_64(r1 + 0x0, r0, r3)
       r4 = *(u64 *)(r1 + 0x0)
       r0 <<= 0x8
       r0 |= r4
       r0 <<= 0x8
       r0 |= r2
       exit`,
      mem,
    );
    assert.equal(r.r0, (5n << 16n) | (9n << 8n) | 0n);
  });
});

test("the budget stops an endless loop; insnCount counts executed instructions", () => {
  const f = faultOf(() => run("l:\ngoto l", null, { budget: 1000 }));
  assert.equal(f.kind, "budget");
  assert.equal(run("r0 = 0x1\nr0 += 0x2\nexit").insnCount, 3);
});

test("the trace hook sees every instruction with the registers before it", () => {
  const seen: string[] = [];
  const vm = new Interpreter(assemble("r0 = 0x1\nr0 += 0x2\nexit"), {
    trace: (pc, regs, frame) => seen.push(`${pc}:${regs.get(0)}:${frame}`),
  });
  assert.equal(vm.run().r0, 3n);
  assert.deepEqual(seen, ["0:0:0", "1:1:0", "2:3:0"]);
});

test("malformed programs are refused before they run", () => {
  assert.throws(() => runRawProgram({ ...assemble("exit"), length: 0 }, null), DecodeError);
  const p = assemble("if r1 == 0x0 goto +0x0\nexit");
  p.off[0] = 5;
  assert.throws(() => new Interpreter(p), /jump out of range from insn 0 to 6/);
});

describe("engine services for helpers", () => {
  test("callFunction runs a BPF callback on a new frame and restores the caller's registers", () => {
    // A bpf_loop-like helper: calls the callback r2 times with (i, ctx = r3), stops when it returns 1.
    const helpers = new HelperRegistry().register(181, {
      name: "loop",
      args: ["scalar", "ptr-to-func", "anything", "scalar"],
      ret: "integer",
      fn: (env, n, fn, ctx) => {
        let i = 0n;
        for (; i < n; i++) if (env.callFunction(fn, [i, ctx]) === 1n) return i + 1n;
        return i;
      },
    });
    const r = run(
      `
      *(u64 *)(r10 - 0x8) = 0x0
      r6 = 0x66
      r1 = 0xa
      ld_pseudo r2, 0x4, 0xa
      r3 = r10
      r3 += -0x8
      r4 = 0x0
      call 0xb5
      r1 = *(u64 *)(r10 - 0x8)
      r0 <<= 0x10
      r0 |= r1
      r0 += r6
      exit
      r3 = *(u64 *)(r2 + 0x0)
      r3 += r1
      *(u64 *)(r2 + 0x0) = r3
      r6 = 0x0
      r0 = 0x0
      if r1 != 0x4 goto +0x1
      r0 = 0x1
      exit`,
      null,
      { helpers },
    );
    // 5 iterations (0..4, the fifth returns 1), sum 0+1+2+3+4 = 10, r6 kept by the caller.
    assert.equal(r.r0, (5n << 16n) + 10n + 0x66n);
  });

  test("tail calls replace the running program, keep registers, and stop after 33", () => {
    const space = new AddressSpace();
    const tail = new HelperRegistry().register(12, {
      name: "tail_call",
      args: ["ptr-to-ctx", "const-map-ptr", "scalar"],
      ret: "integer",
      fn: (env, _ctx, _map, idx) => {
        env.requestTailCall(idx === 0n ? null : targets.get(Number(idx)));
        return 0n;
      },
    });
    const targets = new Map<number, Interpreter>();
    const opts = { space, helpers: tail };
    // Program 1 counts its runs in r6 and tail-calls itself; r0 is left alone by a failed tail call.
    targets.set(1, new Interpreter(assemble("r6 += 0x1\nr0 = r6\nr3 = 0x1\ncall 0xc\nr0 += 0x1000\nexit"), opts));
    targets.set(2, new Interpreter(assemble("r0 = r7\nr0 += 0x2\nexit"), opts));
    const main = new Interpreter(assemble("r7 = 0x40\nr3 = 0x2\ncall 0xc\nr0 = 0x99\nexit"), opts);
    assert.equal(main.run().r0, 0x42n); // jumped to program 2 with r7 intact, never came back
    const missing = new Interpreter(assemble("r0 = 0x5\nr3 = 0x0\ncall 0xc\nr0 += 0x1\nexit"), opts);
    assert.equal(missing.run().r0, 6n); // empty slot: falls through, r0 unchanged by the helper
    const self = new Interpreter(assemble("r6 = 0x0\nr3 = 0x1\ncall 0xc\nexit"), opts);
    // 1 (from main) + 33 tail calls into program 1; the 34th fails and the last run adds 0x1000.
    assert.equal(self.run().r0, 33n + 0x1000n);
  });

  test("a context region's pointer fields read as 64-bit pointers through 32-bit loads", () => {
    const vm = new Interpreter(
      assemble(
        "r2 = *(u32 *)(r1 + 0x4c)\nr3 = *(u32 *)(r1 + 0x50)\nr0 = r3\nr0 -= r2\nr4 = *(u32 *)(r1 + 0x0)\nr0 <<= 0x8\nr0 |= r4\nexit",
      ),
    );
    const pkt = vm.space.map("packet", new Uint8Array(60), { name: "packet" });
    const ctx = vm.space.map("ctx", new Uint8Array(192), { name: "__sk_buff" });
    ctx.view.setUint32(0, 0x3c, true);
    ctx.load32Hook = (off) => (off === 0x4c ? pkt.address(0) : off === 0x50 ? pkt.address(60) : null);
    assert.equal(vm.run({ args: [ctx.address(0)] }).r0, (60n << 8n) | 0x3cn);
  });
});
