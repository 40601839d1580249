/**
 * The BTF parser against independent truth: every type of every fixture object formatted as
 * bpftool's `btf dump format raw` and compared line by line with bpftool's own output (the
 * committed golden always, bpftool live when installed); sizes against the compiler's own
 * `sizeof` (read from the object's .rodata); split BTF against `bpftool -B`; then the queries
 * (names, resolve, decl tags) and the validation of malformed BTF, each a BtfError naming the
 * type and offset.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type Btf, type BtfType, parseBtf } from "../../src/btf/index.ts";
import { BtfError } from "../../src/errors.ts";
import { BtfWriter } from "./encode.ts";
import { BTF_FIXTURES, loadObject, missing, OBJECTS, run } from "./helpers.ts";

const bpftoolSkip = missing("bpftool", "the live comparison with bpftool btf dump");

/** Diffs two multi-line texts with a pointer at the first differing line. */
function assertSameLines(got: string, want: string, what: string): void {
  if (got === want) return;
  const a = got.split("\n");
  const b = want.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) assert.fail(`${what}: line ${i + 1} differs\n  tsbpf:   ${a[i]}\n  bpftool: ${b[i]}`);
  }
}

describe("format raw vs bpftool btf dump", () => {
  for (const name of OBJECTS) {
    const golden = join(BTF_FIXTURES, name.replace(/\.o$/, ".bpftool-raw.golden.txt"));
    test(`${name} vs committed golden`, () => {
      const { btf } = loadObject(name);
      const want = readFileSync(golden, "utf8");
      assertSameLines(btf.formatRaw(), want, name);
      assert.equal(want.split("\n").filter((l) => l.startsWith("[")).length, btf.typeCount - 1, "type count");
    });
    test(`${name} vs bpftool (live)`, { skip: bpftoolSkip }, () => {
      const { btf, path } = loadObject(name);
      assertSameLines(btf.formatRaw(), run("bpftool", ["btf", "dump", "file", path, "format", "raw"]), name);
    });
  }

  test("formatType of one type is its lines of the dump", () => {
    const { btf } = loadObject("types.o");
    const bits = btf.findByName("bits", "struct")!;
    assert.match(
      btf.formatType(bits.id),
      /^\[\d+\] STRUCT 'bits' size=16 vlen=7\n\t'a' type_id=\d+ bits_offset=0 bitfield_size=3\n/,
    );
  });
});

describe("big-endian objects", () => {
  test("types.eb.o has the same types as types.o", () => {
    const le = loadObject("types.o").btf;
    const be = loadObject("types.eb.o").btf;
    assert.equal(be.bigEndian, true);
    assert.equal(le.bigEndian, false);
    assert.deepEqual(be.types, le.types);
  });

  test("a byte order that disagrees with the container is an error", () => {
    const { elf } = loadObject("types.eb.o");
    const bytes = elf.sectionByName(".BTF")!.data();
    assert.throws(() => parseBtf(bytes, { bigEndian: false }), /big-endian but its container is little-endian/);
    assert.equal(parseBtf(bytes).bigEndian, true);
  });
});

