/** futex(2) FUTEX_WAIT/FUTEX_WAKE between threads and, through shared memory, between processes. */
import { describe, expect, it } from 'vitest';
import {
  CLONE_THREAD_FLAGS,
  FUTEX_PRIVATE_FLAG,
  FUTEX_WAIT,
  FUTEX_WAKE,
  Libc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../../src/kernel/index';
import { errName, runProgram } from '../fixtures/kernel';

const RW = PROT_READ | PROT_WRITE;

describe('futex', () => {
  it('a thread waits until another changes the word and wakes it', async () => {
    const log: string[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const w = await sys.mmap(0, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
        const tl = new Libc(t);
        for (let i = 0; i < 10; i++) await t.sched_yield();
        await tl.writeU32(w, 1);
        log.push(`woke ${await t.futex(w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1)}`);
        await t.exit(0);
      });
      log.push(`wait ${errName(await sys.futex(w, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0))}`);
      log.push(`value ${await libc.readU32(w)}`);
      log.push(`mismatch ${errName(await sys.futex(w, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0))}`);
      log.push(`unaligned ${errName(await sys.futex(w + 1, FUTEX_WAIT, 1))}`);
      log.push(`fault ${errName(await sys.futex(8, FUTEX_WAIT, 1))}`);
      log.push(`op ${errName(await sys.futex(w, 99, 1))}`);
      const ts = await libc.alloc(16);
      await libc.writeU64(ts, 0n);
      await libc.writeU64(ts + 8, 1000n);
      log.push(`timeout ${errName(await sys.futex(w, FUTEX_WAIT, 1, ts))}`);
      log.push(`nobody ${await sys.futex(w, FUTEX_WAKE, 5)}`);
      return 0;
    });
    expect(log).toEqual([
      'woke 1',
      'wait ok',
      'value 1',
      'mismatch EAGAIN',
      'unaligned EINVAL',
      'fault EFAULT',
      'op ENOSYS',
      'timeout ETIMEDOUT',
      'nobody 0',
    ]);
  });

  it('processes sharing a MAP_SHARED page wake each other with shared (non-private) futexes', async () => {
    const log: string[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const w = await sys.mmap(0, 4096, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      const child = await sys.fork(async (c) => {
        const cl = new Libc(c);
        const r = await c.futex(w, FUTEX_WAIT, 0);
        log.push(`child woke ${errName(r)} value ${await cl.readU32(w)}`);
        return 0;
      });
      for (let i = 0; i < 20; i++) await sys.sched_yield();
      await libc.writeU32(w, 5);
      log.push(`woken ${await sys.futex(w, FUTEX_WAKE, 1)}`);
      await libc.waitpid(child);
      return 0;
    });
    expect(log).toEqual(['woken 1', 'child woke ok value 5']);
  });
});
