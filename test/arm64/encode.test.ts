// The AArch64 encoder against llvm-mc-19 (`-triple=aarch64 -mattr=+lse,+pauth -show-encoding`):
// one table of assembler text and the encoder call that must produce the same word, assembled in
// one llvm-mc run. Also: bitmask immediates, and typed errors for unencodable operands.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import * as A from "../../src/arm64/asm/encode.ts";
import { EncodeError } from "../../src/errors.ts";

const LLVM_MC = "/usr/bin/llvm-mc-19";
const { SP, ZR } = A;

/** [assembler text, our word] */
const TABLE: [string, number][] = [
  // add/sub immediate, moves through ADD #0
  ["add x9, x30, #0", A.addImm(true, 9, 30, 0)],
  ["mov x29, sp", A.movAddImm(true, 29, SP)],
  ["add w2, w2, #0", A.addImm(false, 2, 2, 0)],
  ["add x7, x7, #1, lsl #12", A.addImm(true, 7, 7, 0x1000)],
  ["add x7, x7, #0xfff", A.addImm(true, 7, 7, 0xfff)],
  ["sub sp, x29, #96", A.subImm(true, SP, 29, 96)],
  ["sub sp, sp, #16", A.subImm(true, SP, SP, 16)],
  ["sub w1, w2, #0x123, lsl #12", A.subImm(false, 1, 2, 0x123000)],
  ["cmp x7, #5", A.cmpImm(true, 7, 5)],
  ["cmn w7, #5", A.cmnImm(false, 7, 5)],
  ["cmp w0, #0x21", A.cmpImm(false, 0, 0x21)],
  ["adds x1, x2, #4", A.addsImm(true, 1, 2, 4)],
  ["subs w1, w2, #4", A.subsImm(false, 1, 2, 4)],
  // add/sub shifted register
  ["add x10, x10, x25", A.addReg(true, 10, 10, 25)],
  ["add w7, w7, w0", A.addReg(false, 7, 7, 0)],
  ["sub x1, x2, x3, lsl #4", A.subReg(true, 1, 2, 3, "lsl", 4)],
  ["add w1, w2, w3, asr #31", A.addReg(false, 1, 2, 3, "asr", 31)],
  ["cmp w2, w10", A.cmpReg(false, 2, 10)],
  ["cmp x0, x7", A.cmpReg(true, 0, 7)],
  ["cmn x0, x7", A.cmnReg(true, 0, 7)],
  ["neg x7, x0", A.negReg(true, 7, 0)],
  ["neg w7, w7", A.negReg(false, 7, 7)],
  ["adds x1, x2, x3", A.addsReg(true, 1, 2, 3)],
  ["subs x1, x2, x3, lsr #2", A.subsReg(true, 1, 2, 3, "lsr", 2)],
  // logic shifted register
  ["and x1, x2, x3", A.andReg(true, 1, 2, 3)],
  ["orr w1, w2, w3", A.orrReg(false, 1, 2, 3)],
  ["eor x1, x2, x3, ror #7", A.eorReg(true, 1, 2, 3, "ror", 7)],
  ["ands w1, w2, w3", A.andsReg(false, 1, 2, 3)],
  ["bic x1, x2, x3", A.bicReg(true, 1, 2, 3)],
  ["orn x1, x2, x3", A.ornReg(true, 1, 2, 3)],
  ["eon w1, w2, w3", A.eonReg(false, 1, 2, 3)],
  ["bics x1, x2, x3", A.bicsReg(true, 1, 2, 3)],
  ["tst x7, x0", A.tstReg(true, 7, 0)],
  ["mvn x11, x1", A.mvnReg(true, 11, 1)],
  ["mvn w11, w1", A.mvnReg(false, 11, 1)],
  ["mov x1, x2", A.movOrr(true, 1, 2)],
  // logic immediate
  ["and x7, x7, #0xff", A.andImm(true, 7, 7, 0xff)],
  ["orr w0, wzr, #0x3fff", A.orrImm(false, 0, ZR, 0x3fff)],
  ["eor x1, x1, #0x5555555555555555", A.eorImm(true, 1, 1, 0x5555555555555555n)],
  ["and w1, w1, #0xfffffff0", A.andImm(false, 1, 1, 0xfffffff0)],
  ["and x1, x1, #0xfffffffffffffff0", A.andImm(true, 1, 1, 0xfffffffffffffff0n)],
  ["orr x1, x1, #0x8000000000000000", A.orrImm(true, 1, 1, 0x8000000000000000n)],
  ["and x1, x1, #0x00ff00ff00ff00ff", A.andImm(true, 1, 1, 0x00ff00ff00ff00ffn)],
  ["eor w3, w4, #0x0f0f0f0f", A.eorImm(false, 3, 4, 0x0f0f0f0f)],
  ["tst x1, #0x1", A.tstImm(true, 1, 1)],
  ["tst w1, #0x80000000", A.tstImm(false, 1, 0x80000000)],
  ["ands x2, x3, #0x7ffffffffffffffe", A.andsImm(true, 2, 3, 0x7ffffffffffffffen)],
  ["and sp, x1, #0xff00", A.andImm(true, SP, 1, 0xff00)],
  // move wide
  ["movz x0, #64", A.movz(true, 0, 64, 0)],
  ["movz x10, #0xfff0, lsl #48", A.movz(true, 10, 0xfff0, 48)],
  ["movk x10, #0xffff, lsl #32", A.movk(true, 10, 0xffff, 32)],
  ["movk w1, #0x1234, lsl #16", A.movk(false, 1, 0x1234, 16)],
  ["movn x10, #31", A.movn(true, 10, 31, 0)],
  ["movn w10, #0x8000, lsl #16", A.movn(false, 10, 0x8000, 16)],
  ["movz w0, #0x21", A.movz(false, 0, 0x21, 0)],
  // bitfield
  ["lsl x11, x2, #3", A.lslImm(true, 11, 2, 3)],
  ["lsl x7, x7, #1", A.lslImm(true, 7, 7, 1)],
  ["lsl w7, w7, #31", A.lslImm(false, 7, 7, 31)],
  ["lsr x7, x7, #63", A.lsrImm(true, 7, 7, 63)],
  ["lsr w7, w7, #0", A.lsrImm(false, 7, 7, 0)],
  ["asr w7, w7, #3", A.asrImm(false, 7, 7, 3)],
  ["asr x7, x7, #32", A.asrImm(true, 7, 7, 32)],
  ["uxtb w7, w7", A.uxtb(false, 7, 7)],
  ["uxth w7, w7", A.uxth(false, 7, 7)],
  ["ubfx x7, x7, #0, #16", A.uxth(true, 7, 7)],
  ["ubfx x7, x7, #0, #32", A.uxtw(true, 7, 7)],
  ["sxtb x7, w0", A.sxtb(true, 7, 0)],
  ["sxth w7, w0", A.sxth(false, 7, 0)],
  ["sxtw x7, w0", A.sxtw(true, 7, 0)],
  ["bfm x1, x2, #3, #4", A.bfm(true, 1, 2, 3, 4)],
  // byte reversal, 2- and 3-source
  ["rev16 w7, w7", A.rev16(false, 7, 7)],
  ["rev16 x7, x7", A.rev16(true, 7, 7)],
  ["rev w7, w7", A.rev32(false, 7, 7)],
  ["rev32 x7, x7", A.rev32(true, 7, 7)],
  ["rev x7, x7", A.rev64(7, 7)],
  ["udiv x7, x7, x0", A.udiv(true, 7, 7, 0)],
  ["sdiv w7, w7, w0", A.sdiv(false, 7, 7, 0)],
  ["lsl x1, x2, x3", A.lslv(true, 1, 2, 3)],
  ["lsr w1, w2, w3", A.lsrv(false, 1, 2, 3)],
  ["asr x1, x2, x3", A.asrv(true, 1, 2, 3)],
  ["ror x1, x2, x3", A.rorv(true, 1, 2, 3)],
  ["mul x7, x7, x0", A.mul(true, 7, 7, 0)],
  ["madd w1, w2, w3, w4", A.madd(false, 1, 2, 3, 4)],
  ["msub x7, x7, x10, x0", A.msub(true, 7, 7, 10, 0)],
  // loads/stores
  ["ldr x12, [x26]", A.ldrImm(8, 12, 26, 0)],
  ["str x7, [sp, #8]", A.strImm(8, 7, SP, 8)],
  ["ldr w0, [x0, #112]", A.ldrImm(4, 0, 0, 112)],
  ["ldrh w1, [x2, #8190]", A.ldrImm(2, 1, 2, 8190)],
  ["ldrb w1, [x2, #4095]", A.ldrImm(1, 1, 2, 4095)],
  ["strb w1, [sp, #3]", A.strImm(1, 1, SP, 3)],
  ["strh w1, [x3, #2]", A.strImm(2, 1, 3, 2)],
  ["str w1, [x3, #16380]", A.strImm(4, 1, 3, 16380)],
  ["ldr x1, [x3, #32760]", A.ldrImm(8, 1, 3, 32760)],
  ["ldrsb x1, [x2, #1]", A.ldrsImm(1, 1, 2, 1)],
  ["ldrsh x1, [x2, #2]", A.ldrsImm(2, 1, 2, 2)],
  ["ldrsw x1, [x2, #4]", A.ldrsImm(4, 1, 2, 4)],
  ["ldrsb w1, [x2, #1]", A.ldrsImm(1, 1, 2, 1, true)],
  ["ldr w10, [x1, x10]", A.ldrReg(4, 10, 1, 10)],
  ["ldr x11, [x10, x11]", A.ldrReg(8, 11, 10, 11)],
  ["ldrb w7, [x25, x10]", A.ldrReg(1, 7, 25, 10)],
  ["ldrh w7, [x25, x10]", A.ldrReg(2, 7, 25, 10)],
  ["str x0, [x25, x10]", A.strReg(8, 0, 25, 10)],
  ["strh w10, [x25, x11]", A.strReg(2, 10, 25, 11)],
  ["ldrsw x7, [x0, x10]", A.ldrsReg(4, 7, 0, 10)],
  ["ldrsb x7, [x0, x10]", A.ldrsReg(1, 7, 0, 10)],
  ["ldrsh x7, [x0, x10]", A.ldrsReg(2, 7, 0, 10)],
  ["ldur x1, [x2, #-8]", A.ldur(8, 1, 2, -8)],
  ["stur w1, [x2, #-255]", A.stur(4, 1, 2, -255)],
  ["ldursw x1, [x2, #-4]", A.ldursw(1, 2, -4)],
  ["ldr x10, #8", A.ldrLiteral(true, 10, 8)],
  ["ldr w10, #-8", A.ldrLiteral(false, 10, -8)],
  ["stp x29, x30, [sp, #-16]!", A.stp(true, 29, 30, SP, -16, "pre")],
  ["stp xzr, x26, [sp, #-16]!", A.stp(true, ZR, 26, SP, -16, "pre")],
  ["stp x19, xzr, [sp, #-16]!", A.stp(true, 19, ZR, SP, -16, "pre")],
  ["ldp x29, x30, [sp], #16", A.ldp(true, 29, 30, SP, 16, "post")],
  ["ldp xzr, x26, [sp], #16", A.ldp(true, ZR, 26, SP, 16, "post")],
  ["stp w1, w2, [x3, #8]", A.stp(false, 1, 2, 3, 8, "offset")],
  ["ldp x1, x2, [x3, #-512]!", A.ldp(true, 1, 2, 3, -512, "pre")],
  // exclusives, acquire/release
  ["ldxr x11, [x10]", A.ldxr(true, 11, 10)],
  ["ldxr w11, [x10]", A.ldxr(false, 11, 10)],
  ["ldaxr x1, [x2]", A.ldaxr(true, 1, 2)],
  ["stxr w12, x11, [x10]", A.stxr(true, 12, 11, 10)],
  ["stlxr w12, x11, [x10]", A.stlxr(true, 12, 11, 10)],
  ["stlxr w12, w11, [x10]", A.stlxr(false, 12, 11, 10)],
  ["ldar x7, [x0]", A.ldar(8, 7, 0)],
  ["ldarb w7, [x0]", A.ldar(1, 7, 0)],
  ["ldarh w7, [x0]", A.ldar(2, 7, 0)],
  ["stlr w7, [x0]", A.stlr(4, 7, 0)],
  ["stlrb w7, [x0]", A.stlr(1, 7, 0)],
  // LSE
  ["stadd x0, [x10]", A.stadd(true, 0, 10)],
  ["stadd w0, [x10]", A.stadd(false, 0, 10)],
  ["stset x0, [x10]", A.stset(true, 0, 10)],
  ["stclr x11, [x10]", A.stclr(true, 11, 10)],
  ["steor x0, [x10]", A.steor(true, 0, 10)],
  ["ldaddal x2, x2, [x10]", A.ldaddal(true, 2, 2, 10)],
  ["ldaddal w1, w1, [x10]", A.ldaddal(false, 1, 1, 10)],
  ["ldclral x11, x0, [x10]", A.ldclral(true, 11, 0, 10)],
  ["ldsetal x3, x3, [x10]", A.ldsetal(true, 3, 3, 10)],
  ["ldeoral x4, x4, [x10]", A.ldeoral(true, 4, 4, 10)],
  ["swpal x1, x1, [x10]", A.swpal(true, 1, 1, 10)],
  ["swpal w0, w0, [x10]", A.swpal(false, 0, 0, 10)],
  ["casal x7, x19, [x10]", A.casal(true, 7, 19, 10)],
  ["casal w7, w2, [x10]", A.casal(false, 7, 2, 10)],
  ["cas x1, x2, [x3]", A.cas(true, 1, 2, 3, false, false)],
  ["ldadd x1, x2, [x3]", A.lseAtomic("add", true, 1, 2, 3, false, false)],
  ["ldumaxa w1, w2, [x3]", A.lseAtomic("umax", false, 1, 2, 3, true, false)],
  ["swpl x1, x2, [x3]", A.lseAtomic("swp", true, 1, 2, 3, false, true)],
  // barriers, system, hints
  ["dmb ish", A.dmb(A.Barrier.ISH)],
  ["dsb ish", A.dsb(A.Barrier.ISH)],
  ["dsb nsh", A.dsb(A.Barrier.NSH)],
  ["isb", A.isb()],
  ["sb", A.sb()],
  ["mrs x10, sp_el0", A.mrs(10, A.SysReg.SP_EL0)],
  ["mrs x10, tpidr_el1", A.mrs(10, A.SysReg.TPIDR_EL1)],
  ["mrs x10, tpidr_el2", A.mrs(10, A.SysReg.TPIDR_EL2)],
  ["nop", A.nop()],
  ["paciasp", A.paciasp()],
  ["autiasp", A.autiasp()],
  ["hint #34", A.bti("c")],
  ["hint #36", A.bti("j")],
  ["hint #38", A.bti("jc")],
  ["hint #22", A.clrbhb()],
  ["brk #0x100", A.brk(0x100)],
  ["hvc #0", A.hvc(0)],
  ["smc #0", A.smc(0)],
  // branches (numeric targets are pc-relative in llvm-mc)
  ["b #8", A.b(8)],
  ["b #-134217728", A.b(-134217728)],
  ["bl #8", A.bl(8)],
  ["bl #134217724", A.bl(134217724)],
  ["b.hs #8", A.bCond(A.Cond.HS, 8)],
  ["b.hi #16", A.bCond(A.Cond.HI, 16)],
  ["b.le #-1048576", A.bCond(A.Cond.LE, -1048576)],
  ["cbz x11, #8", A.cbz(true, 11, 8)],
  ["cbnz w12, #-12", A.cbnz(false, 12, -12)],
  ["tbnz x1, #40, #-8", A.tbz(true, 1, 40, -8)],
  ["br x10", A.br(10)],
  ["blr x10", A.blr(10)],
  ["ret", A.ret()],
  ["adr x30, #8", A.adr(30, 8)],
  ["adr x1, #-3", A.adr(1, -3)],
  ["adrp x1, #4096", A.adrp(1, 1)],
];

