/**
 * The error hierarchy of tsbpf.
 *
 * Every failure that bad input can cause is one of these classes, never a bare `Error` or a
 * JavaScript `TypeError`. Each carries the location it is about (an instruction index, a file
 * offset, a line) so a message can point at the culprit, and wraps its cause with `{ cause }`
 * the way cilium/ebpf wraps with `%w`.
 */

/** Base class of every error tsbpf raises on purpose. */
export class TsbpfError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Raw bytecode that is not a valid BPF instruction stream (bad opcode, reserved field, ...). */
export class DecodeError extends TsbpfError {
  /** Instruction slot the problem is at (-1 when it concerns the whole buffer). */
  readonly pc: number;
  constructor(pc: number, message: string, options?: { cause?: unknown }) {
    super(pc >= 0 ? `insn ${pc}: ${message}` : message, options);
    this.pc = pc;
  }
}

/** An instruction that cannot be encoded (operand out of range, unknown mnemonic). */
export class EncodeError extends TsbpfError {}

/** Assembly source that does not parse; `line` is 1-based, `file` is optional. */
export class AsmError extends TsbpfError {
  readonly line: number;
  readonly file: string | undefined;
  constructor(line: number, message: string, file?: string, options?: { cause?: unknown }) {
    super(`${file ?? "<asm>"}:${line}: ${message}`, options);
    this.line = line;
    this.file = file;
  }
}

/** A malformed ELF file; `offset` is the file offset (or -1) and `section` the section name when known. */
export class ElfError extends TsbpfError {
  readonly offset: number;
  readonly section: string | undefined;
  constructor(message: string, where: { offset?: number; section?: string } = {}, options?: { cause?: unknown }) {
    const loc = [
      where.section !== undefined ? `section ${where.section}` : "",
      where.offset !== undefined && where.offset >= 0 ? `offset 0x${where.offset.toString(16)}` : "",
    ]
      .filter(Boolean)
      .join(", ");
    super(loc ? `ELF: ${loc}: ${message}` : `ELF: ${message}`, options);
    this.offset = where.offset ?? -1;
    this.section = where.section;
  }
}

/** Malformed BTF or BTF.ext; `typeId` is the type concerned (or -1), `section` the ELF section. */
export class BtfError extends TsbpfError {
  readonly typeId: number;
  constructor(
    message: string,
    where: { typeId?: number; section?: string; offset?: number } = {},
    options?: { cause?: unknown },
  ) {
    const loc = [
      where.section !== undefined ? where.section : "",
      where.typeId !== undefined && where.typeId >= 0 ? `type [${where.typeId}]` : "",
      where.offset !== undefined && where.offset >= 0 ? `offset 0x${where.offset.toString(16)}` : "",
    ]
      .filter(Boolean)
      .join(": ");
    super(loc ? `BTF: ${loc}: ${message}` : `BTF: ${message}`, options);
    this.typeId = where.typeId ?? -1;
  }
}

/**
 * An object that cannot be loaded as libbpf would load it (unknown section, bad relocation,
 * missing symbol, unknown helper or kfunc ...); names the program/section and instruction.
 */
export class LoadError extends TsbpfError {
  readonly section: string | undefined;
  readonly insn: number;
  constructor(message: string, where: { section?: string; insn?: number } = {}, options?: { cause?: unknown }) {
    const loc = [where.section ?? "", where.insn !== undefined && where.insn >= 0 ? `insn ${where.insn}` : ""]
      .filter(Boolean)
      .join(": ");
    super(loc ? `load: ${loc}: ${message}` : `load: ${message}`, options);
    this.section = where.section;
    this.insn = where.insn ?? -1;
  }
}

/** A map operation from user space that the kernel would refuse; `errno` is the positive errno. */
export class MapError extends TsbpfError {
  readonly errno: number;
  constructor(errno: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.errno = errno;
  }
}

/** Why an engine stopped a program: the `kind` tells a caller what to do about it. */
export type FaultKind =
  | "out-of-bounds" // access outside every region, or past a region's end
  | "misaligned" // atomic access not naturally aligned
  | "read-only" // store to a read-only region
  | "budget" // instruction budget exhausted
  | "call-depth" // more than MAX_CALL_FRAMES frames
  | "stack-size" // combined stack of the call chain exceeds MAX_BPF_STACK
  | "bad-call" // unknown helper, kfunc or call target
  | "bad-insn" // an instruction the engine cannot execute
  | "helper"; // a helper reported a fatal error

