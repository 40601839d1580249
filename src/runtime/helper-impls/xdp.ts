/**
 * XDP helpers of net/core/filter.c: bpf_xdp_adjust_head, _adjust_tail (linear and
 * multi-buffer), _adjust_meta, bpf_xdp_get_buff_len, _load_bytes, _store_bytes, and the XDP
 * flavour of bpf_redirect (which answers with XDP actions instead of TC ones).
 */
import { ETH_HLEN } from "../ctx/skb.ts";
import { SIZEOF_XDP_FRAME, XDP_ABORTED, XDP_PAGE_SIZE, XDP_REDIRECT, type XdpBuff } from "../ctx/xdp.ts";
import { EACCES, EFAULT, EINVAL } from "../errno.ts";
import type { HelperSpec } from "../helpers.ts";
import { readMem, ret, runtimeOf, s32, sizeArg, u32, writeMem, xdpArg } from "../program-runtime.ts";

/** xdp_metalen_invalid: metadata is a multiple of 4 bytes and fits skb_shared_info.meta_len (u8). */
export function xdpMetalenInvalid(metalen: number): boolean {
  return metalen % 4 !== 0 || metalen > 255;
}

/**
 * bpf_xdp_adjust_head_proto: moves data by `offset` (metadata moves along); data may not go
 * below the xdp_frame at the start of the headroom (plus the metadata), nor leave less than
 * ETH_HLEN bytes. -EINVAL otherwise.
 */
export const bpfXdpAdjustHeadProto: HelperSpec = {
  name: "bpf_xdp_adjust_head",
  args: ["ptr-to-ctx", "anything"],
  ret: "integer",
  fn: (env, ctx, offset) => {
    const xdp = xdpArg(env, ctx, "bpf_xdp_adjust_head");
    const off = s32(offset);
    const metalen = xdp.data - xdp.dataMeta;
    const data = xdp.data + off;
    if (data < SIZEOF_XDP_FRAME + metalen || data > xdp.dataEnd - ETH_HLEN) return ret(-EINVAL);
    if (metalen) xdp.buf.copyWithin(xdp.dataMeta + off, xdp.dataMeta, xdp.dataMeta + metalen);
    xdp.dataMeta += off;
    xdp.data = data;
    return 0n;
  },
};

/**
 * bpf_xdp_adjust_tail_proto: moves data_end by `offset`. Growing is bounded by the reserved
 * tailroom (xdp_data_hard_end) and zero-fills; shrinking must leave ETH_HLEN bytes. With
 * fragments the last fragment grows or fragments shrink from the end.
 */
export const bpfXdpAdjustTailProto: HelperSpec = {
  name: "bpf_xdp_adjust_tail",
  args: ["ptr-to-ctx", "anything"],
  ret: "integer",
  fn: (env, ctx, offset) => {
    const xdp = xdpArg(env, ctx, "bpf_xdp_adjust_tail");
    const off = s32(offset);
    if (xdp.frags.length > 0) return ret(off < 0 ? fragsShrinkTail(xdp, -off) : fragsIncreaseTail(xdp, off));
    const dataEnd = xdp.dataEnd + off;
    if (dataEnd > xdp.hardEnd || dataEnd < xdp.data + ETH_HLEN) return ret(-EINVAL);
    if (off > 0) xdp.buf.fill(0, xdp.dataEnd, dataEnd);
    xdp.dataEnd = dataEnd;
    return 0n;
  },
};

/** bpf_xdp_frags_increase_tail: the last fragment grows into the rest of its page. */
function fragsIncreaseTail(xdp: XdpBuff, offset: number): number {
  const last = xdp.frags[xdp.frags.length - 1];
  if (offset > XDP_PAGE_SIZE - last.length) return -EINVAL;
  const grown = new Uint8Array(last.length + offset);
  grown.set(last);
  xdp.frags[xdp.frags.length - 1] = grown;
  return 0;
}

/** bpf_xdp_frags_shrink_tail: fragments lose bytes from the end; emptied ones are freed. */
function fragsShrinkTail(xdp: XdpBuff, offset: number): number {
  if (offset > xdp.buffLen - ETH_HLEN) return -EINVAL;
  let left = offset;
  while (left > 0 && xdp.frags.length > 0) {
    const last = xdp.frags[xdp.frags.length - 1];
    const shrink = Math.min(left, last.length);
    left -= shrink;
    if (shrink === last.length) xdp.frags.pop();
    else xdp.frags[xdp.frags.length - 1] = last.subarray(0, last.length - shrink);
  }
  if (xdp.frags.length === 0) xdp.dataEnd -= left;
  return 0;
}

