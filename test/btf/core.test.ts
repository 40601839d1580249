/**
 * CO-RE relocation against what libbpf and the kernel did with the same object.
 *
 * record-core.sh loaded test/fixtures/btf/core.o with bpftool on a real kernel and recorded, in
 * core.kernel.json.golden, libbpf's decision for every relocation (its spec strings, the
 * instruction it patched and the new value, or poisoning) and the kernel's xlated programs.
 * tsbpf relocates the same object:
 *   - against core.min.btf (`bpftool gen min_core_btf` of that kernel): always, anywhere;
 *   - against /sys/kernel/btf/vmlinux when it is the recorded kernel's: also the target spec
 *     strings, type ids and all, must equal libbpf's;
 *   - live, when root with bpftool: the recording is redone and compared the same way.
 * The patched instructions must also appear, in order, in the kernel's xlated program (the
 * verifier removes dead branches; a relocation missing there must be the twin of a present one),
 * and the kernel's line info must be ours. Synthetic BTF then covers what a kernel cannot show:
 * ambiguity, candidate pruning, flavors, store instructions, size changes, malformed specs.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_FIELD_SIGNED,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_LOCAL,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  type Btf,
  CORE_POISON_IMM,
  type CoreRelo,
  CoreRelocator,
  type CoreReloKind,
  type CoreResult,
  essentialName,
  parseBtf,
  resolveCoreRelocation,
} from "../../src/btf/index.ts";
import { BtfError } from "../../src/errors.ts";
import { type DecodedProgram, decodeProgram, type Insn, programFromInsns } from "../../src/isa/insn.ts";
import { BtfWriter } from "./encode.ts";
import {
  BTF_FIXTURES,
  fixtureBytes,
  isRoot,
  loadObject,
  missing,
  missingVmlinux,
  skipLoudly,
  VMLINUX,
} from "./helpers.ts";

/** The recorded document (see record-core.mjs). */
interface KernelDoc {
  readonly kernel: string;
  readonly vmlinux: { readonly sha256: string };
  readonly object: { readonly sha256: string };
  readonly programs: readonly {
    readonly name: string;
    readonly section: string;
    readonly relocations: readonly {
      readonly relo: number;
      readonly local: string;
      readonly targets: readonly string[];
      readonly patches: readonly { insn: number; form: string; field: string; from: string; to: string }[];
      readonly poisoned: readonly number[];
    }[];
    readonly xlated: readonly {
      code: number;
      dst: number;
      src: number;
      off: number;
      imm: number;
      imm2?: number;
      disasm: string;
      line?: number;
      column?: number;
      text?: string;
    }[];
  }[];
}

const GOLDEN = join(BTF_FIXTURES, "core.kernel.json.golden");
const golden: KernelDoc = JSON.parse(readFileSync(GOLDEN, "utf8"));
const object = loadObject("core.o");

/** Relocates every program of core.o in .BTF.ext order with one relocator, as libbpf does. */
function relocateAll(target: Btf): Map<string, { insns: DecodedProgram; orig: DecodedProgram; results: CoreResult[] }> {
  const relocator = new CoreRelocator(object.btf, target);
  const out = new Map<string, { insns: DecodedProgram; orig: DecodedProgram; results: CoreResult[] }>();
  for (const [name, sec] of object.ext.sections) {
    if (sec.coreRelos.length === 0) continue;
    const code = object.elf.sectionByName(name)!.data();
    const insns = decodeProgram(code);
    const results = relocator.apply(insns, sec.coreRelos);
    out.set(name, { insns, orig: decodeProgram(code), results });
  }
  return out;
}

const SIZE_BYTES: Readonly<Record<number, number>> = { 0: 4, 8: 2, 16: 1, 24: 8 };

/** Counts of what a comparison covered. */
interface Counts {
  relocations: number;
  patched: number;
  poisoned: number;
  specs: number;
  xlated: number;
  xlatedTwins: number;
  lines: number;
}

