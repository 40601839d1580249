/**
 * Hash maps, after kernel/bpf/hashtab.c: BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH,
 * LRU_PERCPU_HASH and HASH_OF_MAPS.
 *
 * Buckets are chosen as the kernel chooses them (`jhash` of the key, seed 0 as with
 * BPF_F_ZERO_SEED, `roundup_pow_of_two(max_entries)` buckets) and new elements go to the head of
 * their bucket, so BPF_MAP_GET_NEXT_KEY order is the kernel's order for a zero-seeded map; a
 * randomly seeded kernel map differs only in the seed.
 *
 * Each element has its own region laid out like the tail of `struct htab_elem`:
 *
 *   +0                    key (key_size bytes)
 *   +round_up(key_size,8) value, or per CPU: nr_cpus copies of round_up(value_size, 8) bytes
 *
 * so bpf_for_each_map_elem can hand out pointers to both key and value. The region is unmapped
 * when the element is deleted or evicted (a stale pointer then faults, where the kernel would
 * silently reuse the memory). Deliberate difference: replacing an existing key keeps its region
 * and rewrites the value in place, where the kernel swaps in a fresh element; this keeps the
 * region count bounded and only shows through pointers held across an update of the same key.
 */
import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST } from "../../object/uapi.ts";
import type { MemoryRegion } from "../memory.ts";
import { E2BIG, EBADF, EEXIST, EINVAL, ENOENT, ENOMEM, ENOTSUPP } from "./errno.ts";
import { htabMapHash } from "./jhash.ts";
import { BpfLru, type LruNode } from "./lru.ts";
import {
  BpfMap,
  type ForEachCallback,
  type InnerMapMeta,
  innerMapMatches,
  keyString,
  type MapInit,
  readU32,
  roundUp8,
  u32Bytes,
} from "./map.ts";

/** One element: a `struct htab_elem`. */
interface HashElem {
  readonly key: Uint8Array;
  readonly ks: string;
  readonly bucket: number;
  region: MemoryRegion;
  node: LruNode<HashElem> | null;
  inner: BpfMap | null;
  linked: boolean;
}

/** How a hash map variant behaves; fixed at creation. */
export interface HashVariant {
  readonly percpu: boolean;
  readonly lru: boolean;
  /** BPF_F_NO_COMMON_LRU */
  readonly percpuLru: boolean;
  /** hash_of_maps: the inner map template; null otherwise. */
  readonly innerMeta: InnerMapMeta | null;
}

/** Writes a new value into an element's region. */
type ValueWriter = (elem: HashElem) => void;

/** All five hash map types. */
export class HashMap extends BpfMap {
  readonly variant: HashVariant;
  /** roundup_pow_of_two(max_entries). */
  readonly nBuckets: number;
  /** Seed of the bucket hash (the kernel's htab->hashrnd with BPF_F_ZERO_SEED). */
  readonly hashrnd = 0;
  /** Offset of the value in an element region: round_up(key_size, 8). */
  readonly valueOffset: number;
  /** Stride between per-CPU copies: round_up(value_size, 8). */
  readonly cpuStride: number;
  private readonly buckets: (HashElem[] | null)[];
  private readonly byKey = new Map<string, HashElem>();
  private readonly lru: BpfLru<HashElem> | null;

  constructor(init: MapInit, variant: HashVariant) {
    super(init);
    this.variant = variant;
    let n = 1;
    while (n < this.maxEntries) n *= 2;
    this.nBuckets = n;
    this.buckets = new Array(n).fill(null);
    this.valueOffset = roundUp8(this.keySize);
    this.cpuStride = roundUp8(this.valueSize);
    this.lru = variant.lru
      ? new BpfLru<HashElem>(
          this.maxEntries,
          this.nrCpus,
          variant.percpuLru,
          init.ctx.lruFreeTarget ?? "scaled",
          (node) => this.lruEvict(node),
        )
      : null;
  }

  /** Number of elements in the map. */
  get count(): number {
    return this.byKey.size;
  }

