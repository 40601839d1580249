// The arm64 JIT against the real Linux 6.12.117 arm64 kernel: every program recorded in
// test/fixtures/exceptions/arm64-jit (listed under "jit" in expected.json) is JITed from its
// recorded xlated instructions at its recorded addresses, and every function image, plus the
// hidden default exception callback, must equal the kernel's bytes. Only words flagged
// `kernelObject` (map addresses: the xlated dump replaces them by map ids) are masked, and
// their number is pinned.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { functionFacts, jitProgram, readJitInfo } from "../../src/arm64/jit/index.ts";
import { decodeProgram } from "../../src/isa/insn.ts";

const FIXTURES = join(import.meta.dirname, "../fixtures/exceptions");
const JIT_DIR = join(FIXTURES, "arm64-jit");

interface Expected {
  kernels: Record<string, { programs: { object: string; prog: string; jit?: string[] }[] }>;
}

/** Program stems (OBJ.PROG) with recorded JIT data, from expected.json. */
function recordedPrograms(): string[] {
  const expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")) as Expected;
  const stems = new Set<string>();
  for (const k of Object.values(expected.kernels))
    for (const p of k.programs)
      for (const j of p.jit ?? []) if (!j.endsWith(".default_cb")) stems.add(j.replace(/^arm64-jit\//, ""));
  return [...stems].sort();
}

/** Words that encode kernel-object addresses (two ld_imm64 of a prog array, 3 words each). */
const EXPECTED_MASKED_WORDS = 6;
/** 86 programs, 227 images (functions + hidden default callbacks). */
const EXPECTED_PROGRAMS = 86;
const EXPECTED_IMAGES = 227;

interface Outcome {
  images: number;
  masked: number;
  failures: string[];
}

function checkProgram(stem: string, withCbLayout: boolean): Outcome {
  const info = readFileSync(join(JIT_DIR, `${stem}.info`), "utf8");
  const cbPath = join(JIT_DIR, `${stem}.default_cb.info`);
  const hasCb = existsSync(cbPath);
  const input = readJitInfo(
    info,
    readFileSync(join(JIT_DIR, `${stem}.xlated.bin`)),
    hasCb && withCbLayout ? readFileSync(cbPath, "utf8") : undefined,
  );
  const out = jitProgram(input);
  const result: Outcome = { images: 0, masked: 0, failures: [] };
  out.forEach((fn, i) => {
    const file = hasCb && i === out.length - 1 ? `${stem}.default_cb.bin` : `${stem}.f${i}.bin`;
    const want = readFileSync(join(JIT_DIR, file));
    result.images++;
    if (want.length !== fn.bytes.length) {
      result.failures.push(`${file}: ${fn.bytes.length} bytes, kernel ${want.length}`);
      return;
    }
    for (const insn of fn.insns) {
      if (insn.kernelObject) {
        result.masked++;
        continue;
      }
      const k = want.readUInt32LE(insn.offset);
      if (k !== insn.word) {
        result.failures.push(
          `${file} +0x${insn.offset.toString(16)}: ${insn.word.toString(16).padStart(8, "0")}, kernel ${k.toString(16).padStart(8, "0")}`,
        );
        return;
      }
    }
  });
  return result;
}

test("every recorded program JITs byte-identically to Linux 6.12.117 arm64", () => {
  const stems = recordedPrograms();
  assert.equal(stems.length, EXPECTED_PROGRAMS);
  let images = 0;
  let masked = 0;
  const failures: string[] = [];
  for (const stem of stems) {
    const r = checkProgram(stem, true);
    images += r.images;
    masked += r.masked;
    failures.push(...r.failures.map((f) => `${stem}: ${f}`));
  }
  console.log(`arm64 JIT golden: ${images - failures.length}/${images} images identical, ${masked} masked words`);
  assert.deepEqual(failures, []);
  assert.equal(images, EXPECTED_IMAGES);
  assert.equal(masked, EXPECTED_MASKED_WORDS);
});

test("the hidden default callback is found without its layout line", () => {
  for (const stem of recordedPrograms()) {
    const r = checkProgram(stem, false);
    assert.deepEqual(r.failures, [], stem);
  }
});

test("explicit facts override derived ones", () => {
  const stem = "programs_abc.exc_stack";
  const input = readJitInfo(
    readFileSync(join(JIT_DIR, `${stem}.info`), "utf8"),
    readFileSync(join(JIT_DIR, `${stem}.xlated.bin`)),
  );
  const derived = functionFacts(input);
  assert.equal(derived[0].exceptionBoundary, true);
  assert.equal(derived[0].stackDepth, 16);
  assert.equal(derived[1].exceptionCallback, true);
  const forced = functionFacts({ ...input, stackDepth: [40, 0], exceptionBoundary: false, exceptionCallback: -1 });
  assert.equal(forced[0].exceptionBoundary, false);
  assert.equal(forced[0].stackDepth, 40);
  assert.equal(forced.length, 1, "no callback requested: the trailing r0 = r1; exit stays in main");
  const out = jitProgram({ ...input, stackDepth: [40, 0] });
  // sub sp, sp, #48 (round_up(40, 16)) right after `mov x25, sp`
  assert.equal(out[0].insns[13].word, 0xd100c3ff);
});

test("bpfIndex ties each word to its BPF instruction", () => {
  const stem = "programs_abc.exc_main";
  const input = readJitInfo(
    readFileSync(join(JIT_DIR, `${stem}.info`), "utf8"),
    readFileSync(join(JIT_DIR, `${stem}.xlated.bin`)),
  );
  const [main] = jitProgram(input);
  // prologue (13 words) belongs to no instruction; `call thrower` is bl + mov x7, x0
  assert.ok(main.insns.slice(0, 13).every((x) => x.bpfIndex === -1));
  assert.deepEqual(
    main.insns.slice(13, 16).map((x) => x.bpfIndex),
    [0, 0, 1],
  );
  assert.equal(decodeProgram(readFileSync(join(JIT_DIR, `${stem}.xlated.bin`))).length, 13);
});
