// Program-side and user-side behaviour of src/runtime/maps that the bpftool recordings cannot
// reach: addresses and regions, per-CPU copies, LRU ref bits set by programs, ring buffers,
// map-in-map handles, the MapSet, and creation checks.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MapError } from "../../src/errors.ts";
import type { MapSpec } from "../../src/object/spec.ts";
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_F_LOCK,
  BPF_F_NO_COMMON_LRU,
  BPF_F_RDONLY,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_STACK,
  BPF_NOEXIST,
} from "../../src/object/uapi.ts";
import {
  type ArrayMap,
  BPF_RB_AVAIL_DATA,
  BPF_RB_CONS_POS,
  BPF_RB_PROD_POS,
  BPF_RB_RING_SIZE,
  BPF_RINGBUF_BUSY_BIT,
  BPF_RINGBUF_DISCARD_BIT,
  type BpfMap,
  createMap,
  E2BIG,
  EAGAIN,
  EBADF,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOTSUPP,
  EPERM,
  type FdArrayMap,
  type HashMap,
  MapSet,
  type QueueStackMap,
  type RingbufMap,
} from "../../src/runtime/maps/index.ts";
import { AddressSpace } from "../../src/runtime/memory.ts";

function spec(
  type: number,
  keySize: number,
  valueSize: number,
  maxEntries: number,
  extra: Partial<MapSpec> = {},
): MapSpec {
  return {
    name: extra.name ?? "m",
    type,
    keySize,
    valueSize,
    maxEntries,
    flags: 0,
    pinning: 0,
    mapExtra: 0n,
    btfKeyTypeId: 0,
    btfValueTypeId: 0,
    innerMap: null,
    contents: [],
    section: "",
    ...extra,
  };
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function u64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function make<T extends BpfMap>(s: MapSpec, nrCpus = 2): { map: T; space: AddressSpace } {
  const space = new AddressSpace();
  return { map: createMap(s, { space, nrCpus }) as T, space };
}

function errnoOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof MapError) return e.errno;
    throw e;
  }
  return 0;
}

test("array: one region, element i at i * round_up(value_size, 8), visible both ways", () => {
  const { map, space } = make<ArrayMap>(spec(BPF_MAP_TYPE_ARRAY, 4, 12, 4));
  const a0 = map.lookupElemPtr(u32(0), 0);
  const a2 = map.lookupElemPtr(u32(2), 1);
  assert.equal(a2 - a0, 32n);
  assert.equal(map.lookupElemPtr(u32(4), 0), 0n);
  space.write(a2, 4, 0xdeadbeefn);
  assert.deepEqual([...map.lookup(u32(2))!.subarray(0, 4)], [0xef, 0xbe, 0xad, 0xde]);
  assert.equal(map.updateElem(u32(1), new Uint8Array(12).fill(7), BPF_ANY, 0), 0);
  assert.equal(space.read(a0 + 16n, 8), 0x0707070707070707n);
  assert.equal(map.updateElem(u32(1), new Uint8Array(12), BPF_NOEXIST, 0), -EEXIST);
  assert.equal(map.updateElem(u32(9), new Uint8Array(12), BPF_ANY, 0), -E2BIG);
  assert.equal(map.updateElem(u32(1), new Uint8Array(12), 3, 0), -EINVAL);
  assert.equal(map.updateElem(u32(1), new Uint8Array(12), BPF_F_LOCK, 0), -EINVAL);
  assert.equal(map.deleteElem(u32(1)), -EINVAL);
  assert.equal(
    errnoOf(() => map.delete(u32(1))),
    EINVAL,
  );
  assert.equal(map.lookup(u32(4)), null);
});

test("percpu array: each CPU has its own copy; the syscall sees all, rounded to 8 bytes", () => {
  const { map, space } = make<ArrayMap>(spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2), 3);
  assert.equal(map.updateElem(u32(1), u32(0x11), BPF_ANY, 0), 0);
  assert.equal(map.updateElem(u32(1), u32(0x22), BPF_ANY, 2), 0);
  assert.equal(space.read(map.lookupElemPtr(u32(1), 2), 4), 0x22n);
  assert.notEqual(map.lookupElemPtr(u32(1), 0) >> 32n, map.lookupElemPtr(u32(1), 1) >> 32n);
  assert.deepEqual(
    [...map.lookup(u32(1))!],
    [0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 0, 0, 0, 0],
  );
  const all = new Uint8Array(24);
  all.set(u32(5), 8);
  map.update(u32(0), all);
  assert.equal(space.read(map.lookupElemPtr(u32(0), 1), 4), 5n);
  assert.equal(
    errnoOf(() => map.update(u32(0), u32(5))),
    14 /* EFAULT: wrong size */,
  );
});

