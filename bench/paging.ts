/**
 * Issue 7's paging benchmarks on the whole platform: the sample enclave with a heap four times the EPC, swept page
 * by page from inside the enclave (ENCL_OP_PUT_TO_ADDRESS through the vDSO). Every access to an evicted page
 * takes the real path: #PF in enclave mode → AEX → sgx_vma_fault() → ELDU (after ksgxd's or direct reclaim's
 * EBLOCK/ETRACK/IPI/EWB of a victim) → ERESUME.
 * - Wall time per swept page, against the same sweep over a heap that stays resident.
 * - The virtual cycles the cost model charges per EPC page fault, against the published figure of about 40,000
 *   cycles (Orenbach et al., "Eleos", EuroSys 2017, §2).
 */
import { performance } from 'node:perf_hooks';
import { sgxStats } from '../src/driver/index';
import { PAGE_SIZE } from '../src/hw/index';
import { Libc } from '../src/kernel/index';
import { EEXIT } from '../src/vdso/index';
import { buildSample, enclCall, Op, OpStruct, platform, Run } from '../test/vdso/fixture';
import type { Bench, BenchRow } from './lib';

const EPC_PAGES = 128;

interface Sweep {
  readonly wallPerPage: number;
  readonly cyclesPerPage: number;
  readonly faults: number;
  /** Ops in the measured passes. */
  readonly ops: number;
  readonly pages: number;
}

/** Sweeps `heapPages` heap pages `warm` times, then measures `measured` more passes. */
async function sweep(heapPages: number, warm: number, measured: number): Promise<Sweep> {
  const p = platform({
    seed: 'bench-paging',
    epcPages: EPC_PAGES,
    costs: { tickCycles: 250_000, timesliceCycles: 250_000 },
  });
  let result: Sweep | undefined;
  p.k.spawn(async (sys) => {
    const libc = new Libc(sys);
    const e = await buildSample(sys, heapPages * PAGE_SIZE);
    const heap = e.base + e.layout.segments.find((s) => s.kind === 'heap')!.offset;
    const run = await Run.alloc(sys, libc, e.base);
    const op = await OpStruct.alloc(sys, libc);
    const onePass = async (pass: number) => {
      for (let i = 0; i < heapPages; i++) {
        await enclCall(
          sys,
          await op.set(Op.PUT_TO_ADDRESS, BigInt(pass * 1000 + i), BigInt(heap + i * PAGE_SIZE)),
          run,
        );
        const x = await run.exception();
        if (x.function !== EEXIT) throw new Error(`sweep: unexpected exception ${JSON.stringify(x, (_, v) => `${v}`)}`);
      }
    };
    for (let pass = 0; pass < warm; pass++) await onePass(pass);
    const reloaded0 = sgxStats(p.sgx).reloaded;
    const c0 = await sys.kcall('clock', (t) => t.now());
    const t0 = performance.now();
    for (let pass = warm; pass < warm + measured; pass++) await onePass(pass);
    const wall = (performance.now() - t0) / 1000;
    const cycles = (await sys.kcall('clock', (t) => t.now())) - c0;
    const ops = heapPages * measured;
    result = {
      wallPerPage: wall / ops,
      cyclesPerPage: cycles / ops,
      faults: sgxStats(p.sgx).reloaded - reloaded0,
      ops,
      pages: heapPages,
    };
    return 0;
  });
  await p.k.run();
  if (!result) throw new Error('sweep did not finish');
  return result;
}

async function rows(): Promise<BenchRow[]> {
  // Both measure 1,024 ops after warming up: two passes over a heap 4× the EPC, and 32 passes over a resident
  // heap of a quarter of the EPC.
  const over = await sweep(4 * EPC_PAGES, 1, 2);
  const fit = await sweep(EPC_PAGES / 4, 3, 32);
  const perFault = (over.cyclesPerPage - fit.cyclesPerPage) * (over.ops / Math.max(over.faults, 1));
  return [
    {
      name: `sweep of a heap 4× the EPC (${over.pages} pages, EPC ${EPC_PAGES} pages): wall time per page`,
      value: over.wallPerPage * 1e6,
      unit: 'µs',
      reference: { name: 'the same op on a resident page', value: fit.wallPerPage * 1e6 },
      better: 'lower',
      note: `${over.faults} ELDU faults in ${over.ops} measured ops; ${(1 / over.wallPerPage).toFixed(0)} pages/s`,
    },
    {
      name: 'virtual cycles charged per EPC page fault (AEX, fault, EWB of a victim, ELDU, ERESUME)',
      value: perFault,
      unit: ' cycles',
      reference: { name: 'published figure (Eleos, EuroSys 2017)', value: 40_000 },
      better: 'lower',
      goal: '≈ 1×',
      note: `the faulting thread's marginal cycles over a resident sweep (${over.cyclesPerPage.toFixed(0)} vs ${fit.cyclesPerPage.toFixed(0)} per op); the victim's EWB runs in ksgxd on another CPU`,
    },
  ];
}

const bench: Bench = { title: 'EPC paging under oversubscription', run: rows };
export default bench;
