/**
 * BPF_ATOMIC instructions on register pairs: add/or/and/xor with and without BPF_FETCH, xchg,
 * cmpxchg (32 and 64 bit), and the load-acquire / store-release forms.
 *
 * Semantics (RFC 9669 §5.3, kernel `___bpf_prog_run` ATOMIC cases): a fetch variant puts the old
 * value in src (zero-extended for 32-bit); cmpxchg compares with r0, stores src on equality and
 * always leaves the old value in r0. Read-modify-write atomics must be naturally aligned (the
 * kernel's verifier rejects misaligned ones and arm64 would fault on them).
 */
import type { AddressSpace, ResolvedAccess } from "../runtime/memory.ts";

export const ATOMIC_OK = 0;
/** The source address of a load-acquire is not readable. */
export const ATOMIC_BAD_READ = 1;
/** The destination is not writable. */
export const ATOMIC_BAD_WRITE = 2;
export const ATOMIC_MISALIGNED = 3;

const TWO_32 = 4294967296;

/** Executes the atomic with opcode `c` and returns one of the ATOMIC_* outcomes. */
export function execAtomic(
  lo: Int32Array,
  hi: Int32Array,
  space: AddressSpace,
  acc: ResolvedAccess,
  c: number,
  d: number,
  s: number,
  off: number,
  imm: number,
): number {
  const size = c === 0xdb ? 8 : c === 0xc3 ? 4 : c === 0xcb ? 2 : 1;
  if (imm === 0x100) {
    // load-acquire: dst = *(src + off), zero-extended
    if (!space.resolve(hi[s], lo[s], off, size, acc)) return ATOMIC_BAD_READ;
    const v = acc.region.view;
    const o = acc.offset;
    lo[d] = size >= 4 ? v.getInt32(o, true) : size === 2 ? v.getUint16(o, true) : v.getUint8(o);
    hi[d] = size === 8 ? v.getInt32(o + 4, true) : 0;
    return ATOMIC_OK;
  }
  if (!space.resolve(hi[d], lo[d], off, size, acc) || !acc.region.writable) return ATOMIC_BAD_WRITE;
  const v = acc.region.view;
  const o = acc.offset;
  if (imm === 0x110) {
    // store-release: *(dst + off) = src
    if (size === 8) {
      v.setInt32(o, lo[s], true);
      v.setInt32(o + 4, hi[s], true);
    } else if (size === 4) v.setInt32(o, lo[s], true);
    else if (size === 2) v.setInt16(o, lo[s], true);
    else v.setInt8(o, lo[s]);
    return ATOMIC_OK;
  }
  // Regions start at aligned addresses, so the offset's alignment is the address's.
  if ((o & (size - 1)) !== 0) return ATOMIC_MISALIGNED;
  const oldLo = v.getInt32(o, true);
  const oldHi = size === 8 ? v.getInt32(o + 4, true) : 0;
  let newLo: number;
  let newHi: number;
  if (imm === 0xe1) {
    newLo = lo[s];
    newHi = hi[s];
  } else if (imm === 0xf1) {
    const eq = oldLo === lo[0] && (size === 4 || oldHi === hi[0]);
    newLo = eq ? lo[s] : oldLo;
    newHi = eq ? hi[s] : oldHi;
  } else {
    switch (imm & ~1) {
      case 0x00: {
        const a = (oldLo >>> 0) + (lo[s] >>> 0);
        newLo = a | 0;
        newHi = (oldHi + hi[s] + (a >= TWO_32 ? 1 : 0)) | 0;
        break;
      }
      case 0x40:
        newLo = oldLo | lo[s];
        newHi = oldHi | hi[s];
        break;
      case 0x50:
        newLo = oldLo & lo[s];
        newHi = oldHi & hi[s];
        break;
      default: // 0xa0, xor (validateProgram admits nothing else)
        newLo = oldLo ^ lo[s];
        newHi = oldHi ^ hi[s];
    }
  }
  v.setInt32(o, newLo, true);
  if (size === 8) v.setInt32(o + 4, newHi, true);
  if (imm === 0xf1) {
    lo[0] = oldLo;
    hi[0] = oldHi;
  } else if ((imm & 1) !== 0) {
    lo[s] = oldLo;
    hi[s] = oldHi;
  }
  return ATOMIC_OK;
}
