/**
 * Socket-buffer helpers of net/core/filter.c for socket filters and tc programs: packet access
 * (bpf_skb_load_bytes, _load_bytes_relative, _store_bytes, _pull_data), checksums
 * (bpf_l3/l4_csum_replace, bpf_csum_diff, bpf_csum_update, bpf_csum_level), redirects as tc
 * sees them (bpf_redirect, _redirect_peer, _redirect_neigh, bpf_clone_redirect) and the
 * metadata setters (bpf_set_hash, bpf_skb_change_type ...). The helpers that resize the packet
 * are in `skb-resize.ts`.
 *
 * Test-run skbs are linear and CHECKSUM_NONE, so "make writable" only fails when the range is
 * past the end of the packet, and checksum bookkeeping of CHECKSUM_COMPLETE skbs is kept but
 * never observable.
 */
import {
  csumAdd,
  csumFrom32to16,
  csumPartial,
  csumReplace2,
  csumReplace4,
  csumReplaceByDiff,
  csumSub,
  inetProtoCsumReplace4,
  inetProtoCsumReplaceByDiff,
  loadU16,
  storeU16,
} from "../csum.ts";
import { CHECKSUM_COMPLETE, CHECKSUM_NONE, CHECKSUM_UNNECESSARY, type SkbBuff } from "../ctx/skb.ts";
import { EACCES, EFAULT, EINVAL, ENOMEM, ENOTSUPP, ERANGE } from "../errno.ts";
import type { HelperEnv, HelperSpec } from "../helpers.ts";
import { readMem, ret, runtimeOf, s32, sizeArg, skbArg, u32, writeMem } from "../program-runtime.ts";

const INT_MAX = 0x7fffffff;
/** BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH (skb_store_bytes flags). */
const BPF_F_RECOMPUTE_CSUM = 1;
const BPF_F_INVALIDATE_HASH = 2;
/** BPF_F_HDR_FIELD_MASK, BPF_F_PSEUDO_HDR, BPF_F_MARK_MANGLED_0, BPF_F_MARK_ENFORCE. */
const BPF_F_HDR_FIELD_MASK = 0xf;
const BPF_F_PSEUDO_HDR = 1 << 4;
const BPF_F_MARK_MANGLED_0 = 1 << 5;
const BPF_F_MARK_ENFORCE = 1 << 6;
/** CSUM_MANGLED_0: how a zero UDP checksum is written when it must not read as "none". */
const CSUM_MANGLED_0 = 0xffff;
/** BPF_HDR_START_MAC, BPF_HDR_START_NET */
const BPF_HDR_START_MAC = 0;
const BPF_HDR_START_NET = 1;
/** BPF_F_INGRESS */
const BPF_F_INGRESS = 1;
/** TC_ACT_SHOT: drop the packet. */
export const TC_ACT_SHOT = 2;
/** TC_ACT_REDIRECT: send it where bpf_redirect said. */
export const TC_ACT_REDIRECT = 7;
/** bpf_csum_level levels. */
const BPF_CSUM_LEVEL_QUERY = 0;
const BPF_CSUM_LEVEL_INC = 1;
const BPF_CSUM_LEVEL_DEC = 2;
const BPF_CSUM_LEVEL_RESET = 3;
/** SKB_MAX_CSUM_LEVEL */
const SKB_MAX_CSUM_LEVEL = 3;
/** sizeof(struct bpf_redir_neigh) */
const SIZEOF_BPF_REDIR_NEIGH = 20;
/** BPF_F_IPV6 (v6.16): the L4 checksum belongs to an IPv6 packet (only matters for CHECKSUM_PARTIAL). */
const BPF_F_IPV6 = 1 << 7;

/**
 * skb_ensure_writable (pskb_may_pull) for a linear skb: the first `len` bytes from data must
 * exist. `len` is computed as an unsigned int, as the kernel's write_len is.
 */
export function mayPull(skb: SkbBuff, len: number): boolean {
  return len >>> 0 <= skb.len;
}

