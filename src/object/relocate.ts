/**
 * Linking one program: its main function, then every `.text` subprogram it reaches (calls and
 * callback addresses, transitively, plus the exception callback its decl tag names), appended
 * in libbpf's order with call offsets fixed; then map, global-data and extern references
 * rewritten, and func_info/line_info moved to the appended positions.
 *
 * This is libbpf's `bpf_object__relocate` for one main program: `bpf_object__relocate_calls`,
 * `bpf_object__reloc_code` (depth-first: a subprogram is appended the first time it is met and
 * processed before the caller goes on, so two programs can get the same subprograms in
 * different orders), `bpf_object__append_subprog_code`, `reloc_prog_func_and_line_info` /
 * `adjust_prog_btf_ext_info` and `bpf_object__relocate_data`, written as an explicit stack
 * instead of recursion. References use the fd_array convention of spec.ts: libbpf's
 * gen_loader spelling (BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE), an object-wide kfunc id
 * for kfunc calls and the `ObjectSpec.ksyms` index for kernel variables and kfunc addresses.
 */
import type { Btf } from "../btf/btf.ts";
import type { BtfExt, BtfFuncInfo, BtfLineInfo } from "../btf/ext.ts";
import type { BtfDeclTag, BtfLinkage } from "../btf/types.ts";
import { LoadError } from "../errors.ts";
import { type DecodedProgram, INSN_SIZE } from "../isa/insn.ts";
import {
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
} from "../isa/opcodes.ts";
import { findProgram } from "./collect.ts";
import { essentialName } from "./externs.ts";
import type { ElfProgram, Extern, ObjectState, Relo } from "./internal.ts";
import { isSubprog } from "./internal.ts";
import type { SectionInfo } from "./sections.ts";
import type { FunctionSpec, LineInfo, ProgramSpec } from "./spec.ts";

const CALL = 0x85;
const LD_IMM64 = 0x18;
/** The kernel's BPF_COMPLEXITY_LIMIT_INSNS: no program it loads is longer (BPF_PROG_LOAD says E2BIG). */
const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

/** What linking needs besides the program: the object, its externs and how they are numbered. */
export interface LinkContext {
  readonly state: ObjectState;
  readonly ext: BtfExt | null;
  readonly externs: readonly Extern[];
  /** Extern index → kfunc id (kfunc externs only). */
  readonly kfuncIds: ReadonlyMap<number, number>;
  /** Extern index → index in `ObjectSpec.ksyms` (kernel variables, and kfuncs whose address is loaded). */
  readonly ksymIndex: ReadonlyMap<number, number>;
  /** Index of the `.kconfig` map, -1 when there is none. */
  readonly kconfigMap: number;
  /** The object's `exception_callback:` decl tags ({@link exceptionCallbackTags}). */
  readonly exceptionTags: readonly BtfDeclTag[];
}

/** A growable struct-of-arrays program, as libbpf reallocs `main_prog->insns`. */
class SlotBuffer {
  code: Uint8Array;
  dst: Uint8Array;
  src: Uint8Array;
  off: Int16Array;
  imm: Int32Array;
  length = 0;

  /** A buffer for `capacity` slots (a program without subprograms never grows). */
  constructor(capacity: number) {
    const n = Math.max(capacity, 1);
    this.code = new Uint8Array(n);
    this.dst = new Uint8Array(n);
    this.src = new Uint8Array(n);
    this.off = new Int16Array(n);
    this.imm = new Int32Array(n);
  }

  append(p: DecodedProgram): void {
    const need = this.length + p.length;
    if (need > this.code.length) {
      let cap = this.code.length;
      while (cap < need) cap *= 2;
      const grow = <T extends Uint8Array | Int16Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(cap);
        b.set(a.subarray(0, this.length));
        return b;
      };
      this.code = grow(this.code, (n) => new Uint8Array(n));
      this.dst = grow(this.dst, (n) => new Uint8Array(n));
      this.src = grow(this.src, (n) => new Uint8Array(n));
      this.off = grow(this.off, (n) => new Int16Array(n));
      this.imm = grow(this.imm, (n) => new Int32Array(n));
    }
    this.code.set(p.code, this.length);
    this.dst.set(p.dst, this.length);
    this.src.set(p.src, this.length);
    this.off.set(p.off, this.length);
    this.imm.set(p.imm, this.length);
    this.length = need;
  }

  finish(): DecodedProgram {
    const n = this.length;
    if (n === this.code.length) {
      return { length: n, code: this.code, dst: this.dst, src: this.src, off: this.off, imm: this.imm };
    }
    return {
      length: n,
      code: this.code.slice(0, n),
      dst: this.dst.slice(0, n),
      src: this.src.slice(0, n),
      off: this.off.slice(0, n),
      imm: this.imm.slice(0, n),
    };
  }
}

