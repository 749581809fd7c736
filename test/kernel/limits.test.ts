/** Running out of things: RAM (the OOM killer), threads, and the kernel's errno at each limit. */
import { describe, expect, it } from 'vitest';
import {
  CLONE_THREAD_FLAGS,
  Kernel,
  Libc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SIGKILL,
} from '../../src/kernel/index';
import { errName, statusText } from './fixtures/kernel';

const P = 4096;

describe('limits', () => {
  it('exhausting RAM at fault time OOM-kills the largest process with SIGKILL; others carry on', async () => {
    const k = new Kernel({ seed: 1, ramBytes: 128 * P });
    const log: string[] = [];
    const small = k.spawn(async (sys) => {
      const a = await sys.mmap(0, 30 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      for (let i = 0; i < 30; i++) await sys.store(a + i * P, new Uint8Array([1]));
      for (let i = 0; i < 200; i++) await sys.sched_yield();
      log.push('small done');
      return 0;
    });
    const big = k.spawn(async (sys) => {
      const a = await sys.mmap(0, 120 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      for (let i = 0; i < 120; i++) await sys.store(a + i * P, new Uint8Array([1]));
      log.push('big done');
      return 0;
    });
    await k.run();
    expect(statusText(k.exitStatus(big.pid)!)).toBe(`signal ${SIGKILL}`);
    expect(statusText(k.exitStatus(small.pid)!)).toBe('exit 0');
    expect(log).toEqual(['small done']);
    expect(k.trace.events.some((e) => e.ev === 'oom_kill')).toBe(true);
    expect(k.pages.usedPages).toBe(0);
  });

  it('a kernel access (copy_to_user) that needs RAM runs the OOM killer too, which picks the biggest: the caller', async () => {
    const k = new Kernel({ seed: 1, ramBytes: 64 * P });
    const { pid } = k.spawn(async (sys) => {
      // Two mappings that each pass the overcommit heuristic but do not fit together.
      for (let m = 0; m < 2; m++) {
        const a = await sys.mmap(0, 40 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        for (let i = 0; i < 40; i++) await sys.copyToUser(a + i * P, new Uint8Array([1]));
      }
      return 0;
    });
    await k.run();
    // The faulting process is the biggest, so the OOM killer picks it.
    expect(statusText(k.exitStatus(pid)!)).toBe(`signal ${SIGKILL}`);
  });

  it('threads beyond kernel.threads-max are EAGAIN', async () => {
    const k = new Kernel({ seed: 1, limits: { maxThreads: 3 } });
    const r: string[] = [];
    k.spawn(async (sys) => {
      for (let i = 0; i < 3; i++) {
        r.push(
          errName(
            await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
              await t.pause();
            }),
          ),
        );
      }
      await sys.exit_group(0);
    });
    await k.run();
    expect(r).toEqual(['ok', 'ok', 'EAGAIN']);
  });

  it('the overcommit heuristic refuses a single private writable mapping larger than RAM', async () => {
    const k = new Kernel({ seed: 1, ramBytes: 64 * P });
    const r: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      r.push(errName(await sys.mmap(0, 100 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)));
      const a = await sys.mmap(0, 100 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      r.push(errName(a));
      r.push(errName(await sys.mprotect(a, 100 * P, PROT_READ | PROT_WRITE)));
      void libc;
      return 0;
    });
    await k.run();
    expect(r).toEqual(['ENOMEM', 'ok', 'ENOMEM']);
  });
});
