/**
 * The loader feature by feature, on the fixtures of test/fixtures/object: what each C source
 * declares must come out of the object (sections, subprograms, callbacks, maps, global data,
 * externs, decl tags), in both byte orders, and every malformed variant must fail with a
 * LoadError that names where. The exact instructions, func_info and line_info are checked
 * against libbpf in libbpf.test.ts; fixtures libbpf cannot load (legacy maps, exception
 * callbacks) are checked here against their sources.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { readElf } from "../../src/elf/index.ts";
import { LoadError, TsbpfError } from "../../src/errors.ts";
import { branchTarget, validateProgram } from "../../src/isa/insn.ts";
import {
  BPF_F_MMAPABLE,
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  internalMapName,
  loadObjectSpec,
  type ObjectSpec,
  objectName,
  type ProgramSpec,
} from "../../src/object/index.ts";
import { poke } from "../elf/fixtures.ts";
import { fixtureBytes, hex, insnTuples, loadFixture } from "./helpers.ts";

function program(spec: ObjectSpec, name: string): ProgramSpec {
  const p = spec.programs.find((x) => x.name === name);
  assert.ok(p !== undefined, `no program ${name}`);
  return p;
}

function map(spec: ObjectSpec, name: string) {
  const m = spec.maps.find((x) => x.name === name);
  assert.ok(m !== undefined, `no map ${name}`);
  return m;
}

/** Every bpf-to-bpf call and callback address of `p` lands on the start of one of its functions. */
function assertCallsLandOnFunctions(p: ProgramSpec): number {
  const starts = new Set(p.functions.map((f) => f.start));
  let n = 0;
  for (let pc = 0; pc < p.insns.length; pc++) {
    const code = p.insns.code[pc];
    if (code === 0x85 && p.insns.src[pc] === 1) {
      assert.ok(starts.has(branchTarget(p.insns, pc) ?? -1), `${p.name}: call at ${pc} misses every function`);
      n++;
    } else if (code === 0x18) {
      if (p.insns.src[pc] === 4) {
        assert.ok(starts.has(pc + 1 + p.insns.imm[pc]), `${p.name}: callback address at ${pc} misses every function`);
        n++;
      }
      pc++;
    }
  }
  return n;
}

test("programs: several per section, libbpf's section table, '?' sections, attach targets", () => {
  const spec = loadFixture("programs");
  assert.equal(spec.name, "programs");
  assert.equal(spec.license, "Dual MIT/GPL");
  assert.deepEqual(
    spec.programs.filter((p) => p.section === "xdp").map((p) => p.name),
    ["xdp_pass", "xdp_drop"],
  );
  assert.deepEqual(
    spec.programs.filter((p) => p.section === "tc").map((p) => [p.name, p.autoload]),
    [
      ["tc_one", true],
      ["tc_two", true],
      ["lazy_tc", false],
    ],
  );
  const lazy = program(spec, "lazy_socket");
  assert.deepEqual([lazy.section, lazy.autoload, lazy.type], ["socket", false, BPF_PROG_TYPE_SOCKET_FILTER]);
  assert.equal(program(spec, "kp").attachTo, "do_nanosleep");
  assert.equal(program(spec, "tracept").attachTo, "syscalls/sys_enter_nanosleep");
  assert.equal(program(spec, "sock_filter").attachTo, "");
  assert.equal(program(spec, "xdp_frags").flags, 1 << 5);
  assert.equal(program(spec, "sys_prog").flags, 1 << 4);
  for (const p of spec.programs) {
    validateProgram(p.insns);
    assert.equal(p.functions.length, 1);
    assert.equal(p.functions[0].length, p.insns.length);
    assert.ok(p.lineInfo.length > 0 && p.lineInfo[0].insn === 0, `${p.name}: line info`);
  }
});

test("decl tags of the main function, not of its arguments", () => {
  const spec = loadFixture("programs");
  assert.deepEqual(program(spec, "tagged").declTags, ["tsbpf:main", "owner=loader"]);
  assert.deepEqual(program(spec, "tc_one").declTags, []);
});

