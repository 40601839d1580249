/**
 * The listing `llvm-objdump-19 -d --no-show-raw-insn OBJ` prints for a BPF object, byte for byte.
 *
 * This sits on the `object` layer: it combines the ELF reader (sections, symbols) with the ISA
 * disassembler (`disasmInsn`, which owns the text of each instruction) and reproduces the layout
 * of llvm-objdump's `disassembleObject` (llvm/tools/llvm-objdump/llvm-objdump.cpp, LLVM 19):
 *
 *     <NL>FILE:<TAB>file format elf64-bpf<NL>           (elf64-bpf for both byte orders)
 *     <NL>Disassembly of section NAME:<NL>              (per executable, non-empty section)
 *     <NL>0000000000000000 <sym>:<NL>                    (per run of code between symbols)
 *            0:<TAB>r0 = 0x0<NL>                         (slot = address / 8, width 8)
 *
 * The rules, as LLVM applies them:
 *
 * - Sections: every section with SHF_EXECINSTR, in table order, except SHT_NOBITS ones and
 *   empty ones. The null section type is skipped here too (LLVM would dump file bytes for a
 *   malformed executable SHT_NULL; no real object has one).
 * - Labels: symbols of the first SHT_SYMTAB with a name, other than the null symbol, STT_FILE
 *   and STT_SECTION, grouped by their section and sorted by (address, name, type). A section
 *   without a symbol at its start gets a dummy label named after the section. Code between two
 *   label addresses is a chunk; one label is printed per address: the last one in sort order
 *   that is not STT_OBJECT/STT_COMMON, or the last one when all are data.
 * - A chunk whose labels are all STT_OBJECT/STT_COMMON is dumped as data: rows of up to 8 bytes,
 *   `%8x:` byte address, ` xx` per byte, padding, then the printable ASCII.
 * - Runs of 8 or more zero bytes inside a code chunk print as `\t\t...` and skip the run
 *   rounded down to a multiple of 4 (so decoding may continue off the 8-byte grid).
 * - Bytes that do not decode print `<unknown>` and skip 8 bytes; an LD_IMM64 that would
 *   decode but has fewer than 16 bytes left in the section, and a tail shorter than 8 bytes,
 *   print `<unknown>` and skip one byte.
 * - Branch targets (`goto`, `gotol`, conditional jumps, `may_goto`; never calls) get
 *   ` <sym>` or ` <sym+0xN>`: the last label at or below the target address among the section's
 *   labels (data labels and the dummy included), else among symbols without a section; the
 *   arithmetic is unsigned 64-bit, so a target before address 0 wraps to the last label. In
 *   files other than ET_REL the labels searched first are those of the sections at the highest
 *   address at or below the target, dummies only for sections already listed.
 * - When the symbol table gives no label in any section, SHT_DYNSYM symbols are used instead.
 */
import {
  EM_BPF,
  ET_REL,
  SHF_EXECINSTR,
  SHN_ABS,
  SHN_COMMON,
  SHN_UNDEF,
  SHT_DYNSYM,
  SHT_NOBITS,
  SHT_NULL,
  STT_COMMON,
  STT_FILE,
  STT_FUNC,
  STT_OBJECT,
  STT_SECTION,
} from "../elf/constants.ts";
import type { ElfFile, ElfSection, ElfSymbol } from "../elf/reader.ts";
import { ElfError } from "../errors.ts";
import { disasmInsn, insnSlots, UNKNOWN } from "../isa/disasm.ts";
import { type DecodedProgram, decodeProgram, INSN_SIZE } from "../isa/insn.ts";

/** Options of {@link objdumpListing}. */
export interface ListingOptions {
  /** The file name llvm-objdump prints in its header: the path as given on its command line. */
  fileName?: string;
  /** Print sub-64-bit memory operations with `w` registers, as `llvm-objdump --mattr=+alu32`. */
  alu32?: boolean;
}

/** A label as llvm-objdump's SymbolInfoTy: address, name and ELF symbol type. */
interface Label {
  readonly addr: number;
  readonly name: string;
  readonly type: number;
}