describe("queries on types.o", () => {
  const { btf, elf } = loadObject("types.o");
  const byName = (name: string, kind: BtfType["kind"]) => {
    const t = btf.findByName(name, kind);
    assert.ok(t, `${kind} ${name}`);
    return t;
  };

  test("Btf.sizeOf agrees with the compiler's sizeof", () => {
    const sym = elf.symbols.find((s) => s.name === "type_sizes");
    assert.ok(sym?.section, "type_sizes symbol");
    const data = sym.section.data();
    const view = new DataView(data.buffer, data.byteOffset + sym.value, sym.size);
    const node = byName("node", "struct");
    assert.ok(node.kind === "struct");
    const member = (n: string) => node.members.find((m) => m.name === n)!.type;
    const ids = [
      node.id,
      byName("bits", "struct").id,
      byName("mixed", "union").id,
      byName("flags", "union").id,
      byName("cmp_fn", "typedef").id,
      byName("cv_u32_ptr", "typedef").id,
      byName("cv_u32", "typedef").id,
      byName("wide", "enum64").id,
      byName("small_enum", "enum").id,
      byName("u32_alias", "typedef").id,
      byName("tagged_int", "typedef").id,
      member("values"),
      member("name"),
      byName("global_node", "var").id,
      byName("neg_values", "enum").id,
    ];
    assert.equal(ids.length * 8, sym.size, "one sizeof per id");
    ids.forEach((id, i) => {
      assert.equal(btf.sizeOf(id), Number(view.getBigUint64(i * 8, true)), btf.formatType(id).split("\n")[0]);
    });
    assert.equal(btf.sizeOf(member("tail")), 0, "flexible array");
  });

  test("sizeOf fails with a BtfError for what has no size", () => {
    for (const [name, kind] of [
      ["helper_global", "func"],
      ["later", "fwd"],
    ] as const) {
      const t = byName(name, kind);
      assert.throws(
        () => btf.sizeOf(t.id),
        (e: unknown) => e instanceof BtfError && e.typeId === t.id,
      );
    }
    assert.throws(() => btf.sizeOf(0), /void has no size/);
    assert.throws(
      () => btf.type(btf.typeCount),
      (e: unknown) => e instanceof BtfError && e.typeId === btf.typeCount,
    );
    assert.throws(() => btf.type(-1), BtfError);
  });

  test("resolve skips typedefs, qualifiers and restrict, and stops at a pointer", () => {
    const p = btf.resolve(byName("cv_u32_ptr", "typedef").id);
    assert.equal(p.kind, "ptr");
    const u = btf.resolve(byName("cv_u32", "typedef").id);
    assert.equal(u.kind, "int");
    assert.equal(u.name, "unsigned int");
    assert.equal(btf.resolve(0).kind, "void");
  });

  test("type tags chain before the pointee", () => {
    const node = byName("node", "struct");
    assert.ok(node.kind === "struct");
    const tagged = btf.type(node.members.find((m) => m.name === "tagged")!.type);
    assert.ok(tagged.kind === "ptr");
    const rcu = btf.type(tagged.type);
    assert.deepEqual([rcu.kind, rcu.name], ["type_tag", "rcu"]);
    assert.equal(btf.resolve(tagged.type).name, "int");
  });

  test("bitfields carry bit offsets and sizes (kind_flag)", () => {
    const bits = byName("bits", "struct");
    assert.ok(bits.kind === "struct" && bits.kflag);
    const got = bits.members.map((m) => [m.name, m.bitOffset, m.bitSize]);
    assert.deepEqual(got, [
      ["a", 0, 3],
      ["b", 3, 5],
      ["c", 8, 9],
      ["d", 17, 40],
      ["e", 64, 0],
      ["f", 72, 4],
      ["g", 76, 1],
    ]);
    const flags = byName("flags", "union");
    assert.ok(flags.kind === "union" && flags.kflag);
    assert.deepEqual(
      flags.members.map((m) => m.bitSize),
      [0, 4, 12],
    );
  });

  test("enums: signed, unsigned and 64-bit values", () => {
    const neg = byName("neg_values", "enum");
    assert.ok(neg.kind === "enum" && neg.signed);
    assert.deepEqual(
      neg.values.map((v) => v.value),
      [-1, -2147483648, 1],
    );
    const wide = byName("wide", "enum64");
    assert.ok(wide.kind === "enum64" && !wide.signed);
    assert.deepEqual(
      wide.values.map((v) => v.value),
      [1n, 0x123456789an, 0xffffffffffffffffn],
    );
    const ws = byName("wide_signed", "enum64");
    assert.ok(ws.kind === "enum64" && ws.signed);
    assert.deepEqual(
      ws.values.map((v) => v.value),
      [-0x100000000n, 0x7fffffffffffffffn],
    );
    const small = byName("small_enum", "enum");
    assert.ok(small.kind === "enum" && small.size === 1 && !small.signed);
  });

  test("functions: linkage, prototypes, varargs", () => {
    const linkage = (n: string) => {
      const f = byName(n, "func");
      assert.ok(f.kind === "func");
      return f.linkage;
    };
    assert.equal(linkage("helper_static"), "static");
    assert.equal(linkage("helper_global"), "global");
    assert.equal(linkage("bpf_kfunc_example"), "extern");
    const f = byName("helper_static", "func");
    assert.ok(f.kind === "func");
    const proto = btf.type(f.type);
    assert.ok(proto.kind === "func_proto");
    assert.deepEqual(
      proto.params.map((p) => p.name),
      ["n", "k"],
    );
    const node = byName("node", "struct");
    assert.ok(node.kind === "struct");
    const cb = btf.type(node.members.find((m) => m.name === "callback")!.type);
    assert.ok(cb.kind === "ptr");
    const cbProto = btf.type(cb.type);
    assert.ok(cbProto.kind === "func_proto");
    assert.deepEqual(cbProto.params.at(-1), { name: "", type: 0 }, "varargs");
  });

  test("variables and datasecs", () => {
    const kv = byName("LINUX_KERNEL_VERSION", "var");
    assert.ok(kv.kind === "var" && kv.linkage === "extern");
    const sc = byName("static_counter", "var");
    assert.ok(sc.kind === "var" && sc.linkage === "static");
    const ksyms = byName(".ksyms", "datasec");
    assert.ok(ksyms.kind === "datasec");
    assert.deepEqual(
      ksyms.vars.map((v) => btf.type(v.type).kind),
      ["func", "var"],
    );
    assert.equal(btf.findByName(".maps")?.kind, "datasec");
    assert.equal(btf.findByName("no_such_thing"), undefined);
    assert.equal(btf.findByName("node", "union"), undefined);
    assert.deepEqual(
      btf.findAllByName("node").map((t) => t.kind),
      ["struct"],
    );
  });

  test("decl tags: on functions, parameters, structs, members, variables and typedefs", () => {
    const tags = (name: string, kind: BtfType["kind"]) =>
      btf.declTagsOf(byName(name, kind).id).map((t) => [t.value, t.componentIdx]);
    assert.deepEqual(tags("classify", "func"), [["exception_callback:exception_cb", -1]]);
    assert.deepEqual(tags("helper_global", "func"), [["global_func_tag", -1]]);
    assert.deepEqual(tags("helper_static", "func"), [["param_tag", 0]]);
    assert.deepEqual(tags("bits", "struct"), [["bitfield_struct", -1]]);
    assert.deepEqual(tags("node", "struct"), [["member_tag", 5]]);
    assert.deepEqual(tags("global_counter", "var"), [["var_tag", -1]]);
    assert.deepEqual(tags("tagged_int", "typedef"), [["typedef_tag", -1]]);
    assert.deepEqual(tags("exception_cb", "func"), []);
  });

  test("stringAt reads the string table and checks the offset", () => {
    const t = byName("node", "struct");
    assert.equal(btf.stringAt(0), "");
    assert.throws(() => btf.stringAt(btf.stringsLength), BtfError);
    assert.ok(btf.stringAt(1).length > 0);
    assert.equal(t.name, "node");
  });
});

