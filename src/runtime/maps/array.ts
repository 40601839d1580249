/**
 * Array maps, after kernel/bpf/arraymap.c: BPF_MAP_TYPE_ARRAY and PERCPU_ARRAY (values in BPF
 * memory), and the fd arrays PROG_ARRAY and ARRAY_OF_MAPS (slots holding references).
 *
 * Layout, as `struct bpf_array` keeps it: element i at `i * round_up(value_size, 8)` of one
 * region. A per-CPU array has one such region per possible CPU (the kernel's `pptrs[i]` are
 * per-CPU allocations; one region per CPU keeps a stray access from landing in another CPU's
 * copy). Elements always exist: lookup never fails in range, delete is -EINVAL.
 */
import { BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_RDONLY_PROG, BPF_MAP_TYPE_PERCPU_ARRAY } from "../../object/uapi.ts";
import type { MemoryRegion } from "../memory.ts";
import { E2BIG, EBADF, EEXIST, EINVAL, ENOENT, ENOTSUPP } from "./errno.ts";
import {
  BpfMap,
  type ForEachCallback,
  type InnerMapMeta,
  innerMapMatches,
  type MapInit,
  readU32,
  roundUp8,
  u32Bytes,
} from "./map.ts";

/** array_map_get_next_key: index+1, 0 for NULL or an out-of-range key, ENOENT after the last. */
function arrayNextKey(key: Uint8Array | null, maxEntries: number): Uint8Array | number {
  const index = key === null ? 0xffffffff : readU32(key);
  if (index >= maxEntries) return u32Bytes(0);
  if (index === maxEntries - 1) return -ENOENT;
  return u32Bytes(index + 1);
}

/** BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY. */
export class ArrayMap extends BpfMap {
  /** round_up(value_size, 8): the stride between elements. */
  readonly elemSize: number;
  readonly percpu: boolean;
  /** The value region (one per CPU for a per-CPU array). */
  readonly values: readonly MemoryRegion[];
  /** Holds the u32 key bpf_for_each_map_elem passes (the kernel passes a stack slot). */
  private readonly keySlot: MemoryRegion;

  constructor(init: MapInit) {
    super(init);
    this.elemSize = roundUp8(this.valueSize);
    this.percpu = this.type === BPF_MAP_TYPE_PERCPU_ARRAY;
    const copies = this.percpu ? this.nrCpus : 1;
    const values: MemoryRegion[] = [];
    for (let cpu = 0; cpu < copies; cpu++) {
      const r = this.mapRegion(
        new Uint8Array(this.maxEntries * this.elemSize),
        this.percpu ? `${this.name}[cpu${cpu}]` : this.name,
      );
      r.writable = (this.flags & BPF_F_RDONLY_PROG) === 0;
      values.push(r);
    }
    this.values = values;
    this.keySlot = this.mapRegion(new Uint8Array(4), `${this.name}.key`);
    this.keySlot.writable = false;
  }

  override get userValueSize(): number {
    return this.percpu ? this.elemSize * this.nrCpus : this.valueSize;
  }

  /** The bytes of element `index` (CPU `cpu`'s copy), for runtime code that fills global data. */
  valueBytes(index: number, cpu = 0): Uint8Array {
    const off = index * this.elemSize;
    return this.values[this.percpu ? cpu : 0].bytes.subarray(off, off + this.valueSize);
  }

  override lookupElemPtr(key: Uint8Array, cpu: number): bigint {
    const index = readU32(key);
    if (index >= this.maxEntries) return 0n;
    return this.values[this.percpu ? cpu : 0].address(index * this.elemSize);
  }

  override updateElem(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -EINVAL;
    const index = readU32(key);
    if (index >= this.maxEntries) return -E2BIG;
    if (flags & 1 /* BPF_NOEXIST */) return -EEXIST;
    if (flags & BPF_F_LOCK && this.spinLockOffset === undefined) return -EINVAL;
    this.copyValueIn(this.values[this.percpu ? cpu : 0].bytes, index * this.elemSize, value);
    return 0;
  }

  override deleteElem(_key: Uint8Array): number {
    return -EINVAL;
  }

  override forEachElem(flags: number, cpu: number, cb: ForEachCallback): number {
    if (flags !== 0) return -EINVAL;
    const region = this.values[this.percpu ? cpu : 0];
    const keyView = new DataView(this.keySlot.bytes.buffer, this.keySlot.bytes.byteOffset, 4);
    let n = 0;
    for (let i = 0; i < this.maxEntries; i++) {
      n++;
      keyView.setUint32(0, i, true);
      if (cb(this.keySlot.address(0), region.address(i * this.elemSize))) break;
    }
    return n;
  }