/** Branch offsets reach at most 2^31 slots either way; addresses stay exact below this. */
const ADDRESS_LIMIT = Number.MAX_SAFE_INTEGER - 2 ** 36;
const TWO_64 = 1n << 64n;

/** StringRef ordering (bytewise UTF-8), which is code-point order. */
function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function compareLabels(a: Label, b: Label): number {
  return a.addr - b.addr || compareNames(a.name, b.name) || a.type - b.type;
}

/** LLVM's `ELFObjectFile::getSymbolAddress` (section address added in ET_REL files). */
function symbolAddress(elf: ElfFile, s: ElfSymbol, dynamic: boolean): number {
  let v = s.value;
  if (s.shndx === SHN_UNDEF) v = 0;
  else if ((s.type === STT_COMMON || s.shndx === SHN_COMMON) && !dynamic) v = s.size;
  if (s.shndx === SHN_UNDEF || s.shndx === SHN_COMMON || s.shndx === SHN_ABS) return v;
  if (elf.type === ET_REL && s.section !== undefined) v += s.section.addr;
  if (v > ADDRESS_LIMIT) {
    throw new ElfError(`symbol ${s.index} address 0x${v.toString(16)} is too large to list`, {
      section: s.sectionName,
    });
  }
  return v;
}

/**
 * Every label of the file, as llvm-objdump's AllSymbols/AbsoluteSymbols. `bySection` is updated
 * in place when a section gets its dummy label, which later branch lookups then see (as in LLVM).
 */
interface Labels {
  readonly bySection: Map<number, Label[]>;
  readonly absolute: Label[];
  /** For files other than ET_REL: sections sorted by (address, size), where branch targets are looked up. */
  readonly byAddress: readonly ElfSection[] | undefined;
}

function collectLabels(elf: ElfFile): Labels {
  const bySection = new Map<number, Label[]>();
  const absolute: Label[] = [];
  for (const s of elf.symbols) {
    if (s.name === "" || s.index === 0 || s.type === STT_FILE || s.type === STT_SECTION) continue;
    const label = { addr: symbolAddress(elf, s, false), name: s.name, type: s.type };
    if (s.section === undefined) absolute.push(label);
    else push(bySection, s.section.index, label);
  }
  const dynsym = elf.sections.find((s) => s.type === SHT_DYNSYM);
  if (bySection.size === 0 && dynsym !== undefined) {
    for (const s of elf.symbolTable(dynsym)) {
      if (s.type === STT_SECTION || s.name === "" || s.section === undefined) continue;
      push(bySection, s.section.index, { addr: symbolAddress(elf, s, true), name: s.name, type: s.type });
    }
  }
  for (const list of bySection.values()) list.sort(compareLabels);
  absolute.sort(compareLabels);
  const byAddress =
    elf.type === ET_REL ? undefined : [...elf.sections].sort((a, b) => a.addr - b.addr || a.size - b.size);
  return { bySection, absolute, byAddress };
}

function push(map: Map<number, Label[]>, key: number, label: Label): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [label]);
  else list.push(label);
}

