/**
 * kernel/bpf/verifier.c v6.12 `opt_subreg_zext_lo32_rnd_hi32` as it acts on arm64: the arm64 JIT
 * zero-extends every 32-bit result itself (`bpf_jit_needs_zext()` is false there), so the only
 * explicit zero-extension the verifier adds is after a 32-bit `cmpxchg`, whose r0 result the JITs
 * leave as the old 32-bit value: when r0 is later read as a 64-bit value (`zext_dst`), a
 * `w0 = w0` (BPF_ZEXT_REG: mov32 with imm 1) follows it.
 *
 * The kernel learns "read as 64-bit" from its liveness marks on the explored paths; this model
 * follows the control flow from the cmpxchg until r0 is overwritten (every path: a 64-bit read
 * on any path counts), with the kernel's `is_reg64` rules for what reads 64 bits.
 */
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DW,
  BPF_EXIT,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD_IMM64,
  BPF_LDX,
  BPF_MOV,
  BPF_ST,
  BPF_STX,
  BPF_W,
  BPF_X,
} from "../isa/opcodes.ts";
import type { SubprogInfo } from "./env.ts";
import { type Insns, patchInsn, slot, slotAt } from "./patch.ts";

/** What instruction `i` does with r0: "read64", "read32", "write" (overwrite without reading) or "none". */
function r0Use(ins: Insns, i: number): "read64" | "write" | "none" {
  const code = ins.code[i];
  const cls = code & 0x07;
  const op = code & 0xf0;
  const dst = ins.dst[i];
  const src = ins.src[i];
  const usesSrc = (code & 0x08) === BPF_X;
  switch (cls) {
    case BPF_ALU64:
      if (usesSrc && src === 0) return "read64";
      if (dst === 0) return op === BPF_MOV ? "write" : "read64";
      return "none";
    case BPF_ALU:
      if (dst === 0 && op === BPF_MOV && !(usesSrc && src === 0)) return "write";
      if (dst === 0 && op === 0xd0 && ins.imm[i] === 64) return "read64"; // bswap64
      return "none";
    case BPF_LDX:
      if (src === 0) return "read64";
      return dst === 0 ? "write" : "none";
    case BPF_ST:
      return dst === 0 ? "read64" : "none";
    case BPF_STX:
      if (dst === 0) return "read64";
      if (src === 0 && (code & 0x18) === BPF_DW) return "read64";
      if ((code & 0xe0) === BPF_ATOMIC && (ins.imm[i] === BPF_CMPXCHG || (ins.imm[i] & 1) !== 0)) {
        return ins.imm[i] === BPF_CMPXCHG ? "write" : "none";
      }
      return "none";
    case BPF_JMP:
      if (op === BPF_EXIT) return "read64";
      if (op === BPF_CALL) return "write";
      if (op === BPF_JA) return "none";
      return dst === 0 || (usesSrc && src === 0) ? "read64" : "none";
    case BPF_JMP32:
      return "none";
    default:
      return code === BPF_LD_IMM64 && dst === 0 ? "write" : "none";
  }
}

/** Whether r0, defined at `def`, is read as 64 bits on some path before being overwritten. */
function r0ReadAs64(ins: Insns, def: number): boolean {
  const seen = new Set<number>();
  const work = [def + 1];
  while (work.length > 0) {
    const i = work.pop() as number;
    if (i < 0 || i >= ins.code.length || seen.has(i)) continue;
    seen.add(i);
    const use = r0Use(ins, i);
    if (use === "read64") return true;
    if (use === "write") continue;
    const code = ins.code[i];
    const cls = code & 0x07;
    const op = code & 0xf0;
    if (code === BPF_LD_IMM64) {
      work.push(i + 2);
      continue;
    }
    if ((cls === BPF_JMP || cls === BPF_JMP32) && op !== BPF_CALL && op !== BPF_EXIT) {
      const off = code === (BPF_JMP32 | BPF_JA) ? ins.imm[i] : ins.off[i];
      work.push(i + 1 + off);
      if (op === BPF_JA) continue;
    }
    work.push(i + 1);
  }
  return false;
}

/** Inserts `w0 = w0` after each 32-bit cmpxchg whose result is used as a 64-bit value. */
export function zextCmpxchg(ins: Insns, subprogs: SubprogInfo[]): void {
  for (let i = 0; i < ins.code.length; i++) {
    if (ins.code[i] !== (BPF_STX | BPF_ATOMIC | BPF_W) || ins.imm[i] !== BPF_CMPXCHG) continue;
    if (!r0ReadAs64(ins, i)) continue;
    patchInsn(ins, subprogs, i, [slotAt(ins, i), slot(BPF_ALU | BPF_MOV | BPF_X, 0, 0, 0, 1)]);
    i++;
  }
}
