/**
 * Execution traces for the CLI: a trace hook that records each executed instruction with the
 * registers it changed, and the human rendering `tsbpf run --trace` and the demo print.
 */
import type { TraceHook } from "../interp/index.ts";
import { disasmInsn } from "../isa/disasm.ts";
import type { DecodedProgram } from "../isa/insn.ts";
import { type Io, paint } from "./output.ts";

/** One executed instruction. */
export interface TraceStep {
  pc: number;
  insn: string;
  /** Registers changed by this instruction: name → 0x value. */
  changed: Record<string, string>;
}

/** A trace hook that records each step and the registers the previous step changed. */
export function recorder(program: DecodedProgram, steps: TraceStep[]): { hook: TraceHook; finish(r0: bigint): void } {
  let last: bigint[] | null = null;
  const diff = (now: bigint[]) => {
    if (last === null || steps.length === 0) return;
    const prev = steps[steps.length - 1];
    for (let r = 0; r < 11; r++) if (now[r] !== last[r]) prev.changed[`r${r}`] = `0x${now[r].toString(16)}`;
  };
  return {
    hook: (pc, regs) => {
      const now = Array.from({ length: 11 }, (_, r) => regs.get(r));
      diff(now);
      last = now;
      steps.push({ pc, insn: disasmInsn(program, pc, { lossless: true }), changed: {} });
    },
    finish: (r0) => {
      if (last !== null) diff([r0, ...last.slice(1)]);
    },
  };
}

/** One line per step: slot, instruction, and the registers it changed. */
export function formatTrace(io: Io, steps: readonly TraceStep[]): string {
  return steps
    .map((s) => {
      const changes = Object.entries(s.changed)
        .map(([r, v]) => `${r} = ${v}`)
        .join(", ");
      const line = `${String(s.pc).padStart(6)}: ${changes ? s.insn.padEnd(36) + paint(io, "dim", `; ${changes}`) : s.insn}`;
      return `${line}\n`;
    })
    .join("");
}
