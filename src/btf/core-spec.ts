/**
 * CO-RE access specs and type matching: the half of libbpf's relo_core.c that decides *what* a
 * relocation refers to in the object's (local) BTF and *where* that is in the target (kernel)
 * BTF. core.ts turns the result into the value patched into the instruction.
 *
 * Counterparts (libbpf relo_core.c): `bpf_core_parse_spec`, `bpf_core_spec_match`,
 * `bpf_core_match_member`, `bpf_core_fields_are_compat`, `__bpf_core_types_are_compat`,
 * `__bpf_core_types_match`, `bpf_core_format_spec`, and `bpf_core_essential_name_len`
 * (libbpf.c). The rules are libbpf's, including its quirks (a failed member match deep inside an
 * anonymous struct leaves its speculative accessor in the raw spec, as libbpf's does). Where
 * libbpf would read out of bounds or recurse without limit on malformed BTF (negative accessor
 * indexes, cyclic function prototypes), this raises a BtfError instead; a step budget bounds the
 * recursive type comparisons.
 */
import { BtfError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import {
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_SPEC_MAX_LEN,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_LOCAL,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  CORE_RELO_KIND_NAMES,
  type CoreReloKind,
} from "./constants.ts";
import type { CoreRelo } from "./ext.ts";
import { type BtfArray, type BtfType, isAnyEnum, isComposite } from "./types.ts";

/** One high-level step of an access: a named member, or an array index (`name` undefined). */
export interface CoreAccessor {
  /** The struct/union holding the member, or the array element type. */
  readonly typeId: number;
  readonly idx: number;
  readonly name: string | undefined;
}

/** libbpf's `struct bpf_core_spec`: an access resolved in one BTF. */
export interface CoreSpec {
  readonly btf: Btf;
  readonly rootTypeId: number;
  readonly kind: CoreReloKind;
  /** Low-level spec: one index per access-string element (anonymous members included). */
  readonly raw: number[];
  /** High-level spec: named members and array indexes only. */
  readonly spec: CoreAccessor[];
  /** Bit offset of the accessed field from the root. */
  bitOffset: number;
}

/** Field-based kinds: byte offset/size, existence, signedness, bitfield shifts. */
export function isFieldBased(kind: CoreReloKind): boolean {
  return kind >= BPF_CORE_FIELD_BYTE_OFFSET && kind <= BPF_CORE_FIELD_RSHIFT_U64;
}

/** Type-based kinds: type ids, existence, size, matching. */
export function isTypeBased(kind: CoreReloKind): boolean {
  return (
    kind === BPF_CORE_TYPE_ID_LOCAL ||
    kind === BPF_CORE_TYPE_ID_TARGET ||
    kind === BPF_CORE_TYPE_EXISTS ||
    kind === BPF_CORE_TYPE_MATCHES ||
    kind === BPF_CORE_TYPE_SIZE
  );
}

/** Enumerator-based kinds: existence and value. */
export function isEnumvalBased(kind: CoreReloKind): boolean {
  return kind === BPF_CORE_ENUMVAL_EXISTS || kind === BPF_CORE_ENUMVAL_VALUE;
}

/**
 * Length of `name` without its `___flavor` suffix (libbpf's `bpf_core_essential_name_len`): the
 * last `X___Y` with X and Y not underscores ends the essential name after X.
 */
export function essentialNameLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== "_" && name[i + 1] === "_" && name[i + 2] === "_" && name[i + 3] === "_" && name[i + 4] !== "_") {
      return i + 1;
    }
  }
  return name.length;
}

/** `name` without its flavor suffix. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}

/** libbpf's `btf_kind_core_compat`: same kind, or both enums (ENUM and ENUM64 relocate to each other). */
export function kindsCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** The error of a relocation that cannot be computed (libbpf returns -EINVAL or -E2BIG). */
export function coreError(relo: CoreRelo, message: string): BtfError {
  return new BtfError(`CO-RE ${CORE_RELO_KIND_NAMES[relo.kind]} relocation at insn ${relo.insn}: ${message}`, {
    typeId: relo.typeId,
  });
}

/** Converts `x` to libbpf's u32 arithmetic (spec bit offsets are `__u32`). */
function u32(x: bigint): number {
  return Number(BigInt.asUintN(32, x));
}

