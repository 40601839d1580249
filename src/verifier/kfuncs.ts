/**
 * The kfuncs the verifier model knows, by name, with what `check_kfunc_call` (kernel/bpf/
 * verifier.c v6.12) needs about each: the argument kinds from the kernel's BTF prototype and
 * `__k` / `__ign` / `__alloc` / `__uninit` / `__szk` suffixes, the return kind, and the `KF_*`
 * flags (KF_ACQUIRE, KF_RELEASE, KF_RET_NULL, KF_SLEEPABLE, KF_ITER_NEW/NEXT/DESTROY). Kfuncs are
 * found by name because a program's call carries a BTF id that the loader maps to a name
 * (ProgramSpec.kfuncs).
 */

/** An argument of a kfunc. */
export type KfuncArg =
  | "scalar" // a scalar value
  | "const" // a scalar that must be a known constant (`__k`)
  | "ignore" // not checked (`__ign`)
  | "alloc_obj" // a pointer returned by bpf_obj_new (`__alloc`)
  | "ctx" // the program context
  | "any_ptr" // any pointer (casts)
  | "rb_root" // a bpf_rb_root inside a map value or object
  | "rb_node" // an owning reference to a node
  | "callback" // a BPF callback (the `less` of bpf_rbtree_add)
  | "irq_flag" // a stack slot holding saved IRQ flags (`__irq_flag`)
  | "iter" // an open-coded iterator on the stack (KF_ARG_PTR_TO_ITER, iter.ts)
  | "dynptr_uninit" // a stack slot pair a dynptr is constructed in (`struct bpf_dynptr *`, MEM_UNINIT)
  | "dynptr" // an initialized dynptr (`const struct bpf_dynptr *`, dynptr.ts)
  | "mem_or_null" // a buffer of the size in the next argument, or NULL (`void *`, `__szk`)
  | "mem_size"; // the constant size of the previous buffer argument (`__szk`)

/** What a kfunc returns. */
export type KfuncRet =
  | "void"
  | "scalar"
  | "alloc_obj"
  | "kern_ctx"
  | "untrusted"
  | "rdonly_mem" // read-only memory of `retSize` bytes (an `int *` of bpf_iter_num_next)
  | "dynptr_slice"; // memory of the constant size argument, tied to the dynptr argument

/** One kfunc's verifier-relevant description. */
export interface KfuncDesc {
  readonly args: readonly KfuncArg[];
  readonly ret: KfuncRet;
  /** KF_ACQUIRE: the result is a reference the program must release. */
  readonly acquire?: boolean;
  /** KF_RELEASE: the first argument's reference is released. */
  readonly release?: boolean;
  /** KF_RET_NULL */
  readonly retNull?: boolean;
  readonly sleepable?: boolean;
  /** First modelled kernel that has it (absent: all of them). */
  readonly since?: "6.18";
  /** KF_ITER_NEW / KF_ITER_NEXT / KF_ITER_DESTROY */
  readonly iter?: "new" | "next" | "destroy";
  /** The iterator's type (`bpf_iter_<type>`) and size in bytes. */
  readonly iterType?: string;
  readonly iterSize?: number;
  /** Size of the memory a "rdonly_mem" result points to. */
  readonly retSize?: number;
}

/** The modelled kfuncs. */
export const KFUNCS: ReadonlyMap<string, KfuncDesc> = new Map<string, KfuncDesc>([
  ["bpf_throw", { args: ["scalar"], ret: "void" }],
  ["bpf_rcu_read_lock", { args: [], ret: "void" }],
  ["bpf_rcu_read_unlock", { args: [], ret: "void" }],
  ["bpf_preempt_disable", { args: [], ret: "void" }],
  ["bpf_preempt_enable", { args: [], ret: "void" }],
  ["bpf_obj_new_impl", { args: ["const", "ignore"], ret: "alloc_obj", acquire: true, retNull: true }],
  ["bpf_obj_drop_impl", { args: ["alloc_obj", "ignore"], ret: "void", release: true }],
  ["bpf_cast_to_kern_ctx", { args: ["ctx"], ret: "kern_ctx" }],
  ["bpf_rdonly_cast", { args: ["any_ptr", "const"], ret: "untrusted" }],
  [
    "bpf_iter_num_new",
    { args: ["iter", "scalar", "scalar"], ret: "scalar", iter: "new", iterType: "num", iterSize: 8 },
  ],
  [
    "bpf_iter_num_next",
    { args: ["iter"], ret: "rdonly_mem", retSize: 4, retNull: true, iter: "next", iterType: "num", iterSize: 8 },
  ],
  ["bpf_iter_num_destroy", { args: ["iter"], ret: "void", iter: "destroy", iterType: "num", iterSize: 8 }],
  ["bpf_dynptr_from_skb", { args: ["ctx", "scalar", "dynptr_uninit"], ret: "scalar" }],
  ["bpf_dynptr_from_xdp", { args: ["ctx", "scalar", "dynptr_uninit"], ret: "scalar" }],
  ["bpf_dynptr_slice", { args: ["dynptr", "scalar", "mem_or_null", "mem_size"], ret: "dynptr_slice", retNull: true }],
  ["bpf_dynptr_size", { args: ["dynptr"], ret: "scalar" }],
  ["bpf_local_irq_save", { args: ["irq_flag"], ret: "void", since: "6.18" }],
  ["bpf_local_irq_restore", { args: ["irq_flag"], ret: "void", since: "6.18" }],
  [
    "bpf_rbtree_add_impl",
    { args: ["rb_root", "rb_node", "callback", "ignore", "ignore"], ret: "scalar", release: true },
  ],
]);

/** Graph-API kfuncs, which may be called while holding a bpf_spin_lock (`is_bpf_graph_api_kfunc`). */
export const GRAPH_API_KFUNCS: ReadonlySet<string> = new Set([
  "bpf_list_push_front_impl",
  "bpf_list_push_back_impl",
  "bpf_list_pop_front",
  "bpf_list_pop_back",
  "bpf_rbtree_remove",
  "bpf_rbtree_add_impl",
  "bpf_rbtree_first",
  "bpf_refcount_acquire_impl",
]);
