// The programs the real arm64 Linux 6.12.117 loaded and JITed in the two golden corpora
// (test/fixtures/jit: manifest.json + arm64/; test/fixtures/exceptions: expected.json +
// arm64-jit/), with their objects and the kernel's recorded layout.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type JitInput, readJitInfo } from "../../src/arm64/jit/index.ts";
import type { ObjectSpec } from "../../src/object/spec.ts";
import { openObjectSpec } from "../../src/runtime/object.ts";

/** test/fixtures */
export const FIXTURES = join(import.meta.dirname, "../fixtures");

/** One recorded program. */
export interface RecordedProgram {
  /** Fixture directory of its object ("jit" or "exceptions"). */
  readonly dir: string;
  readonly object: string;
  readonly prog: string;
  /** Its recording's path prefix under test/fixtures (`<stem>.info`, `<stem>.f0.bin` ...). */
  readonly stem: string;
}

/** Every program of both corpora with a recorded layout, jit corpus first. */
export function recordedArm64Programs(): RecordedProgram[] {
  const out: RecordedProgram[] = [];
  const m = JSON.parse(readFileSync(join(FIXTURES, "jit/manifest.json"), "utf8")) as {
    programs: { object: string; prog: string; arm64: { loaded: boolean } }[];
  };
  for (const p of m.programs) {
    if (p.arm64.loaded) out.push({ dir: "jit", ...p, stem: `jit/arm64/${p.object.replace(/\.o$/, "")}.${p.prog}` });
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

/** The kernel's layout and xlated instructions of a recording (hidden default callback last). */
export function recordedLayout(stem: string): JitInput {
  const cb = join(FIXTURES, `${stem}.default_cb.info`);
  return readJitInfo(
    readFileSync(join(FIXTURES, `${stem}.info`), "utf8"),
    new Uint8Array(readFileSync(join(FIXTURES, `${stem}.xlated.bin`))),
    existsSync(cb) ? readFileSync(cb, "utf8") : undefined,
  );
}

const specs = new Map<string, ObjectSpec>();

/** The object of a recorded program, opened as the runtime opens it (cached). */
export function recordedObject(r: RecordedProgram): ObjectSpec {
  const key = `${r.dir}/${r.object}`;
  let s = specs.get(key);
  if (s === undefined) {
    s = openObjectSpec(new Uint8Array(readFileSync(join(FIXTURES, r.dir, r.object))), { fileName: r.object });
    specs.set(key, s);
  }
  return s;
}
