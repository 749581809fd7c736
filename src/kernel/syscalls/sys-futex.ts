/** futex(2) FUTEX_WAIT and FUTEX_WAKE (kernel/futex/syscalls.c, waitwake.c). */
import { PAGE_SIZE } from '../../hw/index';
import {
  EAGAIN,
  EINVAL,
  ENOSYS,
  ERESTARTSYS,
  ETIMEDOUT,
  FUTEX_CLOCK_REALTIME,
  FUTEX_PRIVATE_FLAG,
  FUTEX_WAIT,
  FUTEX_WAKE,
  isErrno,
} from '../abi/index';
import type { Task } from '../proc/task';
import { block } from '../sched/wait-queue';
import { argInt, argU64 } from './args';
import { readTimespec } from './sys-time';
import type { SyscallArgs, SyscallCtx, SyscallResult } from './types';

/** get_futex_key(). */
function futexKey(t: Task, uaddr: number, priv: boolean): string {
  const mm = t.mm!;
  if (!priv) {
    const vma = mm.vmas.lookup(uaddr);
    if (vma?.isShared && vma.file) {
      const pg = vma.pgoffOf(Math.floor(uaddr / PAGE_SIZE) * PAGE_SIZE);
      return `f${vma.file.id}:${pg}:${uaddr % PAGE_SIZE}`;
    }
  }
  return `m${mm.id}:${uaddr}`;
}

/**
 * futex(2): (uaddr, op, val, timeout, uaddr2, val3).
 * @returns FUTEX_WAIT: 0 when woken, or EAGAIN (*uaddr ≠ val), ETIMEDOUT, EINTR, EFAULT, EINVAL (unaligned);
 *   FUTEX_WAKE: the number woken; other operations ENOSYS.
 */
export function sysFutex(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const uaddr = argU64(a, 0);
  const op = argInt(a, 1);
  const val = argInt(a, 2) >>> 0;
  const timeout = argU64(a, 3);
  const cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  const priv = (op & FUTEX_PRIVATE_FLAG) !== 0;
  if (op & FUTEX_CLOCK_REALTIME && cmd !== FUTEX_WAIT) return ENOSYS;
  switch (cmd) {
    case FUTEX_WAKE: {
      if (uaddr % 4 !== 0) return EINVAL;
      return ctx.k.futexes.wake(futexKey(t, uaddr, priv), val);
    }
    case FUTEX_WAIT: {
      if (op & FUTEX_CLOCK_REALTIME) return ENOSYS;
      const st = ctx.state;
      if (st.waiting) {
        // futex_wait(): a wake-up returns 0 without re-reading the word.
        if (t.wakeReason === 'event') return 0;
        if (t.wakeReason === 'timeout') return ETIMEDOUT;
        if (t.signalPending()) return ERESTARTSYS;
        return block(ctx.k.futexes.queue(futexKey(t, uaddr, priv)), { deadline: st.deadline as number | undefined });
      }
      if (uaddr % 4 !== 0) return EINVAL;
      let deadline: number | undefined;
      if (timeout) {
        const ts = readTimespec(t, timeout);
        if (isErrno(ts)) return ts;
        deadline = t.now() + ts;
      }
      const word = t.copyFromUser(uaddr, 4);
      if (isErrno(word)) return word;
      if (new DataView(word.buffer).getUint32(0, true) !== val) return EAGAIN;
      st.waiting = true;
      st.deadline = deadline;
      return block(ctx.k.futexes.queue(futexKey(t, uaddr, priv)), { deadline });
    }
    default:
      return ENOSYS;
  }
}
