/**
 * Map helpers, after kernel/bpf/helpers.c (bpf_map_*_elem), kernel/bpf/bpf_iter.c
 * (bpf_for_each_map_elem), kernel/bpf/ringbuf.c (bpf_ringbuf_*) and the tail-call instruction
 * of kernel/bpf/core.c. Each forwards to the map's program-side op after copying the key or
 * value out of BPF memory, as the kernel's `map->ops->map_*` receive kernel pointers.
 */
import { EINVAL, ENOTSUPP } from "../errno.ts";
import type { HelperSpec } from "../helpers.ts";
import { FdArrayMap, RingbufMap } from "../maps/index.ts";
import { HelperArgError, mapArg, readMem, ret, runtimeOf, sizeArg, u32, writeMem } from "../program-runtime.ts";

/** bpf_map_lookup_elem_proto: the value's address (this CPU's copy), or NULL. */
export const bpfMapLookupElemProto: HelperSpec = {
  name: "bpf_map_lookup_elem",
  args: ["const-map-ptr", "ptr-to-map-key"],
  ret: "ptr-to-map-value-or-null",
  fn: (env, mapPtr, keyPtr) => {
    const map = mapArg(env, mapPtr, "bpf_map_lookup_elem");
    const key = readMem(env, keyPtr, map.keySize);
    return map.lookupElemPtr(key, runtimeOf(env, "bpf_map_lookup_elem").host.cpu);
  },
};

/** bpf_map_update_elem_proto: 0 or -errno (BPF_ANY / BPF_NOEXIST / BPF_EXIST | BPF_F_LOCK). */
export const bpfMapUpdateElemProto: HelperSpec = {
  name: "bpf_map_update_elem",
  args: ["const-map-ptr", "ptr-to-map-key", "ptr-to-map-value", "anything"],
  ret: "integer",
  fn: (env, mapPtr, keyPtr, valuePtr, flags) => {
    const map = mapArg(env, mapPtr, "bpf_map_update_elem");
    const key = readMem(env, keyPtr, map.keySize);
    const value = readMem(env, valuePtr, map.valueSize);
    const f = BigInt.asUintN(64, flags);
    if (f > 0xffffffffn) return ret(-EINVAL);
    return ret(map.updateElem(key, value, Number(f), runtimeOf(env, "bpf_map_update_elem").host.cpu));
  },
};

/** bpf_map_delete_elem_proto */
export const bpfMapDeleteElemProto: HelperSpec = {
  name: "bpf_map_delete_elem",
  args: ["const-map-ptr", "ptr-to-map-key"],
  ret: "integer",
  fn: (env, mapPtr, keyPtr) => {
    const map = mapArg(env, mapPtr, "bpf_map_delete_elem");
    return ret(map.deleteElem(readMem(env, keyPtr, map.keySize), runtimeOf(env, "bpf_map_delete_elem").host.cpu));
  },
};

/** bpf_map_push_elem_proto (queue, stack): 0, -E2BIG when full without BPF_EXIST, -EINVAL. */
export const bpfMapPushElemProto: HelperSpec = {
  name: "bpf_map_push_elem",
  args: ["const-map-ptr", "ptr-to-map-value", "anything"],
  ret: "integer",
  fn: (env, mapPtr, valuePtr, flags) => {
    const map = mapArg(env, mapPtr, "bpf_map_push_elem");
    const f = BigInt.asUintN(64, flags);
    if (f > 0xffffffffn) return ret(-EINVAL);
    return ret(
      map.pushElem(readMem(env, valuePtr, map.valueSize), Number(f), runtimeOf(env, "bpf_map_push_elem").host.cpu),
    );
  },
};

function popPeek(name: string, peek: boolean): HelperSpec {
  return {
    name,
    args: ["const-map-ptr", "ptr-to-uninit-mem"],
    ret: "integer",
    fn: (env, mapPtr, valuePtr) => {
      const map = mapArg(env, mapPtr, name);
      // Check the destination first: the kernel writes it even when the map is empty.
      env.space.bytesAt(valuePtr, map.valueSize, true);
      const out = new Uint8Array(map.valueSize);
      const cpu = runtimeOf(env, name).host.cpu;
      const r = peek ? map.peekElem(out, cpu) : map.popElem(out, cpu);
      if (r !== -ENOTSUPP) writeMem(env, valuePtr, out);
      return ret(r);
    },
  };
}

/** bpf_map_pop_elem_proto: removes the head (queue) or top (stack) into the buffer; -ENOENT when empty. */
export const bpfMapPopElemProto = popPeek("bpf_map_pop_elem", false);
/** bpf_map_peek_elem_proto */
export const bpfMapPeekElemProto = popPeek("bpf_map_peek_elem", true);

/** bpf_map_lookup_percpu_elem_proto: CPU `cpu`'s copy of a per-CPU map value, or NULL. */
export const bpfMapLookupPercpuElemProto: HelperSpec = {
  name: "bpf_map_lookup_percpu_elem",
  args: ["const-map-ptr", "ptr-to-map-key", "anything"],
  ret: "ptr-to-map-value-or-null",
  fn: (env, mapPtr, keyPtr, cpu) => {
    const map = mapArg(env, mapPtr, "bpf_map_lookup_percpu_elem");
    const key = readMem(env, keyPtr, map.keySize);
    const c = u32(cpu);
    if (c >= map.nrCpus) return 0n;
    return map.lookupElemPtr(key, c);
  },
};

