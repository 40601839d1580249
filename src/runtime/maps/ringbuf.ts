/**
 * BPF_MAP_TYPE_RINGBUF, after kernel/bpf/ringbuf.c: a power-of-two data area that producers
 * (programs) reserve records in and a consumer (user space, libbpf's ring_buffer__consume)
 * reads in order.
 *
 * Each record starts with an 8-byte header, `struct bpf_ringbuf_hdr`:
 *
 *   +0 u32 len     sample length | BPF_RINGBUF_BUSY_BIT (1<<31) while reserved
 *                                | BPF_RINGBUF_DISCARD_BIT (1<<30) once discarded
 *   +4 u32 pg_off  pages from the start of `struct bpf_ringbuf` to the header (the data area
 *                  starts after 3 meta pages), so a sample pointer leads back to its ring
 *
 * followed by the sample, the whole rounded up to 8 bytes. Positions only grow; the offset in
 * the data area is `pos & (size - 1)`. The kernel maps the data pages twice in a row so a record
 * that wraps past the end is contiguous; here the data region is 2 * size bytes and the part of
 * a record past `size` is mirrored into the start on reserve and copied back on commit.
 *
 * Space is refused (reserve returns NULL, output -EAGAIN) when the new producer position would
 * be `size` or more ahead of the consumer, or of the oldest record still reserved.
 */
import { TsbpfError } from "../../errors.ts";
import type { MemoryRegion } from "../memory.ts";
import { EAGAIN, EINVAL } from "./errno.ts";
import { BpfMap, type MapInit } from "./map.ts";

/** PAGE_SIZE of the target (x86-64 and arm64 with 4K pages). */
export const PAGE_SIZE = 4096;
/** Size of `struct bpf_ringbuf_hdr`. */
export const BPF_RINGBUF_HDR_SZ = 8;
export const BPF_RINGBUF_BUSY_BIT = 0x8000_0000;
export const BPF_RINGBUF_DISCARD_BIT = 0x4000_0000;
/** Flags of bpf_ringbuf_submit/discard/output. */
export const BPF_RB_NO_WAKEUP = 1;
export const BPF_RB_FORCE_WAKEUP = 2;
/** bpf_ringbuf_query flags. */
export const BPF_RB_AVAIL_DATA = 0;
export const BPF_RB_RING_SIZE = 1;
export const BPF_RB_CONS_POS = 2;
export const BPF_RB_PROD_POS = 3;
/** RINGBUF_MAX_RECORD_SZ: UINT_MAX / 4. */
const RINGBUF_MAX_RECORD_SZ = 0x3fff_ffff;
/** Meta pages before the data area (waitq/lock page, consumer page, producer page). */
const RINGBUF_META_PAGES = 3;

/** A ring buffer map. */
export class RingbufMap extends BpfMap {
  /** Data area size (max_entries). */
  readonly size: number;
  /** Twice `size`: the data area as its double mapping shows it. */
  readonly data: MemoryRegion;
  consumerPos = 0;
  producerPos = 0;
  /** Oldest position whose record may still be reserved (`rb->pending_pos`). */
  pendingPos = 0;
  /** Wakeups the kernel would have queued (irq_work), for tests and traces. */
  wakeups = 0;
  private readonly view: DataView;

  constructor(init: MapInit) {
    super(init);
    this.size = this.maxEntries;
    this.data = this.mapRegion(new Uint8Array(2 * this.size), `${this.name}.data`, "ringbuf");
    this.view = this.data.view;
  }

  private get mask(): number {
    return this.size - 1;
  }

  /** bpf_ringbuf_reserve: address of the sample, or 0n (bad flags, too big, no room). */
  reserve(size: number, flags: number): bigint {
    if (flags !== 0) return 0n;
    const off = this.reserveRaw(size);
    return off < 0 ? 0n : this.data.address(off + BPF_RINGBUF_HDR_SZ);
  }

  /** bpf_ringbuf_submit: publishes the record at `sample` (returned by reserve). */
  submit(sample: bigint, flags: number): void {
    this.commit(sample, flags, false);
  }

  /** bpf_ringbuf_discard: marks the record skipped; the consumer steps over it. */
  discard(sample: bigint, flags: number): void {
    this.commit(sample, flags, true);
  }

