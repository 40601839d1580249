/**
 * The maps an object declares, in libbpf's order: legacy `maps` definitions, BTF-defined `.maps`
 * (in DATASEC offset order), one array map per global-data section (in section order), and the
 * `.kconfig` map; plus the initial slots `.maps` relocations give prog_array and map-in-map maps.
 *
 * Counterparts in libbpf (src/libbpf.c): `bpf_object__init_user_btf_maps` and
 * `parse_btf_map_def` (field by field, strict: unknown fields are errors), `fill_map_from_def`
 * (ring buffer sizes rounded up to a power-of-2 number of pages), `bpf_object__init_global_data_maps`
 * and `bpf_object__init_internal_map` (BPF_F_RDONLY_PROG for `.rodata*`, BPF_F_MMAPABLE when a
 * variable is visible to user space, `map_is_mmapable`), `bpf_object__init_kconfig_map`,
 * `bpf_object__collect_map_relos`, and the BTF id clearing of `bpf_object__create_map` for map
 * types that take no BTF. The legacy `maps` section follows libbpf before v1.0
 * (`bpf_object__init_user_maps`), which v1.x refuses.
 *
 * Names: BTF and legacy maps are named after their variable; global-data maps after their
 * section (`.data`, `.rodata.str1.1`), which is libbpf's `real_name` — the kernel sees
 * `internal_map_name`, e.g. `myobj.data`, which the runtime derives.
 */
import type { Btf } from "../btf/btf.ts";
import type { BtfMember } from "../btf/types.ts";
import { R_BPF_64_64, R_BPF_64_ABS64 } from "../elf/constants.ts";
import type { ElfFile } from "../elf/reader.ts";
import { LoadError } from "../errors.ts";
import { datasecByName } from "./btfinfo.ts";
import { kconfigSize } from "./externs.ts";
import type { Datasec, Extern, MapDraft, ObjectState } from "./internal.ts";
import { isSubprog } from "./internal.ts";
import {
  BPF_F_MMAPABLE,
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_CGROUP_ARRAY,
  BPF_MAP_TYPE_CPUMAP,
  BPF_MAP_TYPE_DEVMAP,
  BPF_MAP_TYPE_DEVMAP_HASH,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_SOCKHASH,
  BPF_MAP_TYPE_SOCKMAP,
  BPF_MAP_TYPE_STACK,
  BPF_MAP_TYPE_STACK_TRACE,
  BPF_MAP_TYPE_UNSPEC,
  BPF_MAP_TYPE_USER_RINGBUF,
  BPF_MAP_TYPE_XSKMAP,
  LIBBPF_PIN_BY_NAME,
  LIBBPF_PIN_NONE,
} from "./uapi.ts";

/** sizeof(struct bpf_map_def) as libbpf read it: type, key_size, value_size, max_entries, map_flags. */
const LEGACY_DEF_SIZE = 20;
/** BPF pointers in `.maps` initialisers are 8 bytes. */
const BPF_PTR_SIZE = 8;

/** Map types whose kernel maps take no BTF key/value (libbpf clears the ids before BPF_MAP_CREATE). */
const NO_BTF_TYPES = new Set([
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_CGROUP_ARRAY,
  BPF_MAP_TYPE_STACK_TRACE,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_DEVMAP,
  BPF_MAP_TYPE_DEVMAP_HASH,
  BPF_MAP_TYPE_CPUMAP,
  BPF_MAP_TYPE_XSKMAP,
  BPF_MAP_TYPE_SOCKMAP,
  BPF_MAP_TYPE_SOCKHASH,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_STACK,
]);

function isMapInMap(type: number): boolean {
  return type === BPF_MAP_TYPE_ARRAY_OF_MAPS || type === BPF_MAP_TYPE_HASH_OF_MAPS;
}

/** A fresh draft with libbpf's defaults. */
function draft(
  fields: Partial<MapDraft> & Pick<MapDraft, "name" | "origin" | "secIdx" | "secOffset" | "varIndex">,
): MapDraft {
  return {
    type: BPF_MAP_TYPE_UNSPEC,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    flags: 0,
    pinning: LIBBPF_PIN_NONE,
    numaNode: 0,
    mapExtra: 0n,
    btfKeyTypeId: 0,
    btfValueTypeId: 0,
    inner: null,
    section: "",
    data: null,
    slots: new Map(),
    ...fields,
  };
}

