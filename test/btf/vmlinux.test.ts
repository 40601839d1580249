/**
 * The running kernel's BTF (/sys/kernel/btf/vmlinux, ~130k types): parsed by tsbpf and compared
 * with `bpftool btf dump file /sys/kernel/btf/vmlinux format raw`, every line; then every type
 * resolved and sized. Skipped loudly where the kernel exposes no BTF or bpftool is missing.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { type Btf, parseBtf } from "../../src/btf/index.ts";
import { BtfError } from "../../src/errors.ts";
import { missing, missingVmlinux, run, VMLINUX } from "./helpers.ts";

const noVmlinux = missingVmlinux("the vmlinux BTF test");
const noBpftool = noVmlinux || missing("bpftool", "the comparison of vmlinux BTF with bpftool");

describe("vmlinux BTF", { skip: noVmlinux }, () => {
  let btf: Btf;

  test("parses", () => {
    const bytes = new Uint8Array(readFileSync(VMLINUX));
    const t0 = performance.now();
    btf = parseBtf(bytes, { section: "vmlinux" });
    const ms = performance.now() - t0;
    console.log(`vmlinux: ${btf.typeCount - 1} types, ${bytes.length} bytes, parsed in ${ms.toFixed(0)} ms`);
    assert.ok(btf.typeCount > 1000);
  });

  test("every line equals bpftool's format raw", { skip: noBpftool }, () => {
    const want = run("bpftool", ["btf", "dump", "file", VMLINUX, "format", "raw"]);
    const got = btf.formatRaw();
    if (got !== want) {
      const a = got.split("\n");
      const b = want.split("\n");
      const i = a.findIndex((line, k) => line !== b[k]);
      assert.fail(`line ${i + 1} differs\n  tsbpf:   ${a[i]}\n  bpftool: ${b[i]}`);
    }
    const lines = want.split("\n").length - 1;
    const kinds = new Map<string, number>();
    for (const m of want.matchAll(/^\[\d+\] ([A-Z_0-9]+) /gm)) kinds.set(m[1], (kinds.get(m[1]) ?? 0) + 1);
    console.log(`vmlinux: ${lines} lines equal; ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}`);
    assert.equal(
      [...kinds.values()].reduce((a, b) => a + b, 0),
      btf.typeCount - 1,
    );
  });

  test("every type resolves, and every sized type has a size", () => {
    let sized = 0;
    for (const t of btf.types) {
      const r = btf.resolve(t.id);
      assert.ok(r.kind !== "typedef" && r.kind !== "const" && r.kind !== "volatile");
      switch (t.kind) {
        case "struct":
        case "union":
        case "int":
        case "enum":
        case "enum64":
        case "float":
          assert.equal(btf.sizeOf(t.id), t.size);
          sized++;
          break;
        case "ptr":
          assert.equal(btf.sizeOf(t.id), 8);
          break;
        case "func":
        case "func_proto":
        case "fwd":
        case "void":
          assert.throws(() => btf.sizeOf(t.id), BtfError);
          break;
        default: {
          // Modifiers, typedefs, arrays, vars, decl tags: sized unless they end at something
          // without a size (`const void`, a function prototype, a forward declaration).
          let end = btf.resolve(t.id);
          while (end.kind === "array" || end.kind === "var" || end.kind === "decl_tag") end = btf.resolve(end.type);
          const unsized = end.kind === "void" || end.kind === "func_proto" || end.kind === "fwd" || end.kind === "func";
          if (unsized) assert.throws(() => btf.sizeOf(t.id), BtfError, btf.formatType(t.id));
          else assert.ok(btf.sizeOf(t.id) >= 0);
        }
      }
    }
    assert.ok(sized > 10000);
  });

  test("well-known kernel types", () => {
    const task = btf.findByName("task_struct", "struct");
    assert.ok(task?.kind === "struct");
    const pid = task.members.find((m) => m.name === "pid");
    assert.ok(pid);
    assert.equal(btf.resolve(pid.type).name, "int");
    assert.equal(btf.sizeOf(pid.type), 4);
    assert.equal(btf.pointerSize, 8);
    const kfuncs = btf.types.filter((t) => t.kind === "decl_tag" && t.name === "bpf_kfunc");
    for (const tag of kfuncs) {
      assert.ok(tag.kind === "decl_tag");
      assert.ok(btf.declTagsOf(tag.type).some((d) => d.value === "bpf_kfunc"));
    }
    console.log(`vmlinux: ${kfuncs.length} bpf_kfunc decl tags`);
  });
});
