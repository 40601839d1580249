/**
 * `tsbpf jit`: the arm64 machine code Linux 6.12.117 emits for a program, function by function,
 * each arm64 instruction annotated with the BPF instruction (and C source line) it came from.
 *
 * Two inputs:
 *   - an object: each program is verified as the kernel would (src/verifier) and its rewritten
 *     instructions are compiled with the facts the verifier found (stack depths, exception
 *     boundary and callback), at modelled addresses;
 *   - the kernel's own post-verifier instructions and layout, as the oracle's `jitinfo` writes
 *     them (`--xlated F.xlated.bin --layout F.info`): each function is compiled at its recorded
 *     address, which is how the golden tests compare with the real kernel.
 */
import { decodeA64, disasmA64 } from "../arm64/asm/disasm.ts";
import { compileVerified } from "../arm64/jit/from-verified.ts";
import { type JitFunction, type JitInput, jitProgram, readJitInfo } from "../arm64/jit/index.ts";
import { UsageError } from "../errors.ts";
import { disasmInsn } from "../isa/disasm.ts";
import type { DecodedProgram } from "../isa/insn.ts";
import { modelledKallsyms, modelledKernelSymbols } from "../kernel/kallsyms.ts";
import { sourceLineOf } from "../object/lines.ts";
import type { LineInfo, ProgramSpec } from "../object/spec.ts";
import { toHex, verify } from "../runtime/object.ts";
import type { VerifiedProgram } from "../verifier/index.ts";
import { parse } from "./args.ts";
import { readBytes, readText } from "./files.ts";
import { readObjectSpec } from "./objects.ts";
import { type Io, paint, writeJson } from "./output.ts";

export const JIT_USAGE = `usage: tsbpf jit OBJ [--prog NAME] [--arch arm64] [--no-lse] [--address ADDR] [--btf PATH] [--json]
       tsbpf jit --arch arm64 --xlated FILE.xlated.bin --layout FILE.info [--default-cb FILE.info]
                 [--no-lse] [--json]

Prints the arm64 code Linux 6.12.117's BPF JIT emits (PAC on, BTI off, LSE atomics unless
--no-lse), each function with its address, every instruction annotated with the BPF instruction
and the C source line it implements.
  OBJ              an object: its programs (all, or --prog) are verified, then compiled; functions
                   are placed one after another from --address (default 0xffff800082640000)
  --xlated FILE    the kernel's post-verifier instructions of one program (jitinfo's .xlated.bin)
  --layout FILE    its function layout (jitinfo's .info: addresses, first instructions, names)
  --default-cb F   the .info of its hidden default exception callback, when it has one
  --no-lse         a CPU without LSE atomics: LDXR/STXR loops
  --json           {"functions": [{"name", "address", "bytes_hex", "insns": [{"offset",
                   "address", "word", "text", "bpf", "bpf_text", "source"}]}]} per program, in the
                   kernel's order (main, subprograms, the hidden default callback); bytes_hex is
                   the image without the PLT's 8-byte target word (jited_len bytes)
`;

/** Where the modelled kernel's BPF images start (the oracle's programs live around here). */
const DEFAULT_ADDRESS = 0xffff800082640000n;

/** What the annotations need to know about the BPF side. */
interface BpfSide {
  readonly insns: DecodedProgram;
  /** Source position of instruction `i`, if known. */
  readonly source: (i: number) => LineInfo | undefined;
}

function jsonOf(fns: readonly JitFunction[], bpf: BpfSide): unknown {
  return {
    functions: fns.map((f) => ({
      name: f.name,
      address: `0x${f.address.toString(16)}`,
      bytes_hex: toHex(f.bytes),
      insns: f.insns.map((k) => {
        const at = f.address + BigInt(k.offset);
        const src = k.bpfIndex >= 0 ? bpf.source(k.bpfIndex) : undefined;
        return {
          offset: k.offset,
          address: `0x${at.toString(16)}`,
          word: (k.word >>> 0).toString(16).padStart(8, "0"),
          text: disasmA64(k.word, at).replace("\t", " "),
          bpf: k.bpfIndex >= 0 ? k.bpfIndex : null,
          bpf_text: k.bpfIndex >= 0 ? disasmInsn(bpf.insns, k.bpfIndex, { lossless: true }) : null,
          source: src !== undefined ? { file: src.file, line: src.line, text: src.text } : null,
          ...(k.kernelObject ? { kernel_object: true } : {}),
        };
      }),
    })),
  };
}

