// The instruction stream after verification against the target kernel's: for every program that
// arm64 Linux 6.12.117 loaded, the oracle dumped the xlated program (bpf_prog_info; what the
// kernel hands its JIT, shown through `bpf_insn_prepare_dump`). tsbpf's rewritten program, shown
// the same way (`xlatedDump`), must be the same instructions field for field: dead code removed,
// dead branches hard-wired, the hidden exception callback, context accesses converted to the
// kernel structs, call immediates (`function - __bpf_call_base`, from the kernel's symbols),
// bpf-to-bpf calls as jit_subprogs leaves them, inlined map lookups, division guards, cmpxchg
// zero-extension ... — and the same functions at the same offsets.
//
// Only the map ids of map references (and addresses of kernel variables the symbol table lacks)
// cannot be known: those slots are masked, and their number is asserted to be exactly the
// number of kernel-object references the verifier reports.
//
// Corpora: test/fixtures/exceptions (arm64-jit/) and, when recorded, test/fixtures/jit
// (manifest.json + arm64/).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { decodeProgram } from "../../src/isa/insn.ts";
import { BPF_LD_IMM64 } from "../../src/isa/opcodes.ts";
import { type KernelSymbols, type VerifyResult, xlatedDump } from "../../src/verifier/index.ts";
import { FIXTURES, verifyFixture } from "./helpers.ts";

const EXC = join(FIXTURES, "exceptions");
const JIT = join(FIXTURES, "jit");
const KALLSYMS = join(JIT, "kallsyms-6.12.117.txt");

/** The 6.12.117 oracle's kernel symbols: kallsyms-6.12.117.txt when recorded, plus ksyms.txt. */
function kernelSymbols(): KernelSymbols {
  const syms = new Map<string, bigint>();
  const files = [join(EXC, "arm64-jit", "ksyms.txt"), KALLSYMS].filter((f) => existsSync(f));
  for (const f of files) {
    for (const line of readFileSync(f, "utf8").split("\n")) {
      const m = /^([0-9a-f]+) \w (\S+)/.exec(line);
      if (m !== null && !syms.has(m[2])) syms.set(m[2], BigInt(`0x${m[1]}`));
    }
  }
  const callBase = syms.get("__bpf_call_base");
  if (callBase === undefined) throw new Error("no __bpf_call_base");
  return { callBase, addressOf: (name) => syms.get(name) };
}
const SYMS = kernelSymbols();

/** The functions' first instructions from the oracle's layout file (`funcinfo i insn_off N`). */
function funcStarts(info: string): number[] {
  return [...info.matchAll(/^funcinfo \d+ insn_off (\d+)/gm)].map((m) => Number(m[1]));
}

/** Compares every field of every slot; returns how many slots were masked. */
function compareXlated(r: VerifyResult, xlatedFile: string): number {
  assert.ok(r.ok, r.ok ? "" : r.error.reason);
  const x = decodeProgram(new Uint8Array(readFileSync(xlatedFile)));
  const ours = xlatedDump(r.prog);
  assert.deepEqual(r.prog.unresolvedCalls, [], "call targets missing from the symbol table");
  assert.equal(ours.length, x.length, "instructions");
  const masked = new Set<number>();
  for (const o of r.prog.kernelObjects) {
    assert.equal(ours.code[o.pc], BPF_LD_IMM64, `kernel object at ${o.pc} is an ld_imm64`);
    masked.add(o.pc); // map id (map, map_value) or the address (ksym)
    if (o.kind === "ksym") masked.add(o.pc + 1);
  }
  for (let i = 0; i < ours.length; i++) {
    const where = `insn ${i}`;
    assert.equal(ours.code[i], x.code[i], `${where} code`);
    assert.equal(ours.dst[i], x.dst[i], `${where} dst`);
    assert.equal(ours.src[i], x.src[i], `${where} src`);
    assert.equal(ours.off[i], x.off[i], `${where} off`);
    if (!masked.has(i)) assert.equal(ours.imm[i], x.imm[i], `${where} imm`);
  }
  return masked.size;
}

const expected = JSON.parse(readFileSync(join(EXC, "expected.json"), "utf8")) as {
  kernels: Record<string, { programs: { object: string; prog: string; accepted: boolean | null }[] }>;
};

describe("rewritten program vs arm64 6.12.117 xlated (exceptions corpus)", () => {
  let programs = 0;
  let masked = 0;
  for (const e of expected.kernels["arm64-6.12.117"].programs) {
    if (e.accepted !== true) continue;
    const stem = `${e.object.replace(/\.o$/, "")}.${e.prog}`;
    const xlated = join(EXC, "arm64-jit", `${stem}.xlated.bin`);
    if (!existsSync(xlated)) continue;
    programs++;
    test(stem, () => {
      const r = verifyFixture("exceptions", e.object, e.prog, "6.12", { kernelSymbols: SYMS });
      masked += compareXlated(r, xlated);
      if (!r.ok) return;
      const visible = r.prog.subprogs.filter((s) => !s.hidden).map((s) => s.start);
      assert.deepEqual(visible, funcStarts(readFileSync(join(EXC, "arm64-jit", `${stem}.info`), "utf8")));
      const hidden = r.prog.subprogs.some((s) => s.hidden);
      assert.equal(hidden, existsSync(join(EXC, "arm64-jit", `${stem}.default_cb.info`)), "hidden default callback");
      if (hidden) assert.equal(r.prog.exceptionCallbackSubprog, r.prog.subprogs.length - 1);
    });
  }
  test("all 86 loaded programs are compared; only the 2 prog-array map ids are masked", () => {
    assert.equal(programs, 86);
    assert.equal(masked, 2);
  });
});

/** Programs of the jit corpus the verifier model cannot yet reproduce, with the reason. */
const JIT_KNOWN: ReadonlyMap<string, string> = new Map([]);

/**
 * Slots masked in the jit corpus: map ids (the address of `jiffies` for bpf_jiffies64 is known:
 * kallsyms-6.12.117.txt has it, so it is compared).
 */
const JIT_MASKED = 31;

interface JitManifest {
  programs: { object: string; prog: string; arm64: { loaded: boolean; files?: string[] } }[];
}

const manifestFile = join(JIT, "manifest.json");
describe("rewritten program vs arm64 6.12.117 xlated (jit corpus)", {
  skip: !existsSync(manifestFile) && "not recorded",
}, () => {
  if (!existsSync(manifestFile)) return;
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as JitManifest;
  let masked = 0;
  for (const p of manifest.programs) {
    if (!p.arm64.loaded) continue;
    const stem = `${p.object.replace(/\.o$/, "")}.${p.prog}`;
    const xlated = join(JIT, "arm64", `${stem}.xlated.bin`);
    if (!existsSync(xlated)) continue;
    test(stem, (t) => {
      const why = JIT_KNOWN.get(stem);
      if (why !== undefined) return t.skip(why);
      masked += compareXlated(verifyFixture("jit", p.object, p.prog, "6.12", { kernelSymbols: SYMS }), xlated);
    });
  }
  test("masked slots: the map ids of the corpus' map references", () => {
    assert.equal(masked, JIT_MASKED);
  });
});
