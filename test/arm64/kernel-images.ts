// The real arm64 BPF JIT images recorded from the target kernel (test/fixtures/exceptions/
// arm64-jit): every f<i>.bin, default_cb.bin and jited.bin with the address the kernel put it at,
// read from the matching .info file (`func <i> <addr> ...` lines; `ksym <addr> ...` for the hidden
// default callbacks). jited.bin is the concatenation of a program's functions and is shown at
// function 0's address, as one image.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Image } from "./llvm-objdump.ts";

export const JIT_DIR = join(import.meta.dirname, "../fixtures/exceptions/arm64-jit");
export const GOLDEN = join(import.meta.dirname, "../fixtures/arm64/kernel-images.llvm.txt");

export interface NamedImage extends Image {
  name: string;
}

function infoAddress(info: string, key: "func" | "ksym", func = 0): bigint {
  for (const line of readFileSync(join(JIT_DIR, info), "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (key === "ksym" && f[0] === "ksym") return BigInt(f[1]);
    if (key === "func" && f[0] === "func" && Number(f[1]) === func) return BigInt(f[2]);
  }
  throw new Error(`${info}: no ${key} ${func} address`);
}

/** All JIT images, sorted by file name. */
export function kernelImages(): NamedImage[] {
  const out: NamedImage[] = [];
  for (const name of readdirSync(JIT_DIR).sort()) {
    let address: bigint;
    const m = name.match(/^(.*)\.f(\d+)\.bin$/);
    if (name.endsWith(".default_cb.bin")) address = infoAddress(name.replace(/\.bin$/, ".info"), "ksym");
    else if (name.endsWith(".jited.bin")) address = infoAddress(name.replace(/\.jited\.bin$/, ".info"), "func");
    else if (m) address = infoAddress(`${m[1]}.info`, "func", Number(m[2]));
    else continue;
    out.push({ name, address, bytes: new Uint8Array(readFileSync(join(JIT_DIR, name))) });
  }
  return out;
}

/** Parses the golden file: image name -> llvm-objdump-19's instruction lines. */
export function readGolden(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] = [];
  for (const line of readFileSync(GOLDEN, "utf8").split("\n")) {
    if (line.startsWith("## ")) {
      cur = [];
      out.set(line.split(" ")[1], cur);
    } else if (line) {
      cur.push(line);
    }
  }
  return out;
}

/** Renders images and their llvm lines in the golden-file format. */
export function formatGolden(images: readonly NamedImage[], lines: readonly string[][]): string {
  return images.map((im, i) => `## ${im.name} 0x${im.address.toString(16)}\n${lines[i].join("\n")}\n`).join("");
}
