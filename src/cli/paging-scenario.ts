/**
 * Paging under pressure, for `sgxsim demo`, `sgxsim stats` and the reclaim tests: one DEBUG enclave whose heap is
 * several times the EPC, mapped by several processes (fork) with several threads each, every thread touching the
 * heap pages in its own seeded random order. Host code cannot read enclave memory (it sees the abort page), so
 * each heap page first gets a tag written through the debugger path (EDBGWR via vm_ops->access), and at the end
 * every tag is read back (EDBGRD) and compared: what paging wrote out and loaded back must be intact.
 */
import { type SgxStats, sgxCheckInvariants, sgxStats } from '../driver/index';
import { AttrFlags, PAGE_SIZE, Rng } from '../hw/index';
import { accessRemoteVm, CLONE_FILES, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, Libc, type Sys } from '../kernel/index';
import type { EnclaveLayout } from '../sdk/index';
import { buildEnclaveWithDriver } from '../sdk/index';
import type { SgxSystem } from '../vdso/index';

export interface PagingScenario {
  readonly system: SgxSystem;
  /** A layout with a large heap, and its SIGSTRUCT. */
  readonly layout: EnclaveLayout;
  readonly sigstruct: Uint8Array;
  readonly processes: number;
  readonly threads: number;
  /** Times each thread touches every heap page. */
  readonly passes: number;
  readonly seed: number | string;
  /** Called by the workers every `checkEvery` touches (tests check invariants there). */
  readonly checkEvery?: number;
  readonly onCheck?: (sys: Sys) => Promise<void>;
}

export interface PagingReport {
  readonly heapPages: number;
  readonly touches: number;
  /** Heap pages whose tag read back intact, and those that did not. */
  readonly verified: number;
  readonly corrupted: number;
  /** Invariant violations found after the run (should be none). */
  readonly violations: readonly string[];
  /** Stats while the enclave was alive (after the workload) and after every process exited. */
  readonly during: SgxStats;
  readonly after: SgxStats;
}

const TAG = 0x5a5a_0000_0000_0000n;

/**
 * Reads or writes 8 bytes at `addr` through vm_ops->access, retrying while the driver reports the page busy (it
 * is being written out, or no EPC page is free until ksgxd frees some).
 */
async function debugAccess(sys: Sys, addr: number, buf: Uint8Array, write: boolean): Promise<boolean> {
  for (let i = 0; i < 10_000; i++) {
    const n = await sys.kcall('access', (t) => accessRemoteVm(t.mm!, addr, buf, write));
    if (n === buf.length) return true;
    await sys.sched_yield();
  }
  return false;
}

/** Runs the workload to completion. */
export async function runPagingScenario(o: PagingScenario): Promise<PagingReport> {
  const { k, sgx } = o.system;
  const heap = o.layout.segments.find((s) => s.kind === 'heap');
  if (!heap) throw new Error('the layout has no heap');
  const heapPages = heap.size / PAGE_SIZE;
  let touches = 0;
  let verified = 0;
  let corrupted = 0;
  let during: SgxStats | undefined;
  const rng = new Rng(o.seed);
  k.spawn(
    async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, {
        layout: o.layout,
        sigstruct: o.sigstruct,
        attributes: AttrFlags.MODE64BIT | AttrFlags.DEBUG,
      });
      const heapBase = e.base + heap.offset;
      const tag = (i: number) => {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setBigUint64(0, TAG | BigInt(i), true);
        return b;
      };
      for (let i = 0; i < heapPages; i++) await debugAccess(sys, heapBase + i * PAGE_SIZE + 64, tag(i), true);
      // The workers: processes (fork) × threads (clone), each touching every page `passes` times.
      let running = 0;
      const worker = async (ws: Sys, order: number[]) => {
        for (let p = 0; p < o.passes; p++) {
          for (const i of order) {
            await ws.load(heapBase + i * PAGE_SIZE, 1);
            touches++;
            if (o.onCheck && touches % (o.checkEvery ?? 64) === 0) await o.onCheck(ws);
          }
        }
        running--;
      };
      const shuffled = () => {
        const a = Array.from({ length: heapPages }, (_, i) => i);
        for (let i = a.length - 1; i > 0; i--) {
          const j = rng.below(i + 1);
          [a[i], a[j]] = [a[j]!, a[i]!];
        }
        return a;
      };
      const children: number[] = [];
      for (let p = 0; p < o.processes; p++) {
        const orders = Array.from({ length: o.threads }, shuffled);
        running += o.threads;
        children.push(
          await sys.fork(async (ps) => {
            for (const order of orders.slice(1))
              await ps.clone(CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, (ts) =>
                worker(ts, order).then(() => 0),
              );
            await worker(ps, orders[0]!);
            while (running > 0) await ps.sched_yield();
            return 0;
          }),
        );
      }
      for (const c of children) await libc.waitpid(c);
      for (let i = 0; i < heapPages; i++) {
        const b = new Uint8Array(8);
        const ok = await debugAccess(sys, heapBase + i * PAGE_SIZE + 64, b, false);
        if (ok && b.every((x, j) => x === tag(i)[j])) verified++;
        else corrupted++;
      }
      during = sgxStats(sgx);
      return 0;
    },
    { comm: 'paging' },
  );
  await k.run({ maxSteps: 5_000_000 });
  k.spawn(async (sys) => {
    while (sgx.reclaimInFlight) await sys.sched_yield();
    return 0;
  });
  await k.run({ maxSteps: 10_000 });
  if (!during) throw new Error('the paging workload did not finish');
  return {
    heapPages,
    touches,
    verified,
    corrupted,
    violations: sgxCheckInvariants(sgx),
    during,
    after: sgxStats(sgx),
  };
}