test("array for_each: key and value pointers, stop on 1, count includes the stopping element", () => {
  const { map, space } = make<ArrayMap>(spec(BPF_MAP_TYPE_ARRAY, 4, 8, 5));
  const seen: number[] = [];
  const n = map.forEachElem(0, 0, (k, v) => {
    const i = Number(space.read(k, 4));
    seen.push(i);
    space.write(v, 8, BigInt(i * 10));
    return i === 2;
  });
  assert.equal(n, 3);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.deepEqual([...map.lookup(u32(2))!], [20, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(
    map.forEachElem(1, 0, () => false),
    -EINVAL,
  );
});

test("hash: per-element region holds key then value; delete unmaps it", () => {
  const { map, space } = make<HashMap>(spec(BPF_MAP_TYPE_HASH, 6, 8, 4));
  const key = new Uint8Array([1, 2, 3, 4, 5, 6]);
  assert.equal(map.lookupElemPtr(key, 0), 0n);
  assert.equal(map.updateElem(key, u64(42n), BPF_NOEXIST, 0), 0);
  const v = map.lookupElemPtr(key, 0);
  assert.equal(space.read(v, 8), 42n);
  assert.equal(space.describe(v).endsWith("+0x8"), true, "value at round_up(key_size, 8)");
  assert.deepEqual([...space.bytesAt(v - 8n, 6)], [...key]);
  space.write(v, 8, 43n);
  assert.deepEqual(map.lookup(key), u64(43n));
  assert.equal(map.updateElem(key, u64(44n), BPF_ANY, 0), 0);
  assert.equal(space.read(v, 8), 44n, "replacing keeps the element's region");
  assert.equal(map.deleteElem(key), 0);
  assert.equal(space.lookup(v, 8), null);
  assert.throws(() => space.read(v, 8));
  assert.equal(map.deleteElem(key), -ENOENT);
  assert.equal(map.count, 0);
});

test("hash: full map refuses new keys with E2BIG, replacing still works", () => {
  const { map } = make<HashMap>(spec(BPF_MAP_TYPE_HASH, 4, 4, 2));
  assert.equal(map.updateElem(u32(1), u32(1), BPF_ANY, 0), 0);
  assert.equal(map.updateElem(u32(2), u32(2), BPF_ANY, 0), 0);
  assert.equal(map.updateElem(u32(3), u32(3), BPF_ANY, 0), -E2BIG);
  assert.equal(map.updateElem(u32(3), u32(3), BPF_EXIST, 0), -ENOENT);
  assert.equal(map.updateElem(u32(2), u32(9), BPF_ANY, 0), 0);
  assert.equal(map.updateElem(u32(2), u32(9), BPF_NOEXIST, 0), -EEXIST);
  const e = assert.throws(
    () => map.update(u32(3), u32(3)),
    (err: unknown) => err instanceof MapError && err.errno === E2BIG,
  );
  void e;
});

test("percpu hash: program updates touch one CPU, a new element's other CPUs are zero", () => {
  const { map, space } = make<HashMap>(spec(BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 4), 2);
  assert.equal(map.updateElem(u32(7), u32(0xaa), BPF_ANY, 1), 0);
  assert.deepEqual([...map.lookup(u32(7))!], [0, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0, 0, 0, 0, 0, 0, 0]);
  const p0 = map.lookupElemPtr(u32(7), 0);
  const p1 = map.lookupElemPtr(u32(7), 1);
  assert.equal(p1 - p0, 8n);
  assert.equal(space.read(p1, 4), 0xaan);
});

test("hash for_each follows get_next_key order and tolerates deleting the current element", () => {
  const { map, space } = make<HashMap>(spec(BPF_MAP_TYPE_HASH, 4, 4, 16));
  for (let i = 1; i <= 10; i++) map.update(u32(i), u32(i * 100));
  const order = map.entries().map((e) => new DataView(e.key.buffer).getUint32(0, true));
  const visited: number[] = [];
  const n = map.forEachElem(0, 0, (k, v) => {
    const key = Number(space.read(k, 4));
    visited.push(key);
    assert.equal(space.read(v, 4), BigInt(key * 100));
    if (key % 2 === 0) assert.equal(map.deleteElem(u32(key)), 0);
    return false;
  });
  assert.equal(n, 10);
  assert.deepEqual(visited, order);
  assert.equal(map.count, 5);
});

test("LRU: a program lookup sets the ref bit, which saves the element from eviction", () => {
  const play = (touch: boolean): number[] => {
    const { map } = make<HashMap>(spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 8), 1);
    for (let k = 1; k <= 8; k++) assert.equal(map.updateElem(u32(k), u64(BigInt(k)), BPF_ANY, 0), 0);
    if (touch) for (const k of [1, 2]) assert.notEqual(map.lookupElemPtr(u32(k), 0), 0n);
    for (let k = 9; k <= 12; k++) assert.equal(map.updateElem(u32(k), u64(BigInt(k)), BPF_ANY, 0), 0);
    return map
      .entries()
      .map((e) => new DataView(e.key.buffer).getUint32(0, true))
      .sort((a, b) => a - b);
  };
  const cold = play(false);
  const warm = play(true);
  assert.equal(cold.includes(1), false);
  assert.equal(warm.includes(1) && warm.includes(2), true);
});

test("LRU: an evicted element's region is unmapped; the batch size follows the kernel", () => {
  const { map, space } = make<HashMap>(spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 4), 2);
  assert.equal(map.lruTargetFree, 1);
  map.update(u32(1), u64(1n));
  const p = map.lookupElemPtr(u32(1), 0);
  for (let k = 2; k <= 8; k++) map.update(u32(k), u64(BigInt(k)));
  assert.equal(map.lookup(u32(1)), null);
  assert.equal(space.lookup(p, 8), null);
  const big = make<HashMap>(spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 10000), 4).map;
  assert.equal(big.lruTargetFree, 128);
  const fixed = createMap(spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 8), {
    space: new AddressSpace(),
    nrCpus: 2,
    lruFreeTarget: "fixed",
  }) as HashMap;
  assert.equal(fixed.lruTargetFree, 128);
  const pcpu = make<HashMap>(spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 5, { flags: BPF_F_NO_COMMON_LRU }), 4).map;
  assert.equal(pcpu.maxEntries, 8);
});

