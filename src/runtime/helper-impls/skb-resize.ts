/**
 * The net/core/filter.c helpers that change an skb's length or layout: bpf_skb_change_tail,
 * bpf_skb_change_head, bpf_skb_adjust_room, bpf_skb_vlan_push and bpf_skb_vlan_pop (with
 * skb_vlan_push / skb_vlan_pop of net/core/skbuff.c). Each ends like the kernel's with
 * bpf_compute_data_pointers: here {@link SkbBuff.syncCtx}, so that the context's len and
 * pointers follow.
 */
import {
  ETH_ALEN,
  ETH_HLEN,
  ETH_P_802_2,
  ETH_P_802_3,
  ETH_P_802_3_MIN,
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_IP,
  ETH_P_IPV6,
  type SkbBuff,
  VLAN_HLEN,
} from "../ctx/skb.ts";
import { EFAULT, EINVAL, ENOMEM, ENOTSUPP } from "../errno.ts";
import type { HelperSpec } from "../helpers.ts";
import { ret, s32, skbArg, u32 } from "../program-runtime.ts";
import { mayPull, resetChecksumUnnecessary } from "./skb.ts";

/** SKB_MAX_ALLOC with 4K pages: an order-2 allocation minus the shared info (BPF_SKB_MAX_LEN). */
const SKB_MAX_ALLOC = (4096 << 2) - 320;
/** BPF_ADJ_ROOM_NET, BPF_ADJ_ROOM_MAC */
const BPF_ADJ_ROOM_NET = 0;
const BPF_ADJ_ROOM_MAC = 1;
/** bpf_skb_adjust_room flags. */
const BPF_F_ADJ_ROOM_FIXED_GSO = 1n << 0n;
const BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 = 1n << 1n;
const BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 = 1n << 2n;
const BPF_F_ADJ_ROOM_ENCAP_L4_GRE = 1n << 3n;
const BPF_F_ADJ_ROOM_ENCAP_L4_UDP = 1n << 4n;
const BPF_F_ADJ_ROOM_NO_CSUM_RESET = 1n << 5n;
const BPF_F_ADJ_ROOM_ENCAP_L2_ETH = 1n << 6n;
const BPF_F_ADJ_ROOM_DECAP_L3_IPV4 = 1n << 7n;
const BPF_F_ADJ_ROOM_DECAP_L3_IPV6 = 1n << 8n;
const BPF_ADJ_ROOM_ENCAP_L2_SHIFT = 56n;
const ENCAP_L3_MASK = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
const DECAP_L3_MASK = BPF_F_ADJ_ROOM_DECAP_L3_IPV4 | BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
const ADJ_ROOM_MASK =
  BPF_F_ADJ_ROOM_FIXED_GSO |
  ENCAP_L3_MASK |
  BPF_F_ADJ_ROOM_ENCAP_L4_GRE |
  BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
  BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
  (0xffn << BPF_ADJ_ROOM_ENCAP_L2_SHIFT) |
  DECAP_L3_MASK;
/** EALREADY */
const EALREADY = 114;

/** __bpf_skb_max_len: the device's MTU plus its link-layer header. */
function maxLen(skb: SkbBuff): number {
  return skb.dev.mtu + skb.dev.hardHeaderLen;
}

/** __bpf_skb_min_len: the packet may not be cut into its network header. */
function minLen(skb: SkbBuff): number {
  return Math.max(skb.networkHeader - skb.data, 0);
}

/**
 * bpf_skb_change_tail_proto: grows (zero-filled) or trims the packet to `new_len`, which must
 * lie between the network header offset and the device MTU + link header; flags must be 0.
 */
export const bpfSkbChangeTailProto: HelperSpec = {
  name: "bpf_skb_change_tail",
  args: ["ptr-to-ctx", "anything", "anything"],
  ret: "integer",
  fn: (env, ctx, newLen, flags) => {
    const skb = skbArg(env, ctx, "bpf_skb_change_tail");
    const n = u32(newLen);
    let r = 0;
    if (flags !== 0n || n > maxLen(skb) || n < minLen(skb)) r = -EINVAL;
    else if (skb.encapsulation) r = -ENOTSUPP;
    else if (n > skb.len) {
      const old = skb.tail;
      skb.reserve(0, n - skb.len);
      skb.tail = skb.data + n;
      skb.buf.fill(0, old, skb.tail);
    } else {
      skb.tail = skb.data + n;
    }
    skb.syncCtx();
    return ret(r);
  },
};

/**
 * bpf_skb_change_head_proto: pushes `head_room` zero bytes in front of the packet and makes
 * them the mac header (for an L3 packet that needs a link-layer header); flags must be 0.
 */
export const bpfSkbChangeHeadProto: HelperSpec = {
  name: "bpf_skb_change_head",
  args: ["ptr-to-ctx", "anything", "anything"],
  ret: "integer",
  fn: (env, ctx, headRoom, flags) => {
    const skb = skbArg(env, ctx, "bpf_skb_change_head");
    const room = u32(headRoom);
    const newLen = skb.len + room;
    if (flags !== 0n || newLen > maxLen(skb) || newLen > 0xffffffff) {
      skb.syncCtx();
      return ret(-EINVAL);
    }
    skb.reserve(room, 0);
    skb.push(room);
    skb.buf.fill(0, skb.data, skb.data + room);
    skb.resetMacHeader();
    skb.macLen = skb.networkHeader - skb.macHeader;
    skb.syncCtx();
    return 0n;
  },
};