/** Names an absolute address: a function of the program, or a symbol of the modelled kernel. */
function symbolizer(fns: readonly JitFunction[]): (address: bigint) => string | undefined {
  const kallsyms = modelledKallsyms();
  return (address) => {
    for (const f of fns) {
      const end = f.address + BigInt(f.bytes.length);
      if (address === f.address) return f.name;
      if (address > f.address && address < end) return `${f.name}+0x${(address - f.address).toString(16)}`;
    }
    const k = kallsyms.lookup(address);
    if (k === undefined || k.offset > 0x100000n) return undefined;
    return k.offset === 0n ? k.symbol.name : `${k.symbol.name}+0x${k.offset.toString(16)}`;
  };
}

/**
 * Where a call of the post-verifier program goes: for a BPF-to-BPF call the function whose index
 * the kernel's form carries in imm, else the kernel function at `__bpf_call_base + imm`.
 */
function callTarget(
  bpf: BpfSide,
  i: number,
  fns: readonly JitFunction[],
  name: (a: bigint) => string | undefined,
  callBase: bigint,
): string {
  const code = bpf.insns.code[i];
  if (code !== 0x85) return "";
  if (bpf.insns.src[i] === 1) {
    const callee = fns[bpf.insns.imm[i]];
    return callee !== undefined ? `  → ${callee.name}` : "";
  }
  const callee = callBase + BigInt(bpf.insns.imm[i]);
  const n = name(callee);
  return n !== undefined ? `  → ${n}` : "";
}