test("calls: subprograms appended per program in libbpf's depth-first order, calls and callbacks fixed", () => {
  const spec = loadFixture("calls");
  const order = (name: string) => program(spec, name).functions.map((f) => `${f.name}:${f.linkage}`);
  assert.deepEqual(order("prog_a"), [
    "prog_a:global",
    "loop_cb:static",
    "g_chain:global",
    "s_leaf:static",
    "g_mul:global",
    "s_add:static",
  ]);
  assert.deepEqual(order("prog_b"), ["prog_b:global", "s_add:static"]);
  assert.deepEqual(order("prog_c"), [
    "prog_c:global",
    "other_cb:static",
    "s_leaf:static",
    "g_mul:global",
    "s_add:static",
  ]);
  assert.deepEqual(order("prog_d"), ["prog_d:global"]);

  // Each appended function is the .text function, except for call/callback immediates.
  const elf = readElf(fixtureBytes("calls"));
  const text = loadFixture("calls");
  let fixed = 0;
  for (const p of text.programs) {
    validateProgram(p.insns);
    fixed += assertCallsLandOnFunctions(p);
    for (const f of p.functions.slice(1)) {
      const sym = elf.symbols.find((s) => s.name === f.name && s.type === 2);
      assert.ok(sym !== undefined && sym.sectionName === ".text");
      assert.equal(f.length * 8, sym.size, `${f.name}: length`);
      const src = elf
        .section(sym.shndx)
        .data()
        .subarray(sym.value, sym.value + sym.size);
      for (let i = 0; i < f.length; i++) {
        const at = f.start + i;
        const isRef = p.insns.code[at] === 0x85 || (p.insns.code[at] === 0x18 && p.insns.src[at] === 4);
        if (!isRef) assert.equal(p.insns.code[at], src[i * 8], `${p.name}/${f.name}: slot ${i}`);
      }
    }
    assert.deepEqual(p.helpers, p.name === "prog_a" || p.name === "prog_c" ? [181] : []);
  }
  assert.equal(fixed, 11);
  // s_add sits at a different place in each program that uses it
  const at = (name: string) => program(spec, name).functions.find((f) => f.name === "s_add")?.start;
  assert.deepEqual([at("prog_a"), at("prog_b"), at("prog_c")], [36, 5, 37]);
});

test("maps: BTF definitions, inner map templates, prog_array and map-in-map initial slots", () => {
  const spec = loadFixture("maps");
  assert.deepEqual(
    spec.maps.map((m) => m.name),
    ["inner_a", "inner_b", "outer", "jump", "hmap", "sized", "pcpu", "lru", "bloom", "flagged", "ring", "outer_hash"],
  );
  const hmap = map(spec, "hmap");
  assert.deepEqual([hmap.type, hmap.keySize, hmap.valueSize, hmap.maxEntries], [BPF_MAP_TYPE_HASH, 4, 16, 128]);
  assert.ok(hmap.btfKeyTypeId > 0 && hmap.btfValueTypeId > 0);
  assert.equal(map(spec, "ring").maxEntries, 8192, "ring buffer rounded up to a power-of-2 number of pages");
  assert.equal(map(spec, "bloom").mapExtra, 3n);
  const outer = map(spec, "outer");
  assert.equal(outer.innerMap?.name, "outer.inner");
  assert.deepEqual([outer.innerMap?.type, outer.innerMap?.valueSize], [BPF_MAP_TYPE_ARRAY, 8]);
  assert.deepEqual(
    outer.contents.map((c) => [c.kind, hex(c.key), c.kind === "map" ? c.map : ""]),
    [
      ["map", "00000000", "inner_a"],
      ["map", "02000000", "inner_b"],
    ],
  );
  assert.deepEqual(
    map(spec, "jump").contents.map((c) => [c.kind, hex(c.key), c.kind === "program" ? c.program : ""]),
    [
      ["program", "01000000", "tail_1"],
      ["program", "02000000", "tail_2"],
    ],
  );
  assert.equal(map(spec, "outer_hash").innerMap?.maxEntries, 16);
  const use = program(spec, "use_maps");
  assert.deepEqual(
    use.maps.map((i) => spec.maps[i].name),
    ["outer", "jump", "hmap", "sized", "pcpu", "lru", "bloom", "flagged", "ring", "outer_hash"],
  );
});

