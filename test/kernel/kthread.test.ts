/** Kernel threads (kthread_run) as the SGX reclaimer will use them: daemons that sleep on wait queues. */
import { describe, expect, it } from 'vitest';
import { block, Kernel, WaitQueue } from '../../src/kernel/index';

describe('kernel threads', () => {
  it('a kthread sleeps on a wait queue, is woken by a syscall path, and does not keep run() alive', async () => {
    const k = new Kernel({ seed: 2 });
    const wq = new WaitQueue('ksgxd');
    let work = 0;
    const done: number[] = [];
    const kt = k.kthreadRun('ksgxd', async (h) => {
      while (!h.shouldStop) {
        await h.call('wait', () => (work > 0 || h.shouldStop ? 0 : block(wq)));
        if (work > 0) {
          done.push(work);
          work = 0;
        }
      }
    });
    k.spawn(async (sys) => {
      for (const n of [3, 5]) {
        await sys.kcall('kick', () => {
          work = n;
          wq.wakeAll();
          return 0;
        });
        for (let i = 0; i < 5; i++) await sys.sched_yield();
      }
      return 0;
    });
    const r = await k.run();
    expect(r.kind).toBe('idle');
    expect(done).toEqual([3, 5]);
    expect(kt.state).toBe('blocked');
    expect(k.snapshot().processes.find((p) => p.pid === kt.tid)?.comm).toBe('ksgxd');
  });

  it('a kthread can sleep in virtual time', async () => {
    const k = new Kernel({ seed: 2 });
    const times: number[] = [];
    k.kthreadRun('ticker', async (h) => {
      for (let i = 0; i < 3; i++) {
        await h.sleep(1_000_000);
        times.push(h.task.now());
      }
    });
    k.spawn(async (sys) => {
      const libc = await import('../../src/kernel/index').then((m) => new m.Libc(sys));
      const ts = await libc.alloc(16);
      await libc.writeU64(ts, 0n);
      await libc.writeU64(ts + 8, 5_000_000n);
      await sys.nanosleep(ts);
      return 0;
    });
    await k.run();
    expect(times.length).toBe(3);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1_000_000);
  });
});