/**
 * Marks every ld_imm64 with a subprogram-address relocation as BPF_PSEUDO_FUNC, as
 * `bpf_object__relocate` does before relocating calls (so appended copies are recognised).
 */
export function markPseudoFuncs(programs: readonly ElfProgram[]): void {
  for (const p of programs) {
    for (const r of p.relos) if (r.kind === "subprogAddr") p.insns.src[r.insn] = BPF_PSEUDO_FUNC;
  }
}

/** libbpf's `find_prog_insn_relo`: the relocation of slot `insn`, if any (relos are sorted). */
function findRelo(prog: ElfProgram, insn: number): Relo | undefined {
  const relos = prog.relos;
  let lo = 0;
  let hi = relos.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = relos[mid];
    if (r.insn === insn) return r;
    if (r.insn < insn) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * libbpf's exception-callback lookup (`bpf_object__sanitize_and_load_btf`): the global
 * subprogram named by an `exception_callback:NAME` decl tag on `main`'s FUNC, if any.
 */
export function exceptionCallback(
  state: ObjectState,
  tags: readonly BtfDeclTag[],
  main: ElfProgram,
): ElfProgram | null {
  const btf = state.btf;
  if (btf === null) return null;
  let cb: ElfProgram | null = null;
  for (const t of tags) {
    const f = btf.type(t.type);
    if (f.kind !== "func" || f.linkage !== "global") {
      throw new LoadError(
        `program '${main.name}': exception_callback:<value> decl tag not applied to the main program`,
        {
          section: ".BTF",
        },
      );
    }
    if (f.name !== main.name) continue;
    if (cb !== null) return null; // several callbacks: libbpf appends none and the verifier complains
    const name = t.name.slice(EXCEPTION_CALLBACK.length);
    if (name === "") {
      throw new LoadError(`program '${main.name}': exception_callback:<value> decl tag contains empty value`);
    }
    for (const sub of state.programs) {
      if (!isSubprog(state, sub) || sub.name !== name) continue;
      if (!sub.global || sub.hidden) {
        throw new LoadError(`program '${main.name}': exception callback ${name} must be a global non-hidden function`);
      }
      if (cb !== null) {
        throw new LoadError(`program '${main.name}': multiple subprograms named like exception callback '${name}'`);
      }
      cb = sub;
    }
    if (cb === null) throw new LoadError(`program '${main.name}': cannot find exception callback '${name}'`);
  }
  return cb;
}

/** The prefix of the decl tag naming a program's exception callback. */
const EXCEPTION_CALLBACK = "exception_callback:";

/** The `exception_callback:` decl tags on whole types (not members), in id order. */
export function exceptionCallbackTags(btf: Btf | null): BtfDeclTag[] {
  if (btf === null) return [];
  const out: BtfDeclTag[] = [];
  for (const t of btf.types) {
    if (t.kind === "decl_tag" && t.componentIdx === -1 && t.name.startsWith(EXCEPTION_CALLBACK)) out.push(t);
  }
  return out;
}

/** The state of one main program's relocation (libbpf keeps it in the programs themselves). */
class Linker {
  readonly buf: SlotBuffer;
  /** Where each appended function starts (`sub_insn_off`); the main program is at 0. */
  readonly offsets = new Map<ElfProgram, number>();
  /** Appended functions in order, the main program first. */
  readonly order: ElfProgram[] = [];
  readonly funcInfo: { insn: number; typeId: number }[] = [];
  readonly lineInfo: LineInfo[] = [];
  #funcInfoOk = true;
  #lineInfoOk = true;
  readonly ctx: LinkContext;
  readonly main: ElfProgram;

  constructor(ctx: LinkContext, main: ElfProgram) {
    this.ctx = ctx;
    this.main = main;
    this.buf = new SlotBuffer(main.insnCnt);
  }

  /** libbpf's `bpf_object__append_subprog_code` plus the func/line info of the appended code. */
  append(prog: ElfProgram): void {
    if (this.buf.length + prog.insnCnt > BPF_COMPLEXITY_LIMIT_INSNS) {
      throw new LoadError(
        `program '${this.main.name}': more than ${BPF_COMPLEXITY_LIMIT_INSNS} instructions with its subprograms`,
        { section: this.main.secName },
      );
    }
    this.offsets.set(prog, this.buf.length);
    this.order.push(prog);
    this.buf.append(prog.insns);
    this.#relocInfo(prog);
  }

  /** libbpf's `adjust_prog_btf_ext_info` for both kinds of record. */
  #relocInfo(prog: ElfProgram): void {
    const sec = this.ctx.ext?.sections.get(prog.secName);
    if (this.ctx.ext === null) return;
    const adj = (this.offsets.get(prog) ?? 0) - prog.insnOff;
    const isMain = prog === this.main;
    if (this.#funcInfoOk) {
      const recs = inRange(sec?.funcInfo ?? [], prog);
      if (recs.length === 0) {
        if (!isMain)
          throw new LoadError(`program '${prog.name}': missing .BTF.ext function info`, { section: prog.secName });
        this.#funcInfoOk = false; // libbpf skips all func_info of a main program without its own
      } else {
        for (const r of recs) this.funcInfo.push({ insn: r.insn + adj, typeId: r.typeId });
      }
    }
    if (this.#lineInfoOk) {
      const recs = inRange(sec?.lineInfo ?? [], prog);
      if (recs.length === 0) {
        if (!isMain)
          throw new LoadError(`program '${prog.name}': missing .BTF.ext line info`, { section: prog.secName });
        this.#lineInfoOk = false;
      } else {
        for (const r of recs) {
          this.lineInfo.push({ insn: r.insn + adj, file: r.file, line: r.line, column: r.column, text: r.text });
        }
      }
    }
  }

  /** libbpf's `bpf_object__reloc_code`, depth-first with an explicit stack. */
  relocCode(start: ElfProgram): void {
    const state = this.ctx.state;
    const stack: { prog: ElfProgram; next: number }[] = [{ prog: start, next: 0 }];
    const buf = this.buf;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      const prog = frame.prog;
      if (frame.next >= prog.insnCnt) {
        stack.pop();
        continue;
      }
      const i = frame.next++;
      const at = (this.offsets.get(prog) ?? 0) + i;
      const code = buf.code[at];
      const isCall = code === CALL && buf.src[at] === BPF_PSEUDO_CALL && buf.dst[at] === 0 && buf.off[at] === 0;
      const isFunc = code === LD_IMM64 && buf.src[at] === BPF_PSEUDO_FUNC;
      if (!isCall && !isFunc) continue;
      const where = { section: prog.secName, insn: prog.insnOff + i };
      const relo = findRelo(prog, i);
      if (relo?.kind === "externCall") continue;
      if (relo !== undefined && relo.kind !== "call" && relo.kind !== "subprogAddr") {
        throw new LoadError(`program '${prog.name}': unexpected ${relo.kind} relocation on a call`, where);
      }
      let target: number;
      if (relo !== undefined) {
        target =
          relo.kind === "call" ? relo.symOff / INSN_SIZE + buf.imm[at] + 1 : (relo.symOff + buf.imm[at]) / INSN_SIZE;
      } else if (isFunc) {
        throw new LoadError(`program '${prog.name}': missing subprogram address relocation`, where);
      } else {
        target = prog.insnOff + i + buf.imm[at] + 1;
      }
      const sub = Number.isInteger(target) && target >= 0 ? findProgram(state, state.textShndx, target) : undefined;
      if (sub === undefined || state.textShndx === 0) {
        throw new LoadError(
          `program '${prog.name}': call to slot ${target} of .text, where no function starts or lies`,
          where,
        );
      }
      if (!this.offsets.has(sub)) {
        this.append(sub);
        stack.push({ prog: sub, next: 0 });
      }
      buf.imm[at] = (this.offsets.get(sub) ?? 0) - at - 1;
    }
  }

  /** libbpf's `bpf_object__relocate_data` over the main program and every appended function. */
  relocateData(): void {
    const { externs, kfuncIds, ksymIndex, kconfigMap } = this.ctx;
    const buf = this.buf;
    for (const prog of this.order) {
      const base = this.offsets.get(prog) ?? 0;
      for (const r of prog.relos) {
        const at = base + r.insn;
        const where = { section: prog.secName, insn: prog.insnOff + r.insn };
        switch (r.kind) {
          case "map":
            buf.src[at] = BPF_PSEUDO_MAP_IDX;
            buf.imm[at] = r.map;
            break;
          case "data":
            buf.imm[at + 1] = (buf.imm[at] + r.symOff) | 0;
            buf.src[at] = BPF_PSEUDO_MAP_IDX_VALUE;
            buf.imm[at] = r.map;
            break;
          case "externLd64": {
            const e = externs[r.ext];
            if (e.kind === "kcfg") {
              buf.src[at] = BPF_PSEUDO_MAP_IDX_VALUE;
              buf.imm[at] = kconfigMap;
              buf.imm[at + 1] = e.offset;
            } else {
              // a kernel variable, or a kfunc's address (libbpf: typed ksym, BPF_PSEUDO_BTF_ID)
              buf.src[at] = BPF_PSEUDO_BTF_ID;
              buf.imm[at] = ksymIndex.get(r.ext) ?? 0;
              buf.imm[at + 1] = 0;
            }
            break;
          }
          case "externCall": {
            const id = kfuncIds.get(r.ext);
            if (id === undefined) {
              throw new LoadError(
                `program '${this.main.name}': call to extern '${externs[r.ext].name}', which is not a kfunc`,
                where,
              );
            }
            buf.src[at] = BPF_PSEUDO_KFUNC_CALL;
            buf.imm[at] = id;
            buf.off[at] = 0;
            break;
          }
          case "subprogAddr":
            if (buf.src[at] !== BPF_PSEUDO_FUNC)
              throw new LoadError(`program '${this.main.name}': bad subprogram address insn`, where);
            break;
          case "call":
            break;
        }
      }
    }
  }
}

