/**
 * Shared helpers of the object-loader tests: the fixtures of test/fixtures/object (sources,
 * build.sh, committed objects), loading them, and instructions as comparable tuples.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DecodedProgram } from "../../src/isa/insn.ts";
import { loadObjectSpec, type ObjectSpec } from "../../src/object/index.ts";
import { ROOT } from "../elf/fixtures.ts";

/** The loader fixtures' directory. */
export const OBJECT_FIXTURES = join(ROOT, "test", "fixtures", "object");

/** Every loader fixture object (without `.o`), little-endian ones first. */
export const FIXTURE_NAMES = [
  "programs",
  "calls",
  "maps",
  "globals",
  "externs",
  "exceptions",
  "legacy",
  "pinned",
  "tracing",
  "firewall",
  "calls.nobtf",
  "globals.nobtf",
  "calls.eb",
  "globals.eb",
] as const;

/** The bytes of fixture `name` (`calls`, `calls.eb` ...). */
export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(OBJECT_FIXTURES, `${name}.o`)));
}

/** Fixture `name` loaded as `<name>.o`. */
export function loadFixture(name: string): ObjectSpec {
  return loadObjectSpec(fixtureBytes(name), { fileName: `${name}.o` });
}

/** One slot as `[code, dst, src, off, imm]`, the oracle's spelling. */
export type InsnTuple = [number, number, number, number, number];

/** The slots of a program as tuples. */
export function insnTuples(p: DecodedProgram): InsnTuple[] {
  const out: InsnTuple[] = [];
  for (let i = 0; i < p.length; i++) out.push([p.code[i], p.dst[i], p.src[i], p.off[i], p.imm[i]]);
  return out;
}

/** Bytes as lower-case hex, the oracle's spelling of keys and values. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
