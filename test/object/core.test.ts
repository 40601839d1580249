/**
 * CO-RE relocation in the loader (src/object/core.ts) against what libbpf did with the same
 * objects on a real kernel:
 *   - test/fixtures/core/core.oracle.json.golden: libbpf 1.5 on the kernel tsbpf models (Debian
 *     6.12.117 arm64, under the QEMU oracle; record-oracle.mjs) with core_link.o (CO-RE in
 *     subprograms two programs append in different orders, poisoning in dead code),
 *     core_optional.o (a `?` program) and progs/core_skb.o: every instruction libbpf patched or
 *     poisoned, in every copy of the function, against the bundled kernel BTF (cut from that very
 *     kernel) and against this machine's /sys/kernel/btf/vmlinux; the patched immediates in the
 *     kernel's xlated programs in order; the programs' return values on the runtime;
 *   - test/fixtures/btf/core.kernel.json.golden: libbpf 1.1 on 6.18 with btf/core.o, through the
 *     loader, against core.min.btf (and vmlinux when it is that kernel's);
 * then what libbpf refuses (LoadError naming section and slot), the missing target BTF, and
 * poisoned instructions at run time.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type Btf, CORE_POISON_IMM, parseBtf } from "../../src/btf/index.ts";
import { readElf } from "../../src/elf/index.ts";
import { BpfFault, BtfError, LoadError, VerifierError } from "../../src/errors.ts";
import { Interpreter } from "../../src/interp/index.ts";
import type { DecodedProgram } from "../../src/isa/insn.ts";
import { loadObjectSpec, type ObjectSpec } from "../../src/object/index.ts";
import type { EngineFactory } from "../../src/runtime/engine.ts";
import { bundledKernelBtf, KERNEL_BTF_SOURCE } from "../../src/runtime/kernel-btf/index.ts";
import { BpfObject, openObjectSpec, parseHex } from "../../src/runtime/object.ts";
import { missingVmlinux, skipLoudly, VMLINUX } from "../btf/helpers.ts";
import { ROOT } from "../elf/fixtures.ts";
import { fixtureBytes } from "./helpers.ts";

interface Relocation {
  readonly relo: number;
  readonly local: string;
  readonly targets: readonly string[];
  readonly patches: readonly { insn: number; form: string; field: string; from: string; to: string }[];
  readonly poisoned: readonly number[];
}

interface XlatedInsn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
  readonly imm2?: number;
}

interface Func {
  readonly name: string;
  readonly section: string;
  readonly relocations: readonly Relocation[];
  readonly skipped?: boolean;
  readonly xlated?: readonly XlatedInsn[];
  readonly retval?: number;
}

interface Doc {
  readonly kernel: string;
  readonly vmlinux: { readonly sha256: string };
  readonly packet?: string;
  readonly ctx?: string;
  readonly objects?: Record<string, { readonly sha256: string; readonly programs: readonly Func[] }>;
  readonly object?: { readonly sha256: string };
  readonly programs?: readonly Func[];
}

const CORE_FIXTURES = join(ROOT, "test", "fixtures", "core");
const PATHS: Record<string, string> = {
  "core_link.o": join(CORE_FIXTURES, "core_link.o"),
  "core_optional.o": join(CORE_FIXTURES, "core_optional.o"),
  "core_skb.o": join(ROOT, "test", "fixtures", "progs", "core_skb.o"),
};
const oracle: Doc = JSON.parse(readFileSync(join(CORE_FIXTURES, "core.oracle.json.golden"), "utf8"));
const objects = oracle.objects ?? {};

const bytesOf = (name: string) => new Uint8Array(readFileSync(PATHS[name]));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const engine: EngineFactory = (program, options) => new Interpreter(program, options);
const SIZE_BYTES: Readonly<Record<number, number>> = { 0: 4, 8: 2, 16: 1, 24: 8 };

const vmlinuxSkip = missingVmlinux("CO-RE in the loader against the running kernel's BTF");
const vmlinux = (): Btf => parseBtf(new Uint8Array(readFileSync(VMLINUX)), { section: "vmlinux" });

/** Where the copies of function `name` are: each program holding it, and the slot it starts at. */
function copiesOf(spec: ObjectSpec, name: string): { prog: string; insns: DecodedProgram; start: number }[] {
  return spec.programs.flatMap((p) =>
    p.functions.filter((f) => f.name === name).map((f) => ({ prog: p.name, insns: p.insns, start: f.start })),
  );
}

