/**
 * BPF maps for the tsbpf runtime: every map type of kernel/bpf/{arraymap,hashtab,
 * queue_stack_maps,ringbuf,map_in_map}.c that tsbpf programs use, with the kernel's semantics
 * on both the program side (helpers) and the user side (BPF_MAP_* commands), and a MapSet
 * holding the maps of one object.
 */
import { MapError } from "../../errors.ts";
import type { MapSpec } from "../../object/spec.ts";
import { BPF_ANY } from "../../object/uapi.ts";
import { type AddressSpace, REGION_HI_BASE, REGION_LO_BASE } from "../memory.ts";
import { FdArrayMap } from "./array.ts";
import { createMap } from "./create.ts";
import { EINVAL, ENOENT } from "./errno.ts";
import { HashMap } from "./hash.ts";
import { type BpfMap, type MapContext, type MapRecord, roundUp8 } from "./map.ts";

export { ArrayMap, FdArrayMap } from "./array.ts";
export { type CreateCheck, checkMapCreate, createMap, SUPPORTED_MAP_TYPES } from "./create.ts";
export * from "./errno.ts";
export { HashMap, type HashVariant } from "./hash.ts";
export { htabMapHash, jhash, jhash2 } from "./jhash.ts";
export {
  BpfMap,
  type ForEachCallback,
  type InnerMapMeta,
  innerMapMatches,
  innerMapMeta,
  type MapContext,
  type MapEntry,
  type MapRecord,
  roundUp8,
} from "./map.ts";
export { QueueStackMap } from "./queue-stack.ts";
export * from "./ringbuf.ts";

/** How a MapSet is set up: a MapContext without `mapByFd`, which the set provides. */
export type MapSetOptions = Omit<MapContext, "mapByFd">;

/**
 * The maps of one loaded object (and any created later): creates them with ids 1, 2, ... (an id
 * doubles as the map's fd in map-in-map updates), finds them by name, id or the address a
 * program holds, and fills their initial contents.
 */
export class MapSet {
  readonly ctx: MapContext;
  private readonly byName = new Map<string, BpfMap>();
  private readonly byIdMap = new Map<number, BpfMap>();
  /** Handle region id → map, for {@link mapByAddress}. */
  private readonly byHandle = new Map<number, BpfMap>();
  private nextId = 1;

  constructor(options: MapSetOptions) {
    this.ctx = { ...options, mapByFd: (fd) => this.byId(fd) };
  }

  /** The address space the maps live in. */
  get space(): AddressSpace {
    return this.ctx.space;
  }

  /** BPF_MAP_CREATE and registration; throws MapError. */
  create(spec: MapSpec, record: MapRecord = {}): BpfMap {
    const map = createMap(spec, this.ctx, record);
    map.id = this.nextId++;
    if (!this.byName.has(map.name)) this.byName.set(map.name, map);
    this.byIdMap.set(map.id, map);
    this.byHandle.set(map.handle.id, map);
    return map;
  }

  /**
   * Creates every map of an object in order, then stores their initial contents: raw bytes,
   * inner maps by name, and programs through `resolveProgram` (prog_array initialisers).
   */
  createAll(
    specs: readonly MapSpec[],
    options: { records?: ReadonlyMap<string, MapRecord>; resolveProgram?: (name: string) => unknown } = {},
  ): BpfMap[] {
    const maps = specs.map((s) => this.create(s, options.records?.get(s.name) ?? {}));
    specs.forEach((spec, i) => {
      const map = maps[i];
      for (const c of spec.contents) {
        switch (c.kind) {
          case "bytes":
            map.update(c.key, this.fullValue(map, c.value), BPF_ANY);
            break;
          case "map": {
            const inner = this.get(c.map);
            if (inner === undefined)
              throw new MapError(ENOENT, `map ${map.name}: initial value: no map named ${c.map}`);
            this.setRef(map, c.key, inner);
            break;
          }
          case "program": {
            const prog = options.resolveProgram?.(c.program) ?? null;
            if (prog === null)
              throw new MapError(ENOENT, `map ${map.name}: initial value: no program named ${c.program}`);
            this.setRef(map, c.key, prog);
            break;
          }
        }
      }
    });
    return maps;
  }

  /** The map created under `name` first, if any. */
  get(name: string): BpfMap | undefined {
    return this.byName.get(name);
  }

  /** The map with id (= fd) `id`, or null. */
  byId(id: number): BpfMap | null {
    return this.byIdMap.get(id) ?? null;
  }

  /** The map whose handle address (a program's `r1 = map ll`) is `addr`, or null. */
  mapByAddress(addr: bigint): BpfMap | null {
    const a = BigInt.asUintN(64, addr);
    if (Number(a & 0xffff_ffffn) !== REGION_LO_BASE) return null;
    return this.byHandle.get(Number(a >> 32n) - REGION_HI_BASE) ?? null;
  }

  /** All maps, in creation order. */
  [Symbol.iterator](): IterableIterator<BpfMap> {
    return this.byIdMap.values();
  }

  /** Unmaps a map's regions and forgets it. */
  destroy(map: BpfMap): void {
    map.destroy();
    this.byIdMap.delete(map.id);
    this.byHandle.delete(map.handle.id);
    if (this.byName.get(map.name) === map) this.byName.delete(map.name);
  }

  private setRef(map: BpfMap, key: Uint8Array, target: unknown): void {
    if (map instanceof FdArrayMap) map.setRef(key, target);
    else if (map instanceof HashMap && target !== null && typeof target === "object" && "handle" in target) {
      map.setRef(key, target as BpfMap);
    } else throw new MapError(EINVAL, `map ${map.name}: initial references need a prog_array or map-in-map`);
  }

  /** A value of value_size bytes for a per-CPU map is given to every CPU, as libbpf would. */
  private fullValue(map: BpfMap, value: Uint8Array): Uint8Array {
    if (value.length !== map.valueSize || map.userValueSize === map.valueSize) return value;
    const out = new Uint8Array(map.userValueSize);
    const stride = roundUp8(map.valueSize);
    for (let off = 0; off < out.length; off += stride) out.set(value, off);
    return out;
  }
}
