// tsbpf end to end against the real kernel: every program of both golden corpora
// (test/fixtures/jit and test/fixtures/exceptions) goes from its clang object through tsbpf's own
// loader, verifier (with the modelled kernel's symbols) and arm64 JIT — nothing taken from the
// kernel's recording but where each function was placed — and must come out as the image
// Linux 6.12.117 produced for it, byte for byte (map addresses, which tsbpf cannot know, masked
// and counted). A few programs use what the verifier does not model yet; they are listed with
// the reason, and must still fail for that reason rather than silently differ.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { jitInputFromVerified } from "../../src/arm64/jit/from-verified.ts";
import { jitProgram } from "../../src/arm64/jit/index.ts";
import { modelledKernelSymbols } from "../../src/kernel/kallsyms.ts";
import type { ObjectSpec } from "../../src/object/spec.ts";
import { openObjectSpec, verify } from "../../src/runtime/object.ts";

const FIXTURES = join(import.meta.dirname, "../fixtures");

/** Programs tsbpf's verifier cannot yet bring to the kernel's form, and why. */
const NOT_MODELLED: Record<string, string> = {};

interface Case {
  dir: string;
  object: string;
  prog: string;
  stem: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  const m = JSON.parse(readFileSync(join(FIXTURES, "jit/manifest.json"), "utf8")) as {
    programs: { object: string; prog: string; arm64: { loaded: boolean } }[];
  };
  for (const p of m.programs) {
    if (p.arm64.loaded)
      out.push({
        dir: "jit",
        object: p.object,
        prog: p.prog,
        stem: `jit/arm64/${p.object.replace(/\.o$/, "")}.${p.prog}`,
      });
  }
  const e = JSON.parse(readFileSync(join(FIXTURES, "exceptions/expected.json"), "utf8")) as {
    kernels: Record<string, { programs: { object: string; prog: string; accepted: boolean | null }[] }>;
  };
  for (const p of e.kernels["arm64-6.12.117"].programs) {
    const stem = `exceptions/arm64-jit/${p.object.replace(/\.o$/, "")}.${p.prog}`;
    if (p.accepted === true && existsSync(join(FIXTURES, `${stem}.info`))) {
      out.push({ dir: "exceptions", object: p.object, prog: p.prog, stem });
    }
  }
  return out;
}

const specs = new Map<string, ObjectSpec>();
function spec(dir: string, object: string): ObjectSpec {
  const key = `${dir}/${object}`;
  let s = specs.get(key);
  if (s === undefined) {
    s = openObjectSpec(new Uint8Array(readFileSync(join(FIXTURES, dir, object))), { fileName: object });
    specs.set(key, s);
  }
  return s;
}

/** Function addresses from the recorded layout (hidden default callback last). */
function addresses(stem: string): bigint[] {
  const info = readFileSync(join(FIXTURES, `${stem}.info`), "utf8");
  const out = [...info.matchAll(/^func \d+ 0x([0-9a-f]+)/gm)].map((m) => BigInt(`0x${m[1]}`));
  const cb = join(FIXTURES, `${stem}.default_cb.info`);
  if (existsSync(cb)) {
    const m = /^ksym 0x([0-9a-f]+)/m.exec(readFileSync(cb, "utf8"));
    if (m !== null) out.push(BigInt(`0x${m[1]}`));
  }
  return out;
}

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
  let notModelled = 0;
  const failures: string[] = [];
  for (const c of cases()) {
    const key = `${c.object.replace(/\.o$/, "")}.${c.prog}`;
    const s = spec(c.dir, c.object);
    const p = s.programs.find((q) => q.name === c.prog);
    assert.ok(p, `${key}: no such program`);
    const why = NOT_MODELLED[key];
    let fns: ReturnType<typeof jitProgram>;
    try {
      const v = verify(s, p, "6.12", { kernelSymbols: symbols });
      const addr = addresses(c.stem);
      fns = jitProgram(jitInputFromVerified(v, addr));
    } catch (e) {
      if (why !== undefined) {
        notModelled++;
        continue;
      }
      failures.push(`${key}: ${(e as Error).message}`);
      continue;
    }
    programs++;
    const nVisible = [...readFileSync(join(FIXTURES, `${c.stem}.info`), "utf8").matchAll(/^func \d+ /gm)].length;
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
    if (same && why !== undefined)
      failures.push(`${key}: listed as not modelled (${why}) but now identical: remove it`);
    if (same) identical++;
    else if (why !== undefined) {
      notModelled++;
      programs--;
      failures.pop();
    }
  }
  console.log(
    `objects → arm64 images: ${identical}/${programs} programs identical to the kernel's (${masked} masked words), ${notModelled} not modelled`,
  );
  assert.deepEqual(failures, []);
  assert.equal(notModelled, Object.keys(NOT_MODELLED).length);
  assert.ok(identical >= 220, `${identical} programs`);
  assert.equal(masked, 99, "masked words (map addresses)");
});
