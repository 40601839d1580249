/**
 * Shared helpers of the verifier tests: opening a fixture object as the runtime opens it (CO-RE
 * against the bundled kernel BTF) together with its own BTF, verifying one of its programs, and
 * building small programs from assembly.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Btf } from "../../src/btf/btf.ts";
import { btfFromElf } from "../../src/btf/elf.ts";
import { readElf } from "../../src/elf/reader.ts";
import { assemble } from "../../src/isa/asm.ts";
import type { ObjectSpec, ProgramSpec } from "../../src/object/spec.ts";
import { BPF_PROG_TYPE_SCHED_CLS } from "../../src/object/uapi.ts";
import { openObjectSpec } from "../../src/runtime/object.ts";
import { type KernelVersion, type VerifyOptions, type VerifyResult, verifyProgram } from "../../src/verifier/index.ts";

/** test/fixtures */
export const FIXTURES = resolve(import.meta.dirname, "../fixtures");

/** An object and its BTF. */
export interface OpenedObject {
  readonly spec: ObjectSpec;
  readonly btf: Btf | undefined;
}

const cache = new Map<string, OpenedObject>();

/** Opens `test/fixtures/<dir>/<file>` (cached). */
export function openFixture(dir: string, file: string): OpenedObject {
  const path = join(FIXTURES, dir, file);
  let o = cache.get(path);
  if (o === undefined) {
    const bytes = new Uint8Array(readFileSync(path));
    o = { spec: openObjectSpec(bytes, { fileName: file.replace(/^.*\//, "") }), btf: btfFromElf(readElf(bytes)).btf };
    cache.set(path, o);
  }
  return o;
}

/** The program `name` of an opened object. */
export function programOf(o: OpenedObject, name: string): ProgramSpec {
  const p = o.spec.programs.find((q) => q.name === name);
  if (p === undefined) throw new Error(`no program ${name} in ${o.spec.name}`);
  return p;
}

/** Verifies program `name` of `test/fixtures/<dir>/<file>` for `kernel`. */
export function verifyFixture(
  dir: string,
  file: string,
  name: string,
  kernel: KernelVersion,
  extra: VerifyOptions = {},
): VerifyResult {
  const o = openFixture(dir, file);
  return verifyProgram(programOf(o, name), { btf: o.btf, maps: o.spec.maps, kernel, ...extra });
}

/** A ProgramSpec of one function assembled from `text` (no BTF, no maps). */
export function asmSpec(text: string, over: Partial<ProgramSpec> = {}): ProgramSpec {
  const insns = assemble(text);
  return {
    name: "prog",
    section: "tc",
    type: BPF_PROG_TYPE_SCHED_CLS,
    expectedAttachType: 0,
    attachTo: "",
    autoload: true,
    flags: 0,
    insns,
    functions: [{ name: "prog", start: 0, length: insns.length, linkage: "global", btfTypeId: 0 }],
    lineInfo: [],
    maps: [],
    kfuncs: new Map(),
    helpers: [],
    declTags: [],
    license: "GPL",
    kernelVersion: 0,
    ...over,
  };
}

/** The reason of a rejection, or "ok". */
export function outcome(r: VerifyResult): string {
  return r.ok ? "ok" : r.error.reason;
}

/** Lines of a kernel error block that are state dumps, which the model does not print. */
export function isStateDump(line: string): boolean {
  return /^(cur state:|old state:)/.test(line);
}