  override get userValueSize(): number {
    return this.variant.percpu ? this.cpuStride * this.nrCpus : this.valueSize;
  }

  /** The LRU's local-list batch size (for tests and traces); 0 for non-LRU maps. */
  get lruTargetFree(): number {
    return this.lru?.targetFree ?? 0;
  }

  /** The inner map stored under `key` (hash_of_maps), or null. */
  innerAt(key: Uint8Array): BpfMap | null {
    return this.find(key)?.inner ?? null;
  }

  /** Stores an inner map under `key` (hash_of_maps) with the syscall's checks; throws MapError. */
  setRef(key: Uint8Array, target: BpfMap, flags = 0): void {
    const r = this.updateInner(key, target, flags);
    if (r !== 0) this.fail("update", r);
  }

  // ---- program side ----

  override lookupElemPtr(key: Uint8Array, cpu: number): bigint {
    const e = this.find(key);
    if (e === null) return 0n;
    if (e.node !== null) BpfLru.setRef(e.node);
    if (this.variant.innerMeta !== null) return e.inner?.address ?? 0n;
    return e.region.address(this.valueOffset + (this.variant.percpu ? cpu * this.cpuStride : 0));
  }

  override updateElem(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    if (this.variant.innerMeta !== null) return -ENOTSUPP;
    if (this.variant.percpu) return this.percpuUpdate(key, value, flags, cpu, false);
    if (this.variant.lru) return this.lruUpdate(key, flags, cpu, this.plainWriter(value));
    return this.plainUpdate(key, flags, this.plainWriter(value), value);
  }

  override deleteElem(key: Uint8Array): number {
    const e = this.find(key);
    if (e === null) return -ENOENT;
    this.unlink(e);
    if (e.node !== null) this.lru?.pushFree(e.node);
    return 0;
  }

  override forEachElem(flags: number, cpu: number, cb: ForEachCallback): number {
    if (this.variant.innerMeta !== null) return -ENOTSUPP;
    if (flags !== 0) return -EINVAL;
    const off = this.valueOffset + (this.variant.percpu ? cpu * this.cpuStride : 0);
    let n = 0;
    for (let b = 0; b < this.nBuckets; b++) {
      const list = this.buckets[b];
      if (list === null) continue;
      for (const e of list.slice()) {
        if (!e.linked) continue;
        n++;
        if (cb(e.region.address(0), e.region.address(off))) return n;
      }
    }
    return n;
  }

  // ---- user side ----

  protected override sysLookup(key: Uint8Array): Uint8Array | number {
    const e = this.find(key);
    if (e === null) return -ENOENT;
    return this.copyOut(e);
  }

