/**
 * The object layer's public API: reading a BPF ELF object into a deterministic ObjectSpec the
 * way libbpf does (`loadObjectSpec`), libbpf's program-section table (`sectionInfo`), the
 * names libbpf derives for objects and global-data maps, the spec types, the uapi numbers they
 * are written in, and the llvm-objdump listing of an object.
 */
export { internalMapName, type LoadOptions, loadObjectSpec, objectName } from "./loader.ts";
export { SECTION_DEFS, type SectionInfo, sectionInfo } from "./sections.ts";
export * from "./spec.ts";
export * from "./uapi.ts";
