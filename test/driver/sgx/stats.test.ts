/**
 * Per-enclave statistics (stats.ts) against counts derived independently of the counters: the ENCLS trace (every
 * EADD, EWB and ELDU with the enclave it worked on and its SGX status), the EPCM (which pages are valid, of which
 * type, under which SECS) and sgx_encl_grow()'s rule for VA pages. Two enclaves page against each other on a small
 * EPC, so every count must land on the right enclave.
 */
import { describe, expect, it } from 'vitest';
import { type SgxEncl, type SgxEnclaveStats, sgxCheckInvariants, sgxStats } from '../../../src/driver/index';
import { PAGE_SIZE, PageType } from '../../../src/hw/index';
import { Libc } from '../../../src/kernel/index';
import { buildEnclaveWithDriver } from '../../../src/sdk/index';
import { makeSgxSystem, sampleEnclave } from '../fixtures/sgx-system';

const P = PAGE_SIZE;
/** SGX_VA_SLOT_COUNT: a VA page holds 512 8-byte versions. */
const VA_SLOTS = 512;

describe('per-enclave statistics', () => {
  it('evicted, reloaded, vaPages and vaSlotsUsed of two paging enclaves match the ENCLS trace and the EPCM', async () => {
    const s = makeSgxSystem({ epcPages: 64 });
    // 600 heap pages: more than 512 enclave pages, so the big enclave needs a second VA page.
    const big = sampleEnclave(600 * P);
    const small = sampleEnclave(16 * P);
    let encls: SgxEncl[] = [];
    let snapshot: SgxEnclaveStats[] = [];
    let totals = { evicted: 0, reloaded: 0, vaPages: 0 };
    const epcm = { va: 0, children: new Map<number, number>(), secs: new Map<number, boolean>() };
    let seqAtSnapshot = 0;
    s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const built = [];
      for (const [e, touched] of [
        [small, 16],
        [big, 48],
      ] as const) {
        const r = await buildEnclaveWithDriver(sys, libc, { layout: e.layout, sigstruct: e.sigstruct });
        const heap = e.layout.segments.find((x) => x.kind === 'heap')!;
        built.push({ base: r.base + heap.offset, touched });
      }
      encls = [...s.sgx.enclaves];
      // Sweeps in turn: each enclave's heap is evicted while the other one is swept, and faulted back in (host loads
      // go through sgx_vma_fault(), which reloads with ELDU) on its next sweep.
      for (let round = 0; round < 3; round++)
        for (const b of built) for (let i = 0; i < b.touched; i++) await sys.load(b.base + i * P, 1);
      // One atomic look at everything, both enclaves alive.
      await sys.kcall('snapshot', () => {
        const st = sgxStats(s.sgx);
        snapshot = [...st.enclaves];
        totals = { evicted: st.evicted, reloaded: st.reloaded, vaPages: st.vaPages };
        seqAtSnapshot = s.k.trace.count;
        for (const [index, entry] of s.m.epcm.validEntries()) {
          if (entry.pt === PageType.VA) epcm.va++;
          for (const encl of encls) {
            if (entry.pt === PageType.SECS && encl.secs.epcPage?.index === index) epcm.secs.set(encl.id, true);
            const child = entry.pt === PageType.REG || entry.pt === PageType.TCS;
            if (child && entry.enclaveSecs === encl.secs.epcPage?.index)
              epcm.children.set(encl.id, (epcm.children.get(encl.id) ?? 0) + 1);
          }
        }
        return 0;
      });
      return 0;
    });
    await s.k.run({ maxSteps: 2_000_000 });
    expect(snapshot).toHaveLength(2);
    expect(s.k.trace.events.length, 'the trace kept every event').toBe(s.k.trace.count);

    const events = s.k.trace.events.filter((e) => e.seq < seqAtSnapshot && e.ev === 'encls');
    const count = (id: number, leaf: string, secs: boolean | undefined) =>
      events.filter(
        (e) =>
          e.data?.encl === id &&
          e.data?.leaf === leaf &&
          e.data?.ret === 'SGX_SUCCESS' &&
          (secs === undefined || Boolean(e.data?.secs) === secs),
      ).length;
    for (const st of snapshot) {
      const id = st.id;
      const added = count(id, 'EADD', undefined);
      const ewb = count(id, 'EWB', false);
      const eldu = count(id, 'ELDU', false);
      const secsOut = count(id, 'EWB', true) - count(id, 'ELDU', true);
      const resident = epcm.children.get(id) ?? 0;
      const derived = {
        // sgx_reclaimer_write(): one successful EWB of a child page per eviction (the SECS is counted apart).
        evicted: ewb,
        // sgx_encl_eldu() for a child page (the SECS reload is counted apart).
        reloaded: eldu,
        // sgx_encl_grow(): a VA page whenever page_cnt (the SECS + every added page) is a multiple of 512.
        vaPages: Math.ceil((1 + added) / VA_SLOTS),
        // A VA slot per page in backing: every EWB takes one, every ELDU frees one (the SECS's included).
        vaSlotsUsed: ewb - eldu + secsOut,
      };
      expect(
        { evicted: st.evicted, reloaded: st.reloaded, vaPages: st.vaPages, vaSlotsUsed: st.vaSlotsUsed },
        `enclave ${id}`,
      ).toEqual(derived);
      // The hardware's view agrees: pages not valid under this SECS in the EPCM are in backing, each with a slot.
      expect(st.pages).toBe(added);
      expect(st.resident).toBe(resident);
      expect(st.secsResident).toBe(epcm.secs.get(id) ?? false);
      expect(st.vaSlotsUsed).toBe(added - resident + (st.secsResident ? 0 : 1));
      // Both enclaves really paged: evictions and reloads caused by their own faults.
      expect(st.evicted, `enclave ${id} evicted`).toBeGreaterThan(0);
      expect(st.reloaded, `enclave ${id} reloaded`).toBeGreaterThan(0);
    }
    // Every reload was on behalf of a fault (no ptrace-style access here): the next sgx_vma_fault() after each child
    // ELDU maps that very page, so reloaded counts faults that found the page in backing.
    const trail = s.k.trace.events.filter(
      (e) => e.seq < seqAtSnapshot && (e.ev === 'sgx_vma_fault' || (e.ev === 'encls' && e.data?.leaf === 'ELDU')),
    );
    for (const st of snapshot) {
      let faultsThatReloaded = 0;
      trail.forEach((e, i) => {
        if (e.ev !== 'encls' || e.data?.encl !== st.id || e.data?.secs || e.data?.ret !== 'SGX_SUCCESS') return;
        const next = trail.slice(i + 1).find((x) => x.ev === 'sgx_vma_fault');
        if (next?.data?.encl === st.id && next.data?.addr === e.data?.addr && next.data?.pfn !== undefined)
          faultsThatReloaded++;
      });
      expect(faultsThatReloaded, `enclave ${st.id}: faults that reloaded`).toBe(st.reloaded);
    }
    const [a, b] = snapshot;
    expect([a!.vaPages, b!.vaPages].sort()).toEqual([1, 2]);
    expect(a!.vaPages + b!.vaPages, 'VA pages valid in the EPCM').toBe(epcm.va);
    expect(totals).toEqual({
      evicted: a!.evicted + b!.evicted,
      reloaded: a!.reloaded + b!.reloaded,
      vaPages: a!.vaPages + b!.vaPages,
    });
    expect(sgxCheckInvariants(s.sgx)).toEqual([]);
  });
});
