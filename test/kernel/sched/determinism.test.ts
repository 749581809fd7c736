/** The seeded scheduler: same seed, same interleaving and trace hash; another seed, another interleaving. */
import { describe, expect, it } from 'vitest';
import {
  AF_UNIX,
  CLONE_THREAD_FLAGS,
  Kernel,
  Libc,
  MAP_ANONYMOUS,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SIGUSR1,
  SOCK_STREAM,
  Trace,
} from '../../../src/kernel/index';

/** A workload with real contention: workers, a socket, shared memory, signals and threads. */
async function workload(
  seed: number,
  cpus = 2,
): Promise<{ hash: string; order: string[]; events: number; times: number[] }> {
  const k = new Kernel({ seed, cpus, ramBytes: 16 << 20, costs: { timesliceCycles: 20_000 } });
  const order: string[] = [];
  for (let w = 0; w < 3; w++) {
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const shared = await sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      const [a, b] = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      await sys.sigaction(SIGUSR1, { handler: () => void order.push(`w${w} signal`) });
      const me = await sys.getpid();
      const child = await sys.fork(async (c) => {
        const lc = new Libc(c);
        for (let i = 0; i < 4; i++) {
          await lc.sendmsg(a, new Uint8Array([i]));
          order.push(`w${w} child sent ${i}`);
        }
        await c.kill(me, SIGUSR1);
        await c.store(shared, new Uint8Array([w]));
        return 0;
      });
      await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
        for (let i = 0; i < 3; i++) {
          order.push(`w${w} thread ${i}`);
          await t.sched_yield();
        }
        await t.exit(0);
      });
      for (let i = 0; i < 4; i++) {
        const m = await libc.recvmsg(b, 1);
        order.push(`w${w} got ${m.data[0]}`);
      }
      await libc.waitpid(child);
      return 0;
    });
  }
  const r = await k.run();
  expect(r.kind).toBe('idle');
  return { hash: k.trace.digest(), order, events: k.trace.count, times: k.sched.cpus.map((c) => c.clock) };
}

describe('deterministic scheduling', () => {
  it('the same seed gives the same interleaving, trace hash and virtual time', async () => {
    const a = await workload(42);
    const b = await workload(42);
    expect(b.hash).toBe(a.hash);
    expect(b.order).toEqual(a.order);
    expect(b.times).toEqual(a.times);
    expect(a.events).toBeGreaterThan(100);
  });

  it('different seeds give different interleavings and hashes', async () => {
    const runs = await Promise.all([1, 2, 3, 4].map((s) => workload(s)));
    const hashes = new Set(runs.map((r) => r.hash));
    expect(hashes.size, 'four seeds should not all schedule identically').toBeGreaterThan(1);
    const orders = new Set(runs.map((r) => r.order.join('|')));
    expect(orders.size).toBeGreaterThan(1);
  });

  it('one CPU and four CPUs both complete the workload', async () => {
    for (const cpus of [1, 4]) {
      const r = await workload(9, cpus);
      expect(r.order.filter((l) => l.includes('got')).length).toBe(12);
      expect(r.times.length).toBe(cpus);
    }
  });

  it('trace events are plain JSON with virtual times that never go backwards per CPU', async () => {
    const k = new Kernel({ seed: 5 });
    k.spawn(async (sys) => {
      for (let i = 0; i < 10; i++) await sys.getpid();
      return 0;
    });
    await k.run();
    const last = new Map<number, number>();
    for (const e of k.trace.events) {
      expect(JSON.parse(JSON.stringify(e))).toEqual(e);
      if (e.cpu >= 0) {
        expect(e.t, `cpu ${e.cpu} time`).toBeGreaterThanOrEqual(last.get(e.cpu) ?? 0);
        last.set(e.cpu, e.t);
      }
    }
    expect(k.trace.toJsonLines().split('\n').length).toBe(k.trace.events.length + 1);
  });

  it('reports a deadlock with the blocked tasks instead of hanging', async () => {
    const k = new Kernel({ seed: 1 });
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const [, b] = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      await libc.recvmsg(b, 1);
      return 0;
    });
    const r = await k.run();
    expect(r.kind).toBe('deadlock');
    expect(r.kind === 'deadlock' && r.blocked).toEqual([2]);
  });

  it('nanosleep and clock_gettime run on virtual time', async () => {
    const k = new Kernel({ seed: 1 });
    const seen: bigint[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const ts = await libc.alloc(16);
      const req = await libc.alloc(16);
      await libc.writeU64(req, 2n);
      await libc.writeU64(req + 8, 500_000_000n);
      await sys.clock_gettime(1, ts);
      seen.push(await libc.readU64(ts));
      await sys.nanosleep(req);
      await sys.clock_gettime(1, ts);
      seen.push(await libc.readU64(ts));
      await libc.writeU64(req + 8, 2_000_000_000n);
      seen.push(BigInt(await sys.nanosleep(req)));
      seen.push(BigInt(await sys.clock_gettime(99, ts)));
      return 0;
    });
    await k.run();
    expect(seen[0]).toBe(0n);
    expect(seen[1]).toBe(2n);
    expect(seen.slice(2)).toEqual([-22n, -22n]);
  });
});

describe('trace persistence', () => {
  it('a saved trace restores to the same hash and continues identically', async () => {
    const k = new Kernel({ seed: 8 });
    k.spawn(async (sys) => {
      for (let i = 0; i < 5; i++) await sys.getppid();
      return 0;
    });
    await k.run();
    const saved = JSON.parse(JSON.stringify(k.trace.save()));
    const t = Trace.restore(saved);
    expect(t.digest()).toBe(k.trace.digest());
    const ev = { t: 1, cpu: 0, pid: 1, tid: 1, ev: 'x' };
    t.emit(ev);
    k.trace.emit(ev);
    expect(t.digest()).toBe(k.trace.digest());
    const small = new Trace(undefined, 2);
    for (let i = 0; i < 3; i++) small.emit(ev);
    expect(() => Trace.restore(small.save())).toThrow(/truncated/);
  });
});
