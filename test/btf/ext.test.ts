/**
 * .BTF.ext against independent truth: line_info against the DWARF line table clang wrote beside
 * it (`llvm-dwarfdump-19 --debug-line`, committed golden and live) and against the source files
 * themselves; func_info against the ELF symbol table and bpftool's FUNC types; CO-RE relocation
 * counts against libbpf's (recorded in core.kernel.json.golden). Then larger record sizes (read by
 * their known prefix, as libbpf does) and malformed sections.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type BtfExt, type CoreRelo, parseBtfExt } from "../../src/btf/index.ts";
import { STT_FUNC } from "../../src/elf/index.ts";
import { BtfError } from "../../src/errors.ts";
import { BTF_FIXTURES, type BtfObject, loadObject, missing, OBJECTS, run } from "./helpers.ts";

const DWARFDUMP = "llvm-dwarfdump-19";
const dwarfSkip = missing(DWARFDUMP, "the live comparison of line_info with the DWARF line table");

/** One row of a DWARF line table. */
interface Row {
  readonly address: number;
  readonly line: number;
  readonly column: number;
  readonly file: number;
  readonly end: boolean;
}

/** Parses `llvm-dwarfdump --debug-line`: the file names and the rows, split into sequences. */
function parseDwarfLines(text: string): { files: string[]; sequences: Row[][] } {
  const files: string[] = [];
  for (const m of text.matchAll(/file_names\[\s*(\d+)\]:\n\s+name: "([^"]*)"/g)) files[Number(m[1])] = m[2];
  const sequences: Row[][] = [];
  let current: Row[] = [];
  for (const m of text.matchAll(
    /^0x([0-9a-f]{16})[ \t]+(\d+)[ \t]+(\d+)[ \t]+(\d+)[ \t]+\d+[ \t]+\d+[ \t]+\d+[ \t]*(.*)$/gm,
  )) {
    const row = {
      address: Number.parseInt(m[1], 16),
      line: Number(m[2]),
      column: Number(m[3]),
      file: Number(m[4]),
      end: m[5].includes("end_sequence"),
    };
    current.push(row);
    if (row.end) {
      sequences.push(current);
      current = [];
    }
  }
  return { files, sequences };
}

/**
 * The DWARF rows BTF line_info should have: LLVM's BTFDebug emits a record when an instruction's
 * debug location differs from the previous located instruction's, skipping line 0. DWARF also
 * starts a row when the line returns from 0 to the location it had before, which BTF does not.
 */
function expectedRows(seq: readonly Row[]): Row[] {
  const out: Row[] = [];
  let afterZero = false;
  for (const r of seq) {
    if (r.end) continue;
    if (r.line === 0) {
      afterZero = true;
      continue;
    }
    const last = out.at(-1);
    const repeat = afterZero && last !== undefined && last.line === r.line && last.column === r.column;
    if (!repeat) out.push(r);
    afterZero = false;
  }
  return out;
}

/** Checks every section's line_info against one DWARF sequence and the source text. */
function checkLines(obj: BtfObject, dwarf: string): number {
  const { files, sequences } = parseDwarfLines(dwarf);
  const used = new Set<number>();
  let records = 0;
  const key = (rows: readonly { address: number; line: number; column: number }[]) =>
    rows.map((r) => `${r.address}:${r.line}:${r.column}`).join(" ");
  for (const [name, sec] of obj.ext.sections) {
    if (sec.lineInfo.length === 0) continue;
    const got = key(sec.lineInfo.map((l) => ({ address: l.insn * 8, line: l.line, column: l.column })));
    const match = sequences.findIndex((seq, i) => !used.has(i) && key(expectedRows(seq)) === got);
    assert.notEqual(match, -1, `${obj.name} ${name}: no DWARF sequence has the rows ${got}`);
    used.add(match);
    const rows = expectedRows(sequences[match]);
    for (const [i, l] of sec.lineInfo.entries()) {
      assert.equal(l.file.split("/").at(-1), files[rows[i].file], `${name} insn ${l.insn}: file`);
      const source = readFileSync(join(BTF_FIXTURES, l.file), "utf8").split("\n");
      assert.equal(l.text, source[l.line - 1], `${name} insn ${l.insn}: source text of line ${l.line}`);
      records++;
    }
  }
  return records;
}

describe("line_info vs the DWARF line table", () => {
  for (const name of OBJECTS) {
    const golden = join(BTF_FIXTURES, name.replace(/\.o$/, ".dwarf-lines.golden.txt"));
    test(`${name} vs committed llvm-dwarfdump golden`, () => {
      const n = checkLines(loadObject(name), readFileSync(golden, "utf8"));
      assert.ok(n > 20, `${n} records`);
    });
    test(`${name} vs llvm-dwarfdump-19 (live)`, { skip: dwarfSkip }, () => {
      const obj = loadObject(name);
      checkLines(obj, run(DWARFDUMP, ["--debug-line", obj.path]));
    });
  }

  test("line and column are unpacked from line_col (line << 10 | column)", () => {
    const { ext } = loadObject("types.o");
    const tc = ext.sections.get("tc");
    assert.ok(tc);
    const l = tc.lineInfo[1];
    assert.deepEqual([l.insn, l.file, l.line, l.column], [1, "./types.c", 119, 20]);
    assert.equal(l.text, "  u32_t key = skb->len;");
    assert.equal(l.text.indexOf("len;") + 1, 20, "the column points at the member access");
  });
});