/** Parses the access string like `sscanf("%d")` in a loop: optional ':' then an integer. */
function parseAccessString(relo: CoreRelo): number[] {
  const s = relo.accessString;
  if (s === "" || s[0] === ":") throw coreError(relo, `invalid access string "${s}"`);
  const raw: number[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === ":") i++;
    let j = i;
    while (j < s.length && " \t\n\v\f\r".includes(s[j])) j++;
    const start = j;
    if (s[j] === "+" || s[j] === "-") j++;
    const digits = j;
    while (j < s.length && s[j] >= "0" && s[j] <= "9") j++;
    if (j === digits) throw coreError(relo, `invalid access string "${s}"`);
    const value = Number(s.slice(start, j));
    if (value < 0 || value > 0x7fffffff) throw coreError(relo, `access index ${value} out of range in "${s}"`);
    if (raw.length === BPF_CORE_SPEC_MAX_LEN) throw coreError(relo, `access string "${s}" is too deep`);
    raw.push(value);
    i = j;
  }
  if (raw.length === 0) throw coreError(relo, `invalid access string "${s}"`);
  return raw;
}

/** libbpf's `is_flex_arr`: a zero-length array that is the last member of the struct `acc` names. */
function isFlexArray(btf: Btf, acc: CoreAccessor | undefined, arr: BtfArray): boolean {
  if (acc === undefined || acc.name === undefined || arr.nelems > 0) return false;
  const t = btf.type(acc.typeId);
  return isComposite(t) && acc.idx === t.members.length - 1;
}

/** `btf.sizeOf(id)`, failing as a relocation error (libbpf: "parsing ... failed" / -EINVAL). */
function sized(relo: CoreRelo, btf: Btf, id: number): number {
  try {
    return btf.sizeOf(id);
  } catch (cause) {
    throw new BtfError(`CO-RE relocation at insn ${relo.insn}: cannot size type [${id}]`, { typeId: id }, { cause });
  }
}

/** libbpf's `bpf_core_parse_spec`: the local spec of `relo` (a BtfError when it is malformed). */
export function parseCoreSpec(btf: Btf, relo: CoreRelo): CoreSpec {
  const spec: CoreSpec = { btf, rootTypeId: relo.typeId, kind: relo.kind, raw: [], spec: [], bitOffset: 0 };
  if (isTypeBased(relo.kind)) {
    if (relo.accessString !== "0") throw coreError(relo, `type-based access string "${relo.accessString}" is not "0"`);
    return spec;
  }
  spec.raw.push(...parseAccessString(relo));
  let t = btf.resolve(relo.typeId);
  let id = t.id;
  const first = spec.raw[0];
  if (isEnumvalBased(relo.kind)) {
    if (!isAnyEnum(t) || spec.raw.length > 1 || first >= t.values.length) {
      throw coreError(relo, `access "${relo.accessString}" does not name an enumerator of [${id}]`);
    }
    spec.spec.push({ typeId: id, idx: first, name: t.values[first].name });
    return spec;
  }
  spec.spec.push({ typeId: id, idx: first, name: undefined });
  if (!isFieldBased(relo.kind)) throw coreError(relo, "unknown relocation kind");
  spec.bitOffset = u32(BigInt(first) * BigInt(sized(relo, btf, id)) * 8n);
  for (let i = 1; i < spec.raw.length; i++) {
    t = btf.resolve(id);
    id = t.id;
    const idx = spec.raw[i];
    if (isComposite(t)) {
      if (idx >= t.members.length) throw coreError(relo, `member index ${idx} out of range in [${id}]`);
      const m = t.members[idx];
      spec.bitOffset = u32(BigInt(spec.bitOffset) + BigInt(m.bitOffset));
      if (m.name !== "") spec.spec.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === "array") {
      const elem = btf.resolve(t.type);
      id = elem.id;
      const flex = isFlexArray(btf, spec.spec[spec.spec.length - 1], t);
      if (!flex && idx >= t.nelems) throw coreError(relo, `array index ${idx} out of range in [${t.id}]`);
      spec.spec.push({ typeId: id, idx, name: undefined });
      spec.bitOffset = u32(BigInt(spec.bitOffset) + BigInt(idx) * BigInt(sized(relo, btf, id)) * 8n);
    } else {
      throw coreError(
        relo,
        `access "${relo.accessString}" (at idx ${i}) captures type [${id}] of unexpected kind ${t.kind}`,
      );
    }
  }
  return spec;
}

