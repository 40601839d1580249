/**
 * The loader against libbpf and the kernel, the independent truth.
 *
 * test/fixtures/object/libbpf.json.golden holds, per fixture, what the system libbpf passed to
 * BPF_PROG_LOAD/BPF_MAP_CREATE/BPF_MAP_UPDATE_ELEM when loading it (instructions with map and
 * kernel references turned back into indexes and names, func_info, line_info, map attributes,
 * initial values), and what `bpftool prog loadall` + `prog show`/`dump xlated`/`map show`
 * report once the kernel holds the programs. It is written by record-libbpf.mjs; these tests
 * compare the loader's ObjectSpec with it, and, when running as root with gcc, libbpf-dev and
 * bpftool, record everything again and compare with the fresh recording too.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  BPF_F_MMAPABLE,
  internalMapName,
  MAP_TYPE_NAMES,
  type MapSpec,
  type ObjectSpec,
  PROG_TYPE_NAMES,
  type ProgramSpec,
} from "../../src/object/index.ts";
import { hex, insnTuples, loadFixture, OBJECT_FIXTURES } from "./helpers.ts";

// ---- the recording's shape (see oracle/libbpf_oracle.c and record-libbpf.mjs)
interface MapCreate {
  kernelName: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  mapExtra: string;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  inner: MapCreate | null;
}
interface LibbpfMap {
  name: string;
  create: MapCreate | null;
  updates: { key: string; value?: string; program?: string; map?: string }[];
}
type OracleInsn = [number, number, number, number, number] | [number, number, number, number, number, string];
interface LibbpfProgram {
  name: string;
  section: string;
  autoload: boolean;
  type: number;
  expectedAttachType: number;
  load: {
    err: number;
    progType: number;
    expectedAttachType: number;
    progFlags: number;
    kernVersion: number;
    license: string;
    kernelName: string;
    attachBtfTarget: string;
    insns: OracleInsn[];
    funcInfo: { insn: number; typeId: number; name: string; linkage: number }[];
    lineInfo: { insn: number; file: string; line: number; column: number; text: string }[];
  } | null;
}
interface LibbpfRecord {
  error?: string;
  version: string;
  maps: LibbpfMap[];
  programs: LibbpfProgram[];
}
interface BpftoolRecord {
  error?: string;
  programs: {
    name: string;
    type: string;
    bytesXlated: number;
    gplCompatible: boolean;
    mapNames: string[];
    xlated: { code: number; disasm: string; proto?: string; line?: number; column?: number }[];
  }[];
  maps: { name: string; type: string; flags: number; keySize: number; valueSize: number; maxEntries: number }[];
}
interface Recording {
  fixtures: Record<string, { libbpf: LibbpfRecord; bpftool?: BpftoolRecord }>;
}

/** What was compared, for the summary. */
interface Tally {
  programs: number;
  insns: number;
  funcInfo: number;
  lineInfo: number;
  maps: number;
  mapValues: number;
  bpftoolPrograms: number;
  xlatedIdentical: number;
  xlatedLines: number;
  bpftoolMaps: number;
}

function newTally(): Tally {
  return {
    programs: 0,
    insns: 0,
    funcInfo: 0,
    lineInfo: 0,
    maps: 0,
    mapValues: 0,
    bpftoolPrograms: 0,
    xlatedIdentical: 0,
    xlatedLines: 0,
    bpftoolMaps: 0,
  };
}

const LINKAGE = { static: 0, global: 1, extern: 2 } as const;

/** A global-data map's name as libbpf's `bpf_map__name` reports it (custom .data.* / .rodata.* keep theirs). */
function libbpfMapName(spec: ObjectSpec, m: MapSpec): string {
  if (m.section === "") return m.name;
  if (/^\.(data|rodata)\./.test(m.section)) return m.section;
  return internalMapName(spec.name, m.section);
}

/** The name the kernel holds for a map. */
function kernelMapName(spec: ObjectSpec, m: MapSpec): string {
  return m.section === "" ? m.name.slice(0, 15) : internalMapName(spec.name, m.section);
}

