/**
 * Mutation fuzzing of the BTF parser, .BTF.ext and CO-RE: the .BTF and .BTF.ext sections of the
 * fixture objects, and the kernel types of core.min.btf, are mutated (bit flips, random bytes,
 * interesting values written into header fields and into the fields of type records, members and
 * ext records, truncation, extension, swapped words) and everything is run on the result:
 * parsing, formatting every type, resolving and sizing every type, decl tags, name lookups,
 * .BTF.ext against the mutated BTF, and CO-RE relocation of core.o's programs (mutated local BTF
 * or .BTF.ext against the kernel types, or the real object against mutated kernel types).
 *
 * The only exception allowed is a TsbpfError; every mutant must finish quickly (no hang).
 * Deterministic: TSBPF_FUZZ_SEED seeds the PRNG, TSBPF_FUZZ_MUTANTS sets the total (default
 * 100 000); a failure names the seed, the input and the mutant's number and mutations.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Btf, type CoreRelo, CoreRelocator, parseBtf, parseBtfExt } from "../../src/btf/index.ts";
import { TsbpfError } from "../../src/errors.ts";
import { type DecodedProgram, decodeProgram } from "../../src/isa/insn.ts";
import { fixtureBytes, loadObject, Prng } from "./helpers.ts";

const SEED = Number(process.env.TSBPF_FUZZ_SEED ?? 0xb7f5eed);
const TOTAL = Number(process.env.TSBPF_FUZZ_MUTANTS ?? 100_000);
/** A mutant taking longer than this is reported as a hang. */
const SLOW_MS = 5000;

/** A u32 field worth aiming at: its offset and what it is. */
interface Field {
  readonly at: number;
  readonly name: string;
}

/** One fuzzing input: a BTF blob, optionally with its .BTF.ext and programs. */
interface Input {
  readonly name: string;
  readonly btf: Uint8Array;
  readonly ext: Uint8Array | undefined;
  readonly le: boolean;
  readonly btfFields: readonly Field[];
  readonly extFields: readonly Field[];
  /** Code of the sections with CO-RE relocations (core.o only). */
  readonly programs: ReadonlyMap<string, Uint8Array>;
}