/**
 * Compares tsbpf's relocation of core.o against a recorded document. `exact`: the target is the
 * recorded kernel's own vmlinux BTF, so target specs and type ids must match too.
 */
function compareWith(doc: KernelDoc, target: Btf, exact: boolean): Counts {
  const counts: Counts = { relocations: 0, patched: 0, poisoned: 0, specs: 0, xlated: 0, xlatedTwins: 0, lines: 0 };
  const ours = relocateAll(target);
  for (const prog of doc.programs) {
    const mine = ours.get(prog.section);
    assert.ok(mine, `${prog.section}: tsbpf relocated it`);
    const { insns, orig, results } = mine;
    assert.equal(results.length, prog.relocations.length, `${prog.section}: relocation count`);
    for (const g of prog.relocations) {
      const r = results[g.relo];
      const where = `${prog.name} relo #${g.relo} ${g.local}`;
      counts.relocations++;
      assert.equal(r.localSpec, g.local, `${where}: local spec`);
      if (exact) {
        const targetSpec = r.kind === "value" ? r.targetSpec : undefined;
        assert.equal(targetSpec, g.targets[0], `${where}: target spec`);
        counts.specs++;
      }
      if (g.poisoned.length > 0) {
        counts.poisoned++;
        assert.equal(g.patches.length, 0);
        for (const pc of g.poisoned) {
          assert.deepEqual([insns.code[pc], insns.imm[pc]], [0x85, CORE_POISON_IMM], `${where}: insn ${pc} poisoned`);
        }
        continue;
      }
      assert.equal(r.kind, "value", `${where}: not poisoned`);
      assert.ok(g.patches.length > 0, `${where}: libbpf patched it`);
      counts.patched++;
      const typeId = r.relo.kind === BPF_CORE_TYPE_ID_TARGET;
      for (const p of g.patches) {
        assert.equal(p.insn, r.relo.insn, `${where}: instruction`);
        const pc = p.insn;
        switch (p.field) {
          case "imm":
            assert.equal(orig.imm[pc] >>> 0, Number(p.from) >>> 0, `${where}: original imm`);
            if (!typeId || exact) assert.equal(insns.imm[pc], Number(BigInt.asIntN(32, BigInt(p.to))), `${where}: imm`);
            break;
          case "imm64": {
            const value = (i: DecodedProgram) => (BigInt(i.imm[pc + 1] >>> 0) << 32n) | BigInt(i.imm[pc] >>> 0);
            assert.equal(value(orig), BigInt(p.from), `${where}: original imm64`);
            if (!typeId || exact) assert.equal(value(insns), BigInt(p.to), `${where}: imm64`);
            break;
          }
          case "off":
            assert.equal(orig.off[pc], Number(p.from), `${where}: original off`);
            assert.equal(insns.off[pc], Number(p.to), `${where}: off`);
            break;
          case "mem_sz":
            assert.equal(SIZE_BYTES[orig.code[pc] & 0x18], Number(p.from), `${where}: original size`);
            assert.equal(SIZE_BYTES[insns.code[pc] & 0x18], Number(p.to), `${where}: size`);
            break;
          default:
            assert.fail(`${where}: unknown patch ${p.field}`);
        }
        if (typeId && !exact) {
          assert.ok(r.kind === "value");
          assert.equal(
            target.type(Number(r.newValue)).name,
            object.btf.type(r.relo.typeId).name,
            `${where}: target type`,
          );
        }
      }
    }
    if (exact) compareXlated(prog, insns, results, counts);
    compareLines(prog, counts);
  }
  return counts;
}