  /** bpf_ringbuf_output: reserve + copy + submit; 0, -EINVAL (flags) or -EAGAIN (no room). */
  output(sample: Uint8Array, flags: number): number {
    if (flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) return -EINVAL;
    const off = this.reserveRaw(sample.length);
    if (off < 0) return -EAGAIN;
    this.data.bytes.set(sample, off + BPF_RINGBUF_HDR_SZ);
    this.commit(this.data.address(off + BPF_RINGBUF_HDR_SZ), flags, false);
    return 0;
  }

  /** bpf_ringbuf_query */
  query(flags: number): bigint {
    switch (flags) {
      case BPF_RB_AVAIL_DATA:
        return BigInt(this.producerPos - this.consumerPos);
      case BPF_RB_RING_SIZE:
        return BigInt(this.size);
      case BPF_RB_CONS_POS:
        return BigInt(this.consumerPos);
      case BPF_RB_PROD_POS:
        return BigInt(this.producerPos);
      default:
        return 0n;
    }
  }

  /**
   * User side, as ring_buffer__consume: the submitted samples from the consumer position on, in
   * order, skipping discarded ones and stopping at the first record still reserved.
   */
  consume(): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.consumerPos < this.producerPos) {
      const off = this.consumerPos & this.mask;
      const len = this.view.getUint32(off, true);
      if (len & BPF_RINGBUF_BUSY_BIT) break;
      const sampleLen = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      this.consumerPos += (sampleLen + BPF_RINGBUF_HDR_SZ + 7) & ~7;
      if (len & BPF_RINGBUF_DISCARD_BIT) continue;
      const sample = new Uint8Array(sampleLen);
      for (let i = 0; i < sampleLen; i++) sample[i] = this.data.bytes[(off + BPF_RINGBUF_HDR_SZ + i) & this.mask];
      out.push(sample);
    }
    return out;
  }

  /** __bpf_ringbuf_reserve: the header's offset in the data area, or -1. */
  private reserveRaw(size: number): number {
    if (size > RINGBUF_MAX_RECORD_SZ) return -1;
    const len = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    if (len > this.size) return -1;
    let pend = this.pendingPos;
    const prod = this.producerPos;
    while (pend < prod) {
      const hdrLen = this.view.getUint32(pend & this.mask, true);
      if (hdrLen & BPF_RINGBUF_BUSY_BIT) break;
      pend += ((hdrLen & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    }
    this.pendingPos = pend;
    const newProd = prod + len;
    if (newProd - this.consumerPos > this.mask || newProd - pend > this.mask) return -1;
    const off = prod & this.mask;
    this.view.setUint32(off, (size | BPF_RINGBUF_BUSY_BIT) >>> 0, true);
    this.view.setUint32(off + 4, RINGBUF_META_PAGES + Math.floor(off / PAGE_SIZE), true);
    this.producerPos = newProd;
    const wrap = off + len - this.size;
    if (wrap > 0) this.data.bytes.copyWithin(this.size, 0, wrap);
    return off;
  }

  /** bpf_ringbuf_commit */
  private commit(sample: bigint, flags: number, discard: boolean): void {
    const hdr = this.space.lookup(sample - BigInt(BPF_RINGBUF_HDR_SZ), BPF_RINGBUF_HDR_SZ);
    if (hdr === null || hdr.region !== this.data || hdr.offset >= this.size) {
      throw new TsbpfError(`ringbuf ${this.name}: 0x${sample.toString(16)} is not a record of this ring buffer`);
    }
    const off = hdr.offset;
    const len = this.view.getUint32(off, true);
    if (!(len & BPF_RINGBUF_BUSY_BIT)) {
      throw new TsbpfError(`ringbuf ${this.name}: record at 0x${sample.toString(16)} was already committed`);
    }
    let newLen = (len ^ BPF_RINGBUF_BUSY_BIT) >>> 0;
    if (discard) newLen = (newLen | BPF_RINGBUF_DISCARD_BIT) >>> 0;
    const recLen = ((len & ~BPF_RINGBUF_BUSY_BIT) + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    const wrap = off + recLen - this.size;
    if (wrap > 0) this.data.bytes.copyWithin(0, this.size, this.size + wrap);
    this.view.setUint32(off, newLen, true);
    const consOff = this.consumerPos & this.mask;
    if (flags & BPF_RB_FORCE_WAKEUP || (consOff === off && !(flags & BPF_RB_NO_WAKEUP))) this.wakeups++;
  }
}
