/**
 * The LRU of BPF_MAP_TYPE_LRU_HASH and LRU_PERCPU_HASH, modelled on kernel/bpf/bpf_lru_list.c
 * list for list and step for step, because which keys an LRU map evicts is observable and
 * programs (and tests) depend on it.
 *
 * Common LRU (the default): one global list set and a local list pair per CPU.
 *
 *   global:  active   <- nodes whose ref bit was seen set by a rotation
 *            inactive <- eviction candidates, shrunk from the tail
 *            free     <- never used or deleted nodes
 *   per CPU: free     <- a batch of `targetFree` nodes taken from the global lists at once
 *            pending  <- nodes handed out on this CPU since the last batch (newest at head)
 *
 * bpf_lru_pop_free takes from the local free list; when it is empty it flushes the pending list
 * into the global lists, rotates them, and refills the local free list with up to targetFree
 * nodes: first from the global free list, then by shrinking the inactive list (evicting elements
 * whose ref bit is clear), then, if nothing could be shrunk, by evicting one node regardless of
 * its ref bit. If that still yields nothing it steals from the CPUs' local free and pending lists.
 *
 * Per-CPU LRU (BPF_F_NO_COMMON_LRU): one list set per CPU, shrunk 4 nodes at a time, and a node
 * only ever serves the CPU it was populated for.
 *
 * Lists are intrusive and circular like `struct list_head`, because the algorithm's cursor
 * (`next_inactive_rotation`) can rest on the list head itself.
 */

/** A `struct list_head`: list heads and nodes alike. */
class ListHead {
  prev: ListHead;
  next: ListHead;
  constructor() {
    this.prev = this;
    this.next = this;
  }
}

/** enum bpf_lru_list_type. The first two are counted (NR_BPF_LRU_LIST_COUNT). */
const T_ACTIVE = 0;
const T_INACTIVE = 1;
const T_FREE = 2;
const T_LOCAL_FREE = 3;
const T_LOCAL_PENDING = 4;
type LruListType = 0 | 1 | 2 | 3 | 4;

/** LOCAL_FREE_TARGET and LOCAL_NR_SCANS. */
const LOCAL_FREE_TARGET = 128;
/** PERCPU_FREE_TARGET and PERCPU_NR_SCANS. */
const PERCPU_FREE_TARGET = 4;

/** A `struct bpf_lru_node`; `owner` is the hash element using it (null while free). */
export class LruNode<T> extends ListHead {
  type: LruListType;
  ref: number;
  cpu: number;
  owner: T | null;
  constructor() {
    super();
    this.type = T_FREE;
    this.ref = 0;
    this.cpu = 0;
    this.owner = null;
  }
}

function listAdd(n: ListHead, head: ListHead): void {
  n.next = head.next;
  n.prev = head;
  head.next.prev = n;
  head.next = n;
}

function listDel(n: ListHead): void {
  n.prev.next = n.next;
  n.next.prev = n.prev;
  n.next = n;
  n.prev = n;
}

function listMove(n: ListHead, head: ListHead): void {
  listDel(n);
  listAdd(n, head);
}

/** A `struct bpf_lru_list`: active, inactive and free lists with counts and the rotation cursor. */
class LruList {
  readonly lists: readonly ListHead[] = [new ListHead(), new ListHead(), new ListHead()];
  readonly counts: number[] = [0, 0];
  nextInactiveRotation: ListHead;
  constructor() {
    this.nextInactiveRotation = this.lists[T_INACTIVE];
  }
}

/** A `struct bpf_lru_locallist`. */
class LocalList {
  readonly free = new ListHead();
  readonly pending = new ListHead();
  nextSteal: number;
  constructor(cpu: number) {
    this.nextSteal = cpu;
  }
}

/**
 * Called to evict a node's element from the hash table (htab_lru_map_delete_node); returns false
 * when the element is no longer linked, and the node is then left where it is.
 */
export type DelFromHtab<T> = (node: LruNode<T>) => boolean;

/** A `struct bpf_lru` with its nodes preallocated (bpf_lru_populate). */
export class BpfLru<T> {
  readonly percpu: boolean;
  readonly nrCpus: number;
  readonly nrScans: number;
  /** Batch size of a local free list refill (`lru->target_free`). */
  readonly targetFree: number;
  private readonly delFromHtab: DelFromHtab<T>;
  /** Common LRU: the global lists; per-CPU LRU: one per CPU. */
  private readonly lruLists: LruList[];
  private readonly localLists: LocalList[];

