/**
 * The per-field context rewrites of net/core/filter.c v6.12: `bpf_convert_ctx_access` for
 * `struct __sk_buff` (tc, socket filters, cgroup skb, lwt) and `xdp_convert_ctx_access` for
 * `struct xdp_md`. Each turns one load or store of a context field into accesses of the kernel
 * structs at their real offsets (kernel-layout.ts), and reports the field's size in the kernel
 * (`target_size`), which decides whether a narrow load needs a shift and mask afterwards.
 * BPF_REG_AX (11) is the scratch register where the source and destination may be the same.
 */

import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_B,
  BPF_DW,
  BPF_H,
  BPF_JA_OP,
  BPF_JEQ,
  BPF_JGE,
  BPF_JMP,
  BPF_JMP32,
  BPF_JSET,
  BPF_K,
  BPF_LDX,
  BPF_LSH,
  BPF_MEM,
  BPF_MOV,
  BPF_STX,
  BPF_W,
  BPF_X,
} from "../isa/opcodes.ts";
import { SK_BUFF_OFFSETS } from "../object/uapi.ts";
import { KERNEL_LAYOUT } from "./kernel-layout.ts";
import { type Slot, slot } from "./patch.ts";

/** BPF_REG_AX */
const AX = 11;
const SKB = KERNEL_LAYOUT.sk_buff;
const QDISC_CB = KERNEL_LAYOUT.qdisc_skb_cb;
const DATA_END_CB = KERNEL_LAYOUT.bpf_skb_data_end;
const SHINFO = KERNEL_LAYOUT.skb_shared_info;
const SOCK = KERNEL_LAYOUT.sock_common;

/** NO_QUEUE_MAPPING: a queue_mapping store of this or more is ignored. */
const NO_QUEUE_MAPPING = 0xffff;
/**
 * MIN_NAPI_ID = NR_CPUS + 1 (Debian's 6.12.117 arm64 config: CONFIG_NR_CPUS=512, confirmed by
 * the recorded xlated of ldst_ctx); lower ids are sender CPUs, read as 0.
 */
const MIN_NAPI_ID = 513;

/** The rewrite of one access. */
export interface Converted {
  readonly insns: Slot[];
  /** The field's size in the kernel (0: not narrowable). */
  readonly targetSize: number;
}

/** A size code (BPF_B/H/W/DW) for a byte count. */
function sizeCode(bytes: number): number {
  switch (bytes) {
    case 1:
      return BPF_B;
    case 2:
      return BPF_H;
    case 4:
      return BPF_W;
    default:
      return BPF_DW;
  }
}

const ldx = (bytes: number, dst: number, src: number, off: number): Slot =>
  slot(BPF_LDX | BPF_MEM | sizeCode(bytes), dst, src, off);
/** `BPF_EMIT_STORE`: the store keeps the program's class (ST with an immediate, or STX). */
const store = (bytes: number, si: Slot, off: number): Slot =>
  slot((si.code & 0x07) | BPF_MEM | sizeCode(bytes), si.dst, si.src, off, si.imm);
const jmpImm = (op: number, dst: number, imm: number, off: number): Slot =>
  slot(BPF_JMP | op | BPF_K, dst, 0, off, imm);
const ja = (off: number): Slot => slot(BPF_JA_OP, 0, 0, off);

/** `offsetof(struct __sk_buff, *)`. */
const F = SK_BUFF_OFFSETS;

/**
 * The field size the verifier records for narrow reads (`ctx_field_size`): 4 for the plain u32
 * fields of `bpf_skb_is_valid_access`'s default case, 0 for those that must be read whole.
 */
export function skbFieldSize(off: number): number {
  const whole: readonly (readonly [number, number])[] = [
    [F.cb, F.hash], // cb[]: any size, no narrowing
    [F.data, F.napi_id], // data, data_end
    [F.remote_ip4, F.remote_port], // addresses: whole u32s
    [F.data_meta, F.wire_len], // data_meta, flow_keys, tstamp
    [F.sk, F.gso_size],
    [F.tstamp_type, F.hwtstamp + 8],
  ];
  return whole.some(([a, b]) => off >= a && off < b) ? 0 : 4;
}

/** `bpf_convert_shinfo_access`: dst = skb_shinfo(skb) = skb->head + skb->end. */
function shinfo(dst: number, skb: number): Slot[] {
  return [
    ldx(SKB.end.size, AX, skb, SKB.end.off),
    ldx(SKB.head.size, dst, skb, SKB.head.off),
    slot(BPF_ALU64 | BPF_ADD | BPF_X, dst, AX),
  ];
}

const bitMask = (f: { bit?: number; bits?: number }): number => ((1 << (f.bits ?? 0)) - 1) << (f.bit ?? 0);
const TSTAMP_TYPE_MASK = bitMask(SKB.tstamp_type);
const TC_AT_INGRESS_MASK = bitMask(SKB.tc_at_ingress);
/** SKB_BF_MONO_TC_OFFSET: the byte holding tstamp_type and tc_at_ingress. */
const MONO_TC_OFFSET = SKB.tstamp_type.off;

