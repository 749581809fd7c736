/**
 * ENCLAVE_INIT's retry loop (ioctl.c sgx_encl_init()): EINIT returning SGX_UNMASKED_EVENT is retried 20 times,
 * then the task sleeps 20 ms, 50 times over; a signal during the sleeps ends the ioctl with ERESTARTSYS; another
 * ioctl on the enclave meanwhile gets EBUSY.
 */
import { describe, expect, it } from 'vitest';
import { SGX_ENCL_INITIALIZED, type SgxEncl } from '../../../src/driver/index';
import { Libc, SA_RESTART, SIGUSR1 } from '../../../src/kernel/index';
import { buildEnclaveWithDriver } from '../../../src/sdk/index';
import { errName } from '../../kernel/fixtures/kernel';
import { ioctlInit, ioctlProvision } from '../fixtures/ioctls';
import { makeSgxSystem, sampleEnclave } from '../fixtures/sgx-system';

/** Builds the sample enclave without INIT, then runs `body` with its fd. */
function withBuiltEnclave(
  interrupted: (n: number) => boolean,
  body: (sys: import('../../../src/kernel/index').Sys, libc: Libc, fd: number) => Promise<void>,
  more?: (k: import('../../../src/kernel/index').Kernel) => void,
) {
  const sys0 = makeSgxSystem();
  let calls = 0;
  sys0.m.pendingUnmaskedEvent = () => interrupted(++calls);
  sys0.k.spawn(async (sys) => {
    const libc = new Libc(sys);
    const { layout, sigstruct } = sampleEnclave();
    const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct, noInit: true });
    await body(sys, libc, e.fd);
    return 0;
  });
  more?.(sys0.k);
  return { ...sys0, calls: () => calls };
}

const now = (sys: import('../../../src/kernel/index').Sys) => sys.kcall('now', (t) => t.now());

describe('ENCLAVE_INIT and SGX_UNMASKED_EVENT', () => {
  it('retries EINIT 20 times, sleeps 20 ms, and succeeds once the interrupts stop', async () => {
    const out: string[] = [];
    let slept = 0;
    const s = withBuiltEnclave(
      (n) => n <= 25,
      async (sys, libc, fd) => {
        const t0 = await now(sys);
        out.push(errName(await ioctlInit(sys, libc, fd, sampleEnclave().sigstruct)));
        slept = (await now(sys)) - t0;
      },
    );
    await s.k.run();
    expect(out).toEqual(['ok']);
    expect(s.sgx.stats.encls.EINIT, '20 interrupted, one sleep, 5 more interrupted, then success').toBe(26);
    expect(slept, 'at least one 20 ms sleep at 2 GHz').toBeGreaterThanOrEqual(40_000_000);
  });

  it('gives EPERM after 50 × 20 attempts that all see an unmasked event', async () => {
    const out: string[] = [];
    let slept = 0;
    const s = withBuiltEnclave(
      () => true,
      async (sys, libc, fd) => {
        const t0 = await now(sys);
        out.push(errName(await ioctlInit(sys, libc, fd, sampleEnclave().sigstruct)));
        slept = (await now(sys)) - t0;
        const e = sys.task.files!.get(fd)!.privateData as SgxEncl;
        out.push(e.flags & SGX_ENCL_INITIALIZED ? 'initialized' : 'not initialized');
      },
    );
    await s.k.run({ maxSteps: 100_000 });
    expect(out).toEqual(['EPERM', 'not initialized']);
    expect(s.sgx.stats.encls.EINIT).toBe(1000);
    expect(slept, '50 sleeps of 20 ms').toBeGreaterThanOrEqual(50 * 40_000_000);
  });

  it('a signal during the sleep ends it with EINTR (no SA_RESTART)', async () => {
    const out: string[] = [];
    let inInit = false;
    let handled = 0;
    let pid = 0;
    const s = withBuiltEnclave(
      () => true,
      async (sys, libc, fd) => {
        pid = await sys.getpid();
        await sys.sigaction(SIGUSR1, { handler: () => void handled++, flags: 0, mask: 0n });
        inInit = true;
        out.push(errName(await ioctlInit(sys, libc, fd, sampleEnclave().sigstruct)));
      },
      (k) =>
        k.spawn(async (sys) => {
          while (!inInit) await sys.sched_yield();
          const ts = await new Libc(sys).bytes(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2d, 0x31, 1, 0, 0, 0, 0]));
          await sys.nanosleep(ts);
          await sys.kill(pid, SIGUSR1);
          return 0;
        }),
    );
    await s.k.run({ maxSteps: 100_000 });
    expect(out).toEqual(['EINTR']);
    expect(handled).toBe(1);
    expect(s.sgx.stats.encls.EINIT).toBeLessThan(1000);
  });

  it('with SA_RESTART the ioctl starts over after the handler and can succeed', async () => {
    const out: string[] = [];
    let inInit = false;
    let pid = 0;
    const s = withBuiltEnclave(
      (n) => n <= 45,
      async (sys, libc, fd) => {
        pid = await sys.getpid();
        await sys.sigaction(SIGUSR1, { handler: () => {}, flags: SA_RESTART, mask: 0n });
        inInit = true;
        out.push(errName(await ioctlInit(sys, libc, fd, sampleEnclave().sigstruct)));
      },
      (k) =>
        k.spawn(async (sys) => {
          while (!inInit) await sys.sched_yield();
          await sys.kill(pid, SIGUSR1);
          return 0;
        }),
    );
    await s.k.run({ maxSteps: 100_000 });
    expect(out).toEqual(['ok']);
    expect(s.sgx.stats.encls.EINIT).toBe(46);
  });

  it('another ioctl on the enclave while INIT sleeps gets EBUSY, from any process', async () => {
    const out: string[] = [];
    let inInit = false;
    const s = withBuiltEnclave(
      (n) => n <= 30,
      async (sys, libc, fd) => {
        const child = await sys.fork(async (c) => {
          const cl = new Libc(c);
          while (!inInit) await c.sched_yield();
          const prov = await cl.open('/dev/sgx_provision', 0);
          out.push(`child ${errName(await ioctlProvision(c, cl, fd, BigInt(prov)))}`);
          return 0;
        });
        inInit = true;
        out.push(`parent ${errName(await ioctlInit(sys, libc, fd, sampleEnclave().sigstruct))}`);
        await libc.waitpid(child);
        const prov = await libc.open('/dev/sgx_provision', 0);
        out.push(`after ${errName(await ioctlProvision(sys, libc, fd, BigInt(prov)))}`);
      },
    );
    await s.k.run({ maxSteps: 100_000 });
    expect(out).toEqual(['child EBUSY', 'parent ok', 'after ok']);
  });
});