/** The u32 fields of a valid BTF blob: header, then each record's words by kind. */
function btfFields(b: Uint8Array, le: boolean): Field[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u32 = (o: number) => v.getUint32(o, le);
  const out: Field[] = ["magic/version/flags", "hdr_len", "type_off", "type_len", "str_off", "str_len"].map(
    (name, i) => ({
      at: i * 4,
      name,
    }),
  );
  const hdr = u32(4);
  let at = hdr + u32(8);
  const end = at + u32(12);
  while (at < end) {
    const info = u32(at + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    out.push({ at, name: "name_off" }, { at: at + 4, name: "info" }, { at: at + 8, name: "size/type" });
    const extra: Record<number, [number, number]> = {
      1: [4, 0],
      3: [12, 0],
      4: [0, 12],
      5: [0, 12],
      6: [0, 8],
      13: [0, 8],
      14: [4, 0],
      15: [0, 12],
      17: [4, 0],
      19: [0, 12],
    };
    const [fixed, per] = extra[kind] ?? [0, 0];
    const size = fixed + per * vlen;
    for (let o = 0; o < size; o += 4) out.push({ at: at + 12 + o, name: `kind ${kind} data +${o}` });
    at += 12 + size;
  }
  return out;
}

/** The u32 fields of a valid .BTF.ext: header, block headers, section headers, record words. */
function extFields(b: Uint8Array, le: boolean): Field[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u32 = (o: number) => v.getUint32(o, le);
  const hdr = u32(4);
  const out: Field[] = [];
  for (let o = 4; o < hdr; o += 4) out.push({ at: o, name: `header +${o}` });
  for (let blk = 0; blk < (hdr >= 32 ? 3 : 2); blk++) {
    const len = u32(12 + blk * 8);
    if (len === 0) continue;
    let at = hdr + u32(8 + blk * 8);
    const end = at + len;
    const rec = u32(at);
    out.push({ at, name: `block ${blk} rec_size` });
    at += 4;
    while (at < end) {
      const n = u32(at + 4);
      out.push({ at, name: "sec_name_off" }, { at: at + 4, name: "num_info" });
      at += 8;
      for (let i = 0; i < n; i++, at += rec) {
        for (let o = 0; o < rec; o += 4) out.push({ at: at + o, name: `block ${blk} record +${o}` });
      }
    }
  }
  return out;
}

function inputs(): Input[] {
  const out: Input[] = [];
  for (const name of ["types.o", "types.eb.o", "core.o"]) {
    const obj = loadObject(name);
    const le = !obj.elf.bigEndian;
    const btf = obj.elf.sectionByName(".BTF")!.data();
    const ext = obj.elf.sectionByName(".BTF.ext")!.data();
    const programs = new Map<string, Uint8Array>();
    for (const [sec, recs] of obj.ext.sections) {
      if (recs.coreRelos.length > 0) programs.set(sec, obj.elf.sectionByName(sec)!.data());
    }
    out.push({ name, btf, ext, le, btfFields: btfFields(btf, le), extFields: extFields(ext, le), programs });
  }
  const min = fixtureBytes("core.min.btf");
  out.push({
    name: "core.min.btf",
    btf: min,
    ext: undefined,
    le: true,
    btfFields: btfFields(min, true),
    extFields: [],
    programs: new Map(),
  });
  return out;
}

/** Applies 1-4 random mutations to a copy of `bytes`; returns it and their description. */
function mutate(
  rng: Prng,
  bytes: Uint8Array,
  fields: readonly Field[],
  le: boolean,
  types: number,
): [Uint8Array, string[]] {
  let b = bytes.slice();
  const log: string[] = [];
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) {
    const choice = rng.int(100);
    if (b.length === 0) break;
    if (choice < 45 && fields.length > 0) {
      const f = rng.pick(fields);
      if (f.at + 4 > b.length) continue;
      const old = new DataView(b.buffer).getUint32(f.at, le);
      const values = [
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        12,
        16,
        0x7f,
        0x80,
        0xff,
        0xffff,
        0x10000,
        0x7fffffff,
        0x80000000,
        0xffffffff,
        b.length,
        b.length - 1,
        b.length + 1,
        rng.int(types + 3),
        rng.int(types + 3),
        old + 1,
        old - 1,
        old ^ (1 << rng.int(32)),
        (old & 0xffff) | (rng.int(32) << 24),
        (old & 0xff00ffff) | (rng.int(4) << 16),
        rng.u32(),
      ];
      const value = rng.pick(values) >>> 0;
      new DataView(b.buffer).setUint32(f.at, value, le);
      log.push(`${f.name}@${f.at}=0x${value.toString(16)}`);
    } else if (choice < 65) {
      const at = rng.int(b.length);
      const bit = rng.int(8);
      b[at] ^= 1 << bit;
      log.push(`flip ${at}.${bit}`);
    } else if (choice < 78) {
      const at = rng.int(b.length);
      b[at] = rng.int(256);
      log.push(`byte ${at}=${b[at]}`);
    } else if (choice < 86) {
      const len = rng.int(b.length);
      b = b.slice(0, len);
      log.push(`truncate ${len}`);
    } else if (choice < 92) {
      const extra = 1 + rng.int(64);
      const grown = new Uint8Array(b.length + extra);
      grown.set(b);
      for (let k = b.length; k < grown.length; k++) grown[k] = rng.int(4) === 0 ? rng.int(256) : 0;
      b = grown;
      log.push(`extend ${extra}`);
    } else {
      const words = b.length >> 2;
      if (words < 2) continue;
      const x = rng.int(words) * 4;
      const y = rng.int(words) * 4;
      const v = new DataView(b.buffer);
      const t = v.getUint32(x);
      v.setUint32(x, v.getUint32(y));
      v.setUint32(y, t);
      log.push(`swap ${x}<->${y}`);
    }
  }
  return [b, log];
}

/** Everything a parsed BTF offers. */
function exercise(btf: Btf): void {
  btf.formatRaw();
  for (const t of btf.types) {
    btf.resolve(t.id);
    try {
      btf.sizeOf(t.id);
    } catch (e) {
      if (!(e instanceof TsbpfError)) throw e;
    }
    btf.declTagsOf(t.id);
    if (t.name !== "") btf.findByName(t.name, t.kind);
  }
  void btf.pointerSize;
}

