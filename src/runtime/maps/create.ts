/**
 * BPF_MAP_CREATE: the checks of map_create in kernel/bpf/syscall.c, then each type's
 * `map_alloc_check` and `map_alloc` (arraymap.c, hashtab.c, queue_stack_maps.c, ringbuf.c,
 * map_in_map.c), in the kernel's order, so an invalid MapSpec fails with the errno the real
 * syscall returns (verified against a live kernel by test/runtime/maps-kernel.test.ts).
 *
 * Deliberate difference: allocations this runtime refuses to make (arrays, queues or ring
 * buffers over 1 GiB, hash tables over 2^24 buckets) fail with ENOMEM, as a kernel short of
 * memory would.
 */
import { MapError } from "../../errors.ts";
import type { MapSpec } from "../../object/spec.ts";
import {
  BPF_F_INNER_MAP,
  BPF_F_MMAPABLE,
  BPF_F_NO_COMMON_LRU,
  BPF_F_NO_PREALLOC,
  BPF_F_NUMA_NODE,
  BPF_F_PRESERVE_ELEMS,
  BPF_F_RDONLY,
  BPF_F_RDONLY_PROG,
  BPF_F_WRONLY,
  BPF_F_WRONLY_PROG,
  BPF_F_ZERO_SEED,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_STACK,
  MAP_TYPE_NAMES,
} from "../../object/uapi.ts";
import { ArrayMap, FdArrayMap } from "./array.ts";
import { E2BIG, EBADF, EINVAL, ENOMEM, ENOTSUPP, errnoName, strerror } from "./errno.ts";
import { HashMap } from "./hash.ts";
import {
  type BpfMap,
  type InnerMapMeta,
  innerMapMeta,
  type MapContext,
  type MapInit,
  type MapRecord,
  roundUp8,
} from "./map.ts";
import { QueueStackMap } from "./queue-stack.ts";
import { PAGE_SIZE, RingbufMap } from "./ringbuf.ts";

/** BPF_F_ACCESS_MASK */
const BPF_F_ACCESS_MASK = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;
/** ARRAY_CREATE_FLAG_MASK */
const ARRAY_CREATE_FLAG_MASK =
  BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP;
/** HTAB_CREATE_FLAG_MASK */
const HTAB_CREATE_FLAG_MASK =
  BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED;
/** QUEUE_STACK_CREATE_FLAG_MASK */
const QUEUE_STACK_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK;
/** RINGBUF_CREATE_FLAG_MASK */
const RINGBUF_CREATE_FLAG_MASK = BPF_F_NUMA_NODE;
/** PCPU_MIN_UNIT_SIZE: the largest per-CPU value. */
const PCPU_MIN_UNIT_SIZE = 32 << 10;
/** KMALLOC_MAX_SIZE with 4K pages (1 << (MAX_PAGE_ORDER + PAGE_SHIFT)). */
const KMALLOC_MAX_SIZE = 1 << 22;
/** sizeof(struct htab_elem) on 64-bit. */
const HTAB_ELEM_SIZE = 48;
const INT_MAX = 0x7fff_ffff;
/** Largest single allocation this runtime makes for a map. */
const MAX_MAP_BYTES = 1 << 30;
/** Largest hash table (buckets) this runtime allocates. */
const MAX_HTAB_BUCKETS = 1 << 24;

/** What BPF_MAP_CREATE decided: the adjusted max_entries, or the errno and why. */
export type CreateCheck =
  | { readonly ok: true; readonly maxEntries: number }
  | { readonly ok: false; readonly errno: number; readonly why: string };

function bad(errno: number, why: string): CreateCheck {
  return { ok: false, errno, why };
}

/** bpf_map_flags_access_ok: BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together are nonsense. */
function accessOk(flags: number): boolean {
  return (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) !== (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);
}

/** array_map_alloc_check (+ fd_array_map_alloc_check) and array_map_alloc's size limits. */
function checkArray(spec: MapSpec): CreateCheck {
  const { type, flags } = spec;
  const percpu = type === BPF_MAP_TYPE_PERCPU_ARRAY;
  if (type === BPF_MAP_TYPE_PROG_ARRAY || type === BPF_MAP_TYPE_ARRAY_OF_MAPS) {
    if (spec.valueSize !== 4) return bad(EINVAL, "value_size must be 4 (an fd)");
    if (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) return bad(EINVAL, "no program access flags on fd arrays");
  }
  if (spec.maxEntries === 0 || spec.keySize !== 4 || spec.valueSize === 0) {
    return bad(EINVAL, "key_size must be 4, value_size and max_entries non-zero");
  }
  if (flags & ~ARRAY_CREATE_FLAG_MASK || !accessOk(flags)) return bad(EINVAL, "unsupported flags");
  if (type !== BPF_MAP_TYPE_ARRAY && flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP)) {
    return bad(EINVAL, "BPF_F_MMAPABLE/BPF_F_INNER_MAP are for plain arrays");
  }
  if (type !== BPF_MAP_TYPE_PERF_EVENT_ARRAY && flags & BPF_F_PRESERVE_ELEMS) {
    return bad(EINVAL, "BPF_F_PRESERVE_ELEMS is for perf event arrays");
  }
  if (spec.valueSize > INT_MAX) return bad(E2BIG, "value_size too large");
  if (percpu && roundUp8(spec.valueSize) > PCPU_MIN_UNIT_SIZE) return bad(E2BIG, "per-CPU value larger than 32 KiB");
  if (spec.maxEntries * roundUp8(spec.valueSize) > MAX_MAP_BYTES) return bad(ENOMEM, "array too large");
  return { ok: true, maxEntries: spec.maxEntries };
}