describe("split BTF", () => {
  const base = loadObject("types.o").btf;
  const makeSplit = (): Uint8Array => {
    const w = new BtfWriter(base);
    const node = base.findByName("node", "struct")!.id;
    const int = base.findByName("int", "int")!.id;
    const p = w.ptr(node);
    const s = w.struct("module_state", 16, [
      ["owner", p, 0],
      ["refs", int, 64],
      ["node_name", w.typedef("node_name_t", base.findByName("u32_t")!.id), 96],
    ]);
    w.declTag("module_tag", s, 1);
    w.enum("color", 4, [["RED", 0]]);
    return w.bytes();
  };

  test("continues the base's type ids and strings", () => {
    const split = parseBtf(makeSplit(), { base });
    assert.equal(split.startId, base.typeCount);
    assert.equal(split.typeCount, base.typeCount + 5);
    const s = split.findByName("module_state", "struct");
    assert.ok(s?.kind === "struct");
    assert.equal(s.id, base.typeCount + 2);
    assert.equal(split.resolve(s.members[0].type).kind, "ptr");
    const owner = split.type(s.members[0].type);
    assert.ok(owner.kind === "ptr");
    assert.equal(split.resolve(owner.type).name, "node");
    assert.deepEqual(
      split.findAllByName("color").map((t) => t.id),
      [base.findByName("color")!.id, base.typeCount + 4],
    );
    assert.equal(split.sizeOf(s.members[2].type), 4);
    assert.deepEqual(
      split.declTagsOf(s.id).map((t) => t.value),
      ["module_tag"],
    );
    assert.equal(
      split.formatRaw().split("\n")[0],
      `[${base.typeCount}] PTR '(anon)' type_id=${base.findByName("node")!.id}`,
    );
  });

  test("matches bpftool btf dump -B (live)", { skip: bpftoolSkip }, () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-split-"));
    try {
      const { elf } = loadObject("types.o");
      writeFileSync(join(dir, "base.btf"), elf.sectionByName(".BTF")!.data());
      const bytes = makeSplit();
      writeFileSync(join(dir, "split.btf"), bytes);
      const want = run("bpftool", [
        "btf",
        "dump",
        "-B",
        join(dir, "base.btf"),
        "file",
        join(dir, "split.btf"),
        "format",
        "raw",
      ]);
      assertSameLines(parseBtf(bytes, { base }).formatRaw(), want, "split BTF");
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("split BTF must have its base's byte order", () => {
    const be = loadObject("types.eb.o").btf;
    assert.throws(() => parseBtf(makeSplit(), { base: be }), /differ in byte order/);
  });

  test("a split type id past the end is an error", () => {
    const w = new BtfWriter(base);
    w.ptr(base.typeCount + 7);
    assert.throws(() => parseBtf(w.bytes(), { base }), /references type id/);
  });
});

/** Asserts that parsing throws a BtfError whose message matches and that names the type. */
function rejects(bytes: Uint8Array, message: RegExp, typeId?: number, base?: Btf): void {
  assert.throws(
    () => parseBtf(bytes, { base }),
    (e: unknown) => {
      assert.ok(e instanceof BtfError, `not a BtfError: ${e}`);
      assert.match(e.message, message);
      if (typeId !== undefined) assert.equal(e.typeId, typeId, e.message);
      return true;
    },
  );
}

/** A small valid BTF: int, ptr, struct. */
function valid(): BtfWriter {
  const w = new BtfWriter();
  const int = w.int("int", 4, 32, 1);
  const s = w.struct("s", 8, [
    ["a", int, 0],
    ["b", int, 32],
  ]);
  w.ptr(s);
  return w;
}

/** `bytes` with the u32 at `off` replaced. */
function setU32(bytes: Uint8Array, off: number, value: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(off, value >>> 0, true);
  return out;
}

describe("malformed BTF: header and sections (btf_parse_hdr, btf_check_sec_info)", () => {
  const good = valid().bytes();
  const typeLen = new DataView(good.buffer).getUint32(12, true);
  const strLen = new DataView(good.buffer).getUint32(20, true);

  test("the writer's BTF is valid", () => {
    assert.equal(parseBtf(good).typeCount, 4);
  });
  test("too short", () => rejects(good.subarray(0, 7), /too short/));
  test("bad magic", () => rejects(Uint8Array.from([0x12, 0x34, ...good.subarray(2)]), /invalid magic 0x3412/));
  test("bad version", () => rejects(Uint8Array.from([...good.subarray(0, 2), 2, ...good.subarray(3)]), /version 2/));
  test("flags", () => rejects(Uint8Array.from([...good.subarray(0, 3), 1, ...good.subarray(4)]), /flags/));
  test("hdr_len too small", () => rejects(setU32(good, 4, 20), /hdr_len 20 is smaller/));
  test("hdr_len past the end", () => rejects(setU32(good, 4, good.length + 4), /past the end/));
  test("nonzero bytes after a longer header", () => {
    const longer = new Uint8Array(good.length + 4);
    longer.set(good.subarray(0, 24));
    longer.set(good.subarray(24), 28);
    const ok = setU32(longer, 4, 28);
    assert.equal(parseBtf(ok).typeCount, 4);
    ok[25] = 1;
    rejects(ok, /nonzero bytes after the known fields/);
  });
  test("unaligned type section", () => rejects(setU32(good, 8, 2), /not 4-byte aligned/));
  test("type section overlapping strings", () => rejects(setU32(good, 12, typeLen + 4), /overlaps|past the end/));
  test("string section past the end", () => rejects(setU32(good, 20, strLen + 1), /runs past the end/));
  test("gap between sections", () => rejects(setU32(good, 12, typeLen - 4), /gap before the string section/));
  test("data after the last section", () => rejects(Uint8Array.from([...good, 0, 0, 0, 0]), /after the last section/));
  test("empty string section", () => {
    const b = setU32(setU32(good, 20, 0), 12, typeLen);
    rejects(b.subarray(0, 24 + typeLen), /empty string section/);
  });
  test("string section not NUL-terminated", () => {
    const b = good.slice();
    b[b.length - 1] = 0x41;
    rejects(b, /does not end with NUL/);
  });
  test("string section not starting with the empty string", () => {
    const b = good.slice();
    b[24 + typeLen] = 0x41;
    rejects(b, /does not start with an empty string/);
  });
});

describe("malformed BTF: types (btf_check_meta)", () => {
  test("name offset outside the string section", () => {
    const w = valid();
    w.raw([9999, BtfWriter.info(2), 1]);
    rejects(w.bytes(), /name offset 9999 is outside the string section/, 4);
  });
  test("record running past the type section (vlen too large)", () => {
    const w = valid();
    w.raw([w.str("t"), BtfWriter.info(4, 3), 8, w.str("a"), 1, 0]);
    rejects(w.bytes(), /meta_left:12 meta_needed:36/, 4);
  });
  test("truncated common part", () => {
    const w = valid();
    w.raw([0, BtfWriter.info(2)]);
    rejects(w.bytes(), /meta_left:8 meta_needed:12: truncated type record/, 4);
  });
  test("unknown kind and stray info bits", () => {
    const w = valid();
    w.raw([0, BtfWriter.info(20), 0]);
    rejects(w.bytes(), /invalid kind 20/, 4);
    const v = valid();
    v.raw([0, (BtfWriter.info(2) | 0x00400000) >>> 0, 1]);
    rejects(v.bytes(), /invalid btf_info/, 4);
    const k = valid();
    k.raw([0, 0, 0]);
    rejects(k.bytes(), /invalid kind 0/, 4);
  });
  test("type id above BTF_MAX_TYPE, and past the last type", () => {
    const w = valid();
    w.ptr(0x100000);
    rejects(w.bytes(), /exceeds BTF_MAX_TYPE/, 4);
    const v = valid();
    v.ptr(5);
    rejects(v.bytes(), /references type id 5, but there are only 5 types/, 4);
  });
  test("INT: sizes, bits, encodings, kind_flag, vlen", () => {
    const cases: [(w: BtfWriter) => void, RegExp][] = [
      [(w) => w.int("i", 3), /unsupported int size 3/],
      [(w) => w.int("i", 4, 33), /nr_bits exceeds type_size/],
      [(w) => w.int("i", 16, 129), /nr_bits 129 exceeds 128/],
      [(w) => w.int("i", 4, 32, 3), /unsupported int encoding 3/],
      [(w) => w.int("i", 4, 8, 0, 30), /nr_bits exceeds type_size/],
      [(w) => w.raw([w.str("i"), BtfWriter.info(1), 4, 0x10000020]), /invalid int_data/],
      [(w) => w.raw([w.str("i"), BtfWriter.info(1, 0, true), 4, 32]), /kind_flag/],
      [(w) => w.raw([w.str("i"), BtfWriter.info(1, 1), 4, 32]), /vlen != 0/],
    ];
    for (const [add, re] of cases) {
      const w = valid();
      add(w);
      rejects(w.bytes(), re, 4);
    }
  });
  test("other kinds' sizes and fields", () => {
    const cases: [(w: BtfWriter) => void, RegExp][] = [
      [(w) => w.enum("e", 3, [["A", 1]]), /unexpected enum size 3/],
      [(w) => w.enum64("e", 16, [["A", 1n]]), /unexpected enum size 16/],
      [(w) => w.float("f", 6), /invalid float size 6/],
      [(w) => w.raw([0, BtfWriter.info(3), 4, 1, 1, 2]), /array size != 0/],
      [(w) => w.array(0, 1, 2), /array element type is void/],
      [(w) => w.array(1, 0, 2), /array index type is void/],
      [(w) => w.raw([w.str("f"), BtfWriter.info(7), 1]), /forward declaration type != 0/],
      [(w) => w.func("f", 1, 3), /invalid func linkage 3/],
      [(w) => w.var("v", 1, 3), /linkage 3 not supported/],
      [(w) => w.var("v", 0), /variable type is void/],
      [(w) => w.typedef("", 1), /typedef has no name/],
      [(w) => w.ref(18, 1, ""), /type tag has no name/],
      [(w) => w.declTag("t", 2, -2), /invalid component_idx -2/],
      [(w) => w.declTag("", 2), /decl tag has no name/],
      [
        (w) =>
          w.funcProto(1, [
            ["", 0],
            ["x", 1],
          ]),
        /invalid arg#1/,
      ],
      [(w) => w.funcProto(1, [["named", 0]]), /invalid arg#1/],
      [(w) => w.struct("u", 4, [["a", 1, 8]], true), /union member 0 has bits_offset 8/],
      [
        (w) =>
          w.struct("s", 8, [
            ["a", 1, 32],
            ["b", 1, 0],
          ]),
        /before the previous member/,
      ],
      [(w) => w.struct("s", 4, [["a", 1, 40]]), /exceeds the struct size 4/],
      [(w) => w.struct("s", 4, [["a", 0, 0]]), /member 0 type_id is void/],
    ];
    for (const [add, re] of cases) {
      const w = valid();
      add(w);
      rejects(w.bytes(), re, 4);
    }
  });
  test("referenced kinds: FUNC needs a FUNC_PROTO, DECL_TAG a taggable type, DATASEC variables", () => {
    const cases: [(w: BtfWriter) => void, RegExp][] = [
      [(w) => w.func("f", 1), /func type \[1\] is not a FUNC_PROTO/],
      [(w) => w.declTag("t", 1), /decl tag target \[1\] is a int/],
      [(w) => w.declTag("t", 2, 2), /invalid component_idx 2/],
      [(w) => w.declTag("t", w.var("v", 1), 0), /invalid component_idx 0/],
      [(w) => w.datasec(".data", 4, [[1, 0, 4]]), /datasec entry \[1\] is a int, not a VAR/],
    ];
    for (const [add, re] of cases) {
      const w = valid();
      add(w);
      rejects(w.bytes(), re);
    }
    const w = valid();
    const proto = w.funcProto(1, [["x", 1]]);
    const f = w.func("f", proto);
    w.declTag("param", f, 0);
    assert.equal(parseBtf(w.bytes()).declTagsOf(f)[0].componentIdx, 0);
    const v = valid();
    v.declTag("param", v.func("g", v.funcProto(1, [["x", 1]])), 1);
    rejects(v.bytes(), /invalid component_idx 1/);
  });
});

describe("malformed BTF: reference loops (btf_resolve's 'Loop detected')", () => {
  test("a typedef chain that loops", () => {
    const w = valid();
    w.typedef("a", 6);
    w.typedef("b", 4);
    w.ref(10, 5);
    rejects(w.bytes(), /reference loop detected/);
  });
  test("a typedef naming itself", () => {
    const w = valid();
    w.typedef("self", 4);
    rejects(w.bytes(), /reference loop detected/, 4);
  });
  test("pointers and qualifiers only: ptr -> const -> ptr", () => {
    const w = valid();
    w.ptr(5);
    w.ref(10, 4);
    rejects(w.bytes(), /reference loop detected \(through pointers\)/);
  });
  test("a struct containing itself by value, through an array and a typedef", () => {
    const w = valid();
    const t = w.typedef("t", 6);
    w.array(t, 1, 2);
    w.struct("outer", 8, [["x", 5, 0]]);
    rejects(w.bytes(), /reference loop detected \(by value\)/);
  });
  test("a linked list (struct -> ptr -> struct) and a callback taking itself are fine", () => {
    const w = valid();
    const node = 4;
    w.struct("list", 16, [
      ["next", w.nextId + 1, 0],
      ["val", 1, 64],
    ]);
    w.ptr(node);
    const fp = w.nextId;
    w.ptr(fp + 1);
    w.funcProto(1, [["self", fp]]);
    const btf = parseBtf(w.bytes());
    assert.equal(btf.sizeOf(node), 16);
    assert.equal(btf.resolve(node).kind, "struct");
  });
  test("sizeOf gives up past MAX_RESOLVE_DEPTH, resolve does not", () => {
    const w = valid();
    let id = 1;
    for (let i = 0; i < 40; i++) id = w.typedef(`t${i}`, id);
    const btf = parseBtf(w.bytes());
    assert.equal(btf.resolve(id).name, "int");
    assert.throws(() => btf.sizeOf(id), /within 32 steps/);
    assert.equal(btf.sizeOf(w.nextId - 10), 4);
  });
  test("array sizes overflowing U32_MAX", () => {
    const w = valid();
    const a = w.array(1, 1, 0x10000000);
    const b = w.array(a, 1, 16);
    const btf = parseBtf(w.bytes());
    assert.equal(btf.sizeOf(a), 0x40000000);
    assert.throws(() => btf.sizeOf(b), /overflows U32_MAX/);
  });
});
