/**
 * The machine a program runs on, as far as helpers can observe it: clocks (ktime_get_ns and
 * friends, jiffies), the CPU it runs on, the current task, the per-CPU pseudo-random state of
 * bpf_get_prandom_u32, and the trace pipe bpf_trace_printk writes to.
 *
 * Everything is configurable so that runs can be made reproducible: a fixed clock, a PRNG seed,
 * a task identity. The defaults describe a test run from a bpftool process on CPU 0 of the
 * arm64 oracle machine (HZ = 250, 2 CPUs).
 */
import { TsbpfError } from "../errors.ts";

/** The current task as helpers see it (bpf_get_current_pid_tgid, _uid_gid, _comm). */
export interface TaskInfo {
  /** The thread id (the kernel's pid). */
  readonly pid: number;
  /** The process id (the kernel's tgid). */
  readonly tgid: number;
  readonly uid: number;
  readonly gid: number;
  /** At most TASK_COMM_LEN - 1 = 15 bytes are visible. */
  readonly comm: string;
}

/** The machine architectures whose kernel behaviour the host can mimic where they differ. */
export type HostArch = "x86_64" | "arm64";

/** Options of a {@link KernelHost}; every field has a default. */
export interface HostOptions {
  /**
   * Whose kernel to mimic where architectures differ (default "x86_64", the machine the kernel
   * recordings of test/fixtures/progs come from): copy_from_kernel_nofault's address check,
   * NET_IP_ALIGN.
   */
  readonly arch?: HostArch;
  /** num_possible_cpus() (default 2). */
  readonly nrCpus?: number;
  /** The CPU programs run on (default 0). */
  readonly cpu?: number;
  /** CLOCK_MONOTONIC in ns; default: real time since the host was created, plus 100 s of "uptime". */
  readonly clock?: () => bigint;
  /** CLOCK_BOOTTIME - CLOCK_MONOTONIC (time spent suspended), default 0. */
  readonly bootOffsetNs?: bigint;
  /** CLOCK_TAI - CLOCK_MONOTONIC, default: the real TAI offset of now (37 s leap + epoch). */
  readonly taiOffsetNs?: bigint;
  /** CONFIG_HZ (Debian arm64: 250). */
  readonly hz?: number;
  /** Seed of the bpf_get_prandom_u32 state (default: random). */
  readonly seed?: bigint | number;
  readonly task?: Partial<TaskInfo>;
}

/**
 * The per-CPU state of bpf_user_rnd_u32: the kernel's `struct rnd_state` (lib/random32.c,
 * a combined Tausworthe generator, L'Ecuyer's LFSR113), seeded like prandom_seed_state.
 */
export class PrandomState {
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private s4 = 0;

  constructor(seed: bigint) {
    this.seed(seed);
  }

  /** prandom_seed_state: derives the four words from a 64-bit seed, then warms up. */
  seed(seed: bigint): void {
    const s = BigInt.asUintN(64, seed);
    const i = Number(((s >> 32n) ^ (s << 10n) ^ s) & 0xffffffffn);
    const fix = (x: number, m: number) => (x >>> 0 < m ? (x + m) >>> 0 : x >>> 0);
    this.s1 = fix(i, 2);
    this.s2 = fix(i, 8);
    this.s3 = fix(i, 16);
    this.s4 = fix(i, 128);
    for (let k = 0; k < 10; k++) this.next();
  }

  /** prandom_u32_state: the next 32-bit value. */
  next(): number {
    const taus = (s: number, a: number, b: number, c: number, d: number) =>
      (((s & c) << d) ^ (((s << a) ^ s) >>> b)) >>> 0;
    this.s1 = taus(this.s1, 6, 13, 4294967294, 18);
    this.s2 = taus(this.s2, 2, 27, 4294967288, 2);
    this.s3 = taus(this.s3, 13, 21, 4294967280, 7);
    this.s4 = taus(this.s4, 3, 12, 4294967168, 13);
    return (this.s1 ^ this.s2 ^ this.s3 ^ this.s4) >>> 0;
  }
}

/** One bpf_trace_printk / bpf_trace_vprintk message, as the trace event records it. */
export interface TraceRecord {
  /** The program that printed (its name). */
  readonly program: string;
  readonly cpu: number;
  readonly timestampNs: bigint;
  /** The formatted text (at most 1023 bytes). */
  readonly text: string;
}

const UPTIME_BASE_NS = 100_000_000_000n;

