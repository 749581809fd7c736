/**
 * EPC oversubscription (main.c reclaim, encl.c ELDU): an enclave ten times the EPC, used by three processes with
 * two threads each, every heap page tagged through the debugger path (EDBGWR) before and read back (EDBGRD) after
 * heavy paging. The driver's invariants are checked all along — in particular every evicted page has no PTE in any
 * mm and its version sits in a VA slot of its own — and the same seed gives the same trace.
 */
import { describe, expect, it } from 'vitest';
import { runPagingScenario } from '../../../src/cli/paging-scenario';
import { sgxCheckInvariants } from '../../../src/driver/index';
import { PAGE_SIZE } from '../../../src/hw/index';
import type { Sys } from '../../../src/kernel/index';
import { nodeBackend } from '../../../src/node/index';
import { bootPlatform } from '../../../src/vdso/index';
import { sampleEnclave } from '../fixtures/sgx-system';

async function run(seed: string, epcPages: number, heapPages: number, processes: number, threads: number) {
  const system = bootPlatform({ crypto: nodeBackend, epcPages, seed, cpus: 2 });
  const { layout, sigstruct } = sampleEnclave(heapPages * PAGE_SIZE);
  const violations: string[] = [];
  let checks = 0;
  const r = await runPagingScenario({
    system,
    layout,
    sigstruct,
    processes,
    threads,
    passes: 1,
    seed,
    checkEvery: 97,
    onCheck: async (sys: Sys) => {
      await sys.kcall('invariants', () => {
        checks++;
        violations.push(...sgxCheckInvariants(system.sgx));
        return 0;
      });
    },
  });
  return { system, layout, r, violations, checks };
}

describe('an enclave ten times the EPC', () => {
  it('used by 3 processes × 2 threads keeps every page intact, the invariants true, and leaks nothing', async () => {
    const epcPages = 32;
    const { system, layout, r, violations, checks } = await run('oversub', epcPages, 10 * epcPages, 3, 2);
    expect(layout.pages.length).toBeGreaterThanOrEqual(10 * epcPages);
    expect(r.touches).toBe(3 * 2 * 10 * epcPages);
    expect(r.corrupted, 'no heap page lost or corrupted').toBe(0);
    expect(r.verified).toBe(r.heapPages);
    expect(checks).toBeGreaterThan(10);
    expect(violations, 'invariants during the run').toEqual([]);
    expect(r.violations, 'invariants at the end').toEqual([]);
    // Heavy paging happened, by ksgxd and directly, with faults retried while no EPC page was free.
    expect(r.during.evicted).toBeGreaterThan(2 * r.heapPages);
    expect(r.during.reloaded).toBeGreaterThan(2 * r.heapPages);
    expect(r.during.ksgxdBatches).toBeGreaterThan(0);
    expect(system.sgx.stats.faultBusy).toBeGreaterThan(0);
    // Every EWB and ELDU is in the kernel trace.
    const encls = system.k.trace.events.filter((e) => e.ev === 'encls');
    expect(encls.some((e) => e.data?.leaf === 'EWB')).toBe(true);
    expect(encls.some((e) => e.data?.leaf === 'ELDU')).toBe(true);
    expect(system.sgx.stats.encls.EWB! - system.sgx.stats.ewbEtrack).toBeGreaterThanOrEqual(r.during.evicted);
    // After exit: every EPC page free, nothing valid in the EPCM, no backing left.
    expect(r.after.usedPages).toBe(0);
    expect(r.after.enclaves).toEqual([]);
    expect(system.m.epcm.validCount).toBe(0);
    expect(system.k.pages.usedPages, 'RAM: only the driver scratch page and init').toBeLessThan(8);
  });

  it('runs the same way for the same seed (trace hash), and differently for another', async () => {
    const a = await run('seed-a', 40, 120, 2, 1);
    const b = await run('seed-a', 40, 120, 2, 1);
    const c = await run('seed-c', 40, 120, 2, 1);
    expect(a.system.k.trace.digest()).toBe(b.system.k.trace.digest());
    expect(a.r.during.evicted).toBe(b.r.during.evicted);
    expect(c.system.k.trace.digest()).not.toBe(a.system.k.trace.digest());
    for (const x of [a, b, c]) expect(x.r.corrupted).toBe(0);
  });
});