test("global data: one array map per section, flags, contents, relocations with addends", () => {
  const spec = loadFixture("globals");
  assert.equal(spec.kernelVersion, 0x060c00);
  const rows = spec.maps.map((m) => [m.name, m.section, m.valueSize, m.flags]);
  assert.deepEqual(rows, [
    [".data", ".data", 32, BPF_F_MMAPABLE],
    [".rodata", ".rodata", 18, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE],
    [".data.custom", ".data.custom", 16, BPF_F_MMAPABLE],
    [".data.hidden", ".data.hidden", 4, 0],
    [".rodata.tables", ".rodata.tables", 8, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE],
    [".bss", ".bss", 8, BPF_F_MMAPABLE],
    [".rodata.str1.1", ".rodata.str1.1", 18, BPF_F_RDONLY_PROG],
  ]);
  const bss = map(spec, ".bss").contents[0];
  assert.ok(bss.kind === "bytes" && bss.value.every((b) => b === 0) && bss.value.length === 8);
  const str = map(spec, ".rodata.str1.1").contents[0];
  assert.ok(str.kind === "bytes");
  assert.equal(Buffer.from(str.value).toString("latin1"), "long packet\0short\0");
  // use_strings loads "short": map .rodata.str1.1, offset 12 (section symbol + the insn's imm)
  const p = program(spec, "use_strings");
  const loads = insnTuples(p.insns).flatMap((t, pc) =>
    t[0] === 0x18 && t[2] === 6 ? [[t[4], p.insns.imm[pc + 1]]] : [],
  );
  assert.deepEqual(loads, [
    [6, 0],
    [6, 12],
    [2, 0],
  ]);
  assert.equal(internalMapName(spec.name, ".data"), "globals.data");
});

test("legacy `maps` section: struct bpf_map_def, as libbpf before v1.0 read it", () => {
  const spec = loadFixture("legacy");
  assert.deepEqual(
    spec.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags, m.section, m.btfValueTypeId]),
    [
      ["legacy_hash", BPF_MAP_TYPE_HASH, 4, 8, 16, 0, "", 0],
      ["legacy_array", BPF_MAP_TYPE_ARRAY, 4, 4, 2, BPF_F_RDONLY_PROG, "", 0],
    ],
  );
  const p = program(spec, "use_legacy");
  const refs = insnTuples(p.insns).filter((t) => t[0] === 0x18 && t[2] === 5);
  assert.deepEqual(
    refs.map((t) => t[4]),
    [0, 1],
  );
  assert.deepEqual(p.maps, [0, 1]);
});

test("externs: kfunc calls, a typed ksym variable, a kfunc address and .kconfig values", () => {
  const spec = loadFixture("externs");
  assert.deepEqual(
    spec.ksyms,
    ["bpf_prog_active", "bpf_rcu_read_lock"],
    "variables, and kfuncs whose address is taken",
  );
  const kconfig = map(spec, ".kconfig");
  assert.deepEqual([kconfig.valueSize, kconfig.flags], [5, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE]);
  const rcu = program(spec, "rcu_user");
  assert.deepEqual(
    [...rcu.kfuncs],
    [
      [1, "bpf_rcu_read_lock"],
      [2, "bpf_rcu_read_unlock"],
    ],
  );
  const t = insnTuples(rcu.insns);
  assert.deepEqual(
    t.filter((x) => x[0] === 0x85 && x[2] === 2).map((x) => x[4]),
    [1, 2],
  );
  assert.deepEqual(
    t.filter((x) => x[0] === 0x18 && x[2] === 3).map((x) => x[4]),
    [0],
  );
  // LINUX_KERNEL_VERSION at offset 0, CONFIG_BPF_SYSCALL at 4 of the .kconfig map
  const kcfg = t.flatMap((x, pc) => (x[0] === 0x18 && x[2] === 6 ? [[x[4], t[pc + 1][4]]] : []));
  assert.deepEqual(kcfg, [
    [0, 0],
    [0, 4],
  ]);
  const thrower = program(spec, "thrower");
  assert.deepEqual([...thrower.kfuncs], [[3, "bpf_throw"]]);
  assert.deepEqual(
    insnTuples(thrower.insns)
      .filter((x) => x[0] === 0x18 && x[2] === 3)
      .map((x) => x[4]),
    [1],
    "bpf_ksym_exists(bpf_rcu_read_lock)",
  );
});

