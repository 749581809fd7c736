/**
 * Wait queues (include/linux/wait.h) and the Block outcome a kernel operation returns instead of sleeping.
 * Kernel code here never suspends: a syscall that must wait returns `block(...)`; the scheduler parks the
 * task on the queues and re-runs the syscall when one of them is woken, like the prepare_to_wait() /
 * condition / schedule() loop. Waking order is the order of waiting (FIFO), so it is deterministic.
 */
import { ERESTARTSYS, type Errno } from '../abi/index';

/** Something parked on a queue: the scheduler's wake-up callback for one task. */
export interface Waiter {
  wake(): void;
}

export class WaitQueue {
  private readonly waiters = new Set<Waiter>();

  constructor(readonly name = 'wq') {}

  add(w: Waiter): void {
    this.waiters.add(w);
  }

  remove(w: Waiter): void {
    this.waiters.delete(w);
  }

  get length(): number {
    return this.waiters.size;
  }

  /** wake_up_nr(): wakes up to `n` waiters in FIFO order. @returns how many were woken. */
  wake(n = Number.POSITIVE_INFINITY): number {
    let woken = 0;
    for (const w of [...this.waiters]) {
      if (woken >= n) break;
      this.waiters.delete(w);
      w.wake();
      woken++;
    }
    return woken;
  }

  /** wake_up_all(). */
  wakeAll(): number {
    return this.wake();
  }
}

/** "Put me to sleep on these queues and run me again when woken." */
export interface Block {
  readonly kind: 'block';
  readonly queues: readonly WaitQueue[];
  /**
   * What the syscall returns if a signal interrupts the sleep: ERESTARTSYS (restart when the handler has
   * SA_RESTART or there is no handler, else EINTR), ERESTARTNOHAND, or EINTR.
   */
  readonly intr: Errno;
  /** Absolute virtual time (cycles) at which to wake with a timeout, if any. */
  readonly deadline?: number;
  /** TASK_KILLABLE/TASK_UNINTERRUPTIBLE: only fatal signals end the sleep. */
  readonly uninterruptible?: boolean;
}

export function block(
  queues: WaitQueue | readonly WaitQueue[],
  opts: { intr?: Errno; deadline?: number; uninterruptible?: boolean } = {},
): Block {
  return {
    kind: 'block',
    queues: Array.isArray(queues) ? queues : [queues as WaitQueue],
    intr: opts.intr ?? ERESTARTSYS,
    deadline: opts.deadline,
    uninterruptible: opts.uninterruptible,
  };
}

export function isBlock(x: unknown): x is Block {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'block';
}
