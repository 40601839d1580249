/**
 * The CLI as the tests drive it: `main()` with its output captured, no process spawned.
 */
import { resolve } from "node:path";
import { main } from "../../src/cli/main.ts";
import type { Io } from "../../src/cli/output.ts";

/** The repository's root. */
export const ROOT = resolve(import.meta.dirname, "../..");

/** What one CLI invocation printed and returned. */
export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `tsbpf ...argv` in-process. */
export async function cli(...argv: string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const io: Io = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    color: false,
  };
  const code = await main(argv, io);
  return { code, out, err };
}
