/** Signal handlers, masks, faults turned into signals, job control, SIGCHLD and kill targets. */
import { describe, expect, it } from 'vitest';
import {
  BUS_ADRERR,
  Libc,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  SA_NODEFER,
  SA_RESETHAND,
  SA_RESTART,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SIG_BLOCK,
  SIG_SETMASK,
  SIG_UNBLOCK,
  SIGBUS,
  SIGCHLD,
  SIGCONT,
  SIGKILL,
  SIGSEGV,
  SIGSTOP,
  SIGTERM,
  SIGUSR1,
  SIGUSR2,
  type SigActionOut,
  type SigInfo,
  sigmask,
  WCONTINUED,
  WIFCONTINUED,
  WIFSTOPPED,
  WSTOPSIG,
  WUNTRACED,
} from '../../../src/kernel/index';
import { errName, makeTestKernel, runProgram, statusText } from '../fixtures/kernel';
import { registerTestDevice } from '../fixtures/test-device';

const P = 4096;

/** Yields until task `tid` sleeps in the kernel, so a signal surely interrupts a blocking call. */
async function untilBlocked(sys: import('../../../src/kernel/index').Sys, tid: number): Promise<void> {
  for (;;) {
    let state = '';
    await sys.kcall('state', (t) => {
      state = t.kernel.tasks.get(tid)?.state ?? 'gone';
      return 0;
    });
    if (state === 'blocked' || state === 'gone') return;
    await sys.sched_yield();
  }
}

describe('handlers', () => {
  it('a handler runs on the target thread before the interrupted call returns; its mask applies', async () => {
    const log: string[] = [];
    const { status } = await runProgram(async (sys) => {
      await sys.sigaction(SIGUSR1, {
        handler: async (s, sig, info) => {
          let mask = 0n;
          await s.kcall('mask', (t) => {
            mask = t.sigmask;
            return 0;
          });
          log.push(`handler ${sig} from ${info.si_pid} masked ${(mask & sigmask(SIGUSR1)) !== 0n}`);
        },
      });
      await sys.kill(await sys.getpid(), SIGUSR1);
      log.push('after kill');
      let mask = -1n;
      await sys.kcall('mask', (t) => {
        mask = t.sigmask;
        return 0;
      });
      log.push(`mask restored ${mask === 0n}`);
      return 0;
    });
    expect(statusText(status)).toBe('exit 0');
    expect(log).toEqual(['handler 10 from 2 masked true', 'after kill', 'mask restored true']);
  });

  it('SA_NODEFER leaves the signal unblocked; SA_RESETHAND restores the default', async () => {
    const log: string[] = [];
    const { status } = await runProgram(async (sys) => {
      await sys.sigaction(SIGUSR1, {
        flags: SA_NODEFER | SA_RESETHAND,
        handler: async (s) => {
          let mask = 0n;
          await s.kcall('mask', (t) => {
            mask = t.sigmask;
            return 0;
          });
          log.push(`in handler, blocked ${(mask & sigmask(SIGUSR1)) !== 0n}`);
        },
      });
      await sys.kill(await sys.getpid(), SIGUSR1);
      const old: SigActionOut = {};
      await sys.sigaction(SIGUSR1, null, old);
      log.push(`now ${String(old.handler)}`);
      await sys.kill(await sys.getpid(), SIGUSR1);
      return 0;
    });
    expect(log).toEqual(['in handler, blocked false', 'now SIG_DFL']);
    expect(statusText(status)).toBe(`signal ${SIGUSR1}`);
  });

  it('blocked signals stay pending and are delivered when unblocked; SIG_IGN discards them', async () => {
    const log: string[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const set = await libc.alloc(8);
      const pend = await libc.alloc(8);
      await sys.sigaction(SIGUSR1, { handler: () => void log.push('usr1') });
      await libc.writeU64(set, sigmask(SIGUSR1) | sigmask(SIGUSR2) | sigmask(SIGKILL));
      await sys.rt_sigprocmask(SIG_BLOCK, set, 0);
      await sys.kill(await sys.getpid(), SIGUSR1);
      await sys.kill(await sys.getpid(), SIGUSR2);
      await sys.kill(await sys.getpid(), SIGUSR1);
      await sys.rt_sigpending(pend);
      log.push(`pending ${(await libc.readU64(pend)).toString(16)}`);
      await sys.sigaction(SIGUSR2, { handler: 'SIG_IGN' });
      await sys.rt_sigpending(pend);
      log.push(`after ign ${(await libc.readU64(pend)).toString(16)}`);
      await libc.writeU64(set, sigmask(SIGUSR1));
      await sys.rt_sigprocmask(SIG_UNBLOCK, set, 0);
      log.push('unblocked');
      const old = await libc.alloc(8);
      await sys.rt_sigprocmask(SIG_SETMASK, 0, old);
      log.push(`mask ${(await libc.readU64(old)).toString(16)}`);
      log.push(errName(await sys.rt_sigprocmask(7, set, 0)));
      log.push(errName(await sys.rt_sigprocmask(SIG_BLOCK, set, 0, 4)));
      log.push(errName(await sys.rt_sigprocmask(SIG_BLOCK, 8, 0)));
      return 0;
    });
    // Standard signals do not queue twice; SIGKILL cannot be blocked.
    expect(log).toEqual([
      'pending a00',
      'after ign 200',
      'usr1',
      'unblocked',
      'mask 800',
      'EINVAL',
      'EINVAL',
      'EFAULT',
    ]);
  });

  it('a blocking call interrupted by a handler fails with EINTR, or restarts with SA_RESTART', async () => {
    const log: string[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const st = await libc.alloc(4);
      const parent = await sys.getpid();
      for (const flags of [0, SA_RESTART]) {
        await sys.sigaction(SIGUSR1, { flags, handler: () => void log.push('handler') });
        const child = await sys.fork(async (c) => {
          await untilBlocked(c, parent);
          await c.kill(parent, SIGUSR1);
          for (let i = 0; i < 10; i++) await c.sched_yield();
          return 3;
        });
        const r = await sys.wait4(child, st, 0);
        log.push(r === child ? `reaped ${statusText(await libc.readI32(st))}` : errName(r));
        if (r < 0) await sys.wait4(child, st, 0);
      }
      return 0;
    });
    expect(log).toEqual(['handler', 'EINTR', 'handler', 'reaped exit 3']);
  });

  it('pause() returns EINTR after a handler', async () => {
    const log: string[] = [];
    await runProgram(async (sys) => {
      await sys.sigaction(SIGUSR1, { handler: () => void log.push('h') });
      const me = await sys.getpid();
      await sys.fork(async (c) => {
        await untilBlocked(c, me);
        await c.kill(me, SIGUSR1);
        return 0;
      });
      log.push(errName(await sys.pause()));
      return 0;
    });
    expect(log).toEqual(['h', 'EINTR']);
  });
});

