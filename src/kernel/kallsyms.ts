/**
 * kallsyms of the modelled kernel: where the functions BPF code calls live in Debian's Linux
 * 6.12.117 arm64, booted without KASLR (the QEMU oracle's `/proc/kallsyms`). The JIT needs them
 * for exact `bl` offsets and address immediates (a helper call is `__bpf_call_base + imm`),
 * `tsbpf jit` to name call targets, and the unwinder to say which function an address is in.
 *
 * Symbols may share an address (aliases); `nameAt` returns the first in name order, as the
 * table is sorted. Lookups by address are binary searches over the sorted addresses.
 */
import { TsbpfError } from "../errors.ts";
import type { KernelSymbols } from "../verifier/index.ts";
import { KALLSYMS_BASE, KALLSYMS_DATA, KALLSYMS_RELEASE } from "./kallsyms-data.ts";

/** One kernel symbol. */
export interface KernelSymbol {
  readonly address: bigint;
  /** kallsyms type: T (global text), t (local text), W (weak), D (data). */
  readonly type: string;
  readonly name: string;
}

/** A kernel symbol table with lookups both ways. */
export class Kallsyms {
  readonly release: string;
  readonly symbols: readonly KernelSymbol[];
  private readonly byName = new Map<string, KernelSymbol>();

  constructor(release: string, symbols: readonly KernelSymbol[]) {
    this.release = release;
    this.symbols = [...symbols].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    for (const s of this.symbols) if (!this.byName.has(s.name)) this.byName.set(s.name, s);
  }

  /** The address of `name`, or undefined when the table does not have it. */
  addressOf(name: string): bigint | undefined {
    return this.byName.get(name)?.address;
  }

  /** The address of `name`; a TsbpfError when the table does not have it. */
  require(name: string): bigint {
    const a = this.addressOf(name);
    if (a === undefined) throw new TsbpfError(`kallsyms (${this.release}): no symbol ${name}`);
    return a;
  }

  /** The symbol starting exactly at `address`, or undefined. */
  nameAt(address: bigint): string | undefined {
    const i = this.floor(address);
    return i >= 0 && this.symbols[i].address === address ? this.symbols[i].name : undefined;
  }

  /**
   * The symbol `address` falls in — the last one at or below it — with the offset, as
   * `%pS` prints `name+0x10`; undefined below the first symbol.
   */
  lookup(address: bigint): { symbol: KernelSymbol; offset: bigint } | undefined {
    const i = this.floor(address);
    return i < 0 ? undefined : { symbol: this.symbols[i], offset: address - this.symbols[i].address };
  }

  /** Index of the first of the symbols with the greatest address ≤ `address`, or -1. */
  private floor(address: bigint): number {
    let lo = 0;
    let hi = this.symbols.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.symbols[mid].address <= address) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    while (found > 0 && this.symbols[found - 1].address === this.symbols[found].address) found--;
    return found;
  }

  /** Parses `/proc/kallsyms` text (`ADDR TYPE NAME [module]` lines). */
  static parse(text: string, release = "unknown"): Kallsyms {
    const symbols: KernelSymbol[] = [];
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      const m = /^([0-9a-fA-F]+)\s+(\S)\s+(\S+)/.exec(line);
      if (m === null) throw new TsbpfError(`kallsyms line ${i + 1}: expected "ADDRESS TYPE NAME", got "${line}"`);
      symbols.push({ address: BigInt(`0x${m[1]}`), type: m[2], name: m[3] });
    });
    return new Kallsyms(release, symbols);
  }
}

let modelled: Kallsyms | undefined;

/** The modelled kernel's table (Linux 6.12.117 arm64, nokaslr), decoded once. */
export function modelledKallsyms(): Kallsyms {
  if (modelled !== undefined) return modelled;
  const symbols: KernelSymbol[] = [];
  let address = KALLSYMS_BASE;
  for (const token of KALLSYMS_DATA.split(" ")) {
    const m = /^([A-Za-z])([0-9a-f]+),(.+)$/.exec(token);
    if (m === null) throw new TsbpfError(`kallsyms data: bad token "${token}"`);
    address += BigInt(`0x${m[2]}`);
    symbols.push({ address, type: m[1], name: m[3] });
  }
  modelled = new Kallsyms(KALLSYMS_RELEASE, symbols);
  return modelled;
}

/**
 * What the verifier's fixups need to turn helper and kfunc calls into the modelled kernel's call
 * immediates (`address - __bpf_call_base`).
 */
export function modelledKernelSymbols(): KernelSymbols {
  const k = modelledKallsyms();
  return { callBase: k.require("__bpf_call_base"), addressOf: (name) => k.addressOf(name) };
}
