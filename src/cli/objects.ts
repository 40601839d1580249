/**
 * Loading BPF objects for the CLI: read the file, build the ObjectSpec the way libbpf opens it,
 * and instantiate it on the runtime with an engine, as `bpftool prog loadall` would.
 */
import { Interpreter } from "../interp/index.ts";
import { loadObjectSpec } from "../object/loader.ts";
import type { ObjectSpec } from "../object/spec.ts";
import type { EngineFactory } from "../runtime/engine.ts";
import { BpfObject } from "../runtime/object.ts";
import { readBytes } from "./files.ts";

/** The engines `--engine` accepts, by name. */
export const OBJECT_ENGINES: Readonly<Record<string, EngineFactory>> = {
  interp: (program, options) => new Interpreter(program, options),
};

/** Reads `path` and builds its ObjectSpec (throws ElfError, BtfError or LoadError). */
export function readObjectSpec(path: string): ObjectSpec {
  return loadObjectSpec(readBytes(path), { fileName: path });
}

/** Instantiates an object: maps created and filled, programs prepared for `engine`. */
export function instantiate(spec: ObjectSpec, engine: EngineFactory, budget?: number): BpfObject {
  return BpfObject.load(spec, { engine, budget });
}