/** Our patched relocated instructions, in order, in the kernel's xlated program. */
function compareXlated(
  prog: KernelDoc["programs"][number],
  insns: DecodedProgram,
  results: CoreResult[],
  counts: Counts,
): void {
  const slots = prog.xlated;
  let pos = 0;
  const found = new Set<CoreResult>();
  const live = results
    .filter((r) => r.kind === "value" && !r.failMemszAdjust)
    .sort((a, b) => a.relo.insn - b.relo.insn);
  for (const r of live) {
    const pc = r.relo.insn;
    const ld = insns.code[pc] === 0x18;
    const at = slots.findIndex(
      (x, i) =>
        i >= pos &&
        x.code === insns.code[pc] &&
        x.dst === insns.dst[pc] &&
        x.src === insns.src[pc] &&
        x.off === insns.off[pc] &&
        x.imm === insns.imm[pc] &&
        (!ld || x.imm2 === insns.imm[pc + 1]),
    );
    if (at >= 0) {
      pos = at + 1;
      found.add(r);
      counts.xlated++;
    }
  }
  // The verifier removes branches that CO-RE constants make dead; the relocations there are the
  // twins (same kind, type and access) of ones on the live path.
  for (const r of live) {
    if (found.has(r)) continue;
    const twin = [...found].some(
      (f) =>
        f.relo.kind === r.relo.kind && f.relo.typeId === r.relo.typeId && f.relo.accessString === r.relo.accessString,
    );
    assert.ok(
      twin,
      `${prog.name}: relocated insn ${r.relo.insn} (${r.localSpec}) is not in the kernel's xlated program`,
    );
    counts.xlatedTwins++;
  }
}

