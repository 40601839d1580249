/**
 * Register states: what the verifier knows a register holds at one point of one path. This is
 * the kernel's `struct bpf_reg_state` (include/linux/bpf_verifier.h, v6.12) with its `type`
 * field turned into a discriminated union, one member per `enum bpf_reg_type` base type the
 * model knows, each carrying only the fields that type uses:
 *
 *   not_init       never written (NOT_INIT)
 *   scalar         a number (SCALAR_VALUE), with bounds; `id` links copies (find_equal_scalars)
 *   ctx            the program's context (PTR_TO_CTX)
 *   fp             a pointer into the stack of frame `frameno` (PTR_TO_STACK)
 *   map_ptr        a map (CONST_PTR_TO_MAP)
 *   map_value      an element of a map, possibly NULL (PTR_TO_MAP_VALUE[_OR_NULL])
 *   map_key        a key handed to a for_each callback (PTR_TO_MAP_KEY)
 *   pkt, pkt_meta  packet data with the checked `range` (PTR_TO_PACKET[_META])
 *   pkt_end        the end of the packet (PTR_TO_PACKET_END)
 *   func           a subprogram's address (PTR_TO_FUNC)
 *   mem            helper-returned memory of `memSize` bytes (PTR_TO_MEM, ringbuf records)
 *   btf_id         a kernel or program-allocated object (PTR_TO_BTF_ID, MEM_ALLOC for bpf_obj_new)
 *
 * Every pointer has a fixed offset `off` and a variable part `var` (the kernel keeps `var_off`
 * and the min/max fields on pointers too). States are immutable: transfer functions build new
 * ones.
 */
import { assertNever } from "../errors.ts";
import { Scalar } from "./scalar.ts";

/** A map as the verifier sees it (the kernel's `struct bpf_map` fields it consults). */
export interface VerifierMap {
  /** Index in the object's maps (the imm of BPF_PSEUDO_MAP_IDX). */
  readonly index: number;
  readonly name: string;
  /** BPF_MAP_TYPE_* */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** Offset of the `struct bpf_spin_lock` in the value, -1 when none (from BTF). */
  readonly spinLockOff: number;
  /** Offset of the `struct bpf_timer` in the value, -1 when none (from BTF). */
  readonly timerOff: number;
  /** BPF_F_RDONLY_PROG (`.rodata`): the program may not write. */
  readonly rdonlyProg: boolean;
  /** For map-in-map types: the inner map's template (`inner_map_meta`), else null. */
  readonly inner: VerifierMap | null;
}

/** Fields every pointer has. */
interface PtrBase {
  /** Fixed offset from the object's start. */
  readonly off: number;
  /** The variable part of the offset. */
  readonly var: Scalar;
  /** Identity shared by copies (for NULL checks and packet ranges). */
  readonly id: number;
  /** Id of the acquired reference this pointer holds, 0 when none. */
  readonly refObjId: number;
}

export interface NotInitReg {
  readonly kind: "not_init";
}
export interface ScalarReg {
  readonly kind: "scalar";
  readonly s: Scalar;
  /** Registers with the same nonzero id hold linked values (`sync_linked_regs`). */
  readonly id: number;
  /** BPF_ADD_CONST: this register is the id's value plus `delta` (`rX += const` after a copy). */
  readonly addConst: boolean;
  /** The constant added, when `addConst` (the kernel keeps it in `off`). */
  readonly delta: number;
}
export interface CtxReg extends PtrBase {
  readonly kind: "ctx";
}
export interface StackReg extends PtrBase {
  readonly kind: "fp";
  /** The frame whose stack it points into. */
  readonly frameno: number;
}
export interface MapPtrReg extends PtrBase {
  readonly kind: "map_ptr";
  readonly map: VerifierMap;
}
export interface MapValueReg extends PtrBase {
  readonly kind: "map_value";
  readonly map: VerifierMap;
  readonly maybeNull: boolean;
}
export interface MapKeyReg extends PtrBase {
  readonly kind: "map_key";
  readonly map: VerifierMap;
}
export interface PacketReg extends PtrBase {
  readonly kind: "pkt" | "pkt_meta";
  /** Bytes known to be readable from the fixed offset 0 of this id; AT_PKT_END/BEYOND_PKT_END. */
  readonly range: number;
}
export interface PacketEndReg extends PtrBase {
  readonly kind: "pkt_end";
}
export interface FuncReg extends PtrBase {
  readonly kind: "func";
  readonly subprogno: number;
}
export interface MemReg extends PtrBase {
  readonly kind: "mem";
  readonly memSize: number;
  readonly maybeNull: boolean;
  readonly rdonly: boolean;
  /** MEM_RINGBUF: a ring buffer record. */
  readonly ringbuf: boolean;
  /** A slice of a dynptr (`dynptr_id`): destroying the dynptr invalidates it. */
  readonly dynptrId?: number;
  /** A slice of an skb or xdp dynptr (DYNPTR_TYPE_SKB/XDP): packet data, dropped when it may move. */
  readonly pktSlice?: boolean;
}
export interface BtfIdReg extends PtrBase {
  readonly kind: "btf_id";
  /** The object's type name, for messages. */
  readonly typeName: string;
  /** Size of the object, 0 when unknown. */
  readonly size: number;
  readonly maybeNull: boolean;
  /** MEM_ALLOC: allocated by bpf_obj_new. */
  readonly alloc: boolean;
  /** PTR_UNTRUSTED */
  readonly untrusted: boolean;
}