/** Our slots in the oracle's spelling: kernel references replaced by names, their ids by 0. */
function normalized(spec: ObjectSpec, p: ProgramSpec): OracleInsn[] {
  const out: OracleInsn[] = insnTuples(p.insns);
  for (let i = 0; i < out.length; i++) {
    const [code, , src, , imm] = out[i];
    if (code === 0x85 && src === 2) out[i] = [...out[i].slice(0, 4), 0, p.kfuncs.get(imm) ?? "?"] as OracleInsn;
    else if (code === 0x18 && (src === 5 || src === 6)) {
      const m = spec.maps[imm];
      out[i] = [...out[i], m === undefined ? "?" : libbpfMapName(spec, m)] as OracleInsn;
    } else if (code === 0x18 && src === 3) {
      out[i] = [...out[i].slice(0, 4), 0, spec.ksyms[imm] ?? "?"] as OracleInsn;
      out[i + 1] = [...out[i + 1].slice(0, 4), 0] as OracleInsn;
    }
  }
  return out;
}

/** The BTF target name libbpf resolves for an attach-by-BTF program (`btf_get_kernel_prefix_kind`). */
function attachBtfTarget(p: ProgramSpec): string {
  switch (p.expectedAttachType) {
    case 23: // BPF_TRACE_RAW_TP
      return `btf_trace_${p.attachTo}`;
    case 27: // BPF_LSM_MAC
    case 43: // BPF_LSM_CGROUP
      return `bpf_lsm_${p.attachTo}`;
    case 28: // BPF_TRACE_ITER
      return `bpf_iter_${p.attachTo}`;
    default:
      return p.attachTo;
  }
}

function compareMapCreate(spec: ObjectSpec, m: MapSpec, c: MapCreate, kernelName: string, what: string): void {
  assert.equal(c.kernelName, kernelName, `${what}: kernel name`);
  assert.deepEqual(
    {
      type: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      numaNode: m.numaNode ?? 0,
      mapExtra: m.mapExtra.toString(),
      btfKeyTypeId: m.btfKeyTypeId,
      btfValueTypeId: m.btfValueTypeId,
    },
    {
      type: c.type,
      keySize: c.keySize,
      valueSize: c.valueSize,
      maxEntries: c.maxEntries,
      flags: c.flags,
      numaNode: c.numaNode,
      mapExtra: c.mapExtra,
      btfKeyTypeId: c.btfKeyTypeId,
      btfValueTypeId: c.btfValueTypeId,
    },
    `${what}: BPF_MAP_CREATE attributes`,
  );
  assert.equal(m.innerMap === null, c.inner === null, `${what}: inner map template`);
  if (m.innerMap !== null && c.inner !== null) {
    compareMapCreate(spec, m.innerMap, c.inner, m.innerMap.name.slice(0, 15), `${what} inner`);
  }
}