test("exception callbacks: the decl tag appends the named global subprogram", () => {
  const spec = loadFixture("exceptions");
  const p = program(spec, "main_prog");
  assert.deepEqual(p.declTags, ["exception_callback:on_throw"]);
  assert.deepEqual(
    p.functions.map((f) => [f.name, f.linkage]),
    [
      ["main_prog", "global"],
      ["helper", "static"],
      ["on_throw", "global"],
    ],
  );
  assert.equal(p.insns.length, p.functions[2].start + p.functions[2].length);
  assert.deepEqual([...p.kfuncs], [[1, "bpf_throw"]]);
  assert.ok(
    p.lineInfo.some((l) => l.insn === p.functions[2].start),
    "line info moved with the callback",
  );
  validateProgram(p.insns);
});

test("big-endian objects give the same programs and map layouts", () => {
  for (const name of ["calls", "globals"]) {
    const le = loadFixture(name);
    const be = loadFixture(`${name}.eb`);
    assert.equal(be.programs.length, le.programs.length);
    le.programs.forEach((p, i) => {
      const q = be.programs[i];
      assert.deepEqual(insnTuples(q.insns), insnTuples(p.insns), `${name}: ${p.name}`);
      assert.deepEqual(q.functions, p.functions);
      assert.deepEqual(q.lineInfo, p.lineInfo);
    });
    assert.deepEqual(
      be.maps.map((m) => [m.name, m.valueSize, m.flags]),
      le.maps.map((m) => [m.name, m.valueSize, m.flags]),
    );
  }
});

test("loading is deterministic", () => {
  const a = loadFixture("maps");
  const b = loadFixture("maps");
  assert.deepEqual(a, b);
});

test("libbpf's object and global-data map names", () => {
  assert.equal(objectName("/tmp/my_object_name.bpf.o"), "my_object_name");
  assert.equal(objectName("a_very_long_object_file_name.o"), "a_very_long_obj");
  assert.equal(internalMapName("my_object_name", ".rodata"), "my_objec.rodata");
  assert.equal(internalMapName("my_object_name", ".bss"), "my_objec.bss");
  assert.equal(internalMapName("my_object_name", ".kconfig"), "my_obje.kconfig");
  assert.equal(internalMapName("my_object_name", ".rodata.abracadabra"), ".rodata.abracad");
  assert.equal(internalMapName("x-y", ".data"), "x_y.data");
});

// ---- malformed objects

/** A copy of fixture `name` patched by `patch`, which gets its bytes and parsed ELF. */
function patched(name: string, patch: (bytes: Uint8Array, elf: ReturnType<typeof readElf>) => void): Uint8Array {
  const bytes = fixtureBytes(name);
  patch(bytes, readElf(bytes));
  return bytes;
}

/** File offset of relocation `index` of section `rel`. */
function relAt(elf: ReturnType<typeof readElf>, rel: string, index: number): number {
  const s = elf.sectionByName(rel);
  assert.ok(s !== undefined, rel);
  return s.offset + index * 16;
}

/** File offset of the symbol called `name`. */
function symAt(elf: ReturnType<typeof readElf>, name: string): number {
  const sym = elf.symbols.find((s) => s.name === name);
  assert.ok(sym !== undefined && elf.symtab !== undefined, name);
  return elf.symtab.offset + sym.index * 24;
}

/**
 * Renames section `from` to `to` (same length) in place: its bytes in the section-name table
 * change, and sections whose names shared those bytes (string tables merge suffixes) are
 * pointed at another copy of their old name (relocation sections may keep the new one).
 */
function renameSection(bytes: Uint8Array, elf: ReturnType<typeof readElf>, from: string, to: string): void {
  const target = elf.sectionByName(from);
  assert.ok(target !== undefined && from.length === to.length, from);
  const strtab = elf.sections[elf.header.shstrndx];
  bytes.set(Buffer.from(to), strtab.offset + target.nameOffset);
  const after = readElf(bytes);
  const table = Buffer.from(after.sections[elf.header.shstrndx].data());
  for (const sec of elf.sections) {
    if (sec.index === target.index || after.sections[sec.index].name === sec.name) continue;
    const at = table.indexOf(Buffer.from(`${sec.name}\0`));
    if (at >= 0) poke(bytes, sec.headerOffset, 4, at, true);
    else assert.ok(sec.name.startsWith(".rel"), `no other copy of the name ${sec.name}`);
  }
}

function assertLoadError(bytes: Uint8Array, where: { section?: string; insn?: number; message: RegExp }): void {
  assert.throws(
    () => loadObjectSpec(bytes),
    (e: unknown) => {
      assert.ok(e instanceof LoadError, `expected a LoadError, got ${e}`);
      assert.match(e.message, where.message);
      if (where.section !== undefined) assert.equal(e.section, where.section);
      if (where.insn !== undefined) assert.equal(e.insn, where.insn);
      return true;
    },
  );
}

