/**
 * Random paging workloads: a DEBUG enclave with a random heap on a random small EPC, random processes and threads
 * touching random pages, extra direct reclaims at random moments, and a process killed part-way. Throughout, the
 * driver's invariants hold (every enclave page in exactly one place, EPC or backing with a VA slot of its own;
 * VA slots unique; the EPCM agrees with the page index; evicted pages mapped nowhere). At the end every tag
 * written with EDBGWR reads back intact with EDBGRD, and once everything exited no EPC page, VA slot or backing
 * page is left.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sgxCheckInvariants, sgxReclaimPages } from '../../../src/driver/index';
import { AttrFlags, PAGE_SIZE } from '../../../src/hw/index';
import {
  accessRemoteVm,
  CLONE_FILES,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  Libc,
  SIGKILL,
  type Sys,
} from '../../../src/kernel/index';
import { buildEnclaveWithDriver } from '../../../src/sdk/index';
import { checkInvariants } from '../../kernel/fixtures/invariants';
import { makeSgxSystem, sampleEnclave, sgxKernelFrames } from '../fixtures/sgx-system';

const P = PAGE_SIZE;

interface Workload {
  readonly epcPages: number;
  readonly heapPages: number;
  readonly seed: number;
  /** Per process, per thread: heap page indices to touch (taken modulo the heap). */
  readonly procs: number[][][];
  /** Kill process `victim` once this many touches happened in total (undefined: nobody). */
  readonly kill?: { readonly victim: number; readonly after: number };
  /** Direct reclaim passes triggered after these touch counts. */
  readonly reclaimAt: number[];
}

const workload: fc.Arbitrary<Workload> = fc.record({
  epcPages: fc.integer({ min: 24, max: 72 }),
  heapPages: fc.integer({ min: 8, max: 96 }),
  seed: fc.nat(10_000),
  procs: fc.array(fc.array(fc.array(fc.nat(200), { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 2 }), {
    minLength: 1,
    maxLength: 3,
  }),
  kill: fc.option(fc.record({ victim: fc.nat(2), after: fc.nat(80) }), { nil: undefined }),
  reclaimAt: fc.array(fc.nat(120), { maxLength: 4 }),
});

async function access(sys: Sys, addr: number, buf: Uint8Array, write: boolean): Promise<boolean> {
  for (let i = 0; i < 2000; i++) {
    if ((await sys.kcall('access', (t) => accessRemoteVm(t.mm!, addr, buf, write))) === buf.length) return true;
    await sys.sched_yield();
  }
  return false;
}

describe('random paging workloads', () => {
  it('keep every page in exactly one place, every tag intact, and leak nothing', async () => {
    await fc.assert(
      fc.asyncProperty(workload, async (w) => {
        const s = makeSgxSystem({ epcPages: w.epcPages, seed: w.seed, ramBytes: 32 << 20 });
        const ramBaseline = s.k.pages.usedPages;
        const { layout, sigstruct } = sampleEnclave(w.heapPages * P);
        const heap = layout.segments.find((x) => x.kind === 'heap')!;
        const violations: string[] = [];
        const bad: number[] = [];
        let touches = 0;
        const pending = [...w.reclaimAt].sort((a, b) => a - b);
        const check = (sys: Sys) =>
          sys.kcall('check', () => {
            while (pending.length && pending[0]! <= touches) {
              pending.shift();
              sgxReclaimPages(s.sgx);
            }
            violations.push(...sgxCheckInvariants(s.sgx));
            // The kernel's: VMAs, RSS, frame refcounts (backing pages come and go with every EWB and ELDU).
            violations.push(...checkInvariants(s.k, sgxKernelFrames(s.sgx)));
            return 0;
          });
        s.k.spawn(async (sys) => {
          const libc = new Libc(sys);
          const e = await buildEnclaveWithDriver(sys, libc, {
            layout,
            sigstruct,
            attributes: AttrFlags.MODE64BIT | AttrFlags.DEBUG,
          });
          const heapBase = e.base + heap.offset;
          const tag = (i: number) => new Uint8Array(new BigUint64Array([0xabcd_0000n + BigInt(i)]).buffer);
          for (let i = 0; i < w.heapPages; i++) await access(sys, heapBase + i * P + 8, tag(i), true);
          let running = 0;
          const worker = async (ws: Sys, list: number[]) => {
            for (const i of list) {
              await ws.load(heapBase + (i % w.heapPages) * P, 1);
              touches++;
              if (touches % 7 === 0) await check(ws);
            }
            running--;
          };
          const pids: number[] = [];
          for (const threads of w.procs) {
            running += threads.length;
            pids.push(
              await sys.fork(async (ps) => {
                for (const list of threads.slice(1))
                  await ps.clone(CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, (ts) =>
                    worker(ts, list).then(() => 0),
                  );
                await worker(ps, threads[0]!);
                while (running > 0) await ps.sched_yield();
                return 0;
              }),
            );
          }
          if (w.kill && w.kill.victim < pids.length) {
            while (touches < w.kill.after && running > 0) await sys.sched_yield();
            await sys.kill(pids[w.kill.victim]!, SIGKILL);
            // The victim's threads never finish their lists.
            running -= w.procs[w.kill.victim]!.length;
          }
          for (const pid of pids) await libc.waitpid(pid);
          await check(sys);
          for (let i = 0; i < w.heapPages; i++) {
            const b = new Uint8Array(8);
            if (!(await access(sys, heapBase + i * P + 8, b, false)) || !b.every((x, j) => x === tag(i)[j]))
              bad.push(i);
          }
          return 0;
        });
        const r = await s.k.run({ maxSteps: 2_000_000 });
        s.k.spawn(async (sys) => {
          while (s.sgx.reclaimInFlight) await sys.sched_yield();
          return 0;
        });
        await s.k.run({ maxSteps: 10_000 });
        expect(r.kind).toBe('idle');
        expect(violations, 'invariants during the run').toEqual([]);
        expect(bad, 'heap pages whose tag did not survive').toEqual([]);
        expect(sgxCheckInvariants(s.sgx)).toEqual([]);
        expect(s.sgx.enclaves.size).toBe(0);
        expect(s.sgx.nrFreePages, 'no EPC page leaked').toBe(w.epcPages);
        expect(s.m.epcm.validCount).toBe(0);
        expect(s.k.pages.usedPages, 'no backing page or kernel copy leaked').toBe(ramBaseline);
      }),
      { numRuns: Number(process.env.SGX_PROP_RUNS ?? 12), seed: Number(process.env.SGX_PROP_SEED ?? 424242) },
    );
  });
});