/** Asserts that `spec` is what libbpf made of the fixture; returns what was compared. */
function compareWithLibbpf(name: string, spec: ObjectSpec, rec: LibbpfRecord, tally: Tally): void {
  assert.equal(rec.error, undefined, `${name}: the recording failed: ${rec.error}`);
  // maps, in libbpf's order (instructions refer to them by index)
  assert.deepEqual(
    spec.maps.map((m) => libbpfMapName(spec, m)),
    rec.maps.map((m) => m.name),
    `${name}: maps`,
  );
  spec.maps.forEach((m, i) => {
    const r = rec.maps[i];
    const what = `${name}: map '${m.name}'`;
    assert.ok(r.create !== null, `${what}: libbpf created it`);
    compareMapCreate(spec, m, r.create, kernelMapName(spec, m), what);
    tally.maps++;
    if (m.section !== "") {
      assert.equal(r.updates.length, 1, `${what}: one initial value`);
      const bytes = m.contents[0];
      assert.ok(bytes?.kind === "bytes", `${what}: initial value`);
      assert.equal(hex(bytes.key), r.updates[0].key, `${what}: key`);
      if (m.section === ".kconfig") {
        // libbpf fills in this kernel's values; the spec leaves them to the runtime
        assert.equal(bytes.value.length * 2, r.updates[0].value?.length, `${what}: value size`);
      } else {
        assert.equal(hex(bytes.value), r.updates[0].value, `${what}: value`);
      }
      tally.mapValues++;
    } else {
      const ours = m.contents.map((c) => ({
        key: hex(c.key),
        ...(c.kind === "program"
          ? { program: c.program }
          : c.kind === "map"
            ? { map: c.map }
            : { value: hex(c.value) }),
      }));
      assert.deepEqual(ours, r.updates, `${what}: initial slots`);
      tally.mapValues += ours.length;
    }
  });

  assert.deepEqual(
    spec.programs.map((p) => p.name),
    rec.programs.map((p) => p.name),
    `${name}: programs`,
  );
  spec.programs.forEach((p, i) => {
    const r = rec.programs[i];
    const what = `${name}: program '${p.name}'`;
    assert.deepEqual(
      [p.section, p.autoload, p.type, p.expectedAttachType],
      [r.section, r.autoload, r.type, r.expectedAttachType],
      `${what}: section, autoload, type, expected attach type`,
    );
    tally.programs++;
    if (r.load === null) {
      assert.equal(p.autoload, false, `${what}: libbpf skipped loading it, so it must be a '?' program`);
      return;
    }
    const l = r.load;
    assert.deepEqual(
      [p.type, p.expectedAttachType, p.flags, p.license, p.name.slice(0, 15)],
      [l.progType, l.expectedAttachType, l.progFlags, l.license, l.kernelName],
      `${what}: BPF_PROG_LOAD type, attach type, flags, license, name`,
    );
    if (p.kernelVersion !== 0) assert.equal(p.kernelVersion, l.kernVersion, `${what}: kern_version`);
    if (l.attachBtfTarget !== "") assert.equal(attachBtfTarget(p), l.attachBtfTarget, `${what}: attach target`);
    const ours = normalized(spec, p);
    assert.equal(ours.length, l.insns.length, `${what}: instruction count`);
    for (let pc = 0; pc < ours.length; pc++) {
      assert.deepEqual(ours[pc], l.insns[pc], `${what}: insn ${pc}`);
    }
    tally.insns += ours.length;
    if (l.funcInfo.length === 0) {
      // no BTF: libbpf sends no func_info; the spec's functions carry no BTF either
      assert.ok(
        p.functions.every((f) => f.btfTypeId === 0 && f.linkage === "static"),
        `${what}: functions without BTF`,
      );
    } else {
      assert.deepEqual(
        p.functions.map((f) => ({ insn: f.start, typeId: f.btfTypeId, name: f.name, linkage: LINKAGE[f.linkage] })),
        l.funcInfo,
        `${what}: func_info`,
      );
    }
    tally.funcInfo += l.funcInfo.length;
    assert.deepEqual(p.lineInfo, l.lineInfo, `${what}: line_info`);
    tally.lineInfo += l.lineInfo.length;
  });
}

/** True when `sub` appears in `seq` in order (not necessarily contiguously). */
function isSubsequence<T>(sub: readonly T[], seq: readonly T[], eq: (a: T, b: T) => boolean): boolean {
  let j = 0;
  for (const x of seq) if (j < sub.length && eq(sub[j], x)) j++;
  return j === sub.length;
}

