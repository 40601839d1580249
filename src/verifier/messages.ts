/**
 * Every message the verifier prints, in one table: the kernel's own text (kernel/bpf/verifier.c
 * and kernel/bpf/btf.c at v6.12), keyed by a name, with printf conversions (`%d`, `%u`, `%s`,
 * `%lld`, `%llx`, `%#llx`, `%x`). Nothing else in src/verifier spells a message: code calls
 * `env.verbose("NAME", ...args)` and the log formats the text for the selected kernel.
 *
 * Where a later kernel words a rule differently, {@link NEWER_MESSAGES} holds the 6.18 text of
 * the same event (`kernel: "6.18"` selects it); a rule whose *behaviour* changed is decided by
 * the code that checks it, not here.
 */

/** Linux 6.12 texts. */
export const MESSAGES = {
  // ---- subprograms, kfunc discovery, func_info (add_subprog_and_kfunc, check_subprogs, check_btf_func)
  CALL_TO_INVALID_DESTINATION: "call to invalid destination",
  TOO_MANY_SUBPROGRAMS: "too many subprograms",
  KFUNC_NOT_GPL: "cannot call kernel function from non-GPL compatible program",
  KFUNC_NOT_FUNCTION: "kernel btf_id %u is not a function",
  KFUNC_UNKNOWN: "calling kernel function %s is not allowed",
  EXC_CB_MAIN_BTF_ID: "invalid btf id for main subprog in func_info",
  EXC_CB_MULTIPLE_TAGS: "multiple exception callback tags for main subprog",
  EXC_CB_NOT_IN_BTF: "exception callback '%s' could not be found in BTF",
  EXC_CB_NOT_GLOBAL: "exception callback '%s' must have global linkage",
  EXC_CB_INSN_OFF_ZERO: "invalid exception callback insn_off in func_info: 0",
  EXC_CB_NOT_IN_FUNC_INFO: "exception callback type id not found in func_info",
  JUMP_OUT_OF_RANGE: "jump out of range from insn %d to %d",
  LAST_INSN_NOT_EXIT: "last insn is not an exit or jmp",
  FUNC_INFO_BAD_TYPE: "invalid type id %d in func info",
  FUNC_INFO_COUNT: "number of funcs in func_info doesn't match number of subprogs",
  FUNC_INFO_LAYOUT: "func_info BTF section doesn't match subprog layout in BPF program",
  // ---- check_cfg
  UNREACHABLE_INSN: "unreachable insn %d",
  JUMP_INTO_LDIMM64: "jump into the middle of ldimm64 insn %d",
  // ---- do_check
  TOO_LARGE: "BPF program is too large. Processed %d insn",
  INFINITE_LOOP: "infinite loop detected at insn %d",
  REG_NOT_READ_OK: "R%d !read_ok",
  FRAME_POINTER_READ_ONLY: "frame pointer is read only",
  UNKNOWN_OPCODE: "unknown opcode %02x",
  INVALID_INSN_IDX: "invalid insn idx %d insn_cnt %d",
  // ---- ALU (check_alu_op, adjust_ptr_min_max_vals)
  DIV_BY_ZERO: "div by zero",
  INVALID_SHIFT: "invalid shift %d",
  PTR_ARITH_32: "R%d 32-bit pointer arithmetic prohibited",
  PTR_ARITH_NULL: "R%d pointer arithmetic on %s prohibited, null-check it first",
  PTR_ARITH_TYPE: "R%d pointer arithmetic on %s prohibited",
  PTR_PTR_OP: "R%d pointer %s pointer prohibited",
  SCALAR_MINUS_PTR: "R%d tried to subtract pointer from scalar",
  STACK_PTR_SUB: "R%d subtraction from stack pointer prohibited",
  PTR_BITWISE: "R%d bitwise operator %s on pointer prohibited",
  PTR_ARITH_OP: "R%d pointer arithmetic with %s operator prohibited",
  PTR_SEXT: "R%d sign-extension part of pointer",
  MATH_BETWEEN_PTR: "math between %s pointer and %lld is not allowed",
  PTR_OFFSET: "%s pointer offset %d is not allowed",
  INVALID_ALU_OPCODE: "invalid BPF_ALU opcode %x",
  MATH_BETWEEN_PTR_REG: "math between %s pointer and register with unbounded min value is not allowed",
  VALUE_OUT_OF_BOUNDS: "value %lld makes %s pointer be out of bounds",
  // ---- memory (check_mem_access and friends)
  INVALID_MEM_ACCESS: "R%d invalid mem access '%s'",
  MISALIGNED_STACK: "misaligned stack access off %s+%d+%d size %d",
  INVALID_STACK_ACCESS: "invalid%s stack R%d off=%d size=%d",
  INVALID_VAR_STACK_ACCESS: "invalid variable-offset%s stack R%d var_off=%s off=%d size=%d",
  UNBOUNDED_VAR_STACK: "invalid unbounded variable-offset%s stack R%d",
  SPILLED_PTR_PARTIAL: "invalid size of register spill",
  INVALID_SIZE_OF_FILL: "invalid size of register fill",
  SPILL_FP_TO_CALLER: "cannot spill pointers to stack into stack frame of the caller",
  KEY_WRITE: "write to change key R%d not allowed",
  TIMER_DIRECT: "bpf_timer cannot be accessed directly by load/store",
  INVALID_MAP_VALUE_ACCESS: "invalid access to map value, value_size=%d off=%d size=%d",
  INVALID_MAP_KEY_ACCESS: "invalid access to map key, key_size=%d off=%d size=%d",
  INVALID_PKT_ACCESS: "invalid access to packet, off=%d size=%d, R%d(id=%d,off=%d,r=%d)",
  INVALID_MEM_REGION_ACCESS: "invalid access to memory, mem_size=%u off=%d size=%d",
  MIN_NEGATIVE: "R%d min value is negative, either use unsigned index or do a if (index >=0) check.",
  MIN_OUTSIDE: "R%d min value is outside of the allowed memory range",
  MAX_OUTSIDE: "R%d max value is outside of the allowed memory range",
  UNBOUNDED_MEM: "R%d unbounded memory access, make sure to bounds check any such access",
  PKT_OUTSIDE: "R%d offset is outside of the packet",
  INVALID_CTX_ACCESS: "invalid bpf_context access off=%d size=%d",
  VAR_PTR_ACCESS: "variable %s access var_off=%s disallowed",
  MODIFIED_CTX: "dereference of modified %s ptr R%d off=%d disallowed",
  NEG_CTX_OFF: "negative offset %s ptr R%d off=%d disallowed",
  SPIN_LOCK_DIRECT: "bpf_spin_lock cannot be accessed directly by load/store",
  MAP_READ_ONLY: "write into map forbidden, value_size=%d off=%d size=%d",
  PKT_WRITE_DENIED: "cannot write into packet",
  RDONLY_MEM_WRITE: "R%d cannot write into %s",
  LD_ABS_TYPE: "BPF_LD_[ABS|IND] instructions not allowed for this program type",
  LD_ABS_CTX: "at the time of BPF_LD_ABS|IND R6 != pointer to skb",
  LD_ABS_REF: "BPF_LD_[ABS|IND] cannot be mixed with socket references",
  LD_ABS_LOCK: "BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region",
  LD_ABS_RCU: "BPF_LD_[ABS|IND] cannot be used inside bpf_rcu_read_lock-ed region",
  ATOMIC_TYPE: "BPF_ATOMIC stores into R%d %s is not allowed",
  // ---- conditional jumps
  INVALID_MAY_GOTO: "invalid may_goto off %d imm %d",
  JMP_SEQ_TOO_COMPLEX: "The sequence of %d jumps is too complex.",
  // ---- ld_imm64
  LDIMM64_BAD_MAP: "fd %d is not pointing to valid bpf_map",
  LDIMM64_NO_FUNC_INFO: "missing btf func_info",
  LDIMM64_CB_NOT_STATIC: "callback function not static",
  INVALID_LD_IMM: "invalid BPF_LD_IMM insn",
  LD_ABS_RESERVED: "BPF_LD_[ABS|IND] uses reserved fields",
  LD_ABS_PREEMPT: "BPF_LD_[ABS|IND] cannot be used inside bpf_preempt_disable-ed region",
  ST_CTX: "BPF_ST stores into R%d %s is not allowed",
  STX_RESERVED: "BPF_STX uses reserved fields",
  CALL_RESERVED: "BPF_CALL uses reserved fields",
  ATOMIC_OPCODE: "BPF_ATOMIC uses invalid atomic opcode %02x",
  ATOMIC_SIZE: "invalid atomic operand size",
  // ---- calls
  CALLS_WHILE_LOCKED: "function calls are not allowed while holding a lock",
  GLOBAL_CALL_LOCKED: "global function calls are not allowed while holding a lock,\nuse static function instead",
  GLOBAL_CALL_PREEMPT: "global function calls are not allowed with preemption disabled,\nuse static function instead",
  GLOBAL_ASSUMED_VALID: "Func#%d ('%s') is global and assumed valid.",
  GLOBAL_BAD_ARGS: "Caller passes invalid args into func#%d ('%s')",
  VALIDATING: "Validating %s() func#%d...",
  CALL_STACK_TOO_DEEP: "the call stack of %d frames is too deep",
  CALL_STACK_TOO_DEEP_CHECK: "the call stack of %d frames is too deep !",
  NO_PROG_AT: "verifier bug. No program starts at insn %d",
  INVALID_FUNC: "invalid func %s#%d",
  HELPER_NOT_ALLOWED: "program of this type cannot use helper %s#%d",
  ARG_TYPE: "R%d type=%s expected=%s",
  ARG_NOT_SCALAR: "R%d is not a scalar",
  ARG_NOT_KNOWN_CONST: "R%d is not a known constant'",
  ARG_ZERO_SIZE: "R%d invalid zero-sized read: u64=[%#llx,%#llx]",
  ARG_UNBOUNDED_SIZE: "R%d unbounded memory access, use 'var &= const' or 'if (var < const)'",
  ARG_NEG_SIZE: "R%d min value is negative, either use unsigned or 'var &= const'",
  INVALID_MAP_PTR: "invalid map_ptr to access map->key",
  SPIN_LOCK_TWO: "Locking two bpf_spin_locks are not allowed",
  SPIN_UNLOCK_NONE: "bpf_spin_unlock without taking a lock",
  SPIN_UNLOCK_DIFF: "bpf_spin_unlock of different lock",
  SPIN_LOCK_NO_FIELD: "%s '%s' has no valid bpf_spin_lock",
  SPIN_LOCK_OFF: "off %lld doesn't point to 'struct bpf_spin_lock' that is at %d",
  SPIN_LOCK_VAR_OFF: "R%d doesn't have constant offset. bpf_spin_lock has to be at the constant offset",
  TIMER_NO_FIELD: "map '%s' has no valid bpf_timer",
  TIMER_VAR_OFF: "R%d doesn't have constant offset. bpf_timer has to be at the constant offset",
  GPL_ONLY_HELPER: "cannot call GPL-restricted function from non-GPL compatible program",
  RELEASE_OFF: "R%d must have zero offset when passed to release func or trusted arg to kfunc",
  RETURN_STACK_PTR: "cannot return stack pointer to the caller",
  KFUNC_NOT_ACQUIRED: "kfunc %s#%d reference has not been acquired before",
  KFUNC_SLEEPABLE: "program must be sleepable to call sleepable kfunc %s",
  KFUNC_EXPECTS_ALLOC: "arg#%d expected pointer to allocated object",
  KFUNC_OBJ_NEW_TYPE: "bpf_obj_new type ID argument must be of a struct",
  KFUNC_ARG_CTX: "arg#%d expected pointer to ctx, but got %s",
  // ---- open-coded iterators and dynptrs (process_iter_arg, process_dynptr_func, stack_slot_obj_get_spi)
  STACK_OBJ_VAR_OFF: "%s has to be at a constant offset",
  STACK_OBJ_BAD_OFF: "cannot pass in %s at an offset=%d",
  ITER_ARG_NOT_STACK: "arg#%d expected pointer to an iterator on stack",
  ITER_EXPECTED_UNINIT: "expected uninitialized iter_%s as arg #%d",
  ITER_EXPECTED_INIT: "expected an initialized iter_%s as arg #%d",
  DYNPTR_ARG_NOT_STACK: "arg#%d expected pointer to stack or const struct bpf_dynptr",
  DYNPTR_EXPECTED_INIT: "Expected an initialized dynptr as arg #%d",
  DYNPTR_OVERWRITE_REF: "cannot overwrite referenced dynptr",
  TIMER_OFF: "off %lld doesn't point to 'struct bpf_timer' that is at %d",
  CALLBACK_NOT_SCALAR: "R0 not a scalar value",
  NESTED_RCU: "nested rcu read lock (kernel function %s)",
  UNMATCHED_RCU: "unmatched rcu read unlock (kernel function %s)",
  UNMATCHED_PREEMPT: "unmatched attempt to enable preemption (kernel function %s)",
  UNMATCHED_IRQ: "unmatched attempt to restore IRQ flags",
  SLEEPABLE_IN_RCU: "sleepable helper %s#%d in rcu_read_lock region",
  SLEEPABLE_IN_PREEMPT: "sleepable helper %s#%d in non-preemptible region",
  REF_NOT_ACQUIRED: "R%d must be referenced when passed to release function",
  KFUNC_ARG_CONST: "R%d must be a known constant",
  JIT_NO_EXCEPTIONS: "JIT does not support calling kfunc %s#%d",
  TAIL_CALL_DEPTH: "tail_calls are not allowed when call stack of previous frames is %d bytes. Too large",
  COMBINED_STACK: "combined stack size of %d calls is %d. Too large",
  // ---- exceptions (spec §6)
  THROW_IN_CALLBACK: "bpf_throw kfunc (insn %d) cannot be called from callback subprog %d",
  CALL_EXC_CB: "insn %d cannot call exception cb directly",
  TAIL_CALL_EXC_CB: "cannot tail call within exception cb",
  EXC_CB_ARGS: "exception cb only supports single integer argument",
  // ---- global function prototypes (btf.c btf_prepare_func_args)
  GLOBAL_NO_BTF: "Global functions need valid BTF",
  EXT_NEEDS_BTF: "Program extension requires BTF",
  GLOBAL_ARG_CTX: "arg#%d expects pointer to ctx",
  GLOBAL_NOT_FUNC: "BTF of func#%d doesn't point to KIND_FUNC",
  GLOBAL_BAD_PROTO: "Invalid type of function %s()",
  GLOBAL_TOO_MANY_ARGS: "Global function %s() with %d > %d args. Buggy compiler.",
  GLOBAL_RET_NOT_SCALAR: "Global function %s() doesn't return scalar. Only those are supported.",
  GLOBAL_ARG_UNSUPPORTED: "Arg#%d type %s in %s() is not supported yet.",
  GLOBAL_ARG_SIZE: "arg#%d reference type('%s %s') size cannot be determined: %d",
  // ---- exits (do_check BPF_EXIT, check_reference_leak, check_return_code, prepare_func_exit)
  SPIN_UNLOCK_MISSING: "bpf_spin_unlock is missing",
  RCU_UNLOCK_MISSING: "bpf_rcu_read_unlock is missing",
  PREEMPT_ENABLE_MISSING: "%d bpf_preempt_enable%s missing",
  UNRELEASED_REFERENCE: "Unreleased reference id=%d alloc_insn=%d",
  // the v6.13+ check_resource_leak texts (6.18; the 6.12.117 target has the first for bpf_throw,
  // from the stable fix "bpf: Fix exception exit lock checking for subprogs")
  RESOURCE_IN_REGION: "%s cannot be used inside %s-ed region",
  RESOURCE_REF_LEAK: "%s would lead to reference leak",
  RET_NOT_KNOWN: "%s the register R%d is not a known value (%s)",
  SUBPROG_RET_NOT_SCALAR: "At subprogram exit the register R%d is not a scalar value (%s)",
  // The parts of verbose_invalid_scalar, printed on one line.
  RET_RANGE: "%s the register %s has%s should have been in [%d, %d]",
  // ---- load-time rules outside the instruction walk
} as const;