/** The records of `recs` inside `prog` (libbpf stops at the first past its end: they are sorted). */
function inRange<T extends BtfFuncInfo | BtfLineInfo>(recs: readonly T[], prog: ElfProgram): T[] {
  const out: T[] = [];
  for (const r of recs) {
    if (r.insn < prog.insnOff) continue;
    if (r.insn >= prog.insnOff + prog.insnCnt) break;
    out.push(r);
  }
  return out;
}

/** The BTF FUNC describing `prog`: its func_info record's, else the first FUNC of that name. */
function funcType(
  btf: Btf | null,
  typeId: number | undefined,
  name: string,
): { id: number; linkage: BtfLinkage } | null {
  if (btf === null) return null;
  const t = typeId !== undefined ? btf.type(typeId) : btf.findByName(name, "func");
  return t !== undefined && t.kind === "func" ? { id: t.id, linkage: t.linkage } : null;
}

/** Links main program `main` (with section info `info`) into a ProgramSpec. */
export function linkProgram(ctx: LinkContext, main: ElfProgram, info: SectionInfo): ProgramSpec {
  const state = ctx.state;
  const l = new Linker(ctx, main);
  l.append(main);
  l.relocCode(main);
  const cb = exceptionCallback(state, ctx.exceptionTags, main);
  if (cb !== null && !l.offsets.has(cb)) {
    l.append(cb);
    l.relocCode(cb);
  }
  l.relocateData();
  const insns = l.buf.finish();

  const fiAt = new Map(l.funcInfo.map((f) => [f.insn, f.typeId]));
  const functions: FunctionSpec[] = l.order.map((p) => {
    const start = l.offsets.get(p) ?? 0;
    const t = funcType(state.btf, fiAt.get(start), p.name);
    let linkage: FunctionSpec["linkage"] = t?.linkage ?? "static";
    if (p.hidden && isSubprog(state, p)) linkage = "static"; // libbpf's mark_btf_static
    return { name: p.name, start, length: p.insnCnt, linkage, btfTypeId: t?.id ?? 0 };
  });
  const mainType = functions[0].btfTypeId;
  const declTags =
    state.btf !== null && mainType !== 0
      ? state.btf
          .declTagsOf(mainType)
          .filter((d) => d.componentIdx === -1)
          .map((d) => d.value)
      : [];

  const maps = new Set<number>();
  const helpers = new Set<number>();
  const kfuncs = new Map<number, string>();
  for (let pc = 0; pc < insns.length; pc++) {
    const code = insns.code[pc];
    if (code === LD_IMM64) {
      if (insns.src[pc] === BPF_PSEUDO_MAP_IDX || insns.src[pc] === BPF_PSEUDO_MAP_IDX_VALUE) maps.add(insns.imm[pc]);
      pc++;
    } else if (code === CALL) {
      if (insns.src[pc] === 0) helpers.add(insns.imm[pc]);
      else if (insns.src[pc] === BPF_PSEUDO_KFUNC_CALL) {
        for (const [ext, id] of ctx.kfuncIds) if (id === insns.imm[pc]) kfuncs.set(id, kfuncName(ctx.externs[ext]));
      }
    }
  }
  return {
    name: main.name,
    section: info.section,
    type: info.type,
    expectedAttachType: info.expectedAttachType,
    attachTo: info.attachTo,
    autoload: info.autoload,
    flags: info.flags,
    insns,
    functions,
    lineInfo: l.lineInfo,
    maps: [...maps].sort((a, b) => a - b),
    kfuncs,
    helpers: [...helpers].sort((a, b) => a - b),
    declTags,
    license: state.license,
    kernelVersion: state.kernelVersion,
  };
}

/** The kernel name of a kfunc extern: without its `___flavor` suffix. */
export function kfuncName(e: Extern): string {
  return essentialName(e.name);
}