/** CO-RE relocation of every program; BtfErrors are the expected refusals. */
function relocate(
  local: Btf,
  target: Btf,
  relos: ReadonlyMap<string, readonly CoreRelo[]>,
  programs: ReadonlyMap<string, Uint8Array>,
  stats: Stats,
): void {
  const relocator = new CoreRelocator(local, target);
  for (const [sec, list] of relos) {
    const code = programs.get(sec);
    if (code === undefined || list.length === 0) continue;
    const insns: DecodedProgram = decodeProgram(code);
    try {
      relocator.apply(insns, list);
      stats.coreOk++;
    } catch (e) {
      if (!(e instanceof TsbpfError)) throw e;
      stats.coreRefused++;
    }
  }
}

interface Stats {
  mutants: number;
  btfOk: number;
  btfRejected: number;
  extOk: number;
  extRejected: number;
  coreOk: number;
  coreRefused: number;
  slowestMs: number;
}

test(`BTF, .BTF.ext and CO-RE survive ${TOTAL} mutants (seed 0x${SEED.toString(16)})`, { timeout: 300_000 }, () => {
  const rng = new Prng(SEED);
  const all = inputs();
  const core = all.find((i) => i.name === "core.o")!;
  const kernel = parseBtf(fixtureBytes("core.min.btf"));
  const coreObj = loadObject("core.o");
  const coreRelos = new Map([...coreObj.ext.sections].map(([k, v]) => [k, v.coreRelos]));
  const stats: Stats = {
    mutants: 0,
    btfOk: 0,
    btfRejected: 0,
    extOk: 0,
    extRejected: 0,
    coreOk: 0,
    coreRefused: 0,
    slowestMs: 0,
  };
  const t0 = performance.now();
  for (let m = 0; m < TOTAL; m++) {
    const input = all[m % all.length];
    const types = 130;
    const mutateExt = input.ext !== undefined && rng.int(3) === 0;
    const [bytes, log] = mutateExt
      ? mutate(rng, input.ext!, input.extFields, input.le, types)
      : mutate(rng, input.btf, input.btfFields, input.le, types);
    const start = performance.now();
    try {
      if (input.name === "core.min.btf") {
        // Mutated kernel types as the CO-RE target of the real object.
        const target = parseBtf(bytes);
        stats.btfOk++;
        exercise(target);
        relocate(coreObj.btf, target, coreRelos, core.programs, stats);
      } else if (mutateExt) {
        const btf = parseBtf(input.btf);
        try {
          const ext = parseBtfExt(bytes, btf);
          stats.extOk++;
          const relos = new Map([...ext.sections].map(([k, v]) => [k, v.coreRelos]));
          relocate(btf, kernel, relos, input.programs, stats);
        } catch (e) {
          if (!(e instanceof TsbpfError)) throw e;
          stats.extRejected++;
        }
      } else {
        const btf = parseBtf(bytes);
        stats.btfOk++;
        exercise(btf);
        try {
          const ext = parseBtfExt(input.ext!, btf);
          stats.extOk++;
          const relos = new Map([...ext.sections].map(([k, v]) => [k, v.coreRelos]));
          relocate(btf, kernel, relos, input.programs, stats);
        } catch (e) {
          if (!(e instanceof TsbpfError)) throw e;
          stats.extRejected++;
        }
      }
    } catch (e) {
      if (!(e instanceof TsbpfError)) {
        assert.fail(
          `seed 0x${SEED.toString(16)} mutant ${m} of ${input.name} (${mutateExt ? ".BTF.ext" : ".BTF"}: ${log.join(", ")}): ` +
            `${e instanceof Error ? e.stack : String(e)}`,
        );
      }
      stats.btfRejected++;
    }
    const ms = performance.now() - start;
    if (ms > stats.slowestMs && process.env.TSBPF_FUZZ_VERBOSE)
      console.log(`slowest so far: mutant ${m} of ${input.name} ${ms.toFixed(1)} ms: ${log.join(", ")}`);
    stats.slowestMs = Math.max(stats.slowestMs, ms);
    assert.ok(ms < SLOW_MS, `mutant ${m} of ${input.name} took ${ms.toFixed(0)} ms (${log.join(", ")})`);
    stats.mutants++;
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `BTF fuzz: ${JSON.stringify({ ...stats, slowestMs: Math.round(stats.slowestMs), seconds: Math.round(secs) })}`,
  );
  assert.equal(stats.mutants, TOTAL);
  assert.ok(stats.btfOk > TOTAL / 20, "a fair share of mutants still parse, so the later stages are reached");
});
