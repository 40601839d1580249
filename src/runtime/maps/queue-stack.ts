/**
 * BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK, after kernel/bpf/queue_stack_maps.c: a ring of
 * max_entries + 1 slots with head and tail indexes. Values are copied in and out, never pointed
 * to, so they live in plain memory outside the address space.
 *
 * Push on a full map fails with -E2BIG unless the flags say BPF_EXIST, which drops the oldest
 * element (the queue's front, the stack's bottom) to make room. Pop and peek of an empty map
 * zero the output and return -ENOENT.
 */
import { BPF_EXIST, BPF_MAP_TYPE_STACK, BPF_NOEXIST } from "../../object/uapi.ts";
import { E2BIG, EINVAL, ENOENT } from "./errno.ts";
import { BpfMap, type MapInit } from "./map.ts";

/** A queue (FIFO) or stack (LIFO) map. */
export class QueueStackMap extends BpfMap {
  readonly stack: boolean;
  /** max_entries + 1: one slot stays empty to tell full from empty. */
  private readonly size: number;
  private readonly elements: Uint8Array;
  private head = 0;
  private tail = 0;

  constructor(init: MapInit) {
    super(init);
    this.stack = this.type === BPF_MAP_TYPE_STACK;
    this.size = this.maxEntries + 1;
    this.elements = new Uint8Array(this.size * this.valueSize);
  }

  /** Number of elements held. */
  get length(): number {
    return (this.head - this.tail + this.size) % this.size;
  }

  private isEmpty(): boolean {
    return this.head === this.tail;
  }

  private isFull(): boolean {
    return (this.head + 1) % this.size === this.tail;
  }

  /** queue_stack_map_push_elem */
  override pushElem(value: Uint8Array, flags: number): number {
    if (flags & BPF_NOEXIST || flags > BPF_EXIST) return -EINVAL;
    if (this.isFull()) {
      if (!(flags & BPF_EXIST)) return -E2BIG;
      this.tail = (this.tail + 1) % this.size;
    }
    this.elements.set(value.subarray(0, this.valueSize), this.head * this.valueSize);
    this.head = (this.head + 1) % this.size;
    return 0;
  }

  override popElem(out: Uint8Array): number {
    return this.take(out, true);
  }

  override peekElem(out: Uint8Array): number {
    return this.take(out, false);
  }

  /** __queue_map_get / __stack_map_get */
  private take(out: Uint8Array, remove: boolean): number {
    if (this.isEmpty()) {
      out.fill(0, 0, this.valueSize);
      return -ENOENT;
    }
    const index = this.stack ? (this.head - 1 + this.size) % this.size : this.tail;
    out.set(this.elements.subarray(index * this.valueSize, (index + 1) * this.valueSize));
    if (remove) {
      if (this.stack) this.head = index;
      else this.tail = (this.tail + 1) % this.size;
    }
    return 0;
  }

  override updateElem(): number {
    return -EINVAL;
  }

  override deleteElem(): number {
    return -EINVAL;
  }

  /** User side: BPF_MAP_UPDATE_ELEM with a NULL key (bpftool `push`/`enqueue`). */
  push(value: Uint8Array, flags = 0): void {
    this.update(null, value, flags);
  }

  /** User side: BPF_MAP_LOOKUP_AND_DELETE_ELEM with a NULL key (bpftool `pop`/`dequeue`). */
  pop(): Uint8Array | null {
    return this.lookupAndDelete(null);
  }

  /** User side: BPF_MAP_LOOKUP_ELEM with a NULL key (bpftool `peek`). */
  peek(): Uint8Array | null {
    return this.lookup(null);
  }

  protected override sysLookup(): Uint8Array | number {
    const out = new Uint8Array(this.valueSize);
    const r = this.peekElem(out);
    return r === 0 ? out : r;
  }

  protected override sysUpdate(_key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.pushElem(value, flags);
  }

  protected override sysDelete(): number {
    return -EINVAL;
  }

  protected override sysLookupAndDelete(_key: Uint8Array, flags: number): Uint8Array | number {
    if (flags !== 0) return -EINVAL;
    const out = new Uint8Array(this.valueSize);
    const r = this.popElem(out);
    return r === 0 ? out : r;
  }

  protected override sysNextKey(): Uint8Array | number {
    return -EINVAL;
  }
}