/** bpf_skb_net_base_len: the fixed IP header length of the packet's protocol. */
function netBaseLen(skb: SkbBuff): number {
  if (skb.protocol === ETH_P_IP) return 20;
  if (skb.protocol === ETH_P_IPV6) return 40;
  return 0;
}

/**
 * bpf_skb_adjust_room_proto: inserts (len_diff > 0) or removes room after the mac header
 * (BPF_ADJ_ROOM_MAC) or after the fixed IP header (BPF_ADJ_ROOM_NET) of an IPv4/IPv6 packet.
 * Inserted bytes are zero; the network header then starts at the inserted room.
 */
export const bpfSkbAdjustRoomProto: HelperSpec = {
  name: "bpf_skb_adjust_room",
  args: ["ptr-to-ctx", "anything", "anything", "anything"],
  ret: "integer",
  fn: (env, ctx, lenDiff, mode, flags) => {
    const skb = skbArg(env, ctx, "bpf_skb_adjust_room");
    const r = adjustRoom(skb, s32(lenDiff), u32(mode), BigInt.asUintN(64, flags));
    skb.syncCtx();
    return ret(r);
  },
};

function adjustRoom(skb: SkbBuff, diff: number, mode: number, flags: bigint): number {
  const abs = Math.abs(diff);
  let lenMin = netBaseLen(skb);
  const shrink = diff < 0;
  if (flags & ~(ADJ_ROOM_MASK | BPF_F_ADJ_ROOM_NO_CSUM_RESET)) return -EINVAL;
  if (abs > 0xfff) return -EFAULT;
  if (skb.protocol !== ETH_P_IP && skb.protocol !== ETH_P_IPV6) return -ENOTSUPP;
  let off = skb.networkHeader - skb.macHeader;
  if (mode === BPF_ADJ_ROOM_NET) off += netBaseLen(skb);
  else if (mode !== BPF_ADJ_ROOM_MAC) return -ENOTSUPP;
  if (flags & DECAP_L3_MASK) {
    if (!shrink) return -EINVAL;
    const d = flags & DECAP_L3_MASK;
    if (d === BPF_F_ADJ_ROOM_DECAP_L3_IPV4) lenMin = 20;
    else if (d === BPF_F_ADJ_ROOM_DECAP_L3_IPV6) lenMin = 40;
    else return -EINVAL;
  }
  const lenCur = skb.len - (skb.networkHeader - skb.data);
  if ((shrink && (abs >= lenCur || lenCur - abs < lenMin)) || (!shrink && skb.len + abs > SKB_MAX_ALLOC)) {
    return -ENOTSUPP;
  }
  const r = shrink ? netShrink(skb, off, abs) : netGrow(skb, off, abs, flags);
  if (r === 0 && !(flags & BPF_F_ADJ_ROOM_NO_CSUM_RESET)) resetChecksumUnnecessary(skb);
  return r;
}

/** bpf_skb_net_grow: the encapsulation checks, then bpf_skb_net_hdr_push. */
function netGrow(skb: SkbBuff, off: number, len: number, flags: bigint): number {
  const innerMacLen = Number((flags >> BPF_ADJ_ROOM_ENCAP_L2_SHIFT) & 0xffn);
  const encap = (flags & ENCAP_L3_MASK) !== 0n;
  if (encap) {
    if ((flags & ENCAP_L3_MASK) === ENCAP_L3_MASK) return -EINVAL;
    if (flags & BPF_F_ADJ_ROOM_ENCAP_L4_GRE && flags & BPF_F_ADJ_ROOM_ENCAP_L4_UDP) return -EINVAL;
    if (flags & BPF_F_ADJ_ROOM_ENCAP_L2_ETH && innerMacLen < ETH_HLEN) return -EINVAL;
    if (skb.encapsulation) return -EALREADY;
    if (innerMacLen > len) return -EINVAL;
  }
  // bpf_skb_generic_push: the first `off` bytes move to the new front, `len` zero bytes follow.
  skb.reserve(len, 0);
  skb.push(len);
  skb.buf.copyWithin(skb.data, skb.data + len, skb.data + len + off);
  skb.buf.fill(0, skb.data + off, skb.data + off + len);
  skb.macHeader -= len;
  skb.networkHeader -= len;
  if (encap) skb.encapsulation = true;
  return 0;
}

/** bpf_skb_net_shrink: bpf_skb_generic_pop of `len` bytes after the first `off`. */
function netShrink(skb: SkbBuff, off: number, len: number): number {
  if (!mayPull(skb, off + len)) return -ENOMEM;
  const old = skb.data;
  skb.pull(len);
  skb.buf.copyWithin(skb.data, old, old + off);
  skb.macHeader += len;
  skb.networkHeader += len;
  return 0;
}