/** htab_map_alloc_check (+ fd_htab_map_alloc_check) and htab_map_alloc's adjustments. */
function checkHash(spec: MapSpec, nrCpus: number): CreateCheck {
  const { type, flags } = spec;
  const percpu = type === BPF_MAP_TYPE_PERCPU_HASH || type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
  const lru = type === BPF_MAP_TYPE_LRU_HASH || type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
  const percpuLru = (flags & BPF_F_NO_COMMON_LRU) !== 0;
  const prealloc = (flags & BPF_F_NO_PREALLOC) === 0;
  if (type === BPF_MAP_TYPE_HASH_OF_MAPS && spec.valueSize !== 4) return bad(EINVAL, "value_size must be 4 (an fd)");
  if (flags & ~HTAB_CREATE_FLAG_MASK || !accessOk(flags)) return bad(EINVAL, "unsupported flags");
  if (!lru && percpuLru) return bad(EINVAL, "BPF_F_NO_COMMON_LRU is for LRU maps");
  if (lru && !prealloc) return bad(ENOTSUPP, "LRU maps are always preallocated");
  if (flags & BPF_F_NUMA_NODE && (percpu || percpuLru)) return bad(EINVAL, "no NUMA node for per-CPU maps");
  if (spec.maxEntries === 0 || spec.keySize === 0 || spec.valueSize === 0) {
    return bad(EINVAL, "key_size, value_size and max_entries must be non-zero");
  }
  if (spec.keySize + spec.valueSize >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE) return bad(E2BIG, "key + value too large");
  if (percpu && roundUp8(spec.valueSize) > PCPU_MIN_UNIT_SIZE) return bad(E2BIG, "per-CPU value larger than 32 KiB");
  let maxEntries = spec.maxEntries;
  if (percpuLru) {
    // Every CPU's list gets the same number of nodes, at least one.
    maxEntries = Math.ceil(spec.maxEntries / nrCpus) * nrCpus;
    if (maxEntries > 0xffff_ffff) maxEntries = Math.floor(spec.maxEntries / nrCpus) * nrCpus;
  }
  if (maxEntries > 2 ** 31) return bad(E2BIG, "max_entries above 2^31");
  if (maxEntries > MAX_HTAB_BUCKETS) return bad(ENOMEM, "hash table too large");
  return { ok: true, maxEntries };
}

/** queue_stack_map_alloc_check */
function checkQueueStack(spec: MapSpec): CreateCheck {
  if (spec.maxEntries === 0 || spec.keySize !== 0 || spec.valueSize === 0) {
    return bad(EINVAL, "key_size must be 0, value_size and max_entries non-zero");
  }
  if (spec.flags & ~QUEUE_STACK_CREATE_FLAG_MASK || !accessOk(spec.flags)) return bad(EINVAL, "unsupported flags");
  if (spec.valueSize > KMALLOC_MAX_SIZE) return bad(E2BIG, "value_size too large");
  if ((spec.maxEntries + 1) * spec.valueSize > MAX_MAP_BYTES) return bad(ENOMEM, "queue too large");
  return { ok: true, maxEntries: spec.maxEntries };
}

/** ringbuf_map_alloc: no key or value, a power-of-2 multiple of the page size. */
function checkRingbuf(spec: MapSpec): CreateCheck {
  if (spec.flags & ~RINGBUF_CREATE_FLAG_MASK) return bad(EINVAL, "unsupported flags");
  const n = spec.maxEntries;
  if (spec.keySize !== 0 || spec.valueSize !== 0 || n === 0 || (n & (n - 1)) !== 0 || n % PAGE_SIZE !== 0) {
    return bad(EINVAL, "key_size and value_size must be 0, max_entries a power-of-2 multiple of the page size");
  }
  if (2 * n > MAX_MAP_BYTES) return bad(ENOMEM, "ring buffer too large");
  return { ok: true, maxEntries: n };
}