/** Asserts that what the kernel holds after `bpftool prog loadall` agrees with `spec`. */
function compareWithBpftool(name: string, spec: ObjectSpec, rec: BpftoolRecord, tally: Tally): void {
  assert.equal(rec.error, undefined, `${name}: bpftool failed: ${rec.error}`);
  assert.deepEqual(
    rec.programs.map((p) => p.name).sort(),
    spec.programs.map((p) => p.name.slice(0, 15)).sort(),
    `${name}: bpftool programs`,
  );
  for (const b of rec.programs) {
    const p = spec.programs.find((x) => x.name.slice(0, 15) === b.name) as ProgramSpec;
    const what = `${name}: bpftool program '${b.name}'`;
    assert.equal(b.type, PROG_TYPE_NAMES[p.type], `${what}: type`);
    // bpftool prints an ld_imm64 once; give its second slot back
    const slots = b.xlated.flatMap((x) => (x.code === 0x18 ? [x, { code: 0, disasm: "" }] : [x]));
    assert.equal(b.bytesXlated, slots.length * 8, `${what}: xlated size`);
    const protos = b.xlated.filter((x) => x.proto !== undefined).map((x) => x.proto as string);
    const withBtf = p.functions.some((f) => f.btfTypeId !== 0);
    assert.equal(protos.length, withBtf ? p.functions.length : 0, `${what}: functions (func_info)`);
    protos.forEach((proto, i) => {
      assert.ok(proto.includes(` ${p.functions[i].name}(`), `${what}: function ${i} ${proto}`);
    });
    const lines = b.xlated.filter((x) => x.line !== undefined).map((x) => [x.line, x.column]);
    const ourLines = p.lineInfo.map((li) => [li.line, li.column]);
    assert.ok(
      isSubsequence(lines, ourLines, (a, c) => a[0] === c[0] && a[1] === c[1]),
      `${what}: the kernel's line_info is not a subsequence of ours`,
    );
    tally.xlatedLines += lines.length;
    if (slots.length === p.insns.length) {
      // the verifier changed nothing: same opcodes, line info at the same slots
      assert.deepEqual(
        slots.map((x) => x.code),
        Array.from(p.insns.code),
        `${what}: xlated opcodes`,
      );
      const at = slots.flatMap((x, i) => ("line" in x && x.line !== undefined ? [i] : []));
      assert.deepEqual(
        at,
        p.lineInfo.map((li) => li.insn),
        `${what}: line_info slots`,
      );
      tally.xlatedIdentical++;
    }
    // libbpf binds every .rodata map to every program it loads (bpf_prog_bind_map)
    const used = new Set(p.maps.map((i) => kernelMapName(spec, spec.maps[i])));
    for (const m of spec.maps) if (m.section.startsWith(".rodata")) used.add(kernelMapName(spec, m));
    assert.deepEqual(b.mapNames, [...used].sort(), `${what}: maps`);
    tally.bpftoolPrograms++;
  }
  for (const bm of rec.maps) {
    const m = spec.maps.find((x) => kernelMapName(spec, x) === bm.name);
    const what = `${name}: bpftool map '${bm.name}'`;
    assert.ok(m !== undefined, `${what}: not in the spec`);
    // bpftool 7.1 bundles a libbpf older than the one that sets BPF_F_MMAPABLE only for maps
    // with globals visible to user space (map_is_mmapable); compare the other flags
    assert.deepEqual(
      [bm.type, bm.keySize, bm.valueSize, bm.maxEntries, bm.flags & ~BPF_F_MMAPABLE],
      [MAP_TYPE_NAMES[m.type], m.keySize, m.valueSize, m.maxEntries, m.flags & ~BPF_F_MMAPABLE],
      `${what}: type, sizes, flags`,
    );
    tally.bpftoolMaps++;
  }
}

function compareRecording(recording: Recording, label: string): Tally {
  const tally = newTally();
  for (const [name, f] of Object.entries(recording.fixtures)) {
    const spec = loadFixture(name);
    compareWithLibbpf(name, spec, f.libbpf, tally);
    if (f.bpftool !== undefined) compareWithBpftool(name, spec, f.bpftool, tally);
  }
  console.log(
    `${label}: ${tally.programs} programs (${tally.insns} insns, ${tally.funcInfo} func_info, ${tally.lineInfo} line_info records), ` +
      `${tally.maps} maps (${tally.mapValues} initial values) equal libbpf's; bpftool: ${tally.bpftoolPrograms} programs ` +
      `(${tally.xlatedIdentical} xlated identical, ${tally.xlatedLines} line_info checked), ${tally.bpftoolMaps} maps`,
  );
  return tally;
}

const golden: Recording = JSON.parse(readFileSync(join(OBJECT_FIXTURES, "libbpf.json.golden"), "utf8"));

test("the loader agrees with the recorded libbpf and kernel (libbpf.json.golden)", () => {
  const t = compareRecording(golden, "recorded");
  assert.ok(
    t.programs >= 50 && t.insns >= 300 && t.maps >= 20 && t.bpftoolPrograms >= 9,
    "the recording covers less than expected",
  );
});

/** Why a live recording cannot run here, or false. */
function liveSkipReason(): string | false {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root");
  for (const tool of ["gcc", "bpftool"]) if (spawnSync(tool, ["--version"]).status !== 0) missing.push(tool);
  if (spawnSync("sh", ["-c", "test -e /usr/include/bpf/libbpf.h"]).status !== 0) missing.push("libbpf-dev");
  if (missing.length === 0) return false;
  const reason = `live libbpf/kernel comparison SKIPPED: needs ${missing.join(", ")}`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

test("the loader agrees with libbpf and the kernel, recorded now", { skip: liveSkipReason() }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-libbpf-"));
  try {
    const out = join(dir, "recording.json");
    const r = spawnSync(process.execPath, [join(OBJECT_FIXTURES, "record-libbpf.mjs"), "--out", out], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `record-libbpf.mjs failed: ${r.stderr}`);
    compareRecording(JSON.parse(readFileSync(out, "utf8")), "live");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