const isVlan = (proto: number): boolean => proto === ETH_P_8021Q || proto === ETH_P_8021AD;

/** __vlan_insert_tag: writes a tag after the MAC addresses; the skb grows by VLAN_HLEN. */
function insertTag(skb: SkbBuff, proto: number, tci: number): void {
  skb.reserve(VLAN_HLEN, 0);
  skb.push(VLAN_HLEN);
  skb.buf.copyWithin(skb.data, skb.data + VLAN_HLEN, skb.data + VLAN_HLEN + 2 * ETH_ALEN);
  if (skb.macHeader >= 0) skb.macHeader -= VLAN_HLEN;
  const b = skb.buf;
  const at = skb.data + 2 * ETH_ALEN;
  b[at] = proto >>> 8;
  b[at + 1] = proto & 0xff;
  b[at + 2] = tci >>> 8;
  b[at + 3] = tci & 0xff;
}

/** __skb_vlan_pop: removes the in-band tag after the MAC addresses; 0 or -errno, and the TCI. */
function vlanPopInband(skb: SkbBuff): { err: number; tci: number } {
  if (skb.data !== skb.macHeader) return { err: -EINVAL, tci: 0 };
  if (!mayPull(skb, ETH_HLEN + VLAN_HLEN)) return { err: -ENOMEM, tci: 0 };
  const b = skb.buf;
  const vhdr = skb.data + ETH_HLEN;
  const tci = (b[vhdr] << 8) | b[vhdr + 1];
  const encap = (b[vhdr + 2] << 8) | b[vhdr + 3];
  b.copyWithin(skb.data + VLAN_HLEN, skb.data, skb.data + 2 * ETH_ALEN);
  // vlan_set_encap_proto
  if (encap >= ETH_P_802_3_MIN) skb.protocol = encap;
  else if (b[vhdr + 4] === 0xff && b[vhdr + 5] === 0xff) skb.protocol = ETH_P_802_3;
  else skb.protocol = ETH_P_802_2;
  skb.pull(VLAN_HLEN);
  skb.macHeader += VLAN_HLEN;
  if (skb.networkHeader - skb.data < ETH_HLEN) skb.networkHeader = skb.data + ETH_HLEN;
  skb.macLen = skb.networkHeader - skb.macHeader;
  return { err: 0, tci };
}

/**
 * bpf_skb_vlan_push_proto: puts a hardware-accelerated tag on the skb (skb_vlan_push); a tag
 * already there moves into the packet first. Protocols other than 802.1Q/802.1ad become 802.1Q.
 */
export const bpfSkbVlanPushProto: HelperSpec = {
  name: "bpf_skb_vlan_push",
  args: ["ptr-to-ctx", "anything", "anything"],
  ret: "integer",
  fn: (env, ctx, vlanProto, vlanTci) => {
    const skb = skbArg(env, ctx, "bpf_skb_vlan_push");
    // vlan_proto is a __be16: swap the register's low 16 bits to host order.
    const raw = u32(vlanProto) & 0xffff;
    let proto = ((raw & 0xff) << 8) | (raw >>> 8);
    if (!isVlan(proto)) proto = ETH_P_8021Q;
    const tci = u32(vlanTci) & 0xffff;
    let r = 0;
    if (skb.vlanPresent) {
      if (skb.data !== skb.macHeader) r = -EINVAL;
      else {
        insertTag(skb, skb.vlanProto, skb.vlanTci);
        skb.protocol = skb.vlanProto;
        skb.networkHeader -= VLAN_HLEN;
      }
    }
    if (r === 0) {
      skb.vlanPresent = true;
      skb.vlanProto = proto;
      skb.vlanTci = tci;
    }
    skb.macLen = skb.networkHeader - skb.macHeader;
    skb.syncCtx();
    return ret(r);
  },
};

/**
 * bpf_skb_vlan_pop_proto: drops the accelerated tag, or else the in-band one; if another tag
 * follows (QinQ) it becomes the accelerated tag (skb_vlan_pop).
 */
export const bpfSkbVlanPopProto: HelperSpec = {
  name: "bpf_skb_vlan_pop",
  args: ["ptr-to-ctx"],
  ret: "integer",
  fn: (env, ctx) => {
    const skb = skbArg(env, ctx, "bpf_skb_vlan_pop");
    const r = vlanPop(skb);
    skb.syncCtx();
    return ret(r);
  },
};

function vlanPop(skb: SkbBuff): number {
  if (skb.vlanPresent) {
    skb.vlanPresent = false;
    skb.vlanTci = 0;
    skb.vlanProto = 0;
  } else {
    if (!isVlan(skb.protocol)) return 0;
    const { err } = vlanPopInband(skb);
    if (err) return err;
  }
  if (!isVlan(skb.protocol)) return 0;
  const proto = skb.protocol;
  const { err, tci } = vlanPopInband(skb);
  if (err) return err;
  skb.vlanPresent = true;
  skb.vlanProto = proto;
  skb.vlanTci = tci;
  return 0;
}