/** The simulated kernel a runtime object runs programs in. */
export class KernelHost {
  readonly arch: HostArch;
  readonly nrCpus: number;
  /** The CPU the next program runs on. */
  cpu: number;
  readonly task: TaskInfo;
  readonly hz: number;
  /** Everything printed through the trace pipe, oldest first. */
  readonly trace: TraceRecord[] = [];
  private readonly clock: () => bigint;
  private readonly bootOffset: bigint;
  private readonly taiOffset: bigint;
  private readonly prandom: PrandomState[];

  constructor(options: HostOptions = {}) {
    this.arch = options.arch ?? "x86_64";
    this.nrCpus = options.nrCpus ?? 2;
    this.cpu = options.cpu ?? 0;
    if (!Number.isInteger(this.nrCpus) || this.nrCpus < 1) throw new TsbpfError("nrCpus must be >= 1");
    this.hz = options.hz ?? 250;
    const t = options.task ?? {};
    this.task = {
      pid: t.pid ?? process.pid,
      tgid: t.tgid ?? t.pid ?? process.pid,
      uid: t.uid ?? 0,
      gid: t.gid ?? 0,
      comm: t.comm ?? "bpftool",
    };
    if (options.clock !== undefined) {
      this.clock = options.clock;
    } else {
      const t0 = process.hrtime.bigint();
      this.clock = () => UPTIME_BASE_NS + (process.hrtime.bigint() - t0);
    }
    this.bootOffset = options.bootOffsetNs ?? 0n;
    this.taiOffset = options.taiOffsetNs ?? BigInt(Date.now()) * 1_000_000n + 37_000_000_000n - UPTIME_BASE_NS;
    const seed = options.seed !== undefined ? BigInt(options.seed) : BigInt(Math.floor(Math.random() * 2 ** 53));
    this.prandom = [];
    for (let cpu = 0; cpu < this.nrCpus; cpu++) this.prandom.push(new PrandomState(seed + BigInt(cpu)));
  }

  /** ktime_get_mono_fast_ns: CLOCK_MONOTONIC in ns. */
  monotonicNs(): bigint {
    return BigInt.asUintN(64, this.clock());
  }

  /** ktime_get_boot_fast_ns: CLOCK_BOOTTIME. */
  bootNs(): bigint {
    return BigInt.asUintN(64, this.clock() + this.bootOffset);
  }

  /** ktime_get_tai_fast_ns: CLOCK_TAI. */
  taiNs(): bigint {
    return BigInt.asUintN(64, this.clock() + this.taiOffset);
  }

  /** ktime_get_coarse_ns: CLOCK_MONOTONIC at jiffy resolution. */
  coarseNs(): bigint {
    const tick = BigInt(Math.round(1e9 / this.hz));
    const t = this.monotonicNs();
    return t - (t % tick);
  }

  /** get_jiffies_64: INITIAL_JIFFIES (-300 s worth, as an unsigned int) plus the ticks since boot. */
  jiffies64(): bigint {
    const initial = BigInt((-300 * this.hz) >>> 0);
    return BigInt.asUintN(64, initial + (this.monotonicNs() * BigInt(this.hz)) / 1_000_000_000n);
  }

  /** bpf_user_rnd_u32 on the current CPU. */
  prandomU32(): number {
    return this.prandom[this.cpu % this.nrCpus].next();
  }

  /**
   * copy_from_kernel_nofault_allowed for an address no region holds: x86-64 refuses the user
   * half (below TASK_SIZE_MAX + PAGE_SIZE), the vsyscall page and non-canonical addresses
   * (-ERANGE); arm64 tries every address (and faults: -EFAULT).
   */
  kernelReadAllowed(addr: bigint): boolean {
    if (this.arch === "arm64") return true;
    const a = BigInt.asUintN(64, addr);
    if (a < 0x0000_8000_0000_0000n) return false;
    if (a >= 0xffff_ffff_ff60_0000n && a < 0xffff_ffff_ff60_1000n) return false;
    return a >= 0xffff_8000_0000_0000n;
  }

  /** NET_IP_ALIGN: 2 on arm64, 0 on x86-64 (skb headroom in test runs is NET_SKB_PAD + it). */
  get netIpAlign(): number {
    return this.arch === "arm64" ? 2 : 0;
  }

  /** Appends a message to the trace pipe. */
  printk(program: string, text: string): void {
    this.trace.push({ program, cpu: this.cpu, timestampNs: this.monotonicNs(), text });
  }

  /** The trace pipe as text: one line per message (a message's own trailing newline is kept). */
  tracePipe(): string {
    return this.trace.map((r) => (r.text.endsWith("\n") ? r.text : `${r.text}\n`)).join("");
  }
}
