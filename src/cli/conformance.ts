/**
 * `tsbpf conformance`: runs the bpf_conformance suite (the bundled copy by default) on an
 * engine, one line per file and the summary `N passed, M failed`; exit code 1 on any failure.
 */
import { existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { conformanceEngine, formatConformanceReport, runConformanceDir } from "../conformance/runner.ts";
import { UsageError } from "../errors.ts";
import { parse } from "./args.ts";
import { type Io, paint, writeJson } from "./output.ts";

/** The vendored suite, found relative to this module in both src/ and dist/. */
export const BUNDLED_CONFORMANCE_DIR = fileURLToPath(
  new URL("../../third_party/bpf_conformance/tests", import.meta.url),
);

export const CONFORMANCE_USAGE = `usage: tsbpf conformance [DIR] [--engine interp] [--filter TEXT] [--json]

Runs every .data file of DIR (default: the bundled bpf_conformance tests) and prints
PASS/FAIL per file and "N passed, M failed". Exit code 1 if any file fails.
`;

/** Runs `tsbpf conformance`; returns the exit code. */
export function conformanceCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse(argv, {
    engine: { type: "string", default: "interp" },
    filter: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    io.out(CONFORMANCE_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError("give at most one directory");
  const dir = positionals[0] ?? BUNDLED_CONFORMANCE_DIR;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory`);
  const engine = conformanceEngine(values.engine);
  const filter = values.filter;
  const report = runConformanceDir(dir, engine, filter ? { filter: (f) => f.includes(filter) } : {});
  if (report.results.length === 0) throw new UsageError(`no .data files in ${dir}`);
  if (values.json) {
    writeJson(io, report);
  } else {
    const text = formatConformanceReport(report.results);
    io.out(
      text
        .split("\n")
        .map((l) => (l.startsWith("PASS ") ? paint(io, "green", l) : l.startsWith("FAIL ") ? paint(io, "red", l) : l))
        .join("\n"),
    );
  }
  return report.failed === 0 ? 0 : 1;
}
