/**
 * The kfuncs the runtime provides by default, after kernel/bpf/helpers.c: the ones whose effect
 * is fully visible to a program run (RCU read-side markers, which nothing else can observe in a
 * single-threaded runtime, and the pointer casts, which are identities at run time). A runtime
 * object binds each program's kfunc BTF ids to these names at load time; a name missing here is
 * a load error.
 */
import { KfuncRegistry } from "./helpers.ts";

/** A registry with bpf_throw, bpf_rcu_read_lock/unlock, bpf_cast_to_kern_ctx and bpf_rdonly_cast. */
export function defaultKfuncs(): KfuncRegistry {
  return new KfuncRegistry()
    .register({
      name: "bpf_throw",
      args: ["scalar"],
      ret: "void",
      fn: (env, cookie) => {
        env.throwException(cookie);
        return 0n;
      },
    })
    .register({ name: "bpf_rcu_read_lock", args: [], ret: "void", fn: () => 0n })
    .register({ name: "bpf_rcu_read_unlock", args: [], ret: "void", fn: () => 0n })
    .register({ name: "bpf_cast_to_kern_ctx", args: ["ptr-to-ctx"], ret: "integer", fn: (_env, obj) => obj })
    .register({ name: "bpf_rdonly_cast", args: ["anything", "scalar"], ret: "integer", fn: (_env, obj) => obj });
}
