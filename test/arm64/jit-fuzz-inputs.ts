// The arm64 JIT fuzzer's damaged and random inputs: xlated bytes, layouts, JitInput facts, random
// instruction streams and nudged fixture programs. Each generator returns what it did, for the
// failure report.
import type { JitInput } from "../../src/arm64/jit/index.ts";
import type { DecodedProgram } from "../../src/isa/insn.ts";
import { copyProgram, interestingImm } from "../support/random-programs.ts";
import type { CaseRng as Rng } from "../support/rng.ts";

// ------------------------------------------------------------------------------------ operands

const INTERESTING = [
  0, 1, -1, 2, 4, 7, 8, 12, 16, 31, 32, 63, 64, 0xff, 0xffff, 0x7fff, -0x8000, 0x7fffffff, -0x80000000,
];

/** An immediate or offset worth trying. */
function interesting(r: Rng): number {
  return interestingImm(r, INTERESTING, 4096);
}

/** Opcodes the JIT knows (and a few it does not). */
const CODES = [
  0x07, 0x0f, 0x04, 0x0c, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87,
  0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xb4, 0xbc, 0xc7, 0xcf, 0xd4, 0xdc, 0xd7, 0x05, 0x06, 0x15, 0x1d, 0x16, 0x1e,
  0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d, 0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5,
  0xdd, 0xe5, 0x85, 0x8d, 0x95, 0xf5, 0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x21, 0x29, 0x31, 0x39, 0x41,
  0x49, 0x51, 0x59, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0xd3, 0xcb, 0xc2, 0xda, 0x20, 0x28,
  0x30, 0x40, 0x00,
];

/** Opcodes of ALU, jump, load, store and atomic forms the JIT compiles (no legacy packet loads). */
const TIDY_CODES = CODES.filter((c) => ![0x20, 0x28, 0x30, 0x40, 0x00, 0x18, 0xf5, 0x8d, 0xe5].includes(c));

// ------------------------------------------------------------------------------------ damage

/** Damages xlated bytes; returns a description. */
export function damageXlated(r: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string[] } {
  let x = new Uint8Array(bytes);
  const what: string[] = [];
  const rounds = r.chance(0.5) ? 1 : r.range(2, 4);
  for (let k = 0; k < rounds; k++) {
    const slot = x.length >= 8 ? r.int(Math.floor(x.length / 8)) * 8 : 0;
    switch (r.int(8)) {
      case 0:
        if (x.length > 0) {
          const at = r.int(x.length);
          x[at] = r.int(256);
          what.push(`byte@${at}=${x[at]}`);
        }
        break;
      case 1:
        if (x.length >= 8) {
          x[slot] = r.pick(CODES);
          what.push(`code@${slot / 8}=0x${x[slot].toString(16)}`);
        }
        break;
      case 2:
        if (x.length >= 8) {
          x[slot + 1] = r.chance(0.5) ? r.int(256) : (r.int(12) << 4) | r.int(12);
          what.push(`regs@${slot / 8}=0x${x[slot + 1].toString(16)}`);
        }
        break;
      case 3:
        if (x.length >= 8) {
          new DataView(x.buffer).setInt16(slot + 2, interesting(r), true);
          what.push(`off@${slot / 8}`);
        }
        break;
      case 4:
        if (x.length >= 8) {
          new DataView(x.buffer).setInt32(slot + 4, interesting(r), true);
          what.push(`imm@${slot / 8}`);
        }
        break;
      case 5: {
        const n = r.chance(0.5) ? r.int(x.length + 1) : Math.max(0, x.length - r.range(1, 7));
        x = x.slice(0, n);
        what.push(`truncate ${n}`);
        break;
      }
      case 6: {
        const extra = r.range(1, 24);
        const y = new Uint8Array(x.length + extra);
        y.set(x);
        for (let i = x.length; i < y.length; i++) y[i] = r.int(256);
        x = y;
        what.push(`append ${extra}`);
        break;
      }
      default:
        if (x.length >= 16) {
          const other = r.int(Math.floor(x.length / 8)) * 8;
          x.copyWithin(slot, other, other + 8);
          what.push(`slot ${slot / 8} = slot ${other / 8}`);
        }
    }
  }
  return { bytes: x, what };
}

export const ADDRESSES = [
  "0",
  "4",
  "2",
  "ffff800082640000",
  "ffff800082640002",
  "ffffffffffffffff",
  "fffffffffffffffc",
  "1ffff800082640000",
  "ffffffffffffffffffffffff",
  "7fffffffffffffff",
  "8000000000000000",
];