function printListing(io: Io, fns: readonly JitFunction[], bpf: BpfSide): void {
  const name = symbolizer(fns);
  const callBase = modelledKallsyms().require("__bpf_call_base");
  for (const f of fns) {
    const flags = [f.exceptionBoundary ? "exception boundary" : "", f.exceptionCallback ? "exception callback" : ""]
      .filter(Boolean)
      .join(", ");
    io.out(
      `${paint(io, "bold", f.name)} @ 0x${f.address.toString(16)}  (${f.bytes.length} bytes, ${f.insns.length} insns, stack ${f.stackDepth}${flags ? `; ${flags}` : ""})\n`,
    );
    let lastBpf = -2;
    let lastLine = "";
    let seenBody = false;
    for (const k of f.insns) {
      if (k.bpfIndex !== lastBpf) {
        if (k.bpfIndex < 0) {
          io.out(`  ${paint(io, "dim", seenBody ? "; epilogue" : "; prologue")}\n`);
        } else {
          seenBody = true;
          const line = bpf.source(k.bpfIndex);
          const where = line !== undefined ? `${line.file}:${line.line}` : "";
          if (line !== undefined && where !== lastLine) {
            io.out(`  ${paint(io, "dim", `; ${line.text.trim()} @ ${line.file.replace(/^.*\//, "")}:${line.line}`)}\n`);
            lastLine = where;
          }
          const text = disasmInsn(bpf.insns, k.bpfIndex, { lossless: true });
          io.out(
            `  ${paint(io, "cyan", `; ${String(k.bpfIndex).padStart(4)}: ${text}${callTarget(bpf, k.bpfIndex, fns, name, callBase)}`)}\n`,
          );
        }
        lastBpf = k.bpfIndex;
      }
      const at = f.address + BigInt(k.offset);
      const mark = k.kernelObject ? paint(io, "yellow", "  (kernel object address)") : "";
      io.out(
        `    ${at.toString(16)}:  ${(k.word >>> 0).toString(16).padStart(8, "0")}  ${a64Text(k.word, at, name)}${mark}\n`,
      );
    }
    io.out("\n");
  }
}

/** The BPF side of a verified program of `p`: sources through the verifier's origIndex. */
function objectSide(p: ProgramSpec, v: VerifiedProgram, insns: DecodedProgram): BpfSide {
  return {
    insns,
    source: (i) => {
      const orig = v.origIndex[i];
      return orig >= 0 ? sourceLineOf(p, orig) : undefined;
    },
  };
}

/** A 64-bit kernel address given in hex (0xffff8000...), 4-byte aligned. */
function addressOption(text: string): bigint {
  if (!/^0x[0-9a-f]{1,16}$/i.test(text)) throw new UsageError(`--address: expected a hex address, got "${text}"`);
  const a = BigInt(text);
  if (a % 4n !== 0n) throw new UsageError(`--address: ${text} is not 4-byte aligned`);
  return a;
}

/**
 * llvm's `mnemonic TAB operands` with the mnemonic padded to a column, and the target of a
 * branch or call named `<symbol>` as objdump does when it has symbols.
 */
function a64Text(word: number, at: bigint, name: (a: bigint) => string | undefined): string {
  const t = disasmA64(word, at);
  const tab = t.indexOf("\t");
  const padded = tab < 0 ? t : `${t.slice(0, tab).padEnd(8)}${t.slice(tab + 1)}`;
  const target = decodeA64(word, at)?.target;
  const sym = target !== undefined ? name(target) : undefined;
  return sym !== undefined ? `${padded} <${sym}>` : padded;
}

/** Runs `tsbpf jit`; returns the exit code. */
export function jitCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse(argv, {
    prog: { type: "string" },
    arch: { type: "string", default: "arm64" },
    "no-lse": { type: "boolean", default: false },
    address: { type: "string" },
    btf: { type: "string" },
    xlated: { type: "string" },
    layout: { type: "string" },
    "default-cb": { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    io.out(JIT_USAGE);
    return 0;
  }
  if (values.arch !== "arm64") throw new UsageError(`--arch: "${values.arch}" is not supported (known: arm64)`);
  const lse = !values["no-lse"];
  if (values.xlated !== undefined || values.layout !== undefined) {
    if (values.xlated === undefined || values.layout === undefined)
      throw new UsageError("--xlated and --layout go together");
    if (positionals.length > 0) throw new UsageError("give an object or --xlated/--layout, not both");
    // readText, not readFileSync: a missing or unreadable file is a usage error with a message,
    // not an ENOENT exception escaping main()
    const defaultCb = values["default-cb"] !== undefined ? readText(values["default-cb"]) : undefined;
    const input = readJitInfo(readText(values.layout), readBytes(values.xlated), defaultCb);
    const fns = jitProgram(input, { lse });
    const bpf: BpfSide = { insns: input.insns, source: () => undefined };
    if (values.json) writeJson(io, jsonOf(fns, bpf));
    else printListing(io, fns, bpf);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give one object file (got ${positionals.length})`);
  const base = values.address !== undefined ? addressOption(values.address) : DEFAULT_ADDRESS;
  const spec = readObjectSpec(positionals[0], values.btf);
  const programs = spec.programs.filter((p) => (values.prog === undefined ? p.autoload : p.name === values.prog));
  if (programs.length === 0) throw new UsageError(`no program ${values.prog ?? ""} to compile in ${positionals[0]}`);
  let at = base;
  for (const p of programs) {
    const v = verify(spec, p, "6.12", { kernelSymbols: modelledKernelSymbols() });
    const { input, functions: fns } = compileVerified(p, v, at, { lse });
    const last = fns[fns.length - 1];
    at = (last.address + BigInt(last.bytes.length + 8) + 0xfffn) & ~0xfffn;
    const bpf = objectSide(p, v, input.insns);
    if (values.json) writeJson(io, { prog: p.name, ...(jsonOf(fns, bpf) as object) });
    else {
      io.out(`${paint(io, "bold", `program ${p.name}`)}\n`);
      printListing(io, fns, bpf);
    }
  }
  return 0;
}