/** libbpf's `bpf_core_fields_are_compat`: can a local field of `localId` relocate to `targId`? */
function fieldsAreCompatible(localBtf: Btf, localId: number, targBtf: Btf, targId: number): boolean {
  for (;;) {
    const l = localBtf.resolve(localId);
    const r = targBtf.resolve(targId);
    if (isComposite(l) && isComposite(r)) return true;
    if (!kindsCompatible(l, r)) return false;
    switch (l.kind) {
      case "ptr":
      case "float":
        return true;
      case "fwd":
      case "enum":
      case "enum64": {
        const ln = essentialNameLength(l.name);
        const rn = essentialNameLength(r.name);
        return ln === 0 || rn === 0 || (ln === rn && l.name.slice(0, ln) === r.name.slice(0, rn));
      }
      case "int":
        return l.bitOffset === 0 && r.kind === "int" && r.bitOffset === 0;
      case "array":
        if (r.kind !== "array") return false;
        localId = l.type;
        targId = r.type;
        break;
      default:
        return false;
    }
  }
}

/**
 * libbpf's `bpf_core_match_member`: finds local accessor `acc`'s member by name in `targId`,
 * descending into anonymous members, extending `spec` on the way. Returns the member's type id,
 * or undefined when there is no compatible member.
 */
function matchMember(
  relo: CoreRelo,
  localBtf: Btf,
  acc: CoreAccessor,
  targBtf: Btf,
  targId: number,
  spec: CoreSpec,
): number | undefined {
  const target = targBtf.resolve(targId);
  if (!isComposite(target)) return undefined;
  const local = localBtf.type(acc.typeId);
  if (!isComposite(local)) throw coreError(relo, `local accessor type [${acc.typeId}] is not a struct or union`);
  const localMember = local.members[acc.idx];
  for (let i = 0; i < target.members.length; i++) {
    const m = target.members[i];
    if (spec.raw.length === BPF_CORE_SPEC_MAX_LEN) throw coreError(relo, "struct/union/array nesting too deep");
    spec.bitOffset = u32(BigInt(spec.bitOffset) + BigInt(m.bitOffset));
    spec.raw.push(i);
    if (m.name === "") {
      const found = matchMember(relo, localBtf, acc, targBtf, m.type, spec);
      if (found !== undefined) return found;
    } else if (m.name === localMember.name) {
      spec.spec.push({ typeId: target.id, idx: i, name: m.name });
      if (fieldsAreCompatible(localBtf, localMember.type, targBtf, m.type)) return m.type;
      spec.spec.pop();
      return undefined;
    }
    spec.bitOffset = u32(BigInt(spec.bitOffset) - BigInt(m.bitOffset));
    spec.raw.pop();
  }
  return undefined;
}

/** Bounds one relocation's recursive type comparisons (libbpf's are bounded only by recursion depth). */
export class Budget {
  steps = 0;
  /** Counts a step; a BtfError past a million. */
  take(relo: CoreRelo): void {
    if (++this.steps > 1_000_000) throw coreError(relo, "type comparison too complex");
  }
}

/**
 * libbpf's `bpf_core_spec_match`: matches `local` against candidate `targId`; returns the target
 * spec, or undefined when the candidate does not match.
 */