/** Damages a layout text; returns it and a description. */
export function damageLayout(r: Rng, info: string, slots: number): { info: string; what: string[] } {
  let lines = info.split("\n");
  const what: string[] = [];
  const rounds = r.chance(0.6) ? 1 : r.range(2, 3);
  const funcLines = () => lines.map((l, i) => (/^func(info)? /.test(l) ? i : -1)).filter((i) => i >= 0);
  for (let k = 0; k < rounds; k++) {
    const fl = funcLines();
    const at = fl.length > 0 ? r.pick(fl) : -1;
    switch (r.int(9)) {
      case 0: // a bogus function start
        lines.push(
          `funcinfo ${r.int(4)} insn_off ${r.pick([0, 1, slots - 1, slots, slots - 2, slots + 1, r.int(slots + 2), 99999999, 4294967296])} type_id 1`,
        );
        what.push(`funcinfo line: ${lines[lines.length - 1]}`);
        break;
      case 1: // a bogus address
        if (at >= 0 && lines[at].startsWith("func ")) {
          lines[at] = lines[at].replace(/0x[0-9a-f]+/, `0x${r.pick(ADDRESSES)}`);
          what.push(`address: ${lines[at]}`);
        }
        break;
      case 2: // an extra function
        lines.push(`func ${r.pick([1, 2, 3, 7, 100, 4294967296])} 0x${r.pick(ADDRESSES)}  0  8 extra`);
        if (r.chance(0.7))
          lines.push(`funcinfo ${lines[lines.length - 1].split(" ")[1]} insn_off ${r.int(slots + 2)} type_id 1`);
        what.push("extra function");
        break;
      case 3: // a missing line
        if (at >= 0) {
          what.push(`dropped: ${lines[at]}`);
          lines.splice(at, 1);
        }
        break;
      case 4: // a duplicated line
        if (at >= 0) {
          lines.push(lines[at]);
          what.push(`duplicated: ${lines[at]}`);
        }
        break;
      case 5: // reordered lines
        lines = lines.reverse();
        what.push("reversed");
        break;
      case 6: // a stray default-callback line
        lines.push(`ksym 0x${r.pick(ADDRESSES)} len ${r.int(100)} bpf_prog_x_F`);
        what.push("ksym line");
        break;
      case 7: // a number changed
        if (at >= 0) {
          let n = 0;
          const target = r.int(4);
          lines[at] = lines[at].replace(/\d+/g, (m) =>
            n++ === target ? String(r.pick([0, 1, 2, 8, 1 << 20, 2 ** 53, Number(m) + 1])) : m,
          );
          what.push(`changed: ${lines[at]}`);
        }
        break;
      default: // random garbage
        if (at >= 0) {
          const l = lines[at];
          const p = r.int(l.length + 1);
          lines[at] = l.slice(0, p) + String.fromCharCode(r.range(32, 126)) + l.slice(p + 1);
          what.push(`garbled: ${lines[at]}`);
        }
    }
  }
  if (r.chance(0.1)) {
    lines = [];
    what.push("empty layout");
  }
  return { info: lines.join("\n"), what };
}

