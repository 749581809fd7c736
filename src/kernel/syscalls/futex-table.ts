/**
 * Futex hash buckets (kernel/futex/core.c get_futex_key()): waiters keyed by (mm, address) for private
 * futexes and for private anonymous memory, by (shared object, page, offset) for shared mappings, so that
 * processes sharing memory after fork() can wake each other.
 */
import { WaitQueue } from '../sched/wait-queue';

export class FutexTable {
  private readonly buckets = new Map<string, WaitQueue>();

  queue(key: string): WaitQueue {
    let q = this.buckets.get(key);
    if (!q) {
      q = new WaitQueue(`futex ${key}`);
      this.buckets.set(key, q);
    }
    return q;
  }

  /** Wakes up to `n` waiters on `key`. @returns how many. */
  wake(key: string, n: number): number {
    const q = this.buckets.get(key);
    if (!q) return 0;
    const woken = q.wake(n);
    if (q.length === 0) this.buckets.delete(key);
    return woken;
  }
}