test("an unknown program section is an error naming it, unless it is a '?' section", () => {
  assertLoadError(
    patched("programs", (b, e) => renameSection(b, e, "xdp.frags", "xdp.frogs")),
    { section: "xdp.frogs", message: /unknown section name/ },
  );
  const spec = loadObjectSpec(patched("programs", (b, e) => renameSection(b, e, "?tc", "?tx")));
  const lazy = program(spec, "lazy_tc");
  assert.deepEqual([lazy.section, lazy.type, lazy.autoload], ["tx", 0, false]);
  assert.equal(program(spec, "tc_one").type, BPF_PROG_TYPE_SCHED_CLS);
});

test("bad relocations are errors naming the section and the instruction", () => {
  // .reltc #1 is the call of g_chain at slot 11 of tc: give it the ld_imm64 relocation type
  assertLoadError(
    patched("calls", (b, e) => poke(b, relAt(e, ".reltc", 1) + 8, 4, 1, true)),
    { section: "tc", insn: 11, message: /relocation type R_BPF_64_64 on a call/ },
  );
  // move it onto slot 0, a mov
  assertLoadError(
    patched("calls", (b, e) => poke(b, relAt(e, ".reltc", 1), 8, 0, true)),
    { section: "tc", insn: 0, message: /insn code 0xbf/ },
  );
  // misalign it
  assertLoadError(
    patched("calls", (b, e) => poke(b, relAt(e, ".reltc", 1), 8, 0x59, true)),
    { section: "tc", insn: 11, message: /invalid relocation offset 0x59/ },
  );
  // call a symbol outside .text: prog_b
  assertLoadError(
    patched("calls", (b, e) => poke(b, relAt(e, ".reltc", 1) + 12, 4, 22, true)),
    { section: "tc", insn: 11, message: /bad call relocation against 'prog_b' in section 'xdp'/ },
  );
  // the call's imm (added to g_chain's offset) sends it past the end of .text
  assertLoadError(
    patched("calls", (b, e) => poke(b, (e.sectionByName("tc")?.offset ?? 0) + 11 * 8 + 4, 4, 1000, true)),
    { section: "tc", insn: 11, message: /no function starts/ },
  );
});

test("other malformed objects: static programs, maps without BTF, bad map definitions", () => {
  // prog_b made STB_LOCAL
  assertLoadError(
    patched("calls", (b, e) => poke(b, symAt(e, "prog_b") + 4, 1, 0x02, true)),
    { section: "xdp", message: /program 'prog_b' is static/ },
  );
  // .BTF renamed away: .maps cannot be read
  assertLoadError(
    patched("maps", (b, e) => renameSection(b, e, ".BTF", ".BTX")),
    { message: /BTF is required for \.maps/ },
  );
  // a map definition field libbpf does not know
  assertLoadError(
    patched("maps", (b, e) => {
      const btf = e.sectionByName(".BTF");
      assert.ok(btf);
      const at = Buffer.from(btf.data()).indexOf(Buffer.from("\0max_entries\0"));
      assert.ok(at > 0);
      b[btf.offset + at + 11] = "z".charCodeAt(0);
    }),
    { message: /unknown field 'max_entriez'/ },
  );
  // a legacy map definition past the end of `maps`
  assertLoadError(
    patched("legacy", (b, e) => poke(b, symAt(e, "legacy_array") + 8, 8, 36, true)),
    { section: "maps", message: /past the section end/ },
  );
  // a prog_array slot pointing at a map
  assertLoadError(
    patched("maps", (b, e) => poke(b, relAt(e, ".rel.maps", 2) + 12, 4, 0x19, true)),
    { section: ".rel.maps", message: /not a valid program reference/ },
  );
});

test("truncated and foreign files are TsbpfErrors", () => {
  const bytes = fixtureBytes("calls");
  for (const n of [0, 10, 64, 200, bytes.length - 1]) {
    assert.throws(() => loadObjectSpec(bytes.subarray(0, n)), TsbpfError);
  }
  const x86 = patched("calls", (b) => poke(b, 18, 2, 62, true));
  assertLoadError(x86, { message: /not a BPF object file/ });
});
