/**
 * The memory model shared by every engine: an address space of typed regions.
 *
 * BPF programs see 64-bit addresses. tsbpf gives every region (a stack frame, the context, the
 * packet, a map value, a global-data section ...) its own upper 32-bit word, and places its bytes
 * at a fixed lower-word offset, so an address is resolved with one array index and one range
 * check:
 *
 *   address = (REGION_HI_BASE + region.id) << 32 | (REGION_LO_BASE + offset)
 *
 *   0x00001000_10000000  region 0, offset 0
 *   0x00001001_100001f8  region 1, offset 0x1f8
 *
 * The lower-word base keeps small negative offsets from borrowing into the previous region:
 * `r10 - 8` of a frame stays in the frame's upper word and is range-checked there. Nothing is
 * mapped at upper words below REGION_HI_BASE, so NULL and small integers fault.
 *
 * Every access is bounds-checked against its region; atomics must be naturally aligned; stores
 * to read-only regions fail. A failed access throws {@link MemoryAccessError}, which an engine
 * turns into a `BpfFault` carrying its pc.
 */
import { TsbpfError } from "../errors.ts";

/** What a region holds; engines and traces use it to name the memory a pointer points into. */
export type RegionKind =
  | "stack"
  | "ctx"
  | "packet"
  | "map"
  | "map-value"
  | "global"
  | "mem"
  | "ringbuf"
  | "code"
  | "other";

/** Upper 32 bits of the first region's addresses. */
export const REGION_HI_BASE = 0x1000;
/** Lower 32 bits of every region's first byte. */
export const REGION_LO_BASE = 0x1000_0000;
/** Largest region: the lower word must not overflow. */
export const MAX_REGION_SIZE = 0x1_0000_0000 - REGION_LO_BASE - 0x1000_0000;

const TWO_32 = 4294967296;

/** One contiguous, bounds-checked piece of memory visible to BPF programs. */
export class MemoryRegion {
  /** Index in the address space; the region's addresses have upper word REGION_HI_BASE + id. */
  readonly id: number;
  readonly kind: RegionKind;
  readonly name: string;
  bytes: Uint8Array;
  view: DataView;
  writable: boolean;
  /** False once unmapped: later accesses through stale pointers fault. */
  mapped: boolean;
  /**
   * For context regions: 32-bit loads at some offsets yield a 64-bit pointer instead of the
   * stored bytes, as the kernel's convert_ctx_access turns `skb->data` (a `__u32` field of
   * `struct __sk_buff`) into a load of the real pointer. Returns null for ordinary offsets.
   */
  load32Hook: ((offset: number) => bigint | null) | null;
  /** What the region stands for, when it is a handle: the map of a map handle, the code of a code region. */
  owner: unknown;

  constructor(id: number, kind: RegionKind, name: string, bytes: Uint8Array, writable: boolean) {
    this.id = id;
    this.kind = kind;
    this.name = name;
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.writable = writable;
    this.mapped = true;
    this.load32Hook = null;
    this.owner = null;
  }

  /** Address of byte `offset` of this region. */
  address(offset = 0): bigint {
    return (BigInt(REGION_HI_BASE + this.id) << 32n) | BigInt(REGION_LO_BASE + offset);
  }

  /** Upper 32-bit word of this region's addresses. */
  get hi(): number {
    return REGION_HI_BASE + this.id;
  }

