/**
 * CO-RE relocation: computes what each `bpf_core_relo` of an object becomes against a target
 * BTF (the kernel's) and patches the instruction, as libbpf does when it loads an object
 * (libbpf.c `bpf_core_apply_relo`, `bpf_core_find_cands`, `bpf_core_add_cands`; relo_core.c
 * `bpf_core_calc_relo_insn`, `bpf_core_calc_*_relo`, `bpf_core_patch_insn`).
 *
 * For each relocation:
 *   1. the local spec is parsed from the access string (core-spec.ts);
 *   2. candidates are the target types of compatible kind whose name equals the local root's
 *      ignoring `___flavor` suffixes, in id order — cached per local type and pruned to the ones
 *      that matched, across the relocations of one relocator, as libbpf's cand_cache is;
 *   3. every candidate is matched; all matches must agree on bit offset and value, or the
 *      relocation is ambiguous (an error);
 *   4. the original value (from the local spec) and the new one are computed; no match makes
 *      existence checks 0 and other field/enum relocations poison the instruction;
 *   5. the instruction is patched: ALU/ALU64 `imm`, LDX/ST/STX `off` (and the access size when
 *      the field's size changed and that is safe), LD_IMM64 both halves. The original value is
 *      checked against the instruction unless libbpf would not (bitfields, type ids).
 *
 * A poisoned instruction becomes `call 0xbad2310` (both slots of an LD_IMM64): dead code the
 * verifier removes, or "invalid func unknown#195896080" when reachable. A relocation libbpf
 * would refuse (bad access string, ambiguity, an instruction of the wrong form) is a BtfError.
 */
import { BtfError } from "../errors.ts";
import type { DecodedProgram } from "../isa/insn.ts";
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_CALL,
  BPF_DW,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_ST,
  BPF_STX,
} from "../isa/opcodes.ts";
import type { Btf } from "./btf.ts";
import {
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_FIELD_SIGNED,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_LOCAL,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  CORE_POISON_IMM,
} from "./constants.ts";
import {
  type CoreSpec,
  coreError,
  essentialName,
  formatCoreSpec,
  isEnumvalBased,
  isFieldBased,
  isTypeBased,
  kindsCompatible,
  matchCoreSpec,
  parseCoreSpec,
} from "./core-spec.ts";
import type { CoreRelo } from "./ext.ts";
import { isAnyEnum } from "./types.ts";

/** What a relocation resolved to: a value to patch in, or poisoning. */
export type CoreResult =
  | {
      readonly kind: "value";
      readonly relo: CoreRelo;
      /** The value the compiler put in the instruction (from the local BTF). */
      readonly origValue: bigint;
      /** The value for the target. */
      readonly newValue: bigint;
      /** Whether the instruction must hold `origValue` (off for bitfields and type ids, as in libbpf). */
      readonly validate: boolean;
      /** Field sizes for LDX/ST/STX size adjustment (0 when not a plain field's byte offset). */
      readonly origSize: number;
      readonly newSize: number;
      /** Set when the size changed and narrowing the access would misread it: LDX/ST/STX get poisoned. */
      readonly failMemszAdjust: boolean;
      /** libbpf-style text of the local spec and of the matched target spec (undefined: none matched). */
      readonly localSpec: string;
      readonly targetSpec: string | undefined;
    }
  | {
      readonly kind: "poison";
      readonly relo: CoreRelo;
      readonly localSpec: string;
      readonly reason: string;
    };

/** Internal result of `bpf_core_calc_*_relo` for one spec. */
interface Calc {
  value: bigint;
  size: number;
  typeId: number;
  validate: boolean;
}

const POISON = Symbol("poison");

/** One relocation's result before it is given its public shape (`struct bpf_core_relo_res`). */
interface Res {
  poison: boolean;
  origValue: bigint;
  newValue: bigint;
  validate: boolean;
  origSize: number;
  newSize: number;
  failMemszAdjust: boolean;
}

/** Target types by flavor-less name, built once per target BTF. */
const essentialIndex = new WeakMap<Btf, Map<string, number[]>>();

function candidatesByName(target: Btf, name: string): readonly number[] {
  let index = essentialIndex.get(target);
  if (index === undefined) {
    index = new Map();
    for (let id = 1; id < target.types.length; id++) {
      const n = target.types[id].name;
      if (n === "") continue;
      const key = essentialName(n);
      const ids = index.get(key);
      if (ids === undefined) index.set(key, [id]);
      else ids.push(id);
    }
    essentialIndex.set(target, index);
  }
  return index.get(name) ?? [];
}

