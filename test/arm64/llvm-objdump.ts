// Runs llvm-objdump-19 on raw AArch64 bytes: the independent truth the disassembler tests compare
// with. Every image becomes one `.text` section (SHF_ALLOC|SHF_EXECINSTR, sh_addr = its address)
// of a relocatable ELF without symbols, so llvm-objdump shows each at its real address with only
// its dummy section symbol for branch-target annotations. No --mattr: llvm-objdump-19 enables
// every AArch64 extension by default. One llvm-objdump process handles any number of images.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const OBJDUMP = "llvm-objdump-19";

/** Whether llvm-objdump-19 can be run. */
export function haveObjdump(): boolean {
  return spawnSync(OBJDUMP, ["--version"], { encoding: "utf8" }).status === 0;
}

export interface Image {
  bytes: Uint8Array;
  address: bigint;
}

/** A relocatable little-endian AArch64 ELF with one `.text` section per image. */
export function buildElf(images: readonly Image[]): Uint8Array {
  const shstr = new TextEncoder().encode("\0.text\0.shstrtab\0");
  const align = (n: number, a: number) => Math.ceil(n / a) * a;
  let off = 64;
  const placed = images.map((im) => {
    const at = off;
    off = align(off + im.bytes.length, 4);
    return at;
  });
  const shstrOff = off;
  const shoff = align(shstrOff + shstr.length, 8);
  const nsec = images.length + 2;
  const out = new Uint8Array(shoff + nsec * 64);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELFCLASS64, little-endian, EV_CURRENT
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, 183, true); // EM_AARCH64
  v.setUint32(20, 1, true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, nsec, true);
  v.setUint16(62, nsec - 1, true);
  const section = (i: number, name: number, type: number, flags: bigint, addr: bigint, at: number, size: number) => {
    const b = shoff + i * 64;
    v.setUint32(b, name, true);
    v.setUint32(b + 4, type, true);
    v.setBigUint64(b + 8, flags, true);
    v.setBigUint64(b + 16, addr, true);
    v.setBigUint64(b + 24, BigInt(at), true);
    v.setBigUint64(b + 32, BigInt(size), true);
    v.setBigUint64(b + 48, type === 1 ? 4n : 1n, true);
  };
  images.forEach((im, i) => {
    out.set(im.bytes, placed[i]);
    section(i + 1, 1, 1 /* PROGBITS */, 6n /* ALLOC|EXECINSTR */, im.address, placed[i], im.bytes.length);
  });
  out.set(shstr, shstrOff);
  section(nsec - 1, 7, 3 /* STRTAB */, 0n, 0n, shstrOff, shstr.length);
  return out;
}

/** The instruction lines (no headers) llvm-objdump-19 -d prints for each image. */
export function llvmObjdumpImages(images: readonly Image[]): string[][] {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-a64-"));
  try {
    const obj = join(dir, "images.o");
    writeFileSync(obj, buildElf(images));
    const od = spawnSync(OBJDUMP, ["-d", obj], { encoding: "utf8", maxBuffer: 1 << 28 });
    if (od.status !== 0) throw new Error(`${OBJDUMP} failed: ${od.stderr}`);
    const parts = od.stdout.split("Disassembly of section ").slice(1);
    if (parts.length !== images.length) throw new Error(`expected ${images.length} sections, got ${parts.length}`);
    return parts.map((p) => p.split("\n").filter((l) => /^ *[0-9a-f]+: [0-9a-f]{8} /.test(l)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Little-endian bytes of instruction words. */
export function wordsToBytes(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  for (const [i, w] of words.entries()) view.setUint32(i * 4, w >>> 0, true);
  return out;
}
