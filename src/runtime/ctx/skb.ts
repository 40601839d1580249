/**
 * The socket buffer programs of type socket_filter, sched_cls and sched_act see: a model of the
 * kernel's `struct sk_buff` (include/linux/skbuff.h) reduced to what helpers and the
 * `struct __sk_buff` context can observe, and the context itself.
 *
 * The packet lives in one linear buffer `[head, end)` mapped as a "packet" region; `data` and
 * `tail` are offsets in it (skb->data, skb_tail_pointer), as are the mac and network header
 * offsets. Test-run skbs are always linear, so skb_headlen == skb->len.
 *
 * The context is a 192-byte region laid out as `struct __sk_buff` (include/uapi/linux/bpf.h).
 * Where the kernel's convert_ctx_access turns a context load into a load of an sk_buff field,
 * this model keeps the field's current value in the context bytes instead: fields a program may
 * write (mark, priority, cb[], tc_index, tc_classid, queue_mapping, tstamp) live only there,
 * and {@link SkbBuff.syncCtx} rewrites the read-only ones whenever a helper changes the skb. The
 * pointer fields (data, data_end, data_meta) are 32-bit fields that load 64-bit pointers, which
 * the region's load32Hook provides.
 */
import { SK_BUFF_OFFSETS } from "../../object/uapi.ts";
import type { AddressSpace, MemoryRegion } from "../memory.ts";

/** Byte offsets of `struct __sk_buff` fields. */
export const SKB_CTX = SK_BUFF_OFFSETS;

/** sizeof(struct __sk_buff) */
export const SIZEOF_SK_BUFF_CTX = 192;
/** QDISC_CB_PRIV_LEN: the 20 bytes of cb[] test_run copies in and out. */
export const QDISC_CB_PRIV_LEN = 20;
/** ETH_HLEN */
export const ETH_HLEN = 14;
/** ETH_ALEN */
export const ETH_ALEN = 6;
/** VLAN_HLEN */
export const VLAN_HLEN = 4;
/** ETH_P_802_3_MIN: ethertypes below it are 802.3 length fields. */
export const ETH_P_802_3_MIN = 0x0600;
/** ETH_P_802_3: the protocol of raw 802.3 (Novell) frames. */
export const ETH_P_802_3 = 0x0001;
/** ETH_P_802_2: the protocol of 802.2 LLC frames. */
export const ETH_P_802_2 = 0x0004;
/** ETH_P_IP */
export const ETH_P_IP = 0x0800;
/** ETH_P_IPV6 */
export const ETH_P_IPV6 = 0x86dd;
/** ETH_P_8021Q: a VLAN tag. */
export const ETH_P_8021Q = 0x8100;
/** ETH_P_8021AD: a service VLAN (QinQ) tag. */
export const ETH_P_8021AD = 0x88a8;
/** PACKET_HOST: addressed to this host. */
export const PACKET_HOST = 0;
/** PACKET_BROADCAST: to the device's broadcast address. */
export const PACKET_BROADCAST = 1;
/** PACKET_MULTICAST: to a group address. */
export const PACKET_MULTICAST = 2;
/** PACKET_OTHERHOST: to another host's unicast address. */
export const PACKET_OTHERHOST = 3;
/** LOOPBACK_IFINDEX: test runs receive on the network namespace's loopback device. */
export const LOOPBACK_IFINDEX = 1;
/** The loopback device's MTU (64 KiB) and hard_header_len: the limit of __bpf_skb_max_len. */
export const LOOPBACK_MTU = 65536;

/** What the skb model needs to know about the receiving device (net_device). */
export interface NetDevice {
  readonly ifindex: number;
  /** dev->dev_addr */
  readonly addr: Uint8Array;
  /** dev->broadcast: all zero for lo, which never sets it. */
  readonly broadcast: Uint8Array;
  readonly mtu: number;
  readonly hardHeaderLen: number;
}

/** The loopback device of a network namespace: every address zero. */
export const LOOPBACK_DEV: NetDevice = {
  ifindex: LOOPBACK_IFINDEX,
  addr: new Uint8Array(ETH_ALEN),
  broadcast: new Uint8Array(ETH_ALEN),
  mtu: LOOPBACK_MTU,
  hardHeaderLen: ETH_HLEN,
};

/** CHECKSUM_NONE: no checksum information (test-run skbs). */
export const CHECKSUM_NONE = 0;
/** CHECKSUM_UNNECESSARY: checksums verified up to csum_level. */
export const CHECKSUM_UNNECESSARY = 1;
/** CHECKSUM_COMPLETE: skb->csum holds the packet's sum. */
export const CHECKSUM_COMPLETE = 2;
/** CHECKSUM_PARTIAL: the checksum is left to the device. */
export const CHECKSUM_PARTIAL = 3;

