/** fork, clone threads, exit/exit_group, wait4 options, orphans and limits. */
import { describe, expect, it } from 'vitest';
import {
  CLONE_FILES,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_THREAD_FLAGS,
  CLONE_VM,
  Libc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SIGCHLD,
  SIGKILL,
  WEXITSTATUS,
  WIFSIGNALED,
  WNOHANG,
  WTERMSIG,
} from '../../../src/kernel/index';
import { errName, makeTestKernel, runProgram, statusText } from '../fixtures/kernel';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;

describe('fork and copy-on-write', () => {
  it('private writes stay private, shared writes are seen by both', async () => {
    const seen: Record<string, number[]> = {};
    const { status, k } = await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const priv = await sys.mmap(0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const shared = await sys.mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      await sys.store(priv, new Uint8Array([1]));
      await sys.store(shared, new Uint8Array([1]));
      const child = await sys.fork(async (c) => {
        seen.childBefore = [(await c.load(priv, 1))[0]!, (await c.load(shared, 1))[0]!];
        await c.store(priv, new Uint8Array([2]));
        await c.store(shared, new Uint8Array([2]));
        seen.childAfter = [(await c.load(priv, 1))[0]!, (await c.load(shared, 1))[0]!];
        return 0;
      });
      await libc.waitpid(child);
      seen.parent = [(await sys.load(priv, 1))[0]!, (await sys.load(shared, 1))[0]!];
      await sys.store(priv, new Uint8Array([3]));
      seen.parentAfterWrite = [(await sys.load(priv, 1))[0]!];
      return 0;
    });
    expect(statusText(status)).toBe('exit 0');
    expect(seen).toEqual({ childBefore: [1, 1], childAfter: [2, 2], parent: [1, 2], parentAfterWrite: [3] });
    expect(k.pages.usedPages, 'everything is freed once the processes are gone').toBe(0);
  });

  it('COW copies only on write and reuses a page once its other user is gone', async () => {
    const counts: number[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const a = await sys.mmap(0, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(a, new Uint8Array([9]));
      await sys.store(a + P, new Uint8Array([9]));
      // Touch libc's scratch page now so that waitpid() below does not change the count.
      await sys.store(await libc.alloc(4), new Uint8Array(4));
      const used = async () => {
        let n = 0;
        await sys.kcall('used', (t) => {
          n = t.kernel.pages.usedPages;
          return 0;
        });
        counts.push(n);
      };
      await used();
      const child = await sys.fork(async (c) => {
        await c.load(a, 1);
        await c.store(a, new Uint8Array([7]));
        return 0;
      });
      await libc.waitpid(child);
      await used();
      // The child is gone: our page is exclusive again and the write fault reuses it.
      await sys.store(a + P, new Uint8Array([8]));
      await used();
      return 0;
    });
    expect(counts).toEqual([3, 3, 3]);
  });

  it('a forked child inherits fds sharing the descriptions', async () => {
    const r: number[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/null', O_RDWR);
      const child = await sys.fork(async (c) => {
        await c.kcall('refs', (t) => {
          r.push(t.files!.get(fd)!.refcount);
          return 0;
        });
        return c.close(fd);
      });
      await libc.waitpid(child);
      await sys.kcall('refs', (t) => {
        r.push(t.files!.get(fd)!.refcount);
        return 0;
      });
      return 0;
    });
    expect(r).toEqual([2, 1]);
  });
});