test("queue and stack: program-side push/pop/peek, overwrite with BPF_EXIST, empty pop zeroes", () => {
  for (const [type, order] of [
    [BPF_MAP_TYPE_QUEUE, [2, 3]],
    [BPF_MAP_TYPE_STACK, [3, 2]],
  ] as const) {
    const { map } = make<QueueStackMap>(spec(type, 0, 4, 2));
    assert.equal(map.pushElem(u32(1), BPF_ANY), 0);
    assert.equal(map.pushElem(u32(2), BPF_ANY), 0);
    assert.equal(map.pushElem(u32(3), BPF_ANY), -E2BIG);
    assert.equal(map.pushElem(u32(3), BPF_NOEXIST), -EINVAL);
    assert.equal(map.pushElem(u32(3), BPF_EXIST), 0);
    const out = new Uint8Array(4);
    assert.equal(map.peekElem(out), 0);
    assert.deepEqual(out, u32(order[0]));
    assert.deepEqual(map.pop(), u32(order[0]));
    assert.equal(map.popElem(out), 0);
    assert.deepEqual(out, u32(order[1]));
    out.fill(0xff);
    assert.equal(map.popElem(out), -ENOENT);
    assert.deepEqual(out, new Uint8Array(4));
    assert.equal(map.lookupElemPtr(u32(0), 0), 0n);
    assert.equal(
      errnoOf(() => map.nextKey(null)),
      EINVAL,
    );
  }
});

function readHeader(rb: RingbufMap, sample: bigint): { len: number; pgOff: number } {
  const b = rb.space.bytesAt(sample - 8n, 8);
  const v = new DataView(b.buffer, b.byteOffset, 8);
  return { len: v.getUint32(0, true), pgOff: v.getUint32(4, true) };
}