/**
 * `bpf_convert_tstamp_read`: unless the program looks at tstamp_type itself, a tc ingress
 * program reading a delivery time (tstamp_type set) sees 0, as before delivery times existed.
 */
function tstampRead(si: Slot, typeAccess: boolean): Slot[] {
  const out: Slot[] = [];
  if (!typeAccess) {
    out.push(
      ldx(1, AX, si.src, MONO_TC_OFFSET),
      slot(BPF_JMP32 | BPF_JSET | BPF_K, AX, 0, 1, TC_AT_INGRESS_MASK),
      ja(4),
      slot(BPF_JMP32 | BPF_JSET | BPF_K, AX, 0, 1, TSTAMP_TYPE_MASK),
      ja(2),
      slot(BPF_ALU64 | BPF_MOV | BPF_K, si.dst, 0, 0, 0),
      ja(1),
    );
  }
  out.push(ldx(8, si.dst, si.src, SKB.tstamp.off));
  return out;
}

/** `bpf_convert_tstamp_write`: an ingress write also clears tstamp_type (unless the program reads it). */
function tstampWrite(si: Slot, typeAccess: boolean): Slot[] {
  const out: Slot[] = [];
  if (!typeAccess) {
    out.push(
      ldx(1, AX, si.dst, MONO_TC_OFFSET),
      slot(BPF_JMP32 | BPF_JSET | BPF_K, AX, 0, 1, TC_AT_INGRESS_MASK),
      ja(2),
      slot(BPF_ALU | BPF_AND | BPF_K, AX, 0, 0, ~TSTAMP_TYPE_MASK),
      slot(BPF_STX | BPF_MEM | BPF_B, si.dst, AX, MONO_TC_OFFSET),
    );
  }
  out.push(slot((si.code & 0x07) | BPF_DW | BPF_MEM, si.dst, si.src, SKB.tstamp.off, si.imm));
  return out;
}

