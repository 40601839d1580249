/**
 * ELF64 object files: a checked reader for sections, symbols, strings and relocations, and the
 * constants it is spelled in. See `reader.ts` for the guarantees.
 */
export * from "./constants.ts";
export {
  ElfFile,
  type ElfHeader,
  type ElfRel,
  type ElfRela,
  type ElfRelocation,
  ElfSection,
  type ElfSymbol,
  readElf,
} from "./reader.ts";