/** libbpf's `bpf_core_calc_field_relo` for one spec (undefined: the field was not found). */
function calcField(relo: CoreRelo, spec: CoreSpec | undefined): Calc | typeof POISON {
  const out: Calc = { value: 0n, size: 0, typeId: 0, validate: true };
  if (relo.kind === BPF_CORE_FIELD_EXISTS) {
    out.value = spec ? 1n : 0n;
    return out;
  }
  if (spec === undefined) return POISON;
  const btf = spec.btf;
  const acc = spec.spec[spec.spec.length - 1];
  const sizeOf = (id: number) => {
    try {
      return btf.sizeOf(id);
    } catch (cause) {
      throw new BtfError(`CO-RE relocation at insn ${relo.insn}: cannot size [${id}]`, { typeId: id }, { cause });
    }
  };
  if (acc.name === undefined) {
    if (relo.kind === BPF_CORE_FIELD_BYTE_OFFSET) {
      out.value = BigInt(Math.floor(spec.bitOffset / 8));
      out.size = sizeOf(acc.typeId);
      out.typeId = acc.typeId;
    } else if (relo.kind === BPF_CORE_FIELD_BYTE_SIZE) {
      out.value = BigInt(sizeOf(acc.typeId));
    } else {
      throw coreError(relo, "can't be applied to an array access");
    }
    return out;
  }
  const t = btf.type(acc.typeId);
  if (t.kind !== "struct" && t.kind !== "union") throw coreError(relo, `[${acc.typeId}] is not a struct or union`);
  const m = t.members[acc.idx];
  const mt = btf.resolve(m.type);
  const bitOff = spec.bitOffset;
  let bitSize = m.bitSize;
  const bitfield = bitSize > 0;
  let byteSize: number;
  let byteOff: number;
  if (bitfield) {
    if (mt.kind !== "int" && mt.kind !== "enum" && mt.kind !== "enum64") {
      throw coreError(relo, `bitfield of type [${mt.id}] (${mt.kind}) is not an integer`);
    }
    byteSize = mt.size;
    byteOff = Math.floor(Math.floor(bitOff / 8) / byteSize) * byteSize;
    // The smallest load of a power-of-two size that covers the bitfield.
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw coreError(relo, "bitfield can't be read with a 64-bit load");
      byteSize *= 2;
      byteOff = Math.floor(Math.floor(bitOff / 8) / byteSize) * byteSize;
    }
  } else {
    byteSize = sizeOf(mt.id);
    byteOff = Math.floor(bitOff / 8);
    bitSize = byteSize * 8;
  }
  // For bitfields every aspect but signedness and the right shift is ambiguous (the compiler
  // may choose another load), so libbpf does not check the original value.
  out.validate = !bitfield;
  switch (relo.kind) {
    case BPF_CORE_FIELD_BYTE_OFFSET:
      out.value = BigInt(byteOff);
      if (!bitfield) {
        out.size = byteSize;
        out.typeId = mt.id;
      }
      break;
    case BPF_CORE_FIELD_BYTE_SIZE:
      out.value = BigInt(byteSize);
      break;
    case BPF_CORE_FIELD_SIGNED:
      out.value = (isAnyEnum(mt) && mt.signed) || (mt.kind === "int" && mt.encoding === "signed") ? 1n : 0n;
      out.validate = true;
      break;
    case BPF_CORE_FIELD_LSHIFT_U64:
      // Shift the field's top bit to bit 63 after an n-byte load into the low bytes.
      out.value = BigInt(
        (btf.bigEndian ? (8 - byteSize) * 8 + (bitOff - byteOff * 8) : 64 - (bitOff + bitSize - byteOff * 8)) >>> 0,
      );
      break;
    case BPF_CORE_FIELD_RSHIFT_U64:
      out.value = BigInt((64 - bitSize) >>> 0);
      out.validate = true;
      break;
    default:
      throw coreError(relo, "unrecognized field relocation");
  }
  return out;
}

