/**
 * The common shape of every BPF map: what `struct bpf_map` and `struct bpf_map_ops` are to the
 * kernel (include/linux/bpf.h). A map is used from two sides:
 *
 * - the program side (helpers: bpf_map_lookup_elem, bpf_map_update_elem, bpf_map_push_elem,
 *   bpf_ringbuf_reserve ...), which works on bytes a helper read from BPF memory and answers
 *   with BPF addresses or negative errnos, exactly as the kernel's `map_ops` do;
 * - the user side (the BPF_MAP_* commands of kernel/bpf/syscall.c), which copies whole values
 *   in and out (per-CPU values concatenated, each rounded up to 8 bytes) and throws a
 *   {@link MapError} carrying the errno the syscall would return.
 *
 * Every byte a program can point into lives in a region of the shared AddressSpace; the map
 * itself has a zero-byte `handle` region whose address is the `struct bpf_map *` a program
 * loads with `r1 = map ll`.
 */
import { MapError } from "../../errors.ts";
import {
  BPF_F_INNER_MAP,
  BPF_F_LOCK,
  BPF_F_RDONLY,
  BPF_F_WRONLY,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  MAP_TYPE_NAMES,
} from "../../object/uapi.ts";
import type { AddressSpace, MemoryRegion } from "../memory.ts";
import { EFAULT, EINVAL, ENOENT, ENOTSUPP, EPERM, errnoName, strerror } from "./errno.ts";

const EMPTY = new Uint8Array(0);

/** What a map needs from the runtime that creates it. */
export interface MapContext {
  /** The address space programs run in; every value region is mapped here. */
  readonly space: AddressSpace;
  /** num_possible_cpus(): per-CPU maps keep this many copies, LRU keeps this many local lists. */
  readonly nrCpus: number;
  /**
   * Which LRU free-target rule to apply. "scaled" is `clamp(nr_elems / nr_cpus / 2, 1, 128)`, from
   * commit d4adf1c9ee77 (v6.16, in the 6.12.y stable series and on this machine's 6.18);
   * "fixed" is LOCAL_FREE_TARGET (128) as in v6.12.0. Default "scaled".
   */
  readonly lruFreeTarget?: "scaled" | "fixed";
  /**
   * Replacing a key of a hash_of_maps swaps the inner map in place (v6.16+, "bpf: Support atomic
   * update for htab of maps") instead of linking a new element at the head of the bucket as v6.12
   * does; only BPF_MAP_GET_NEXT_KEY order shows the difference. Default false (v6.12).
   */
  readonly fdHtabInPlace?: boolean;
  /** CPU the user-side (syscall) operations run on; the LRU's per-CPU lists depend on it. Default 0. */
  readonly userCpu?: number;
  /** Resolves the u32 fd of a prog_array BPF_MAP_UPDATE_ELEM to a program object (null: EBADF). */
  readonly progByFd?: (fd: number) => unknown;
  /** The id BPF_MAP_LOOKUP_ELEM reports for a program stored in a prog_array. */
  readonly progId?: (prog: unknown) => number;
  /** Resolves the u32 fd of a map-in-map BPF_MAP_UPDATE_ELEM (null: EBADF). */
  readonly mapByFd?: (fd: number) => BpfMap | null;
}

/** Per-map facts that come from BTF rather than from the MapSpec (the kernel's `btf_record`). */
export interface MapRecord {
  /** Byte offset of a `struct bpf_spin_lock` in the value; BPF_F_LOCK needs one. */
  readonly spinLockOffset?: number;
  /** The inner map template's record, for map-in-maps. */
  readonly inner?: MapRecord;
}

/**
 * What a map-in-map remembers of its inner map template (the kernel's `inner_map_meta`): an inner
 * map stored later must match it, as `bpf_map_meta_equal` / `array_map_meta_equal` check.
 */
export interface InnerMapMeta {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly spinLockOffset: number | undefined;
}

/** One element as BPF_MAP_LOOKUP_ELEM returns it. */
export interface MapEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** Callback of {@link BpfMap.forEachElem}: returns true to stop (the BPF callback returned 1). */
export type ForEachCallback = (keyAddr: bigint, valueAddr: bigint) => boolean;

