/**
 * kernel/bpf/verifier.c v6.12 `convert_ctx_accesses`: after verification, loads and stores through
 * the context pointer are rewritten into accesses of the kernel's own structs, because the
 * `struct __sk_buff` / `struct xdp_md` a program sees is only an ABI — the kernel hands the
 * program a `struct sk_buff *` / `struct xdp_buff *`. The per-field rewrites are net/core/filter.c
 * `bpf_convert_ctx_access` and `xdp_convert_ctx_access` (ctx-convert-fields.ts); this pass adds
 * what is common: narrow loads (a 1- or 2-byte read of a 4-byte field becomes the field's load
 * followed by a shift and mask), sign-extending loads, the tc prologue that un-clones the skb
 * before a program that writes packet data runs (`bpf_unclone_prologue`), and the PROBE_MEM
 * marking of loads through untrusted kernel pointers (their faults are caught by the JIT's
 * exception table).
 */
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_B,
  BPF_CALL,
  BPF_DW,
  BPF_EXIT_OP,
  BPF_H,
  BPF_JEQ,
  BPF_JMP,
  BPF_K,
  BPF_LDX,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOV,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_W,
  BPF_X,
  BPF_XOR,
} from "../isa/opcodes.ts";
import { BPF_PROG_TYPE_SCHED_ACT, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_XDP } from "../object/uapi.ts";
import { isSkbProgType } from "./ctx-access.ts";
import { convertSkbField, convertXdpField, skbFieldSize } from "./ctx-convert-fields.ts";
import type { VerifierEnv } from "./env.ts";
import { KERNEL_LAYOUT } from "./kernel-layout.ts";
import { type Insns, patchInsn, type Slot, slot, slotAt } from "./patch.ts";

/** BPF_PROBE_MEM: a load whose fault the JIT turns into a zero result. */
export const BPF_PROBE_MEM = 0x20;
/** BPF_PROBE_MEMSX */
export const BPF_PROBE_MEMSX = 0x40;

const BYTES: Record<number, number> = { [BPF_B]: 1, [BPF_H]: 2, [BPF_W]: 4, [BPF_DW]: 8 };

/** TC_ACT_SHOT: the verdict when the un-cloning in the prologue fails. */
const TC_ACT_SHOT = 2;
/** BPF_FUNC_skb_pull_data */
const BPF_FUNC_skb_pull_data = 39;

/**
 * `bpf_unclone_prologue`: a tc program that writes packet data first makes sure the skb's data
 * is not shared with a clone (`bpf_skb_pull_data(skb, 0)` when skb->cloned), dropping the packet
 * if that fails; r1 is kept in r6 across the call and restored.
 */
function uncloneProlog(first: Slot): Slot[] {
  const cloned = KERNEL_LAYOUT.sk_buff.cloned;
  return [
    slot(BPF_LDX | BPF_MEM | BPF_B, 6, 1, cloned.off),
    slot(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0, ((1 << cloned.bits) - 1) << cloned.bit),
    slot(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 7),
    slot(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1),
    slot(BPF_ALU64 | BPF_XOR | BPF_X, 2, 2),
    slot(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_pull_data),
    slot(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
    slot(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, TC_ACT_SHOT),
    slot(BPF_EXIT_OP),
    slot(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6),
    first,
  ];
}

/** The kinds of memory instruction the pass looks at: read, write or neither. */
function accessType(code: number): "read" | "write" | null {
  const cls = code & 0x07;
  const mode = code & 0xe0;
  if (cls === BPF_LDX && (mode === BPF_MEM || (mode === BPF_MEMSX && (code & 0x18) !== BPF_DW))) return "read";
  if ((cls === BPF_STX || cls === BPF_ST) && mode === BPF_MEM) return "write";
  return null;
}

/** Runs the pass over `ins` (after dead-code removal, before do_misc_fixups). */
export function convertCtxAccesses(env: VerifierEnv, ins: Insns): void {
  const progType = env.cfg.progType;
  const tc = progType === BPF_PROG_TYPE_SCHED_CLS || progType === BPF_PROG_TYPE_SCHED_ACT;
  if (tc && env.seenDirectWrite) {
    // the prologue's call is fixed up by do_misc_fixups like any other; it belongs to main
    patchInsn(ins, env.subprogs, 0, uncloneProlog(slotAt(ins, 0)));
    for (let k = 0; k < 10; k++) ins.orig[k] = -1;
  }
  const skb = isSkbProgType(progType);
  const xdp = progType === BPF_PROG_TYPE_XDP;
  for (let i = 0; i < ins.code.length; i++) {
    const orig = ins.orig[i];
    if (orig < 0) continue;
    const type = accessType(ins.code[i]);
    if (type === null) continue;
    const ptr = env.aux.ptrType[orig];
    if (ptr === 2) {
      if (type === "read") {
        const probe = (ins.code[i] & 0xe0) === BPF_MEM ? BPF_PROBE_MEM : BPF_PROBE_MEMSX;
        ins.code[i] = BPF_LDX | probe | (ins.code[i] & 0x18);
      }
      continue;
    }
    if (ptr !== 1 || (!skb && !xdp)) continue;
    const si = slotAt(ins, i);
    const size = BYTES[si.code & 0x18];
    const mode = si.code & 0xe0;
    const fieldSize = skb && type === "read" ? skbFieldSize(si.off) : 0;
    const narrow = size < fieldSize;
    const off = si.off;
    if (narrow) {
      // the full field is loaded, then the wanted bytes are shifted down and masked
      si.off = off & ~(fieldSize - 1);
      si.code = BPF_LDX | BPF_MEM | (fieldSize === 4 ? BPF_W : fieldSize === 8 ? BPF_DW : BPF_H);
    }
    const tc = env.cfg.progType === BPF_PROG_TYPE_SCHED_CLS || env.cfg.progType === BPF_PROG_TYPE_SCHED_ACT;
    const conv = skb ? convertSkbField(type, si, env.tstampTypeAccess, tc) : convertXdpField(type, si);
    const out = conv.insns;
    if (narrow && size < conv.targetSize) {
      const shift = (off & (fieldSize - 1)) * 8;
      const cls = fieldSize <= 4 ? BPF_ALU : BPF_ALU64;
      if (shift !== 0) out.push(slot(cls | BPF_RSH | BPF_K, si.dst, 0, 0, shift));
      out.push(slot(cls | BPF_AND | BPF_K, si.dst, 0, 0, size === 4 ? -1 : (1 << (size * 8)) - 1));
    }
    if (mode === BPF_MEMSX) out.push(slot(BPF_ALU64 | BPF_MOV | BPF_X, si.dst, si.dst, size * 8));
    patchInsn(ins, env.subprogs, i, out);
    i += out.length - 1;
  }
}