/** A register state. */
export type RegState =
  | NotInitReg
  | ScalarReg
  | CtxReg
  | StackReg
  | MapPtrReg
  | MapValueReg
  | MapKeyReg
  | PacketReg
  | PacketEndReg
  | FuncReg
  | MemReg
  | BtfIdReg;

/** Pointer register states. */
export type PtrReg = Exclude<RegState, NotInitReg | ScalarReg>;

/** Packet pointer ranges below zero: the pointer was compared against pkt_end. */
export const AT_PKT_END = -1;
export const BEYOND_PKT_END = -2;

/** Number of registers R0..R10. */
export const MAX_BPF_REG = 11;

export const NOT_INIT: NotInitReg = { kind: "not_init" };

/** `mark_reg_unknown` */
export function unknownScalar(): ScalarReg {
  return { kind: "scalar", s: Scalar.unknown(), id: 0, addConst: false, delta: 0 };
}

/** `__mark_reg_known` */
export function knownScalar(v: bigint): ScalarReg {
  return { kind: "scalar", s: Scalar.known(v), id: 0, addConst: false, delta: 0 };
}

/** A scalar register with the given knowledge (and link). */
export function scalarReg(s: Scalar, id = 0, addConst = false, delta = 0): ScalarReg {
  return { kind: "scalar", s, id, addConst, delta };
}

/** The variable part of a freshly made pointer: known zero. */
export const ZERO_VAR: Scalar = Scalar.known(0n);

/** A packet pointer as loaded from the context (`mark_reg_known_zero` + type). */
export function pktReg(kind: "pkt" | "pkt_meta"): PacketReg {
  return { kind, off: 0, var: ZERO_VAR, id: 0, refObjId: 0, range: 0 };
}

/** The packet end pointer as loaded from the context. */
export function pktEndReg(): PacketEndReg {
  return { kind: "pkt_end", off: 0, var: ZERO_VAR, id: 0, refObjId: 0 };
}

/** True for every pointer kind. */
export function isPointer(r: RegState): r is PtrReg {
  return r.kind !== "not_init" && r.kind !== "scalar";
}

/** PTR_MAYBE_NULL */
export function mayBeNull(r: RegState): boolean {
  switch (r.kind) {
    case "map_value":
    case "mem":
    case "btf_id":
      return r.maybeNull;
    default:
      return false;
  }
}

/** `reg_is_pkt_pointer_any`: pkt, pkt_meta or pkt_end. */
export function isPktPointerAny(r: RegState): boolean {
  return r.kind === "pkt" || r.kind === "pkt_meta" || r.kind === "pkt_end";
}

/** `reg_is_init_pkt_pointer`: `type` with nothing added. */
export function isInitPktPointer(r: RegState, kind: "pkt" | "pkt_meta"): boolean {
  return r.kind === kind && r.off === 0 && r.var.equalsConst(0n);
}

/** `reg_type_str`: the kernel's name of a register's type (`map_value_or_null`, `fp`, `scalar` ...). */
export function regTypeStr(r: RegState): string {
  switch (r.kind) {
    case "not_init":
      return "?";
    case "scalar":
    case "ctx":
    case "fp":
    case "map_ptr":
    case "map_key":
    case "pkt":
    case "pkt_meta":
    case "pkt_end":
    case "func":
      return r.kind;
    case "map_value":
      return r.maybeNull ? "map_value_or_null" : "map_value";
    case "mem": {
      const prefix = `${r.rdonly ? "rdonly_" : ""}${r.ringbuf ? "ringbuf_" : ""}`;
      return `${prefix}mem${r.maybeNull ? "_or_null" : ""}`;
    }
    case "btf_id": {
      const prefix = `${r.alloc ? "alloc_" : ""}${r.untrusted ? "untrusted_" : ""}`;
      return `${prefix}ptr_${r.maybeNull ? "or_null_" : ""}`;
    }
    default:
      return assertNever(r, "register state");
  }
}

/** The same pointer with fixed offset `off` and variable part `v` (and possibly a new id). */
export function withOffset<T extends PtrReg>(r: T, off: number, v: Scalar, id: number = r.id): T {
  return { ...r, off, var: v, id };
}
