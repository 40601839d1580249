// The kallsyms names of JITed functions, bpf_prog_<tag>_<name>, against what the real 6.12.117
// listed for every program of both golden corpora (.info / .default_cb.info files): the main
// function's tag from the program as submitted, each subprogram's from its slice of the
// rewritten program, "F" for the hidden default exception callback.
import assert from "node:assert/strict";
import { test } from "node:test";
import { modelledKernelSymbols } from "../../src/kernel/kallsyms.ts";
import { functionSymbols } from "../../src/kernel/prog-names.ts";
import { sha1 } from "../../src/kernel/sha1.ts";
import { verify } from "../../src/runtime/object.ts";
import { xlatedDump } from "../../src/verifier/index.ts";
import { recordedArm64Programs, recordedLayout, recordedObject } from "../support/recorded-programs.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

test("SHA-1 known answers (FIPS 180 examples)", () => {
  const enc = new TextEncoder();
  assert.equal(hex(sha1(new Uint8Array(0))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(hex(sha1(enc.encode("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(
    hex(sha1(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
  assert.equal(hex(sha1(new Uint8Array(1_000_000).fill(0x61))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
});

test("function names equal the kernel's kallsyms names", () => {
  const symbols = modelledKernelSymbols();
  let same = 0;
  const differ: string[] = [];
  for (const r of recordedArm64Programs()) {
    const want = recordedLayout(r.stem).functions.map((f) => f.name);
    const p = recordedObject(r).programs.find((q) => q.name === r.prog);
    assert.ok(p);
    let got: string[];
    try {
      const v = verify(recordedObject(r), p, "6.12", { kernelSymbols: symbols });
      got = functionSymbols(p, v, xlatedDump(v));
    } catch {
      continue; // the few programs the verifier does not model (test/arm64/jit-object.test.ts)
    }
    got.forEach((name, i) => {
      if (name === want[i]) same++;
      else differ.push(`${r.stem} #${i}: ${name} vs ${want[i]}`);
    });
  }
  // the three that differ are subprograms loading a prog array's kernel address (tail calls from
  // subprograms): the kernel hashes that address, which tsbpf cannot know
  assert.equal(differ.length, 3, differ.join("\n"));
  for (const d of differ) assert.match(d, /tail/);
  assert.ok(same >= 370, `${same} names equal`);
});
