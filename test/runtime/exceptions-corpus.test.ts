// Every program of the exceptions corpus that the real kernels accept, run on tsbpf: each
// recorded bpftool prog run retval must be equal. Truth: test/fixtures/exceptions/expected.json,
// recorded on arm64 Linux 6.12.117 (the target, via the QEMU oracle) and x86-64 Linux 6.18.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, test } from "node:test";
import { VerifierError } from "../../src/errors.ts";
import { Interpreter } from "../../src/interp/index.ts";
import type { EngineFactory } from "../../src/runtime/engine.ts";
import { BpfObject, openObjectSpec } from "../../src/runtime/object.ts";

const DIR = join(import.meta.dirname, "../fixtures/exceptions");
const engine: EngineFactory = (p, o) => new Interpreter(p, o);

interface Run {
  packet: string;
  data_in: string;
  retval: number;
}
interface Recorded {
  object: string;
  prog: string;
  accepted: boolean;
  runs?: Run[];
}
interface Rejected {
  object: string;
  prog: string;
  accepted: boolean | null;
  stage?: string;
  message?: string;
  log_tail?: string[];
}
interface Setup {
  map: string;
  key: string;
  prog: string;
}

const expected = JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8"));
const cases = JSON.parse(readFileSync(join(DIR, "cases.json"), "utf8"));
const setups = new Map<string, Setup[]>(
  (cases.objects as { object: string; setup?: Setup[] }[]).map((o) => [o.object, o.setup ?? []]),
);

function open(object: string): BpfObject {
  const obj = BpfObject.load(openObjectSpec(readFileSync(join(DIR, object)), { fileName: object }), { engine });
  for (const s of setups.get(object) ?? []) obj.setMapEntry(s.map, s.key, `@${s.prog}`);
  return obj;
}

for (const kernel of ["arm64-6.12.117", "x86_64-6.18"]) {
  describe(`exceptions corpus: retvals equal ${kernel}'s`, () => {
    const programs: Recorded[] = expected.kernels[kernel].programs;
    let runs = 0;
    for (const p of programs) {
      if (!p.accepted || !p.runs?.length) continue;
      test(`${p.object} ${p.prog}`, () => {
        const obj = open(p.object);
        for (const r of p.runs ?? []) {
          const got = obj.testRun(p.prog, { dataIn: Buffer.from(r.data_in, "hex") }).retval;
          assert.equal(got, r.retval, `${p.prog} on ${r.packet}`);
        }
      });
      runs += p.runs.length;
    }
    test("the corpus is not empty", () => assert.ok(runs >= 200, `${runs} runs`));
  });
}

// What 6.12.117 rejects never runs: loading the object fails with the kernel's message, naming
// the program, the rejected instruction and its source line — the line the kernel's own log
// printed last before the message ("; <source> @ file:line"), where its log tail shows one.
describe("exceptions corpus: what arm64 6.12.117 rejects is refused at load", () => {
  const programs: Rejected[] = expected.kernels["arm64-6.12.117"].programs;
  let withLine = 0;
  for (const p of programs) {
    if (p.accepted !== false || p.stage !== "verifier") continue;
    test(`${p.object} ${p.prog}`, () => {
      let error: unknown;
      try {
        open(p.object);
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof VerifierError, `expected a VerifierError, got ${String(error)}`);
      assert.equal(error.reason, p.message);
      assert.equal(error.program, p.prog);
      const tail = p.log_tail ?? [];
      const at = tail.indexOf(p.message ?? "");
      const printed = tail
        .slice(0, at < 0 ? tail.length : at)
        .map((l) => /^; .* @ (\S+):(\d+)$/.exec(l))
        .filter((m) => m !== null)
        .at(-1);
      if (printed !== undefined && error.insn >= 0) {
        withLine++;
        // the kernel prints the file's base name; BTF records the path clang was given
        assert.deepEqual([basename(error.source?.file ?? ""), error.source?.line], [printed[1], Number(printed[2])]);
      }
    });
  }
  test("source lines were compared", () => assert.ok(withLine >= 5, `${withLine} programs`));
});
