/**
 * The kfuncs the runtime provides by default, after kernel/bpf/helpers.c: the ones whose effect
 * is fully visible to a program run (RCU read-side and preemption markers, which nothing else can
 * observe in a single-threaded runtime; the pointer casts, which are identities at run time; and
 * the local-object allocator, given the object's BTF). A runtime object binds each program's
 * kfunc BTF ids to these names at load time; a name missing here is a load error.
 */
import type { Btf } from "../btf/btf.ts";
import { TsbpfError } from "../errors.ts";
import { KfuncRegistry } from "./helpers.ts";
import { KERNEL_KFUNC_BTF_IDS } from "./kernel-btf/index.ts";
import type { MemoryRegion } from "./memory.ts";

/**
 * bpf_obj_new_impl / bpf_obj_drop_impl over the object's BTF. In the kernel the verifier's
 * do_misc_fixups rewrites `bpf_obj_new_impl(local_type_id, NULL)` to pass the type's size (and
 * its btf_record) because the type id only means something in the program's BTF; the runtime,
 * which runs the submitted instructions, resolves the same id in the same BTF at the call. Each
 * object is a zeroed region of the type's size (bpf_mem_alloc zeroes it); dropping it unmaps the
 * region, so a use after bpf_obj_drop faults instead of reading stale memory.
 */
function registerLocalObjects(reg: KfuncRegistry, btf: Btf): void {
  const live = new Map<bigint, MemoryRegion>();
  reg
    .register({
      name: "bpf_obj_new_impl",
      args: ["scalar", "anything"],
      ret: "integer",
      fn: (env, typeId) => {
        const id = Number(BigInt.asUintN(32, typeId));
        if (id === 0 || id >= btf.types.length) throw new TsbpfError(`bpf_obj_new_impl: no BTF type ${id}`);
        const t = btf.resolve(id);
        if (t.kind !== "struct") throw new TsbpfError(`bpf_obj_new_impl: BTF type ${id} is not a struct`);
        const region = env.space.map("mem", new Uint8Array(t.size), { name: `obj_new:${t.name || "anon"}` });
        const address = region.address();
        live.set(address, region);
        return address;
      },
    })
    .register({
      name: "bpf_obj_drop_impl",
      args: ["anything", "anything"],
      ret: "void",
      fn: (env, ptr) => {
        const region = live.get(ptr);
        if (region === undefined) throw new TsbpfError(`bpf_obj_drop_impl: 0x${ptr.toString(16)} is not a live object`);
        live.delete(ptr);
        region.bytes = new Uint8Array(0);
        region.view = new DataView(region.bytes.buffer);
        env.space.unmap(region);
        return 0n;
      },
    });
}

/**
 * A registry with bpf_throw, bpf_rcu_read_lock/unlock, bpf_preempt_disable/enable,
 * bpf_cast_to_kern_ctx and bpf_rdonly_cast, plus bpf_obj_new_impl/bpf_obj_drop_impl when the
 * object's BTF is given.
 */
export function defaultKfuncs(objectBtf?: Btf | null): KfuncRegistry {
  const reg = new KfuncRegistry()
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
    .register({ name: "bpf_rdonly_cast", args: ["anything", "scalar"], ret: "integer", fn: (_env, obj) => obj })
    .register({ name: "bpf_preempt_disable", args: [], ret: "void", fn: () => 0n })
    .register({ name: "bpf_preempt_enable", args: [], ret: "void", fn: () => 0n });
  if (objectBtf) registerLocalObjects(reg, objectBtf);
  return reg;
}

/**
 * {@link defaultKfuncs} with each kfunc bound to its BTF id in the modelled kernel's vmlinux
 * (Linux 6.12.117: bpf_throw is 66092), for raw bytecode, where `call kfunc ID` names a kfunc
 * the way the kernel resolves it — by its id in the running kernel's BTF.
 */
export function kernelKfuncs(): KfuncRegistry {
  const reg = defaultKfuncs();
  for (const [name, id] of KERNEL_KFUNC_BTF_IDS) if (reg.get(name) !== undefined) reg.bindId(id, name);
  return reg;
}