/** round_up(n, 8), the kernel's per-element and per-CPU stride. */
export function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

/** Bytes as a string usable as a JS Map key (one char per byte). */
export function keyString(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]);
  return s;
}

/** Little-endian u32 at the start of `b` (array index keys, fd values). */
export function readU32(b: Uint8Array): number {
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

/** A 4-byte little-endian encoding of `v`. */
export function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** What createMap hands every map constructor. */
export interface MapInit {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly ctx: MapContext;
  readonly record: MapRecord;
}

/**
 * A BPF map: `struct bpf_map` plus its `bpf_map_ops`. Subclasses implement the program-side ops
 * they support (the others answer as a type without that op would: 0n or -ENOTSUPP) and the
 * `sys*` primitives behind the user-side API.
 */
export abstract class BpfMap {
  readonly name: string;
  /** BPF_MAP_TYPE_* */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  /** max_entries after the kernel's adjustments (per-CPU LRU rounds it to a multiple of nrCpus). */
  readonly maxEntries: number;
  readonly flags: number;
  readonly nrCpus: number;
  readonly space: AddressSpace;
  /** Zero-byte region whose address is the map pointer programs hold (`r1 = map ll`). */
  readonly handle: MemoryRegion;
  /** The map's id (BPF_MAP_GET_FD_BY_ID); also its "fd" in map-in-map updates. Set by MapSet. */
  id: number;
  /** True after BPF_MAP_FREEZE: user-side writes fail with EPERM. */
  frozen: boolean;
  protected readonly ctx: MapContext;
  protected readonly record: MapRecord;
  /** Every region this map mapped, unmapped by {@link destroy}. */
  protected readonly regions: Set<MemoryRegion>;

  protected constructor(init: MapInit) {
    this.name = init.name;
    this.type = init.type;
    this.keySize = init.keySize;
    this.valueSize = init.valueSize;
    this.maxEntries = init.maxEntries;
    this.flags = init.flags;
    this.ctx = init.ctx;
    this.record = init.record;
    this.nrCpus = init.ctx.nrCpus;
    this.space = init.ctx.space;
    this.id = 0;
    this.frozen = false;
    this.regions = new Set();
    this.handle = this.space.map("map", new Uint8Array(0), { name: init.name, writable: false });
    this.regions.add(this.handle);
  }

  /** bpftool's name of the map type ("lru_hash"). */
  get typeName(): string {
    return MAP_TYPE_NAMES[this.type] ?? `type ${this.type}`;
  }

  /** Address programs hold for this map: the handle region's first byte. */
  get address(): bigint {
    return this.handle.address(0);
  }

  /** Offset of the value's bpf_spin_lock, if its BTF has one. */
  get spinLockOffset(): number | undefined {
    return this.record.spinLockOffset;
  }

  /** Size of one value as the syscall copies it (per-CPU maps: nrCpus rounded copies). */
  get userValueSize(): number {
    return this.valueSize;
  }

  // ---- program side ----------------------------------------------------------------------

  /** bpf_map_lookup_elem: address of the value (this CPU's copy for per-CPU maps) or 0n. */
  lookupElemPtr(_key: Uint8Array, _cpu: number): bigint {
    return 0n;
  }

  /** bpf_map_update_elem: 0 or -errno; per-CPU maps update `cpu`'s copy. */
  updateElem(_key: Uint8Array, _value: Uint8Array, _flags: number, _cpu: number): number {
    return -ENOTSUPP;
  }

  /** bpf_map_delete_elem: 0 or -errno. */
  deleteElem(_key: Uint8Array, _cpu = 0): number {
    return -ENOTSUPP;
  }

  /** bpf_map_push_elem (queue, stack). */
  pushElem(_value: Uint8Array, _flags: number, _cpu = 0): number {
    return -ENOTSUPP;
  }

  /** bpf_map_pop_elem: copies the element into `out` (zeroed when empty). */
  popElem(_out: Uint8Array, _cpu = 0): number {
    return -ENOTSUPP;
  }

  /** bpf_map_peek_elem. */
  peekElem(_out: Uint8Array, _cpu = 0): number {
    return -ENOTSUPP;
  }

  /**
   * bpf_for_each_map_elem: calls `cb(keyAddr, valueAddr)` for each element in the kernel's order
   * and returns how many were visited (the stopping one included), or -errno.
   */
  forEachElem(_flags: number, _cpu: number, _cb: ForEachCallback): number {
    return -ENOTSUPP;
  }

  // ---- user side (syscall semantics) -----------------------------------------------------

  /** BPF_MAP_LOOKUP_ELEM: the value (per-CPU: all CPUs' copies), or null for ENOENT. */
  lookup(key: Uint8Array | null, flags = 0): Uint8Array | null {
    if (flags & ~BPF_F_LOCK) this.fail("lookup", -EINVAL, "unknown flags");
    this.checkRead("lookup");
    if (flags & BPF_F_LOCK && this.record.spinLockOffset === undefined) this.fail("lookup", -EINVAL, "no spin lock");
    const r = this.sysLookup(this.checkKey(key, "lookup"), flags);
    if (typeof r === "number") {
      if (r === -ENOENT) return null;
      this.fail("lookup", r);
    }
    return r;
  }

  /** BPF_MAP_UPDATE_ELEM with BPF_ANY/NOEXIST/EXIST (| BPF_F_LOCK); throws MapError. */
  update(key: Uint8Array | null, value: Uint8Array, flags = 0): void {
    this.checkWrite("update");
    if (flags & BPF_F_LOCK && this.record.spinLockOffset === undefined) this.fail("update", -EINVAL);
    if (value.length !== this.userValueSize) {
      this.fail("update", -EFAULT, `value is ${value.length} bytes, the map copies ${this.userValueSize}`);
    }
    const r = this.sysUpdate(this.checkKey(key, "update"), value, flags);
    if (r !== 0) this.fail("update", r);
  }

  /** BPF_MAP_DELETE_ELEM; throws MapError (ENOENT when absent, EINVAL for arrays). */
  delete(key: Uint8Array | null): void {
    this.checkWrite("delete");
    const r = this.sysDelete(this.checkKey(key, "delete"));
    if (r !== 0) this.fail("delete", r);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM (queue/stack pop; hash lookup-and-delete); null for ENOENT. */
  lookupAndDelete(key: Uint8Array | null, flags = 0): Uint8Array | null {
    this.checkRead("lookup_and_delete");
    this.checkWrite("lookup_and_delete");
    const r = this.sysLookupAndDelete(this.checkKey(key, "lookup_and_delete"), flags);
    if (typeof r === "number") {
      if (r === -ENOENT) return null;
      this.fail("lookup_and_delete", r);
    }
    return r;
  }

  /** BPF_MAP_GET_NEXT_KEY: the key after `key` (the first key for null or a missing key), null at the end. */
  nextKey(key: Uint8Array | null): Uint8Array | null {
    this.checkRead("get_next_key");
    const r = this.sysNextKey(key === null ? null : this.checkKey(key, "get_next_key"));
    if (typeof r === "number") {
      if (r === -ENOENT) return null;
      this.fail("get_next_key", r);
    }
    return r;
  }

  /** Every element in BPF_MAP_GET_NEXT_KEY order, as `bpftool map dump` lists them. */
  entries(): MapEntry[] {
    const out: MapEntry[] = [];
    let key: Uint8Array | null = null;
    for (;;) {
      const next = this.nextKey(key);
      if (next === null) return out;
      const value = this.lookup(next);
      if (value !== null) out.push({ key: next, value });
      key = next;
    }
  }

  /** BPF_MAP_FREEZE: no more user-side writes. */
  freeze(): void {
    this.frozen = true;
  }

  /** Unmaps every region of the map (the map fd's last reference went away). */
  destroy(): void {
    for (const r of this.regions) {
      this.space.unmap(r);
      r.resize(EMPTY);
    }
    this.regions.clear();
  }

  // ---- primitives for subclasses ----------------------------------------------------------

  protected sysLookup(_key: Uint8Array, _flags: number): Uint8Array | number {
    return -ENOTSUPP;
  }
  protected sysUpdate(_key: Uint8Array, _value: Uint8Array, _flags: number): number {
    return -ENOTSUPP;
  }
  protected sysDelete(_key: Uint8Array): number {
    return -ENOTSUPP;
  }
  protected sysLookupAndDelete(_key: Uint8Array, _flags: number): Uint8Array | number {
    return -ENOTSUPP;
  }
  protected sysNextKey(_key: Uint8Array | null): Uint8Array | number {
    return -ENOTSUPP;
  }

  /** CPU the user-side operations run on. */
  protected get userCpu(): number {
    return this.ctx.userCpu ?? 0;
  }

  /** Maps a value region owned by this map. */
  protected mapRegion(bytes: Uint8Array, name: string, kind: "map-value" | "ringbuf" = "map-value"): MemoryRegion {
    const r = this.space.map(kind, bytes, { name, writable: true });
    this.regions.add(r);
    return r;
  }

  /**
   * Unmaps a value region (element deleted or evicted): stale pointers now fault. Its bytes are
   * released, since the address space keeps every region it ever mapped.
   */
  protected unmapRegion(r: MemoryRegion): void {
    this.space.unmap(r);
    r.resize(EMPTY);
    this.regions.delete(r);
  }

  /**
   * copy_map_value: copies a value into map memory, leaving the spin lock's 4 bytes alone as the
   * kernel skips special fields.
   */
  protected copyValueIn(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff = 0): void {
    const lock = this.record.spinLockOffset;
    const n = this.valueSize;
    if (lock === undefined) {
      dst.set(src.subarray(srcOff, srcOff + n), dstOff);
      return;
    }
    dst.set(src.subarray(srcOff, srcOff + lock), dstOff);
    dst.set(src.subarray(srcOff + lock + 4, srcOff + n), dstOff + lock + 4);
  }

  /** check_and_init_map_value: zeroes the spin lock in a value copied out to user space. */
  protected clearSpecial(out: Uint8Array, off = 0): void {
    const lock = this.record.spinLockOffset;
    if (lock !== undefined) out.fill(0, off + lock, off + lock + 4);
  }

  protected fail(op: string, errno: number, detail?: string): never {
    const e = Math.abs(errno);
    throw new MapError(
      e,
      `map ${this.name} (${this.typeName}): ${op}: ${errnoName(e)} (${strerror(e)})${detail ? `: ${detail}` : ""}`,
    );
  }

  private checkKey(key: Uint8Array | null, op: string): Uint8Array {
    const k = key ?? new Uint8Array(0);
    if (k.length !== this.keySize)
      this.fail(op, -EFAULT, `key is ${k.length} bytes, the map's key_size is ${this.keySize}`);
    return k;
  }

  private checkRead(op: string): void {
    if (this.flags & BPF_F_WRONLY) this.fail(op, -EPERM, "map is write-only (BPF_F_WRONLY)");
  }

  private checkWrite(op: string): void {
    if (this.flags & BPF_F_RDONLY) this.fail(op, -EPERM, "map is read-only (BPF_F_RDONLY)");
    if (this.frozen) this.fail(op, -EPERM, "map is frozen");
  }
}

/** The template a map-in-map keeps of `map` (bpf_map_meta_alloc). */
export function innerMapMeta(map: BpfMap): InnerMapMeta {
  return {
    type: map.type,
    keySize: map.keySize,
    valueSize: map.valueSize,
    maxEntries: map.maxEntries,
    flags: map.flags,
    spinLockOffset: map.spinLockOffset,
  };
}

/**
 * Whether `map` may be stored in a map-in-map whose template is `meta`: same type, sizes, flags
 * and BTF record (bpf_map_meta_equal); arrays also need the same max_entries unless the template
 * was created with BPF_F_INNER_MAP (array_map_meta_equal).
 */
export function innerMapMatches(meta: InnerMapMeta, map: BpfMap): boolean {
  if (
    meta.type !== map.type ||
    meta.keySize !== map.keySize ||
    meta.valueSize !== map.valueSize ||
    meta.flags !== map.flags ||
    meta.spinLockOffset !== map.spinLockOffset
  ) {
    return false;
  }
  const isArray = map.type === BPF_MAP_TYPE_ARRAY || map.type === BPF_MAP_TYPE_PERCPU_ARRAY;
  return !isArray || (meta.flags & BPF_F_INNER_MAP) !== 0 || meta.maxEntries === map.maxEntries;
}
