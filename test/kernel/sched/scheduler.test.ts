/**
 * The scheduling loop's hand-over to host code: a step that resumes host code ends when that code enters the
 * kernel again, however long it takes and whatever it awaits meanwhile; the loop itself is synchronous, so the
 * interleaving is the seeded scheduler's alone. Errors inside a step end the run, never the host program.
 */
import { describe, expect, it } from 'vitest';
import { CLONE_THREAD_FLAGS, Kernel, type Sys } from '../../../src/kernel/index';

/** Three processes (one with a second thread) making syscalls; `pause` runs between two of them. */
async function run(seed: number, pause: () => Promise<void>): Promise<{ hash: string; order: string[] }> {
  const k = new Kernel({ seed, cpus: 2, ramBytes: 8 << 20, costs: { timesliceCycles: 2_000 } });
  const order: string[] = [];
  const body = (name: string) => async (sys: Sys) => {
    for (let i = 0; i < 6; i++) {
      await sys.getpid();
      await pause();
      order.push(`${name}${i}`);
      await sys.sched_yield();
    }
    return 0;
  };
  for (const name of ['a', 'b']) k.spawn(body(name));
  k.spawn(async (sys) => {
    await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
      await body('d')(t);
      return t.exit(0);
    });
    return body('c')(sys);
  });
  const r = await k.run();
  expect(r.kind).toBe('idle');
  return { hash: k.trace.digest(), order };
}

describe('the scheduling loop and host code', () => {
  it('gives the same interleaving and trace whether host code awaits other things between kernel entries or not', async () => {
    const plain = await run(7, async () => {});
    const microtasks = await run(7, async () => {
      for (let i = 0; i < 5; i++) await Promise.resolve();
    });
    const timers = await run(7, () => new Promise((r) => setTimeout(r, 1)));
    expect(microtasks).toEqual(plain);
    expect(timers).toEqual(plain);
    expect(plain.order.length).toBe(24);
  });

  it('runs one host step at a time: no other thread runs while host code waits outside the kernel', async () => {
    const k = new Kernel({ seed: 3, cpus: 4 });
    let outside = 0;
    let overlapped = 0;
    for (let n = 0; n < 4; n++) {
      k.spawn(async (sys) => {
        for (let i = 0; i < 5; i++) {
          await sys.getpid();
          if (outside) overlapped++;
          outside++;
          await new Promise((r) => setTimeout(r, 1));
          outside--;
        }
        return 0;
      });
    }
    await k.run();
    expect(overlapped, 'host code of two threads never runs at once').toBe(0);
  });

  it('rejects Kernel.run() with a simulator bug thrown inside a step that host code started', async () => {
    const k = new Kernel({ seed: 1 });
    k.spawn(async (sys) => {
      await sys.getpid();
      await sys.kcall('buggy', () => {
        throw new Error('kernel bug');
      });
      return 0;
    });
    await expect(k.run()).rejects.toThrow('kernel bug');
  });

  it('refuses a second Kernel.run() while one is in progress', async () => {
    const k = new Kernel({ seed: 1 });
    k.spawn(async (sys) => {
      await new Promise((r) => setTimeout(r, 5));
      await sys.getpid();
      return 0;
    });
    const first = k.run();
    await expect(k.run()).rejects.toThrow(/already running/);
    expect((await first).kind).toBe('idle');
  });

  it('stops at maxSteps with every thread parked in the kernel, and continues where it stopped', async () => {
    const k = new Kernel({ seed: 2 });
    const seen: number[] = [];
    k.spawn(async (sys) => {
      for (let i = 0; i < 10; i++) seen.push(await sys.getpid());
      return 0;
    });
    const a = await k.run({ maxSteps: 4 });
    expect(a).toEqual({ kind: 'limit', steps: 4 });
    const partial = seen.length;
    expect((await k.run()).kind).toBe('idle');
    expect(partial).toBeLessThan(10);
    expect(seen.length).toBe(10);
  });
});
