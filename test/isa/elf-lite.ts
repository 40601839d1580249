// A minimal, test-only ELF64 reader and writer for the isa tests, so they do not depend on
// src/elf (a higher layer). It reads section headers, names and the symbol table of the fixture
// objects, and writes the smallest EM_BPF relocatable object llvm-objdump-19 disassembles: one
// executable section holding raw instruction bytes (llvm-objcopy-19 cannot emit elf64-bpf from
// `-I binary`, and one file write is faster than an llvm-mc run).

export const SHF_EXECINSTR = 0x4;
export const SHT_SYMTAB = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
const EM_BPF = 247;

export interface LiteSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  data: Uint8Array;
}

export interface LiteSymbol {
  name: string;
  value: number;
  type: number;
  shndx: number;
}

export interface LiteElf {
  bigEndian: boolean;
  sections: LiteSection[];
  symbols: LiteSymbol[];
}

function cstr(bytes: Uint8Array, off: number): string {
  let end = off;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(off, end));
}

/** Reads the section table and the first symbol table of an ELF64 object. */
export function readElf(bytes: Uint8Array): LiteElf {
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46 || bytes[4] !== 2) {
    throw new Error("not an ELF64 file");
  }
  const le = bytes[5] === 1;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => v.getUint16(o, le);
  const u32 = (o: number) => v.getUint32(o, le);
  const u64 = (o: number) => Number(v.getBigUint64(o, le));
  const shoff = u64(0x28);
  const shentsize = u16(0x3a);
  const shnum = u16(0x3c);
  const shstrndx = u16(0x3e);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const b = shoff + i * shentsize;
    const type = u32(b + 4);
    const off = u64(b + 0x18);
    const size = u64(b + 0x20);
    raw.push({
      nameOff: u32(b),
      type,
      flags: u64(b + 8),
      link: u32(b + 0x28),
      data: type === 8 ? new Uint8Array(0) : bytes.subarray(off, off + size),
    });
  }
  const shstr = raw[shstrndx].data;
  const sections = raw.map((s, index) => ({
    index,
    name: cstr(shstr, s.nameOff),
    type: s.type,
    flags: s.flags,
    data: s.data,
  }));
  const symbols: LiteSymbol[] = [];
  const symtab = raw.findIndex((s) => s.type === SHT_SYMTAB);
  if (symtab >= 0) {
    const data = raw[symtab].data;
    const strtab = raw[raw[symtab].link].data;
    const sv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let o = 24; o + 24 <= data.length; o += 24) {
      symbols.push({
        name: cstr(strtab, sv.getUint32(o, le)),
        type: data[o + 4] & 0xf,
        shndx: sv.getUint16(o + 6, le),
        value: Number(sv.getBigUint64(o + 8, le)),
      });
    }
  }
  return { bigEndian: !le, sections, symbols };
}

/** Builds an EM_BPF ET_REL object with one executable section `name` holding `code`. */
export function writeCodeElf(code: Uint8Array, options: { bigEndian?: boolean; name?: string } = {}): Uint8Array {
  const le = !options.bigEndian;
  const name = options.name ?? ".text";
  const shstr = new TextEncoder().encode(`\0${name}\0.shstrtab\0`);
  const textOff = 64;
  const shstrOff = textOff + code.length;
  const shOff = (shstrOff + shstr.length + 7) & ~7;
  const out = new Uint8Array(shOff + 64 * 3);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, le ? 1 : 2, 1], 0);
  v.setUint16(16, 1, le); // ET_REL
  v.setUint16(18, EM_BPF, le);
  v.setUint32(20, 1, le);
  v.setBigUint64(40, BigInt(shOff), le);
  v.setUint16(52, 64, le);
  v.setUint16(58, 64, le);
  v.setUint16(60, 3, le);
  v.setUint16(62, 2, le);
  out.set(code, textOff);
  out.set(shstr, shstrOff);
  const sh = (i: number, nameOff: number, type: number, flags: number, off: number, size: number, align: number) => {
    const b = shOff + i * 64;
    v.setUint32(b, nameOff, le);
    v.setUint32(b + 4, type, le);
    v.setBigUint64(b + 8, BigInt(flags), le);
    v.setBigUint64(b + 24, BigInt(off), le);
    v.setBigUint64(b + 32, BigInt(size), le);
    v.setBigUint64(b + 48, BigInt(align), le);
  };
  sh(1, 1, 1, 6, textOff, code.length, 8); // PROGBITS, ALLOC|EXECINSTR
  sh(2, 2 + name.length, 3, 0, shstrOff, shstr.length, 1); // STRTAB
  return out;
}

/** Instruction lines of an llvm-objdump listing, per section name, keyed by slot index. */
export function parseObjdump(text: string): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  let cur: Map<number, string> | undefined;
  for (const line of text.split("\n")) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec) {
      cur = new Map();
      out.set(sec[1], cur);
      continue;
    }
    const m = /^\s+(\d+):\t(.*)$/.exec(line);
    if (m && cur) cur.set(Number(m[1]), m[2]);
  }
  return out;
}