/**
 * bpf_xdp_adjust_meta_proto: moves data_meta by `offset`; it must stay between the xdp_frame
 * and data (-EINVAL) and the metadata must be a multiple of 4 of at most 255 bytes (-EACCES).
 */
export const bpfXdpAdjustMetaProto: HelperSpec = {
  name: "bpf_xdp_adjust_meta",
  args: ["ptr-to-ctx", "anything"],
  ret: "integer",
  fn: (env, ctx, offset) => {
    const xdp = xdpArg(env, ctx, "bpf_xdp_adjust_meta");
    const meta = xdp.dataMeta + s32(offset);
    if (meta < SIZEOF_XDP_FRAME || meta > xdp.data) return ret(-EINVAL);
    if (xdpMetalenInvalid(xdp.data - meta)) return ret(-EACCES);
    xdp.dataMeta = meta;
    return 0n;
  },
};

/** bpf_xdp_get_buff_len_proto: linear length plus fragments. */
export const bpfXdpGetBuffLenProto: HelperSpec = {
  name: "bpf_xdp_get_buff_len",
  args: ["ptr-to-ctx"],
  ret: "integer",
  fn: (env, ctx) => BigInt(xdpArg(env, ctx, "bpf_xdp_get_buff_len").buffLen),
};

/** The checks of bpf_xdp_pointer: -EFAULT above 0xffff, -EINVAL past the end; else 0. */
function xdpRange(xdp: XdpBuff, offset: number, len: number): number {
  if (offset > 0xffff || len > 0xffff) return -EFAULT;
  if (offset + len > xdp.buffLen) return -EINVAL;
  return 0;
}

/** bpf_xdp_load_bytes_proto: copies packet bytes (across fragments) into BPF memory. */
export const bpfXdpLoadBytesProto: HelperSpec = {
  name: "bpf_xdp_load_bytes",
  args: ["ptr-to-ctx", "anything", "ptr-to-uninit-mem", "const-size"],
  ret: "integer",
  fn: (env, ctx, offset, buf, len) => {
    const xdp = xdpArg(env, ctx, "bpf_xdp_load_bytes");
    const off = u32(offset);
    const n = sizeArg(len, "bpf_xdp_load_bytes");
    env.space.bytesAt(buf, n, true);
    const r = xdpRange(xdp, off, n);
    if (r) return ret(r);
    const out = new Uint8Array(n);
    xdp.copy(off, out, false);
    writeMem(env, buf, out);
    return 0n;
  },
};

/** bpf_xdp_store_bytes_proto: copies BPF memory into the packet (across fragments). */
export const bpfXdpStoreBytesProto: HelperSpec = {
  name: "bpf_xdp_store_bytes",
  args: ["ptr-to-ctx", "anything", "ptr-to-mem", "const-size"],
  ret: "integer",
  fn: (env, ctx, offset, buf, len) => {
    const xdp = xdpArg(env, ctx, "bpf_xdp_store_bytes");
    const off = u32(offset);
    const n = sizeArg(len, "bpf_xdp_store_bytes");
    const bytes = readMem(env, buf, n);
    const r = xdpRange(xdp, off, n);
    if (r) return ret(r);
    xdp.copy(off, bytes, true);
    return 0n;
  },
};

/**
 * bpf_xdp_redirect_proto: records the target ifindex and returns XDP_REDIRECT; any flag makes
 * it XDP_ABORTED. A test run without live frames only reports the action.
 */
export const bpfXdpRedirectProto: HelperSpec = {
  name: "bpf_redirect",
  args: ["anything", "anything"],
  ret: "integer",
  fn: (env, ifindex, flags) => {
    if (flags !== 0n) return BigInt(XDP_ABORTED);
    const ri = runtimeOf(env, "bpf_redirect").redirect;
    ri.ifindex = u32(ifindex);
    ri.flags = 0;
    ri.map = null;
    return BigInt(XDP_REDIRECT);
  },
};
