import { type Btf, type BtfType, parseBtf, writeBtf } from "../../src/btf/index.ts";
import { BPF_FUNC_loop } from "../../src/isa/helper-ids.ts";
import { allocProgram, type DecodedProgram } from "../../src/isa/insn.ts";
import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_IMM,
  BPF_JA,
  BPF_JCOND,
  BPF_JEQ,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_LSH,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MOV,
  BPF_NEG,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_TO_BE,
  BPF_TO_LE,
  BPF_W,
  BPF_X,
  SIZE_BYTES,
} from "../../src/isa/opcodes.ts";
import type { FunctionSpec, MapSpec, ObjectSpec, ProgramSpec } from "../../src/object/spec.ts";
import {
  BPF_PROG_TYPE_CGROUP_SKB,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_TRACEPOINT,
  BPF_PROG_TYPE_XDP,
} from "../../src/object/uapi.ts";
import { openFixtureObjects } from "../support/fixture-objects.ts";
import { ALU_OPS, ATOMIC_OPS, interestingImm, JMP_OPS, SIZES } from "../support/random-programs.ts";
import type { CaseRng as Rng } from "../support/rng.ts";
import { asmSpec, FIXTURES } from "./helpers.ts";

// ------------------------------------------------------------------------------------ corpus

/** A fixture program and the object it came from. */
export interface CorpusEntry {
  readonly label: string;
  readonly spec: ObjectSpec;
  readonly prog: ProgramSpec;
  /** Relative chance of being mutated (the 1M-instruction program is expensive: rarely). */
  readonly weight: number;
}

const DIRS = ["progs", "exceptions", "verifier", "jit"];

let corpusCache: { entries: CorpusEntry[]; cumulative: number[]; objects: number; unopened: number } | undefined;

/** Every program of every fixture object that opens (a few are there to fail to load). */
export function corpus(): NonNullable<typeof corpusCache> {
  if (corpusCache !== undefined) return corpusCache;
  const { opened, unopened } = openFixtureObjects(FIXTURES, DIRS);
  const objects = opened.length;
  const entries: CorpusEntry[] = [];
  for (const { dir, file, spec } of opened) {
    for (const prog of spec.programs) {
      const weight = prog.name === "reject_too_large" ? 0.05 : 1;
      entries.push({ label: `${dir}/${file} ${prog.name}`, spec, prog, weight });
    }
  }
  const cumulative: number[] = [];
  let sum = 0;
  for (const e of entries) {
    sum += e.weight;
    cumulative.push(sum);
  }
  corpusCache = { entries, cumulative, objects, unopened };
  return corpusCache;
}