/** libbpf's `bpf_core_calc_type_relo`. */
function calcType(relo: CoreRelo, spec: CoreSpec | undefined): Calc {
  const out: Calc = { value: 0n, size: 0, typeId: 0, validate: true };
  if (spec === undefined) return out;
  switch (relo.kind) {
    case BPF_CORE_TYPE_ID_TARGET:
      out.value = BigInt(spec.rootTypeId);
      out.validate = false; // ids change when objects are linked
      break;
    case BPF_CORE_TYPE_EXISTS:
    case BPF_CORE_TYPE_MATCHES:
      out.value = 1n;
      break;
    case BPF_CORE_TYPE_SIZE:
      try {
        out.value = BigInt(spec.btf.sizeOf(spec.rootTypeId));
      } catch (cause) {
        throw new BtfError(
          `CO-RE type_size at insn ${relo.insn}: type has no size`,
          { typeId: spec.rootTypeId },
          { cause },
        );
      }
      break;
    default:
      throw coreError(relo, "unrecognized type relocation");
  }
  return out;
}

/** libbpf's `bpf_core_calc_enumval_relo`. */
function calcEnumval(relo: CoreRelo, spec: CoreSpec | undefined): Calc | typeof POISON {
  const out: Calc = { value: 0n, size: 0, typeId: 0, validate: true };
  if (relo.kind === BPF_CORE_ENUMVAL_EXISTS) {
    out.value = spec ? 1n : 0n;
    return out;
  }
  if (relo.kind !== BPF_CORE_ENUMVAL_VALUE) throw coreError(relo, "unrecognized enum relocation");
  if (spec === undefined) return POISON;
  const t = spec.btf.type(spec.spec[0].typeId);
  if (!isAnyEnum(t)) throw coreError(relo, `[${t.id}] is not an enum`);
  const v = t.values[spec.spec[0].idx].value;
  // struct btf_enum's val is __s32: libbpf sign-extends it to u64 whatever the kind_flag.
  out.value = t.kind === "enum" ? BigInt.asUintN(64, BigInt(Number(v) | 0)) : BigInt.asUintN(64, BigInt(v));
  return out;
}

/** libbpf's `bpf_core_calc_relo`: original and new value for one candidate (or none). */
function calcRelo(relo: CoreRelo, local: CoreSpec, targ: CoreSpec | undefined): Res {
  const res: Res = {
    poison: false,
    origValue: 0n,
    newValue: 0n,
    validate: true,
    origSize: 0,
    newSize: 0,
    failMemszAdjust: false,
  };
  let orig: Calc | typeof POISON;
  let next: Calc | typeof POISON;
  if (isFieldBased(relo.kind)) {
    orig = calcField(relo, local);
    next = orig === POISON ? POISON : calcField(relo, targ);
  } else if (isTypeBased(relo.kind)) {
    orig = calcType(relo, local);
    next = calcType(relo, targ);
  } else if (isEnumvalBased(relo.kind)) {
    orig = calcEnumval(relo, local);
    next = orig === POISON ? POISON : calcEnumval(relo, targ);
  } else {
    throw coreError(relo, "unrecognized CO-RE relocation");
  }
  if (orig === POISON || next === POISON) {
    res.poison = true;
    return res;
  }
  res.origValue = orig.value;
  res.newValue = next.value;
  res.validate = orig.validate;
  res.origSize = orig.size;
  res.newSize = next.size;
  if (isFieldBased(relo.kind) && orig.size !== next.size && targ !== undefined) {
    // Narrowing or widening a load is safe for pointers (a 32-bit kernel pointer) and unsigned
    // integers (zero extension); anything else would misread the field.
    const o = local.btf.type(orig.typeId);
    const n = targ.btf.type(next.typeId);
    const safe =
      (o.kind === "ptr" && n.kind === "ptr") ||
      (o.kind === "int" && n.kind === "int" && o.encoding !== "signed" && n.encoding !== "signed");
    res.failMemszAdjust = !safe;
  }
  return res;
}

/**
 * Resolves CO-RE relocations of one object against one target BTF, keeping libbpf's candidate
 * cache between relocations (so the order of relocations matters exactly as in libbpf).
 */
export class CoreRelocator {
  readonly local: Btf;
  readonly target: Btf;
  readonly #candidates = new Map<number, number[]>();

  constructor(local: Btf, target: Btf) {
    this.local = local;
    this.target = target;
  }