/** SKF_NET_OFF: LD_ABS offsets from here count from the network header. */
export const SKF_NET_OFF = -0x100000;
/** SKF_LL_OFF: LD_ABS offsets from here count from the mac header. */
export const SKF_LL_OFF = -0x200000;

/** A model of `struct sk_buff` with its `struct __sk_buff` context. */
export class SkbBuff {
  /** [head, end): the whole linear buffer; head is offset 0. */
  buf: Uint8Array;
  /** The region mapping {@link buf}; packet pointers are addresses in it. */
  readonly region: MemoryRegion;
  /** The 192-byte `struct __sk_buff` region programs get in r1. */
  readonly ctx: MemoryRegion;
  /** skb->data */
  data: number;
  /** skb_tail_pointer */
  tail: number;
  /** skb->mac_header, or -1 when unset (skb_mac_header_was_set false). */
  macHeader = -1;
  /** skb->network_header */
  networkHeader = 0;
  /** skb->mac_len */
  macLen = 0;
  /** skb->protocol in host order (ETH_P_IP = 0x0800). */
  protocol = 0;
  pktType = PACKET_HOST;
  /** Hardware-accelerated VLAN tag (skb->vlan_all). */
  vlanPresent = false;
  vlanTci = 0;
  /** skb->vlan_proto in host order. */
  vlanProto = 0;
  /** The receiving device (skb->dev). */
  dev: NetDevice;
  /** skb->skb_iif */
  skbIif = 0;
  /** qdisc_skb_cb(skb)->pkt_len: __sk_buff.wire_len */
  pktLen = 0;
  /** skb_shinfo(skb)->gso_size, gso_segs, gso_type */
  gsoSize = 0;
  gsoSegs = 0;
  gsoType = 0;
  /** skb_shinfo(skb)->hwtstamps.hwtstamp */
  hwtstamp = 0n;
  /** True at tc ingress (skb_at_tc_ingress); test runs are not. */
  readonly atTcIngress = false;
  /** skb->ip_summed: CHECKSUM_NONE (0), _UNNECESSARY (1), _COMPLETE (2), _PARTIAL (3). */
  ipSummed = CHECKSUM_NONE;
  /** skb->csum_level (with CHECKSUM_UNNECESSARY). */
  csumLevel = 0;
  /** skb->csum (with CHECKSUM_COMPLETE). */
  csum = 0;
  /** skb->encapsulation */
  encapsulation = false;
  /** skb->sw_hash / skb->l4_hash */
  swHash = false;
  l4Hash = false;

  constructor(space: AddressSpace, buf: Uint8Array, data: number, len: number, dev: NetDevice) {
    this.buf = buf;
    this.data = data;
    this.tail = data + len;
    this.dev = dev;
    this.region = space.map("packet", buf, { name: "skb" });
    this.ctx = space.map("ctx", new Uint8Array(SIZEOF_SK_BUFF_CTX), { name: "__sk_buff" });
    this.ctx.load32Hook = (off) => this.pointerField(off);
  }

  /** skb->len (linear skb: skb_headlen). */
  get len(): number {
    return this.tail - this.data;
  }

  /** skb_headroom */
  get headroom(): number {
    return this.data;
  }

  /** skb_tailroom */
  get tailroom(): number {
    return this.buf.length - this.tail;
  }

  /** The address of byte `off` of the buffer. */
  address(off: number): bigint {
    return this.region.address(off);
  }

  /** __sk_buff.data / data_end / data_meta as the kernel's bpf_compute_data_pointers sets them. */
  private pointerField(off: number): bigint | null {
    switch (off) {
      case SKB_CTX.data:
      case SKB_CTX.data_meta:
        return this.address(this.data);
      case SKB_CTX.data_end:
        return this.address(this.tail);
      default:
        return null;
    }
  }

  /** A u32 field of the context (mark, priority, cb[i] = cb + 4 * i ...). */
  getU32(off: number): number {
    return this.ctx.view.getUint32(off, true);
  }

  setU32(off: number, v: number): void {
    this.ctx.view.setUint32(off, v >>> 0, true);
  }

  /** skb->hash, kept in the context. */
  get hash(): number {
    return this.getU32(SKB_CTX.hash);
  }

  set hash(v: number) {
    this.setU32(SKB_CTX.hash, v);
  }

  /** skb->tstamp, kept in the context. */
  get tstamp(): bigint {
    return this.ctx.view.getBigUint64(SKB_CTX.tstamp, true);
  }

  set tstamp(v: bigint) {
    this.ctx.view.setBigUint64(SKB_CTX.tstamp, BigInt.asUintN(64, v), true);
  }