/**
 * Every patch and poisoning libbpf logged for `funcs`, in every copy of each function in `spec`.
 * `typeIds`: also compare the values of TYPE_ID_TARGET relocations (only against the very BTF
 * libbpf used). Returns the number of instructions compared.
 */
function compareRelocations(spec: ObjectSpec, funcs: readonly Func[], typeIds: boolean): number {
  let n = 0;
  for (const f of funcs) {
    if (f.relocations.length === 0) continue;
    const copies = copiesOf(spec, f.name);
    assert.ok(copies.length > 0, `${f.name}: in some program`);
    for (const { prog, insns, start } of copies) {
      for (const r of f.relocations) {
        const where = `${prog}: ${f.name} relo #${r.relo} ${r.local}`;
        for (const pc of r.poisoned) {
          const at = start + pc;
          assert.deepEqual(
            [insns.code[at], insns.src[at], insns.imm[at]],
            [0x85, 0, CORE_POISON_IMM],
            `${where}: poisoned`,
          );
          n++;
        }
        const typeId = r.local.startsWith("<target_type_id>");
        for (const p of r.patches) {
          const at = start + p.insn;
          n++;
          if (typeId && !typeIds) continue; // type ids differ between BTFs
          switch (p.field) {
            case "imm":
              assert.equal(insns.imm[at], Number(BigInt.asIntN(32, BigInt(p.to))), `${where}: imm`);
              break;
            case "imm64":
              assert.equal(
                (BigInt(insns.imm[at + 1] >>> 0) << 32n) | BigInt(insns.imm[at] >>> 0),
                BigInt(p.to),
                `${where}: imm64`,
              );
              break;
            case "off":
              assert.equal(insns.off[at], Number(p.to), `${where}: off`);
              break;
            case "mem_sz":
              assert.equal(SIZE_BYTES[insns.code[at] & 0x18], Number(p.to), `${where}: access size`);
              break;
            default:
              assert.fail(`${where}: unknown patch field ${p.field}`);
          }
        }
      }
    }
  }
  return n;
}

/**
 * The immediates CO-RE patched in each loaded program (ALU and LD_IMM64 forms: the verifier
 * rewrites context loads) appear in order in the kernel's xlated program — dead branches, which
 * the verifier removed, excepted when all they hold is poison. Returns the number found.
 */
function compareXlated(spec: ObjectSpec, funcs: readonly Func[]): number {
  let found = 0;
  for (const main of funcs) {
    if (main.xlated === undefined) continue;
    const p = spec.programs.find((q) => q.name === main.name);
    assert.ok(p, `${main.name}: in the spec`);
    const pcs: number[] = [];
    for (const f of funcs) {
      const fn = p.functions.find((x) => x.name === f.name);
      if (fn === undefined) continue;
      for (const r of f.relocations) {
        for (const x of r.patches) if (x.form !== "LDX/ST/STX") pcs.push(fn.start + x.insn);
      }
    }
    pcs.sort((a, b) => a - b);
    let pos = 0;
    for (const pc of pcs) {
      const ld = p.insns.code[pc] === 0x18;
      const at = main.xlated.findIndex(
        (x, i) =>
          i >= pos &&
          x.code === p.insns.code[pc] &&
          x.dst === p.insns.dst[pc] &&
          x.src === p.insns.src[pc] &&
          x.off === p.insns.off[pc] &&
          x.imm === p.insns.imm[pc] &&
          (!ld || x.imm2 === p.insns.imm[pc + 1]),
      );
      assert.ok(at >= 0, `${main.name}: CO-RE-patched slot ${pc} is not (in order) in the kernel's xlated program`);
      pos = at + 1;
      found++;
    }
  }
  return found;
}

