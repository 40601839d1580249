/**
 * The bundled kernel BTF (src/runtime/kernel-btf): the module's bytes are the committed
 * vmlinux.btf, bpftool reads it as tsbpf does, it holds its roots and is closed under their
 * references (cutting it again from itself gives the same bytes), and its fields and enumerators
 * are where the running kernel has them (uapi: kernels append, except the known changes listed,
 * which is why the bundle comes from 6.12 itself and not from the machine that made it). Then
 * `loadKernelBtf`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type Btf, type BtfKind, type BtfType, parseBtf, pickBtfTypes, writeBtf } from "../../src/btf/index.ts";
import { BtfError, LoadError } from "../../src/errors.ts";
import {
  bundledKernelBtf,
  bundledKernelBtfBytes,
  KERNEL_BTF_ROOTS,
  KERNEL_BTF_SHA256,
  KERNEL_BTF_SOURCE,
  loadKernelBtf,
} from "../../src/runtime/kernel-btf/index.ts";
import { missing, missingVmlinux, run, VMLINUX } from "../btf/helpers.ts";
import { ROOT } from "../elf/fixtures.ts";

const FILE = join(ROOT, "src", "runtime", "kernel-btf", "vmlinux.btf");

function rootIds(btf: Btf): number[] {
  return KERNEL_BTF_ROOTS.map((r) => {
    const [kind, name] = r.split(" ") as [BtfKind, string];
    const all = btf.findAllByName(name, kind);
    assert.equal(all.length, 1, `${r}: exactly one`);
    return all[0].id;
  });
}

/** The leaf type of a member, without ids: `int <size> <encoding>`, `*`, `struct NAME`, `T[n]` ... */
function leaf(btf: Btf, id: number): string {
  const t: BtfType = btf.resolve(id);
  switch (t.kind) {
    case "int":
      return `int${t.size * 8}${t.encoding === "signed" ? "s" : ""}`;
    case "array":
      return `${leaf(btf, t.type)}[${t.nelems}]`;
    case "ptr":
      return "*";
    default:
      return `${t.kind} ${t.name}`;
  }
}

/**
 * A struct's or union's fields, anonymous members flattened into their parent (as C sees them):
 * name → `bit offset:bit size leaf type`.
 */
function fields(btf: Btf, id: number, base = 0, out = new Map<string, string>()): Map<string, string> {
  const t = btf.resolve(id);
  if (t.kind !== "struct" && t.kind !== "union") return out;
  for (const m of t.members) {
    const mt = btf.resolve(m.type);
    if (m.name === "" && (mt.kind === "struct" || mt.kind === "union")) fields(btf, mt.id, base + m.bitOffset, out);
    else out.set(m.name, `${base + m.bitOffset}:${m.bitSize} ${leaf(btf, m.type)}`);
  }
  return out;
}

/**
 * Where the running kernel may differ from 6.12, by design: uapi structs only grow at the end,
 * except these.
 */
const KNOWN_CHANGES: Readonly<Record<string, string>> = {
  "struct tcphdr": "a kernel newer than 6.12 (6.18 here) split res1:4 into ae:1 and res1:3 (AccECN)",
};