  /**
   * Rewrites the read-only context fields from the skb (what convert_ctx_access would load
   * now). Called after the skb is built and after every helper that changes it.
   */
  syncCtx(): void {
    const v = this.ctx.view;
    v.setUint32(SKB_CTX.len, this.len, true);
    v.setUint32(SKB_CTX.pkt_type, this.pktType, true);
    // __be16 fields load as the two bytes in memory: network order read little-endian.
    v.setUint32(SKB_CTX.protocol, bswap16(this.protocol), true);
    v.setUint32(SKB_CTX.vlan_present, this.vlanPresent ? 1 : 0, true);
    v.setUint32(SKB_CTX.vlan_tci, this.vlanTci, true);
    v.setUint32(SKB_CTX.vlan_proto, bswap16(this.vlanProto), true);
    v.setUint32(SKB_CTX.ingress_ifindex, this.skbIif, true);
    v.setUint32(SKB_CTX.ifindex, this.dev.ifindex, true);
    v.setUint32(SKB_CTX.wire_len, this.pktLen, true);
    v.setUint32(SKB_CTX.gso_segs, this.gsoSegs, true);
    v.setUint32(SKB_CTX.gso_size, this.gsoSize, true);
    v.setBigUint64(SKB_CTX.hwtstamp, this.hwtstamp, true);
  }

  /** The packet bytes [data, tail) (a view, not a copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.data, this.tail);
  }

  /**
   * Makes sure there are `headroom` bytes before data and `tailroom` after tail, moving the
   * packet into a larger buffer if needed (pskb_expand_head). Header offsets move with it.
   */
  reserve(headroom: number, tailroom: number): void {
    if (this.headroom >= headroom && this.tailroom >= tailroom) return;
    const addHead = Math.max(0, headroom - this.headroom);
    const size = this.buf.length + addHead + Math.max(0, tailroom - this.tailroom);
    const nb = new Uint8Array(size);
    nb.set(this.buf, addHead);
    this.buf = nb;
    this.region.resize(nb);
    this.data += addHead;
    this.tail += addHead;
    if (this.macHeader >= 0) this.macHeader += addHead;
    this.networkHeader += addHead;
  }

  /** __skb_push: data -= n (the room must exist). */
  push(n: number): void {
    this.data -= n;
  }

  /** __skb_pull: data += n. */
  pull(n: number): void {
    this.data += n;
  }

  /** skb_reset_mac_header */
  resetMacHeader(): void {
    this.macHeader = this.data;
  }

  /** skb_reset_network_header */
  resetNetworkHeader(): void {
    this.networkHeader = this.data;
  }

  /**
   * LD_ABS / LD_IND (bpf_skb_load_helper_8/16/32): `size` big-endian bytes at `k` relative to
   * skb->data, or at the network or mac header for the SKF_NET_OFF / SKF_LL_OFF bases; -1 when
   * the bytes are not all inside [head, tail).
   */
  loadHelper(k: number, size: 1 | 2 | 4): number {
    let p: number;
    if (k >= 0) {
      if (this.len - k < size) return -1;
      p = this.data + k;
    } else if (k >= SKF_NET_OFF) {
      p = this.networkHeader + k - SKF_NET_OFF;
    } else if (k >= SKF_LL_OFF) {
      if (this.macHeader < 0) return -1;
      p = this.macHeader + k - SKF_LL_OFF;
    } else {
      return -1;
    }
    if (p < 0 || p + size > this.tail) return -1;
    const b = this.buf;
    if (size === 1) return b[p];
    if (size === 2) return (b[p] << 8) | b[p + 1];
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }
}

/** Swaps the two bytes of a 16-bit value (htons/ntohs on a little-endian host). */
export function bswap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/**
 * eth_type_trans (net/ethernet/eth.c): records the mac header, pulls the Ethernet header,
 * classifies the destination address against the device (eth_skb_pkt_type) and returns the
 * protocol: the ethertype, or ETH_P_802_3 / ETH_P_802_2 for 802.3 frames (a length field).
 */
export function ethTypeTrans(skb: SkbBuff, dev: NetDevice): number {
  skb.dev = dev;
  skb.resetMacHeader();
  const eth = skb.data;
  skb.pull(ETH_HLEN);
  skb.macLen = ETH_HLEN;
  const b = skb.buf;
  const dest = b.subarray(eth, eth + ETH_ALEN);
  const equal = (x: Uint8Array, y: Uint8Array) => x.every((v, i) => v === y[i]);
  if (!equal(dest, dev.addr)) {
    if (dest[0] & 1) skb.pktType = equal(dest, dev.broadcast) ? PACKET_BROADCAST : PACKET_MULTICAST;
    else skb.pktType = PACKET_OTHERHOST;
  }
  const proto = (b[eth + 12] << 8) | b[eth + 13];
  if (proto >= ETH_P_802_3_MIN) return proto;
  // Novell raw 802.3 (IPX) is spotted by an 0xFFFF where the 802.2 SAPs would be.
  if (skb.len >= 2 && b[skb.data] === 0xff && b[skb.data + 1] === 0xff) return ETH_P_802_3;
  return ETH_P_802_2;
}
