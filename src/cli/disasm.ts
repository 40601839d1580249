/**
 * `tsbpf disasm FILE`: disassembles raw bytecode, or every code section of an ELF object, in
 * llvm-objdump-19's layout (`<slot, right-aligned>:<TAB><text>`), so that the instruction lines
 * equal those of `llvm-objdump-19 -d --no-show-raw-insn`.
 */
import { basename } from "node:path";
import { type ElfFile, readElf, SHF_EXECINSTR, STT_FUNC } from "../elf/index.ts";
import { UsageError } from "../errors.ts";
import { type DisasmOptions, disasmProgram } from "../isa/disasm.ts";
import { decodeProgram } from "../isa/insn.ts";
import { objdumpListing } from "../object/listing.ts";
import { parse } from "./args.ts";
import { readBytes } from "./files.ts";
import { type Io, writeJson } from "./output.ts";

export const DISASM_USAGE = `usage: tsbpf disasm FILE [--alu32] [--lossless] [--json]

Disassembles FILE: an ELF object (every executable section, as llvm-objdump -d prints it) or raw
bytecode (8-byte little-endian slots). The text is llvm-objdump-19's, to the letter.
  --alu32      w-register forms, as llvm-objdump-19 --mattr=+alu32
  --lossless   raw bytecode and --json only: show every field (call pc+N, call kfunc N,
               ld_pseudo high word) and the true text of atomics LLVM 19 misdecodes;
               the assembler reads it back to the same bytes
  --json       {"file", "sections": [{"name", "functions", "insns": [{"pc", "text"}]}]}
`;

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** Runs `tsbpf disasm`; returns the exit code. */
export function disasmCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse(argv, {
    alu32: { type: "boolean", default: false },
    lossless: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    io.out(DISASM_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("give exactly one FILE");
  const file = positionals[0];
  const bytes = readBytes(file);
  const opts = { alu32: values.alu32, lossless: values.lossless };
  if (ELF_MAGIC.every((b, i) => bytes[i] === b)) {
    const elf = readElf(bytes);
    if (values.json) {
      writeJson(io, { file, sections: objectSections(elf, opts) });
    } else {
      if (values.lossless) throw new UsageError("--lossless applies to raw bytecode and --json output");
      io.out(objdumpListing(elf, { fileName: file, alu32: values.alu32 }));
    }
    return 0;
  }
  const lines = disasmProgram(decodeProgram(bytes), opts);
  if (values.json) {
    writeJson(io, { file: basename(file), insns: lines });
  } else {
    for (const l of lines) io.out(`${String(l.pc).padStart(8)}:\t${l.text}\n`);
  }
  return 0;
}

/** The code sections of an object with their functions and instructions, for `--json`. */
function objectSections(elf: ElfFile, opts: DisasmOptions) {
  return elf.sections
    .filter((s) => (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0)
    .map((s) => {
      const program = decodeProgram(s.data().subarray(0, s.data().length - (s.data().length % 8)), {
        bigEndian: elf.bigEndian,
      });
      const functions = elf.symbols
        .filter((sym) => sym.type === STT_FUNC && sym.section === s)
        .map((sym) => ({ name: sym.name, pc: sym.value / 8, size: sym.size / 8 }));
      return { name: s.name, functions, insns: disasmProgram(program, opts) };
    });
}
