// convert_ctx_accesses: each __sk_buff / xdp_md field access becomes what arm64 6.12.117 hands its
// JIT. Expected instructions are written in the xlated dump's words; the offsets are those of the
// 6.12.117 arm64 structs (kernel-layout.ts, from the kernel's BTF) and, where a fixture program
// uses the field, equal to the recorded xlated dumps (len 0x70, mark 0xa8, protocol 0xb4,
// tstamp's sequence at 0x81/0x20, xdp data/data_end: test/verifier/xlated.test.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { disasmInsn } from "../../src/isa/disasm.ts";
import { BPF_PROG_TYPE_CGROUP_SKB, BPF_PROG_TYPE_XDP } from "../../src/object/uapi.ts";
import { verifyProgram } from "../../src/verifier/index.ts";
import { asmSpec } from "./helpers.ts";

/** The rewritten program's text (lossless disassembly), without the final `r0 = 0; exit`. */
function converted(body: string, type?: number): string[] {
  const r = verifyProgram(asmSpec(`${body}\nr0 = 0\nexit`, type !== undefined ? { type } : {}));
  assert.ok(r.ok, r.ok ? "" : r.error.reason);
  const out: string[] = [];
  for (let i = 0; i < r.prog.insns.length - 2; i++) out.push(disasmInsn(r.prog.insns, i));
  return out;
}

describe("__sk_buff (tc)", () => {
  const cases: [string, string, string[]][] = [
    ["len", "r2 = *(u32 *)(r1 + 0x0)", ["r2 = *(u32 *)(r1 + 0x70)"]],
    ["mark", "r2 = *(u32 *)(r1 + 0x8)", ["r2 = *(u32 *)(r1 + 0xa8)"]],
    ["protocol", "r2 = *(u32 *)(r1 + 0x10)", ["r2 = *(u16 *)(r1 + 0xb4)"]],
    ["priority", "r2 = *(u32 *)(r1 + 0x20)", ["r2 = *(u32 *)(r1 + 0x90)"]],
    ["hash", "r2 = *(u32 *)(r1 + 0x44)", ["r2 = *(u32 *)(r1 + 0x98)"]],
    ["pkt_type", "r2 = *(u32 *)(r1 + 0x4)", ["r2 = *(u8 *)(r1 + 0x80)", "w2 &= 0x7"]],
    ["queue_mapping", "r2 = *(u32 *)(r1 + 0xc)", ["r2 = *(u16 *)(r1 + 0x7c)"]],
    ["vlan_tci", "r2 = *(u32 *)(r1 + 0x18)", ["r2 = *(u16 *)(r1 + 0x9e)"]],
    ["ingress_ifindex", "r2 = *(u32 *)(r1 + 0x24)", ["r2 = *(u32 *)(r1 + 0x94)"]],
    [
      // tc: no NULL check of skb->dev (as the kernel's xlated of jit corpus ldst_ctx shows)
      "ifindex (through skb->dev)",
      "r2 = *(u32 *)(r1 + 0x28)",
      ["r2 = *(u64 *)(r1 + 0x10)", "r2 = *(u32 *)(r2 + 0xe0)"],
    ],
    ["tc_index", "r2 = *(u32 *)(r1 + 0x2c)", ["r2 = *(u16 *)(r1 + 0x86)"]],
    ["cb[1] (qdisc_skb_cb.data)", "r2 = *(u32 *)(r1 + 0x34)", ["r2 = *(u32 *)(r1 + 0x34)"]],
    ["tc_classid (qdisc_skb_cb)", "r2 = *(u32 *)(r1 + 0x48)", ["r2 = *(u16 *)(r1 + 0x2e)"]],
    ["data", "r2 = *(u32 *)(r1 + 0x4c)", ["r2 = *(u64 *)(r1 + 0xd0)"]],
    ["data_end (bpf_skb_data_end in cb)", "r2 = *(u32 *)(r1 + 0x50)", ["r2 = *(u64 *)(r1 + 0x50)"]],
    ["data_meta", "r2 = *(u32 *)(r1 + 0x8c)", ["r2 = *(u64 *)(r1 + 0x48)"]],
    ["wire_len", "r2 = *(u32 *)(r1 + 0xa0)", ["r2 = *(u32 *)(r1 + 0x28)"]],
    [
      "gso_segs (skb_shinfo)",
      "r2 = *(u32 *)(r1 + 0xa4)",
      ["r11 = *(u32 *)(r1 + 0xc0)", "r2 = *(u64 *)(r1 + 0xc8)", "r2 += r11", "r2 = *(u16 *)(r2 + 0x6)"],
    ],
    [
      "tstamp (tc ingress delivery time reads as 0)",
      "r2 = *(u64 *)(r1 + 0x98)",
      [
        "r11 = *(u8 *)(r1 + 0x81)",
        "if w11 & 0x4 goto +0x1",
        "goto +0x4",
        "if w11 & 0x3 goto +0x1",
        "goto +0x2",
        "r2 = 0x0",
        "goto +0x1",
        "r2 = *(u64 *)(r1 + 0x20)",
      ],
    ],
    ["narrow: byte 1 of len", "r2 = *(u8 *)(r1 + 0x1)", ["r2 = *(u32 *)(r1 + 0x70)", "w2 >>= 0x8", "w2 &= 0xff"]],
    ["narrow: low half of mark", "r2 = *(u16 *)(r1 + 0x8)", ["r2 = *(u32 *)(r1 + 0xa8)", "w2 &= 0xffff"]],
    ["narrow: byte of protocol", "r2 = *(u8 *)(r1 + 0x10)", ["r2 = *(u16 *)(r1 + 0xb4)", "w2 &= 0xff"]],
    ["store mark", "w2 = 0x1\n*(u32 *)(r1 + 0x8) = r2", ["w2 = 0x1", "*(u32 *)(r1 + 0xa8) = r2"]],
    // BPF_ST into the context (allowed since 6.3) is still rejected by the model: not tested here
    [
      "store queue_mapping (register: NO_QUEUE_MAPPING is skipped)",
      "w2 = 0x1\n*(u32 *)(r1 + 0xc) = r2",
      ["w2 = 0x1", "if r2 >= 0xffff goto +0x1", "*(u16 *)(r1 + 0x7c) = r2"],
    ],
    [
      "store tstamp (ingress clears tstamp_type)",
      "r2 = 0x1\n*(u64 *)(r1 + 0x98) = r2",
      [
        "r2 = 0x1",
        "r11 = *(u8 *)(r1 + 0x81)",
        "if w11 & 0x4 goto +0x1",
        "goto +0x2",
        "w11 &= -0x4",
        "*(u8 *)(r1 + 0x81) = r11",
        "*(u64 *)(r1 + 0x20) = r2",
      ],
    ],
  ];
  for (const [name, body, want] of cases) test(name, () => assert.deepEqual(converted(body), want));

  test("reading tstamp_type makes tstamp a plain load", () => {
    assert.deepEqual(converted("r2 = *(u8 *)(r1 + 0xb4)\nr3 = *(u64 *)(r1 + 0x98)"), [
      "r11 = *(u8 *)(r1 + 0x81)",
      "w11 &= 0x3",
      "w2 = w11",
      "r3 = *(u64 *)(r1 + 0x20)",
    ]);
  });
});

