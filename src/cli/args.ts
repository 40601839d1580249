/**
 * Argument parsing for the CLI on top of Node's `util.parseArgs`, turning its errors into
 * `UsageError`s so every bad command line ends in a clear message and exit code 2.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What {@link parse} returns for an options table `O`. */
export type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** Parses `argv` against `options`; positionals are allowed. */
export function parse<O extends Options>(argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Parses a non-negative integer option value. */
export function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(value))
    throw new UsageError(`--${name}: expected a non-negative integer, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${name}: ${value} is too large`);
  return n;
}

/** Parses hex bytes (`"11 22 33"`, `"112233"`, `"0x11,0x22"`). */
export function hexBytes(value: string, name: string): Uint8Array {
  const tokens = value
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((t) => t.replace(/^0x/i, ""));
  const joined = tokens.every((t) => t.length <= 2) ? tokens.map((t) => t.padStart(2, "0")).join("") : tokens.join("");
  if (joined.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(joined)) {
    throw new UsageError(`--${name}: expected hex bytes such as "11 22 33" or "112233"`);
  }
  const out = new Uint8Array(joined.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(joined.slice(i * 2, i * 2 + 2), 16);
  return out;
}
