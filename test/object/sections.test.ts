/**
 * libbpf's program-section table: exact names, `type+` names (exact or with a `/` target),
 * first-match order, the `?` prefix, load flags and attach targets.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BPF_CGROUP_INET_SOCK_CREATE,
  BPF_F_SLEEPABLE,
  BPF_F_XDP_HAS_FRAGS,
  BPF_LSM_MAC,
  BPF_NETFILTER,
  BPF_PROG_TYPE_CGROUP_SOCK,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_LSM,
  BPF_PROG_TYPE_NETFILTER,
  BPF_PROG_TYPE_SCHED_ACT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_STRUCT_OPS,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_TRACING,
  BPF_PROG_TYPE_XDP,
  BPF_TCX_EGRESS,
  BPF_TCX_INGRESS,
  BPF_TRACE_FENTRY,
  BPF_TRACE_KPROBE_MULTI,
  BPF_XDP,
  BPF_XDP_CPUMAP,
  BPF_XDP_DEVMAP,
  SECTION_DEFS,
  sectionInfo,
} from "../../src/object/index.ts";

/** [name, type, expected attach type, flags, attach target] for names libbpf knows (exact rows have no target). */
const KNOWN: readonly [string, number, number, number, string][] = [
  ["socket", BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, ""],
  ["tc", BPF_PROG_TYPE_SCHED_CLS, 0, 0, ""],
  ["tc/ingress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, 0, ""],
  ["tcx/egress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_EGRESS, 0, ""],
  ["classifier", BPF_PROG_TYPE_SCHED_CLS, 0, 0, ""],
  ["action", BPF_PROG_TYPE_SCHED_ACT, 0, 0, ""],
  ["xdp", BPF_PROG_TYPE_XDP, BPF_XDP, 0, ""],
  ["xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP, BPF_F_XDP_HAS_FRAGS, ""],
  ["xdp/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, 0, ""],
  ["xdp.frags/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, BPF_F_XDP_HAS_FRAGS, ""],
  ["kprobe", BPF_PROG_TYPE_KPROBE, 0, 0, ""],
  ["kprobe/do_sys_open", BPF_PROG_TYPE_KPROBE, 0, 0, "do_sys_open"],
  ["kretprobe/x", BPF_PROG_TYPE_KPROBE, 0, 0, "x"],
  ["kprobe.multi/do_*", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, 0, "do_*"],
  ["uprobe.s/bin:func", BPF_PROG_TYPE_KPROBE, 0, BPF_F_SLEEPABLE, "bin:func"],
  ["fentry/do_nanosleep", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, 0, "do_nanosleep"],
  ["fentry.s/x", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, BPF_F_SLEEPABLE, "x"],
  ["lsm/file_open", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, 0, "file_open"],
  ["cgroup/sock", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, 0, ""],
  ["syscall", BPF_PROG_TYPE_SYSCALL, 0, BPF_F_SLEEPABLE, ""],
  ["struct_ops/tcp_init", BPF_PROG_TYPE_STRUCT_OPS, 0, 0, "tcp_init"],
  ["netfilter", BPF_PROG_TYPE_NETFILTER, BPF_NETFILTER, 0, ""],
];

test("section names libbpf knows", () => {
  for (const [name, type, attach, flags, target] of KNOWN) {
    const info = sectionInfo(name);
    assert.ok(info !== null, name);
    assert.deepEqual(
      [info.section, info.autoload, info.type, info.expectedAttachType, info.flags, info.attachTo],
      [name, true, type, attach, flags, target],
      name,
    );
  }
});

test("'?' turns autoload off and is not part of the section name", () => {
  const info = sectionInfo("?kprobe/foo");
  assert.deepEqual([info?.section, info?.autoload, info?.type, info?.attachTo], ["kprobe/foo", false, 2, "foo"]);
});

test("names libbpf does not know", () => {
  for (const name of [
    "",
    "?",
    "sockets",
    "tc/foo",
    "kprobex",
    "xdpx",
    "fentry_x",
    "classifier/x",
    ".text",
    "sk_skb/x",
  ]) {
    assert.equal(sectionInfo(name), null, name);
  }
});

test("`type+` rows take the exact name or a `/` target; the first matching row wins", () => {
  assert.equal(sectionInfo("kprobe.multi")?.expectedAttachType, BPF_TRACE_KPROBE_MULTI);
  assert.equal(sectionInfo("tp/a/b")?.attachTo, "a/b");
  assert.equal(sectionInfo("sk_reuseport/migrate")?.expectedAttachType, 40);
  assert.equal(sectionInfo("sk_reuseport")?.expectedAttachType, 39);
  assert.equal(new Set(SECTION_DEFS.map((d) => d.sec)).size, SECTION_DEFS.length, "duplicate rows");
});