describe("__sk_buff (cgroup_skb): socket fields through skb->sk", () => {
  test("family, remote_ip4, remote_port", () => {
    const body = "r2 = *(u32 *)(r1 + 0x58)\nr3 = *(u32 *)(r1 + 0x5c)\nr4 = *(u32 *)(r1 + 0x84)";
    assert.deepEqual(converted(body, BPF_PROG_TYPE_CGROUP_SKB), [
      "r2 = *(u64 *)(r1 + 0x18)",
      "r2 = *(u16 *)(r2 + 0x10)",
      "r3 = *(u64 *)(r1 + 0x18)",
      "r3 = *(u32 *)(r3 + 0x0)",
      "r4 = *(u64 *)(r1 + 0x18)",
      "r4 = *(u16 *)(r4 + 0xc)",
      "w4 <<= 0x10",
    ]);
  });
});

describe("xdp_md", () => {
  test("data, data_end, data_meta, ingress_ifindex, rx_queue_index", () => {
    const body = [0, 4, 8, 12, 16].map((o, k) => `r${k + 2} = *(u32 *)(r1 + 0x${o.toString(16)})`).join("\n");
    assert.deepEqual(converted(body, BPF_PROG_TYPE_XDP), [
      "r2 = *(u64 *)(r1 + 0x0)",
      "r3 = *(u64 *)(r1 + 0x8)",
      "r4 = *(u64 *)(r1 + 0x10)",
      "r5 = *(u64 *)(r1 + 0x20)",
      "r5 = *(u64 *)(r5 + 0x0)",
      "r5 = *(u32 *)(r5 + 0xe0)",
      "r6 = *(u64 *)(r1 + 0x20)",
      "r6 = *(u32 *)(r6 + 0x8)",
    ]);
  });
});