/** bpf_skb_load_bytes_proto: 0, or -EFAULT with the destination zeroed. */
export const bpfSkbLoadBytesProto: HelperSpec = {
  name: "bpf_skb_load_bytes",
  args: ["ptr-to-ctx", "anything", "ptr-to-uninit-mem", "const-size"],
  ret: "integer",
  fn: (env, ctx, offset, to, len) => {
    const skb = skbArg(env, ctx, "bpf_skb_load_bytes");
    const off = u32(offset);
    const n = sizeArg(len, "bpf_skb_load_bytes");
    env.space.bytesAt(to, n, true);
    if (off > INT_MAX || skb.len - off < n) {
      writeMem(env, to, new Uint8Array(n));
      return ret(-EFAULT);
    }
    writeMem(env, to, skb.buf.slice(skb.data + off, skb.data + off + n));
    return 0n;
  },
};

/**
 * bpf_skb_load_bytes_relative_proto: like bpf_skb_load_bytes from the mac (BPF_HDR_START_MAC)
 * or network (BPF_HDR_START_NET) header; the range must end before the tail.
 */
export const bpfSkbLoadBytesRelativeProto: HelperSpec = {
  name: "bpf_skb_load_bytes_relative",
  args: ["ptr-to-ctx", "anything", "ptr-to-uninit-mem", "const-size", "anything"],
  ret: "integer",
  fn: (env, ctx, offset, to, len, startHeader) => {
    const skb = skbArg(env, ctx, "bpf_skb_load_bytes_relative");
    const off = u32(offset);
    const n = sizeArg(len, "bpf_skb_load_bytes_relative");
    env.space.bytesAt(to, n, true);
    const hdr = u32(startHeader);
    let start = -1;
    if (off <= 0xffff) {
      if (hdr === BPF_HDR_START_MAC) start = skb.macHeader;
      else if (hdr === BPF_HDR_START_NET) start = skb.networkHeader;
    }
    if (start < 0 || start + off + n > skb.tail) {
      writeMem(env, to, new Uint8Array(n));
      return ret(-EFAULT);
    }
    writeMem(env, to, skb.buf.slice(start + off, start + off + n));
    return 0n;
  },
};

/**
 * bpf_skb_store_bytes_proto: writes `len` bytes at `offset`; BPF_F_RECOMPUTE_CSUM keeps a
 * CHECKSUM_COMPLETE csum in step, BPF_F_INVALIDATE_HASH clears skb->hash. -EINVAL for other
 * flags, -EFAULT past the end.
 */
export const bpfSkbStoreBytesProto: HelperSpec = {
  name: "bpf_skb_store_bytes",
  args: ["ptr-to-ctx", "anything", "ptr-to-mem", "const-size", "anything"],
  ret: "integer",
  fn: (env, ctx, offset, from, len, flags) => {
    const skb = skbArg(env, ctx, "bpf_skb_store_bytes");
    const f = BigInt.asUintN(64, flags);
    if (f & ~BigInt(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH)) return ret(-EINVAL);
    const off = u32(offset);
    const n = sizeArg(len, "bpf_skb_store_bytes");
    const bytes = readMem(env, from, n);
    if (off > INT_MAX) return ret(-EFAULT);
    if (!mayPull(skb, off + n)) return ret(-EFAULT);
    const at = skb.data + off;
    const recompute = (f & BigInt(BPF_F_RECOMPUTE_CSUM)) !== 0n && skb.ipSummed === CHECKSUM_COMPLETE;
    if (recompute) skb.csum = csumAdd(skb.csum, ~csumPartial(skb.buf.subarray(at, at + n), 0) >>> 0);
    skb.buf.set(bytes, at);
    if (recompute) skb.csum = csumAdd(skb.csum, csumPartial(bytes, 0));
    if (f & BigInt(BPF_F_INVALIDATE_HASH)) clearHash(skb);
    return 0n;
  },
};

/** skb_clear_hash */
export function clearHash(skb: SkbBuff): void {
  skb.hash = 0;
  skb.swHash = false;
  skb.l4Hash = false;
}

/** bpf_skb_pull_data_proto: makes `len` bytes (0: the whole head) directly accessible; -ENOMEM past the end. */
export const bpfSkbPullDataProto: HelperSpec = {
  name: "bpf_skb_pull_data",
  args: ["ptr-to-ctx", "anything"],
  ret: "integer",
  fn: (env, ctx, len) => {
    const skb = skbArg(env, ctx, "bpf_skb_pull_data");
    const n = u32(len);
    return mayPull(skb, n === 0 ? skb.len : n) ? 0n : ret(-ENOMEM);
  },
};

