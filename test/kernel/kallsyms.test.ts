// The modelled kernel's symbol table is the oracle's /proc/kallsyms extract, entry for entry,
// and answers the questions the JIT and the unwinder ask.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Kallsyms, modelledKallsyms } from "../../src/kernel/kallsyms.ts";

const FIXTURE = join(import.meta.dirname, "../fixtures/jit/kallsyms-6.12.117.txt");

test("the bundled table equals the recorded /proc/kallsyms extract", () => {
  const recorded = Kallsyms.parse(readFileSync(FIXTURE, "utf8"), "recorded");
  const bundled = modelledKallsyms();
  assert.equal(bundled.symbols.length, recorded.symbols.length);
  assert.deepEqual(
    bundled.symbols.map((s) => `${s.address.toString(16)} ${s.type} ${s.name}`).sort(),
    recorded.symbols.map((s) => `${s.address.toString(16)} ${s.type} ${s.name}`).sort(),
  );
});

test("the target's addresses the spec records", () => {
  const k = modelledKallsyms();
  assert.equal(k.addressOf("__bpf_call_base"), 0xffff800080268a70n);
  assert.equal(k.addressOf("bpf_throw"), 0xffff8000802a8868n);
  assert.equal(k.nameAt(0xffff8000802a8868n), "bpf_throw");
  const inside = k.lookup(0xffff8000802a8868n + 0x10n);
  assert.equal(inside?.symbol.name, "bpf_throw");
  assert.equal(inside?.offset, 0x10n);
  assert.equal(k.addressOf("no_such_symbol"), undefined);
  assert.throws(() => k.require("no_such_symbol"), /no symbol no_such_symbol/);
});

test("bad kallsyms text is a TsbpfError with its line", () => {
  assert.throws(() => Kallsyms.parse("ffff0000 T ok\nnot a line\n"), /kallsyms line 2/);
});