/** `bpf_convert_ctx_access` for one access of `struct __sk_buff` (offsets already aligned for narrow loads). */
export function convertSkbField(
  type: "read" | "write",
  si: Slot,
  tstampTypeAccess: boolean,
  tcClsAct = false,
): Converted {
  const read = type === "read";
  const d = si.dst;
  const s = si.src;
  const simple = (f: { off: number; size: number }): Converted => ({
    insns: [read ? ldx(f.size, d, s, f.off) : store(f.size, si, f.off)],
    targetSize: f.size,
  });
  const off = si.off;
  if (off >= F.cb && off < F.hash) {
    const o = off - F.cb + SKB.cb.off + QDISC_CB.data.off;
    const bytes = { 0: 4, 8: 2, 16: 1, 24: 8 }[si.code & 0x18] ?? 4;
    return { insns: [read ? ldx(bytes, d, s, o) : store(bytes, si, o)], targetSize: 0 };
  }
  const sock = (f: { off: number; size: number }, extra: Slot[] = []): Converted => ({
    insns: [ldx(8, d, s, SKB.sk.off), ldx(f.size, d, d, f.off), ...extra],
    targetSize: f.size,
  });
  if (off >= F.remote_ip6 && off < F.remote_port) {
    const base =
      off < F.local_ip6 ? SOCK.skc_v6_daddr.off + off - F.remote_ip6 : SOCK.skc_v6_rcv_saddr.off + off - F.local_ip6;
    return sock({ off: base, size: 4 });
  }
  switch (off) {
    case F.len:
      return simple(SKB.len);
    case F.protocol:
      return simple(SKB.protocol);
    case F.vlan_proto:
      return simple(SKB.vlan_proto);
    case F.priority:
      return simple(SKB.priority);
    case F.ingress_ifindex:
      return simple(SKB.skb_iif);
    case F.hash:
      return simple(SKB.hash);
    case F.mark:
      return simple(SKB.mark);
    case F.vlan_tci:
      return simple(SKB.vlan_tci);
    case F.tc_index:
      return simple(SKB.tc_index);
    case F.ifindex:
      // tc programs always run with skb->dev set (tc_cls_act_convert_ctx_access skips the NULL
      // check); the others may not
      return {
        insns: tcClsAct
          ? [ldx(8, d, s, SKB.dev.off), ldx(4, d, d, KERNEL_LAYOUT.net_device.ifindex.off)]
          : [ldx(8, d, s, SKB.dev.off), jmpImm(BPF_JEQ, d, 0, 1), ldx(4, d, d, KERNEL_LAYOUT.net_device.ifindex.off)],
        targetSize: 4,
      };
    case F.pkt_type:
      return {
        insns: [ldx(1, d, s, SKB.pkt_type.off), slot(BPF_ALU | BPF_AND | BPF_K, d, 0, 0, bitMask(SKB.pkt_type))],
        targetSize: 1,
      };
    case F.queue_mapping: {
      const q = SKB.queue_mapping;
      if (read) return simple(q);
      if ((si.code & 0x07) !== BPF_STX) {
        // a constant of NO_QUEUE_MAPPING or more would be ignored: the store becomes a no-op jump
        return { insns: si.imm >= NO_QUEUE_MAPPING || si.imm < 0 ? [ja(0)] : [store(2, si, q.off)], targetSize: 2 };
      }
      return { insns: [jmpImm(BPF_JGE, s, NO_QUEUE_MAPPING, 1), store(2, si, q.off)], targetSize: 2 };
    }
    case F.vlan_present:
      return {
        insns: [
          ldx(SKB.vlan_all.size, d, s, SKB.vlan_all.off),
          jmpImm(BPF_JEQ, d, 0, 1),
          slot(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, 1),
        ],
        targetSize: 4,
      };
    case F.tc_classid: {
      const o = SKB.cb.off + QDISC_CB.tc_classid.off;
      return { insns: [read ? ldx(2, d, s, o) : store(2, si, o)], targetSize: 2 };
    }
    case F.data:
      return { insns: [ldx(8, d, s, SKB.data.off)], targetSize: 0 };
    case F.data_meta:
      return { insns: [ldx(8, d, s, SKB.cb.off + DATA_END_CB.data_meta.off)], targetSize: 0 };
    case F.data_end:
      return { insns: [ldx(8, d, s, SKB.cb.off + DATA_END_CB.data_end.off)], targetSize: 0 };
    case F.napi_id:
      return {
        insns: [
          ldx(4, d, s, SKB.napi_id.off),
          jmpImm(BPF_JGE, d, MIN_NAPI_ID, 1),
          slot(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, 0),
        ],
        targetSize: 4,
      };
    case F.family:
      return sock(SOCK.skc_family);
    case F.remote_ip4:
      return sock(SOCK.skc_daddr);
    case F.local_ip4:
      return sock(SOCK.skc_rcv_saddr);
    case F.remote_port:
      return sock(SOCK.skc_dport, [slot(BPF_ALU | BPF_LSH | BPF_K, d, 0, 0, 16)]);
    case F.local_port:
      return sock(SOCK.skc_num);
    case F.tstamp:
      return { insns: read ? tstampRead(si, tstampTypeAccess) : tstampWrite(si, tstampTypeAccess), targetSize: 8 };
    case F.tstamp_type:
      // the kernel's clock ids and the uapi's BPF_SKB_CLOCK_* are the same numbers
      return {
        insns: [
          ldx(1, AX, s, MONO_TC_OFFSET),
          slot(BPF_ALU | BPF_AND | BPF_K, AX, 0, 0, TSTAMP_TYPE_MASK),
          slot(BPF_ALU | BPF_MOV | BPF_X, d, AX),
        ],
        targetSize: 1,
      };
    case F.wire_len:
      return { insns: [ldx(4, d, s, SKB.cb.off + QDISC_CB.pkt_len.off)], targetSize: 4 };
    case F.gso_segs:
      return { insns: [...shinfo(d, s), ldx(2, d, d, SHINFO.gso_segs.off)], targetSize: 2 };
    case F.gso_size:
      return { insns: [...shinfo(d, s), ldx(2, d, d, SHINFO.gso_size.off)], targetSize: 2 };
    case F.hwtstamp:
      return { insns: [...shinfo(d, s), ldx(8, d, d, SHINFO.hwtstamps.off)], targetSize: 8 };
    case F.sk:
      return { insns: [ldx(8, d, s, SKB.sk.off)], targetSize: 0 };
    default:
      // not reachable for a verified program: keep the access as it is
      return { insns: [si], targetSize: 0 };
  }
}

/** `xdp_convert_ctx_access` for one load of `struct xdp_md`. */
export function convertXdpField(_type: "read" | "write", si: Slot): Converted {
  const X = KERNEL_LAYOUT.xdp_buff;
  const d = si.dst;
  const s = si.src;
  switch (si.off) {
    case 0:
      return { insns: [ldx(8, d, s, X.data.off)], targetSize: 0 };
    case 4:
      return { insns: [ldx(8, d, s, X.data_end.off)], targetSize: 0 };
    case 8:
      return { insns: [ldx(8, d, s, X.data_meta.off)], targetSize: 0 };
    case 12: // ingress_ifindex = xdp->rxq->dev->ifindex
      return {
        insns: [
          ldx(8, d, s, X.rxq.off),
          ldx(8, d, d, KERNEL_LAYOUT.xdp_rxq_info.dev.off),
          ldx(4, d, d, KERNEL_LAYOUT.net_device.ifindex.off),
        ],
        targetSize: 0,
      };
    case 16: // rx_queue_index = xdp->rxq->queue_index
      return {
        insns: [ldx(8, d, s, X.rxq.off), ldx(4, d, d, KERNEL_LAYOUT.xdp_rxq_info.queue_index.off)],
        targetSize: 0,
      };
    case 20: // egress_ifindex = xdp->txq->dev->ifindex
      return {
        insns: [
          ldx(8, d, s, X.txq.off),
          ldx(8, d, d, KERNEL_LAYOUT.xdp_txq_info.dev.off),
          ldx(4, d, d, KERNEL_LAYOUT.net_device.ifindex.off),
        ],
        targetSize: 0,
      };
    default:
      return { insns: [si], targetSize: 0 };
  }
}
