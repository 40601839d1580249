import {
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  MAX_BPF_STACK,
  MAX_TAIL_CALL_CNT,
} from "../isa/opcodes.ts";
import { joinU64, REGION_LO_BASE } from "../runtime/memory.ts";
import {
  arsh64,
  bswap16,
  bswap32,
  lsh64,
  mul64,
  rsh64,
  sdiv32,
  sdiv64,
  smod32,
  smod64,
  udiv64,
  umod64,
} from "./alu64.ts";
import { ATOMIC_BAD_READ, ATOMIC_MISALIGNED, ATOMIC_OK, execAtomic } from "./atomics.ts";
import { type LoadedCode, resolveCodeAddress } from "./code.ts";

import { BPF_MAX_LOOPS, BpfThrow, EndOfRun, Machine, type RunInput, type RunResult } from "./machine.ts";

const TWO_32 = 4294967296;

/**
 * One program, ready to run many times. Construction validates the bytecode (a `DecodeError` for
 * anything malformed), splits it in functions and maps the stack frames.
 */
export class Interpreter extends Machine {
  /**
   * Runs the program once. r1..r5 come from `input.args` (missing ones are 0); every other
   * register starts at 0 and r10 points at the top of the main frame.
   */
  run(input: RunInput = {}): RunResult {
    const args = input.args ?? [];
    const whole = this.replacements.get(0);
    if (whole !== undefined) return { r0: BigInt.asUintN(64, whole(args)), insnCount: 0 };
    const lo = this.lo;
    const hi = this.hi;
    lo.fill(0);
    hi.fill(0);
    for (let i = 0; i < 5 && i < args.length; i++) {
      const u = BigInt.asUintN(64, args[i]);
      lo[i + 1] = Number(u & 0xffffffffn);
      hi[i + 1] = Number(u >> 32n);
    }
    for (const s of this.stacks) s.bytes.fill(0);
    this.packet = input.packet ?? null;
    this.ldAbs = input.ldAbs ?? null;
    this.cur = this.code;
    this.depth = 0;
    this.stackUsed = this.code.depthAt[0];
    this.frameDepth[0] = this.stackUsed;
    this.mayGoto[0] = BPF_MAX_LOOPS;
    this.left = this.budget;
    this.tailCalls = 0;
    this.tailPending = false;
    this.throwPending = false;
    this.frameMain[0] = 1;
    hi[10] = this.stacks[0].hi;
    lo[10] = REGION_LO_BASE + MAX_BPF_STACK;
    try {
      this.execute(0, 0, this.code);
    } catch (e) {
      if (!(e instanceof EndOfRun)) throw e;
      lo[0] = 0;
      hi[0] = 0;
    }
    return { r0: joinU64(hi[0], lo[0]), insnCount: this.budget - this.left };
  }
  /**
   * Executes `code` from `startPc` until an `exit` at call depth `base` (0 for the program,
   * deeper for a callback), following calls, returns and tail calls on the way.
   */
  protected execute(startPc: number, base: number, start: LoadedCode): void {
    const lo = this.lo;
    const hi = this.hi;
    const space = this.space;
    const acc = this.acc;
    const trace = this.trace;
    let code = start;
    let ops = code.ops;
    let imm2 = code.imm;
    let n = code.length;
    this.cur = code;
    let left = this.left;
    let pc = startPc;
    for (;;) {
      if (--left < 0) {
        this.left = 0;
        if (pc === n) throw this.fault("bad-insn", pc - 1, "fell off the end of the program");
        throw this.fault("budget", pc, `instruction budget of ${this.budget} exhausted`);
      }
      if (trace !== null && pc < n) trace(pc, this.regView, this.depth);
      const i = pc++;
      const w = ops[i];
      const c = w & 0xff;
      const d = (w >>> 8) & 0xf;
      const s = (w >>> 12) & 0xf;
      const off = w >> 16;
      const imm = imm2[i];
      switch (c) {
        // ---------------------------------------------------------------- ALU64
        case 0x07: {
          const a = (lo[d] >>> 0) + (imm >>> 0);
          lo[d] = a;
          hi[d] = hi[d] + (imm >> 31) + (a >= TWO_32 ? 1 : 0);
          continue;
        }
        case 0x0f: {
          const a = (lo[d] >>> 0) + (lo[s] >>> 0);
          lo[d] = a;
          hi[d] = hi[d] + hi[s] + (a >= TWO_32 ? 1 : 0);
          continue;
        }
        case 0x17: {
          const a = (lo[d] >>> 0) - (imm >>> 0);
          lo[d] = a;
          hi[d] = hi[d] - (imm >> 31) - (a < 0 ? 1 : 0);
          continue;
        }
        case 0x1f: {
          const a = (lo[d] >>> 0) - (lo[s] >>> 0);
          lo[d] = a;
          hi[d] = hi[d] - hi[s] - (a < 0 ? 1 : 0);
          continue;
        }
        case 0x27:
          mul64(lo, hi, d, imm, imm >> 31);
          continue;
        case 0x2f:
          mul64(lo, hi, d, lo[s], hi[s]);
          continue;
        case 0x37:
          if (off === 1) sdiv64(lo, hi, d, imm, imm >> 31);
          else udiv64(lo, hi, d, imm, imm >> 31);
          continue;
        case 0x3f:
          if (off === 1) sdiv64(lo, hi, d, lo[s], hi[s]);
          else udiv64(lo, hi, d, lo[s], hi[s]);
          continue;
        case 0x47:
          lo[d] |= imm;
          hi[d] |= imm >> 31;
          continue;
        case 0x4f:
          lo[d] |= lo[s];
          hi[d] |= hi[s];
          continue;
        case 0x57:
          lo[d] &= imm;
          hi[d] &= imm >> 31;
          continue;
        case 0x5f:
          lo[d] &= lo[s];
          hi[d] &= hi[s];
          continue;
        case 0x67:
          lsh64(lo, hi, d, imm & 63);
          continue;
        case 0x6f:
          lsh64(lo, hi, d, lo[s] & 63);
          continue;
        case 0x77:
          rsh64(lo, hi, d, imm & 63);
          continue;
        case 0x7f:
          rsh64(lo, hi, d, lo[s] & 63);
          continue;
        case 0x87: {
          const a = -(lo[d] >>> 0);
          lo[d] = a;
          hi[d] = ~hi[d] + (a === 0 ? 1 : 0);
          continue;
        }
        case 0x97:
          if (off === 1) smod64(lo, hi, d, imm, imm >> 31);
          else umod64(lo, hi, d, imm, imm >> 31);
          continue;
        case 0x9f:
          if (off === 1) smod64(lo, hi, d, lo[s], hi[s]);
          else umod64(lo, hi, d, lo[s], hi[s]);
          continue;
        case 0xa7:
          lo[d] ^= imm;
          hi[d] ^= imm >> 31;
          continue;
        case 0xaf:
          lo[d] ^= lo[s];
          hi[d] ^= hi[s];
          continue;
        case 0xb7:
          lo[d] = imm;
          hi[d] = imm >> 31;
          continue;
        case 0xbf:
          switch (off) {
            case 0:
              lo[d] = lo[s];
              hi[d] = hi[s];
              break;
            case 8:
              lo[d] = (lo[s] << 24) >> 24;
              hi[d] = lo[d] >> 31;
              break;
            case 16:
              lo[d] = (lo[s] << 16) >> 16;
              hi[d] = lo[d] >> 31;
              break;
            case 32:
              lo[d] = lo[s];
              hi[d] = lo[s] >> 31;
              break;
            default: {
              // addr_space_cast: both directions keep the low 32 bits; a cast to the user
              // address space (imm = 1 << 16) adds the arena's upper word unless the value is 0.
              const v = lo[s];
              lo[d] = v;
              hi[d] = imm === 1 << 16 && v !== 0 ? this.arenaHi : 0;
            }
          }
          continue;
        case 0xc7:
          arsh64(lo, hi, d, imm & 63);
          continue;
        case 0xcf:
          arsh64(lo, hi, d, lo[s] & 63);
          continue;
        case 0xd7: // bswap (ALU64 | END): unconditional
        case 0xdc: // be (ALU | END | TO_BE): a swap on a little-endian machine
          if (imm === 16) {
            lo[d] = bswap16(lo[d]);
            hi[d] = 0;
          } else if (imm === 32) {
            lo[d] = bswap32(lo[d]);
            hi[d] = 0;
          } else {
            const l = lo[d];
            lo[d] = bswap32(hi[d]);
            hi[d] = bswap32(l);
          }
          continue;
        case 0xd4: // le: truncation on a little-endian machine
          if (imm === 16) {
            lo[d] &= 0xffff;
            hi[d] = 0;
          } else if (imm === 32) hi[d] = 0;
          continue;

        // ---------------------------------------------------------------- ALU (32-bit)
        case 0x04:
          lo[d] = lo[d] + imm;
          hi[d] = 0;
          continue;
        case 0x0c:
          lo[d] = lo[d] + lo[s];
          hi[d] = 0;
          continue;
        case 0x14:
          lo[d] = lo[d] - imm;
          hi[d] = 0;
          continue;
        case 0x1c:
          lo[d] = lo[d] - lo[s];
          hi[d] = 0;
          continue;
        case 0x24:
          lo[d] = Math.imul(lo[d], imm);
          hi[d] = 0;
          continue;
        case 0x2c:
          lo[d] = Math.imul(lo[d], lo[s]);
          hi[d] = 0;
          continue;
        case 0x34:
        case 0x3c: {
          const b = c === 0x34 ? imm : lo[s];
          if (off === 1) lo[d] = sdiv32(lo[d], b);
          else lo[d] = b === 0 ? 0 : Math.floor((lo[d] >>> 0) / (b >>> 0));
          hi[d] = 0;
          continue;
        }
        case 0x44:
          lo[d] |= imm;
          hi[d] = 0;
          continue;
        case 0x4c:
          lo[d] |= lo[s];
          hi[d] = 0;
          continue;
        case 0x54:
          lo[d] &= imm;
          hi[d] = 0;
          continue;
        case 0x5c:
          lo[d] &= lo[s];
          hi[d] = 0;
          continue;
        case 0x64:
          lo[d] <<= imm & 31;
          hi[d] = 0;
          continue;
        case 0x6c:
          lo[d] <<= lo[s] & 31;
          hi[d] = 0;
          continue;
        case 0x74:
          lo[d] = lo[d] >>> (imm & 31);
          hi[d] = 0;
          continue;
        case 0x7c:
          lo[d] = lo[d] >>> (lo[s] & 31);
          hi[d] = 0;
          continue;
        case 0x84:
          lo[d] = -lo[d];
          hi[d] = 0;
          continue;
        case 0x94:
        case 0x9c: {
          const b = c === 0x94 ? imm : lo[s];
          if (off === 1) lo[d] = smod32(lo[d], b);
          else if (b !== 0) lo[d] = (lo[d] >>> 0) % (b >>> 0);
          hi[d] = 0;
          continue;
        }
        case 0xa4:
          lo[d] ^= imm;
          hi[d] = 0;
          continue;
        case 0xac:
          lo[d] ^= lo[s];
          hi[d] = 0;
          continue;
        case 0xb4:
          lo[d] = imm;
          hi[d] = 0;
          continue;
        case 0xbc: {
          lo[d] = off === 8 ? (lo[s] << 24) >> 24 : off === 16 ? (lo[s] << 16) >> 16 : lo[s];
          hi[d] = 0;
          continue;
        }
        case 0xc4:
          lo[d] >>= imm & 31;
          hi[d] = 0;
          continue;
        case 0xcc:
          lo[d] >>= lo[s] & 31;
          hi[d] = 0;
          continue;

        // ---------------------------------------------------------------- JMP (64-bit compares)
        case 0x05:
          pc += off;
          continue;
        case 0x15:
          if (lo[d] === imm && hi[d] === imm >> 31) pc += off;
          continue;
        case 0x1d:
          if (lo[d] === lo[s] && hi[d] === hi[s]) pc += off;
          continue;
        case 0x55:
          if (lo[d] !== imm || hi[d] !== imm >> 31) pc += off;
          continue;
        case 0x5d:
          if (lo[d] !== lo[s] || hi[d] !== hi[s]) pc += off;
          continue;
        case 0x45:
          if ((lo[d] & imm) !== 0 || (hi[d] & (imm >> 31)) !== 0) pc += off;
          continue;
        case 0x4d:
          if ((lo[d] & lo[s]) !== 0 || (hi[d] & hi[s]) !== 0) pc += off;
          continue;
        case 0x25:
          if (ucmp64(hi[d], lo[d], imm >> 31, imm) > 0) pc += off;
          continue;
        case 0x2d:
          if (ucmp64(hi[d], lo[d], hi[s], lo[s]) > 0) pc += off;
          continue;
        case 0x35:
          if (ucmp64(hi[d], lo[d], imm >> 31, imm) >= 0) pc += off;
          continue;
        case 0x3d:
          if (ucmp64(hi[d], lo[d], hi[s], lo[s]) >= 0) pc += off;
          continue;
        case 0xa5:
          if (ucmp64(hi[d], lo[d], imm >> 31, imm) < 0) pc += off;
          continue;
        case 0xad:
          if (ucmp64(hi[d], lo[d], hi[s], lo[s]) < 0) pc += off;
          continue;
        case 0xb5:
          if (ucmp64(hi[d], lo[d], imm >> 31, imm) <= 0) pc += off;
          continue;
        case 0xbd:
          if (ucmp64(hi[d], lo[d], hi[s], lo[s]) <= 0) pc += off;
          continue;
        case 0x65:
          if (scmp64(hi[d], lo[d], imm >> 31, imm) > 0) pc += off;
          continue;
        case 0x6d:
          if (scmp64(hi[d], lo[d], hi[s], lo[s]) > 0) pc += off;
          continue;
        case 0x75:
          if (scmp64(hi[d], lo[d], imm >> 31, imm) >= 0) pc += off;
          continue;
        case 0x7d:
          if (scmp64(hi[d], lo[d], hi[s], lo[s]) >= 0) pc += off;
          continue;
        case 0xc5:
          if (scmp64(hi[d], lo[d], imm >> 31, imm) < 0) pc += off;
          continue;
        case 0xcd:
          if (scmp64(hi[d], lo[d], hi[s], lo[s]) < 0) pc += off;
          continue;
        case 0xd5:
          if (scmp64(hi[d], lo[d], imm >> 31, imm) <= 0) pc += off;
          continue;
        case 0xdd:
          if (scmp64(hi[d], lo[d], hi[s], lo[s]) <= 0) pc += off;
          continue;
        case 0xe5: // may_goto: jump once the frame's loop budget is spent
          if (this.mayGoto[this.depth] === 0) pc += off;
          else this.mayGoto[this.depth]--;
          continue;

        // ---------------------------------------------------------------- JMP32 (32-bit compares)
        case 0x06: // gotol
          pc += imm;
          continue;
        case 0x16:
          if (lo[d] === imm) pc += off;
          continue;
        case 0x1e:
          if (lo[d] === lo[s]) pc += off;
          continue;
        case 0x56:
          if (lo[d] !== imm) pc += off;
          continue;
        case 0x5e:
          if (lo[d] !== lo[s]) pc += off;
          continue;
        case 0x46:
          if ((lo[d] & imm) !== 0) pc += off;
          continue;
        case 0x4e:
          if ((lo[d] & lo[s]) !== 0) pc += off;
          continue;
        case 0x26:
          if (lo[d] >>> 0 > imm >>> 0) pc += off;
          continue;
        case 0x2e:
          if (lo[d] >>> 0 > lo[s] >>> 0) pc += off;
          continue;
        case 0x36:
          if (lo[d] >>> 0 >= imm >>> 0) pc += off;
          continue;
        case 0x3e:
          if (lo[d] >>> 0 >= lo[s] >>> 0) pc += off;
          continue;
        case 0xa6:
          if (lo[d] >>> 0 < imm >>> 0) pc += off;
          continue;
        case 0xae:
          if (lo[d] >>> 0 < lo[s] >>> 0) pc += off;
          continue;
        case 0xb6:
          if (lo[d] >>> 0 <= imm >>> 0) pc += off;
          continue;
        case 0xbe:
          if (lo[d] >>> 0 <= lo[s] >>> 0) pc += off;
          continue;
        case 0x66:
          if (lo[d] > imm) pc += off;
          continue;
        case 0x6e:
          if (lo[d] > lo[s]) pc += off;
          continue;
        case 0x76:
          if (lo[d] >= imm) pc += off;
          continue;
        case 0x7e:
          if (lo[d] >= lo[s]) pc += off;
          continue;
        case 0xc6:
          if (lo[d] < imm) pc += off;
          continue;
        case 0xce:
          if (lo[d] < lo[s]) pc += off;
          continue;
        case 0xd6:
          if (lo[d] <= imm) pc += off;
          continue;
        case 0xde:
          if (lo[d] <= lo[s]) pc += off;
          continue;

        // ---------------------------------------------------------------- calls and exit
        case 0x85: {
          if (s === BPF_PSEUDO_CALL) {
            const target = pc + imm;
            if (this.replacements.size > 0 && code === this.code && this.replacements.has(target)) {
              this.left = left;
              this.callReplacement(target);
              continue;
            }
            this.pushFrame(i, pc, code, target);
            pc = target;
            continue;
          }
          this.left = left;
          this.callSite = i;
          if (s === BPF_PSEUDO_KFUNC_CALL) {
            const spec = this.kfuncs?.byId(imm);
            if (spec === undefined) throw this.fault("bad-call", i, `unknown kfunc with BTF id ${imm}`);
            this.callFn(spec, i);
          } else {
            this.callHelper(imm, i);
          }
          left = this.left;
          if (this.tailPending) {
            this.tailPending = false;
            const t = this.tailTarget;
            this.tailTarget = null;
            if (t !== null && this.tailCalls < MAX_TAIL_CALL_CNT) {
              // The target replaces the running function in its frame; registers stay as they are.
              this.tailCalls++;
              this.frameMain[this.depth] = 1;
              this.stackUsed += t.depthAt[0] - this.frameDepth[this.depth];
              this.frameDepth[this.depth] = t.depthAt[0];
              this.mayGoto[this.depth] = BPF_MAX_LOOPS;
              code = t;
              ops = code.ops;
              imm2 = code.imm;
              n = code.length;
              this.cur = code;
              pc = 0;
            }
          }
          if (this.throwPending) {
            // bpf_throw: abandon every frame above the boundary and run its exception callback
            // there, with r1 = cookie and r10 = the boundary's frame pointer.
            this.throwPending = false;
            const b = this.throwBoundary();
            if (b < base) {
              this.left = left;
              throw new BpfThrow(this.throwCookie);
            }
            const bcode = b === this.depth ? code : this.savedCode[b];
            for (let dep = this.depth; dep > b; dep--) this.stackUsed -= this.frameDepth[dep];
            this.depth = b;
            const u = this.throwCookie;
            hi[10] = this.stacks[b].hi;
            lo[10] = REGION_LO_BASE + MAX_BPF_STACK;
            const cb = bcode.exceptionCallback;
            if (cb >= 0) {
              lo[1] = Number(u & 0xffffffffn);
              hi[1] = Number(u >> 32n);
              this.stackUsed += bcode.depthAt[cb] - this.frameDepth[b];
              this.frameDepth[b] = bcode.depthAt[cb];
              this.mayGoto[b] = BPF_MAX_LOOPS;
              code = bcode;
              ops = code.ops;
              imm2 = code.imm;
              n = code.length;
              this.cur = code;
              pc = cb;
              continue;
            }
            // The verifier's default callback, `r0 = r1; exit`, returns the cookie from the boundary.
            lo[0] = Number(u & 0xffffffffn);
            hi[0] = Number(u >> 32n);
            if (b === base) {
              this.left = left;
              return;
            }
            this.stackUsed -= this.frameDepth[b];
            const back = b - 1;
            this.depth = back;
            for (let r = 0; r < 5; r++) {
              lo[6 + r] = this.savedLo[back * 5 + r];
              hi[6 + r] = this.savedHi[back * 5 + r];
            }
            pc = this.savedPc[back];
            code = this.savedCode[back];
            ops = code.ops;
            imm2 = code.imm;
            n = code.length;
            this.cur = code;
          }
          continue;
        }
        case 0x8d: {
          // callx: a code address calls a function, a small number a helper.
          const th = hi[d];
          const tl = lo[d];
          if (th === 0) {
            this.left = left;
            this.callSite = i;
            this.callHelper(tl >>> 0, i);
            left = this.left;
            continue;
          }
          const where = resolveCodeAddress(space, th, tl);
          if (where === null) {
            throw this.fault("bad-call", i, `callx to 0x${joinU64(th, tl).toString(16)}: not a function entry`);
          }
          this.pushFrame(i, pc, code, where.pc, where.code);
          code = where.code;
          ops = code.ops;
          imm2 = code.imm;
          n = code.length;
          this.cur = code;
          pc = where.pc;
          continue;
        }
        case 0x95: {
          const dep = this.depth;
          if (dep === base) {
            this.left = left;
            return;
          }
          this.stackUsed -= this.frameDepth[dep];
          const back = dep - 1;
          this.depth = back;
          for (let r = 0; r < 5; r++) {
            lo[6 + r] = this.savedLo[back * 5 + r];
            hi[6 + r] = this.savedHi[back * 5 + r];
          }
          pc = this.savedPc[back];
          if (this.savedCode[back] !== code) {
            code = this.savedCode[back];
            ops = code.ops;
            imm2 = code.imm;
            n = code.length;
            this.cur = code;
          }
          continue;
        }

        // ---------------------------------------------------------------- LD_IMM64
        case 0x18: {
          pc++;
          if (s === 0) {
            lo[d] = imm;
            hi[d] = imm2[i + 1];
          } else if (s === BPF_PSEUDO_FUNC) {
            const target = i + 1 + imm;
            lo[d] = REGION_LO_BASE + target * 8;
            hi[d] = code.codeRegion.hi;
          } else {
            if (this.ldImm64 === undefined) {
              const what = s === BPF_PSEUDO_BTF_ID ? "BTF id" : `pseudo source ${s}`;
              throw this.fault("bad-insn", i, `ld_imm64 of ${what} ${imm} has no resolver (run it through the loader)`);
            }
            const u = BigInt.asUintN(64, this.ldImm64(i, s, imm, imm2[i + 1]));
            lo[d] = Number(u & 0xffffffffn);
            hi[d] = Number(u >> 32n);
          }
          continue;
        }

        // ---------------------------------------------------------------- LDX
        case 0x61:
          if (!space.resolve(hi[s], lo[s], off, 4, acc)) throw this.memFault(i, hi[s], lo[s], off, 4, false);
          if (acc.region.load32Hook !== null) {
            const p = acc.region.load32Hook(acc.offset);
            if (p !== null) {
              lo[d] = Number(p & 0xffffffffn);
              hi[d] = Number(p >> 32n);
              continue;
            }
          }
          lo[d] = acc.region.view.getInt32(acc.offset, true);
          hi[d] = 0;
          continue;
        case 0x69:
          if (!space.resolve(hi[s], lo[s], off, 2, acc)) throw this.memFault(i, hi[s], lo[s], off, 2, false);
          lo[d] = acc.region.view.getUint16(acc.offset, true);
          hi[d] = 0;
          continue;
        case 0x71:
          if (!space.resolve(hi[s], lo[s], off, 1, acc)) throw this.memFault(i, hi[s], lo[s], off, 1, false);
          lo[d] = acc.region.bytes[acc.offset];
          hi[d] = 0;
          continue;
        case 0x79:
          if (!space.resolve(hi[s], lo[s], off, 8, acc)) throw this.memFault(i, hi[s], lo[s], off, 8, false);
          lo[d] = acc.region.view.getInt32(acc.offset, true);
          hi[d] = acc.region.view.getInt32(acc.offset + 4, true);
          continue;
        case 0x81:
          if (!space.resolve(hi[s], lo[s], off, 4, acc)) throw this.memFault(i, hi[s], lo[s], off, 4, false);
          lo[d] = acc.region.view.getInt32(acc.offset, true);
          hi[d] = lo[d] >> 31;
          continue;
        case 0x89:
          if (!space.resolve(hi[s], lo[s], off, 2, acc)) throw this.memFault(i, hi[s], lo[s], off, 2, false);
          lo[d] = acc.region.view.getInt16(acc.offset, true);
          hi[d] = lo[d] >> 31;
          continue;
        case 0x91:
          if (!space.resolve(hi[s], lo[s], off, 1, acc)) throw this.memFault(i, hi[s], lo[s], off, 1, false);
          lo[d] = acc.region.view.getInt8(acc.offset);
          hi[d] = lo[d] >> 31;
          continue;

        // ---------------------------------------------------------------- ST / STX
        case 0x62:
        case 0x63: {
          if (!space.resolve(hi[d], lo[d], off, 4, acc) || !acc.region.writable) {
            throw this.memFault(i, hi[d], lo[d], off, 4, true);
          }
          acc.region.view.setInt32(acc.offset, c === 0x62 ? imm : lo[s], true);
          continue;
        }
        case 0x6a:
        case 0x6b: {
          if (!space.resolve(hi[d], lo[d], off, 2, acc) || !acc.region.writable) {
            throw this.memFault(i, hi[d], lo[d], off, 2, true);
          }
          acc.region.view.setInt16(acc.offset, c === 0x6a ? imm : lo[s], true);
          continue;
        }
        case 0x72:
        case 0x73: {
          if (!space.resolve(hi[d], lo[d], off, 1, acc) || !acc.region.writable) {
            throw this.memFault(i, hi[d], lo[d], off, 1, true);
          }
          acc.region.bytes[acc.offset] = c === 0x72 ? imm : lo[s];
          continue;
        }
        case 0x7a:
        case 0x7b: {
          if (!space.resolve(hi[d], lo[d], off, 8, acc) || !acc.region.writable) {
            throw this.memFault(i, hi[d], lo[d], off, 8, true);
          }
          const v = acc.region.view;
          if (c === 0x7a) {
            v.setInt32(acc.offset, imm, true);
            v.setInt32(acc.offset + 4, imm >> 31, true);
          } else {
            v.setInt32(acc.offset, lo[s], true);
            v.setInt32(acc.offset + 4, hi[s], true);
          }
          continue;
        }

        // ---------------------------------------------------------------- atomics
        case 0xc3:
        case 0xdb:
        case 0xcb:
        case 0xd3: {
          const r = execAtomic(lo, hi, space, acc, c, d, s, off, imm);
          if (r === ATOMIC_OK) continue;
          if (r === ATOMIC_MISALIGNED) {
            const addr = BigInt.asUintN(64, joinU64(hi[d], lo[d]) + BigInt(off));
            throw this.fault("misaligned", i, `misaligned atomic access at 0x${addr.toString(16)}`, addr);
          }
          const size = c === 0xdb ? 8 : c === 0xc3 ? 4 : c === 0xcb ? 2 : 1;
          if (r === ATOMIC_BAD_READ) throw this.memFault(i, hi[s], lo[s], off, size, false);
          throw this.memFault(i, hi[d], lo[d], off, size, true);
        }

        // ---------------------------------------------------------------- legacy packet loads
        case 0x20:
        case 0x28:
        case 0x30:
        case 0x40:
        case 0x48:
        case 0x50: {
          // LD_ABS / LD_IND: r0 = ntoh(*(packet + [src +] imm)); out of bounds ends the program
          // with r0 = 0, as the kernel's bpf_skb_load_helper path does.
          const size = c === 0x20 || c === 0x40 ? 4 : c === 0x28 || c === 0x48 ? 2 : 1;
          let off = imm;
          if (c >= 0x40) off = (lo[s] + imm) | 0;
          if (this.ldAbs !== null) {
            const v = this.ldAbs(off, size);
            if (v < 0) {
              this.left = left;
              throw new EndOfRun();
            }
            lo[0] = v;
            hi[0] = 0;
            continue;
          }
          const bytes = this.packet?.bytes;
          if (bytes === undefined || off < 0 || off + size > bytes.length) {
            this.left = left;
            throw new EndOfRun();
          }
          lo[0] =
            size === 4
              ? (bytes[off] << 24) | (bytes[off + 1] << 16) | (bytes[off + 2] << 8) | bytes[off + 3]
              : size === 2
                ? (bytes[off] << 8) | bytes[off + 1]
                : bytes[off];
          hi[0] = 0;
          continue;
        }

        default:
          if (i === n) throw this.fault("bad-insn", i - 1, "fell off the end of the program");
          throw this.fault("bad-insn", i, `cannot execute opcode 0x${c.toString(16).padStart(2, "0")}`);
      }
    }
  }
}

/** Compares two unsigned 64-bit values given as words: -1, 0 or 1. */
function ucmp64(ah: number, al: number, bh: number, bl: number): number {
  if (ah !== bh) return ah >>> 0 < bh >>> 0 ? -1 : 1;
  if (al === bl) return 0;
  return al >>> 0 < bl >>> 0 ? -1 : 1;
}

/** Compares two signed 64-bit values given as words: -1, 0 or 1. */
function scmp64(ah: number, al: number, bh: number, bl: number): number {
  if (ah !== bh) return ah < bh ? -1 : 1;
  if (al === bl) return 0;
  return al >>> 0 < bl >>> 0 ? -1 : 1;
}