/** libbpf's `adjust_ringbuf_sz`: a power-of-2 multiple of the page size at least `size`. */
function adjustRingbufSize(size: number, pageSize: number): number {
  if (size === 0) return 0;
  if (size % pageSize === 0) {
    const pages = size / pageSize;
    if ((pages & (pages - 1)) === 0) return size;
  }
  for (let mul = 1; mul <= Math.floor(0xffffffff / pageSize); mul *= 2) {
    if (mul * pageSize > size) return mul * pageSize;
  }
  return size;
}

/** The map definition fields of a `.maps` struct (libbpf's `struct btf_map_def`). */
interface BtfMapDef {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  pinning: number;
  mapExtra: bigint;
  keyTypeId: number;
  valueTypeId: number;
  inner: BtfMapDef | null;
}

/** libbpf's `get_map_field_int`: `int (*name)[N]` encodes N. */
function mapFieldInt(btf: Btf, mapName: string, m: BtfMember): number {
  const t = btf.resolve(m.type);
  if (t.kind !== "ptr") throw new LoadError(`map '${mapName}': attribute '${m.name}': expected PTR, got ${t.kind}`);
  const arr = btf.type(t.type);
  if (arr.kind !== "array") {
    throw new LoadError(`map '${mapName}': attribute '${m.name}': expected ARRAY, got ${arr.kind}`);
  }
  return arr.nelems;
}

/** The size of what a `key`/`value` member points to, and its type id (libbpf: `__type(key, T)`). */
function mapFieldType(btf: Btf, mapName: string, m: BtfMember): { size: number; typeId: number } {
  const t = btf.type(m.type);
  if (t.kind !== "ptr") throw new LoadError(`map '${mapName}': ${m.name} spec is not PTR: ${t.kind}`);
  try {
    return { size: btf.sizeOf(t.type), typeId: t.type };
  } catch (cause) {
    throw new LoadError(`map '${mapName}': cannot determine ${m.name} size for type [${t.type}]`, {}, { cause });
  }
}

/** libbpf's `parse_btf_map_def` (strict): reads a `.maps` definition struct member by member. */
function parseBtfMapDef(btf: Btf, mapName: string, structId: number, isInner: boolean): BtfMapDef {
  const s = btf.type(structId);
  if (s.kind !== "struct") throw new LoadError(`map '${mapName}': unexpected def kind ${s.kind}`);
  const def: BtfMapDef = {
    type: 0,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    flags: 0,
    numaNode: 0,
    pinning: 0,
    mapExtra: 0n,
    keyTypeId: 0,
    valueTypeId: 0,
    inner: null,
  };
  const fail = (message: string): never => {
    throw new LoadError(`map '${mapName}': ${message}`);
  };
  const setSize = (which: "keySize" | "valueSize", size: number, what: string) => {
    if (def[which] !== 0 && def[which] !== size) fail(`conflicting ${what} size ${def[which]} != ${size}`);
    def[which] = size;
  };
  s.members.forEach((m, i) => {
    switch (m.name) {
      case "type":
        def.type = mapFieldInt(btf, mapName, m);
        break;
      case "max_entries":
        def.maxEntries = mapFieldInt(btf, mapName, m);
        break;
      case "map_flags":
        def.flags = mapFieldInt(btf, mapName, m);
        break;
      case "numa_node":
        def.numaNode = mapFieldInt(btf, mapName, m);
        break;
      case "key_size":
        setSize("keySize", mapFieldInt(btf, mapName, m), "key");
        break;
      case "key": {
        const k = mapFieldType(btf, mapName, m);
        setSize("keySize", k.size, "key");
        def.keyTypeId = k.typeId;
        break;
      }
      case "value_size":
        setSize("valueSize", mapFieldInt(btf, mapName, m), "value");
        break;
      case "value": {
        const v = mapFieldType(btf, mapName, m);
        setSize("valueSize", v.size, "value");
        def.valueTypeId = v.typeId;
        break;
      }
      case "values": {
        const mapInMap = isMapInMap(def.type);
        const progArray = def.type === BPF_MAP_TYPE_PROG_ARRAY;
        if (isInner) fail("multi-level inner maps not supported");
        if (i !== s.members.length - 1) fail("'values' member should be last");
        if (!mapInMap && !progArray) fail("should be map-in-map or prog-array");
        setSize("valueSize", 4, "value");
        const arr = btf.type(m.type);
        if (arr.kind !== "array" || arr.nelems !== 0) fail("'values' spec is not a zero-sized array");
        const ptr = btf.resolve((arr as { type: number }).type);
        if (ptr.kind !== "ptr") fail(`'values' def is of unexpected kind ${ptr.kind}`);
        const target = btf.resolve((ptr as { type: number }).type);
        if (progArray) {
          if (target.kind !== "func_proto") fail(`prog-array value def is of unexpected kind ${target.kind}`);
          break;
        }
        if (target.kind !== "struct") fail(`map-in-map inner def is of unexpected kind ${target.kind}`);
        def.inner = parseBtfMapDef(btf, `${mapName}.inner`, target.id, true);
        break;
      }
      case "pinning": {
        if (isInner) fail("inner def can't be pinned");
        const v = mapFieldInt(btf, mapName, m);
        if (v !== LIBBPF_PIN_NONE && v !== LIBBPF_PIN_BY_NAME) fail(`invalid pinning value ${v}`);
        def.pinning = v;
        break;
      }
      case "map_extra":
        def.mapExtra = BigInt(mapFieldInt(btf, mapName, m));
        break;
      default:
        fail(`unknown field '${m.name}'`);
    }
  });
  if (def.type === BPF_MAP_TYPE_UNSPEC) fail("map type isn't specified");
  return def;
}

