/**
 * EPC oversubscription with the enclave itself reading and writing (issue 7): the sample enclave with a heap
 * ten times the EPC, shared by three processes (fork) with two threads each, every thread writing its own
 * word of every heap page with ENCL_OP_PUT_TO_ADDRESS in a seeded order and reading it back with
 * ENCL_OP_GET_FROM_ADDRESS. Enclave accesses to evicted pages fault, the driver reloads them (ELDU) and the
 * enclave continues at the AEP; ksgxd evicts pages while threads are inside (the IPI's AEX finishes EWB's
 * tracking); six threads share two TCS, and an EENTER that finds its TCS busy (or interrupted: CSSA = NSSA) gets
 * #GP through the vDSO and tries again. Every value must read back exactly, the driver's invariants hold, and the
 * same seed gives the same trace.
 */
import { describe, expect, it } from 'vitest';
import { sgxCheckInvariants, sgxStats } from '../../src/driver/index';
import { PAGE_SIZE, Rng } from '../../src/hw/index';
import { CLONE_FILES, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, Libc, type Sys } from '../../src/kernel/index';
import { EENTER, EEXIT, type Platform } from '../../src/vdso/index';
import { buildSample, enclCall, Op, OpStruct, platform, Run } from '../vdso/fixture';

const P = PAGE_SIZE;

interface Report {
  readonly p: Platform;
  readonly written: number;
  readonly verified: number;
  readonly wrong: string[];
  readonly busy: number;
  readonly evictedDuring: number;
}

async function workload(seed: string, epcPages: number, heapPages: number, processes: number, threads: number) {
  // A 125 µs tick: a thread whose enclave access finds its page being written out retries the fault (the driver's
  // VM_FAULT_NOPAGE) until ksgxd gets a CPU, and guest code gives up its CPU only at a tick.
  const p = platform({ seed, epcPages, costs: { tickCycles: 250_000, timesliceCycles: 250_000 } });
  const rng = new Rng(seed);
  const wrong: string[] = [];
  let written = 0;
  let verified = 0;
  let busy = 0;
  let evictedDuring = 0;
  const value = (w: number, page: number) => (BigInt(w + 1) << 48n) | (BigInt(page) << 8n) | 0x5an;
  p.k.spawn(async (sys) => {
    const libc = new Libc(sys);
    const e = await buildSample(sys, heapPages * P);
    const heap = e.base + e.layout.segments.find((s) => s.kind === 'heap')!.offset;
    const order = () => {
      const a = Array.from({ length: heapPages }, (_, i) => i);
      for (let i = a.length - 1; i > 0; i--) {
        const j = rng.below(i + 1);
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    };
    /** One op on TCS `tcs`, again while the TCS is in use by another thread (#GP on EENTER). */
    const call = async (ts: Sys, run: Run, op: number) => {
      for (;;) {
        await enclCall(ts, op, run);
        const x = await run.exception();
        if (x.function === EEXIT) return;
        if (x.function === EENTER && x.vector === 13) {
          busy++;
          await run.clearException();
          await ts.sched_yield();
          continue;
        }
        throw new Error(`unexpected exception ${JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
      }
    };
    const worker = async (ts: Sys, w: number, pages: number[]) => {
      const tl = new Libc(ts);
      const run = await Run.alloc(ts, tl, e.base + (w % 2) * P);
      const op = await OpStruct.alloc(ts, tl);
      for (const i of pages) {
        await call(ts, run, await op.set(Op.PUT_TO_ADDRESS, value(w, i), BigInt(heap + i * P + 8 * w)));
        written++;
      }
      for (const i of pages) {
        await call(ts, run, await op.set(Op.GET_FROM_ADDRESS, 0n, BigInt(heap + i * P + 8 * w)));
        if ((await op.word(1)) === value(w, i)) verified++;
        else wrong.push(`worker ${w} page ${i}`);
      }
    };
    let running = 0;
    const children: number[] = [];
    for (let proc = 0; proc < processes; proc++) {
      const orders = Array.from({ length: threads }, order);
      running += threads;
      children.push(
        await sys.fork(async (ps) => {
          for (let t = 1; t < threads; t++)
            await ps.clone(CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, (ts) =>
              worker(ts, proc * threads + t, orders[t]!).then(() => {
                running--;
                return 0;
              }),
            );
          await worker(ps, proc * threads, orders[0]!);
          running--;
          while (running > 0) await ps.sched_yield();
          return 0;
        }),
      );
    }
    for (const c of children) await libc.waitpid(c);
    evictedDuring = sgxStats(p.sgx).evicted;
    // The parent reads a word of every page back too: what the children wrote survived paging and their exit.
    const run = await Run.alloc(sys, libc, e.base);
    const op = await OpStruct.alloc(sys, libc);
    for (let i = 0; i < heapPages; i++) {
      const w = i % (processes * threads);
      await call(sys, run, await op.set(Op.GET_FROM_ADDRESS, 0n, BigInt(heap + i * P + 8 * w)));
      if ((await op.word(1)) !== value(w, i)) wrong.push(`final: worker ${w} page ${i}`);
    }
    return 0;
  });
  await p.k.run({ maxSteps: 5_000_000 });
  return { p, written, verified, wrong, busy, evictedDuring } satisfies Report;
}

describe('an enclave heap ten times the EPC, read and written by the enclave', () => {
  it('from 3 processes × 2 threads reads back exactly what was written, through heavy paging', async () => {
    const epcPages = 32;
    const heapPages = 10 * epcPages;
    const r = await workload('enclave-oversub', epcPages, heapPages, 3, 2);
    const { p } = r;
    expect(r.wrong, 'every value read back as written').toEqual([]);
    expect(r.written).toBe(6 * heapPages);
    expect(r.verified).toBe(6 * heapPages);
    expect(r.evictedDuring, 'pages went out and came back many times').toBeGreaterThan(heapPages);
    expect(p.sgx.stats.encls.ELDU).toBeGreaterThan(heapPages);
    expect(p.stats.aexException, 'enclave accesses to evicted pages faulted and resumed').toBeGreaterThan(heapPages);
    expect(p.stats.aepResume).toBeGreaterThanOrEqual(p.stats.aexException);
    expect(r.busy, 'threads found their TCS busy and retried').toBeGreaterThan(0);
    expect(sgxCheckInvariants(p.sgx)).toEqual([]);
    expect(p.sgx.dmesg.filter((l) => l.includes('WARNING'))).toEqual([]);
  });

  it('runs the same way for the same seed (trace hash) and differently for another', async () => {
    const a = await workload('seed-a', 20, 40, 2, 2);
    const b = await workload('seed-a', 20, 40, 2, 2);
    const c = await workload('seed-c', 20, 40, 2, 2);
    for (const x of [a, b, c]) expect(x.wrong).toEqual([]);
    expect(a.p.k.trace.digest()).toBe(b.p.k.trace.digest());
    expect(c.p.k.trace.digest()).not.toBe(a.p.k.trace.digest());
  });
});