/** Where a checksum field is, after the l3/l4 helpers' offset checks; a negative errno otherwise. */
function csumField(skb: SkbBuff, offset: bigint): number {
  const off = u32(offset);
  if (off > 0xffff || off & 1) return -EFAULT;
  if (!mayPull(skb, off + 2)) return -EFAULT;
  return skb.data + off;
}

/**
 * bpf_l3_csum_replace_proto: updates the 16-bit checksum at `offset` for a field that changed
 * from `from` to `to` (size 2 or 4 in the flags), or by a precomputed difference in `to`
 * (size 0, `from` must be 0).
 */
export const bpfL3CsumReplaceProto: HelperSpec = {
  name: "bpf_l3_csum_replace",
  args: ["ptr-to-ctx", "anything", "anything", "anything", "anything"],
  ret: "integer",
  fn: (env, ctx, offset, from, to, flags) => {
    const skb = skbArg(env, ctx, "bpf_l3_csum_replace");
    const f = BigInt.asUintN(64, flags);
    if (f & ~BigInt(BPF_F_HDR_FIELD_MASK)) return ret(-EINVAL);
    const at = csumField(skb, offset);
    if (at < 0) return ret(at);
    const sum = loadU16(skb.buf, at);
    switch (Number(f) & BPF_F_HDR_FIELD_MASK) {
      case 0:
        if (from !== 0n) return ret(-EINVAL);
        storeU16(skb.buf, at, csumReplaceByDiff(sum, u32(to)));
        break;
      case 2:
        storeU16(skb.buf, at, csumReplace2(sum, u32(from) & 0xffff, u32(to) & 0xffff));
        break;
      case 4:
        storeU16(skb.buf, at, csumReplace4(sum, u32(from), u32(to)));
        break;
      default:
        return ret(-EINVAL);
    }
    return 0n;
  },
};

/**
 * bpf_l4_csum_replace_proto: as bpf_l3_csum_replace for a TCP/UDP checksum. BPF_F_PSEUDO_HDR
 * marks a pseudo-header field (only matters for CHECKSUM_PARTIAL/COMPLETE skbs);
 * BPF_F_MARK_MANGLED_0 leaves a zero (absent) UDP checksum alone and writes a result of 0 as
 * 0xffff.
 */
export const bpfL4CsumReplaceProto: HelperSpec = {
  name: "bpf_l4_csum_replace",
  args: ["ptr-to-ctx", "anything", "anything", "anything", "anything"],
  ret: "integer",
  fn: (env, ctx, offset, from, to, flags) => {
    const skb = skbArg(env, ctx, "bpf_l4_csum_replace");
    const f = BigInt.asUintN(64, flags);
    const allowed = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_IPV6 | BPF_F_HDR_FIELD_MASK;
    if (f & ~BigInt(allowed)) return ret(-EINVAL);
    const fl = Number(f);
    const isMmzero = (fl & BPF_F_MARK_MANGLED_0) !== 0;
    const doMforce = (fl & BPF_F_MARK_ENFORCE) !== 0;
    const at = csumField(skb, offset);
    if (at < 0) return ret(at);
    const sum = loadU16(skb.buf, at);
    if (isMmzero && !doMforce && sum === 0) return 0n;
    let v: number;
    switch (fl & BPF_F_HDR_FIELD_MASK) {
      case 0:
        if (from !== 0n) return ret(-EINVAL);
        v = inetProtoCsumReplaceByDiff(sum, u32(to));
        break;
      case 2:
        v = inetProtoCsumReplace4(sum, u32(from) & 0xffff, u32(to) & 0xffff);
        break;
      case 4:
        v = inetProtoCsumReplace4(sum, u32(from), u32(to));
        break;
      default:
        return ret(-EINVAL);
    }
    storeU16(skb.buf, at, isMmzero && v === 0 ? CSUM_MANGLED_0 : v);
    return 0n;
  },
};

/**
 * bpf_csum_diff_proto: the checksum difference between the words at `from` and at `to`,
 * seeded with `seed`, folded to 16 bits (csum_from32to16). This is the form of v6.13 and later
 * ("optimize and homogenize for all archs"), which the recorded kernel runs: no scratch buffer,
 * so no size limit beyond the verifier's, and the same result on every architecture.
 */