describe("the bundled kernel BTF", () => {
  const btf = bundledKernelBtf();

  test("data.ts holds the committed vmlinux.btf, with its hash", () => {
    const bytes = bundledKernelBtfBytes();
    assert.deepEqual(bytes, new Uint8Array(readFileSync(FILE)));
    assert.equal(createHash("sha256").update(bytes).digest("hex"), KERNEL_BTF_SHA256);
    assert.ok(bytes.length < 16 * 1024, `${bytes.length} bytes`);
    console.log(
      `bundled kernel BTF: ${btf.typeCount - 1} types, ${bytes.length} bytes, from ${KERNEL_BTF_SOURCE.release}`,
    );
  });

  test("it is the modelled kernel's (6.12)", () => {
    assert.match(KERNEL_BTF_SOURCE.release, /^6\.12\.117\+deb13-arm64/);
    assert.equal(btf.sizeOf(btf.findByName("__sk_buff", "struct")!.id), 192);
    const funcs = btf.findByName("bpf_func_id", "enum");
    assert.ok(funcs?.kind === "enum");
    assert.equal(funcs.values.at(-1)?.name, "__BPF_FUNC_MAX_ID");
    assert.equal(funcs.values.at(-1)?.value, 212, "v6.12's __BPF_FUNC_MAX_ID (runtime/helper-ids.ts)");
  });

  test("every root is there once, and it is closed: cutting it again gives the same bytes", () => {
    const again = writeBtf(pickBtfTypes(btf, rootIds(btf)));
    assert.deepEqual(again, bundledKernelBtfBytes());
  });

  test("bpftool reads it as tsbpf does", { skip: missing("bpftool", "bpftool reading the bundled BTF") }, () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-kbtf-"));
    try {
      const file = join(dir, "vmlinux.btf");
      writeFileSync(file, bundledKernelBtfBytes());
      assert.equal(run("bpftool", ["btf", "dump", "file", file, "format", "raw"]), btf.formatRaw());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("its layouts and enumerators are the running kernel's", {
    skip: missingVmlinux("the bundled BTF vs the running kernel's"),
  }, () => {
    const vm = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { section: "vmlinux" });
    let structs = 0;
    let enumerators = 0;
    for (const t of btf.types) {
      if (t.name === "") continue;
      if (t.kind === "struct" || t.kind === "union") {
        const what = `${t.kind} ${t.name}`;
        const theirs = vm.findAllByName(t.name, t.kind);
        assert.equal(theirs.length, 1, `${what} in ${VMLINUX}`);
        const mine = fields(btf, t.id);
        const their = fields(vm, theirs[0].id);
        const differ = [...mine].filter(([name, at]) => their.get(name) !== at).map(([name]) => name);
        if (KNOWN_CHANGES[what] !== undefined) {
          console.log(
            `${what}: ${differ.length === 0 ? "same" : `${differ.join(", ")} differ`} (${KNOWN_CHANGES[what]})`,
          );
          continue;
        }
        assert.deepEqual(differ, [], `${what}: fields placed differently in ${VMLINUX}`);
        assert.ok(vm.sizeOf(theirs[0].id) >= t.size, `${what} shrank`);
        structs++;
      } else if (t.kind === "enum") {
        const theirs = vm.findByName(t.name, "enum");
        assert.ok(theirs?.kind === "enum", `enum ${t.name} in ${VMLINUX}`);
        const values = new Map(theirs.values.map((v) => [v.name, v.value]));
        for (const v of t.values) {
          if (v.name.startsWith("__")) continue; // __MAX_BPF_MAP_TYPE ...: grow with the kernel
          assert.equal(values.get(v.name), v.value, `${t.name}::${v.name}`);
          enumerators++;
        }
      }
    }
    console.log(`bundled vs ${VMLINUX}: ${structs} structs/unions, ${enumerators} enumerators the same`);
    assert.ok(structs >= 20 && enumerators >= 250);
  });
});

describe("loadKernelBtf", () => {
  test("no path: the bundled BTF (one shared instance)", () => {
    assert.equal(loadKernelBtf(), bundledKernelBtf());
  });

  test("a path: that file's BTF", { skip: missingVmlinux("loadKernelBtf on vmlinux") }, () => {
    const vm = loadKernelBtf(VMLINUX);
    assert.ok(vm.typeCount > 10_000);
    assert.equal(vm.section, VMLINUX);
  });

  test("a file that is missing or not BTF: LoadError, with the cause", () => {
    assert.throws(
      () => loadKernelBtf(join(ROOT, "no", "such", "vmlinux")),
      (e: unknown) => e instanceof LoadError && /cannot read target BTF/.test(e.message),
    );
    assert.throws(
      () => loadKernelBtf(join(ROOT, "package.json")),
      (e: unknown) =>
        e instanceof LoadError && /failed to parse target BTF/.test(e.message) && e.cause instanceof BtfError,
    );
  });
});
