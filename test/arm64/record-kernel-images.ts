// Writes test/fixtures/arm64/kernel-images.llvm.txt (run through test/fixtures/arm64/record-llvm.sh).
import { writeFileSync } from "node:fs";
import { formatGolden, GOLDEN, kernelImages } from "./kernel-images.ts";
import { llvmObjdumpImages } from "./llvm-objdump.ts";

const images = kernelImages();
const lines = llvmObjdumpImages(images);
writeFileSync(GOLDEN, formatGolden(images, lines));
console.log(`wrote ${GOLDEN}: ${images.length} images, ${lines.reduce((n, l) => n + l.length, 0)} instructions`);