/** The map types this runtime implements. */
export const SUPPORTED_MAP_TYPES: readonly number[] = [
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_STACK,
  BPF_MAP_TYPE_RINGBUF,
];

/**
 * The checks of BPF_MAP_CREATE for `spec` without creating anything (the inner map template of a
 * map-in-map is checked by {@link createMap}, which has to create it).
 */
export function checkMapCreate(spec: MapSpec, nrCpus: number): CreateCheck {
  if (spec.flags & BPF_F_RDONLY && spec.flags & BPF_F_WRONLY) return bad(EINVAL, "BPF_F_RDONLY with BPF_F_WRONLY");
  if (spec.mapExtra !== 0n) return bad(EINVAL, "map_extra is for bloom filters and arenas");
  switch (spec.type) {
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
      return checkArray(spec);
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
      return checkHash(spec, nrCpus);
    case BPF_MAP_TYPE_QUEUE:
    case BPF_MAP_TYPE_STACK:
      return checkQueueStack(spec);
    case BPF_MAP_TYPE_RINGBUF:
      return checkRingbuf(spec);
    default:
      return bad(EINVAL, `map type ${MAP_TYPE_NAMES[spec.type] ?? spec.type} is not supported`);
  }
}

function createError(spec: MapSpec, errno: number, why: string, cause?: unknown): MapError {
  const type = MAP_TYPE_NAMES[spec.type] ?? `type ${spec.type}`;
  return new MapError(errno, `map ${spec.name} (${type}): create: ${errnoName(errno)} (${strerror(errno)}): ${why}`, {
    cause,
  });
}

/**
 * bpf_map_meta_alloc: creates the inner map template, checks it may be an inner map, and keeps
 * its meta. Only one level of nesting, and only types with a `map_meta_equal` op.
 */
function innerMeta(spec: MapSpec, ctx: MapContext, record: MapRecord | undefined): InnerMapMeta {
  const inner = spec.innerMap;
  if (inner === null) throw createError(spec, EBADF, "a map-in-map needs an inner map template");
  let template: BpfMap;
  try {
    template = createMap(inner, ctx, record);
  } catch (e) {
    if (e instanceof MapError) throw createError(spec, EBADF, `inner map template: ${e.message}`, e);
    throw e;
  }
  template.destroy();
  if (inner.type === BPF_MAP_TYPE_ARRAY_OF_MAPS || inner.type === BPF_MAP_TYPE_HASH_OF_MAPS) {
    throw createError(spec, EINVAL, "only one level of map-in-map");
  }
  if (inner.type === BPF_MAP_TYPE_PROG_ARRAY) throw createError(spec, ENOTSUPP, "a prog_array cannot be an inner map");
  return innerMapMeta(template);
}

/**
 * BPF_MAP_CREATE: validates `spec` as the kernel does and creates the map, mapping its regions
 * into `ctx.space`. Throws MapError with the kernel's errno. `record` carries BTF facts (the
 * spin lock offset) the spec does not.
 */
export function createMap(spec: MapSpec, ctx: MapContext, record: MapRecord = {}): BpfMap {
  const check = checkMapCreate(spec, ctx.nrCpus);
  if (!check.ok) throw createError(spec, check.errno, check.why);
  const init: MapInit = {
    name: spec.name,
    type: spec.type,
    keySize: spec.keySize,
    valueSize: spec.valueSize,
    maxEntries: check.maxEntries,
    flags: spec.flags,
    ctx,
    record,
  };
  switch (spec.type) {
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return new ArrayMap(init);
    case BPF_MAP_TYPE_PROG_ARRAY:
      return new FdArrayMap(init, null);
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
      return new FdArrayMap(init, innerMeta(spec, ctx, record.inner));
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_HASH_OF_MAPS: {
      const ofMaps = spec.type === BPF_MAP_TYPE_HASH_OF_MAPS;
      return new HashMap(init, {
        percpu: spec.type === BPF_MAP_TYPE_PERCPU_HASH || spec.type === BPF_MAP_TYPE_LRU_PERCPU_HASH,
        lru: spec.type === BPF_MAP_TYPE_LRU_HASH || spec.type === BPF_MAP_TYPE_LRU_PERCPU_HASH,
        percpuLru: (spec.flags & BPF_F_NO_COMMON_LRU) !== 0,
        innerMeta: ofMaps ? innerMeta(spec, ctx, record.inner) : null,
      });
    }
    case BPF_MAP_TYPE_QUEUE:
    case BPF_MAP_TYPE_STACK:
      return new QueueStackMap(init);
    case BPF_MAP_TYPE_RINGBUF:
      return new RingbufMap(init);
    default:
      throw createError(spec, EINVAL, "unsupported map type");
  }
}
