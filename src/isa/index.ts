/**
 * The ISA layer's public API: opcode constants (uapi spelling), the slot format with decoding,
 * encoding and validation, and the LLVM-syntax disassembler and assembler. Everything above this
 * layer (ELF, verifier, engines, tools) imports the instruction set from here.
 */
export * from "./asm.ts";
export * from "./disasm.ts";
export * from "./insn.ts";
export * from "./opcodes.ts";