describe("CO-RE in the loader vs libbpf 1.5 on the real 6.12 kernel (recorded)", () => {
  test("the recording is of these objects, on the kernel the bundled BTF was cut from", () => {
    for (const [name, o] of Object.entries(objects)) {
      assert.equal(o.sha256, sha256(bytesOf(name)), `${name}: rebuilt? re-run record-oracle.mjs`);
    }
    assert.deepEqual(Object.keys(objects).sort(), Object.keys(PATHS).sort());
    assert.equal(oracle.vmlinux.sha256, KERNEL_BTF_SOURCE.sha256, "regenerate the bundled BTF from the same kernel");
    assert.ok(KERNEL_BTF_SOURCE.release.startsWith(oracle.kernel));
  });

  for (const [name, o] of Object.entries(objects)) {
    test(`${name}: against the bundled kernel BTF, every patch and poisoning libbpf made`, () => {
      const spec = loadObjectSpec(bytesOf(name), { fileName: name, targetBtf: bundledKernelBtf() });
      const n = compareRelocations(spec, o.programs, false);
      const x = compareXlated(spec, o.programs);
      assert.ok(n >= 1 && x >= 1, `${n} relocated slots compared, ${x} found in xlated code`);
    });

    test(`${name}: against ${VMLINUX}, the same (these are uapi types)`, { skip: vmlinuxSkip }, () => {
      const spec = loadObjectSpec(bytesOf(name), { fileName: name, targetBtf: vmlinux() });
      compareRelocations(spec, o.programs, false);
      compareXlated(spec, o.programs);
    });

    test(`${name}: the runtime (bundled BTF by default) returns what the kernel returned`, () => {
      const obj = BpfObject.open(bytesOf(name), { engine, fileName: name, host: { nrCpus: 2, cpu: 0, seed: 1 } });
      for (const f of o.programs) {
        if (f.retval === undefined) continue;
        const r = obj.testRun(f.name, {
          dataIn: parseHex(oracle.packet ?? "", "packet"),
          ctxIn: parseHex(oracle.ctx ?? "", "ctx"),
        });
        assert.equal(r.retval, f.retval, `${f.name}: retval`);
      }
    });
  }

  test("subprograms: every program's copy is patched, wherever libbpf's order appended it", () => {
    const spec = loadObjectSpec(bytesOf("core_link.o"), { targetBtf: bundledKernelBtf() });
    const starts = (prog: string) =>
      Object.fromEntries(spec.programs.find((p) => p.name === prog)!.functions.map((f) => [f.name, f.start]));
    // libbpf: "insn #0 relocated, imm 5 points to subprog 'offsets' (now at 6 offset)" ...
    assert.deepEqual(starts("link_a"), { link_a: 0, offsets: 6, enums: 16 });
    assert.deepEqual(starts("link_b"), { link_b: 0, enums: 12, offsets: 22 });
    const enums = copiesOf(spec, "enums");
    assert.equal(enums.length, 2);
    for (const c of enums) {
      assert.equal(c.insns.imm[c.start], 181, `${c.prog}: BPF_FUNC_loop`);
      assert.deepEqual([c.insns.imm[c.start + 5], c.insns.imm[c.start + 6]], [CORE_POISON_IMM, CORE_POISON_IMM]);
    }
  });

  test("a `?` program's relocations are left alone, as libbpf skips them", () => {
    const funcs = objects["core_optional.o"].programs;
    const off = funcs.find((f) => f.name === "opt_off");
    assert.ok(off?.skipped && off.relocations.length === 0, "libbpf skipped opt_off");
    const spec = loadObjectSpec(bytesOf("core_optional.o"), { targetBtf: bundledKernelBtf() });
    const p = spec.programs.find((q) => q.name === "opt_off")!;
    assert.equal(p.autoload, false);
    assert.deepEqual([p.insns.code[0], p.insns.imm[0]], [0xb7, 4], "the compiler's offset, not poisoned");
    // even a relocation libbpf would refuse is no error there
    const bad = patchImm(bytesOf("core_optional.o"), "?tc", 0, 5);
    loadObjectSpec(bad, { targetBtf: bundledKernelBtf() });
    assert.throws(
      () => loadObjectSpec(patchImm(bytesOf("core_optional.o"), "tc", 0, 9), { targetBtf: bundledKernelBtf() }),
      LoadError,
    );
  });
});

/** `bytes` with the imm of slot `insn` of section `section` set to `imm`. */
function patchImm(bytes: Uint8Array, section: string, insn: number, imm: number): Uint8Array {
  const out = bytes.slice();
  const sec = readElf(out).sectionByName(section);
  assert.ok(sec);
  new DataView(out.buffer).setInt32(sec.offset + insn * 8 + 4, imm, true);
  return out;
}