  constructor(
    nrElems: number,
    nrCpus: number,
    percpu: boolean,
    freeTarget: "scaled" | "fixed",
    delFromHtab: DelFromHtab<T>,
  ) {
    this.percpu = percpu;
    this.nrCpus = nrCpus;
    this.delFromHtab = delFromHtab;
    this.nrScans = percpu ? PERCPU_FREE_TARGET : LOCAL_FREE_TARGET;
    this.lruLists = [];
    this.localLists = [];
    if (percpu) {
      for (let cpu = 0; cpu < nrCpus; cpu++) this.lruLists.push(new LruList());
      const perCpu = Math.floor(nrElems / nrCpus);
      for (let i = 0; i < nrElems; i++) {
        const node = new LruNode<T>();
        node.cpu = Math.min(Math.floor(i / perCpu), nrCpus - 1);
        listAdd(node, this.lruLists[node.cpu].lists[T_FREE]);
      }
      this.targetFree = PERCPU_FREE_TARGET;
    } else {
      this.lruLists.push(new LruList());
      for (let cpu = 0; cpu < nrCpus; cpu++) this.localLists.push(new LocalList(cpu));
      for (let i = 0; i < nrElems; i++) listAdd(new LruNode<T>(), this.lruLists[0].lists[T_FREE]);
      this.targetFree =
        freeTarget === "fixed"
          ? LOCAL_FREE_TARGET
          : Math.min(Math.max(Math.floor(Math.floor(nrElems / nrCpus) / 2), 1), LOCAL_FREE_TARGET);
    }
  }

  /** bpf_lru_node_set_ref: a lookup or replacing update marks the node recently used. */
  static setRef<T>(node: LruNode<T>): void {
    node.ref = 1;
  }

  /** bpf_lru_pop_free on `cpu`: a free node (possibly evicting an element for it), or null. */
  popFree(cpu: number): LruNode<T> | null {
    return this.percpu ? this.percpuPopFree(cpu) : this.commonPopFree(cpu);
  }

  /** bpf_lru_push_free: gives a node back (element deleted, replaced, or update failed). */
  pushFree(node: LruNode<T>): void {
    node.owner = null;
    if (this.percpu) {
      this.move(this.lruLists[node.cpu], node, T_FREE);
      return;
    }
    if (node.type === T_FREE || node.type === T_LOCAL_FREE) return;
    if (node.type === T_LOCAL_PENDING) {
      node.type = T_LOCAL_FREE;
      node.ref = 0;
      listMove(node, this.localLists[node.cpu].free);
      return;
    }
    this.move(this.lruLists[0], node, T_FREE);
  }

  // ---- list primitives ----

  /** __bpf_lru_node_move_to_free */
  private moveToFree(l: LruList, node: LruNode<T>, freeList: ListHead, type: LruListType): void {
    if (node === l.nextInactiveRotation) l.nextInactiveRotation = l.nextInactiveRotation.prev;
    if (node.type < 2) l.counts[node.type]--;
    node.type = type;
    listMove(node, freeList);
  }

  /** __bpf_lru_node_move_in: from a local list into the global lists. */
  private moveIn(l: LruList, node: LruNode<T>, type: LruListType): void {
    if (type < 2) l.counts[type]++;
    node.type = type;
    node.ref = 0;
    listMove(node, l.lists[type]);
  }

  /** __bpf_lru_node_move: between (or within) active, inactive and free; clears the ref bit. */
  private move(l: LruList, node: LruNode<T>, type: LruListType): void {
    if (node.type !== type) {
      if (node.type < 2) l.counts[node.type]--;
      if (type < 2) l.counts[type]++;
      node.type = type;
    }
    node.ref = 0;
    if (node === l.nextInactiveRotation) l.nextInactiveRotation = l.nextInactiveRotation.prev;
    listMove(node, l.lists[type]);
  }

  // ---- rotation and shrinking ----

  /** __bpf_lru_list_rotate_active: from the tail, referenced nodes back to the head, others to inactive. */
  private rotateActive(l: LruList): void {
    const active = l.lists[T_ACTIVE];
    const first = active.next;
    let i = 0;
    for (let n = active.prev; n !== active; ) {
      const prev = n.prev;
      const node = n as LruNode<T>;
      this.move(l, node, node.ref ? T_ACTIVE : T_INACTIVE);
      if (++i === this.nrScans || node === first) break;
      n = prev;
    }
  }

  /** __bpf_lru_list_rotate_inactive: from the cursor towards the head, referenced nodes to active. */
  private rotateInactive(l: LruList): void {
    const inactive = l.lists[T_INACTIVE];
    if (inactive.next === inactive) return;
    let last = l.nextInactiveRotation.next;
    if (last === inactive) last = last.next;
    let cur = l.nextInactiveRotation;
    let next: ListHead = inactive;
    let i = 0;
    while (i < this.nrScans) {
      if (cur === inactive) {
        cur = cur.prev;
        continue;
      }
      const node = cur as LruNode<T>;
      next = cur.prev;
      if (node.ref) this.move(l, node, T_ACTIVE);
      if (cur === last) break;
      cur = next;
      i++;
    }
    l.nextInactiveRotation = next;
  }

  /** __bpf_lru_list_rotate */
  private rotate(l: LruList): void {
    if (l.counts[T_INACTIVE] < l.counts[T_ACTIVE]) this.rotateActive(l);
    this.rotateInactive(l);
  }