/** A random instruction stream (raw or slot-wise) and a random layout for it. */
export function randomProgram(r: Rng): { xlated: Uint8Array; info: string; what: string } {
  const n = r.range(1, 64);
  let x: Uint8Array;
  let what: string;
  if (r.chance(0.3)) {
    x = new Uint8Array(r.chance(0.8) ? n * 8 : r.int(n * 8 + 1));
    for (let i = 0; i < x.length; i++) x[i] = r.int(256);
    what = `${x.length} random bytes`;
  } else {
    // slots of real opcodes with plausible operands: registers r0-r10, jumps inside the
    // program, small shifts, ld_imm64 with its second half, zero offsets for ALU operations
    // (tidy ones: a single function of the opcodes the JIT takes with operands it takes)
    const tidy = r.chance(0.5);
    const slots = tidy ? Math.min(n, 24) : n;
    x = new Uint8Array(slots * 8);
    const v = new DataView(x.buffer);
    for (let i = 0; i < slots; i++) {
      const code = tidy ? r.pick(TIDY_CODES) : r.chance(0.97) ? r.pick(CODES) : r.int(256);
      const cls = code & 7;
      const mem = cls === 1 || cls === 2 || cls === 3;
      const jump = (cls === 5 || cls === 6) && code !== 0x85 && code !== 0x95;
      x[i * 8] = code;
      x[i * 8 + 1] = r.chance(tidy ? 1 : 0.97) ? (r.int(11) << 4) | r.int(11) : r.int(256);
      if (tidy && mem) x[i * 8 + 1] = cls === 1 ? (10 << 4) | r.int(10) : (r.int(10) << 4) | 10;
      const off = jump
        ? r.int(slots) - (i + 1)
        : tidy && !mem
          ? 0
          : r.chance(0.5)
            ? -8 * r.range(1, 8)
            : interesting(r);
      v.setInt16(i * 8 + 2, tidy || r.chance(0.9) ? off : interesting(r), true);
      let imm = tidy ? r.int(32) : r.chance(0.2) ? r.range(-slots, slots) : interesting(r);
      if (tidy && (code & 0xe7) === 0xc3) imm = r.pick([0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]);
      if (tidy && code === 0x85) imm = r.range(1, 8);
      v.setInt32(i * 8 + 4, imm, true);
      if (code === 0x18 && i + 1 < slots) {
        i++;
        v.setInt32(i * 8 + 4, interesting(r), true);
      }
    }
    if (tidy || r.chance(0.8)) x[(slots - 1) * 8] = 0x95;
    if (tidy) x[(slots - 1) * 8 + 1] = 0;
    what = `${slots} random${tidy ? " tidy" : ""} slots`;
    if (tidy) return { xlated: x, info: "func 0 0xffff800082640000 0 0 f0\n", what };
  }
  const nf = r.chance(0.7) ? 1 : r.range(2, 4);
  const starts = [0];
  for (let f = 1; f < nf; f++)
    starts.push(r.chance(0.9) ? Math.min(n - 1, starts[f - 1] + r.range(1, 8)) : r.int(n + 2));
  const lines = ["# func  ksym_addr  offset  len  name"];
  let addr = 0xffff800082640000n;
  starts.forEach((s, f) => {
    lines.push(`func ${f} 0x${(r.chance(0.9) ? addr : BigInt(`0x${r.pick(ADDRESSES)}`)).toString(16)}  0  0 f${f}`);
    lines.push(`funcinfo ${f} insn_off ${s} type_id 1`);
    addr += BigInt(r.range(1, 64) * 4);
  });
  return { xlated: x, info: lines.join("\n"), what: `${what}, functions at ${starts.join(",")}` };
}

/** Changes the facts of a JitInput. */
export function damageFacts(r: Rng): { facts: (input: JitInput) => JitInput; what: string } {
  const DEPTHS = [0, 8, 16, 504, 512, 520, 4096, 1 << 20, 2 ** 31, -8, 7, 3];
  switch (r.int(5)) {
    case 0: {
      const d = r.pick(DEPTHS);
      return { facts: (i) => ({ ...i, stackDepth: i.functions.map(() => d) }), what: `stack depths ${d}` };
    }
    case 1: {
      const cb = r.pick([-2, -1, 0, 1, 2, 5, 100]);
      return { facts: (i) => ({ ...i, exceptionCallback: cb }), what: `exception callback ${cb}` };
    }
    case 2: {
      const b = r.chance(0.5);
      return { facts: (i) => ({ ...i, exceptionBoundary: b }), what: `exception boundary ${b}` };
    }
    case 3:
      return {
        facts: (i) => ({ ...i, pseudoCallImm: i.pseudoCallImm === "relative" ? "index" : "relative" }),
        what: "pseudo call imm relative",
      };
    default: {
      const start = r.pick([-1, 0, 1, 2, 3, 1000]);
      const address = BigInt(`0x${r.pick(ADDRESSES)}`);
      return {
        facts: (i) => ({ ...i, functions: [...i.functions, { name: "extra", start, address }] }),
        what: `extra function at ${start}, 0x${address.toString(16)}`,
      };
    }
  }
}

/**
 * A gently mutated copy of a fixture program: an immediate nudged by a little (loop bounds stay
 * small, so the verifier stays fast) or a memory offset moved by a word.
 */
export function nudge(r: Rng, p: DecodedProgram): { insns: DecodedProgram; what: string } {
  const q = copyProgram(p);
  const at = r.int(p.length);
  if (q.code[at] === 0x18 || (at > 0 && q.code[at - 1] === 0x18) || q.code[at] === 0x85)
    return { insns: q, what: "unchanged" };
  const cls = q.code[at] & 7;
  if (cls === 5 || cls === 6 || r.chance(0.5)) {
    q.imm[at] = q.imm[at] + r.range(-8, 8);
    return { insns: q, what: `imm@${at}=${q.imm[at]}` };
  }
  q.off[at] = q.off[at] + r.pick([-8, -4, 4, 8]);
  return { insns: q, what: `off@${at}=${q.off[at]}` };
}
