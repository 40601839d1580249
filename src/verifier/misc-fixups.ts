/**
 * kernel/bpf/verifier.c v6.12 `do_misc_fixups` (after `convert_ctx_accesses`) and the parts of
 * `jit_subprogs` / `convert_pseudo_ld_imm64` that shape the instructions the arm64 JIT receives:
 *
 * - division and modulo by a register get guards (x/0 = 0, x%0 = x, LLONG_MIN/-1 and x%-1 without
 *   a trap), signed division by the constant -1 becomes a negation;
 * - `may_goto` becomes a countdown in a hidden 8-byte stack slot initialised at function entry;
 * - `bpf_tail_call` becomes the BPF_TAIL_CALL instruction;
 * - kfunc and helper calls get `imm = function - __bpf_call_base` (with a symbol table), map
 *   helpers call the map type's methods, array and hash lookups are inlined
 *   (`array_map_gen_lookup`, `htab_map_gen_lookup`), `bpf_obj_new` gets its size and record,
 *   `bpf_kptr_xchg` becomes an atomic exchange, casts become moves;
 * - bpf-to-bpf calls and callback addresses end as `jit_subprogs` leaves them in the program
 *   (call: off = the relative offset, imm = the callee's function index; ld_imm64 of a callback:
 *   the relative offset, and the function index in the second half);
 * - map references become addresses of kernel objects the model does not know: they are left
 *   as 0 and listed, so that a test or a JIT can mask or fill them.
 * Helpers the arm64 JIT inlines itself keep their id as imm (`bpf_jit_inlines_helper_call`).
 */
import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_DIV,
  BPF_DW,
  BPF_JA_OP,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JMP,
  BPF_JMP32,
  BPF_JNE,
  BPF_K,
  BPF_LD_IMM64,
  BPF_LDX,
  BPF_LSH,
  BPF_MEM,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
  BPF_STX,
  BPF_SUB,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
} from "../isa/opcodes.ts";
import { mayWritePacket } from "./ctx-access.ts";
import { EFAULT, type VerifierEnv } from "./env.ts";
import {
  helperFunctionNames,
  JIT_INLINED_HELPERS,
  MAP_ARRAY,
  MAP_ARRAY_OF_MAPS,
  MAP_HASH,
  MAP_HASH_OF_MAPS,
  MAP_HELPERS,
  mapOpName,
} from "./helper-funcs.ts";
import { KERNEL_LAYOUT } from "./kernel-layout.ts";
import { type Insns, ldImm64, patchInsn, type Slot, slot, slotAt } from "./patch.ts";
import type { VerifierMap } from "./reg.ts";

/** The kernel's symbol table, for call immediates (`imm = address - __bpf_call_base`). */
export interface KernelSymbols {
  /** Address of `__bpf_call_base`. */
  readonly callBase: bigint;
  /** Address of a kernel function (kallsyms), undefined when unknown. */
  addressOf(name: string): bigint | undefined;
}

/** An instruction that carries the address of a kernel object the model cannot know (left 0). */
export interface KernelObjectRef {
  /** Slot of the ld_imm64's first half in the rewritten program. */
  readonly pc: number;
  /** map: a `struct bpf_map *`; map_value: an address inside a map's value (at `off`); ksym: a kernel variable; prog_aux: the program's `bpf_prog_aux`. */
  readonly kind: "map" | "map_value" | "ksym" | "prog_aux";
  /** Index of the map in the object's maps (-1 when not a map). */
  readonly mapIndex: number;
  readonly off: number;
}

