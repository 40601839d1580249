/**
 * Source positions of instructions: the BTF.ext line_info record that covers a slot, found the
 * way the kernel's verifier log finds the "; <source> @ file:line" comment it prints before an
 * instruction — the last record at or before the slot, within the same function.
 */
import type { LineInfo, ProgramSpec } from "./spec.ts";

/** The line_info record covering instruction slot `insn` of `p`, or undefined without one. */
export function sourceLineOf(p: ProgramSpec, insn: number): LineInfo | undefined {
  let fnStart = 0;
  for (const f of p.functions) if (f.start <= insn && f.start > fnStart) fnStart = f.start;
  let best: LineInfo | undefined;
  for (const l of p.lineInfo) {
    if (l.insn > insn || l.insn < fnStart) continue;
    if (best === undefined || l.insn >= best.insn) best = l;
  }
  return best;
}
