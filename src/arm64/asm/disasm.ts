/**
 * AArch64 disassembler whose text equals llvm-objdump-19's.
 *
 * The reference is `llvm-objdump-19 -d image.o` where image.o is a relocatable AArch64 ELF with
 * no symbols whose `.text` section (SHF_ALLOC|SHF_EXECINSTR) holds the bytes at sh_addr =
 * the image's address (test/arm64/llvm-objdump.ts builds it; test/fixtures/arm64/record-llvm.sh
 * records with it). It runs without `--mattr`: llvm-objdump-19 enables every AArch64 extension by default, so LSE
 * atomics, pointer authentication, BTI and the other hint names decode as they would in an
 * `llvm-objdump -d vmlinux`. Immediates come out in hex because llvm-objdump turns on
 * `--print-imm-hex`; PC-relative operands print as absolute addresses.
 *
 * Coverage: every instruction form the Linux arm64 BPF JIT emits and the integer / memory /
 * branch / system groups around them (see decodeDpImm, decodeDpReg, decodeLdSt,
 * decodeBranchSys). FP/SIMD data processing, SVE/SME and the remaining system space decode to
 * `<unknown>` here even where llvm knows them.
 */

import { A64DecodeError } from "../../errors.ts";
import { decodeBranchSys } from "./disasm-branch.ts";
import { bits, type Decoded } from "./disasm-common.ts";
import { decodeDpImm, decodeDpReg } from "./disasm-dp.ts";
import { decodeLdSt } from "./disasm-ldst.ts";

/** One disassembled instruction. */
export interface A64Line {
  address: bigint;
  /** The instruction word (unsigned 32-bit). */
  word: number;
  /** `mnemonic TAB operands` exactly as llvm-objdump prints it, e.g. `add\tx9, x30, #0x0`. */
  text: string;
  /** llvm's trailing comment without the `// ` (e.g. `=65536` after `mov x0, #0x10000`). */
  comment?: string;
  /** Absolute address named by a PC-relative operand; llvm-objdump annotates it `<sym+off>`. */
  target?: bigint;
}

/** What llvm-objdump prints for a word its disassembler rejects. */
export const UNKNOWN = "<unknown>";

/** Decodes one word; null when it is outside the supported encodings. */
export function decodeA64(word: number, address: bigint): Decoded | null {
  const w = word >>> 0;
  const op0 = bits(w, 25, 4);
  if ((op0 & 0b1110) === 0b1000) return decodeDpImm(w, address);
  if ((op0 & 0b1110) === 0b1010) return decodeBranchSys(w, address);
  if ((op0 & 0b0101) === 0b0100) return decodeLdSt(w, address);
  if ((op0 & 0b0111) === 0b0101) return decodeDpReg(w);
  if (op0 === 0 && bits(w, 16, 16) === 0) return { text: `udf\t#0x${bits(w, 0, 16).toString(16)}` };
  return null;
}

/**
 * One instruction as text: llvm-objdump's `mnemonic TAB operands`; a trailing comment llvm
 * prints (only the `mov` immediate aliases have one) follows after ` // `, single-spaced here
 * because its column depends on the line (formatObjdump pads it as llvm does).
 */
export function disasmA64(word: number, address: bigint): string {
  const d = decodeA64(word, address);
  if (!d) return UNKNOWN;
  return d.comment !== undefined ? `${d.text} // ${d.comment}` : d.text;
}

/** Disassembles a little-endian image whose first byte is at `address`. */
export function disasmA64Image(bytes: Uint8Array, address: bigint): A64Line[] {
  if (bytes.length % 4 !== 0) {
    const offset = bytes.length - (bytes.length % 4);
    throw new A64DecodeError(offset, `image length ${bytes.length} is not a multiple of 4`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: A64Line[] = [];
  for (let off = 0; off < bytes.length; off += 4) {
    const word = view.getUint32(off, true);
    const addr = BigInt.asUintN(64, address + BigInt(off));
    const d = decodeA64(word, addr);
    const line: A64Line = { address: addr, word, text: d ? d.text : UNKNOWN };
    if (d?.comment !== undefined) line.comment = d.comment;
    if (d?.target !== undefined) line.target = d.target;
    out.push(line);
  }
  return out;
}

/** Options of formatObjdump. */
export interface ObjdumpFormatOptions {
  /** Symbol branch targets are annotated against (llvm-objdump's dummy section symbol). */
  symbol?: string;
  /** Address of that symbol; defaults to the first line's address. */
  symbolAddress?: bigint;
}

/**
 * Column after `text` once written from column `col`, counted the way llvm's
 * formatted_raw_ostream counts: a tab advances to the next multiple of 8 but advances by nothing
 * at a multiple of 8 (`Column += (8 - (Column & 7)) & 7`). The comment padding inherits that
 * quirk, so after an 8-letter mnemonic the comment lands one tab stop further right.
 */
function advance(col: number, text: string): number {
  for (const ch of text) col = ch === "\t" ? col + ((8 - (col & 7)) & 7) : col + 1;
  return col;
}

/**
 * The instruction lines of `llvm-objdump-19 -d` for these bytes (no file/section headers), one
 * per line with a trailing newline, e.g.
 * `ffff800082643d48: 910003c9     \tadd\tx9, x30, #0x0`.
 *
 * Layout as llvm-objdump computes it: the address `%8x`, `: `, the word as 8 hex digits, spaces
 * up to column 23 (or to the tab stop after it), a tab, the text; PC-relative targets get
 * ` <.text+0xOFF>` when the target is at or above the section start (llvm's dummy section
 * symbol is the only symbol of a stripped object; nothing precedes it); comments are padded to
 * column 56.
 */
export function formatObjdump(lines: A64Line[], opts: ObjdumpFormatOptions = {}): string {
  const symbol = opts.symbol ?? ".text";
  const base = opts.symbolAddress ?? lines[0]?.address ?? 0n;
  let out = "";
  for (const l of lines) {
    let s = `${l.address.toString(16).padStart(8, " ")}: ${(l.word >>> 0).toString(16).padStart(8, "0")}`;
    const col = s.length;
    s += " ".repeat(col < 23 ? 23 - col : 7 - (col % 8));
    s += `\t${l.text}`;
    if (l.target !== undefined && l.target >= base) {
      // llvm names the last symbol at or below the target; below the section there is none.
      const disp = l.target - base;
      s += disp === 0n ? ` <${symbol}>` : ` <${symbol}+0x${disp.toString(16)}>`;
    }
    if (l.comment !== undefined) {
      const c = advance(0, s);
      s += `${" ".repeat(Math.max(56 - c, 1))}// ${l.comment}`;
    }
    out += `${s}\n`;
  }
  return out;
}