export const bpfCsumDiffProto: HelperSpec = {
  name: "bpf_csum_diff",
  args: ["ptr-to-mem", "const-size-or-zero", "ptr-to-mem", "const-size-or-zero", "anything"],
  ret: "integer",
  fn: (env, from, fromSize, to, toSize, seed) => {
    const fs = sizeArg(fromSize, "bpf_csum_diff");
    const ts = sizeArg(toSize, "bpf_csum_diff");
    let r = u32(seed);
    if (fs && ts) r = csumSub(csumPartial(readMem(env, to, ts), r), csumPartial(readMem(env, from, fs), 0));
    else if (ts) r = csumPartial(readMem(env, to, ts), r);
    else if (fs) r = ~csumPartial(readMem(env, from, fs), ~r >>> 0) >>> 0;
    return BigInt(csumFrom32to16(r));
  },
};

/** bpf_csum_update_proto: adds to skb->csum of a CHECKSUM_COMPLETE skb, else -ENOTSUPP. */
export const bpfCsumUpdateProto: HelperSpec = {
  name: "bpf_csum_update",
  args: ["ptr-to-ctx", "anything"],
  ret: "integer",
  fn: (env, ctx, csum) => {
    const skb = skbArg(env, ctx, "bpf_csum_update");
    if (skb.ipSummed !== CHECKSUM_COMPLETE) return ret(-ENOTSUPP);
    skb.csum = csumAdd(skb.csum, u32(csum));
    return BigInt(skb.csum);
  },
};

/** bpf_csum_level_proto: queries or changes the CHECKSUM_UNNECESSARY level. */
export const bpfCsumLevelProto: HelperSpec = {
  name: "bpf_csum_level",
  args: ["ptr-to-ctx", "anything"],
  ret: "integer",
  fn: (env, ctx, level) => {
    const skb = skbArg(env, ctx, "bpf_csum_level");
    const l = BigInt.asUintN(64, level);
    switch (l) {
      case BigInt(BPF_CSUM_LEVEL_INC):
        if (skb.ipSummed === CHECKSUM_UNNECESSARY) {
          if (skb.csumLevel < SKB_MAX_CSUM_LEVEL) skb.csumLevel++;
        } else if (skb.ipSummed === CHECKSUM_NONE) {
          skb.ipSummed = CHECKSUM_UNNECESSARY;
          skb.csumLevel = 0;
        }
        return 0n;
      case BigInt(BPF_CSUM_LEVEL_DEC):
        if (skb.ipSummed === CHECKSUM_UNNECESSARY) {
          if (skb.csumLevel === 0) skb.ipSummed = CHECKSUM_NONE;
          else skb.csumLevel--;
        }
        return 0n;
      case BigInt(BPF_CSUM_LEVEL_RESET):
        resetChecksumUnnecessary(skb);
        return 0n;
      case BigInt(BPF_CSUM_LEVEL_QUERY):
        return skb.ipSummed === CHECKSUM_UNNECESSARY ? BigInt(skb.csumLevel) : ret(-EACCES);
      default:
        return ret(-EINVAL);
    }
  },
};

/** __skb_reset_checksum_unnecessary */
export function resetChecksumUnnecessary(skb: SkbBuff): void {
  if (skb.ipSummed === CHECKSUM_UNNECESSARY) {
    skb.ipSummed = CHECKSUM_NONE;
    skb.csumLevel = 0;
  }
}

/** Flags bpf_redirect accepts (the kernel's internal BPF_F_NEIGH/PEER/NEXTHOP bits are refused). */
function redirectFlagsOk(flags: bigint): boolean {
  return (BigInt.asUintN(64, flags) & ~BigInt(BPF_F_INGRESS)) === 0n;
}

/**
 * bpf_redirect_proto (tc): records the target in bpf_redirect_info and returns
 * TC_ACT_REDIRECT, or TC_ACT_SHOT for unknown flags. A test run only reports the verdict.
 */
export const bpfRedirectProto: HelperSpec = {
  name: "bpf_redirect",
  args: ["anything", "anything"],
  ret: "integer",
  fn: (env, ifindex, flags) => {
    if (!redirectFlagsOk(flags)) return BigInt(TC_ACT_SHOT);
    const ri = runtimeOf(env, "bpf_redirect").redirect;
    ri.ifindex = u32(ifindex);
    ri.flags = Number(flags);
    ri.map = null;
    return BigInt(TC_ACT_REDIRECT);
  },
};