/** libbpf's `fill_map_from_def`. */
function fillFromDef(m: MapDraft, def: BtfMapDef, pageSize: number): void {
  m.type = def.type;
  m.keySize = def.keySize;
  m.valueSize = def.valueSize;
  m.maxEntries = def.maxEntries;
  m.flags = def.flags;
  m.mapExtra = def.mapExtra;
  m.numaNode = def.numaNode;
  m.pinning = def.pinning;
  m.btfKeyTypeId = def.keyTypeId;
  m.btfValueTypeId = def.valueTypeId;
  if (m.type === BPF_MAP_TYPE_RINGBUF || m.type === BPF_MAP_TYPE_USER_RINGBUF) {
    m.maxEntries = adjustRingbufSize(m.maxEntries, pageSize);
  }
}

/** The legacy `maps` section: one `struct bpf_map_def` per symbol, all the same size. */
function legacyMaps(state: Omit<ObjectState, "btf">): MapDraft[] {
  if (state.legacyMapsShndx < 0) return [];
  const elf = state.elf;
  const sec = elf.section(state.legacyMapsShndx);
  const data = sec.data();
  const syms = elf.symbols.filter((s) => s.shndx === sec.index && s.type !== 3 /* STT_SECTION */ && s.index !== 0);
  if (syms.length === 0) return [];
  if (data.length === 0 || data.length % syms.length !== 0) {
    throw new LoadError(`unable to determine map definition size: ${data.length} bytes for ${syms.length} maps`, {
      section: sec.label,
    });
  }
  const defSize = data.length / syms.length;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = !state.bigEndian;
  return syms.map((sym) => {
    if (sym.value + defSize > data.length) {
      throw new LoadError(`map '${sym.name}': definition at ${sym.value} is past the section end`, {
        section: sec.label,
      });
    }
    for (let i = LEGACY_DEF_SIZE; i < defSize; i++) {
      if (data[sym.value + i] !== 0) {
        throw new LoadError(`map '${sym.name}': unrecognized extra bytes in its definition`, { section: sec.label });
      }
    }
    const field = (i: number) => (i * 4 + 4 <= defSize ? view.getUint32(sym.value + i * 4, le) : 0);
    return draft({
      name: sym.name,
      origin: "legacy",
      secIdx: sec.index,
      secOffset: sym.value,
      varIndex: -1,
      type: field(0),
      keySize: field(1),
      valueSize: field(2),
      maxEntries: field(3),
      flags: field(4),
    });
  });
}