  /** Candidates of local type `id` in the target (libbpf's `bpf_core_find_cands`), cached. */
  #candidatesOf(relo: CoreRelo): number[] {
    const cached = this.#candidates.get(relo.typeId);
    if (cached !== undefined) return cached;
    const localType = this.local.type(relo.typeId);
    if (localType.name === "") throw coreError(relo, "relocation doesn't support anonymous types");
    const list = candidatesByName(this.target, essentialName(localType.name)).filter((id) =>
      kindsCompatible(this.target.types[id], localType),
    );
    this.#candidates.set(relo.typeId, list);
    return list;
  }

  /** What `relo` resolves to (libbpf's `bpf_core_calc_relo_insn`); a BtfError when libbpf would fail the load. */
  resolve(relo: CoreRelo): CoreResult {
    const localSpec = parseCoreSpec(this.local, relo);
    const localText = formatCoreSpec(localSpec);
    if (relo.kind === BPF_CORE_TYPE_ID_LOCAL) {
      const id = BigInt(localSpec.rootTypeId);
      return {
        kind: "value",
        relo,
        origValue: id,
        newValue: id,
        validate: false,
        origSize: 0,
        newSize: 0,
        failMemszAdjust: false,
        localSpec: localText,
        targetSpec: undefined, // no candidate search: the local id is the answer
      };
    }
    const cands = this.#candidatesOf(relo);
    let res: Res | undefined;
    let targSpec: CoreSpec | undefined;
    let kept = 0;
    for (const cand of cands) {
      const spec = matchCoreSpec(relo, localSpec, this.target, cand);
      if (spec === undefined) continue;
      const candRes = calcRelo(relo, localSpec, spec);
      if (res === undefined || targSpec === undefined) {
        res = candRes;
        targSpec = spec;
      } else if (spec.bitOffset !== targSpec.bitOffset) {
        throw coreError(relo, `field offset ambiguity: ${spec.bitOffset} != ${targSpec.bitOffset}`);
      } else if (candRes.poison !== res.poison || candRes.newValue !== res.newValue) {
        throw coreError(
          relo,
          `relocation decision ambiguity: ${candRes.poison ? "failure" : "success"} ${candRes.newValue} != ` +
            `${res.poison ? "failure" : "success"} ${res.newValue}`,
        );
      }
      cands[kept++] = cand;
    }
    // Later relocations of the same local type only try the candidates that matched.
    if (kept > 0) cands.length = kept;
    if (res === undefined) res = calcRelo(relo, localSpec, undefined);
    if (res.poison) {
      return { kind: "poison", relo, localSpec: localText, reason: "no matching target found" };
    }
    return {
      kind: "value",
      relo,
      origValue: res.origValue,
      newValue: res.newValue,
      validate: res.validate,
      origSize: res.origSize,
      newSize: res.newSize,
      failMemszAdjust: res.failMemszAdjust,
      localSpec: localText,
      targetSpec: targSpec === undefined ? undefined : formatCoreSpec(targSpec),
    };
  }

  /** Resolves and patches every relocation of a program in order; returns the results. */
  apply(insns: DecodedProgram, relos: readonly CoreRelo[]): CoreResult[] {
    const results: CoreResult[] = [];
    relos.forEach((relo, i) => {
      let result: CoreResult;
      try {
        result = this.resolve(relo);
        patchCoreInsn(insns, result);
      } catch (cause) {
        if (!(cause instanceof BtfError)) throw cause;
        throw new BtfError(`relo #${i}: ${cause.message}`, { typeId: relo.typeId }, { cause });
      }
      results.push(result);
    });
    return results;
  }
}

/** What `relo` resolves to against `targetBtf` (a fresh candidate cache; see {@link CoreRelocator}). */
export function resolveCoreRelocation(relo: CoreRelo, localBtf: Btf, targetBtf: Btf): CoreResult {
  return new CoreRelocator(localBtf, targetBtf).resolve(relo);
}

/** Applies `relos` (slot indexes into `insns`) to the program in place, as libbpf does at load time. */
export function applyCoreRelocations(
  insns: DecodedProgram,
  relos: readonly CoreRelo[],
  localBtf: Btf,
  targetBtf: Btf,
): void {
  new CoreRelocator(localBtf, targetBtf).apply(insns, relos);
}

const LD_IMM64 = BPF_LD | BPF_DW; // BPF_LD | BPF_IMM | BPF_DW
const SIZE_OF_CODE: Readonly<Record<number, number>> = { 0: 4, 8: 2, 16: 1, 24: 8 };
const CODE_OF_SIZE: Readonly<Record<number, number>> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

/** Turns slot `pc` into `call 0xbad2310` (libbpf's `bpf_core_poison_insn`). */
function poisonSlot(insns: DecodedProgram, pc: number): void {
  insns.code[pc] = BPF_JMP | BPF_CALL;
  insns.dst[pc] = 0;
  insns.src[pc] = 0;
  insns.off[pc] = 0;
  insns.imm[pc] = CORE_POISON_IMM;
}