  protected override sysUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    const cpu = this.userCpu;
    if (this.variant.innerMeta !== null)
      return this.updateInner(key, this.ctx.mapByFd?.(readU32(value)) ?? null, flags);
    if (this.variant.percpu) return this.percpuUpdate(key, value, flags, cpu, true);
    if (this.variant.lru) return this.lruUpdate(key, flags, cpu, this.plainWriter(value));
    return this.plainUpdate(key, flags, this.plainWriter(value), value);
  }

  protected override sysDelete(key: Uint8Array): number {
    return this.deleteElem(key);
  }

  protected override sysLookupAndDelete(key: Uint8Array, flags: number): Uint8Array | number {
    if (this.variant.innerMeta !== null) return -ENOTSUPP;
    if (flags & ~BPF_F_LOCK || (flags & BPF_F_LOCK && (this.variant.percpu || this.spinLockOffset === undefined))) {
      return -EINVAL;
    }
    const e = this.find(key);
    if (e === null) return -ENOENT;
    const out = this.copyOut(e);
    this.deleteElem(key);
    return out;
  }

  /** htab_map_get_next_key: next in the bucket, else the first element of a later bucket. */
  protected override sysNextKey(key: Uint8Array | null): Uint8Array | number {
    let b = 0;
    if (key !== null) {
      const e = this.find(key);
      if (e !== null) {
        const list = this.buckets[e.bucket]!;
        const i = list.indexOf(e);
        if (i + 1 < list.length) return list[i + 1].key.slice();
        b = e.bucket + 1;
      }
    }
    for (; b < this.nBuckets; b++) {
      const list = this.buckets[b];
      if (list !== null && list.length > 0) return list[0].key.slice();
    }
    return -ENOENT;
  }

  // ---- the update paths of hashtab.c ----

  /** check_flags */
  private checkFlags(old: HashElem | null, flags: number): number {
    const f = flags & ~BPF_F_LOCK;
    if (old !== null && f === BPF_NOEXIST) return -EEXIST;
    if (old === null && f === BPF_EXIST) return -ENOENT;
    return 0;
  }

  private plainWriter(value: Uint8Array): ValueWriter {
    return (e) => this.copyValueIn(e.region.bytes, this.valueOffset, value);
  }

  /** htab_map_update_elem (hash, and hash_of_maps once the fd is resolved). */
  private plainUpdate(key: Uint8Array, flags: number, write: ValueWriter, lockedValue: Uint8Array | null): number {
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -EINVAL;
    if (flags & BPF_F_LOCK) {
      if (this.spinLockOffset === undefined) return -EINVAL;
      const old = this.find(key);
      const err = this.checkFlags(old, flags);
      if (err) return err;
      if (old !== null && lockedValue !== null) {
        this.copyValueIn(old.region.bytes, this.valueOffset, lockedValue);
        return 0;
      }
    }
    const old = this.find(key);
    const err = this.checkFlags(old, flags);
    if (err) return err;
    if (old === null && this.count >= this.maxEntries) return -E2BIG;
    const e = this.newElem(key, old);
    write(e);
    return 0;
  }

  /** htab_lru_map_update_elem: take a node first (which may evict), then check the flags. */
  private lruUpdate(key: Uint8Array, flags: number, cpu: number, write: ValueWriter): number {
    if (flags > BPF_EXIST) return -EINVAL;
    const lru = this.lru!;
    const node = lru.popFree(cpu);
    if (node === null) return -ENOMEM;
    const old = this.find(key);
    const err = this.checkFlags(old, flags);
    if (err) {
      lru.pushFree(node);
      return err;
    }
    const e = this.newElem(key, old);
    e.node = node;
    node.owner = e;
    write(e);
    if (old !== null) {
      BpfLru.setRef(node);
      lru.pushFree(old.node!);
    }
    return 0;
  }

  /**
   * __htab_percpu_map_update_elem and __htab_lru_percpu_map_update_elem: values are updated in
   * place; `onAllCpus` (syscall) writes every CPU's copy, else only `cpu`'s.
   */
  private percpuUpdate(key: Uint8Array, value: Uint8Array, flags: number, cpu: number, onAllCpus: boolean): number {
    if (flags > BPF_EXIST) return -EINVAL;
    const lru = this.lru;
    let node: LruNode<HashElem> | null = null;
    if (lru !== null && flags !== BPF_EXIST) {
      node = lru.popFree(cpu);
      if (node === null) return -ENOMEM;
    }
    const old = this.find(key);
    const err = this.checkFlags(old, flags);
    if (err) {
      if (node !== null) lru!.pushFree(node);
      return err;
    }
    if (old !== null) {
      if (old.node !== null) BpfLru.setRef(old.node);
      this.pcpuCopy(old, value, cpu, onAllCpus);
      if (node !== null) lru!.pushFree(node);
      return 0;
    }
    if (lru === null && this.count >= this.maxEntries) return -E2BIG;
    const e = this.newElem(key, null);
    if (node !== null) {
      e.node = node;
      node.owner = e;
    }
    this.pcpuCopy(e, value, cpu, onAllCpus);
    return 0;
  }

  /** bpf_fd_htab_map_update_elem: resolve the inner map, then htab_map_update_elem. */
  private updateInner(key: Uint8Array, inner: BpfMap | null, flags: number): number {
    const meta = this.variant.innerMeta;
    if (meta === null) return -EINVAL;
    if (inner === null) return -EBADF;
    if (!innerMapMatches(meta, inner)) return -EINVAL;
    if (this.ctx.fdHtabInPlace) {
      // htab_map_update_elem_in_place (v6.16+): the element keeps its place in the bucket.
      if (flags > BPF_EXIST) return -EINVAL;
      const old = this.find(key);
      const err = this.checkFlags(old, flags);
      if (err) return err;
      if (old !== null) {
        old.inner = inner;
        old.region.view.setBigUint64(this.valueOffset, inner.address, true);
        return 0;
      }
    }
    return this.plainUpdate(
      key,
      flags,
      (e) => {
        e.inner = inner;
        e.region.view.setBigUint64(this.valueOffset, inner.address, true);
      },
      null,
    );
  }

  /** pcpu_copy_value / pcpu_init_value (a new element's other CPUs are already zero). */
  private pcpuCopy(e: HashElem, value: Uint8Array, cpu: number, onAllCpus: boolean): void {
    if (!onAllCpus) {
      this.copyValueIn(e.region.bytes, this.valueOffset + cpu * this.cpuStride, value);
      return;
    }
    for (let c = 0; c < this.nrCpus; c++) {
      this.copyValueIn(e.region.bytes, this.valueOffset + c * this.cpuStride, value, c * this.cpuStride);
    }
  }

  // ---- element bookkeeping ----

  private find(key: Uint8Array): HashElem | null {
    return this.byKey.get(keyString(key)) ?? null;
  }

  /**
   * Links a new element for `key` at the head of its bucket. When `old` is given it is unlinked
   * and its region handed over (its LRU node is the caller's business).
   */
  private newElem(key: Uint8Array, old: HashElem | null): HashElem {
    const ks = keyString(key);
    let region: MemoryRegion;
    if (old !== null) {
      this.unlinkOnly(old);
      region = old.region;
    } else {
      const size =
        this.variant.innerMeta !== null
          ? this.valueOffset + 8
          : this.valueOffset + (this.variant.percpu ? this.cpuStride * this.nrCpus : this.valueSize);
      region = this.mapRegion(new Uint8Array(size), `${this.name}[${hex(key)}]`);
      region.bytes.set(key, 0);
    }
    const bucket = (htabMapHash(key, this.hashrnd) & (this.nBuckets - 1)) >>> 0;
    const e: HashElem = { key: key.slice(), ks, bucket, region, node: null, inner: old?.inner ?? null, linked: true };
    let list = this.buckets[bucket];
    if (list === null) {
      list = [];
      this.buckets[bucket] = list;
    }
    list.unshift(e);
    this.byKey.set(ks, e);
    return e;
  }

  /** Removes an element from its bucket and the key index, keeping its region. */
  private unlinkOnly(e: HashElem): void {
    e.linked = false;
    const list = this.buckets[e.bucket]!;
    list.splice(list.indexOf(e), 1);
    if (list.length === 0) this.buckets[e.bucket] = null;
    this.byKey.delete(e.ks);
  }

  /** Removes an element and unmaps its region. */
  private unlink(e: HashElem): void {
    this.unlinkOnly(e);
    this.unmapRegion(e.region);
  }

  /** htab_lru_map_delete_node: the LRU evicts `node`'s element if it is still in the table. */
  private lruEvict(node: LruNode<HashElem>): boolean {
    const e = node.owner;
    if (e === null || !e.linked) return false;
    this.unlink(e);
    node.owner = null;
    return true;
  }

  private copyOut(e: HashElem): Uint8Array {
    if (this.variant.innerMeta !== null) return u32Bytes(e.inner?.id ?? 0);
    if (!this.variant.percpu) {
      const out = e.region.bytes.slice(this.valueOffset, this.valueOffset + this.valueSize);
      this.clearSpecial(out);
      return out;
    }
    const out = new Uint8Array(this.userValueSize);
    for (let c = 0; c < this.nrCpus; c++) {
      const off = this.valueOffset + c * this.cpuStride;
      out.set(e.region.bytes.subarray(off, off + this.valueSize), c * this.cpuStride);
      this.clearSpecial(out, c * this.cpuStride);
    }
    return out;
  }
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