test("ringbuf: header layout, submit/discard, consume in order", () => {
  const { map: rb, space } = make<RingbufMap>(spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 8192));
  const a = rb.reserve(5, 0);
  assert.notEqual(a, 0n);
  assert.deepEqual(readHeader(rb, a), { len: (5 | BPF_RINGBUF_BUSY_BIT) >>> 0, pgOff: 3 });
  space.write(a, 4, 0x44332211n);
  space.write(a + 4n, 1, 0x55n);
  const b = rb.reserve(4, 0);
  assert.equal(b - a, 16n, "records are 8-byte aligned with an 8-byte header");
  assert.deepEqual(rb.consume(), [], "the first record is still busy");
  rb.discard(b, 0);
  assert.equal(readHeader(rb, b).len, (4 | BPF_RINGBUF_DISCARD_BIT) >>> 0);
  rb.submit(a, 0);
  assert.equal(rb.output(new Uint8Array([9, 9]), 0), 0);
  assert.equal(rb.query(BPF_RB_PROD_POS), 48n);
  assert.equal(rb.query(BPF_RB_AVAIL_DATA), 48n);
  assert.equal(rb.query(BPF_RB_RING_SIZE), 8192n);
  assert.deepEqual(rb.consume(), [new Uint8Array([0x11, 0x22, 0x33, 0x44, 0x55]), new Uint8Array([9, 9])]);
  assert.equal(rb.query(BPF_RB_CONS_POS), 48n);
  assert.equal(rb.reserve(8, 1), 0n, "reserve flags must be 0");
  assert.equal(rb.output(new Uint8Array(1), 4), -EINVAL);
  const c = rb.reserve(4096, 0);
  assert.equal(readHeader(rb, c).pgOff, 3);
  const d = rb.reserve(8, 0);
  assert.equal(readHeader(rb, d).pgOff, 4, "pg_off counts pages from the ring's start");
  assert.equal(
    errnoOf(() => rb.lookup(null)),
    ENOTSUPP,
    "ringbuf has no elements to look up",
  );
  assert.equal(rb.updateElem(new Uint8Array(0), new Uint8Array(0), 0, 0), -ENOTSUPP);
});

test("ringbuf: full ring refuses reservations, a record wraps past the end contiguously", () => {
  const { map: rb, space } = make<RingbufMap>(spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096));
  assert.equal(rb.reserve(4096, 0), 0n, "larger than the ring");
  const first = rb.reserve(4000, 0);
  assert.notEqual(first, 0n);
  assert.equal(rb.reserve(200, 0), 0n, "would overrun the consumer");
  assert.equal(rb.output(new Uint8Array(200), 0), -EAGAIN);
  rb.submit(first, 0);
  assert.equal(rb.consume().length, 1);
  // producer at 4008: a 100-byte record starts 88 bytes before the end and wraps.
  const w = rb.reserve(100, 0);
  assert.equal(w, rb.data.address(4016));
  const payload = new Uint8Array(100).map((_, i) => i + 1);
  space.bytesAt(w, 100, true).set(payload);
  rb.submit(w, 0);
  assert.deepEqual(rb.consume(), [payload]);
  assert.deepEqual([...rb.data.bytes.subarray(0, 4)], [81, 82, 83, 84], "the wrapped tail lands at the start");
  // an old reservation blocks the space behind it even when the consumer has caught up.
  const old = rb.reserve(8, 0);
  const filler = rb.reserve(3000, 0);
  rb.submit(filler, 0);
  assert.equal(rb.reserve(1100, 0), 0n);
  rb.discard(old, 0);
  assert.equal(rb.consume().length, 1);
  assert.notEqual(rb.reserve(1000, 0), 0n);
  assert.throws(() => rb.submit(old, 0), /already committed/);
});

test("MapSet: handles resolve back to maps; map-in-map lookups give the inner map's handle", () => {
  const space = new AddressSpace();
  const set = new MapSet({ space, nrCpus: 2 });
  const innerSpec = spec(BPF_MAP_TYPE_ARRAY, 4, 4, 2, { name: "inner" });
  const inner = set.create(innerSpec);
  const other = set.create(spec(BPF_MAP_TYPE_ARRAY, 4, 4, 3, { name: "other" }));
  const outer = set.create(
    spec(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, { name: "outer", innerMap: innerSpec }),
  ) as FdArrayMap;
  const hom = set.create(spec(BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, { name: "hom", innerMap: innerSpec })) as HashMap;
  assert.equal(set.mapByAddress(outer.address), outer);
  assert.equal(set.mapByAddress(outer.address + 1n), null);
  assert.equal(set.get("inner"), inner);
  assert.equal(outer.lookupElemPtr(u32(0), 0), 0n);
  outer.update(u32(0), u32(inner.id));
  assert.equal(set.mapByAddress(outer.lookupElemPtr(u32(0), 0)), inner);
  assert.deepEqual(outer.lookup(u32(0)), u32(inner.id));
  assert.equal(
    errnoOf(() => outer.update(u32(1), u32(other.id))),
    EINVAL,
    "max_entries differs",
  );
  assert.equal(
    errnoOf(() => outer.update(u32(1), u32(999))),
    EBADF,
  );
  assert.equal(
    errnoOf(() => outer.update(u32(1), u32(inner.id), BPF_NOEXIST)),
    EINVAL,
  );
  hom.setRef(u32(5), inner);
  assert.equal(set.mapByAddress(hom.lookupElemPtr(u32(5), 0)), inner);
  assert.equal(hom.innerAt(u32(5)), inner);
  set.destroy(other);
  assert.equal(set.byId(other.id), null);
  assert.equal(space.lookup(other.address, 0), null);
});

