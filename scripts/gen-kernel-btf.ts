/**
 * Regenerates the kernel BTF tsbpf bundles (src/runtime/kernel-btf): the types BPF programs of the
 * kinds the runtime runs (tc, xdp, socket filters) commonly CO-RE-relocate against, cut from a
 * real kernel's `/sys/kernel/btf/vmlinux` with everything they refer to (src/btf/write.ts,
 * `pickBtfTypes`), renumbered and written back as raw BTF.
 *
 *   npx tsx scripts/gen-kernel-btf.ts [--release R] [--out DIR] [VMLINUX]
 *   npx tsx scripts/gen-kernel-btf.ts --oracle ORACLE_DIR [--out DIR]
 *
 * VMLINUX defaults to /sys/kernel/btf/vmlinux (then R defaults to `uname -r`; for a file, give
 * it). `--oracle` boots the QEMU oracle (../shared/oracle, after its setup.sh) — the real Debian
 * 6.12.117 arm64 kernel tsbpf models — and takes that kernel's BTF and release. DIR defaults to
 * src/runtime/kernel-btf. Writes DIR/vmlinux.btf (the raw BTF, for `bpftool btf dump file`) and
 * DIR/data.ts (the same bytes as base64, with where they came from), both deterministic.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type Btf, type BtfKind, parseBtf, pickBtfTypes, writeBtf } from "../src/btf/index.ts";

/**
 * The root types, as "kind name". Context structs of tc/xdp/socket programs and what their
 * pointer fields lead to; the special map-value fields; the packet headers vmlinux.h-based
 * parsers read (vmlinux.h marks every struct preserve_access_index, so each access is a CO-RE
 * relocation); the structs of the fib and tunnel helpers; the enums programs probe for features
 * (`bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop)`).
 */
const ROOTS = [
  "struct __sk_buff",
  "struct xdp_md",
  "struct bpf_sock",
  "struct bpf_tcp_sock",
  "struct bpf_xdp_sock",
  "struct bpf_sock_tuple",
  "struct bpf_flow_keys",
  "struct bpf_spin_lock",
  "struct bpf_timer",
  "struct ethhdr",
  "struct iphdr",
  "struct ipv6hdr",
  "struct tcphdr",
  "struct udphdr",
  "struct icmphdr",
  "struct icmp6hdr",
  "struct bpf_fib_lookup",
  "struct bpf_tunnel_key",
  "enum bpf_map_type",
  "enum bpf_prog_type",
  "enum bpf_func_id",
  "enum xdp_action",
] as const;

const SYSFS = "/sys/kernel/btf/vmlinux";

/** The single type of `btf` a root names (an error when there is none, or several). */
function rootId(btf: Btf, root: string): number {
  const [kind, name] = root.split(" ") as [BtfKind, string];
  const all = btf.findAllByName(name, kind);
  if (all.length !== 1) throw new Error(`${root}: ${all.length} types of that name in the source BTF`);
  return all[0].id;
}

/** Boots the oracle's kernel and returns its BTF and release. */
function fromOracle(oracle: string): { bytes: Uint8Array; release: string } {
  const job = join(oracle, "jobs", "kernel-btf");
  const out = join(job, "out");
  mkdirSync(job, { recursive: true });
  writeFileSync(
    join(job, "job.sh"),
    "# runs in the oracle's guest: the kernel's BTF and release\n" +
      "cat /sys/kernel/btf/vmlinux > $OUT/vmlinux.btf\nuname -r > $OUT/release\nuname -m >> $OUT/release\n",
  );
  execFileSync(join(oracle, "run.sh"), [job, out], { stdio: "inherit" });
  const [release, machine] = readFileSync(join(out, "release"), "utf8").trim().split("\n");
  return { bytes: new Uint8Array(readFileSync(join(out, "vmlinux.btf"))), release: `${release} (${machine})` };
}

/**
 * The kfuncs whose kernel BTF ids tsbpf needs: raw bytecode names a kfunc by its id in the
 * running kernel's vmlinux BTF (`call kfunc ID`), and a program's tag — hence its kallsyms name —
 * hashes the instructions as submitted, kfunc calls by that id. The ones the runtime implements
 * (src/runtime/kfuncs.ts) and the ones the verifier models (src/verifier/kfuncs.ts).
 */