/** BPF_JMP | BPF_TAIL_CALL: what `bpf_tail_call` becomes for the JIT. */
export const BPF_TAIL_CALL_OP = 0xf5;
/** BPF_MAX_LOOPS: may_goto's and inlined bpf_loop's iteration budget. */
const BPF_MAX_LOOPS = 8 * 1024 * 1024;
/** BPF_REG_AX */
const AX = 11;
const E2BIG = 7;
/** Marks, until finishCallsAndMaps lists it, an ld_imm64 of the unknown address of `jiffies`. */
const JIFFIES_PLACEHOLDER = 0x7f;
/** BPF_ADDR_PERCPU: the off of `mov64 rX, rY` that makes it a per-CPU address conversion. */
const BPF_ADDR_PERCPU = -1;
/** BPF_MAP_TYPE_PERCPU_ARRAY */
const MAP_PERCPU_ARRAY = 6;

/** What the fixups report besides the rewritten instructions. */
export interface MiscFixupsResult {
  /** Calls whose target has no address in the symbol table given (names tried). */
  readonly unresolvedCalls: string[];
}

/** A call slot to kernel function `name` (imm: its offset from __bpf_call_base, or `fallback`). */
function callTo(
  names: readonly string[],
  syms: KernelSymbols | undefined,
  fallback: number,
  unresolved: string[],
  src = 0,
): Slot {
  if (syms === undefined) return slot(BPF_JMP | BPF_CALL, 0, src, 0, fallback);
  for (const n of names) {
    const a = syms.addressOf(n);
    if (a !== undefined) return slot(BPF_JMP | BPF_CALL, 0, src, 0, Number(BigInt.asIntN(32, a - syms.callBase)));
  }
  unresolved.push(names.join("|"));
  return slot(BPF_JMP | BPF_CALL, 0, src, 0, fallback);
}

const roundUp8 = (n: number): number => (n + 7) & ~7;