test("MapSet.createAll: global data contents, prog_array initialisers, ids and names", () => {
  const space = new AddressSpace();
  const progs = new Map<string, object>([["tail", { name: "tail" }]]);
  const set = new MapSet({ space, nrCpus: 2, progId: (p) => (p === progs.get("tail") ? 77 : 0) });
  const [data, jt] = set.createAll(
    [
      spec(BPF_MAP_TYPE_ARRAY, 4, 4, 1, {
        name: ".data",
        contents: [{ kind: "bytes", key: u32(0), value: new Uint8Array([1, 2, 3, 4]) }],
      }),
      spec(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, {
        name: "jt",
        contents: [{ kind: "program", key: u32(2), program: "tail" }],
      }),
    ],
    { resolveProgram: (n) => progs.get(n) ?? null },
  );
  assert.equal(space.read(data.lookupElemPtr(u32(0), 0), 4), 0x04030201n);
  assert.equal((jt as FdArrayMap).refAt(2), progs.get("tail"));
  assert.deepEqual(jt.lookup(u32(2)), u32(77));
  assert.equal(jt.lookup(u32(1)), null);
  assert.equal(jt.lookupElemPtr(u32(2), 0), 0n, "programs cannot look into a prog_array");
  assert.deepEqual([data.id, jt.id], [1, 2]);
});

test("BPF_F_LOCK needs a spin lock; copies leave the lock word alone", () => {
  const space = new AddressSpace();
  const map = createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 4), { space, nrCpus: 1 }, { spinLockOffset: 0 });
  map.update(u32(1), u64(0x1111111122222222n));
  const p = map.lookupElemPtr(u32(1), 0);
  assert.equal(space.read(p, 8), 0x1111111100000000n, "the lock's 4 bytes are not copied");
  space.write(p, 4, 1n);
  map.update(u32(1), u64(0x3333333344444444n), BPF_F_LOCK);
  assert.equal(space.read(p, 8), 0x3333333300000001n);
  assert.deepEqual(map.lookup(u32(1), BPF_F_LOCK), u64(0x3333333300000000n), "the lock reads as zero");
  const plain = make<HashMap>(spec(BPF_MAP_TYPE_HASH, 4, 8, 4)).map;
  assert.equal(
    errnoOf(() => plain.update(u32(1), u64(1n), BPF_F_LOCK)),
    EINVAL,
  );
});

test("user side: read-only maps, frozen maps and key sizes", () => {
  const ro = make<HashMap>(spec(BPF_MAP_TYPE_HASH, 4, 4, 4, { flags: BPF_F_RDONLY })).map;
  assert.equal(
    errnoOf(() => ro.update(u32(1), u32(1))),
    EPERM,
  );
  assert.equal(ro.lookup(u32(1)), null);
  const fr = make<HashMap>(spec(BPF_MAP_TYPE_HASH, 4, 4, 4)).map;
  fr.update(u32(1), u32(1));
  fr.freeze();
  assert.equal(
    errnoOf(() => fr.delete(u32(1))),
    EPERM,
  );
  assert.equal(fr.updateElem(u32(2), u32(2), BPF_ANY, 0), 0, "programs may still write");
  assert.equal(
    errnoOf(() => fr.lookup(new Uint8Array(3))),
    14,
  );
});

test("createMap: the kernel's errnos for bad specs", () => {
  const cases: [MapSpec, number][] = [
    [spec(BPF_MAP_TYPE_ARRAY, 8, 4, 1), EINVAL],
    [spec(BPF_MAP_TYPE_HASH, 4, 4, 0), EINVAL],
    [spec(BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, { flags: 1 }), ENOTSUPP],
    [spec(BPF_MAP_TYPE_QUEUE, 4, 4, 4), EINVAL],
    [spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 6000), EINVAL],
    [spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 40000, 1), E2BIG],
    [spec(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1), EBADF],
    [spec(BPF_MAP_TYPE_HASH, 4, 4, 1, { mapExtra: 1n }), EINVAL],
    [spec(4 /* perf_event_array */, 4, 4, 1), EINVAL],
  ];
  for (const [s, errno] of cases) {
    assert.equal(
      errnoOf(() => make(s)),
      errno,
      JSON.stringify({ ...s, mapExtra: String(s.mapExtra) }),
    );
  }
});