/** Index of the last label whose address is at or below `addr`, or -1. */
function lastAtOrBelow(labels: readonly Label[], addr: number): number {
  let lo = 0;
  let hi = labels.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (labels[mid].addr <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * The label lists llvm-objdump searches for a branch target, in order: in a relocatable file the
 * current section's, else those of the sections at the highest address at or below the target;
 * then the symbols without a section.
 */
function targetLists(all: Labels, current: readonly Label[], target: number): (readonly Label[])[] {
  const secs = all.byAddress;
  if (secs === undefined) return [current, all.absolute];
  const lists: (readonly Label[])[] = [];
  let i = secs.length;
  if (target >= 0) {
    let lo = 0;
    while (lo < i) {
      const mid = (lo + i) >>> 1;
      if (secs[mid].addr <= target) lo = mid + 1;
      else i = mid;
    }
  }
  let first: number | undefined;
  while (i > 0) {
    i--;
    // LLVM keeps re-reading the address while it is 0, so all sections at 0 qualify.
    if (first === undefined || first === 0) first = secs[i].addr;
    if (secs[i].addr !== first) break;
    lists.push(all.bySection.get(secs[i].index) ?? []);
  }
  lists.push(all.absolute);
  return lists;
}

/** The ` <...>` text for branch target address `target` (negative means wrapped past 2^64). */
function targetName(target: number, all: Labels, current: readonly Label[]): string | undefined {
  for (const list of targetLists(all, current, target)) {
    if (list.length === 0) continue;
    if (target < 0) {
      const s = list[list.length - 1];
      return `${s.name}+0x${(TWO_64 + BigInt(target) - BigInt(s.addr)).toString(16)}`;
    }
    const i = lastAtOrBelow(list, target);
    if (i < 0) continue;
    const s = list[i];
    return target === s.addr ? s.name : `${s.name}+0x${(target - s.addr).toString(16)}`;
  }
  return undefined;
}

const hex = (n: number, width: number, fill: string): string => n.toString(16).padStart(width, fill);

/** llvm-objdump's `dumpELFData`: 8 bytes per row, hex then printable ASCII. */
function dumpData(out: string[], sectionAddr: number, start: number, end: number, bytes: Uint8Array): void {
  let row = "";
  let ascii = "";
  let n = 0;
  for (let i = start; i < end; i++) {
    if (n === 0) row = `${hex(sectionAddr + i, 8, " ")}:`;
    const b = bytes[i];
    row += ` ${hex(b, 2, "0")}`;
    ascii += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : ".";
    n++;
    if (i === end - 1 || n === 8) {
      out.push(`${row}${" ".repeat(3 * (8 - n))}         ${ascii}\n`);
      n = 0;
      ascii = "";
    }
  }
}

/** Number of zero bytes llvm-objdump skips at `start` (`countSkippableZeroBytes`), 0 if fewer than 8. */
function skippableZeros(bytes: Uint8Array, start: number, end: number): number {
  let n = 0;
  while (start + n < end && bytes[start + n] === 0) n++;
  return n < 8 ? 0 : n & ~3;
}

/** Decoded views of a section's bytes at any byte position, for the disassembler. */
class SectionCode {
  readonly bytes: Uint8Array;
  readonly bigEndian: boolean;
  /** The slots on the 8-byte grid. */
  readonly aligned: DecodedProgram;

  constructor(bytes: Uint8Array, bigEndian: boolean) {
    this.bytes = bytes;
    this.bigEndian = bigEndian;
    this.aligned = decodeProgram(bytes.subarray(0, bytes.length - (bytes.length % INSN_SIZE)), { bigEndian });
  }

  /** The program and slot to disassemble at byte `index` (which needs at least 8 bytes left). */
  at(index: number): { p: DecodedProgram; pc: number } {
    if (index % INSN_SIZE === 0) return { p: this.aligned, pc: index / INSN_SIZE };
    const len = Math.min(2 * INSN_SIZE, this.bytes.length - index);
    const p = decodeProgram(this.bytes.subarray(index, index + len - (len % INSN_SIZE)), { bigEndian: this.bigEndian });
    return { p, pc: 0 };
  }

  /** True when the slot at `index` is an LD_IMM64 LLVM would decode given its second slot. */
  isWideAt(index: number): boolean {
    const two = new Uint8Array(2 * INSN_SIZE);
    two.set(this.bytes.subarray(index, index + INSN_SIZE));
    return insnSlots(decodeProgram(two, { bigEndian: this.bigEndian }), 0) === 2;
  }
}

/** Appends the disassembly of code chunk [start, end) of a section. */
function listCode(
  out: string[],
  code: SectionCode,
  sectionAddr: number,
  start: number,
  end: number,
  all: Labels,
  labels: readonly Label[],
  alu32: boolean,
): void {
  const bytes = code.bytes;
  let index = start;
  while (index < end) {
    const zeros = skippableZeros(bytes, index, end);
    if (zeros > 0) {
      out.push("\t\t...\n");
      index += zeros;
      continue;
    }
    const slot = `${String(Math.floor((sectionAddr + index) / INSN_SIZE)).padStart(8)}:\t`;
    const left = bytes.length - index;
    let text = UNKNOWN;
    let size = 1;
    if (left >= INSN_SIZE) {
      const { p, pc } = code.at(index);
      if (pc + 1 >= p.length && code.isWideAt(index)) {
        // LLVM reports size 0 for an LD_IMM64 cut short; llvm-objdump then skips one byte.
        size = 1;
      } else {
        const base = sectionAddr + index - pc * INSN_SIZE;
        text = disasmInsn(p, pc, {
          alu32,
          symbolize: (targetPc) => targetName(base + targetPc * INSN_SIZE, all, labels),
        });
        size = text !== UNKNOWN && insnSlots(p, pc) === 2 ? 2 * INSN_SIZE : INSN_SIZE;
      }
    }
    out.push(slot, text, "\n");
    index += size;
  }
}

/** Appends the listing of one executable section (nothing when no chunk is printed). */
function listSection(out: string[], elf: ElfFile, sec: ElfSection, all: Labels, alu32: boolean): void {
  const sectionAddr = sec.addr;
  const sectSize = sec.size;
  if (sectionAddr + sectSize > ADDRESS_LIMIT) {
    throw new ElfError(`section address range 0x${sectionAddr.toString(16)} is too large to list`, {
      section: sec.label,
    });
  }
  let labels = all.bySection.get(sec.index);
  if (labels === undefined) {
    labels = [];
    all.bySection.set(sec.index, labels);
  }
  // LLVM looks only at the first label: sorted, it is the lowest address.
  if (labels.length === 0 || labels[0].addr !== sectionAddr) {
    const dummy = { addr: sectionAddr, name: sec.name, type: STT_FUNC };
    const at = labels.findIndex((l) => compareLabels(l, dummy) >= 0);
    labels.splice(at < 0 ? labels.length : at, 0, dummy);
  }
  const code = new SectionCode(sec.data(), elf.bigEndian);
  let printedSection = false;
  for (let si = 0; si < labels.length; ) {
    const first = si;
    const chunkAddr = labels[si].addr;
    while (si < labels.length && labels[si].addr === chunkAddr) si++;
    // The label shown: the last code (non-data) label here, else the last one.
    let shown = si - 1;
    let asData = true;
    for (let i = first; i < si; i++) {
      if (labels[i].type !== STT_OBJECT && labels[i].type !== STT_COMMON) {
        asData = false;
        shown = i;
      }
    }
    if (chunkAddr < sectionAddr) continue;
    let end = sectionAddr + sectSize;
    if (si < labels.length) end = Math.min(end, labels[si].addr);
    if (chunkAddr >= end) continue;
    const start = chunkAddr - sectionAddr;
    end -= sectionAddr;
    if (!printedSection) {
      printedSection = true;
      out.push(`\nDisassembly of section ${sec.name}:\n`);
    }
    out.push(`\n${hex(chunkAddr, 16, "0")} <${labels[shown].name}>:\n`);
    if (asData) dumpData(out, sectionAddr, start, end, code.bytes);
    else listCode(out, code, sectionAddr, start, end, all, labels, alu32);
  }
}

/**
 * The text `llvm-objdump-19 -d --no-show-raw-insn FILE` prints for a BPF ELF object (see the
 * module comment for the layout rules; instruction texts are `disasmInsn`'s default ones, never
 * lossless, so LLVM 19's `<unknown>` and misprinted atomics stay as LLVM prints them). Throws
 * {@link ElfError} for a non-BPF machine, for malformed symbol tables and for addresses beyond 2^53.
 */
export function objdumpListing(elf: ElfFile, opts: ListingOptions = {}): string {
  if (elf.machine !== EM_BPF) {
    throw new ElfError(`e_machine ${elf.machine} is not EM_BPF (${EM_BPF}); only BPF code can be listed`, {
      offset: 18,
    });
  }
  const out: string[] = [`\n${opts.fileName ?? "a.out"}:\tfile format elf64-bpf\n`];
  const labels = collectLabels(elf);
  for (const sec of elf.sections) {
    if ((sec.flags & SHF_EXECINSTR) === 0 || sec.type === SHT_NOBITS || sec.type === SHT_NULL || sec.size === 0) {
      continue;
    }
    listSection(out, elf, sec, labels, opts.alu32 === true);
  }
  return out.join("");
}