/** `array_map_gen_lookup` (privileged: no Spectre index masking); null for inner-map templates. */
function arrayGenLookup(map: VerifierMap, ofMaps: boolean): Slot[] | null {
  if (map.index < 0) return null; // BPF_F_INNER_MAP
  const elemSize = ofMaps ? 8 : roundUp8(map.valueSize);
  const pow2 = (elemSize & (elemSize - 1)) === 0;
  const out: Slot[] = [
    slot(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, KERNEL_LAYOUT.bpf_array.value.off),
    slot(BPF_LDX | BPF_MEM | BPF_W, 0, 2, 0),
    slot(BPF_JMP | BPF_JGE | BPF_K, 0, 0, ofMaps ? 5 : 3, map.maxEntries),
    pow2
      ? slot(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, Math.log2(elemSize))
      : slot(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, elemSize),
    slot(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1),
  ];
  if (ofMaps) out.push(slot(BPF_LDX | BPF_MEM | BPF_DW, 0, 0, 0), slot(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1, 0));
  out.push(slot(BPF_JA_OP, 0, 0, 1), slot(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
  return out;
}

/** `percpu_array_map_gen_lookup`: this CPU's copy through the per-CPU pointer array. */
function percpuArrayGenLookup(map: VerifierMap): Slot[] | null {
  if (map.index < 0) return null;
  return [
    slot(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, KERNEL_LAYOUT.bpf_array.value.off), // pptrs shares value's offset
    slot(BPF_LDX | BPF_MEM | BPF_W, 0, 2, 0),
    slot(BPF_JMP | BPF_JGE | BPF_K, 0, 0, 5, map.maxEntries),
    slot(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, 3),
    slot(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1),
    slot(BPF_LDX | BPF_MEM | BPF_DW, 0, 0, 0),
    slot(BPF_ALU64 | BPF_MOV | BPF_X, 0, 0, BPF_ADDR_PERCPU), // this CPU's address of a per-CPU pointer
    slot(BPF_JA_OP, 0, 0, 1),
    slot(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
  ];
}

/** `htab_map_gen_lookup` / `htab_of_map_gen_lookup`: the lookup proper, then skip to the value. */
function hashGenLookup(map: VerifierMap, ofMaps: boolean, call: Slot): Slot[] {
  const out = [
    call,
    slot(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, ofMaps ? 2 : 1, 0),
    slot(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, KERNEL_LAYOUT.htab_elem.key.off + roundUp8(map.keySize)),
  ];
  if (ofMaps) out.push(slot(BPF_LDX | BPF_MEM | BPF_DW, 0, 0, 0));
  return out;
}

/** The guarded forms of a division or modulo by a register. */
function divGuard(si: Slot): Slot[] {
  const is64 = (si.code & 0x07) === BPF_ALU64;
  const isDiv = (si.code & 0xf0) === BPF_DIV;
  const signed = si.off === 1;
  const jmp = is64 ? BPF_JMP : BPF_JMP32;
  const alu = is64 ? BPF_ALU64 : BPF_ALU;
  const x = si.src;
  const d = si.dst;
  if (signed && isDiv) {
    // divisor + 1 in AX: >1 divides; 1 (divisor 0) gives 0; 0 (divisor -1) negates
    return [
      slot(BPF_ALU64 | BPF_MOV | BPF_X, AX, x),
      slot(alu | BPF_ADD | BPF_K, AX, 0, 0, 1),
      slot(jmp | BPF_JGT | BPF_K, AX, 0, 4, 1),
      slot(jmp | BPF_JEQ | BPF_K, AX, 0, 1, 0),
      slot(alu | BPF_MOV | BPF_K, d, 0, 0, 0),
      slot(alu | BPF_NEG | BPF_K, d, 0, 0, 0),
      slot(BPF_JA_OP, 0, 0, 1),
      si,
    ];
  }
  if (signed) {
    const out = [
      slot(BPF_ALU64 | BPF_MOV | BPF_X, AX, x),
      slot(alu | BPF_ADD | BPF_K, AX, 0, 0, 1),
      slot(jmp | BPF_JGT | BPF_K, AX, 0, 3, 1),
      slot(jmp | BPF_JEQ | BPF_K, AX, 0, 3 + (is64 ? 0 : 1), 1),
      slot(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, 0),
      slot(BPF_JA_OP, 0, 0, 1),
      si,
      slot(BPF_JA_OP, 0, 0, 1),
      slot(BPF_ALU | BPF_MOV | BPF_X, d, d),
    ];
    return is64 ? out.slice(0, out.length - 2) : out;
  }
  if (isDiv) {
    return [
      slot(jmp | BPF_JNE | BPF_K, x, 0, 2, 0),
      slot(BPF_ALU | BPF_XOR | BPF_X, d, d),
      slot(BPF_JA_OP, 0, 0, 1),
      si,
    ];
  }
  const out = [
    slot(jmp | BPF_JEQ | BPF_K, x, 0, 1 + (is64 ? 0 : 1), 0),
    si,
    slot(BPF_JA_OP, 0, 0, 1),
    slot(BPF_ALU | BPF_MOV | BPF_X, d, d),
  ];
  return is64 ? out.slice(0, 2) : out;
}

/** `inline_bpf_loop`: bpf_loop(nr, callback, ctx, 0) as a loop calling the callback directly. */
function inlineBpfLoop(stackBase: number): Slot[] {
  const r6 = stackBase;
  const r7 = stackBase + 8;
  const r8 = stackBase + 16;
  return [
    slot(BPF_JMP | BPF_JLE | BPF_K, 1, 0, 2, BPF_MAX_LOOPS),
    slot(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, -E2BIG),
    slot(BPF_JA_OP, 0, 0, 16),
    slot(BPF_STX | BPF_MEM | BPF_DW, 10, 6, r6),
    slot(BPF_STX | BPF_MEM | BPF_DW, 10, 7, r7),
    slot(BPF_STX | BPF_MEM | BPF_DW, 10, 8, r8),
    slot(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1),
    slot(BPF_ALU | BPF_MOV | BPF_K, 7, 0, 0, 0),
    slot(BPF_ALU64 | BPF_MOV | BPF_X, 8, 3),
    slot(BPF_JMP | BPF_JGE | BPF_X, 7, 6, 5),
    slot(BPF_ALU64 | BPF_MOV | BPF_X, 1, 7),
    slot(BPF_ALU64 | BPF_MOV | BPF_X, 2, 8),
    slot(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0), // the callback's offset is set after patching
    slot(BPF_ALU64 | BPF_ADD | BPF_K, 7, 0, 0, 1),
    slot(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, -6, 0),
    slot(BPF_ALU64 | BPF_MOV | BPF_X, 0, 7),
    slot(BPF_LDX | BPF_MEM | BPF_DW, 6, 10, r6),
    slot(BPF_LDX | BPF_MEM | BPF_DW, 7, 10, r7),
    slot(BPF_LDX | BPF_MEM | BPF_DW, 8, 10, r8),
  ];
}

/**
 * `optimize_bpf_loop` (runs before dead-code removal): inlines the bpf_loop calls whose flags
 * are 0 and callback the same on every path, spilling r6-r8 below the function's stack.
 */
export function optimizeBpfLoop(env: VerifierEnv, ins: Insns): void {
  const subs = env.subprogs;
  let cur = 0;
  let extra = 0;
  for (let i = 0; i < ins.code.length; i++) {
    const st = ins.orig[i] >= 0 ? env.aux.loopInline.get(ins.orig[i]) : undefined;
    const isLoop = ins.code[i] === (BPF_JMP | BPF_CALL) && ins.src[i] === 0 && ins.imm[i] === 181;
    if (isLoop && st?.fit) {
      const depth = subs[cur].stackDepth;
      extra = 24 + (roundUp8(depth) - depth);
      const patch = inlineBpfLoop(-(depth + extra));
      patchInsn(ins, subs, i, patch);
      const callAt = i + 12;
      ins.imm[callAt] = subs[st.subprog].start - callAt - 1;
      i += patch.length - 1;
    }
    if (cur + 1 < subs.length && subs[cur + 1].start === i + 1) {
      subs[cur].stackDepth += extra;
      cur++;
      extra = 0;
    }
  }
  subs[cur].stackDepth += extra;
}

/** `fixup_kfunc_call`: the address, and the hidden arguments some kfuncs get. */
function fixupKfunc(
  env: VerifierEnv,
  ins: Insns,
  i: number,
  syms: KernelSymbols | undefined,
  unresolved: string[],
): Slot[] {
  const orig = ins.orig[i];
  const name = env.cfg.kfuncs.get(ins.imm[i]) ?? "";
  // specialize_kfunc: a program that may not write packet data gets the read-only skb dynptr
  const target =
    name === "bpf_dynptr_from_skb" && !mayWritePacket(env.cfg.progType) ? "bpf_dynptr_from_skb_rdonly" : name;
  const call = callTo([target], syms, ins.imm[i], unresolved, BPF_PSEUDO_KFUNC_CALL);
  call.off = ins.off[i];
  switch (name) {
    case "bpf_obj_new_impl":
    case "bpf_percpu_obj_new_impl":
      // size of the object, and its btf_record (none for structs without special fields)
      return [slot(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, env.aux.objNewSize.get(orig) ?? 0), ...ldImm64(2, 0n), call];
    case "bpf_obj_drop_impl":
    case "bpf_percpu_obj_drop_impl":
    case "bpf_refcount_acquire_impl":
      return [...ldImm64(2, 0n), call];
    case "bpf_cast_to_kern_ctx":
    case "bpf_rdonly_cast":
      return [slot(BPF_ALU64 | BPF_MOV | BPF_X, 0, 1)];
    default:
      return [call];
  }
}

/** Runs do_misc_fixups over `ins` (the hidden exception callback is already appended). */
export function doMiscFixups(env: VerifierEnv, ins: Insns, syms: KernelSymbols | undefined): MiscFixupsResult {
  const unresolved: string[] = [];
  const subs = env.subprogs;
  const end = subs.find((s) => s.hidden)?.start ?? ins.code.length;
  let cur = 0;
  let extra = 0;
  const stackExtra = new Array<number>(subs.length).fill(0);
  let i = 0;
  let limit = end;
  while (i < limit) {
    const code = ins.code[i];
    const si = slotAt(ins, i);
    let patch: Slot[] | null = null;
    const cls = code & 0x07;
    const op = code & 0xf0;
    if ((cls === BPF_ALU || cls === BPF_ALU64) && (op === BPF_DIV || op === BPF_MOD)) {
      if ((code & 0x08) === BPF_X) patch = divGuard(si);
      else if (si.off === 1 && si.imm === -1) {
        const alu = cls === BPF_ALU64 ? BPF_ALU64 : BPF_ALU;
        patch = [op === BPF_DIV ? slot(alu | BPF_NEG | BPF_K, si.dst) : slot(BPF_ALU | BPF_MOV | BPF_K, si.dst)];
      }
    } else if (code === 0xe5 && si.src === 0) {
      // may_goto: count down a hidden slot below the function's stack; at 0 take the branch
      const stackOff = -subs[cur].stackDepth - 8;
      extra = 8;
      patch = [
        slot(BPF_LDX | BPF_MEM | BPF_DW, AX, 10, stackOff),
        slot(BPF_JMP | BPF_JEQ | BPF_K, AX, 0, si.off >= 0 ? si.off + 2 : si.off - 1, 0),
        slot(BPF_ALU64 | BPF_SUB | BPF_K, AX, 0, 0, 1),
        slot(BPF_STX | BPF_MEM | BPF_DW, 10, AX, stackOff),
      ];
    } else if (code === (BPF_JMP | BPF_CALL) && si.src === BPF_PSEUDO_KFUNC_CALL) {
      patch = fixupKfunc(env, ins, i, syms, unresolved);
    } else if (code === (BPF_JMP | BPF_CALL) && si.src === 0 && !JIT_INLINED_HELPERS.has(si.imm)) {
      patch = fixupHelper(env, ins, i, syms, unresolved);
    }
    if (patch !== null) {
      patchInsn(ins, subs, i, patch);
      limit += patch.length - 1;
      i += patch.length - 1;
    }
    if (cur + 1 < subs.length && subs[cur + 1].start === i + 1) {
      stackExtra[cur] = extra;
      cur++;
      extra = 0;
    }
    i++;
  }
  stackExtra[cur] = Math.max(stackExtra[cur], extra);
  for (let k = 0; k < subs.length; k++) {
    if (stackExtra[k] === 0) continue;
    subs[k].stackDepth += stackExtra[k];
    const start = subs[k].start;
    patchInsn(ins, subs, start, [
      slot(0x7a /* BPF_ST | BPF_MEM | BPF_DW */, 10, 0, -subs[k].stackDepth, BPF_MAX_LOOPS),
      slotAt(ins, start),
    ]);
  }
  return { unresolvedCalls: unresolved };
}

/** The helper part of do_misc_fixups for the call at `i`. */
function fixupHelper(
  env: VerifierEnv,
  ins: Insns,
  i: number,
  syms: KernelSymbols | undefined,
  unresolved: string[],
): Slot[] | null {
  const id = ins.imm[i];
  const orig = ins.orig[i];
  if (id === 12) return [slot(BPF_TAIL_CALL_OP)]; // imm: no poke descriptor modelled (the arm64 JIT ignores it)
  if (id === 194 /* kptr_xchg */) {
    return [slot(BPF_ALU64 | BPF_MOV | BPF_X, 0, 2), slot(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 0, 0, BPF_XCHG)];
  }
  const map = orig >= 0 ? env.aux.callMap.get(orig) : undefined;
  if (MAP_HELPERS.has(id) && map !== undefined && map !== null) {
    if (id === 1) {
      const t = map.type;
      if (t === MAP_ARRAY || t === MAP_ARRAY_OF_MAPS) {
        const g = arrayGenLookup(map, t === MAP_ARRAY_OF_MAPS);
        if (g !== null) return g;
      } else if (t === MAP_PERCPU_ARRAY) {
        const g = percpuArrayGenLookup(map);
        if (g !== null) return g;
      } else if (t === MAP_HASH || t === MAP_HASH_OF_MAPS) {
        return hashGenLookup(map, t === MAP_HASH_OF_MAPS, callTo(["__htab_map_lookup_elem"], syms, id, unresolved));
      }
    }
    const op = mapOpName(id, map.type);
    if (op !== null) return [callTo([op], syms, id, unresolved)];
  }
  if (id === 118 /* jiffies64 */) {
    // the address of `jiffies` (a variable: unknown without a symbol table that has it, left 0)
    const a = syms?.addressOf("jiffies");
    return [
      ...ldImm64(0, a ?? 0n, a === undefined ? JIFFIES_PLACEHOLDER : 0),
      slot(BPF_LDX | BPF_MEM | BPF_DW, 0, 0, 0),
    ];
  }
  if (syms === undefined) return null;
  return [callTo(helperFunctionNames(id, env.cfg.progType), syms, id, unresolved)];
}

/**
 * The end state of bpf-to-bpf calls and callback addresses after `jit_subprogs`, and
 * `convert_pseudo_ld_imm64` (map loads lose their pseudo source); lists the kernel objects.
 */
export function finishCallsAndMaps(env: VerifierEnv, ins: Insns): KernelObjectRef[] {
  const objects: KernelObjectRef[] = [];
  // jit_subprogs: a call or function address whose target no longer starts a function is
  // refused with EFAULT ("verifier bug. No program starts at insn %d"). It happens when dead
  // code removal deleted a callback whose address is loaded but never passed to a helper (the
  // path to the bpf_loop call throws, say); without this check the callback's index became -1.
  const findSub = (i: number, start: number): number => {
    const k = env.subprogs.findIndex((s) => s.start === start);
    if (k >= 0) return k;
    env.insnIdx = ins.orig[i];
    env.markBlock();
    return env.reject(EFAULT, "NO_PROG_AT", start);
  };
  for (let i = 0; i < ins.code.length; i++) {
    const code = ins.code[i];
    if (code === (BPF_JMP | BPF_CALL) && ins.src[i] === BPF_PSEUDO_CALL) {
      ins.off[i] = ins.imm[i];
      ins.imm[i] = findSub(i, i + ins.imm[i] + 1);
      continue;
    }
    if (code !== BPF_LD_IMM64) continue;
    const src = ins.src[i];
    if (src === BPF_PSEUDO_FUNC) {
      ins.imm[i + 1] = findSub(i, i + ins.imm[i] + 1);
    } else if (src === BPF_PSEUDO_MAP_FD || src === BPF_PSEUDO_MAP_IDX) {
      objects.push({ pc: i, kind: "map", mapIndex: ins.imm[i], off: 0 });
      ins.imm[i] = 0;
      ins.imm[i + 1] = 0;
    } else if (src === BPF_PSEUDO_MAP_VALUE || src === BPF_PSEUDO_MAP_IDX_VALUE) {
      objects.push({ pc: i, kind: "map_value", mapIndex: ins.imm[i], off: ins.imm[i + 1] });
      ins.imm[i] = 0;
      ins.imm[i + 1] = 0;
    } else if (src === BPF_PSEUDO_BTF_ID || src === JIFFIES_PLACEHOLDER) {
      objects.push({ pc: i, kind: "ksym", mapIndex: -1, off: 0 });
      ins.imm[i] = 0;
      ins.imm[i + 1] = 0;
    }
    if (src !== BPF_PSEUDO_FUNC) ins.src[i] = 0;
    i++;
  }
  return objects;
}