  protected override sysLookup(key: Uint8Array): Uint8Array | number {
    const index = readU32(key);
    if (index >= this.maxEntries) return -ENOENT;
    const off = index * this.elemSize;
    if (!this.percpu) {
      const out = this.values[0].bytes.slice(off, off + this.valueSize);
      this.clearSpecial(out);
      return out;
    }
    const out = new Uint8Array(this.userValueSize);
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      out.set(this.values[cpu].bytes.subarray(off, off + this.valueSize), cpu * this.elemSize);
      this.clearSpecial(out, cpu * this.elemSize);
    }
    return out;
  }

  protected override sysUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (!this.percpu) return this.updateElem(key, value, flags, this.userCpu);
    // bpf_percpu_array_update: every CPU's copy, round_up(value_size, 8) bytes each.
    if (flags > BPF_EXIST) return -EINVAL;
    const index = readU32(key);
    if (index >= this.maxEntries) return -E2BIG;
    if (flags === 1 /* BPF_NOEXIST */) return -EEXIST;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      this.copyValueIn(this.values[cpu].bytes, index * this.elemSize, value, cpu * this.elemSize);
    }
    return 0;
  }

  protected override sysDelete(): number {
    return -EINVAL;
  }

  protected override sysNextKey(key: Uint8Array | null): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }
}

/**
 * BPF_MAP_TYPE_PROG_ARRAY and BPF_MAP_TYPE_ARRAY_OF_MAPS: slots holding a program (an opaque
 * object the runtime stores, run by bpf_tail_call) or an inner map. The syscall side speaks u32
 * fds and ids; the runtime side stores objects directly with {@link setRef}.
 */
export class FdArrayMap extends BpfMap {
  /** Template inner maps must match (array_of_maps); null for prog arrays. */
  readonly innerMeta: InnerMapMeta | null;
  private readonly slots: unknown[];

  constructor(init: MapInit, innerMeta: InnerMapMeta | null) {
    super(init);
    this.innerMeta = innerMeta;
    this.slots = new Array(this.maxEntries).fill(null);
  }

  /** The program (prog_array) or inner map (array_of_maps) at `index`, or null. */
  refAt(index: number): unknown {
    return index >= 0 && index < this.maxEntries ? this.slots[index] : null;
  }

  /** The inner map at `index` (array_of_maps), or null. */
  innerAt(index: number): BpfMap | null {
    const r = this.refAt(index);
    return r instanceof BpfMap ? r : null;
  }

  /**
   * Stores a program object (prog_array) or an inner map (array_of_maps) at `key`, with the
   * checks of bpf_fd_array_map_update_elem; throws MapError.
   */
  setRef(key: Uint8Array, target: unknown, flags = BPF_ANY): void {
    const r = this.store(key, flags, () => target);
    if (r !== 0) this.fail("update", r);
  }

  override lookupElemPtr(key: Uint8Array, _cpu = 0): bigint {
    if (this.innerMeta === null) return 0n;
    const inner = this.innerAt(readU32(key));
    return inner === null ? 0n : inner.address;
  }

  protected override sysUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    const fd = readU32(value);
    return this.store(key, flags, () => {
      if (this.innerMeta === null) return this.ctx.progByFd?.(fd) ?? null;
      return this.ctx.mapByFd?.(fd) ?? null;
    });
  }

  private store(key: Uint8Array, flags: number, resolve: () => unknown): number {
    if (flags !== BPF_ANY) return -EINVAL;
    const index = readU32(key);
    if (index >= this.maxEntries) return -E2BIG;
    const target = resolve();
    if (target === null || target === undefined) return -EBADF;
    if (this.innerMeta !== null) {
      if (!(target instanceof BpfMap) || !innerMapMatches(this.innerMeta, target)) return -EINVAL;
    }
    this.slots[index] = target;
    return 0;
  }

  protected override sysLookup(key: Uint8Array): Uint8Array | number {
    const target = this.refAt(readU32(key));
    if (target === null) return -ENOENT;
    if (target instanceof BpfMap) return u32Bytes(target.id);
    return u32Bytes(this.ctx.progId?.(target) ?? 0);
  }

  protected override sysDelete(key: Uint8Array): number {
    const index = readU32(key);
    if (index >= this.maxEntries) return -E2BIG;
    if (this.slots[index] === null) return -ENOENT;
    this.slots[index] = null;
    return 0;
  }

  protected override sysNextKey(key: Uint8Array | null): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }

  override forEachElem(): number {
    return -ENOTSUPP;
  }
}