export function matchCoreSpec(relo: CoreRelo, local: CoreSpec, targBtf: Btf, targId: number): CoreSpec | undefined {
  const spec: CoreSpec = { btf: targBtf, rootTypeId: targId, kind: local.kind, raw: [], spec: [], bitOffset: 0 };
  if (isTypeBased(local.kind)) {
    const budget = new Budget();
    const ok =
      local.kind === BPF_CORE_TYPE_MATCHES
        ? typesMatch(relo, local.btf, local.rootTypeId, targBtf, targId, false, 32, budget)
        : typesAreCompatible(relo, local.btf, local.rootTypeId, targBtf, targId, 32, budget);
    return ok ? spec : undefined;
  }
  const localAcc = local.spec[0];
  if (isEnumvalBased(local.kind)) {
    const target = targBtf.resolve(targId);
    if (!isAnyEnum(target)) return undefined;
    const want = essentialName(localAcc.name ?? "");
    for (let i = 0; i < target.values.length; i++) {
      const name = target.values[i].name;
      if (essentialName(name) === want) {
        spec.spec.push({ typeId: target.id, idx: i, name });
        spec.raw.push(i);
        return spec;
      }
    }
    return undefined;
  }
  if (!isFieldBased(local.kind)) throw coreError(relo, "unknown relocation kind");
  for (let i = 0; i < local.spec.length; i++) {
    const acc = local.spec[i];
    let target = targBtf.resolve(targId);
    targId = target.id;
    if (acc.name !== undefined) {
      const next = matchMember(relo, local.btf, acc, targBtf, targId, spec);
      if (next === undefined) return undefined;
      targId = next;
    } else {
      if (i > 0) {
        if (target.kind !== "array") return undefined;
        const flex = isFlexArray(targBtf, spec.spec[spec.spec.length - 1], target);
        if (!flex && acc.idx >= target.nelems) return undefined;
        target = targBtf.resolve(target.type);
        targId = target.id;
      }
      if (spec.raw.length === BPF_CORE_SPEC_MAX_LEN) throw coreError(relo, "struct/union/array nesting too deep");
      spec.spec.push({ typeId: targId, idx: acc.idx, name: undefined });
      spec.raw.push(acc.idx);
      spec.bitOffset = u32(BigInt(spec.bitOffset) + BigInt(acc.idx) * BigInt(sized(relo, targBtf, targId)) * 8n);
    }
  }
  return spec;
}

/** libbpf's `__bpf_core_types_are_compat`: true/false, or a BtfError where libbpf returns -EINVAL. */
export function typesAreCompatible(
  relo: CoreRelo,
  localBtf: Btf,
  localId: number,
  targBtf: Btf,
  targId: number,
  level: number,
  budget: Budget = new Budget(),
): boolean {
  if (!kindsCompatible(localBtf.type(localId), targBtf.type(targId))) return false;
  for (let depth = 32; ; ) {
    budget.take(relo);
    if (--depth < 0) throw coreError(relo, "type compatibility check too deep");
    const l = localBtf.resolve(localId);
    const r = targBtf.resolve(targId);
    if (!kindsCompatible(l, r)) return false;
    switch (l.kind) {
      case "void":
      case "struct":
      case "union":
      case "enum":
      case "fwd":
      case "enum64":
        return true;
      case "int":
        return l.bitOffset === 0 && r.kind === "int" && r.bitOffset === 0;
      case "ptr":
        if (r.kind !== "ptr") return false;
        localId = l.type;
        targId = r.type;
        break;
      case "array":
        if (r.kind !== "array") return false;
        localId = l.type;
        targId = r.type;
        break;
      case "func_proto": {
        if (r.kind !== "func_proto" || l.params.length !== r.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (level <= 0) throw coreError(relo, "type compatibility check too deep");
          const lp = localBtf.resolve(l.params[i].type).id;
          const rp = targBtf.resolve(r.params[i].type).id;
          if (!typesAreCompatible(relo, localBtf, lp, targBtf, rp, level - 1, budget)) return false;
        }
        localId = localBtf.resolve(l.returnType).id;
        targId = targBtf.resolve(r.returnType).id;
        break;
      }
      default:
        return false;
    }
  }
}

/** libbpf's `bpf_core_names_match`: flavor-less names equal; an anonymous target matches only anonymous. */
function namesMatch(local: string, targ: string): boolean {
  if (targ === "") return local === "";
  return essentialName(local) === essentialName(targ);
}

