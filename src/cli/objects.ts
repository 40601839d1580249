/**
 * Loading BPF objects for the CLI: read the file, build the ObjectSpec the way libbpf opens it,
 * and instantiate it on the runtime with an engine, as `bpftool prog loadall` would.
 */
import { Interpreter } from "../interp/index.ts";
import type { ObjectSpec } from "../object/spec.ts";
import type { EngineFactory } from "../runtime/engine.ts";
import { loadKernelBtf } from "../runtime/kernel-btf/index.ts";
import { BpfObject, openObjectSpec } from "../runtime/object.ts";
import { readBytes } from "./files.ts";

/** The engines `--engine` accepts, by name. */
export const OBJECT_ENGINES: Readonly<Record<string, EngineFactory>> = {
  interp: (program, options) => new Interpreter(program, options),
};

/**
 * Reads `path` and builds its ObjectSpec (throws ElfError, BtfError or LoadError); CO-RE
 * relocations are applied against `btfPath` (e.g. /sys/kernel/btf/vmlinux) or, by default, the
 * bundled BTF of the modelled kernel (Linux 6.12.117).
 */
export function readObjectSpec(path: string, btfPath?: string): ObjectSpec {
  return openObjectSpec(readBytes(path), { fileName: path, targetBtf: loadKernelBtf(btfPath) });
}

/** Instantiates an object: maps created and filled, programs prepared for `engine`. */
export function instantiate(spec: ObjectSpec, engine: EngineFactory, budget?: number): BpfObject {
  return BpfObject.load(spec, { engine, budget });
}
