#!/usr/bin/env node
// Runs every test file under test/ with node:test through tsx.
// The file list is expanded here because `node --test dir/` on Node 20 runs nothing.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "fixtures") out.push(...collect(p));
    } else if (name.endsWith(".test.ts")) {
      out.push(p);
    }
  }
  return out;
}

const filter = process.argv.slice(2);
let files = collect("test");
if (filter.length > 0) files = files.filter((f) => filter.some((s) => f.includes(s)));
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