/** The kernel's line info of a program is a subsequence of ours for its section. */
function compareLines(prog: KernelDoc["programs"][number], counts: Counts): void {
  const ours = object.ext.sections.get(prog.section)!.lineInfo;
  let pos = 0;
  for (const x of prog.xlated) {
    if (x.line === undefined) continue;
    const column = x.column ?? 0; // bpftool leaves out a zero line_col
    const at = ours.findIndex((l, i) => i >= pos && l.line === x.line && l.column === column);
    assert.ok(at >= 0, `${prog.name}: kernel line ${x.line}:${x.column} is not in tsbpf's line_info (in order)`);
    assert.equal(ours[at].text.trim(), x.text, `${prog.name}: line ${x.line} text`);
    pos = at;
    counts.lines++;
  }
  const fi = object.ext.sections.get(prog.section)!.funcInfo;
  assert.equal(object.btf.type(fi[0].typeId).name, prog.name);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe("CO-RE vs libbpf and the kernel (recorded)", () => {
  test("the recording is of this core.o", () => {
    assert.equal(golden.object.sha256, sha256(fixtureBytes("core.o")), "re-run record-core.sh after build.sh");
  });

  test("against the recorded kernel's types (core.min.btf)", () => {
    const target = parseBtf(fixtureBytes("core.min.btf"), { section: "core.min.btf" });
    const c = compareWith(golden, target, false);
    console.log(`CO-RE vs libbpf (min BTF of ${golden.kernel}): ${JSON.stringify(c)}`);
    assert.ok(c.relocations >= 60 && c.poisoned >= 2);
  });

  const vmlinuxSkip =
    missingVmlinux("the exact CO-RE comparison against vmlinux") ||
    (sha256(new Uint8Array(readFileSync(VMLINUX))) !== golden.vmlinux.sha256 &&
      skipLoudly(
        `this kernel is not ${golden.kernel}, which core.kernel.json.golden was recorded on: the exact CO-RE comparison is SKIPPED`,
      ));

  test("against the recorded kernel's vmlinux: specs, type ids, xlated code and lines", { skip: vmlinuxSkip }, () => {
    const target = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { section: "vmlinux" });
    const c = compareWith(golden, target, true);
    console.log(`CO-RE vs libbpf and kernel (vmlinux ${golden.kernel}): ${JSON.stringify(c)}`);
    assert.ok(c.xlated >= 50 && c.lines >= 50);
  });

  const liveSkip =
    missingVmlinux("the live CO-RE re-recording") ||
    missing("bpftool", "the live CO-RE re-recording") ||
    (!isRoot() && skipLoudly("not root: the live CO-RE re-recording with bpftool is SKIPPED"));

  test("live: load core.o with bpftool now and compare", { skip: liveSkip, timeout: 120_000 }, async () => {
    const { spawnSync } = await import("node:child_process");
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-core-"));
    try {
      const r = spawnSync(process.execPath, [join(BTF_FIXTURES, "record-core.mjs"), dir], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const live: KernelDoc = JSON.parse(readFileSync(join(dir, "core.kernel.json.golden"), "utf8"));
      const target = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { section: "vmlinux" });
      const c = compareWith(live, target, true);
      console.log(`CO-RE vs libbpf and kernel (live, ${live.kernel}): ${JSON.stringify(c)}`);
      assert.ok(existsSync(join(dir, "core.min.btf")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- synthetic BTF

const ALU64_MOV_K = 0xb7;
const LDX_W = 0x61;
const LDX_DW = 0x79;
const ST_W = 0x62;
const STX_DW = 0x7b;
const LD_IMM64 = 0x18;

const insn = (code: number, imm = 0, off = 0, dst = 1, src = 0): Insn => ({ code, dst, src, off, imm });
const relo = (insnIdx: number, typeId: number, accessString: string, kind: CoreReloKind): CoreRelo => ({
  insn: insnIdx,
  typeId,
  accessString,
  kind,
});

/** Local BTF: struct s { int a; unsigned int b; char c[4]; unsigned long long d; unsigned e:3; int f:5; char tail[]; }. */
function localBtf() {
  const w = new BtfWriter();
  const int = w.int("int", 4, 32, 1);
  const uint = w.int("unsigned int", 4, 32);
  const char = w.int("char", 1, 8, 1);
  const u64 = w.int("unsigned long long", 8, 64);
  const c4 = w.array(char, int, 4);
  const tail = w.array(char, int, 0);
  const s = w.struct("s", 32, [
    ["a", int, 0],
    ["b", uint, 32],
    ["c", c4, 64],
    ["d", u64, 128],
    ["e", uint, 192, 3],
    ["f", int, 195, 5],
    ["tail", tail, 256],
  ]);
  const e = w.enum("e", 4, [
    ["E_ONE", 1],
    ["E_BIG", 0x80000000],
  ]);
  const anon = w.struct("", 4, [["x", int, 0]]);
  const flavored = w.struct("s___mine", 8, [["b", uint, 0]]);
  return { btf: parseBtf(w.bytes()), int, uint, s, e, anon, flavored };
}

describe("CO-RE on synthetic BTF", () => {
  const L = localBtf();

  /** Target: struct s with the members moved, resized and a bitfield elsewhere. */
  function target(extra?: (w: BtfWriter, t: { int: number; uint: number; u32: number }) => void): Btf {
    const w = new BtfWriter();
    const int = w.int("int", 4, 32, 1);
    const uint = w.int("unsigned int", 4, 32);
    const u32 = w.typedef("u32", uint);
    const char = w.int("char", 1, 8, 1);
    const c8 = w.array(char, int, 8);
    const tail = w.array(char, int, 0);
    const inner = w.struct("", 8, [
      ["a", int, 0],
      ["pad", int, 32],
    ]);
    w.struct("s", 48, [
      ["x", int, 0],
      ["", inner, 32],
      ["b", u32, 96],
      ["c", c8, 128],
      ["d", uint, 192],
      ["e", uint, 224, 3],
      ["f", int, 227, 5],
      ["tail", tail, 256],
    ]);
    w.enum("e", 4, [
      ["E_BIG", 0x80000000],
      ["E_ONE", 7],
    ]);
    extra?.(w, { int, uint, u32 });
    return parseBtf(w.bytes());
  }
  const T = target();

  const apply = (insns: Insn[], relos: CoreRelo[], t: Btf = T): DecodedProgram => {
    const p = programFromInsns(insns);
    new CoreRelocator(L.btf, t).apply(p, relos);
    return p;
  };

  test("byte offsets through an anonymous member, arrays and the flavorless name", () => {
    const p = apply(
      [insn(ALU64_MOV_K, 0), insn(ALU64_MOV_K, 4), insn(ALU64_MOV_K, 10), insn(ALU64_MOV_K, 36)],
      [
        relo(0, L.s, "0:0", BPF_CORE_FIELD_BYTE_OFFSET),
        relo(1, L.s, "0:1", BPF_CORE_FIELD_BYTE_OFFSET),
        relo(2, L.s, "0:2:2", BPF_CORE_FIELD_BYTE_OFFSET),
        relo(3, L.s, "1:1", BPF_CORE_FIELD_BYTE_OFFSET),
      ],
    );
    assert.deepEqual([...p.imm], [4, 12, 18, 48 + 12]);
    const r = resolveCoreRelocation(relo(0, L.s, "0:0", 0), L.btf, T);
    assert.ok(r.kind === "value");
    assert.equal(r.targetSpec, `<byte_off> [${T.findByName("s", "struct")!.id}] struct s.a (0:1:0 @ offset 4)`);
    const f = resolveCoreRelocation(relo(0, L.flavored, "0:0", 0), L.btf, T);
    assert.ok(f.kind === "value" && f.newValue === 12n, "s___mine relocates to s");
  });

  test("a flexible array may be indexed past its zero length", () => {
    const p = apply([insn(ALU64_MOV_K, 37)], [relo(0, L.s, "0:6:5", BPF_CORE_FIELD_BYTE_OFFSET)]);
    assert.equal(p.imm[0], 37);
    assert.throws(() => resolveCoreRelocation(relo(0, L.s, "0:2:4", 0), L.btf, T), /array index 4 out of range/);
  });

  test("sizes, signedness, existence; bitfield shifts", () => {
    const kinds: [string, CoreReloKind, number][] = [
      ["0:2", BPF_CORE_FIELD_BYTE_SIZE, 4],
      ["0:3", BPF_CORE_FIELD_BYTE_SIZE, 8],
      ["0:0", BPF_CORE_FIELD_SIGNED, 1],
      ["0:1", BPF_CORE_FIELD_SIGNED, 0],
      ["0:1", BPF_CORE_FIELD_EXISTS, 1],
      ["0:4", BPF_CORE_FIELD_BYTE_OFFSET, 24],
      ["0:4", BPF_CORE_FIELD_BYTE_SIZE, 4],
      ["0:5", BPF_CORE_FIELD_LSHIFT_U64, 59],
      ["0:5", BPF_CORE_FIELD_RSHIFT_U64, 59],
      ["0:5", BPF_CORE_FIELD_SIGNED, 1],
    ];
    const p = apply(
      kinds.map(([, , v]) => insn(ALU64_MOV_K, v)),
      kinds.map(([a, k], i) => relo(i, L.s, a, k)),
    );
    assert.deepEqual([...p.imm], [8, 4, 1, 0, 1, 28, 4, 64 - (227 + 5 - 28 * 8), 59, 1]);
  });

  test("the value in the instruction is checked (except for bitfields)", () => {
    assert.throws(
      () => apply([insn(ALU64_MOV_K, 5)], [relo(0, L.s, "0:1", 0)]),
      /unexpected insn #0 \(ALU\/ALU64\) value: got 5, exp 4 -> 12/,
    );
    // Bitfield offsets are the compiler's choice: not checked.
    assert.equal(apply([insn(ALU64_MOV_K, 99)], [relo(0, L.s, "0:4", 0)]).imm[0], 28);
    assert.throws(() => apply([insn(0xbf, 4)], [relo(0, L.s, "0:1", 0)]), /ALU op on a register/);
    assert.throws(() => apply([insn(0x05, 4)], [relo(0, L.s, "0:1", 0)]), /unrecognized insn #0, code:0x5/);
    assert.throws(() => apply([insn(ALU64_MOV_K, 4)], [relo(1, L.s, "0:1", 0)]), /outside the program/);
  });

  test("loads and stores: offset, and the access size when it changed safely", () => {
    const p = apply(
      [insn(LDX_W, 0, 4), insn(ST_W, 7, 0), insn(STX_DW, 0, 16), insn(LDX_DW, 0, 16)],
      [relo(0, L.s, "0:1", 0), relo(1, L.s, "0:0", 0), relo(2, L.s, "0:3", 0), relo(3, L.s, "0:3", 0)],
    );
    assert.deepEqual([...p.off], [12, 4, 24, 24]);
    assert.deepEqual([...p.code], [LDX_W, ST_W, 0x63, 0x61], "u64 d became a u32 in the target: narrowed");
    assert.throws(
      () => apply([insn(LDX_W, 0, 4)], [relo(0, L.s, "0:3", 0)]),
      /unexpected insn #0 \(LDX\/ST\/STX\) value: got 4/,
    );
    assert.throws(() => apply([insn(LDX_W, 0, 16)], [relo(0, L.s, "0:3", 0)]), /unexpected mem size: got 4, exp 8/);
  });

  test("a size change of a signed field poisons the load", () => {
    const w = new BtfWriter();
    const short = w.int("short", 2, 16, 1);
    w.struct("s", 8, [["a", short, 0]]);
    const p = apply([insn(LDX_W, 0, 0)], [relo(0, L.s, "0:0", 0)], parseBtf(w.bytes()));
    assert.deepEqual([p.code[0], p.imm[0]], [0x85, CORE_POISON_IMM]);
  });

  test("offsets past 32767 cannot be patched into a load", () => {
    const w = new BtfWriter();
    const int = w.int("int", 4, 32, 1);
    w.struct("s", 40000, [["a", int, 8 * 39000]]);
    assert.throws(
      () => apply([insn(LDX_W, 0, 0)], [relo(0, L.s, "0:0", 0)], parseBtf(w.bytes())),
      /value too big: 39000/,
    );
  });

  test("a missing field: existence 0, everything else poisoned (both LD_IMM64 slots)", () => {
    const w = new BtfWriter();
    const int = w.int("int", 4, 32, 1);
    w.struct("s", 4, [["other", int, 0]]);
    const t = parseBtf(w.bytes());
    const p = apply(
      [insn(ALU64_MOV_K, 1), insn(LD_IMM64, 4), insn(0, 0, 0, 0), insn(LDX_W, 0, 4)],
      [
        relo(0, L.s, "0:1", BPF_CORE_FIELD_EXISTS),
        relo(1, L.s, "0:1", BPF_CORE_FIELD_BYTE_OFFSET),
        relo(3, L.s, "0:1", 0),
      ],
      t,
    );
    assert.equal(p.imm[0], 0);
    for (const pc of [1, 2, 3]) assert.deepEqual([p.code[pc], p.imm[pc], p.dst[pc]], [0x85, CORE_POISON_IMM, 0]);
    const r = resolveCoreRelocation(relo(1, L.s, "0:1", 0), L.btf, t);
    assert.equal(r.kind, "poison");
  });

  test("incompatible member types do not match", () => {
    const w = new BtfWriter();
    const int = w.int("int", 4, 32, 1);
    const inner = w.struct("in", 4, [["q", int, 0]]);
    w.struct("s", 8, [["b", inner, 0]]);
    assert.equal(resolveCoreRelocation(relo(0, L.s, "0:1", 0), L.btf, parseBtf(w.bytes())).kind, "poison");
  });

  test("candidates that disagree are an ambiguity; agreeing ones are fine", () => {
    const t = target((w, x) => {
      w.struct("s___v2", 8, [["b", x.uint, 32]]);
    });
    assert.throws(() => resolveCoreRelocation(relo(0, L.s, "0:1", 0), L.btf, t), /field offset ambiguity: 32 != 96/);
    const same = target((w, x) => {
      const inner = w.struct("", 8, [["a", x.int, 0]]);
      w.struct("s___v2", 16, [
        ["x", x.int, 0],
        ["", inner, 32],
        ["b", x.uint, 96],
      ]);
    });
    const r = resolveCoreRelocation(relo(0, L.s, "0:1", 0), L.btf, same);
    assert.ok(r.kind === "value" && r.newValue === 12n);
  });

  test("candidates are pruned to the ones that matched, for later relocations of the type", () => {
    // s___v2 has no "b": relocating b first leaves only s as a candidate, so the later access to
    // "a" (at different offsets in s and s___v2) is not ambiguous — in libbpf's order only.
    const t = target((w, x) => {
      w.struct("s___v2", 16, [["a", x.int, 64]]);
    });
    const rel = new CoreRelocator(L.btf, t);
    const p = programFromInsns([insn(ALU64_MOV_K, 4), insn(ALU64_MOV_K, 0)]);
    rel.apply(p, [relo(0, L.s, "0:1", 0), relo(1, L.s, "0:0", 0)]);
    assert.deepEqual([...p.imm], [12, 4]);
    assert.throws(() => resolveCoreRelocation(relo(1, L.s, "0:0", 0), L.btf, t), /field offset ambiguity/);
  });

  test("type-based relocations", () => {
    const none = target();
    const cases: [CoreReloKind, number, bigint][] = [
      [BPF_CORE_TYPE_EXISTS, L.s, 1n],
      [BPF_CORE_TYPE_SIZE, L.s, 48n],
      [BPF_CORE_TYPE_ID_LOCAL, L.s, BigInt(L.s)],
      [BPF_CORE_TYPE_ID_TARGET, L.s, BigInt(none.findByName("s", "struct")!.id)],
      [BPF_CORE_TYPE_MATCHES, L.flavored, 1n],
    ];
    for (const [kind, id, want] of cases) {
      const r = resolveCoreRelocation(relo(0, id, "0", kind), L.btf, none);
      assert.ok(r.kind === "value", `kind ${kind}`);
      assert.equal(r.newValue, want, `kind ${kind}`);
    }
    assert.throws(() => resolveCoreRelocation(relo(0, L.s, "0:1", BPF_CORE_TYPE_EXISTS), L.btf, none), /is not "0"/);
    assert.throws(() => resolveCoreRelocation(relo(0, L.anon, "0", BPF_CORE_TYPE_EXISTS), L.btf, none), /anonymous/);
    const local = resolveCoreRelocation(relo(0, L.anon, "0", BPF_CORE_TYPE_ID_LOCAL), L.btf, none);
    assert.ok(local.kind === "value" && local.newValue === BigInt(L.anon) && !local.validate);
  });

  test("type matches: local members by name, ints by size and signedness, pointers by kind", () => {
    const m = (build: (w: BtfWriter) => void) => {
      const w = new BtfWriter();
      build(w);
      const r = resolveCoreRelocation(relo(0, L.flavored, "0", BPF_CORE_TYPE_MATCHES), L.btf, parseBtf(w.bytes()));
      return r.kind === "value" ? r.newValue : -1n;
    };
    const members = (w: BtfWriter, type: number) =>
      w.struct("s___other", 8, [
        ["pad", type, 0],
        ["b", type, 32],
      ]);
    assert.equal(
      m((w) => members(w, w.int("unsigned int", 4, 32))),
      1n,
    );
    assert.equal(
      m((w) => members(w, w.int("int", 4, 32, 1))),
      0n,
      "signedness",
    );
    assert.equal(
      m((w) => members(w, w.int("unsigned long", 8, 64))),
      0n,
      "size",
    );
    assert.equal(
      m((w) => w.struct("s", 4, [["c", w.int("unsigned int", 4, 32), 0]])),
      0n,
      "no member b",
    );
    assert.equal(
      m((w) => w.struct("s", 4, [["b", w.int("unsigned int", 4, 32), 0]], true)),
      0n,
      "a union is not a struct",
    );
  });

  test("enumerators: existence and values, 32-bit ones sign-extended like libbpf", () => {
    const p = apply(
      [
        insn(LD_IMM64, 1),
        insn(0, 0, 0, 0),
        insn(LD_IMM64, 0x80000000 | 0),
        insn(0, 0xffffffff | 0, 0, 0),
        insn(ALU64_MOV_K, 1),
      ],
      [
        relo(0, L.e, "0", BPF_CORE_ENUMVAL_VALUE),
        relo(2, L.e, "1", BPF_CORE_ENUMVAL_VALUE),
        relo(4, L.e, "0", BPF_CORE_ENUMVAL_EXISTS),
      ],
    );
    assert.deepEqual([p.imm[0], p.imm[1]], [7, 0]);
    assert.deepEqual([p.imm[2], p.imm[3]], [0x80000000 | 0, -1]);
    assert.equal(p.imm[4], 1);
    assert.throws(
      () => apply([insn(LD_IMM64, 1, 0, 1, 1), insn(0, 0, 0, 0)], [relo(0, L.e, "0", BPF_CORE_ENUMVAL_VALUE)]),
      /LDIMM64\) has unexpected form/,
    );
    assert.throws(
      () => resolveCoreRelocation(relo(0, L.e, "2", BPF_CORE_ENUMVAL_VALUE), L.btf, T),
      /does not name an enumerator/,
    );
  });

  test("64-bit enumerators into LD_IMM64, and their flavors", () => {
    const w = new BtfWriter();
    const e = w.enum64("big___local", 8, [["BIG___local", 1n]]);
    const local = parseBtf(w.bytes());
    const tw = new BtfWriter();
    tw.enum64("big", 8, [["BIG", -512n]], true);
    const p = programFromInsns([insn(LD_IMM64, 1), insn(0, 0, 0, 0)]);
    new CoreRelocator(local, parseBtf(tw.bytes())).apply(p, [relo(0, e, "0", BPF_CORE_ENUMVAL_VALUE)]);
    assert.deepEqual([p.imm[0], p.imm[1]], [-512, -1]);
    assert.equal(essentialName("BIG___local"), "BIG");
  });

  test("malformed access strings and impossible accesses", () => {
    const bad: [string, CoreReloKind, RegExp][] = [
      ["", 0, /invalid access string ""/],
      [":0", 0, /invalid access string/],
      ["0:x", 0, /invalid access string/],
      ["0::1", 0, /invalid access string/],
      ["0:1:", 0, /invalid access string/],
      ["0:-1", 0, /out of range/],
      ["0:9", 0, /member index 9 out of range/],
      ["0:1:0", 0, /captures type .* of unexpected kind int/],
      ["0:2:1", BPF_CORE_FIELD_SIGNED, /can't be applied to an array access/],
      [Array(65).fill("0").join(":"), 0, /too deep/],
    ];
    for (const [access, kind, re] of bad) {
      assert.throws(
        () => resolveCoreRelocation(relo(0, L.s, access, kind), L.btf, T),
        (e: unknown) => {
          assert.ok(e instanceof BtfError, `${access}: ${e}`);
          assert.match(e.message, re, access);
          return true;
        },
      );
    }
    assert.equal(resolveCoreRelocation(relo(0, L.s, "0: 1", 0), L.btf, T).kind, "value", "sscanf skips spaces");
  });

  test("a bitfield that no 8-byte load can cover is an error", () => {
    const w = new BtfWriter();
    const u64 = w.int("unsigned long long", 8, 64);
    w.struct("s", 16, [["e", u64, 60, 8]]);
    assert.throws(
      () => resolveCoreRelocation(relo(0, L.s, "0:4", BPF_CORE_FIELD_BYTE_OFFSET), L.btf, parseBtf(w.bytes())),
      /can't be read with a 64-bit load/,
    );
  });

  test("apply wraps errors with the relocation number", () => {
    assert.throws(
      () => apply([insn(ALU64_MOV_K, 0), insn(ALU64_MOV_K, 5)], [relo(0, L.s, "0:0", 0), relo(1, L.s, "0:1", 0)]),
      (e: unknown) => e instanceof BtfError && /^BTF: type \[\d+\]: relo #1: /.test(e.message),
    );
  });
});