describe('faults become signals', () => {
  it('SIGSEGV carries si_addr and si_code; a handler that maps the page lets the access retry', async () => {
    const infos: SigInfo[] = [];
    const got: number[] = [];
    const { status } = await runProgram(async (sys) => {
      const hole = await sys.mmap(0, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.munmap(hole + P, P);
      await sys.sigaction(SIGSEGV, {
        handler: async (s, _sig, info) => {
          infos.push(info);
          if (infos.length === 1)
            await s.mmap(hole + P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
          else await s.mprotect(hole, P, PROT_READ | PROT_WRITE);
        },
      });
      await sys.store(hole + P + 8, new Uint8Array([1]));
      await sys.store(hole + 16, new Uint8Array([2]));
      got.push((await sys.load(hole + P + 8, 1))[0]!, (await sys.load(hole + 16, 1))[0]!);
      return 0;
    });
    expect(statusText(status)).toBe('exit 0');
    expect(got).toEqual([1, 2]);
    expect(infos.map((i) => [i.si_signo, i.si_code])).toEqual([
      [SIGSEGV, SEGV_MAPERR],
      [SIGSEGV, SEGV_ACCERR],
    ]);
    expect(infos[0]!.si_addr! % P).toBe(8);
  });

  it('an unhandled fault kills with SIGSEGV even if the signal is blocked or ignored', async () => {
    for (const setup of ['block', 'ignore'] as const) {
      const { status } = await runProgram(async (sys) => {
        const libc = new Libc(sys);
        if (setup === 'ignore') await sys.sigaction(SIGSEGV, { handler: 'SIG_IGN' });
        else {
          const set = await libc.alloc(8);
          await libc.writeU64(set, sigmask(SIGSEGV));
          await sys.rt_sigprocmask(SIG_BLOCK, set, 0);
        }
        await sys.load(0, 1);
        return 0;
      });
      expect(statusText(status), setup).toBe(`signal ${SIGSEGV}`);
    }
  });

  it('a driver fault handler returning SIGBUS raises SIGBUS with BUS_ADRERR', async () => {
    const infos: SigInfo[] = [];
    const k = makeTestKernel();
    registerTestDevice(k, '/dev/testdev', { pfns: [] });
    const { pid } = k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/testdev', O_RDWR);
      const a = await sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
      await sys.sigaction(SIGBUS, { flags: SA_RESETHAND, handler: (_s, _n, info) => void infos.push(info) });
      await sys.load(a + 4, 1);
      return 0;
    });
    await k.run();
    expect(infos.map((i) => [i.si_signo, i.si_code, i.si_addr! % P])).toEqual([[SIGBUS, BUS_ADRERR, 4]]);
    expect(statusText(k.exitStatus(pid)!), 'the retried access hits the default action').toBe(`signal ${SIGBUS}`);
  });

  it('copy_from_user of a bad pointer is EFAULT, not a signal', async () => {
    const r: number[] = [];
    const { status } = await runProgram(async (sys) => {
      const a = await sys.mmap(0, P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      r.push(await sys.copyFromUser(a, new Uint8Array(4)));
      r.push(await sys.copyToUser(0x1000, new Uint8Array(4)));
      r.push(await sys.copyToUser(2 ** 47 - 2, new Uint8Array(4)));
      return 0;
    });
    expect(r.map(errName)).toEqual(['EFAULT', 'EFAULT', 'EFAULT']);
    expect(statusText(status)).toBe('exit 0');
  });
});

describe('job control and SIGCHLD', () => {
  it('SIGSTOP stops, WUNTRACED reports it, SIGCONT resumes and WCONTINUED reports that', async () => {
    const log: string[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const st = await libc.alloc(4);
      await sys.sigaction(SIGCHLD, { handler: (_s, _n, info) => void log.push(`SIGCHLD code ${info.si_code}`) });
      const child = await sys.fork(async (c) => {
        for (let i = 0; i < 1000; i++) await c.sched_yield();
        return 9;
      });
      await sys.kill(child, SIGSTOP);
      let r = await sys.wait4(child, st, WUNTRACED);
      const s1 = await libc.readI32(st);
      log.push(`stopped ${r === child && WIFSTOPPED(s1) ? WSTOPSIG(s1) : s1}`);
      await sys.kill(child, SIGCONT);
      r = await sys.wait4(child, st, WCONTINUED);
      log.push(`continued ${r === child && WIFCONTINUED(await libc.readI32(st))}`);
      r = await sys.wait4(child, st, 0);
      log.push(`exited ${statusText(await libc.readI32(st))}`);
      return 0;
    });
    expect(log.filter((l) => !l.startsWith('SIGCHLD'))).toEqual(['stopped 19', 'continued true', 'exited exit 9']);
    // CLD_STOPPED (5), CLD_CONTINUED (6), CLD_EXITED (1)
    expect(log.filter((l) => l.startsWith('SIGCHLD'))).toEqual(['SIGCHLD code 5', 'SIGCHLD code 6', 'SIGCHLD code 1']);
  });

  it('SIGCHLD set to SIG_IGN reaps children automatically (wait4 sees none)', async () => {
    const r: string[] = [];
    await runProgram(async (sys) => {
      await sys.sigaction(SIGCHLD, { handler: 'SIG_IGN' });
      await sys.fork(async () => 0);
      for (let i = 0; i < 20; i++) await sys.sched_yield();
      r.push(errName(await sys.wait4(-1, 0, 0)));
      return 0;
    });
    expect(r).toEqual(['ECHILD']);
  });

  it('kill reaches a process group (0, -pgid) and everyone else (-1); signal 0 probes', async () => {
    const k = makeTestKernel();
    const log: string[] = [];
    const { pid } = k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const a = await sys.fork(async (c) => c.pause());
      const b = await sys.fork(async (c) => {
        await c.setpgid(0, 0);
        return c.pause();
      });
      for (let i = 0; i < 10; i++) await sys.sched_yield();
      log.push(`probe ${errName(await sys.kill(a, 0))}`);
      log.push(`pgrp ${await sys.getpgid(b)} ${errName(await sys.kill(-b, SIGTERM))}`);
      log.push(`b ${statusText((await libc.waitpid(b)).status)}`);
      await sys.sigaction(SIGUSR2, { handler: () => void log.push('self not hit') });
      log.push(`all ${errName(await sys.kill(-1, SIGUSR2))}`);
      log.push(`a ${statusText((await libc.waitpid(a)).status)}`);
      log.push(`nogroup ${errName(await sys.kill(-9999, SIGTERM))}`);
      log.push(`init ${errName(await sys.kill(1, SIGKILL))}`);
      return 0;
    });
    await k.run();
    expect(log).toEqual([
      'probe ok',
      `pgrp 4 ok`,
      `b signal ${SIGTERM}`,
      'all ok',
      `a signal ${SIGUSR2}`,
      'nogroup ESRCH',
      'init ok',
    ]);
    expect(k.processes.get(1)?.state, 'init ignores signals it has no handler for').toBe('alive');
    expect(statusText(k.exitStatus(pid)!)).toBe('exit 0');
  });

  it('tgkill targets a thread; errors follow the uAPI', async () => {
    const r: string[] = [];
    await runProgram(async (sys) => {
      const me = await sys.getpid();
      r.push(errName(await sys.tgkill(me, 9999, 0)));
      r.push(errName(await sys.tgkill(me + 1, me, 0)));
      r.push(errName(await sys.tgkill(0, me, 0)));
      r.push(errName(await sys.tkill(-1, 0)));
      r.push(errName(await sys.tgkill(me, me, 0)));
      return 0;
    });
    expect(r).toEqual(['ESRCH', 'ESRCH', 'EINVAL', 'EINVAL', 'ok']);
  });
});