export function pickEntry(r: Rng): CorpusEntry {
  const c = corpus();
  const x = r.float() * c.cumulative[c.cumulative.length - 1];
  let lo = 0;
  let hi = c.cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (c.cumulative[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return c.entries[lo];
}

// ------------------------------------------------------------------------------------ operands

export const INTERESTING = [
  0, 1, -1, 2, 4, 7, 8, 12, 16, 31, 32, 63, 64, 181, 0xff, 0xffff, 0x7fff, -0x8000, 0x7fffffff, -0x80000000,
];

/** An immediate or offset worth trying. */
export function interesting(r: Rng): number {
  return interestingImm(r, INTERESTING, 256);
}

// ------------------------------------------------------------------------------------ structured

const PROG_TYPES: readonly [number, string][] = [
  [BPF_PROG_TYPE_SCHED_CLS, "tc"],
  [BPF_PROG_TYPE_XDP, "xdp"],
  [BPF_PROG_TYPE_SOCKET_FILTER, "socket"],
  [BPF_PROG_TYPE_KPROBE, "kprobe/f"],
  [BPF_PROG_TYPE_TRACEPOINT, "tracepoint/a/b"],
  [BPF_PROG_TYPE_RAW_TRACEPOINT, "raw_tp/x"],
  [BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb/ingress"],
  [BPF_PROG_TYPE_SYSCALL, "syscall"],
];
/** Helpers worth calling at random: some take pointers, the tame ones scalars or nothing. */
const HELPERS = [5, 6, 7, 8, 14, 15, 35, 1, 2, 3, 12, 23, 181, 130, 164];
const TAME_HELPERS = [5, 7, 8, 14, 15];

/**
 * BTF for structured programs of several functions (a callback's address needs func_info):
 * `int prog(void *ctx)` (global), static `int fN(int idx, void *ctx)` for subprograms and
 * callbacks, global `int gN(int a)`.
 */
let structuredBtfCache: Btf | undefined;
const BTF_MAIN = 6;
const BTF_STATIC = 7;
const BTF_GLOBAL = 10;

function structuredBtf(): Btf {
  if (structuredBtfCache !== undefined) return structuredBtfCache;
  const types: BtfType[] = [
    { id: 0, name: "", kind: "void" },
    { id: 1, name: "int", kind: "int", size: 4, bitOffset: 0, bits: 32, encoding: "signed" },
    { id: 2, name: "", kind: "ptr", type: 0 },
    { id: 3, name: "", kind: "func_proto", returnType: 1, params: [{ name: "ctx", type: 2 }] },
    {
      id: 4,
      name: "",
      kind: "func_proto",
      returnType: 1,
      params: [
        { name: "idx", type: 1 },
        { name: "ctx", type: 2 },
      ],
    },
    { id: 5, name: "", kind: "func_proto", returnType: 1, params: [{ name: "a", type: 1 }] },
    { id: BTF_MAIN, name: "prog", kind: "func", type: 3, linkage: "global" },
  ];
  for (let i = 1; i <= 3; i++)
    types.push({ id: types.length, name: `f${i}`, kind: "func", type: 4, linkage: "static" });
  for (let i = 1; i <= 3; i++)
    types.push({ id: types.length, name: `g${i}`, kind: "func", type: 5, linkage: "global" });
  structuredBtfCache = parseBtf(writeBtf(types));
  return structuredBtfCache;
}

/** Collects slots and the fixups of calls and function addresses to function starts. */
class Builder {
  readonly slots: [number, number, number, number, number][] = [];
  /** Slot -> function index whose start its imm must reach (pseudo call or ld_imm64 of a function). */
  readonly toFunction = new Map<number, number>();

  get pc(): number {
    return this.slots.length;
  }

  /** Second halves of ld_imm64, which jumps must not land on. */
  readonly secondHalf = new Set<number>();

  emit(code: number, dst: number, src: number, off: number, imm: number): number {
    this.slots.push([code, dst, src, off, imm]);
    if (code === 0 && this.slots.length >= 2 && this.slots[this.slots.length - 2][0] === (BPF_LD | BPF_IMM | BPF_DW))
      this.secondHalf.add(this.slots.length - 1);
    return this.slots.length - 1;
  }

  /** A random instruction start in [lo, hi]. */
  target(r: Rng, lo: number, hi: number): number {
    for (let k = 0; k < 8; k++) {
      const t = r.range(lo, hi);
      if (!this.secondHalf.has(t)) return t;
    }
    return hi;
  }

  build(starts: readonly number[]): DecodedProgram {
    const p = allocProgram(this.slots.length);
    this.slots.forEach(([code, dst, src, off, imm], i) => {
      p.code[i] = code;
      p.dst[i] = dst;
      p.src[i] = src;
      p.off[i] = off;
      p.imm[i] = imm;
    });
    for (const [at, f] of this.toFunction) p.imm[at] = starts[f] - (at + 1);
    return p;
  }
}

/**
 * A random program of 1 to 4 functions. Tame programs (most) initialise the registers and the
 * stack they use, keep the context in r6, jump forward only and end with `r0 = K; exit`, so
 * many of them pass; wild ones use any register, offset and jump.
 */
export function structured(r: Rng): {
  prog: ProgramSpec;
  maps: readonly MapSpec[];
  what: string;
  btf: Btf | undefined;
} {
  const tame = r.chance(0.7);
  const [progType, section] = r.pick(PROG_TYPES);
  // maps (and the BTF that describes them) of a fixture object, for lookups and callbacks
  let withMaps: CorpusEntry | undefined;
  if (r.chance(0.3)) {
    for (let k = 0; k < 8 && withMaps === undefined; k++) {
      const e = pickEntry(r);
      if (e.spec.maps.length > 0) withMaps = e;
    }
  }
  const nfuncs = r.chance(0.6) ? 1 : r.range(2, 4);
  // several functions come with func_info in a BTF of their own (usually): the maps then lose
  // their BTF types, which refer to the object's BTF
  const ownBtf = nfuncs > 1 && r.chance(0.9);
  const maps =
    withMaps === undefined
      ? []
      : ownBtf
        ? withMaps.spec.maps.map((m) => ({ ...m, btfKeyTypeId: 0, btfValueTypeId: 0, innerMap: null }))
        : withMaps.spec.maps;
  /** Global functions (verified on their own) among the subprograms. */
  const isGlobal = [false];
  for (let f = 1; f < nfuncs; f++) isGlobal.push(ownBtf && r.chance(tame ? 0.1 : 0.3));
  /** Callback functions (called through bpf_loop), the others are plain subprograms. */
  const isCb = [false];
  for (let f = 1; f < nfuncs; f++) isCb.push(!isGlobal[f] && r.chance(0.4));
  const b = new Builder();
  const starts: number[] = [];
  const referenced = new Set<number>();
  const reg = (): number => (tame ? r.int(10) : r.chance(0.02) ? r.range(10, 15) : r.int(11));
  const dstReg = (): number => (tame ? r.pick([0, 2, 3, 4, 5, 7, 8, 9]) : r.chance(0.02) ? r.range(10, 15) : r.int(10));
  const stackOff = (size: number): number => (tame ? -r.range(1, 64 / size) * size : r.range(-520, 16));
  const imm = (): number => interesting(r);

  for (let f = 0; f < nfuncs; f++) {
    starts.push(b.pc);
    const body = r.range(1, tame ? 24 : 40);
    const bodyStart = b.pc;
    if (tame) {
      b.emit(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0); // r6 = ctx (main), a scalar (others)
      for (const d of [0, 2, 3, 4, 5, 7, 8, 9]) if (r.chance(0.97)) b.emit(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, imm());
      for (let s = 1; s <= 8; s++) if (r.chance(0.6)) b.emit(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8 * s, imm());
    }
    /** Slots of forward jumps whose targets are fixed once the body's end is known. */
    const forward: number[] = [];
    for (let k = 0; k < body; k++) {
      const kind = r.int(100);
      const pc = b.pc;
      if (kind < 32) {
        const cls = r.chance(0.6) ? BPF_ALU64 : BPF_ALU;
        const op = r.pick(ALU_OPS);
        const d = dstReg();
        if (op === BPF_NEG) b.emit(cls | BPF_NEG | BPF_K, d, 0, 0, 0);
        else if (op === BPF_END) {
          const code =
            cls === BPF_ALU64 ? BPF_ALU64 | BPF_END | BPF_K : BPF_ALU | BPF_END | r.pick([BPF_TO_LE, BPF_TO_BE]);
          b.emit(code, d, 0, 0, r.pick([16, 32, 64]));
        } else if (r.chance(0.4)) {
          const off =
            op === BPF_DIV || op === BPF_MOD ? r.int(2) : op === BPF_MOV && r.chance(0.15) ? r.pick([8, 16, 32]) : 0;
          b.emit(cls | op | BPF_X, d, reg(), cls === BPF_ALU && off === 32 ? 0 : off, 0);
        } else {
          const off = op === BPF_DIV || op === BPF_MOD ? r.int(2) : 0;
          const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
          b.emit(cls | op | BPF_K, d, 0, off, shift && tame ? r.int(cls === BPF_ALU64 ? 64 : 32) : imm());
        }
      } else if (kind < 50) {
        const cls = r.chance(0.5) ? BPF_JMP : BPF_JMP32;
        const op = r.pick(JMP_OPS);
        if (r.chance(0.5)) b.emit(cls | op | BPF_X, reg(), reg(), 0, 0);
        else b.emit(cls | op | BPF_K, reg(), 0, 0, imm());
        if (tame || r.chance(0.8)) forward.push(pc);
        else b.slots[pc][3] = r.range(-pc - 2, body - k + 2);
        if (!tame && r.chance(0.05)) {
          // may_goto or a backward ja: loops the verifier must bound
          b.emit(BPF_JMP | BPF_JCOND, 0, 0, r.range(-3, 3), 0);
          b.emit(BPF_JMP | BPF_JA, 0, 0, -r.range(1, Math.max(1, b.pc - bodyStart)), 0);
        }
      } else if (kind < 66) {
        const size = r.pick(SIZES);
        const n = SIZE_BYTES[size];
        const sub = r.int(8);
        const base = tame ? (r.chance(0.8) ? 10 : 6) : r.chance(0.6) ? 10 : reg();
        const off = base === 10 ? stackOff(n) : r.range(-8, 200);
        if (sub < 3) {
          const mode = size !== BPF_DW && r.chance(0.2) ? BPF_MEMSX : BPF_MEM;
          b.emit(BPF_LDX | mode | size, dstReg(), base, off, 0);
        } else if (sub < 5) {
          b.emit(
            BPF_ST | BPF_MEM | size,
            base === 6 && tame ? 10 : base,
            0,
            base === 6 && tame ? stackOff(n) : off,
            imm(),
          );
        } else if (sub < 7) {
          b.emit(
            BPF_STX | BPF_MEM | size,
            base === 6 && tame ? 10 : base,
            reg(),
            base === 6 && tame ? stackOff(n) : off,
            0,
          );
        } else {
          const asize = r.chance(0.5) ? BPF_W : BPF_DW;
          b.emit(BPF_STX | BPF_ATOMIC | asize, 10, reg(), stackOff(asize === BPF_W ? 4 : 8), r.pick(ATOMIC_OPS));
        }
      } else if (kind < 74) {
        const sub = r.int(4);
        if (sub === 0 && nfuncs > 1) {
          const callee = r.range(1, nfuncs - 1);
          const at = b.emit(BPF_LD | BPF_IMM | BPF_DW, r.chance(0.5) ? 2 : dstReg(), BPF_PSEUDO_FUNC, 0, 0);
          b.emit(0, 0, 0, 0, 0);
          b.toFunction.set(at, callee);
        } else if (sub === 1 && maps.length > 0) {
          b.emit(
            BPF_LD | BPF_IMM | BPF_DW,
            dstReg(),
            r.chance(0.8) ? BPF_PSEUDO_MAP_IDX : BPF_PSEUDO_MAP_IDX_VALUE,
            0,
            r.int(maps.length),
          );
          b.emit(0, 0, 0, 0, 0);
        } else {
          b.emit(BPF_LD | BPF_IMM | BPF_DW, dstReg(), 0, 0, imm());
          b.emit(0, 0, 0, 0, imm());
        }
      } else if (kind < 90) {
        const sub = r.int(10);
        if (sub < 3 && nfuncs > 1) {
          const callees = [...isCb.keys()].filter((i) => i > f && !isCb[i]);
          if (callees.length > 0 || !tame) {
            const callee = callees.length > 0 ? r.pick(callees) : r.range(0, nfuncs - 1);
            referenced.add(callee);
            if (tame) for (let a = 1; a <= 5; a++) b.emit(BPF_ALU64 | BPF_MOV | BPF_K, a, 0, 0, r.range(0, 8));
            b.toFunction.set(b.emit(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0), callee);
            if (tame) for (let a = 1; a <= 5; a++) b.emit(BPF_ALU64 | BPF_MOV | BPF_K, a, 0, 0, imm());
            continue;
          }
        }
        if (sub < 6 && nfuncs > 1 && isCb.some((c) => c)) {
          // bpf_loop(n, callback, ctx, 0)
          const cbs = [...isCb.keys()].filter((i) => isCb[i]);
          b.emit(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, r.pick([0, 1, 4, 1000, -1]));
          const cb = r.pick(cbs);
          referenced.add(cb);
          b.toFunction.set(b.emit(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_FUNC, 0, 0), cb);
          b.emit(0, 0, 0, 0, 0);
          b.emit(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 0);
          b.emit(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, r.chance(0.9) ? 0 : 1);
          b.emit(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_loop);
          if (tame) for (let a = 1; a <= 5; a++) b.emit(BPF_ALU64 | BPF_MOV | BPF_K, a, 0, 0, imm());
          continue;
        }
        if (sub < 8 && maps.length > 0) {
          // v = bpf_map_lookup_elem(&map, fp-8); if (v) *(u64 *)v = ...
          b.emit(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_IDX, 0, r.int(maps.length));
          b.emit(0, 0, 0, 0, 0);
          b.emit(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
          b.emit(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8);
          b.emit(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, r.int(4));
          b.emit(BPF_JMP | BPF_CALL, 0, 0, 0, 1);
          b.emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, r.chance(0.9) ? 1 : 0, 0);
          b.emit(BPF_STX | BPF_MEM | r.pick(SIZES), 0, r.pick([0, 7, 8, 9]), r.pick([0, 4, 8, -1, 16]), 0);
          if (tame) for (let a = 0; a <= 5; a++) b.emit(BPF_ALU64 | BPF_MOV | BPF_K, a, 0, 0, imm());
          continue;
        }
        if (sub === 8 && !tame && r.chance(0.3)) b.emit(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, r.u32() | 0);
        else {
          if (tame) for (let a = 1; a <= 5; a++) b.emit(BPF_ALU64 | BPF_MOV | BPF_K, a, 0, 0, r.range(0, 64));
          b.emit(BPF_JMP | BPF_CALL, 0, 0, 0, r.pick(tame ? TAME_HELPERS : HELPERS));
        }
        // the call clobbered r1-r5
        if (tame) for (let a = 1; a <= 5; a++) b.emit(BPF_ALU64 | BPF_MOV | BPF_K, a, 0, 0, imm());
      } else if (!tame) {
        b.emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
      } else {
        // a nop (removed after verification), rarely a jump over code that may be unreachable
        b.emit(BPF_JMP | BPF_JA, 0, 0, 0, 0);
        if (r.chance(0.03)) forward.push(pc);
      }
    }
    // tame: every later function is called (or passed to bpf_loop) from somewhere, as the
    // kernel refuses unreachable code
    if (tame) {
      for (let g = f + 1; g < nfuncs; g++) {
        if (referenced.has(g)) continue;
        referenced.add(g);
        if (isCb[g]) {
          b.emit(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, r.pick([1, 4]));
          b.toFunction.set(b.emit(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_FUNC, 0, 0), g);
          b.emit(0, 0, 0, 0, 0);
          b.emit(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 0);
          b.emit(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0);
          b.emit(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_loop);
        } else {
          for (let a = 1; a <= 5; a++) b.emit(BPF_ALU64 | BPF_MOV | BPF_K, a, 0, 0, r.range(0, 8));
          b.toFunction.set(b.emit(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0), g);
        }
      }
    }
    // the function's tail: r0 = K; exit
    const tail = b.pc;
    for (const j of forward) b.slots[j][3] = b.target(r, j + 1, tail) - (j + 1);
    if (tame || r.chance(0.8)) {
      b.emit(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, isCb[f] ? r.pick([0, 0, 1]) : r.pick([0, 1, 2, -1]));
      b.emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
  }
  const insns = b.build(starts);
  const functions: FunctionSpec[] = starts.map((start, i) => ({
    name: i === 0 ? "prog" : `f${i}`,
    start,
    length: (starts[i + 1] ?? insns.length) - start,
    linkage: i === 0 || isGlobal[i] ? "global" : "static",
    btfTypeId: ownBtf ? (i === 0 ? BTF_MAIN : isGlobal[i] ? BTF_GLOBAL + i - 1 : BTF_STATIC + i - 1) : 0,
  }));
  const prog = asmSpec("exit", {
    name: "prog",
    section,
    type: progType,
    insns,
    functions,
    maps: maps.map((_, i) => i),
  });
  const what = `${tame ? "tame" : "wild"} ${section}, ${nfuncs} function(s) (callbacks ${isCb
    .map((c, i) => (c ? i : -1))
    .filter((i) => i >= 0)
    .join(",")}), ${insns.length} slots${withMaps !== undefined ? `, maps of ${withMaps.label}` : ""}`;
  return { prog, maps, what, btf: ownBtf ? structuredBtf() : (withMaps?.spec.btf ?? undefined) };
}