/**
 * Patches the instruction of `result.relo` (libbpf's `bpf_core_patch_insn`): ALU/ALU64 with an
 * immediate get `imm`, LDX/ST/STX get `off` (and a new access size when the field's size changed
 * safely), LD_IMM64 gets its 64-bit immediate; a poisoned result, or an unsafe size change of a
 * load/store, becomes `call 0xbad2310`. Any other instruction, or one that does not hold the
 * value the compiler should have put there, is a BtfError.
 */
export function patchCoreInsn(insns: DecodedProgram, result: CoreResult): void {
  const relo = result.relo;
  const pc = relo.insn;
  if (!Number.isInteger(pc) || pc < 0 || pc >= insns.length) {
    throw coreError(relo, `instruction ${pc} is outside the program (${insns.length} slots)`);
  }
  const code = insns.code[pc];
  const poison = () => {
    if (code === LD_IMM64 && pc + 1 < insns.length) poisonSlot(insns, pc + 1);
    poisonSlot(insns, pc);
  };
  if (result.kind === "poison") {
    poison();
    return;
  }
  const { origValue, newValue } = result;
  const cls = code & 0x07;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      if ((code & 0x08) !== BPF_K) throw coreError(relo, `insn ${pc} is an ALU op on a register, not an immediate`);
      const imm = BigInt.asUintN(64, BigInt(insns.imm[pc]));
      if (result.validate && imm !== origValue) {
        throw coreError(
          relo,
          `unexpected insn #${pc} (ALU/ALU64) value: got ${insns.imm[pc]}, exp ${origValue} -> ${newValue}`,
        );
      }
      insns.imm[pc] = Number(BigInt.asIntN(32, newValue));
      return;
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      const off = BigInt.asUintN(64, BigInt(insns.off[pc]));
      if (result.validate && off !== origValue) {
        throw coreError(
          relo,
          `unexpected insn #${pc} (LDX/ST/STX) value: got ${insns.off[pc]}, exp ${origValue} -> ${newValue}`,
        );
      }
      if (newValue > 32767n) throw coreError(relo, `insn #${pc} (LDX/ST/STX) value too big: ${newValue}`);
      if (result.failMemszAdjust) {
        poison();
        return;
      }
      insns.off[pc] = Number(newValue);
      if (result.newSize !== result.origSize) {
        const bytes = SIZE_OF_CODE[code & 0x18];
        if (bytes !== result.origSize) {
          throw coreError(relo, `insn #${pc} (LDX/ST/STX) unexpected mem size: got ${bytes}, exp ${result.origSize}`);
        }
        const size = CODE_OF_SIZE[result.newSize];
        if (size === undefined)
          throw coreError(relo, `insn #${pc} (LDX/ST/STX) invalid new mem size: ${result.newSize}`);
        insns.code[pc] = (code & 0xe0) | size | cls;
      }
      return;
    }
    case BPF_LD: {
      if (
        code !== LD_IMM64 ||
        insns.src[pc] !== 0 ||
        insns.off[pc] !== 0 ||
        pc + 1 >= insns.length ||
        insns.code[pc + 1] !== 0 ||
        insns.dst[pc + 1] !== 0 ||
        insns.src[pc + 1] !== 0 ||
        insns.off[pc + 1] !== 0
      ) {
        throw coreError(relo, `insn #${pc} (LDIMM64) has unexpected form`);
      }
      const imm = (BigInt(insns.imm[pc + 1] >>> 0) << 32n) | BigInt(insns.imm[pc] >>> 0);
      if (result.validate && imm !== origValue) {
        throw coreError(relo, `unexpected insn #${pc} (LDIMM64) value: got ${imm}, exp ${origValue} -> ${newValue}`);
      }
      insns.imm[pc] = Number(BigInt.asIntN(32, newValue));
      insns.imm[pc + 1] = Number(BigInt.asIntN(32, newValue >> 32n));
      return;
    }
    default:
      throw coreError(
        relo,
        `trying to relocate unrecognized insn #${pc}, code:0x${code.toString(16)}, src:0x${insns.src[pc].toString(16)}, ` +
          `dst:0x${insns.dst[pc].toString(16)}, off:0x${(insns.off[pc] & 0xffff).toString(16)}, imm:0x${(insns.imm[pc] >>> 0).toString(16)}`,
      );
  }
}