  /** __bpf_lru_list_shrink_inactive: evict unreferenced nodes from the inactive tail. */
  private shrinkInactive(l: LruList, target: number, freeList: ListHead, type: LruListType): number {
    const inactive = l.lists[T_INACTIVE];
    let shrunk = 0;
    let i = 0;
    for (let n = inactive.prev; n !== inactive; ) {
      const prev = n.prev;
      const node = n as LruNode<T>;
      if (node.ref) {
        this.move(l, node, T_ACTIVE);
      } else if (this.delFromHtab(node)) {
        this.moveToFree(l, node, freeList, type);
        if (++shrunk === target) break;
      }
      if (++i === this.nrScans) break;
      n = prev;
    }
    return shrunk;
  }

  /** __bpf_lru_list_shrink: shrink, or else force-evict one node from inactive (else active). */
  private shrink(l: LruList, target: number, freeList: ListHead, type: LruListType): number {
    const shrunk = this.shrinkInactive(l, target, freeList, type);
    if (shrunk) return shrunk;
    const inactive = l.lists[T_INACTIVE];
    const force = inactive.next !== inactive ? inactive : l.lists[T_ACTIVE];
    for (let n = force.prev; n !== force; ) {
      const prev = n.prev;
      const node = n as LruNode<T>;
      if (this.delFromHtab(node)) {
        this.moveToFree(l, node, freeList, type);
        return 1;
      }
      n = prev;
    }
    return 0;
  }

  // ---- common LRU ----

  /** __local_list_flush: pending nodes join the global lists, referenced ones as active. */
  private localFlush(l: LruList, loc: LocalList): void {
    for (let n = loc.pending.prev; n !== loc.pending; ) {
      const prev = n.prev;
      const node = n as LruNode<T>;
      this.moveIn(l, node, node.ref ? T_ACTIVE : T_INACTIVE);
      n = prev;
    }
  }

  /** bpf_lru_list_pop_free_to_local: refill `loc`'s free list with up to targetFree nodes. */
  private popFreeToLocal(loc: LocalList): void {
    const l = this.lruLists[0];
    this.localFlush(l, loc);
    this.rotate(l);
    const free = l.lists[T_FREE];
    let nfree = 0;
    for (let n = free.next; n !== free; ) {
      const next = n.next;
      this.moveToFree(l, n as LruNode<T>, loc.free, T_LOCAL_FREE);
      if (++nfree === this.targetFree) break;
      n = next;
    }
    if (nfree < this.targetFree) this.shrink(l, this.targetFree - nfree, loc.free, T_LOCAL_FREE);
  }

  private localPopFree(loc: LocalList): LruNode<T> | null {
    const n = loc.free.next;
    if (n === loc.free) return null;
    listDel(n);
    return n as LruNode<T>;
  }

  /** __local_list_pop_pending: steal the oldest pending node, unreferenced ones first. */
  private localPopPending(loc: LocalList): LruNode<T> | null {
    for (const force of [false, true]) {
      for (let n = loc.pending.prev; n !== loc.pending; n = n.prev) {
        const node = n as LruNode<T>;
        if ((!node.ref || force) && this.delFromHtab(node)) {
          listDel(node);
          return node;
        }
      }
    }
    return null;
  }

  /** __local_list_add_pending */
  private addPending(loc: LocalList, cpu: number, node: LruNode<T>): void {
    node.cpu = cpu;
    node.type = T_LOCAL_PENDING;
    node.ref = 0;
    listAdd(node, loc.pending);
  }

  /** bpf_common_lru_pop_free */
  private commonPopFree(cpu: number): LruNode<T> | null {
    const loc = this.localLists[cpu];
    let node = this.localPopFree(loc);
    if (node === null) {
      this.popFreeToLocal(loc);
      node = this.localPopFree(loc);
    }
    if (node !== null) {
      this.addPending(loc, cpu, node);
      return node;
    }
    const first = loc.nextSteal;
    let steal = first;
    do {
      const victim = this.localLists[steal];
      node = this.localPopFree(victim) ?? this.localPopPending(victim);
      steal = (steal + 1) % this.nrCpus;
    } while (node === null && steal !== first);
    loc.nextSteal = steal;
    if (node === null) return null;
    this.addPending(loc, cpu, node);
    return node;
  }

  // ---- per-CPU LRU ----

  /** bpf_percpu_lru_pop_free */
  private percpuPopFree(cpu: number): LruNode<T> | null {
    const l = this.lruLists[cpu];
    this.rotate(l);
    const free = l.lists[T_FREE];
    if (free.next === free) this.shrink(l, PERCPU_FREE_TARGET, free, T_FREE);
    if (free.next === free) return null;
    const node = free.next as LruNode<T>;
    node.ref = 0;
    this.move(l, node, T_INACTIVE);
    return node;
  }
}