describe("func_info vs the symbol table and bpftool", () => {
  for (const name of OBJECTS) {
    test(name, () => {
      const obj = loadObject(name);
      const golden = readFileSync(join(BTF_FIXTURES, name.replace(/\.o$/, ".bpftool-raw.golden.txt")), "utf8");
      let n = 0;
      for (const [secName, sec] of obj.ext.sections) {
        const funcs = obj.elf.symbols.filter((s) => s.type === STT_FUNC && s.sectionName === secName);
        assert.equal(sec.funcInfo.length, funcs.length, `${secName}: one func_info per function symbol`);
        for (const fi of sec.funcInfo) {
          const sym = funcs.find((s) => s.value === fi.insn * 8);
          assert.ok(sym, `${secName}: a function symbol at insn ${fi.insn}`);
          const t = obj.btf.type(fi.typeId);
          assert.equal(t.kind, "func");
          assert.equal(t.name, sym.name);
          assert.match(golden, new RegExp(`^\\[${fi.typeId}\\] FUNC '${sym.name}' `, "m"));
          n++;
        }
      }
      assert.ok(n >= 4);
    });
  }
});

describe("core_relo records", () => {
  test("core.o: counts, kinds and access strings as libbpf found them", () => {
    const { ext, btf } = loadObject("core.o");
    const doc: { programs: { section: string; relocations: { local: string }[] }[] } = JSON.parse(
      readFileSync(join(BTF_FIXTURES, "core.kernel.json.golden"), "utf8"),
    );
    for (const prog of doc.programs) {
      const sec = ext.sections.get(prog.section);
      assert.ok(sec, prog.section);
      assert.equal(sec.coreRelos.length, prog.relocations.length, `${prog.section}: relocation count`);
      for (const [i, r] of prog.relocations.entries()) {
        const ours: CoreRelo = sec.coreRelos[i];
        // libbpf prints "<kind> [type id] kind name..." for the local spec.
        assert.match(r.local, new RegExp(`^<[a-z_0-9]+> \\[${ours.typeId}\\] `), `${prog.section} relo #${i}`);
        assert.equal(btf.type(ours.typeId).name, r.local.split(" ")[3].split(/[.:]/)[0]);
      }
    }
    const all = [...ext.sections.values()].flatMap((s) => s.coreRelos);
    assert.deepEqual(
      [...new Set(all.map((r) => r.kind))].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    assert.ok(all.some((r) => r.accessString === "0:0:3"));
  });

  test("objects without CO-RE have none", () => {
    const { ext } = loadObject("types.o");
    assert.equal([...ext.sections.values()].flatMap((s) => s.coreRelos).length, 0);
    assert.equal(ext.recordSizes.funcInfo, 8);
    assert.equal(ext.recordSizes.lineInfo, 16);
  });

  test("big-endian .BTF.ext describes the same functions and lines", () => {
    const le = loadObject("types.o").ext;
    const be = loadObject("types.eb.o").ext;
    assert.equal(be.bigEndian, true);
    assert.deepEqual([...be.sections.keys()], [...le.sections.keys()]);
    for (const [name, sec] of be.sections) {
      const l = le.sections.get(name)!;
      assert.deepEqual(
        sec.funcInfo.map((f) => f.typeId),
        l.funcInfo.map((f) => f.typeId),
        name,
      );
      // The code differs a little between byte orders, so compare the set of lines only.
      assert.deepEqual(new Set(sec.lineInfo.map((x) => x.line)), new Set(l.lineInfo.map((x) => x.line)), name);
    }
  });
});

/** The raw .BTF.ext of a fixture. */
function extBytes(obj: BtfObject): Uint8Array {
  return obj.elf.sectionByName(".BTF.ext")!.data();
}

/**
 * Re-encodes a little-endian .BTF.ext with `extra` zero bytes after every record (a newer
 * compiler's larger records).
 */
function widen(bytes: Uint8Array, extra: number): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = view.getUint32(4, true);
  const blocks: number[][] = [];
  const nblocks = hdrLen >= 32 ? 3 : 2;
  for (let b = 0; b < nblocks; b++) {
    const off = view.getUint32(8 + b * 8, true);
    const len = view.getUint32(12 + b * 8, true);
    const out: number[] = [];
    if (len > 0) {
      let at = hdrLen + off;
      const end = at + len;
      const rec = view.getUint32(at, true);
      const u32 = (x: number) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24];
      out.push(...u32(rec + extra));
      at += 4;
      while (at < end) {
        const count = view.getUint32(at + 4, true);
        out.push(...bytes.subarray(at, at + 8));
        at += 8;
        for (let i = 0; i < count; i++, at += rec)
          out.push(...bytes.subarray(at, at + rec), ...new Array(extra).fill(0xee));
      }
    }
    blocks.push(out);
  }
  const header = new Uint8Array(hdrLen);
  header.set(bytes.subarray(0, hdrLen));
  const hv = new DataView(header.buffer);
  let off = 0;
  blocks.forEach((b, i) => {
    hv.setUint32(8 + i * 8, off, true);
    hv.setUint32(12 + i * 8, b.length, true);
    off += b.length;
  });
  return Uint8Array.from([...header, ...blocks.flat()]);
}