test("encoder matches llvm-mc-19", (t) => {
  if (!existsSync(LLVM_MC)) {
    console.log(`SKIPPING encoder vs llvm-mc: ${LLVM_MC} not installed`);
    t.skip(`${LLVM_MC} missing`);
    return;
  }
  const src = `${TABLE.map(([s]) => s).join("\n")}\n`;
  const r = spawnSync(LLVM_MC, ["-triple=aarch64", "-mattr=+lse,+pauth,+sb,+el3", "-show-encoding"], {
    input: src,
    encoding: "utf8",
  });
  assert.equal(r.stderr.trim(), "", "llvm-mc reported errors");
  const words = [...r.stdout.matchAll(/encoding: \[([^\]]+)\]/g)].map((m) => {
    const b = m[1].split(",").map((x) => Number.parseInt(x, 16));
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  });
  assert.equal(words.length, TABLE.length);
  const bad = TABLE.flatMap(([s, w], k) =>
    w === words[k]
      ? []
      : [`${s}: ours ${w.toString(16).padStart(8, "0")}, llvm ${words[k].toString(16).padStart(8, "0")}`],
  );
  assert.deepEqual(bad, []);
});

test("bitmask immediates", () => {
  assert.equal(A.encodeBitmaskImm(0, true), null);
  assert.equal(A.encodeBitmaskImm(-1n & 0xffffffffffffffffn, true), null);
  assert.equal(A.encodeBitmaskImm(0xffffffff, false), null);
  assert.equal(A.encodeBitmaskImm(0x1_0000_0000n, false), null, "wider than 32 bits");
  assert.equal(A.encodeBitmaskImm(5, true), null, "two runs");
  assert.equal(A.encodeBitmaskImm(0x1234, false), null);
  assert.deepEqual(A.encodeBitmaskImm(0xff, true), { n: 1, immr: 0, imms: 7 });
  assert.deepEqual(A.encodeBitmaskImm(0xffffffff, true), { n: 1, immr: 0, imms: 31 });
  assert.deepEqual(A.encodeBitmaskImm(0x5555555555555555n, true), { n: 0, immr: 0, imms: 0x3c });
});

test("unencodable operands throw EncodeError", () => {
  assert.throws(() => A.addImm(true, 1, 1, 0x1001), EncodeError);
  assert.throws(() => A.addImm(true, 1, 1, -1), EncodeError);
  assert.throws(() => A.movz(true, 1, 0x10000, 0), EncodeError);
  assert.throws(() => A.movz(false, 1, 1, 32), EncodeError);
  assert.throws(() => A.ldrImm(8, 1, 2, 4), EncodeError);
  assert.throws(() => A.ldrImm(4, 1, 2, 0x4000), EncodeError);
  assert.throws(() => A.stp(true, 1, 2, SP, -520, "pre"), EncodeError);
  assert.throws(() => A.b(2), EncodeError);
  assert.throws(() => A.b(1 << 27), EncodeError);
  assert.throws(() => A.bCond(A.Cond.EQ, 1 << 20), EncodeError);
  assert.throws(() => A.andImm(true, 1, 1, 5), EncodeError);
  assert.throws(() => A.lslImm(false, 1, 1, 32), EncodeError);
  assert.throws(() => A.addReg(true, 32, 1, 1), EncodeError);
  assert.throws(() => A.ldur(8, 1, 2, 256), EncodeError);
});