/** libbpf's `bpf_object__init_user_btf_maps`. */
function btfMaps(
  state: Omit<ObjectState, "btf">,
  btf: Btf | null,
  datasecs: ReadonlyMap<number, Datasec>,
  pageSize: number,
): MapDraft[] {
  if (state.btfMapsShndx < 0) return [];
  const sec = state.elf.section(state.btfMapsShndx);
  if (btf === null) throw new LoadError("BTF is required for .maps, and the object has none", { section: sec.label });
  const ds = datasecByName(datasecs, ".maps");
  if (ds === undefined) throw new LoadError("DATASEC '.maps' not found", { section: ".BTF" });
  const out: MapDraft[] = [];
  ds.vars.forEach((vi, i) => {
    const name = vi.name;
    const where = { section: sec.label };
    if (name === "") throw new LoadError(`map #${i}: empty name`, where);
    if (vi.offset + vi.size > sec.size) throw new LoadError(`map '${name}': BTF data is corrupted`, where);
    const v = btf.type(vi.type);
    if (v.kind !== "var") throw new LoadError(`map '${name}': unexpected var kind ${v.kind}`, where);
    if (vi.linkage !== "global") throw new LoadError(`map '${name}': unsupported map linkage ${vi.linkage}`, where);
    const def = btf.resolve(v.type);
    if (def.kind !== "struct") throw new LoadError(`map '${name}': unexpected def kind ${def.kind}`, where);
    if (def.size > vi.size) throw new LoadError(`map '${name}': invalid def size`, where);
    const parsed = parseBtfMapDef(btf, name, def.id, false);
    const m = draft({ name, origin: "btf", secIdx: sec.index, secOffset: vi.offset, varIndex: i });
    fillFromDef(m, parsed, pageSize);
    if (parsed.inner !== null) {
      const inner = draft({ name: `${name}.inner`, origin: "btf", secIdx: sec.index, secOffset: -1, varIndex: -1 });
      fillFromDef(inner, parsed.inner, pageSize);
      m.inner = inner;
    }
    out.push(m);
  });
  return out;
}

/** libbpf's `map_is_mmapable`: the value is a DATASEC with a variable that is not static. */
function mmapable(datasecs: ReadonlyMap<number, Datasec>, valueTypeId: number): boolean {
  const ds = datasecs.get(valueTypeId);
  return ds?.vars.some((v) => v.linkage !== "static") ?? false;
}

/** libbpf's `bpf_object__init_internal_map` for one global-data section (or `.kconfig`). */
function internalMap(
  btf: Btf | null,
  datasecs: ReadonlyMap<number, Datasec>,
  origin: "data" | "rodata" | "bss" | "kconfig",
  name: string,
  secIdx: number,
  data: Uint8Array,
): MapDraft {
  const m = draft({ name, origin, secIdx, secOffset: 0, varIndex: -1 });
  m.type = BPF_MAP_TYPE_ARRAY;
  m.keySize = 4;
  m.valueSize = data.length;
  m.maxEntries = 1;
  m.flags = origin === "rodata" || origin === "kconfig" ? BPF_F_RDONLY_PROG : 0;
  m.section = name;
  m.data = data;
  const t = btf?.findByName(name);
  if (t !== undefined) m.btfValueTypeId = t.id;
  if (mmapable(datasecs, m.btfValueTypeId)) m.flags |= BPF_F_MMAPABLE;
  return m;
}

/** The object's maps in libbpf's order (see the module comment). */
export function collectMaps(
  state: Omit<ObjectState, "btf">,
  btf: Btf | null,
  datasecs: ReadonlyMap<number, Datasec>,
  externs: readonly Extern[],
  pageSize: number,
): MapDraft[] {
  const maps = [...legacyMaps(state), ...btfMaps(state, btf, datasecs, pageSize)];
  for (const [index, { kind, section }] of state.dataSections) {
    if (section.size === 0) continue;
    const data = kind === "bss" ? new Uint8Array(section.size) : section.data().slice();
    maps.push(internalMap(btf, datasecs, kind, section.name, index, data));
  }
  const kcfg = kconfigSize(externs);
  if (kcfg > 0) maps.push(internalMap(btf, datasecs, "kconfig", ".kconfig", -1, new Uint8Array(kcfg)));
  for (const m of maps) {
    if (NO_BTF_TYPES.has(m.type)) {
      m.btfKeyTypeId = 0;
      m.btfValueTypeId = 0;
    }
  }
  return maps;
}

