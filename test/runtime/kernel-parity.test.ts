// The acceptance test of the runtime: every case of test/fixtures/progs/cases.json, replayed on
// tsbpf (loader → runtime object → interpreter → BPF_PROG_TEST_RUN) and compared with what the
// real kernel did (expected.json, recorded with bpftool): the return value or the error, data_out,
// ctx_out and the listed maps after the run. Objects are opened as the runtime opens them, CO-RE
// relocated against the bundled kernel BTF (as libbpf relocated them against the kernel's).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Interpreter } from "../../src/interp/index.ts";
import {
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_PROG_ARRAY,
} from "../../src/object/uapi.ts";
import type { EngineFactory } from "../../src/runtime/engine.ts";
import { EINVAL, ENODEV, ENOSPC, ENOTSUPP, errnoName } from "../../src/runtime/errno.ts";
import { ArrayMap, type BpfMap, FdArrayMap, QueueStackMap } from "../../src/runtime/maps/index.ts";
import { BpfObject, BpfProgram, openObjectSpec, parseHex, toHex } from "../../src/runtime/object.ts";
import { TestRunError } from "../../src/runtime/test-run.ts";

const DIR = join(import.meta.dirname, "../fixtures/progs");

interface SetEntry {
  map: string;
  key?: string;
  value?: string;
  delete?: boolean;
}

interface Case {
  name: string;
  object: string;
  prog: string;
  data_in: string;
  ctx_in?: string;
  repeat?: number;
  set?: SetEntry[];
  dump_maps?: string[];
}

type MapDump =
  | { type: string; entries: { key: string; value?: string; values?: string[] }[] }
  | { type: string; popped: string[] };

interface Expected {
  name: string;
  retval?: number;
  data_out?: string;
  ctx_out?: string;
  error?: string;
  maps?: Record<string, MapDump>;
}

const engine: EngineFactory = (program, options) => new Interpreter(program, options);

/** The errno behind bpftool's "failed to run program: <strerror>". */
const ERRNO_TEXT: Record<string, number> = {
  "Invalid argument": EINVAL,
  "No such device": ENODEV,
  "No space left on device": ENOSPC,
  "Unknown error 524": ENOTSUPP,
};

/** A map dump in expected.json's normalised form. */
function dumpMap(obj: BpfObject, map: BpfMap): MapDump {
  if (map instanceof QueueStackMap) {
    const popped: string[] = [];
    for (;;) {
      const v = map.lookupAndDelete(null);
      if (v === null) break;
      popped.push(toHex(v));
    }
    return { type: map.typeName, popped };
  }
  const refName = (v: Uint8Array) => {
    const id = new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
    if (map instanceof FdArrayMap && map.innerMeta === null) {
      return `@${obj.programs.find((p) => p.id === id)?.name ?? `prog#${id}`}`;
    }
    return `@${[...obj.maps].find((m) => m.id === id)?.name ?? `map#${id}`}`;
  };
  const isRef =
    map.type === BPF_MAP_TYPE_PROG_ARRAY ||
    map.type === BPF_MAP_TYPE_ARRAY_OF_MAPS ||
    map.type === BPF_MAP_TYPE_HASH_OF_MAPS;
  const percpu = map.userValueSize !== map.valueSize;
  const stride = (map.valueSize + 7) & ~7;
  let entries = map.entries().map((e) => {
    const key = toHex(e.key);
    if (isRef) return { key, value: refName(e.value) };
    if (!percpu) return { key, value: toHex(e.value) };
    const values: string[] = [];
    for (let cpu = 0; cpu < map.nrCpus; cpu++)
      values.push(toHex(e.value.subarray(cpu * stride, cpu * stride + map.valueSize)));
    return { key, values };
  });
  if (!(map instanceof ArrayMap) && !(map instanceof FdArrayMap)) {
    entries = entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
  return { type: map.typeName, entries };
}

/** Runs one case on tsbpf and returns it in expected.json's shape. */
function replay(c: Case): Expected {
  const bytes = new Uint8Array(readFileSync(join(DIR, c.object)));
  const spec = openObjectSpec(bytes, { fileName: c.object });
  const obj = BpfObject.load(spec, { engine, host: { nrCpus: 2, cpu: 0, seed: 1 } });
  for (const s of c.set ?? []) {
    if (s.delete) obj.deleteMapEntry(s.map, s.key ?? null);
    else obj.setMapEntry(s.map, s.key ?? null, s.value ?? "");
  }
  const out: Expected = { name: c.name };
  try {
    const r = obj.testRun(c.prog, {
      dataIn: parseHex(c.data_in, "data_in"),
      ctxIn: c.ctx_in === undefined ? undefined : parseHex(c.ctx_in, "ctx_in"),
      repeat: c.repeat,
    });
    out.retval = r.retval;
    out.data_out = toHex(r.dataOut);
    if (r.ctxOut !== null) out.ctx_out = toHex(r.ctxOut);
  } catch (e) {
    if (!(e instanceof TestRunError)) throw e;
    out.error = errnoName(e.errno);
  }
  if (c.dump_maps !== undefined) {
    out.maps = {};
    for (const name of c.dump_maps) out.maps[name] = dumpMap(obj, obj.map(name));
  }
  return out;
}

const haveFixtures = existsSync(join(DIR, "cases.json")) && existsSync(join(DIR, "expected.json"));

describe("kernel parity (test/fixtures/progs)", { skip: haveFixtures ? false : "fixtures not recorded yet" }, () => {
  if (!haveFixtures) return;
  const cases: Case[] = JSON.parse(readFileSync(join(DIR, "cases.json"), "utf8"));
  const expected = new Map<string, Expected>(
    (JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")).cases as Expected[]).map((e) => [e.name, e]),
  );

  test("every case has a kernel recording", () => {
    assert.deepEqual(
      cases.map((c) => c.name).filter((n) => !expected.has(n)),
      [],
    );
  });

  for (const c of cases) {
    test(c.name, () => {
      const want = expected.get(c.name);
      assert.ok(want !== undefined, "no recording");
      const got = replay(c);
      if (want.error !== undefined) {
        const errno = Object.entries(ERRNO_TEXT).find(([text]) => want.error?.endsWith(text))?.[1];
        assert.ok(errno !== undefined, `unknown error text ${want.error}`);
        assert.equal(got.error, errnoName(errno), `kernel: ${want.error}; tsbpf: retval ${got.retval}`);
      } else {
        assert.equal(got.error, undefined, `tsbpf failed with ${got.error}`);
        assert.equal(got.retval, want.retval, "retval");
        assert.equal(got.data_out, want.data_out, "data_out");
        assert.equal(got.ctx_out, want.ctx_out, "ctx_out");
      }
      if (want.maps !== undefined) assert.deepEqual(got.maps, want.maps, "maps");
    });
  }
});

// Keeps the import used when the fixtures are missing.
void BpfProgram;