/**
 * bpf_for_each_map_elem_proto: calls the BPF callback (map, key, value, ctx) for each element
 * until it returns non-zero; returns the number of elements visited, or -EINVAL for flags.
 */
export const bpfForEachMapElemProto: HelperSpec = {
  name: "bpf_for_each_map_elem",
  args: ["const-map-ptr", "ptr-to-func", "ptr-to-stack-or-null", "anything"],
  ret: "integer",
  fn: (env, mapPtr, fn, cbCtx, flags) => {
    const map = mapArg(env, mapPtr, "bpf_for_each_map_elem");
    if (flags !== 0n) return ret(-EINVAL);
    const cpu = runtimeOf(env, "bpf_for_each_map_elem").host.cpu;
    const n = map.forEachElem(
      0,
      cpu,
      (keyAddr, valueAddr) => env.callFunction(fn, [mapPtr, keyAddr, valueAddr, cbCtx]) !== 0n,
    );
    return ret(n);
  },
};

/**
 * bpf_tail_call: asks the engine to continue in the program stored at `index` of the prog
 * array; an index out of range or an empty slot makes the call fall through (the engine keeps
 * r0 and enforces MAX_TAIL_CALL_CNT).
 */
export const bpfTailCallProto: HelperSpec = {
  name: "bpf_tail_call",
  args: ["ptr-to-ctx", "const-map-ptr", "anything"],
  ret: "void",
  fn: (env, _ctx, mapPtr, index) => {
    const map = mapArg(env, mapPtr, "bpf_tail_call");
    if (!(map instanceof FdArrayMap) || map.innerMeta !== null) {
      throw new HelperArgError("bpf_tail_call", `map ${map.name} is not a prog_array`);
    }
    env.requestTailCall(map.refAt(u32(index)));
    return 0n;
  },
};

function ringbufArg(env: Parameters<HelperSpec["fn"]>[0], addr: bigint, helper: string): RingbufMap {
  const map = mapArg(env, addr, helper);
  if (!(map instanceof RingbufMap)) throw new HelperArgError(helper, `map ${map.name} is not a ringbuf`);
  return map;
}

/** bpf_ringbuf_output_proto: copies `size` bytes into a new record; 0, -EINVAL or -EAGAIN. */
export const bpfRingbufOutputProto: HelperSpec = {
  name: "bpf_ringbuf_output",
  args: ["const-map-ptr", "ptr-to-mem", "const-size-or-zero", "anything"],
  ret: "integer",
  fn: (env, mapPtr, data, size, flags) => {
    const rb = ringbufArg(env, mapPtr, "bpf_ringbuf_output");
    const f = BigInt.asUintN(64, flags);
    if (f > 0xffffffffn) return ret(-EINVAL);
    return ret(rb.output(readMem(env, data, sizeArg(size, "bpf_ringbuf_output")), Number(f)));
  },
};

/** bpf_ringbuf_reserve_proto: the address of a `size`-byte record, or NULL. */
export const bpfRingbufReserveProto: HelperSpec = {
  name: "bpf_ringbuf_reserve",
  args: ["const-map-ptr", "const-alloc-size-or-zero", "anything"],
  ret: "ptr-to-alloc-mem-or-null",
  fn: (env, mapPtr, size, flags) => {
    const rb = ringbufArg(env, mapPtr, "bpf_ringbuf_reserve");
    const s = BigInt.asUintN(64, size);
    const f = BigInt.asUintN(64, flags);
    if (s > 0xffffffffn || f !== 0n) return 0n;
    return rb.reserve(Number(s), 0);
  },
};

function commit(name: string, discard: boolean): HelperSpec {
  return {
    name,
    args: ["ptr-to-alloc-mem", "anything"],
    ret: "void",
    fn: (env, sample, flags) => {
      const rb = runtimeOf(env, name).ringbufOf(sample);
      if (rb === null) throw new HelperArgError(name, `0x${sample.toString(16)} is not a ring buffer record`);
      const f = Number(BigInt.asUintN(32, flags));
      if (discard) rb.discard(sample, f);
      else rb.submit(sample, f);
      return 0n;
    },
  };
}

/** bpf_ringbuf_submit_proto: publishes a reserved record. */
export const bpfRingbufSubmitProto = commit("bpf_ringbuf_submit", false);
/** bpf_ringbuf_discard_proto: drops a reserved record (the consumer skips it). */
export const bpfRingbufDiscardProto = commit("bpf_ringbuf_discard", true);

/** bpf_ringbuf_query_proto: BPF_RB_AVAIL_DATA, RING_SIZE, CONS_POS or PROD_POS; 0 otherwise. */
export const bpfRingbufQueryProto: HelperSpec = {
  name: "bpf_ringbuf_query",
  args: ["const-map-ptr", "anything"],
  ret: "integer",
  fn: (env, mapPtr, flags) => {
    const rb = ringbufArg(env, mapPtr, "bpf_ringbuf_query");
    const f = BigInt.asUintN(64, flags);
    return f > 3n ? 0n : rb.query(Number(f));
  },
};
