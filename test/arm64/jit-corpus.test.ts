// The arm64 JIT against the golden corpus of test/fixtures/jit (README.md there): programs
// recorded on the real Linux 6.12.117 arm64, on a CPU with LSE atomics (arm64/) and on one
// without (arm64-nolse/, JITed here with `lse: false`). Every program is compiled from its
// recorded xlated instructions and layout, each function at its recorded address, and every
// image must equal the kernel's byte for byte: `f<i>.bin` per function, `default_cb.bin` for a
// hidden default exception callback, and `jited.bin` (all functions, in order) — the long-branch
// programs are stored with `jited.bin` only. Only words flagged `kernelObject` are masked (map
// addresses, which xlated dumps replace by map ids); their number is pinned per directory.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type JitFunction, jitProgram, readJitInfo } from "../../src/arm64/jit/index.ts";
import { JitError } from "../../src/errors.ts";

const CORPUS = join(import.meta.dirname, "../fixtures/jit");

/**
 * Programs the kernel did not JIT (jited_len 0 in their .info) and why; tsbpf must refuse them
 * the same way. Without LSE, `longbr_cmpxchg`'s LL/SC loops push a B.cond past its ±1 MiB
 * reach; 6.12 does not relax branches, logs `bpf_jit: [ 5] imm=294841(0x47fb9) out of range`
 * and (no CONFIG_BPF_JIT_ALWAYS_ON) runs the program in the interpreter.
 */
const NOT_JITED: Record<string, RegExp> = {
  "arm64-nolse/longbr_cmpxchg.longbr_cmpxchg": /insn 5: branch distance 294841 out of range/,
};

interface DirExpectation {
  lse: boolean;
  programs: number;
  /** Compared images: functions, hidden default callbacks and jited.bin files. */
  images: number;
  /** Masked words over all compared images (a function's also count again in its jited.bin). */
  masked: number;
  /** Programs the kernel refused to JIT (NOT_JITED), refused identically. */
  refused: number;
}

const EXPECTED: Record<string, DirExpectation> = {
  // 155 f<i>.bin + 3 default_cb.bin + 145 jited.bin
  arm64: { lse: true, programs: 145, images: 303, masked: 180, refused: 0 },
  // the atomics, longbr_cmpxchg (refused) and the programs whose images differ from arm64/
  // (addresses): 55 f<i>.bin + 3 default_cb.bin + 41 jited.bin
  "arm64-nolse": { lse: false, programs: 42, images: 99, masked: 174, refused: 1 },
};

interface Outcome {
  programs: number;
  images: number;
  masked: number;
  refused: number;
  failures: string[];
}

/** First differing word of `fn` against the kernel's `want` (masked words skipped), or null. */
function compare(fn: JitFunction, want: Uint8Array, name: string, out: Outcome): string | null {
  if (want.length !== fn.bytes.length) return `${name}: ${fn.bytes.length} bytes, kernel ${want.length}`;
  const view = new DataView(want.buffer, want.byteOffset, want.byteLength);
  for (let k = 0; k < fn.words.length; k++) {
    if (fn.kernelObject[k]) {
      out.masked++;
      continue;
    }
    const kernel = view.getUint32(k * 4, true);
    if (kernel !== fn.words[k]) {
      const hex = (w: number) => w.toString(16).padStart(8, "0");
      return `${name} +0x${(k * 4).toString(16)} (BPF insn ${fn.bpfIndex[k]}): ${hex(fn.words[k])}, kernel ${hex(kernel)}`;
    }
  }
  return null;
}

function checkDir(sub: string, lse: boolean): Outcome {
  const dir = join(CORPUS, sub);
  const out: Outcome = { programs: 0, images: 0, masked: 0, refused: 0, failures: [] };
  const read = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".xlated.bin")) continue;
    const stem = f.slice(0, -".xlated.bin".length);
    out.programs++;
    const hasCb = existsSync(join(dir, `${stem}.default_cb.info`));
    const input = readJitInfo(
      readFileSync(join(dir, `${stem}.info`), "utf8"),
      read(f),
      hasCb ? readFileSync(join(dir, `${stem}.default_cb.info`), "utf8") : undefined,
    );
    const refusal = NOT_JITED[`${sub}/${stem}`];
    if (refusal !== undefined) {
      assert.equal(read(`${stem}.jited.bin`).length, 0, `${stem}: the kernel JITed it after all`);
      assert.throws(
        () => jitProgram(input, { lse }),
        (e) => e instanceof JitError && refusal.test(e.message),
        stem,
      );
      out.refused++;
      continue;
    }
    let fns: JitFunction[];
    try {
      fns = jitProgram(input, { lse });
    } catch (e) {
      out.failures.push(`${stem}: ${(e as Error).message}`);
      continue;
    }
    const functions = hasCb ? fns.slice(0, -1) : fns;
    const fail = (m: string | null) => {
      out.images++;
      if (m !== null) out.failures.push(`${sub}/${m}`);
    };
    functions.forEach((fn, i) => {
      const file = `${stem}.f${i}.bin`;
      if (existsSync(join(dir, file))) fail(compare(fn, read(file), file, out));
    });
    if (hasCb) fail(compare(fns[fns.length - 1], read(`${stem}.default_cb.bin`), `${stem}.default_cb.bin`, out));
    // jited.bin: the functions back to back (main first), as bpftool dumps jited_prog_insns
    const all = new Uint8Array(functions.reduce((n, fn) => n + fn.bytes.length, 0));
    const words = new Uint32Array(all.length / 4);
    const bpfIndex = new Int32Array(words.length);
    const kernelObject = new Uint8Array(words.length);
    let at = 0;
    for (const fn of functions) {
      words.set(fn.words, at);
      bpfIndex.set(fn.bpfIndex, at);
      kernelObject.set(fn.kernelObject, at);
      at += fn.words.length;
    }
    const joined = { ...functions[0], words, bpfIndex, kernelObject, bytes: all } as JitFunction;
    fail(compare(joined, read(`${stem}.jited.bin`), `${stem}.jited.bin`, out));
  }
  return out;
}

for (const [sub, want] of Object.entries(EXPECTED)) {
  test(`test/fixtures/jit/${sub}: every image is byte-identical to Linux 6.12.117 (lse: ${want.lse})`, (t) => {
    if (!existsSync(join(CORPUS, sub))) {
      t.skip(`${sub} not recorded`);
      return;
    }
    const r = checkDir(sub, want.lse);
    console.log(
      `arm64 JIT corpus ${sub}: ${r.programs} programs, ${r.images - r.failures.length}/${r.images} images identical, ${r.masked} masked words, ${r.refused} refused as the kernel did`,
    );
    assert.deepEqual(r.failures, []);
    assert.equal(r.programs, want.programs);
    assert.equal(r.images, want.images);
    assert.equal(r.masked, want.masked);
    assert.equal(r.refused, want.refused);
  });
}