describe('threads', () => {
  it('clone threads share memory and fds; exit ends one thread, exit_group all', async () => {
    const log: string[] = [];
    const { status, k } = await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const a = await sys.mmap(0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const tid = await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
        await t.store(a, new Uint8Array([42]));
        log.push(`thread ${await t.gettid()} in ${await t.getpid()}`);
        await t.exit(0);
      });
      const tid2 = await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
        for (;;) await t.sched_yield();
      });
      // Wait for the first thread's write through a futex-free poll.
      while ((await sys.load(a, 1))[0] !== 42) await sys.sched_yield();
      log.push(`main sees ${(await sys.load(a, 1))[0]} tids ${tid},${tid2}`);
      await libc.print(1, 'done\n');
      await sys.exit_group(7);
    });
    expect(WEXITSTATUS(status)).toBe(7);
    expect(log).toEqual(['thread 3 in 2', 'main sees 42 tids 3,4']);
    expect(k.tasks.size, 'exit_group ended the spinning thread').toBe(0);
  });

  it('validates clone flags like copy_process()', async () => {
    const r: string[] = [];
    await runProgram(async (sys) => {
      const body = async () => 0;
      r.push(errName(await sys.clone(CLONE_THREAD | CLONE_VM, body)));
      r.push(errName(await sys.clone(CLONE_SIGHAND, body)));
      r.push(errName(await sys.clone(0x00020000 | 0x200, body)));
      r.push(errName(await sys.clone(0x80000000, body)));
      r.push(errName(await sys.clone(CLONE_VM | CLONE_FILES | SIGCHLD, body)));
      r.push(errName(await sys.syscall(56, 0, 'not a function')));
      return 0;
    });
    expect(r).toEqual(['EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'ok', 'EINVAL']);
  });

  it('the main thread returning ends the process even while other threads run', async () => {
    const { status } = await runProgram(async (sys) => {
      await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
        for (;;) await t.sched_yield();
      });
      return 5;
    });
    expect(statusText(status)).toBe('exit 5');
  });
});

describe('wait4', () => {
  it('WNOHANG returns 0 while the child runs; a pid selects one child; -1 any', async () => {
    const r: Array<number | string> = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const st = await libc.alloc(4);
      const slow = await sys.fork(async (c) => {
        for (let i = 0; i < 20; i++) await c.sched_yield();
        return 2;
      });
      const fast = await sys.fork(async () => 1);
      r.push(await sys.wait4(slow, st, WNOHANG));
      const w = await libc.waitpid(fast);
      r.push(w.pid === fast ? 'fast' : 'other', WEXITSTATUS(w.status));
      const any = await libc.waitpid(-1);
      r.push(any.pid === slow ? 'slow' : 'other', WEXITSTATUS(any.status));
      r.push(errName(await sys.wait4(-1, st, 0)));
      return 0;
    });
    expect(r).toEqual([0, 'fast', 1, 'slow', 2, 'ECHILD']);
  });

  it('writes rusage with the child times and reports EFAULT for a bad status pointer (the child is still reaped)', async () => {
    const r: Array<number | string | bigint> = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const ru = await libc.alloc(144);
      const c = await sys.fork(async (s) => {
        for (let i = 0; i < 5; i++) await s.getpid();
        return 0;
      });
      r.push((await sys.wait4(c, 0, 0, ru)) === c ? 'ok' : 'bad');
      r.push((await libc.readU64(ru + 16)) + (await libc.readU64(ru + 24)) >= 0n ? 'times' : 'none');
      const c2 = await sys.fork(async () => 0);
      await sys.sched_yield();
      r.push(errName(await sys.wait4(c2, 8, 0)));
      r.push(errName(await sys.wait4(c2, 0, 0)));
      return 0;
    });
    expect(r).toEqual(['ok', 'times', 'EFAULT', 'ECHILD']);
  });

  it('orphans are re-parented to init, which reaps them', async () => {
    const seen: number[] = [];
    const k = makeTestKernel();
    let grandchild = 0;
    k.spawn(async (sys) => {
      await sys.fork(async (c) => {
        grandchild = await c.fork(async (g) => {
          for (let i = 0; i < 30; i++) await g.sched_yield();
          seen.push(await g.getppid());
          return 4;
        });
        return 0;
      });
      return 0;
    });
    await k.run();
    expect(seen).toEqual([1]);
    expect(statusText(k.exitStatus(grandchild)!)).toBe('exit 4');
  });

  it('fork beyond the process limit is EAGAIN', async () => {
    const r: string[] = [];
    const k = makeTestKernel({ limits: { maxProcesses: 3 } });
    k.spawn(async (sys) => {
      // init + this process + one child = 3
      r.push(errName(await sys.fork(async (c) => c.pause())));
      r.push(errName(await sys.fork(async () => 0)));
      await sys.kill(-1, SIGKILL);
      return 0;
    });
    await k.run();
    expect(r).toEqual(['ok', 'EAGAIN']);
  });

  it('a process killed by a signal reports WIFSIGNALED/WTERMSIG', async () => {
    const { status } = await runProgram(async (sys) => {
      await sys.kill(await sys.getpid(), SIGKILL);
      return 0;
    });
    expect(WIFSIGNALED(status) && WTERMSIG(status)).toBe(SIGKILL);
  });
});