const KFUNCS = [
  "bpf_throw",
  "bpf_rcu_read_lock",
  "bpf_rcu_read_unlock",
  "bpf_preempt_disable",
  "bpf_preempt_enable",
  "bpf_obj_new_impl",
  "bpf_obj_drop_impl",
  "bpf_cast_to_kern_ctx",
  "bpf_rdonly_cast",
  "bpf_iter_num_new",
  "bpf_iter_num_next",
  "bpf_iter_num_destroy",
  "bpf_dynptr_from_skb",
  "bpf_dynptr_from_skb_rdonly",
  "bpf_dynptr_from_xdp",
  "bpf_dynptr_slice",
  "bpf_dynptr_slice_rdwr",
  "bpf_dynptr_size",
  "bpf_rbtree_add_impl",
  "bpf_rbtree_first",
  "bpf_rbtree_remove",
  "bpf_list_push_front_impl",
  "bpf_list_push_back_impl",
  "bpf_list_pop_front",
  "bpf_list_pop_back",
  "bpf_refcount_acquire_impl",
];

/** The vmlinux BTF id of each kfunc of {@link KFUNCS}. */
function kfuncIds(source: Btf): [string, number][] {
  return KFUNCS.map((name) => {
    const id = source.types.findIndex((t) => t.kind === "func" && t.name === name);
    if (id < 0) throw new Error(`kfunc ${name} is not in this vmlinux BTF`);
    return [name, id];
  });
}

/** data.ts: the bytes as base64 lines, with their provenance. */
function dataModule(
  btf: Uint8Array,
  source: { release: string; sha256: string; bytes: number },
  kfuncs: [string, number][],
): string {
  const b64 = Buffer.from(btf).toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 100) lines.push(`  "${b64.slice(i, i + 100)}",`);
  const sha = createHash("sha256").update(btf).digest("hex");
  return `// Generated by scripts/gen-kernel-btf.ts: do not edit (see README.md here to regenerate).

/** The kernel whose \`/sys/kernel/btf/vmlinux\` the bundled BTF was cut from, and that file's hash and size. */
export const KERNEL_BTF_SOURCE = {
  release: ${JSON.stringify(source.release)},
  sha256: ${JSON.stringify(source.sha256)},
  bytes: ${source.bytes},
} as const;

/** The root types ("kind name") it holds with everything they refer to. */
export const KERNEL_BTF_ROOTS: readonly string[] = [
${ROOTS.map((r) => `  ${JSON.stringify(r)},`).join("\n")}
];

/** BTF ids of kfuncs in the source kernel's vmlinux BTF (what \`call kfunc ID\` names there). */
export const KERNEL_KFUNC_BTF_IDS: ReadonlyMap<string, number> = new Map([
${kfuncs.map(([n, id]) => `  [${JSON.stringify(n)}, ${id}],`).join("\n")}
]);

/** SHA-256 of the bundled BTF (vmlinux.btf beside this file). */
export const KERNEL_BTF_SHA256 = ${JSON.stringify(sha)};

/** The bundled BTF (${btf.length} bytes), base64. */
export const KERNEL_BTF_BASE64 = [
${lines.join("\n")}
].join("");
`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: {
      release: { type: "string" },
      out: { type: "string" },
      oracle: { type: "string" },
    },
    allowPositionals: true,
  });
  const outDir = resolve(values.out ?? join(import.meta.dirname, "../src/runtime/kernel-btf"));
  let bytes: Uint8Array;
  let release: string;
  if (values.oracle !== undefined) {
    ({ bytes, release } = fromOracle(resolve(values.oracle)));
  } else {
    const path = positionals[0] ?? SYSFS;
    bytes = new Uint8Array(readFileSync(path));
    if (values.release !== undefined) release = values.release;
    else if (path === SYSFS) release = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
    else throw new Error(`give --release for ${path}`);
  }
  const source = parseBtf(bytes, { section: "vmlinux" });
  const types = pickBtfTypes(
    source,
    ROOTS.map((r) => rootId(source, r)),
  );
  const btf = writeBtf(types);
  parseBtf(btf, { section: "bundled" }); // what we wrote must read back
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "vmlinux.btf"), btf);
  writeFileSync(join(outDir, "data.ts"), dataModule(btf, { release, sha256, bytes: bytes.length }, kfuncIds(source)));
  console.log(`${outDir}: ${types.length - 1} types, ${btf.length} bytes, from ${release} (${sha256.slice(0, 16)}…)`);
}

main();
