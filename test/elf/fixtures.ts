/**
 * Shared helpers of the ELF tests: the fixture objects (every `*.o` under test/fixtures, so
 * objects other suites add are covered too), LLVM tool discovery, a seeded PRNG and byte patching.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from anywhere). */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Directory of this suite's own fixtures (sources, build.sh and committed objects). */
export const ELF_FIXTURES = join(ROOT, "test", "fixtures", "elf");

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".o")) out.push(p);
  }
  return out;
}

/** A fixture object: absolute path, path relative to the repo root, and its bytes. */
export interface Fixture {
  readonly path: string;
  readonly rel: string;
  readonly bytes: Uint8Array;
}

/** Every `test/fixtures/**\/*.o`, sorted by path. */
export function fixtureObjects(): Fixture[] {
  return walk(join(ROOT, "test", "fixtures")).map((path) => ({
    path,
    rel: relative(ROOT, path),
    bytes: new Uint8Array(readFileSync(path)),
  }));
}

/** True when `tool --version` runs. */
export function hasTool(tool: string): boolean {
  const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
  return r.status === 0;
}

/** Runs an LLVM tool and returns stdout as latin1 (bytes preserved); throws on failure. */
export function runTool(tool: string, args: string[], cwd = ROOT): string {
  const r = spawnSync(tool, args, { cwd, encoding: "latin1", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Skip reason when `tool` is missing, printed loudly so a green run without it is not mistaken for a pass. */
export function missingTool(tool: string): string | false {
  if (hasTool(tool)) return false;
  const reason = `${tool} is not installed: the comparison against LLVM is SKIPPED (apt-get install llvm-19)`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

/** xorshift32: small, fast and deterministic; never seed it with 0. */
export class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  /** A uniformly distributed uint32. */
  u32(): number {
    let s = this.#s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.#s = s >>> 0;
    return this.#s;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }
  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** Writes an unsigned field of `size` bytes (1, 2, 4 or 8; 8-byte values as bigint or number). */
export function poke(
  bytes: Uint8Array,
  offset: number,
  size: 1 | 2 | 4 | 8,
  value: number | bigint,
  le: boolean,
): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 1) v.setUint8(offset, Number(value) & 0xff);
  else if (size === 2) v.setUint16(offset, Number(value) & 0xffff, le);
  else if (size === 4) v.setUint32(offset, Number(BigInt.asUintN(32, BigInt(value))), le);
  else v.setBigUint64(offset, BigInt.asUintN(64, BigInt(value)), le);
}
