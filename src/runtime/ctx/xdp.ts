/**
 * The buffer XDP programs see: a model of the kernel's `struct xdp_buff` (include/net/xdp.h)
 * and the `struct xdp_md` context.
 *
 * The frame is one page, mapped as a "packet" region:
 *
 *   0 (data_hard_start)                               frame_sz - 320       frame_sz
 *   | xdp_frame (40) | headroom ... | meta | data ... data_end | tailroom | skb_shared_info |
 *
 * data_meta, data and data_end are offsets in the page. The skb_shared_info at the end is the
 * reserved tailroom of xdp_data_hard_end; bytes past data_end up to there are what
 * bpf_xdp_adjust_tail may grow into. Fragments (multi-buffer packets) are kept as separate
 * byte arrays; programs reach them only through bpf_xdp_load_bytes / store_bytes.
 *
 * The context is a 24-byte region laid out as `struct xdp_md`; its data, data_end and data_meta
 * fields load pointers through the region's load32Hook.
 */
import type { AddressSpace, MemoryRegion } from "../memory.ts";

/** Byte offsets of `struct xdp_md` fields. */
export const XDP_MD = {
  data: 0,
  data_end: 4,
  data_meta: 8,
  ingress_ifindex: 12,
  rx_queue_index: 16,
  egress_ifindex: 20,
} as const;

/** sizeof(struct xdp_md) */
export const SIZEOF_XDP_MD = 24;
/** XDP_PACKET_HEADROOM */
export const XDP_PACKET_HEADROOM = 256;
/** sizeof(struct xdp_frame) on 64-bit: the front of the headroom that adjust_head cannot use. */
export const SIZEOF_XDP_FRAME = 40;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on arm64 and x86-64 (MAX_SKB_FRAGS = 17). */
export const SKB_SHARED_INFO_SIZE = 320;
/** MAX_SKB_FRAGS */
export const MAX_SKB_FRAGS = 17;
/** PAGE_SIZE */
export const XDP_PAGE_SIZE = 4096;

/** XDP_ABORTED: a program error; the packet is dropped. */
export const XDP_ABORTED = 0;
/** XDP_DROP */
export const XDP_DROP = 1;
/** XDP_PASS: on to the network stack. */
export const XDP_PASS = 2;
/** XDP_TX: back out of the receiving device. */
export const XDP_TX = 3;
/** XDP_REDIRECT: to the target bpf_redirect* recorded. */
export const XDP_REDIRECT = 4;

/** A model of `struct xdp_buff` with its `struct xdp_md` context. */
export class XdpBuff {
  /** The frame: data_hard_start is offset 0. */
  readonly buf: Uint8Array;
  readonly region: MemoryRegion;
  readonly ctx: MemoryRegion;
  data: number;
  dataEnd: number;
  /** data_meta; data + 1 would mean "metadata unsupported", which test runs never set. */
  dataMeta: number;
  /** frame_sz: xdp_data_hard_end is frame_sz - SKB_SHARED_INFO_SIZE. */
  readonly frameSz: number;
  /** Fragments after the linear part (xdp_buff_has_frags when non-empty). */
  frags: Uint8Array[] = [];
  /** xdp->rxq->dev->ifindex and xdp->rxq->queue_index. */
  ingressIfindex: number;
  rxQueueIndex: number;

  constructor(space: AddressSpace, buf: Uint8Array, headroom: number, linearLen: number, ifindex: number) {
    this.buf = buf;
    this.frameSz = buf.length;
    this.dataMeta = headroom;
    this.data = headroom;
    this.dataEnd = headroom + linearLen;
    this.ingressIfindex = ifindex;
    this.rxQueueIndex = 0;
    this.region = space.map("packet", buf, { name: "xdp" });
    this.ctx = space.map("ctx", new Uint8Array(SIZEOF_XDP_MD), { name: "xdp_md" });
    this.ctx.load32Hook = (off) => {
      switch (off) {
        case XDP_MD.data:
          return this.region.address(this.data);
        case XDP_MD.data_end:
          return this.region.address(this.dataEnd);
        case XDP_MD.data_meta:
          return this.region.address(this.dataMeta);
        default:
          return null;
      }
    };
  }

  /** xdp_data_hard_end: where the reserved skb_shared_info starts. */
  get hardEnd(): number {
    return this.frameSz - SKB_SHARED_INFO_SIZE;
  }

  /** Bytes in the fragments (sinfo->xdp_frags_size). */
  get fragsSize(): number {
    let n = 0;
    for (const f of this.frags) n += f.length;
    return n;
  }

  /** xdp_get_buff_len: linear length plus fragments. */
  get buffLen(): number {
    return this.dataEnd - this.data + this.fragsSize;
  }

  /** Writes the plain xdp_md fields (the pointer ones come from the hook). */
  syncCtx(): void {
    const v = this.ctx.view;
    v.setUint32(XDP_MD.ingress_ifindex, this.ingressIfindex, true);
    v.setUint32(XDP_MD.rx_queue_index, this.rxQueueIndex, true);
    v.setUint32(XDP_MD.egress_ifindex, 0, true);
  }

  /** The whole packet from data_meta: linear part then fragments (what test_run copies out). */
  output(): Uint8Array {
    const lin = this.buf.subarray(this.dataMeta, this.dataEnd);
    if (this.frags.length === 0) return lin.slice();
    const out = new Uint8Array(lin.length + this.fragsSize);
    out.set(lin, 0);
    let off = lin.length;
    for (const f of this.frags) {
      out.set(f, off);
      off += f.length;
    }
    return out;
  }

  /**
   * Reads (or, with `write`, overwrites) `len` bytes at packet offset `off` (from data) across
   * the linear part and the fragments (bpf_xdp_copy_buf); false when out of range.
   */
  copy(off: number, bytes: Uint8Array, write: boolean): boolean {
    const total = this.buffLen;
    if (off < 0 || off + bytes.length > total) return false;
    let pos = off;
    let done = 0;
    const chunks: Uint8Array[] = [this.buf.subarray(this.data, this.dataEnd), ...this.frags];
    let base = 0;
    for (const c of chunks) {
      if (done === bytes.length) break;
      const end = base + c.length;
      if (pos < end) {
        const n = Math.min(end - pos, bytes.length - done);
        const from = pos - base;
        if (write) c.set(bytes.subarray(done, done + n), from);
        else bytes.set(c.subarray(from, from + n), done);
        done += n;
        pos += n;
      }
      base = end;
    }
    return true;
  }
}