/** The slot key bytes (a u32 in the object's byte order). */
function slotKey(slot: number, bigEndian: boolean): Uint8Array {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, slot, !bigEndian);
  return key;
}

/**
 * libbpf's `bpf_object__collect_map_relos`: the `.rel.maps` entries that put programs into a
 * prog_array's slots and maps into a map-in-map's, recorded on the maps as initial contents.
 */
export function collectMapSlots(state: ObjectState, maps: MapDraft[], datasecs: ReadonlyMap<number, Datasec>): void {
  const btf = state.btf;
  const elf: ElfFile = state.elf;
  for (const rel of state.relSections) {
    if (rel.info !== state.btfMapsShndx) continue;
    const where = { section: rel.label };
    const ds = datasecByName(datasecs, ".maps");
    if (btf === null || ds === undefined) throw new LoadError(".rel.maps without BTF for .maps", where);
    elf.relocations(rel).forEach((r, i) => {
      if (r.kind !== "rel") return;
      const sym = r.symbol;
      const fail = (message: string): never => {
        throw new LoadError(`.maps relocation #${i} against '${sym.name}': ${message}`, where);
      };
      if (r.type !== R_BPF_64_ABS64 && r.type !== R_BPF_64_64) fail(`relocation type ${r.type} is not a pointer`);
      const map = maps.find((m) => {
        if (m.origin !== "btf" || m.secIdx !== state.btfMapsShndx || m.varIndex < 0) return false;
        const vi = ds.vars[m.varIndex];
        return vi.offset <= r.offset && r.offset + BPF_PTR_SIZE <= vi.offset + vi.size;
      });
      if (map === undefined) fail(`no map at offset ${r.offset}`);
      const m = map as MapDraft;
      let content: { kind: "map"; map: string } | { kind: "program"; program: string };
      if (isMapInMap(m.type)) {
        if (sym.shndx !== state.btfMapsShndx) fail("not a BTF-defined map");
        if (m.type === BPF_MAP_TYPE_HASH_OF_MAPS && m.keySize !== 4)
          fail(`hash-of-maps '${m.name}' should have key size 4`);
        if (!maps.some((t) => t.name === sym.name)) fail("not a valid map reference");
        content = { kind: "map", map: sym.name };
      } else if (m.type === BPF_MAP_TYPE_PROG_ARRAY) {
        const prog = state.programs.find((p) => !isSubprog(state, p) && p.name === sym.name);
        if (prog === undefined) fail("not a valid program reference");
        const p = prog as NonNullable<typeof prog>;
        if (p.secIdx !== sym.shndx || p.insnOff * 8 !== sym.value) {
          fail("not an entry-point program");
        }
        content = { kind: "program", program: sym.name };
      } else {
        fail(`map '${m.name}' is neither a prog_array nor a map-in-map`);
      }
      const vi = ds.vars[m.varIndex];
      const def = btf.resolve(
        btf.type(vi.type).kind === "var" ? (btf.type(vi.type) as { type: number }).type : vi.type,
      );
      if (def.kind !== "struct" || def.members.length === 0) fail("map definition has no members");
      const members = (def as { members: readonly BtfMember[] }).members;
      const last = members[members.length - 1];
      if (last.name !== "values") fail("the last member of the definition is not 'values'");
      const moff = Math.floor(last.bitOffset / 8);
      if (r.offset - vi.offset < moff) fail("points before 'values'");
      const byteOff = r.offset - vi.offset - moff;
      if (byteOff % BPF_PTR_SIZE !== 0) fail("is not aligned to a pointer slot");
      const slot = byteOff / BPF_PTR_SIZE;
      m.slots.set(slot, { ...content!, key: slotKey(slot, state.bigEndian) });
    });
  }
}