/** bpf_redirect_peer_proto: no flags are defined. */
export const bpfRedirectPeerProto: HelperSpec = {
  name: "bpf_redirect_peer",
  args: ["anything", "anything"],
  ret: "integer",
  fn: (env, ifindex, flags) => {
    if (flags !== 0n) return BigInt(TC_ACT_SHOT);
    const ri = runtimeOf(env, "bpf_redirect_peer").redirect;
    ri.ifindex = u32(ifindex);
    ri.flags = 1 << 2;
    ri.map = null;
    return BigInt(TC_ACT_REDIRECT);
  },
};

/** bpf_redirect_neigh_proto: params must be absent or a whole struct bpf_redir_neigh. */
export const bpfRedirectNeighProto: HelperSpec = {
  name: "bpf_redirect_neigh",
  args: ["anything", "ptr-to-mem", "const-size-or-zero", "anything"],
  ret: "integer",
  fn: (env, ifindex, params, plen, flags) => {
    const len = s32(plen);
    if ((len !== 0 && len < SIZEOF_BPF_REDIR_NEIGH) || flags !== 0n) return BigInt(TC_ACT_SHOT);
    if (len !== 0) readMem(env, params, SIZEOF_BPF_REDIR_NEIGH);
    const ri = runtimeOf(env, "bpf_redirect_neigh").redirect;
    ri.ifindex = u32(ifindex);
    ri.flags = (1 << 1) | (len !== 0 ? 1 << 3 : 0);
    ri.map = null;
    return BigInt(TC_ACT_REDIRECT);
  },
};

/**
 * bpf_clone_redirect_proto: sends a copy of the packet out of (or into) device `ifindex`. The
 * only device of a test run's namespace is lo: other indexes are -EINVAL, a frame without a
 * link-layer header -ERANGE; the copy itself leaves nothing observable.
 */
export const bpfCloneRedirectProto: HelperSpec = {
  name: "bpf_clone_redirect",
  args: ["ptr-to-ctx", "anything", "anything"],
  ret: "integer",
  fn: (env, ctx, ifindex, flags) => {
    const skb = skbArg(env, ctx, "bpf_clone_redirect");
    if (!redirectFlagsOk(flags)) return ret(-EINVAL);
    if (u32(ifindex) !== skb.dev.ifindex) return ret(-EINVAL);
    if (skb.macHeader >= skb.networkHeader) return ret(-ERANGE);
    return 0n;
  },
};

/** bpf_set_hash_invalid_proto: skb_clear_hash. */
export const bpfSetHashInvalidProto: HelperSpec = {
  name: "bpf_set_hash_invalid",
  args: ["ptr-to-ctx"],
  ret: "void",
  fn: (env, ctx) => {
    clearHash(skbArg(env, ctx, "bpf_set_hash_invalid"));
    return 0n;
  },
};

/** bpf_set_hash_proto: a software L4 hash. */
export const bpfSetHashProto: HelperSpec = {
  name: "bpf_set_hash",
  args: ["ptr-to-ctx", "anything"],
  ret: "integer",
  fn: (env, ctx, hash) => {
    const skb = skbArg(env, ctx, "bpf_set_hash");
    skb.hash = u32(hash);
    skb.swHash = true;
    skb.l4Hash = true;
    return 0n;
  },
};

/** bpf_skb_change_type_proto: sets pkt_type to one of PACKET_HOST..PACKET_OTHERHOST. */
export const bpfSkbChangeTypeProto: HelperSpec = {
  name: "bpf_skb_change_type",
  args: ["ptr-to-ctx", "anything"],
  ret: "integer",
  fn: (env, ctx, type) => {
    const skb = skbArg(env, ctx, "bpf_skb_change_type");
    const t = u32(type);
    if (skb.pktType > 3 || t > 3) return ret(-EINVAL);
    skb.pktType = t;
    skb.syncCtx();
    return 0n;
  },
};

function zeroResult(name: string): HelperSpec {
  return {
    name,
    args: ["ptr-to-ctx"],
    ret: "integer",
    fn: (env: HelperEnv, ctx: bigint) => {
      skbArg(env, ctx, name);
      return 0n;
    },
  };
}

/** bpf_get_cgroup_classid_proto: the net_cls class of the task (none under cgroup v2). */
export const bpfGetCgroupClassidProto = zeroResult("bpf_get_cgroup_classid");
/** bpf_get_route_realm_proto: the dst's tclassid (a test-run skb has no dst). */
export const bpfGetRouteRealmProto = zeroResult("bpf_get_route_realm");
