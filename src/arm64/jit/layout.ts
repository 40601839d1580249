/**
 * Reads the oracle's per-program layout (`jitinfo`'s `.info` text) together with the xlated
 * instructions into a {@link JitInput}.
 *
 * `.info` lines used: `func <i> 0x<ksym address> <offset> <len> <name>` and
 * `funcinfo <i> insn_off <n> type_id <t>` (where function i starts). A hidden default
 * exception callback is not part of bpf_prog_info; its address is in a separate
 * `ksym 0x<address> len <n> <name>` line (the `.default_cb.info` file), which may be appended
 * to the text or passed as `defaultCbInfo`.
 */
import { JitError } from "../../errors.ts";
import { decodeProgram } from "../../isa/insn.ts";
import type { JitFunctionLayout, JitInput } from "./types.ts";

export function readJitInfo(infoText: string, xlated: Uint8Array, defaultCbInfo?: string): JitInput {
  const insns = decodeProgram(xlated);
  const funcs = new Map<number, { name: string; address: bigint }>();
  const starts = new Map<number, number>();
  let hidden: { name: string; address: bigint } | undefined;
  for (const line of `${infoText}\n${defaultCbInfo ?? ""}`.split("\n")) {
    const f = line.match(/^func (\d+) 0x([0-9a-f]+)\s+\d+\s+\d+\s+(\S+)/);
    if (f) funcs.set(Number(f[1]), { name: f[3], address: BigInt(`0x${f[2]}`) });
    const s = line.match(/^funcinfo (\d+) insn_off (\d+)/);
    if (s) starts.set(Number(s[1]), Number(s[2]));
    const k = line.match(/^ksym 0x([0-9a-f]+) len \d+ (\S+)/);
    if (k) hidden = { name: k[2], address: BigInt(`0x${k[1]}`) };
  }
  if (funcs.size === 0) throw new JitError(-1, "layout: no `func` lines");
  const functions: JitFunctionLayout[] = [];
  for (let i = 0; i < funcs.size; i++) {
    const f = funcs.get(i);
    if (f === undefined) throw new JitError(-1, `layout: function ${i} missing`);
    const start = starts.get(i) ?? (i === 0 ? 0 : undefined);
    if (start === undefined) throw new JitError(-1, `layout: no funcinfo for function ${i}`);
    functions.push({ name: f.name, start, address: f.address });
  }
  if (hidden !== undefined) {
    // the verifier appends the hidden callback `r0 = r1; exit` as the last two slots
    functions.push({ name: hidden.name, start: insns.length - 2, address: hidden.address });
  }
  return { insns, functions };
}
