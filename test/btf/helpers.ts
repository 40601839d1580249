/**
 * Shared helpers of the BTF tests: the fixture objects of test/fixtures/btf, their parsed BTF,
 * and the external tools (bpftool, llvm-dwarfdump-19) and kernel files (/sys/kernel/btf/vmlinux)
 * the tests compare against — each missing one is reported loudly and its comparison skipped.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Btf, type BtfExt, btfFromElf } from "../../src/btf/index.ts";
import { type ElfFile, readElf } from "../../src/elf/index.ts";
import { ROOT } from "../elf/fixtures.ts";

export { Prng, poke, ROOT } from "../elf/fixtures.ts";

/** This suite's fixtures: sources, build.sh, record-core.sh, objects and goldens. */
export const BTF_FIXTURES = join(ROOT, "test", "fixtures", "btf");

/** The running kernel's BTF. */
export const VMLINUX = "/sys/kernel/btf/vmlinux";

/** The fixture objects with BTF. */
export const OBJECTS = ["types.o", "types.eb.o", "core.o"] as const;

/** Bytes of a fixture file. */
export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(BTF_FIXTURES, name)));
}

/** A fixture object with its BTF and BTF.ext. */
export interface BtfObject {
  readonly name: string;
  readonly path: string;
  readonly elf: ElfFile;
  readonly btf: Btf;
  readonly ext: BtfExt;
}

/** Reads and parses a fixture object (which must have .BTF and .BTF.ext). */
export function loadObject(name: string): BtfObject {
  const path = join(BTF_FIXTURES, name);
  const elf = readElf(fixtureBytes(name));
  const { btf, ext } = btfFromElf(elf);
  if (!btf || !ext) throw new Error(`${name} has no .BTF/.BTF.ext`);
  return { name, path, elf, btf, ext };
}

const warned = new Set<string>();

/** Prints a skip reason once, loudly, so a green run without the tool is not mistaken for a pass. */
function loud(reason: string): string {
  if (!warned.has(reason)) {
    warned.add(reason);
    console.warn(`\n*** ${reason} ***\n`);
  }
  return reason;
}

/** Skip reason when `tool` does not run (false when it does). */
export function missing(tool: string, what: string): string | false {
  const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
  if (r.status === 0) return false;
  return loud(`${tool} is not installed: ${what} is SKIPPED`);
}

/** Skip reason when there is no kernel BTF (false when there is). */
export function missingVmlinux(what: string): string | false {
  return existsSync(VMLINUX) ? false : loud(`${VMLINUX} does not exist: ${what} is SKIPPED`);
}

/** Whether we run as root (needed to load programs with bpftool). */
export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** Reports a skipped comparison loudly and returns its reason. */
export function skipLoudly(reason: string): string {
  return loud(reason);
}

/** Runs a tool and returns stdout; throws with stderr on failure. */
export function run(tool: string, args: readonly string[]): string {
  const r = spawnSync(tool, args, { encoding: "utf8", maxBuffer: 512 << 20 });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