describe("CO-RE in the loader vs libbpf 1.1 on 6.18 (btf/core.o, recorded)", () => {
  const BTF_FIXTURES = join(ROOT, "test", "fixtures", "btf");
  const golden: Doc = JSON.parse(readFileSync(join(BTF_FIXTURES, "core.kernel.json.golden"), "utf8"));
  const bytes = new Uint8Array(readFileSync(join(BTF_FIXTURES, "core.o")));
  const funcs = golden.programs ?? [];

  test("against the recorded kernel's types (core.min.btf)", () => {
    const target = parseBtf(new Uint8Array(readFileSync(join(BTF_FIXTURES, "core.min.btf"))));
    const spec = loadObjectSpec(bytes, { targetBtf: target });
    assert.ok(compareRelocations(spec, funcs, false) >= 60);
  });

  const exactSkip =
    vmlinuxSkip ||
    (existsSync(VMLINUX) &&
      sha256(new Uint8Array(readFileSync(VMLINUX))) !== golden.vmlinux.sha256 &&
      skipLoudly(`this kernel is not ${golden.kernel}: the exact loader CO-RE comparison with core.o is SKIPPED`));

  test("against the recorded kernel's vmlinux: type ids too", { skip: exactSkip }, () => {
    const spec = loadObjectSpec(bytes, { targetBtf: vmlinux() });
    assert.ok(compareRelocations(spec, funcs, true) >= 60);
  });
});

describe("CO-RE errors and the target BTF", () => {
  test("no target BTF: the LoadError libbpf's missing kernel BTF gives", () => {
    for (const name of Object.keys(PATHS)) {
      assert.throws(
        () => loadObjectSpec(bytesOf(name)),
        (e: unknown) =>
          e instanceof LoadError && /CO-RE relocations? .*failed to find valid kernel BTF/.test(e.message),
        name,
      );
    }
    // objects without CO-RE relocations need none
    assert.ok(loadObjectSpec(fixtureBytes("calls")).programs.length > 0);
  });

  test("what libbpf refuses is a LoadError naming the section and slot", () => {
    // core_fields slot 12: `r1 = 4` (mark's offset in the local flavour): 5 is not what clang wrote
    const bad = patchImm(bytesOf("core_skb.o"), "tc", 12, 5);
    assert.throws(
      () => loadObjectSpec(bad, { targetBtf: bundledKernelBtf() }),
      (e: unknown) =>
        e instanceof LoadError &&
        e.section === "tc" &&
        e.insn === 12 &&
        e.cause instanceof BtfError &&
        /program 'core_fields': relo #5: failed to relocate insn #12: .*unexpected insn #12 \(ALU\/ALU64\) value: got 5, exp 4 -> 8/.test(
          e.message,
        ),
    );
  });

  test("a target without the types poisons: the verifier rejects a reachable poisoned slot, the engine faults on it", () => {
    // btf/core.o's BTF has no __sk_buff: core_skb's loads through it are poisoned
    const other = parseBtf(new Uint8Array(readFileSync(join(ROOT, "test", "fixtures", "btf", "core.min.btf"))));
    const spec = openObjectSpec(bytesOf("core_skb.o"), { targetBtf: other });
    const p = spec.programs[0];
    for (const pc of [23, 25, 27]) assert.equal(p.insns.imm[pc], CORE_POISON_IMM, `slot ${pc}`);
    assert.equal(p.insns.imm[4], 0, "field existence: 0");
    // what the kernel does with libbpf's poisoned call: refuse it where it is reachable
    assert.throws(
      () => BpfObject.load(spec, { engine }),
      (e: unknown) => e instanceof VerifierError && e.reason === "invalid func unknown#195896080",
    );
    // and should such a program run anyway, the engine stops at the poisoned slot
    const obj = BpfObject.load(spec, { engine, verify: false });
    assert.throws(
      () => obj.testRun("core_fields", { dataIn: new Uint8Array(64) }),
      (e: unknown) => e instanceof BpfFault && /195896080/.test(e.message),
    );
  });

  test("the runtime opens objects against the bundled BTF unless told otherwise", () => {
    const a = openObjectSpec(bytesOf("core_skb.o"));
    const b = loadObjectSpec(bytesOf("core_skb.o"), { targetBtf: bundledKernelBtf() });
    assert.deepEqual(a.programs[0].insns, b.programs[0].insns);
    assert.equal(a.programs[0].insns.off[25], 8, "mark is at 8 in the kernel's __sk_buff");
  });
});
