// tsbpf end to end against the real kernel: every program of both golden corpora
// (test/fixtures/jit and test/fixtures/exceptions) goes from its clang object through tsbpf's own
// loader, verifier (with the modelled kernel's symbols) and arm64 JIT — nothing taken from the
// kernel's recording but where each function was placed — and must come out as the image
// Linux 6.12.117 produced for it, byte for byte (map addresses, which tsbpf cannot know, masked
// and counted).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { jitInputFromVerified } from "../../src/arm64/jit/from-verified.ts";
import { jitProgram } from "../../src/arm64/jit/index.ts";
import { modelledKernelSymbols } from "../../src/kernel/kallsyms.ts";
import { verify } from "../../src/runtime/object.ts";
import { FIXTURES, recordedArm64Programs, recordedLayout, recordedObject } from "../support/recorded-programs.ts";

/** The kernel's image of function `i` (f<i>.bin, or the hidden callback's). */
function kernelImage(stem: string, i: number, nVisible: number): Uint8Array | null {
  const f = join(FIXTURES, i < nVisible ? `${stem}.f${i}.bin` : `${stem}.default_cb.bin`);
  if (existsSync(f)) return new Uint8Array(readFileSync(f));
  if (i === 0 && nVisible === 1) {
    const whole = join(FIXTURES, `${stem}.jited.bin`);
    if (existsSync(whole)) return new Uint8Array(readFileSync(whole));
  }
  return null;
}

test("objects → tsbpf's verifier → tsbpf's JIT = the kernel's images", () => {
  const symbols = modelledKernelSymbols();
  let identical = 0;
  let programs = 0;
  let masked = 0;
  const failures: string[] = [];
  for (const c of recordedArm64Programs()) {
    const key = `${c.object.replace(/\.o$/, "")}.${c.prog}`;
    const s = recordedObject(c);
    const p = s.programs.find((q) => q.name === c.prog);
    assert.ok(p, `${key}: no such program`);
    const layout = recordedLayout(c.stem).functions;
    // the kernel lists the hidden default callback apart from the program's own functions
    const nVisible = layout.filter((f) => !f.name.endsWith("_F")).length;
    let fns: ReturnType<typeof jitProgram>;
    try {
      const v = verify(s, p, "6.12", { kernelSymbols: symbols });
      fns = jitProgram(
        jitInputFromVerified(
          v,
          layout.map((f) => f.address),
        ),
      );
    } catch (e) {
      failures.push(`${key}: ${(e as Error).message}`);
      continue;
    }
    programs++;
    let same = true;
    fns.forEach((fn, i) => {
      const want = kernelImage(c.stem, i, nVisible);
      if (want === null) return;
      if (want.length !== fn.bytes.length) {
        same = false;
        failures.push(`${key} ${fn.name}: ${fn.bytes.length} bytes, kernel ${want.length}`);
        return;
      }
      const view = new DataView(want.buffer, want.byteOffset, want.byteLength);
      for (let k = 0; k < fn.words.length; k++) {
        if (fn.kernelObject[k]) {
          masked++;
          continue;
        }
        if (fn.words[k] >>> 0 !== view.getUint32(k * 4, true)) {
          same = false;
          failures.push(
            `${key} ${fn.name}+0x${(k * 4).toString(16)}: ${(fn.words[k] >>> 0).toString(16)} vs kernel ${view.getUint32(k * 4, true).toString(16)}`,
          );
          return;
        }
      }
    });
    if (same) identical++;
  }
  console.log(
    `objects → arm64 images: ${identical}/${programs} programs identical to the kernel's (${masked} masked words)`,
  );
  assert.deepEqual(failures, []);
  assert.ok(identical >= 220, `${identical} programs`);
  assert.equal(masked, 99, "masked words (map addresses)");
});
