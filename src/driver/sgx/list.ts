/**
 * struct list_head for the driver's lists (include/linux/list.h): O(1) insertion at either end and removal of a
 * known node, with `list_empty(&node)` telling whether an entry is on a list at all. The SGX code relies on that
 * last property: sgx_unmark_page_reclaimable() reads "tracked but off the list" as "the reclaimer holds it".
 */

/** A node embedded in an entry (its `list` member). */
export class ListNode<T> {
  prev: ListNode<T> | null = null;
  next: ListNode<T> | null = null;
  /** The list the node is on, or null (list_empty(&entry->list) after list_del_init()). */
  list: List<T> | null = null;

  constructor(readonly entry: T) {}

  /** list_empty(&node): not on any list. */
  get detached(): boolean {
    return this.list === null;
  }
}

/** A list head. Iteration is head → tail. */
export class List<T> {
  private head: ListNode<T> | null = null;
  private tail: ListNode<T> | null = null;
  private n = 0;

  get length(): number {
    return this.n;
  }

  /** list_empty(). */
  get empty(): boolean {
    return this.n === 0;
  }

  /** list_first_entry(), or undefined when empty. */
  first(): T | undefined {
    return this.head?.entry;
  }

  /** list_add(): at the head. */
  add(node: ListNode<T>): void {
    if (node.list) throw new Error('list_add of a node that is already on a list');
    node.list = this;
    node.prev = null;
    node.next = this.head;
    if (this.head) this.head.prev = node;
    else this.tail = node;
    this.head = node;
    this.n++;
  }

  /** list_add_tail(). */
  addTail(node: ListNode<T>): void {
    if (node.list) throw new Error('list_add_tail of a node that is already on a list');
    node.list = this;
    node.next = null;
    node.prev = this.tail;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.n++;
  }

  /** list_del_init(). */
  del(node: ListNode<T>): void {
    if (node.list !== this) throw new Error('list_del of a node that is not on this list');
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = null;
    node.list = null;
    this.n--;
  }

  /** list_move(): to the head of this list (from whatever list it is on). */
  move(node: ListNode<T>): void {
    node.list?.del(node);
    this.add(node);
  }

  /** list_move_tail(). */
  moveTail(node: ListNode<T>): void {
    node.list?.del(node);
    this.addTail(node);
  }

  *[Symbol.iterator](): IterableIterator<T> {
    // The next node is read before yielding, so the consumer may delete the entry it was handed.
    for (let x = this.head; x; ) {
      const next = x.next;
      yield x.entry;
      x = next;
    }
  }

  /** The entries head → tail. */
  toArray(): T[] {
    return [...this];
  }
}
