/**
 * Property tests: random programs of mmap/munmap/mprotect/mremap/touch/fork/exit/open/close/dup/socketpair/
 * sendmsg(SCM_RIGHTS)/recvmsg never throw a JS exception, and the kernel invariants (fixtures/invariants.ts)
 * hold after every operation and once everything has exited (nothing leaks).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AF_UNIX,
  Kernel,
  Libc,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  MSG_DONTWAIT,
  O_RDWR,
  PROT_NONE,
  SOCK_DGRAM,
  SOCK_STREAM,
  type Sys,
} from '../../src/kernel/index';
import { checkInvariants } from './fixtures/invariants';
import { registerTestDevice } from './fixtures/test-device';

const P = 4096;
const N = 24;

type Cmd =
  | { op: 'mmap'; page: number; pages: number; prot: number; shared: boolean }
  | { op: 'munmap'; page: number; pages: number }
  | { op: 'mprotect'; page: number; pages: number; prot: number }
  | { op: 'mremap'; page: number; pages: number; newPages: number; dest: number; move: boolean }
  | { op: 'touch'; page: number; write: boolean }
  | { op: 'open'; dev: 'null' | 'zero' | 'testdev' }
  | { op: 'mmapfd'; fd: number; page: number; pages: number; shared: boolean }
  | { op: 'close'; fd: number }
  | { op: 'dup'; fd: number }
  | { op: 'socketpair'; dgram: boolean }
  | { op: 'send'; fd: number; pass: number }
  | { op: 'recv'; fd: number }
  | { op: 'fork'; child: Cmd[] }
  | { op: 'wait' };

const page = fc.integer({ min: 0, max: N - 1 });
const pages = fc.integer({ min: 1, max: 6 });
const prot = fc.integer({ min: 0, max: 7 });
const fdIdx = fc.nat(20);

const leaf: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant('mmap' as const), page, pages, prot, shared: fc.boolean() }),
  fc.record({ op: fc.constant('munmap' as const), page, pages }),
  fc.record({ op: fc.constant('mprotect' as const), page, pages, prot }),
  fc.record({ op: fc.constant('mremap' as const), page, pages, newPages: pages, dest: page, move: fc.boolean() }),
  fc.record({ op: fc.constant('touch' as const), page, write: fc.boolean() }),
  fc.record({
    op: fc.constant('open' as const),
    dev: fc.constantFrom('null' as const, 'zero' as const, 'testdev' as const),
  }),
  fc.record({ op: fc.constant('mmapfd' as const), fd: fdIdx, page, pages, shared: fc.boolean() }),
  fc.record({ op: fc.constant('close' as const), fd: fdIdx }),
  fc.record({ op: fc.constant('dup' as const), fd: fdIdx }),
  fc.record({ op: fc.constant('socketpair' as const), dgram: fc.boolean() }),
  fc.record({ op: fc.constant('send' as const), fd: fdIdx, pass: fdIdx }),
  fc.record({ op: fc.constant('recv' as const), fd: fdIdx }),
  fc.constant({ op: 'wait' as const }),
);
const program: fc.Arbitrary<Cmd[]> = fc.array(
  fc.oneof(
    { weight: 12, arbitrary: leaf },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('fork' as const), child: fc.array(leaf, { maxLength: 8 }) }) },
  ),
  { maxLength: 30 },
);

/** Runs one command; results are ignored (errors are fine), only exceptions and invariants matter. */
async function exec(sys: Sys, libc: Libc, base: number, c: Cmd, k: Kernel): Promise<void> {
  const fds = async (): Promise<number[]> => {
    let list: number[] = [];
    await sys.kcall('fds', (t) => {
      list = t.files!.list().map(([fd]) => fd);
      return 0;
    });
    return list;
  };
  const pick = async (i: number) => {
    const l = await fds();
    return l.length ? l[i % l.length]! : -1;
  };
  const span = (p: number, n: number) => Math.min(n, N - p);
  switch (c.op) {
    case 'mmap':
      await sys.mmap(
        base + c.page * P,
        span(c.page, c.pages) * P,
        c.prot,
        (c.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED,
        -1,
        0,
      );
      return;
    case 'munmap':
      await sys.munmap(base + c.page * P, span(c.page, c.pages) * P);
      return;
    case 'mprotect':
      await sys.mprotect(base + c.page * P, span(c.page, c.pages) * P, c.prot);
      return;
    case 'mremap': {
      const old = span(c.page, c.pages);
      const nw = span(c.dest, c.newPages);
      if (c.move)
        await sys.mremap(base + c.page * P, old * P, nw * P, MREMAP_MAYMOVE | MREMAP_FIXED, base + c.dest * P);
      else await sys.mremap(base + c.page * P, old * P, span(c.page, c.newPages) * P, 0);
      return;
    }
    case 'touch':
      if (c.write) await sys.copyToUser(base + c.page * P, new Uint8Array([1]));
      else await sys.copyFromUser(base + c.page * P, new Uint8Array(1));
      return;
    case 'open':
      await libc.open(`/dev/${c.dev}`, O_RDWR);
      return;
    case 'mmapfd':
      await sys.mmap(
        base + c.page * P,
        span(c.page, c.pages) * P,
        1,
        (c.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED,
        await pick(c.fd),
        0,
      );
      return;
    case 'close':
      await sys.close(await pick(c.fd));
      return;
    case 'dup':
      await sys.dup(await pick(c.fd));
      return;
    case 'socketpair':
      await libc.socketpair(AF_UNIX, c.dgram ? SOCK_DGRAM : SOCK_STREAM);
      return;
    case 'send':
      await libc.sendmsg(await pick(c.fd), new Uint8Array([7]), [await pick(c.pass)], MSG_DONTWAIT);
      return;
    case 'recv':
      await libc.recvmsg(await pick(c.fd), 4, 2, MSG_DONTWAIT);
      return;
    case 'fork':
      await sys.fork(async (cs) => {
        const cl = new Libc(cs);
        for (const cc of c.child) await step(cs, cl, base, cc, k);
        return 0;
      });
      return;
    case 'wait':
      await sys.wait4(-1, 0, 1 /* WNOHANG */);
      return;
    default: {
      const _exhaustive: never = c;
      throw new Error(`unknown command ${JSON.stringify(_exhaustive)}`);
    }
  }
}

async function step(sys: Sys, libc: Libc, base: number, c: Cmd, k: Kernel): Promise<void> {
  await exec(sys, libc, base, c, k);
  await sys.kcall('invariants', () => {
    const bad = checkInvariants(k);
    if (bad.length) throw new Error(`after ${JSON.stringify(c)}:\n${bad.join('\n')}`);
    return 0;
  });
}

async function runProgram(cmds: Cmd[], seed: number): Promise<void> {
  const k = new Kernel({ seed, ramBytes: 8 << 20, onHostError: 'throw' });
  registerTestDevice(k, '/dev/testdev', { pfns: [] });
  k.spawn(async (sys) => {
    const libc = new Libc(sys);
    const base = await sys.mmap(0, N * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (const c of cmds) await step(sys, libc, base, c, k);
    return 0;
  });
  const r = await k.run({ maxSteps: 200_000 });
  expect(['idle', 'deadlock']).toContain(r.kind);
  const bad = checkInvariants(k);
  expect(bad).toEqual([]);
  if (r.kind === 'idle') {
    expect(k.pages.usedPages, 'all RAM is freed once every process is gone').toBe(0);
    expect(
      [...k.liveFiles].map((f) => f.inode.path),
      'every description is released',
    ).toEqual([]);
  }
}

describe('kernel properties', () => {
  it('random programs keep the invariants and free everything at the end', async () => {
    await fc.assert(
      fc.asyncProperty(program, fc.nat(1000), async (cmds, seed) => {
        await runProgram(cmds, seed);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 60), verbose: 1 },
    );
  });
});

describe('the invariant checker', () => {
  it('reports a corrupted reference count, a PTE outside every VMA and a leaked frame', async () => {
    const k = new Kernel({ seed: 1 });
    const found: string[][] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/null', O_RDWR);
      const a = await sys.mmap(0, P, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(a, new Uint8Array([1]));
      await sys.kcall('corrupt', (t) => {
        found.push(checkInvariants(k));
        const f = t.files!.get(fd)!;
        f.get();
        found.push(checkInvariants(k));
        f.put();
        const pfn = t.mm!.pageTable.lookup(a / P)!.pfn;
        t.mm!.pageTable.set(a / P + 100, pfn, 1);
        found.push(checkInvariants(k));
        t.mm!.pageTable.clear(a / P + 100);
        const leaked = k.pages.alloc()!;
        found.push(checkInvariants(k));
        k.pages.put(leaked);
        return 0;
      });
      return 0;
    });
    await k.run();
    expect(found[0]).toEqual([]);
    expect(found[1]!.join()).toMatch(/refcount 2, references 1/);
    expect(found[2]!.join()).toMatch(/outside every VMA/);
    expect(found[3]!.join()).toMatch(/refcount 1, references 0/);
  });
});
