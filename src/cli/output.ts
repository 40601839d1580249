/**
 * Terminal output for the CLI: colours only when stdout is a terminal (and NO_COLOR is unset),
 * through Node's own `util.styleText`, and one JSON writer so `--json` output is uniform.
 */
import { styleText } from "node:util";

type Style = Parameters<typeof styleText>[0];

/** A sink the commands write to; tests capture it instead of the process streams. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when colours may be used on `out`. */
  readonly color: boolean;
}

/** The process's stdout/stderr. */
export function processIo(): Io {
  // A closed pipe (`tsbpf ... | head`) ends the output quietly, as for any Unix tool.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  };
}

/** `text` in `style` when colours are on, else plain. */
export function paint(io: Io, style: Style, text: string): string {
  return io.color ? styleText(style, text) : text;
}

/** Writes one JSON value on its own line; bigints become `0x…` strings. */
export function writeJson(io: Io, value: unknown): void {
  io.out(
    `${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `0x${BigInt.asUintN(64, v).toString(16)}` : v))}\n`,
  );
}