/** A message name. */
export type MessageId = keyof typeof MESSAGES;

/**
 * The texts of Linux 6.18 where they differ from 6.12 for the same event (kernel/bpf/verifier.c
 * `check_resource_leak` and friends, btf.c void global functions).
 */
export const NEWER_MESSAGES: Partial<Record<MessageId, string>> = {};

/** Kernel wording to produce. */
export type KernelVersion = "6.12" | "6.18";

/** The message `id` in the wording of `kernel`. */
export function messageText(id: MessageId, kernel: KernelVersion): string {
  if (kernel !== "6.12") {
    const newer = NEWER_MESSAGES[id];
    if (newer !== undefined) return newer;
  }
  return MESSAGES[id];
}

/**
 * printf as the kernel's `vscnprintf` (lib/vsprintf.c) does it for the conversions the messages
 * use: `%d %i %u` (with `ll`/`l` length), `%x %llx`, `%#llx` (the kernel prefixes `0x` even to
 * zero, unlike C), `%02x`, `%s`, `%%`. Arguments are numbers, bigints or strings.
 */
export function formatMessage(fmt: string, args: readonly (number | bigint | string)[]): string {
  let i = 0;
  return fmt.replace(/%(#?)(0?\d*)(ll|l|h|hh)?([diuxXs%])/g, (_m, alt: string, width: string, _len, conv: string) => {
    if (conv === "%") return "%";
    const a = args[i++];
    let out: string;
    switch (conv) {
      case "s":
        out = String(a);
        break;
      case "x":
      case "X": {
        const v = typeof a === "bigint" ? BigInt.asUintN(64, a) : BigInt(a as number) & 0xffffffffffffffffn;
        const body = v.toString(16);
        out = alt ? `0x${body}` : body;
        if (conv === "X") out = out.toUpperCase();
        break;
      }
      default:
        out = typeof a === "bigint" ? a.toString() : String(a);
        break;
    }
    if (width !== "") {
      const pad = width.startsWith("0") ? "0" : " ";
      const n = Number.parseInt(width, 10);
      while (out.length < n) out = pad + out;
    }
    return out;
  });
}
