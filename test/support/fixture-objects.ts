// The fixture objects the fuzzers take their programs from.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TsbpfError } from "../../src/errors.ts";
import type { ObjectSpec } from "../../src/object/spec.ts";
import { openObjectSpec } from "../../src/runtime/object.ts";

/** An object file of a fixture directory, opened as the runtime opens it. */
export interface FixtureObject {
  readonly dir: string;
  readonly file: string;
  readonly spec: ObjectSpec;
}

/**
 * Every `.o` of the directories `dirs` under `fixtures` that opens, directory by directory in
 * name order, and how many did not (a few are there to fail to load).
 */
export function openFixtureObjects(
  fixtures: string,
  dirs: readonly string[],
): { opened: FixtureObject[]; unopened: number } {
  const opened: FixtureObject[] = [];
  let unopened = 0;
  for (const dir of dirs) {
    for (const file of readdirSync(join(fixtures, dir)).sort()) {
      if (!file.endsWith(".o")) continue;
      try {
        opened.push({
          dir,
          file,
          spec: openObjectSpec(new Uint8Array(readFileSync(join(fixtures, dir, file))), { fileName: file }),
        });
      } catch (e) {
        if (!(e instanceof TsbpfError)) throw e;
        unopened++;
      }
    }
  }
  return { opened, unopened };
}
