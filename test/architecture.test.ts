// The layering rule of DEVELOPERS.md, enforced: isa → elf/btf → object → verifier → runtime →
// engines (interp, wasm, arm64) with kernel beside them → tools (conformance) → cli. A module may
// import its own layer or lower ones, never a higher one, and no import cycle may exist.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const SRC = resolve(import.meta.dirname, "../src");

const RANK: Record<string, number> = {
  "errors.ts": 0,
  isa: 1,
  elf: 2,
  btf: 2,
  object: 3,
  verifier: 4,
  runtime: 5,
  interp: 6,
  wasm: 6,
  arm64: 6,
  kernel: 6,
  conformance: 7,
  cli: 8,
  "index.ts": 9,
};

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

function layerOf(file: string): string {
  return relative(SRC, file).split("/")[0];
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)) {
    out.push(resolve(dirname(file), m[1]));
  }
  return out;
}

const files = walk(SRC);

test("every top-level module of src/ has a layer", () => {
  for (const f of files) assert.ok(layerOf(f) in RANK, `${relative(SRC, f)}: add its layer to RANK`);
});

test("imports point down the layers", () => {
  const bad: string[] = [];
  for (const f of files) {
    const from = layerOf(f);
    for (const target of importsOf(f)) {
      const to = layerOf(target);
      if (RANK[to] > RANK[from]) bad.push(`${relative(SRC, f)} imports ${relative(SRC, target)} (${from} → ${to})`);
    }
  }
  assert.deepEqual(bad, []);
});

test("no import cycles", () => {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (f: string) => {
    state.set(f, 1);
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 1) {
        cycles.push([...stack.slice(stack.indexOf(t)), t].map((x) => relative(SRC, x)).join(" → "));
      } else if (!state.has(t) && graph.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test("no module is over 1000 lines", () => {
  const big = files
    .map((f) => [relative(SRC, f), readFileSync(f, "utf8").split("\n").length] as const)
    .filter(([, n]) => n > 1000);
  assert.deepEqual(big, []);
});
