/**
 * The reference baseline of the interpreter benchmark: the same objects run by the host kernel's
 * JIT through `bpftool prog loadall` and `bpftool prog run ... repeat N` (BPF_PROG_TEST_RUN).
 *
 * Needs root and bpftool. Programs are pinned in a private bpffs mounted on a fresh temporary
 * directory, so nothing is left in /sys/fs/bpf; {@link KernelBaseline.close} unpins, unmounts and
 * removes it. Every reason the baseline cannot run is reported as text, never thrown.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Name prefix of the mount points, followed by the pid of the benchmark that owns each. */
const PREFIX = "tsbpf-bench-";

/**
 * Unmounts and removes the bpffs of earlier benchmarks that died before cleaning up (a
 * synchronous benchmark loop cannot react to Ctrl-C). Mounts of live processes are left alone.
 */
function removeStale(): void {
  let mounts: string[];
  try {
    mounts = readFileSync("/proc/self/mounts", "utf8").split("\n");
  } catch {
    return;
  }
  for (const line of mounts) {
    const [, mountPoint, fsType] = line.split(" ");
    if (fsType !== "bpf" || mountPoint === undefined) continue;
    const m = /\/tsbpf-bench-(\d+)-[^/]+$/.exec(mountPoint);
    if (m === null || !mountPoint.startsWith(tmpdir()) || isAlive(Number(m[1]))) continue;
    if (spawnSync("umount", [mountPoint]).status === 0) {
      rmSync(mountPoint, { recursive: true, force: true });
      rmSync(`${mountPoint}.pkt`, { force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What one `bpftool prog run` reported. */
export interface KernelRun {
  /** The program's return value (the kernel reports r0 as a u32). */
  retval: number;
  /** Average nanoseconds per run over `repeat` runs, as the kernel measured them. */
  nsPerRun: number;
}

function bpftool(args: readonly string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync("bpftool", args, { encoding: "utf8" });
  if (r.error !== undefined) return { ok: false, out: "", err: r.error.message };
  return { ok: r.status === 0, out: r.stdout, err: r.stderr.trim() };
}

/** A private bpffs holding the pinned benchmark programs, and the packet they run on. */
export class KernelBaseline {
  /** Mount point of the private bpffs. */
  readonly dir: string;
  private readonly dataFile: string;
  private mounted = false;
  private readonly pinDirs: string[] = [];

  private constructor(dir: string, dataFile: string) {
    this.dir = dir;
    this.dataFile = dataFile;
  }

  /**
   * Mounts a private bpffs and writes the `data_in` packet (`packetLen` zero bytes; the tc
   * test run gives the program `skb->len == packetLen`). Returns why not when it cannot.
   */
  static open(packetLen: number): KernelBaseline | string {
    if (process.platform !== "linux") return `not Linux (${process.platform})`;
    if (process.getuid?.() !== 0) return "not root (BPF_PROG_TEST_RUN needs CAP_BPF and CAP_NET_ADMIN)";
    const v = bpftool(["version"]);
    if (!v.ok) return `bpftool not usable: ${v.err || "exit status non-zero"}`;
    removeStale();
    const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
    const m = spawnSync("mount", ["-t", "bpf", "bpf", dir], { encoding: "utf8" });
    if (m.error !== undefined || m.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      return `cannot mount a bpffs: ${m.error?.message ?? m.stderr.trim()}`;
    }
    const dataFile = `${dir}.pkt`;
    writeFileSync(dataFile, new Uint8Array(packetLen));
    const k = new KernelBaseline(dir, dataFile);
    k.mounted = true;
    return k;
  }

  /**
   * Loads every program of `objectPath` and pins it under `name`; returns the pinned path of
   * program `progName`, or why loading failed (the verifier's complaint, usually).
   */
  load(objectPath: string, name: string, progName: string): string | { error: string } {
    const pinDir = join(this.dir, name);
    this.pinDirs.push(pinDir);
    const r = bpftool(["prog", "loadall", objectPath, pinDir]);
    if (!r.ok) return { error: `bpftool prog loadall failed: ${r.err.split("\n").slice(0, 3).join(" / ")}` };
    const pinned = readdirSync(pinDir);
    if (!pinned.includes(progName)) return { error: `program ${progName} not pinned (found ${pinned.join(", ")})` };
    return join(pinDir, progName);
  }

  /** Runs a pinned program `repeat` times on the packet, through the kernel's JIT. */
  run(pinnedPath: string, repeat: number): KernelRun | { error: string } {
    const r = bpftool(["-j", "prog", "run", "pinned", pinnedPath, "data_in", this.dataFile, "repeat", String(repeat)]);
    if (!r.ok) return { error: `bpftool prog run failed: ${r.err}` };
    let j: unknown;
    try {
      j = JSON.parse(r.out);
    } catch {
      return { error: `unexpected bpftool output: ${r.out.slice(0, 200)}` };
    }
    const o = j as { retval?: unknown; duration?: unknown };
    if (typeof o.retval !== "number" || typeof o.duration !== "number") {
      return { error: `unexpected bpftool output: ${r.out.slice(0, 200)}` };
    }
    return { retval: o.retval >>> 0, nsPerRun: o.duration };
  }

  /** Unpins everything, unmounts the bpffs and removes its directory and the packet file. */
  close(): void {
    // Unpinning drops the last reference to each program, which frees it.
    for (const d of this.pinDirs) rmSync(d, { recursive: true, force: true });
    this.pinDirs.length = 0;
    if (this.mounted) {
      const u = spawnSync("umount", [this.dir], { encoding: "utf8" });
      if (u.status !== 0) {
        process.stderr.write(`warning: could not unmount ${this.dir}: ${u.stderr.trim()}\n`);
        return;
      }
      this.mounted = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.dataFile, { force: true });
  }
}