describe("record sizes larger than known", () => {
  for (const name of ["types.o", "core.o"]) {
    test(`${name}: the extra bytes of every record are skipped`, () => {
      const obj = loadObject(name);
      const wide = parseBtfExt(widen(extBytes(obj), 8), obj.btf);
      assert.deepEqual([...wide.sections.entries()], [...obj.ext.sections.entries()]);
      assert.equal(wide.recordSizes.lineInfo, 24);
    });
  }
});

describe("malformed .BTF.ext", () => {
  const obj = loadObject("core.o");
  const good = extBytes(obj);
  const parse = (b: Uint8Array): BtfExt => parseBtfExt(b, obj.btf);
  const setU32 = (off: number, value: number): Uint8Array => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(off, value >>> 0, true);
    return b;
  };
  const hdrLen = new DataView(good.buffer, good.byteOffset).getUint32(4, true);
  const u32 = (off: number) => new DataView(good.buffer, good.byteOffset).getUint32(off, true);
  const funcStart = hdrLen + u32(8);
  const lineStart = hdrLen + u32(16);
  const coreStart = hdrLen + u32(24);
  const rejects = (b: Uint8Array, re: RegExp) =>
    assert.throws(
      () => parse(b),
      (e: unknown) => e instanceof BtfError && re.test(e.message),
    );

  test("the fixture's is valid", () => assert.ok(parse(good).sections.size >= 4));
  test("short, bad magic, version, flags", () => {
    rejects(good.subarray(0, 6), /too short/);
    rejects(Uint8Array.from([0, 0, ...good.subarray(2)]), /invalid magic/);
    rejects(Uint8Array.from([...good.subarray(0, 2), 9, ...good.subarray(3)]), /version 9/);
    rejects(Uint8Array.from([...good.subarray(0, 3), 1, ...good.subarray(4)]), /flags/);
  });
  test("hdr_len", () => {
    rejects(setU32(4, 16), /hdr_len 16 is too short/);
    rejects(setU32(4, good.length + 1), /past the end/);
    // A v1 header (without core_relo): the relocations are not read.
    const v1 = Uint8Array.from([...good.subarray(0, 24), ...good.subarray(32)]);
    new DataView(v1.buffer).setUint32(4, 24, true);
    assert.equal(parse(v1).recordSizes.coreRelo, 0);
    assert.equal([...parse(v1).sections.values()].flatMap((x) => x.coreRelos).length, 0);
  });
  test("blocks out of bounds or misaligned", () => {
    rejects(setU32(8, 2), /not 4-byte aligned/);
    rejects(setU32(12, good.length), /not within .BTF.ext/);
    rejects(setU32(16, good.length), /not within .BTF.ext/);
  });
  test("record sizes too small or unaligned", () => {
    rejects(setU32(funcStart, 4), /func_info has unexpected record size 4/);
    rejects(setU32(lineStart, 18), /line_info has unexpected record size 18/);
    rejects(setU32(coreStart, 12), /core_relo has unexpected record size 12/);
  });
  test("section entries: name, count", () => {
    rejects(setU32(funcStart + 4, 0x7fffffff), /section name offset .* outside/);
    rejects(setU32(funcStart + 8, 0), /has no records/);
    rejects(setU32(funcStart + 8, 1000), /more than fit/);
    rejects(setU32(12, 6), /has no record size|truncated|more than fit/);
  });
  test("record fields: insn_off, type ids, strings, kinds", () => {
    rejects(setU32(funcStart + 12, 4), /insn_off 4 is not a multiple of 8/);
    rejects(setU32(funcStart + 16, 1), /func_info type \[1\] is not a FUNC/);
    rejects(setU32(funcStart + 16, 100000), /is not a FUNC/);
    rejects(setU32(lineStart + 16, 0x7fffffff), /file name offset .* outside/);
    rejects(setU32(lineStart + 20, 0x7fffffff), /line_info line offset .* outside/);
    rejects(setU32(coreStart + 16, 100000), /core_relo type id 100000 out of range/);
    rejects(setU32(coreStart + 20, 0x7fffffff), /access string offset .* outside/);
    rejects(setU32(coreStart + 24, 13), /unknown CO-RE relocation kind 13/);
  });
  test("byte order must agree with the BTF's", () => {
    const be = loadObject("types.eb.o");
    assert.throws(() => parseBtfExt(extBytes(be), obj.btf), /byte order differs/);
    assert.throws(() => parseBtfExt(extBytes(be), be.btf, { bigEndian: false }), /big-endian but its container/);
  });
});
