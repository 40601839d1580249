/**
 * BPF opcode constants, spelled as in the kernel's uapi headers (include/uapi/linux/bpf.h,
 * bpf_common.h) and RFC 9669.
 *
 * An 8-bit opcode is split in fields that depend on its class (the low three bits):
 *
 *   ALU, ALU64, JMP, JMP32          LD, LDX, ST, STX
 *   +--------+---+-------+          +-------+-------+-------+
 *   | op (4) | s | class |          |mode(3)|size(2)| class |
 *   +--------+---+-------+          +-------+-------+-------+
 *    7      4  3  2     0            7     5 4     3 2     0
 *
 * `s` is the source bit: BPF_K (immediate) or BPF_X (register). Constants are plain numbers in
 * `as const` objects, composed with `|` exactly as the kernel does (`BPF_ALU64 | BPF_ADD | BPF_X`).
 */

// ---- classes (code & 0x07)
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

/** Extracts the class field. */
export const BPF_CLASS = (code: number): number => code & 0x07;

// ---- size (code & 0x18), for LD/LDX/ST/STX
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_SIZE = (code: number): number => code & 0x18;

/** Access width in bytes for each size field value. */
export const SIZE_BYTES: Readonly<Record<number, 1 | 2 | 4 | 8>> = { [BPF_W]: 4, [BPF_H]: 2, [BPF_B]: 1, [BPF_DW]: 8 };

// ---- mode (code & 0xe0), for LD/LDX/ST/STX
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;
export const BPF_MODE = (code: number): number => code & 0xe0;

// ---- ALU operations (code & 0xf0)
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;
export const BPF_OP = (code: number): number => code & 0xf0;

// ---- source (code & 0x08)
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_SRC = (code: number): number => code & 0x08;
/** BPF_END direction: in ALU class, TO_LE uses BPF_K and TO_BE uses BPF_X. */
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// ---- jump operations (code & 0xf0)
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
/** Conditional pseudo-jump; with src 0 it is `may_goto`. */
export const BPF_JCOND = 0xe0;
export const BPF_MAY_GOTO = 0;

// ---- atomic operations (imm of BPF_STX | BPF_ATOMIC)
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
/** Load-acquire and store-release (Linux 6.15+): atomic mode, imm 0x100 / 0x110. */
export const BPF_LOAD_ACQ = 0x100;
export const BPF_STORE_REL = 0x110;

// ---- pseudo values of the src field
/** LD_IMM64 src: the imm is a map fd (relocated by the loader). */
export const BPF_PSEUDO_MAP_FD = 1;
/** LD_IMM64 src: imm is a map fd, second imm an offset into its value. */
export const BPF_PSEUDO_MAP_VALUE = 2;
/** LD_IMM64 src: imm is a BTF id of a kernel variable (ksym). */
export const BPF_PSEUDO_BTF_ID = 3;
/** LD_IMM64 src: imm is a relative instruction offset of a subprogram (callback pointer). */
export const BPF_PSEUDO_FUNC = 4;
/** LD_IMM64 src: imm is an index into the fd array. */
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
/** CALL src: bpf-to-bpf call, imm is the relative target. */
export const BPF_PSEUDO_CALL = 1;
/** CALL src: kernel function call, imm is a BTF id. */
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** `off` of ALU64 MOV X that turns it into `addr_space_cast`. */
export const BPF_ADDR_SPACE_CAST = 1;

// ---- registers
export const BPF_REG_0 = 0;
export const BPF_REG_1 = 1;
export const BPF_REG_10 = 10;
/** The frame pointer (read-only). */
export const BPF_REG_FP = 10;
/** Number of architectural registers r0..r10. */
export const MAX_BPF_REG = 11;

// ---- kernel limits
/** Bytes of stack per program (and combined along a call chain). */
export const MAX_BPF_STACK = 512;
/** Frames in a bpf-to-bpf call chain, main included (kernel MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;
/** Tail calls a program chain may make (kernel MAX_TAIL_CALL_CNT). */
export const MAX_TAIL_CALL_CNT = 33;

// ---- composite opcodes used often enough to name
export const BPF_LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW; // 0x18
export const BPF_CALL_OP = BPF_JMP | BPF_CALL; // 0x85
export const BPF_CALLX_OP = BPF_JMP | BPF_CALL | BPF_X; // 0x8d
export const BPF_EXIT_OP = BPF_JMP | BPF_EXIT; // 0x95
export const BPF_JA_OP = BPF_JMP | BPF_JA; // 0x05
export const BPF_GOTOL_OP = BPF_JMP32 | BPF_JA; // 0x06
export const BPF_MAY_GOTO_OP = BPF_JMP | BPF_JCOND; // 0xe5