  /** Replaces the backing bytes (e.g. after bpf_xdp_adjust_tail); addresses stay the same. */
  resize(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

/** Why an access failed. */
export type AccessFailure = "out-of-bounds" | "misaligned" | "read-only";

/** An access the address space refused; engines rethrow it as a BpfFault with their pc. */
export class MemoryAccessError extends TsbpfError {
  readonly reason: AccessFailure;
  readonly address: bigint;
  readonly size: number;
  constructor(reason: AccessFailure, address: bigint, size: number, detail: string) {
    super(`${reason} access of ${size} byte${size === 1 ? "" : "s"} at 0x${address.toString(16)}${detail}`);
    this.reason = reason;
    this.address = address;
    this.size = size;
  }
}

/** Joins an upper and lower 32-bit word into an unsigned 64-bit bigint (for messages and helpers). */
export function joinU64(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * The set of regions a program can reach. Engines resolve an address given as two 32-bit words
 * (`hi`, `lo`) plus a small signed offset with {@link resolve}; helpers use the bigint API.
 */
export class AddressSpace {
  /** Regions by id; an unmapped slot holds a region with `mapped === false`. */
  readonly regions: MemoryRegion[] = [];

  /** Maps `bytes` as a new region and returns it; the bytes are shared, not copied. */
  map(kind: RegionKind, bytes: Uint8Array, options: { name?: string; writable?: boolean } = {}): MemoryRegion {
    if (bytes.length > MAX_REGION_SIZE) {
      throw new TsbpfError(`region ${options.name ?? kind} of ${bytes.length} bytes is larger than ${MAX_REGION_SIZE}`);
    }
    const r = new MemoryRegion(this.regions.length, kind, options.name ?? kind, bytes, options.writable ?? true);
    this.regions.push(r);
    return r;
  }

  /** Makes a region unreachable; its id is never reused, so stale pointers keep faulting. */
  unmap(region: MemoryRegion): void {
    region.mapped = false;
  }

  /**
   * Finds the region holding `size` bytes at (hi:lo + off) and returns the byte offset in it
   * through `out`, or null when no region holds all of them. Hot path: no allocation.
   */
  resolve(hi: number, lo: number, off: number, size: number, out: ResolvedAccess): boolean {
    let a = (lo >>> 0) + off;
    let h = hi | 0;
    if (a < 0) {
      a += TWO_32;
      h = (h - 1) | 0;
    } else if (a >= TWO_32) {
      a -= TWO_32;
      h = (h + 1) | 0;
    }
    const idx = h - REGION_HI_BASE;
    if (idx < 0 || idx >= this.regions.length) return false;
    const r = this.regions[idx];
    const rel = a - REGION_LO_BASE;
    if (rel < 0 || rel + size > r.bytes.length || !r.mapped) return false;
    out.region = r;
    out.offset = rel;
    return true;
  }

  /** Finds the region and offset of a bigint address, or null. */
  lookup(address: bigint, size: number): ResolvedAccess | null {
    const out = new ResolvedAccess();
    const a = BigInt.asUintN(64, address);
    return this.resolve(Number(a >> 32n) | 0, Number(a & 0xffffffffn) | 0, 0, size, out) ? out : null;
  }

  /** Describes where an address points, for fault messages: `stack+0x1f8`, or `unmapped`. */
  describe(address: bigint): string {
    const r = this.lookup(address, 1);
    if (r !== null) return `${r.region.name}+0x${r.offset.toString(16)}`;
    const a = BigInt.asUintN(64, address);
    const idx = Number(a >> 32n) - REGION_HI_BASE;
    if (idx >= 0 && idx < this.regions.length) {
      const reg = this.regions[idx];
      const rel = Number(a & 0xffffffffn) - REGION_LO_BASE;
      return `${reg.name}${rel < 0 ? "-" : "+"}0x${Math.abs(rel).toString(16)} (outside its ${reg.bytes.length} bytes${reg.mapped ? "" : ", unmapped"})`;
    }
    return "unmapped";
  }

  /** A view of `len` bytes at `address` for a helper; throws MemoryAccessError when out of bounds. */
  bytesAt(address: bigint, len: number, write = false): Uint8Array {
    if (len < 0 || !Number.isSafeInteger(len))
      throw new MemoryAccessError("out-of-bounds", address, len, ": bad length");
    if (len === 0) return new Uint8Array(0);
    const r = this.lookup(address, len);
    if (r === null) throw new MemoryAccessError("out-of-bounds", address, len, ` (${this.describe(address)})`);
    if (write && !r.region.writable) {
      throw new MemoryAccessError("read-only", address, len, ` (${r.region.name} is read-only)`);
    }
    return r.region.bytes.subarray(r.offset, r.offset + len);
  }

  /** Reads an unsigned little-endian integer of 1, 2, 4 or 8 bytes. */
  read(address: bigint, size: 1 | 2 | 4 | 8): bigint {
    const b = this.bytesAt(address, size);
    const v = new DataView(b.buffer, b.byteOffset, size);
    switch (size) {
      case 1:
        return BigInt(v.getUint8(0));
      case 2:
        return BigInt(v.getUint16(0, true));
      case 4:
        return BigInt(v.getUint32(0, true));
      case 8:
        return v.getBigUint64(0, true);
    }
  }

  /** Writes the low `size` bytes of `value` little-endian. */
  write(address: bigint, size: 1 | 2 | 4 | 8, value: bigint): void {
    const b = this.bytesAt(address, size, true);
    const v = new DataView(b.buffer, b.byteOffset, size);
    const u = BigInt.asUintN(64, value);
    switch (size) {
      case 1:
        v.setUint8(0, Number(u & 0xffn));
        break;
      case 2:
        v.setUint16(0, Number(u & 0xffffn), true);
        break;
      case 4:
        v.setUint32(0, Number(u & 0xffffffffn), true);
        break;
      case 8:
        v.setBigUint64(0, u, true);
        break;
    }
  }
}

/** Result slot of {@link AddressSpace.resolve}, reused to avoid allocation in engines. */
export class ResolvedAccess {
  region: MemoryRegion = PLACEHOLDER;
  offset = 0;
}

const PLACEHOLDER = new MemoryRegion(-1, "other", "none", new Uint8Array(0), false);
