/**
 * BTF, the BPF Type Format: the parser and type model (`parseBtf`, `Btf`, `BtfType`), `.BTF.ext`
 * (func_info, line_info, CO-RE relocations) and CO-RE relocation against a target BTF, as libbpf
 * applies it at load time. Sits beside `elf` in the pipeline (`isa` → `elf`/`btf` → `object`).
 */
export { Btf, type BtfDeclTagRef } from "./btf.ts";
export * from "./constants.ts";
export {
  applyCoreRelocations,
  CoreRelocator,
  type CoreResult,
  patchCoreInsn,
  resolveCoreRelocation,
} from "./core.ts";
export { type CoreAccessor, type CoreSpec, essentialName, formatCoreSpec, parseCoreSpec } from "./core-spec.ts";
export { btfFromElf, type ElfBtf } from "./elf.ts";
export {
  type BtfExt,
  type BtfExtSection,
  type BtfFuncInfo,
  type BtfLineInfo,
  type CoreRelo,
  type ParseBtfExtOptions,
  parseBtfExt,
} from "./ext.ts";
export { type ParseBtfOptions, parseBtf } from "./parse.ts";
export * from "./types.ts";
export { pickBtfTypes, type WriteBtfOptions, writeBtf } from "./write.ts";
