/**
 * The BTF writer and the type picker (src/btf/write.ts): what `writeBtf` writes must parse back to
 * the same types — for every fixture object's BTF (both byte orders) and the running kernel's
 * whole vmlinux — and bpftool must read it as we do; `pickBtfTypes` must keep exactly the closure
 * of its roots, renumbered in order.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type Btf, parseBtf, pickBtfTypes, writeBtf } from "../../src/btf/index.ts";
import { BtfError } from "../../src/errors.ts";
import { BtfWriter } from "./encode.ts";
import { loadObject, missing, missingVmlinux, OBJECTS, run, VMLINUX } from "./helpers.ts";

/** Every type of `btf` as bpftool prints it, minus the ids (which a rewrite keeps anyway). */
function sameTypes(a: Btf, b: Btf, what: string): void {
  assert.equal(a.typeCount, b.typeCount, `${what}: type count`);
  const x = a.formatRaw().split("\n");
  const y = b.formatRaw().split("\n");
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.fail(`${what}: line ${i + 1}\n  ${x[i]}\n  ${y[i]}`);
}

describe("writeBtf", () => {
  for (const name of OBJECTS) {
    test(`${name}: parse(write(types)) has the same types`, () => {
      const { btf } = loadObject(name);
      for (const bigEndian of [false, true]) {
        const bytes = writeBtf(btf.types, { bigEndian });
        const back = parseBtf(bytes, { section: `${name} rewritten` });
        assert.equal(back.bigEndian, bigEndian);
        sameTypes(back, btf, name);
      }
    });
  }

  test("the running kernel's vmlinux BTF round-trips", { skip: missingVmlinux("the vmlinux round trip") }, () => {
    const vm = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { section: "vmlinux" });
    const bytes = writeBtf(vm.types);
    sameTypes(parseBtf(bytes), vm, "vmlinux");
    assert.ok(bytes.length <= readFileSync(VMLINUX).length, "no bigger than pahole's");
  });

  test("bpftool reads what we write as we do", { skip: missing("bpftool", "bpftool reading written BTF") }, () => {
    const { btf } = loadObject("types.o");
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-write-"));
    try {
      const file = join(dir, "types.btf");
      writeFileSync(file, writeBtf(btf.types));
      assert.equal(run("bpftool", ["btf", "dump", "file", file, "format", "raw"]), btf.formatRaw());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("types[0] must be void and ids must be indexes", () => {
    const { btf } = loadObject("types.o");
    assert.throws(() => writeBtf(btf.types.slice(1)), BtfError);
    assert.throws(() => writeBtf([btf.types[0], btf.types[2]]), /has id 2/);
  });
});

describe("pickBtfTypes", () => {
  // 1 int, 2 struct a { int x; struct b *p; }, 3 ptr→4, 4 struct b { int y; }, 5 unrelated
  // struct c, 6 typedef t → 2, 7 enum e, 8 array of 1 indexed by 1, 9 struct d { arr z; }
  const w = new BtfWriter();
  const int = w.int("int", 4, 32, 1);
  const a = w.struct("a", 16, [
    ["x", int, 0],
    ["p", 3, 64],
  ]);
  w.ptr(4);
  w.struct("b", 4, [["y", int, 0]]);
  w.struct("c", 4, [["u", int, 0]]);
  const t = w.typedef("t", a);
  const e = w.enum("e", 4, [["E", 1]]);
  const arr = w.array(int, int, 3);
  const d = w.struct("d", 12, [["z", arr, 0]]);
  const btf = parseBtf(w.bytes());

  test("the closure of the roots, in the source's id order", () => {
    const picked = parseBtf(writeBtf(pickBtfTypes(btf, [t])));
    assert.deepEqual(
      picked.types.map((x) => `${x.kind} ${x.name}`),
      ["void ", "int int", "struct a", "ptr ", "struct b", "typedef t"],
    );
    const sa = picked.findByName("a", "struct");
    assert.ok(sa?.kind === "struct");
    assert.deepEqual(
      sa.members.map((m) => picked.type(m.type).kind),
      ["int", "ptr"],
    );
    assert.equal(picked.sizeOf(picked.findByName("t")!.id), 16);
  });

  test("enums and arrays; roots in any order, repeated", () => {
    const picked = parseBtf(writeBtf(pickBtfTypes(btf, [d, e, d])));
    assert.deepEqual(
      picked.types.map((x) => x.kind),
      ["void", "int", "enum", "array", "struct"],
    );
    assert.equal(picked.sizeOf(picked.findByName("d")!.id), 12);
  });
});
