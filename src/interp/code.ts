/**
 * A program prepared for the interpreter: validated, its slots packed for fast dispatch, split
 * into functions with their stack depths, and given a code region so that function addresses
 * (BPF_PSEUDO_FUNC values, callx and callback targets) are real addresses of the address space.
 *
 * Several `LoadedCode`s can live in one address space: tail calls switch from one to another,
 * and a code address names its program through the region's `owner`.
 */
import { DecodeError } from "../errors.ts";
import { type DecodedProgram, type IsaOptions, validateProgram } from "../isa/insn.ts";
import { type AddressSpace, type MemoryRegion, REGION_HI_BASE, REGION_LO_BASE } from "../runtime/memory.ts";
import { analyzeFunctions, type FunctionRange } from "./frames.ts";

/** A validated program in the interpreter's internal form. */
export class LoadedCode {
  readonly program: DecodedProgram;
  /** Slots in the program (the packed arrays have one more: an unexecutable sentinel). */
  readonly length: number;
  /**
   * Every slot's code, dst, src and off packed in one word, so dispatch does one load instead
   * of four; imm stays in its own array:
   *
   *   31            16 15  12 11   8 7      0
   *   +---------------+------+------+--------+
   *   |   off (s16)   | src  | dst  |  code  |
   *   +---------------+------+------+--------+
   */
  readonly ops: Int32Array;
  readonly imm: Int32Array;
  readonly functions: readonly FunctionRange[];
  /** Stack depth of the function starting at each slot (0 where no function starts). */
  readonly depthAt: Int32Array;
  /** The region whose addresses are this program's code addresses (slot * 8); it has no bytes. */
  readonly codeRegion: MemoryRegion;
  /** Entry slot of the exception callback; -1 for the default one (`r0 = r1; exit`). */
  readonly exceptionCallback: number;

  constructor(
    program: DecodedProgram,
    space: AddressSpace,
    options: IsaOptions & { exceptionCallback?: number } = {},
    name = "code",
  ) {
    validateProgram(program, options);
    this.program = program;
    const n = program.length;
    this.length = n;
    // One extra slot holding opcode 0 (not executable): running off the end faults there.
    this.ops = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) {
      this.ops[i] = program.code[i] | (program.dst[i] << 8) | (program.src[i] << 12) | (program.off[i] << 16);
    }
    this.imm = program.imm;
    const cb = options.exceptionCallback ?? -1;
    this.functions = analyzeFunctions(program, cb >= 0 && cb < n ? [cb] : []);
    this.depthAt = new Int32Array(n + 1);
    for (const f of this.functions) this.depthAt[f.start] = f.stackDepth;
    this.codeRegion = space.map("code", new Uint8Array(0), { name, writable: false });
    this.codeRegion.owner = this;
    if (cb !== -1 && !this.isFunctionEntry(cb)) {
      throw new DecodeError(cb, "the exception callback is not the entry of a function");
    }
    this.exceptionCallback = cb;
  }

  /** The address of slot `pc` (what a BPF_PSEUDO_FUNC load of that function gives). */
  address(pc: number): bigint {
    return this.codeRegion.address(pc * 8);
  }

  /** True when `pc` is the first slot of one of this program's functions. */
  isFunctionEntry(pc: number): boolean {
    return pc >= 0 && pc < this.length && this.depthAt[pc] !== 0;
  }
}

/**
 * The function a code address names: its program and slot, or null when the address is not the
 * entry of a function of a program mapped in `space`.
 */
export function resolveCodeAddress(
  space: AddressSpace,
  hi: number,
  lo: number,
): { code: LoadedCode; pc: number } | null {
  const idx = hi - REGION_HI_BASE;
  if (!(idx >= 0 && idx < space.regions.length)) return null;
  const owner = space.regions[idx].owner;
  if (!(owner instanceof LoadedCode)) return null;
  const rel = (lo >>> 0) - REGION_LO_BASE;
  if (rel < 0 || rel % 8 !== 0) return null;
  const pc = rel / 8;
  return owner.isFunctionEntry(pc) ? { code: owner, pc } : null;
}