/** libbpf's `__bpf_core_types_match` (the TYPE_MATCHES relation). */
export function typesMatch(
  relo: CoreRelo,
  localBtf: Btf,
  localId: number,
  targBtf: Btf,
  targId: number,
  behindPtr: boolean,
  level: number,
  budget: Budget = new Budget(),
): boolean {
  if (level <= 0) throw coreError(relo, "type match too deep");
  for (let depth = 32; ; ) {
    budget.take(relo);
    if (--depth < 0) throw coreError(relo, "type match too deep");
    const l = localBtf.resolve(localId);
    const r = targBtf.resolve(targId);
    if (!namesMatch(l.name, r.name)) return false;
    switch (l.kind) {
      case "void":
        return r.kind === "void";
      case "fwd": {
        const localUnion = l.fwdKind === "union";
        if (r.kind === "fwd") return localUnion === (r.fwdKind === "union");
        if (!behindPtr) return false;
        return (r.kind === "struct" && !localUnion) || (r.kind === "union" && localUnion);
      }
      case "enum":
      case "enum64":
        return isAnyEnum(r) && enumsMatch(l, r);
      case "struct":
      case "union":
        if (behindPtr) {
          if (r.kind === l.kind) return true;
          return r.kind === "fwd" && (l.kind === "union") === (r.fwdKind === "union");
        }
        if (r.kind !== l.kind) return false;
        return compositesMatch(relo, localBtf, l, targBtf, r, behindPtr, level, budget);
      case "int":
        return r.kind === "int" && l.size === r.size && (l.encoding === "signed") === (r.encoding === "signed");
      case "ptr":
        if (r.kind !== "ptr") return false;
        behindPtr = true;
        localId = l.type;
        targId = r.type;
        break;
      case "array":
        if (r.kind !== "array" || l.nelems !== r.nelems) return false;
        localId = l.type;
        targId = r.type;
        break;
      case "func_proto": {
        if (r.kind !== "func_proto" || l.params.length !== r.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesMatch(relo, localBtf, l.params[i].type, targBtf, r.params[i].type, behindPtr, level - 1, budget)) {
            return false;
          }
        }
        localId = l.returnType;
        targId = r.returnType;
        break;
      }
      default:
        return false;
    }
  }
}

/** libbpf's `bpf_core_enums_match`: same size, and every local enumerator named in the target. */
function enumsMatch(
  l: Extract<BtfType, { kind: "enum" | "enum64" }>,
  r: Extract<BtfType, { kind: "enum" | "enum64" }>,
): boolean {
  if (l.size !== r.size || l.values.length > r.values.length) return false;
  return l.values.every((lv) => r.values.some((rv) => namesMatch(lv.name, rv.name)));
}

/** libbpf's `bpf_core_composites_match`: every local member has a same-named matching target member. */
function compositesMatch(
  relo: CoreRelo,
  localBtf: Btf,
  l: Extract<BtfType, { kind: "struct" | "union" }>,
  targBtf: Btf,
  r: Extract<BtfType, { kind: "struct" | "union" }>,
  behindPtr: boolean,
  level: number,
  budget: Budget,
): boolean {
  if (l.members.length > r.members.length) return false;
  for (const lm of l.members) {
    let matched = false;
    for (const rm of r.members) {
      if (!namesMatch(lm.name, rm.name)) continue;
      if (typesMatch(relo, localBtf, lm.type, targBtf, rm.type, behindPtr, level - 1, budget)) {
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  return true;
}

/**
 * libbpf's `bpf_core_format_spec`, as its debug log prints specs:
 * `<byte_off> [5] struct task_struct.comm[3] (0:0:3 @ offset 3)`.
 */
export function formatCoreSpec(spec: CoreSpec): string {
  const root = spec.btf.type(spec.rootTypeId);
  let out = `<${CORE_RELO_KIND_NAMES[spec.kind]}> [${spec.rootTypeId}] ${root.kind} ${root.name === "" ? "<anon>" : root.name}`;
  if (isTypeBased(spec.kind)) return out;
  if (isEnumvalBased(spec.kind)) {
    const t = spec.btf.resolve(spec.rootTypeId);
    if (isAnyEnum(t)) {
      const v = t.values[spec.raw[0]];
      if (v !== undefined) out += `::${v.name} = ${v.value}`;
    }
    return out;
  }
  spec.spec.forEach((acc, i) => {
    if (acc.name !== undefined) out += `.${acc.name}`;
    else if (i > 0 || acc.idx > 0) out += `[${acc.idx}]`;
  });
  const bytes = Math.floor(spec.bitOffset / 8);
  const bits = spec.bitOffset % 8;
  return `${out} (${spec.raw.join(":")} @ offset ${bytes}${bits !== 0 ? `.${bits}` : ""})`;
}