/**
 * A BPF program did something the machine refuses: the engine stops it and reports where.
 * This is the run-time counterpart of a kernel oops, not a JavaScript crash.
 */
export class BpfFault extends TsbpfError {
  readonly kind: FaultKind;
  /** Engine that stopped the program (`interp`, `wasm`, `arm64`). */
  readonly engine: string;
  /** Instruction slot of the faulting instruction. */
  readonly pc: number;
  /** The faulting instruction in llvm-objdump syntax, when known. */
  readonly insn: string;
  /** The address accessed, for memory faults. */
  readonly address: bigint | undefined;
  constructor(
    kind: FaultKind,
    message: string,
    at: { engine: string; pc: number; insn?: string; address?: bigint },
    options?: { cause?: unknown },
  ) {
    super(`${at.engine}: insn ${at.pc}${at.insn ? ` (${at.insn})` : ""}: ${message}`, options);
    this.kind = kind;
    this.engine = at.engine;
    this.pc = at.pc;
    this.insn = at.insn ?? "";
    this.address = at.address;
  }
}

/**
 * A program the verifier rejects, as the kernel's BPF_PROG_LOAD fails with its verifier log:
 * `insn` is the instruction being checked when it failed (-1 for whole-program checks), `log`
 * every line the verifier printed, and `block` the final error block — the lines the failing
 * check printed (usually one; several for "Unreleased reference" lists or a message followed by
 * its consequence), whose first line is the kernel's reason.
 */
export class VerifierError extends TsbpfError {
  readonly insn: number;
  readonly log: readonly string[];
  readonly block: readonly string[];
  /** The errno the kernel returns (EINVAL, EACCES, E2BIG, ENOTSUPP ...), positive. */
  readonly errno: number;
  /** The program that was rejected, when the loader knows it. */
  readonly program?: string;
  /** Source position of `insn` (from BTF.ext line_info), when the object has it. */
  readonly source?: SourceLocation;
  constructor(
    insn: number,
    log: readonly string[],
    errno: number,
    blockStart = log.length - 1,
    where: { program?: string; source?: SourceLocation } = {},
  ) {
    const block = log.slice(Math.max(0, Math.min(blockStart, log.length - 1)));
    const reason = block.length > 0 ? block[0] : "verification failed";
    const prefix = where.program !== undefined ? `${where.program}: ` : "";
    const at = where.source !== undefined ? ` (${where.source.file}:${where.source.line})` : "";
    super(insn >= 0 ? `${prefix}verifier: insn ${insn}${at}: ${reason}` : `${prefix}verifier: ${reason}`);
    this.insn = insn;
    this.log = log;
    this.block = block;
    this.errno = errno;
    this.program = where.program;
    this.source = where.source;
  }

  /** The kernel's reason for the rejection: the first line of the final error block. */
  get reason(): string {
    return this.block.length > 0 ? this.block[0] : "";
  }

  /** The same rejection, attributed to `program` and located at `source`. */
  located(program: string, source?: SourceLocation): VerifierError {
    return new VerifierError(this.insn, this.log, this.errno, this.log.length - this.block.length, { program, source });
  }
}

/** A position in a program's C source. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The line's text, as recorded in BTF. */
  readonly text: string;
}

/** Bad command-line usage; the CLI prints the message and exits 2. */
export class UsageError extends TsbpfError {}

/** Marks an unreachable branch of an exhaustive switch. */
export function assertNever(x: never, what = "value"): never {
  throw new TsbpfError(`unexpected ${what}: ${JSON.stringify(x)}`);
}

/**
 * A BPF program the arm64 JIT cannot translate (unsupported opcode, a branch out of range, a
 * layout that does not match the program). `insn` is the BPF slot it is about, -1 when it
 * concerns the whole program.
 */
export class JitError extends TsbpfError {
  readonly insn: number;
  constructor(insn: number, message: string, options?: { cause?: unknown }) {
    super(insn >= 0 ? `jit: insn ${insn}: ${message}` : `jit: ${message}`, options);
    this.insn = insn;
  }
}

/**
 * Bytes that cannot be split into AArch64 instruction words (a length that is not a multiple
 * of 4). `offset` is the byte offset of the incomplete trailing word.
 */
export class A64DecodeError extends TsbpfError {
  readonly offset: number;
  constructor(offset: number, message: string, options?: { cause?: unknown }) {
    super(`arm64 disasm: offset ${offset}: ${message}`, options);
    this.offset = offset;
  }
}
