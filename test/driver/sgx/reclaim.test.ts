/**
 * EPC reclaim and reload, rule by rule (main.c sgx_reclaim_pages() and friends, encl.c ELDU, linux-driver.md §4):
 * PTEs zapped in every mm, the SECS evicted last and loaded first, the backing layout, VA pages and slots, ksgxd's
 * watermarks, the reclaimer holding pages (EBUSY) and enclave references (release in ksgxd), the IPI that
 * finishes EWB's tracking, ELDU refusing altered or replayed backing (SIGBUS, the system survives), and what
 * allocation gives when nothing can be reclaimed.
 */
import { describe, expect, it } from 'vitest';
import {
  type Sgx,
  type SgxEncl,
  type SgxEnclPage,
  sgxAllocEpcPage,
  sgxCheckInvariants,
  sgxFreeEpcPage,
  sgxReclaimPages,
  sgxUnmarkPageReclaimable,
} from '../../../src/driver/index';
import {
  AttrFlags,
  decode,
  enclaveEnter,
  enclaveExit,
  getField,
  hiddenU64,
  PAGE_SIZE,
  PCMD,
  PfErr,
  PTE_A,
  SECINFO,
  SgxStatus,
} from '../../../src/hw/index';
import {
  accessRemoteVm,
  CLONE_FILES,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  doUserAddrFault,
  isErrno,
  type Kernel,
  Libc,
  type Mm,
  O_RDWR,
  SIGBUS,
  type Sys,
  type TlbFlushEvent,
  VM_READ,
} from '../../../src/kernel/index';
import { nodeBackend } from '../../../src/node/index';
import { buildEnclaveWithDriver } from '../../../src/sdk/index';
import { bootPlatform } from '../../../src/vdso/index';
import { Run } from '../../vdso/fixture';
import { buildCompute, ecall, ecallIndex, u32s } from '../../vdso/runtime-call';
import { ioctlAddPages, ioctlCreate, reserve, secsImage } from '../fixtures/ioctls';
import { makeSgxSystem, sampleEnclave } from '../fixtures/sgx-system';

const P = PAGE_SIZE;
const DEBUG = AttrFlags.MODE64BIT | AttrFlags.DEBUG;

const enclOf = (sys: Sys, fd: number) => sys.task.files!.get(fd)!.privateData as SgxEncl;
const dataSeg = (heap = P) => sampleEnclave(heap).layout.segments.find((s) => s.kind === 'load' && s.prot === 3)!;

/** Direct reclaim until `page` is out (a young page only loses its Accessed bit on the first pass). */
function evict(sgx: Sgx, page: SgxEnclPage): void {
  for (let i = 0; i < 8 && page.epcPage; i++) sgxReclaimPages(sgx);
  if (page.epcPage) throw new Error(`page 0x${page.addr.toString(16)} was not evicted`);
}

/** Waits until no ksgxd batch is in flight. */
async function settle(sys: Sys, sgx: Sgx) {
  while (sgx.reclaimInFlight) await sys.sched_yield();
}

/** Reads 8 bytes of a DEBUG enclave through EDBGRD (retrying while the page is busy). */
async function peek(sys: Sys, addr: number): Promise<bigint | undefined> {
  for (let i = 0; i < 1000; i++) {
    const b = new Uint8Array(8);
    const n = await sys.kcall('peek', (t) => accessRemoteVm(t.mm!, addr, b, false));
    if (n === 8) return new DataView(b.buffer).getBigUint64(0, true);
    await sys.sched_yield();
  }
  return undefined;
}

async function poke(sys: Sys, addr: number, v: bigint): Promise<void> {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  for (let i = 0; i < 1000; i++) {
    if ((await sys.kcall('poke', (t) => accessRemoteVm(t.mm!, addr, b, true))) === 8) return;
    await sys.sched_yield();
  }
  throw new Error('poke failed');
}

describe('eviction and reload', () => {
  it('zaps the page in every mm that maps it (one shootdown per mm); each mm faults it back on its own', async () => {
    const { k, sgx } = makeSgxSystem();
    const flushes: TlbFlushEvent[] = [];
    k.onTlbFlush((e) => flushes.push(e));
    const out: string[] = [];
    const { layout, sigstruct } = sampleEnclave();
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      const encl = enclOf(sys, e.fd);
      const addr = e.base + dataSeg().offset;
      const page = encl.pageArray.get(addr / P)!;
      const state = { touched: false, evicted: false, back: false };
      const child = await sys.fork(async (c) => {
        await c.load(addr, 1);
        state.touched = true;
        while (!state.evicted) await c.sched_yield();
        out.push(`B pte after eviction ${c.task.mm!.pageTable.lookup(addr / P) ? 'present' : 'none'}`);
        while (!state.back) await c.sched_yield();
        out.push(`B pte while A reloaded ${c.task.mm!.pageTable.lookup(addr / P) ? 'present' : 'none'}`);
        await c.load(addr, 1);
        out.push(`B pte after its own touch ${c.task.mm!.pageTable.lookup(addr / P)?.pfn === page.epcPage?.pfn}`);
        return 0;
      });
      await sys.load(addr, 1);
      while (!state.touched) await sys.sched_yield();
      const mmB = encl.mmList.find((x) => x.mm !== sys.task.mm)!.mm;
      await sys.kcall('evict', () => {
        flushes.length = 0;
        evict(sgx, page);
        return 0;
      });
      const zaps = flushes.filter((f) => f.start === addr && f.end === addr + P).map((f) => f.mm.id);
      out.push(`shootdowns ${zaps.sort().join(',') === [sys.task.mm!.id, mmB.id].sort().join(',')}`);
      out.push(`A pte after eviction ${sys.task.mm!.pageTable.lookup(addr / P) ? 'present' : 'none'}`);
      state.evicted = true;
      const eldu = sgx.stats.reloaded;
      await sys.load(addr, 1);
      out.push(`A reloaded ${sgx.stats.reloaded - eldu}`);
      state.back = true;
      await libc.waitpid(child);
      out.push(`one ELDU for both ${sgx.stats.reloaded - eldu}`);
      out.push(`invariants ${sgxCheckInvariants(sgx).join('; ') || 'ok'}`);
      return 0;
    });
    await k.run({ maxSteps: 100_000 });
    expect(out).toEqual([
      'shootdowns true',
      'A pte after eviction none',
      'B pte after eviction none',
      'A reloaded 1',
      'B pte while A reloaded none',
      'B pte after its own touch true',
      'one ELDU for both 1',
      'invariants ok',
    ]);
  });

  it('evicts the SECS after the last child of an initialized enclave and loads it first; an uninitialized one keeps it', async () => {
    for (const init of [true, false]) {
      const { k, sgx } = makeSgxSystem();
      const out: string[] = [];
      const { layout, sigstruct } = sampleEnclave();
      k.spawn(async (sys) => {
        const libc = new Libc(sys);
        const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct, noInit: !init });
        const encl = enclOf(sys, e.fd);
        await sys.kcall('evict all', () => {
          for (const p of encl.pageArray.values()) evict(sgx, p);
          return 0;
        });
        out.push(`children ${encl.secsChildCnt}, SECS ${encl.secs.epcPage ? 'resident' : 'evicted'}`);
        out.push(`backing SECS slot ${encl.backing!.pages.has(encl.size / P)}`);
        if (init) {
          const addr = e.base + dataSeg().offset;
          const from = k.trace.count;
          await sys.load(addr, 1);
          const loads = k.trace.events.filter((x) => x.seq >= from && x.ev === 'encls' && x.data?.leaf === 'ELDU');
          out.push(
            `loads ${loads.map((x) => (x.data!.secs ? 'SECS' : `0x${(x.data!.addr as number).toString(16)}`)).join(' then ')}`,
          );
          out.push(`addr ${addr === (loads[1]?.data?.addr as number)}`);
        }
        out.push(`invariants ${sgxCheckInvariants(sgx).join('; ') || 'ok'}`);
        return 0;
      });
      await k.run({ maxSteps: 100_000 });
      if (init) {
        expect(out[0]).toBe('children 0, SECS evicted');
        expect(out[1]).toBe('backing SECS slot true');
        expect(out[2]).toMatch(/^loads SECS then 0x[0-9a-f]+$/);
        expect(out.slice(3)).toEqual(['addr true', 'invariants ok']);
      } else expect(out).toEqual(['children 0, SECS resident', 'backing SECS slot false', 'invariants ok']);
      expect(sgx.nrFreePages).toBe(256);
    }
  });

  it('writes page i at backing index i and its PCMD (EID, SECINFO, MAC) at size + 4096 + i·128; ELDU clears both', async () => {
    const { k, sgx, m } = makeSgxSystem();
    const out: string[] = [];
    const { layout, sigstruct } = sampleEnclave();
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      const encl = enclOf(sys, e.fd);
      const addr = e.base + dataSeg().offset + P;
      const page = encl.pageArray.get(addr / P)!;
      const i = (addr - e.base) / P;
      const eid = hiddenU64(m.epcPage(encl.secs.epcPage!.index), 'eid');
      await sys.kcall('evict', () => {
        evict(sgx, page);
        return 0;
      });
      const b = encl.backing!;
      const pcmdOff = encl.size + P + i * 128;
      const pcmdPfn = b.pages.get(Math.floor(pcmdOff / P));
      out.push(`contents at ${i}: ${b.pages.has(i)}, PCMD page: ${pcmdPfn !== undefined}`);
      const pcmd = decode(PCMD, k.mem.read(pcmdPfn! * P + (pcmdOff % P), 128));
      out.push(
        `PCMD EID ${pcmd.enclaveId === eid}, type ${getField(SECINFO, pcmd.secinfo, 0, 'flags') >> 8n}, MAC set ${pcmd.mac.some((x) => x !== 0)}`,
      );
      const va = page.vaPage!;
      const slot = page.vaOffset >> 3;
      out.push(`slot ${va.slots[slot]}`);
      await sys.load(addr, 1);
      const pcmdPage = b.pages.get(Math.floor(pcmdOff / P));
      const entry = pcmdPage === undefined ? new Uint8Array(128) : k.mem.read(pcmdPage * P + (pcmdOff % P), 128);
      out.push(
        `after ELDU: contents ${b.pages.has(i)}, PCMD entry zero ${entry.every((x) => x === 0)}, slot ${va.slots[slot]}`,
      );
      // A PCMD page is truncated once all its entries are zero (the other pages of the batch still use it here).
      const others = [...encl.pageArray.values()].filter(
        (p) => !p.epcPage && Math.floor((encl.size + P + p.pageIndex * 128) / P) === Math.floor(pcmdOff / P),
      );
      out.push(
        `PCMD page kept for ${others.length > 0 ? 'the other evicted pages' : 'nobody'}: ${pcmdPage !== undefined}`,
      );
      return 0;
    });
    await k.run({ maxSteps: 100_000 });
    expect(out).toEqual([
      'contents at 4: true, PCMD page: true',
      'PCMD EID true, type 2, MAC set true',
      'slot 1',
      'after ELDU: contents false, PCMD entry zero true, slot 0',
      'PCMD page kept for the other evicted pages: true',
    ]);
  });

  it('takes a VA page per 512 enclave pages; a full one moves to the tail, a freed slot moves its page to the head', async () => {
    const { k, sgx } = makeSgxSystem({ epcPages: 64 });
    const out: string[] = [];
    const { layout, sigstruct } = sampleEnclave(1100 * P);
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      const encl = enclOf(sys, e.fd);
      const vas = () => encl.vaPages.toArray();
      out.push(`page_cnt ${encl.pageCnt}, VA pages ${vas().length}`);
      out.push(`head has free slots ${vas()[0]!.used < 512}`);
      const full = vas().find((v) => v.used === 512);
      out.push(`a full VA page is behind the head ${full !== undefined && vas().indexOf(full) > 0}`);
      // Fault back a page whose version is in that full VA page: the slot frees and the page moves to the head.
      const inFull = [...encl.pageArray.values()].find((p) => !p.epcPage && p.vaPage === full)!;
      await sys.load(inFull.addr, 1);
      out.push(`after ELDU it is the head with one free slot ${vas()[0] === full && full!.used === 511}`);
      out.push(`invariants ${sgxCheckInvariants(sgx).join('; ') || 'ok'}`);
      return 0;
    });
    await k.run({ maxSteps: 200_000 });
    expect(out).toEqual([
      `page_cnt ${1 + layout.pages.length}, VA pages 3`,
      'head has free slots true',
      'a full VA page is behind the head true',
      'after ELDU it is the head with one free slot true',
      'invariants ok',
    ]);
  });
});

describe('LRU ageing by the Accessed bit', () => {
  /** The PTE of `addr` in `mm`: none, or present with its Accessed bit read straight from the page table. */
  const pteState = (mm: Mm, addr: number) => {
    const pte = mm.pageTable.lookup(addr / P);
    return pte ? (pte.flags & PTE_A ? 'young' : 'old') : 'none';
  };
  /** The first two pages at the head of the LRU whose mapping is readable (so a host load can touch them). */
  const headPages = (sgx: Sgx, mm: Mm): [SgxEnclPage, SgxEnclPage] => {
    const pages = [...sgx.activePageList]
      .map((p) => p.owner!)
      .filter((o) => (mm.vmas.lookup(o.addr)?.flags ?? 0) & VM_READ);
    return [pages[0]!, pages[1]!];
  };
  const ewbs = (k: Kernel, from: number) =>
    k.trace.events.filter((e) => e.seq >= from && e.ev === 'encls' && e.data?.leaf === 'EWB').map((e) => e.data!.addr);

  it('a page accessed since its fault survives a pass (second chance: A bit cleared, back to the LRU tail); an old one is evicted', async () => {
    const { k, sgx } = makeSgxSystem();
    const out: string[] = [];
    const { layout, sigstruct } = sampleEnclave();
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      const mm = sys.task.mm!;
      const [young, old] = headPages(sgx, mm);
      // young: fault + the retried access (the MMU sets A); old: only the fault, which sgx_vma_fault() leaves old
      // (sgx_encl_test_and_clear_young() after vmf_insert_pfn()).
      await sys.load(young.addr, 1);
      await sys.kcall('fault only', () => {
        doUserAddrFault(mm, old.addr, PfErr.U);
        return 0;
      });
      out.push(`before: young ${pteState(mm, young.addr)}, old ${pteState(mm, old.addr)}`);
      const aged = sgx.stats.agedYoung;
      const from = k.trace.count;
      await sys.kcall('one reclaim pass', () => {
        sgxReclaimPages(sgx);
        return 0;
      });
      const written = ewbs(k, from);
      // sgx_reclaimer_age() -> sgx_encl_test_and_clear_young(): the young page is skipped and its A bit cleared;
      // sgx_reclaim_pages() puts skipped pages back with list_add_tail().
      out.push(`agedYoung +${sgx.stats.agedYoung - aged}`);
      out.push(
        `young page: resident ${young.epcPage !== null}, pte ${pteState(mm, young.addr)}, LRU tail ${sgx.activePageList.toArray().at(-1) === young.epcPage}, EWB ${written.includes(young.addr)}`,
      );
      // The old page went the whole way: PTE zapped (sgx_reclaimer_block()), EWB (sgx_reclaimer_write()).
      out.push(
        `old page: resident ${old.epcPage !== null}, pte ${pteState(mm, old.addr)}, EWB ${written.includes(old.addr)}`,
      );
      // Not touched again, the survivor is old now: when the reclaimer reaches it again it goes.
      await sys.kcall('until it goes', () => {
        evict(sgx, young);
        return 0;
      });
      out.push(`untouched survivor: evicted ${young.epcPage === null}, agedYoung +${sgx.stats.agedYoung - aged}`);
      out.push(`invariants ${sgxCheckInvariants(sgx).join('; ') || 'ok'}`);
      return 0;
    });
    await k.run({ maxSteps: 100_000 });
    expect(out).toEqual([
      'before: young young, old old',
      'agedYoung +1',
      'young page: resident true, pte old, LRU tail true, EWB false',
      'old page: resident false, pte none, EWB true',
      'untouched survivor: evicted true, agedYoung +1',
      'invariants ok',
    ]);
  });

  it('young in any mm on mm_list is enough: a page only the forked child touched survives, with the child’s A bit cleared', async () => {
    const { k, sgx } = makeSgxSystem();
    const out: string[] = [];
    const { layout, sigstruct } = sampleEnclave();
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      const mm = sys.task.mm!;
      const [page] = headPages(sgx, mm);
      await sys.kcall('fault only', () => {
        doUserAddrFault(mm, page.addr, PfErr.U);
        return 0;
      });
      let childMm: Mm | undefined;
      const state = { touched: false, reclaimed: false };
      const child = await sys.fork(async (c) => {
        childMm = c.task.mm!;
        await c.load(page.addr, 1);
        state.touched = true;
        while (!state.reclaimed) await c.sched_yield();
        return 0;
      });
      while (!state.touched) await sys.sched_yield();
      out.push(`before: parent ${pteState(mm, page.addr)}, child ${pteState(childMm!, page.addr)}`);
      const aged = sgx.stats.agedYoung;
      await sys.kcall('one reclaim pass', () => {
        sgxReclaimPages(sgx);
        return 0;
      });
      out.push(
        `after: resident ${page.epcPage !== null}, agedYoung +${sgx.stats.agedYoung - aged}, parent ${pteState(mm, page.addr)}, child ${pteState(childMm!, page.addr)}`,
      );
      state.reclaimed = true;
      await libc.waitpid(child);
      return 0;
    });
    await k.run({ maxSteps: 100_000 });
    expect(out).toEqual([
      'before: parent old, child young',
      'after: resident true, agedYoung +1, parent old, child old',
    ]);
  });
});

describe('ksgxd and the reclaimer’s references', () => {
  /** An enclave big enough to leave fewer than SGX_NR_LOW_PAGES free on a 100-page EPC. */
  function ksgxdSetup() {
    const s = makeSgxSystem({ epcPages: 100 });
    return { ...s, ...sampleEnclave(64 * P) };
  }

  it('wakes below 32 free pages and reclaims until 64 are free, then sleeps; above 32 it is not woken', async () => {
    for (const heap of [64, 40]) {
      const s = makeSgxSystem({ epcPages: 100 });
      const { layout, sigstruct } = sampleEnclave(heap * P);
      const out: string[] = [];
      s.k.spawn(async (sys) => {
        const libc = new Libc(sys);
        await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
        for (let i = 0; i < 1000 && s.sgx.ksgxdTask!.state !== 'blocked'; i++) await sys.sched_yield();
        out.push(`ksgxd ${s.sgx.ksgxdTask!.state}, free ${s.sgx.nrFreePages >= 64 ? '>= 64' : s.sgx.nrFreePages}`);
        return 0;
      });
      await s.k.run({ maxSteps: 100_000 });
      const used = 2 + layout.pages.length;
      if (heap === 64) {
        expect(100 - used, 'the build leaves fewer than SGX_NR_LOW_PAGES free').toBeLessThan(32);
        expect(out).toEqual(['ksgxd blocked, free >= 64']);
        expect(s.sgx.stats.ksgxdBatches).toBeGreaterThan(0);
        // It stops at the high watermark: the last batch of at most 16 took the count to 64 or a little above.
        expect(s.sgx.stats.evicted).toBeLessThan(64 - (100 - used) + 16);
      } else {
        expect(100 - used).toBeGreaterThanOrEqual(32);
        expect(out).toEqual([`ksgxd blocked, free ${100 - used}`]);
        expect(s.sgx.stats.ksgxdBatches).toBe(0);
      }
    }
  });

  it('a page the reclaimer holds cannot be unmarked (EBUSY); the enclave of a process exiting mid-batch is released by ksgxd', async () => {
    const { k, sgx, layout, sigstruct } = ksgxdSetup();
    const out: string[] = [];
    let encl: SgxEncl | undefined;
    const { pid } = k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      encl = enclOf(sys, e.fd);
      for (let i = 0; i < 1000 && !sgx.reclaimInFlight; i++) await sys.sched_yield();
      await sys.kcall('unmark', () => {
        const held = [...encl!.pageArray.values()].find((p) => p.epcPage?.list.detached);
        const r = held && sgxUnmarkPageReclaimableForTest(sgx, held);
        out.push(`unmark held page: ${r}`);
        out.push(`refcount ${encl!.refcount} = file 1 + mm 1 + held ${encl!.refcount - 2}`);
        return 0;
      });
      return 0; // exit while ksgxd holds pages of this enclave
    });
    await k.run({ maxSteps: 100_000 });
    k.spawn(async (sys) => {
      await settle(sys, sgx);
      return 0;
    });
    await k.run();
    expect(out[0]).toBe('unmark held page: EBUSY');
    expect(encl!.released).toBe(true);
    const rel = k.trace.events.find((e) => e.ev === 'sgx_encl_release')!;
    expect(rel.tid, 'released by ksgxd, which held the last references').toBe(sgx.ksgxdTask!.tid);
    expect(rel.tid).not.toBe(pid);
    expect(sgx.nrFreePages).toBe(100);
    expect(sgxCheckInvariants(sgx)).toEqual([]);
  });
});

/** sgx_unmark_page_reclaimable() on the page's EPC page, as an errno name. */
function sgxUnmarkPageReclaimableForTest(sgx: Sgx, p: SgxEnclPage): string {
  const r = sgxUnmarkPageReclaimable(sgx, p.epcPage!);
  return isErrno(r) ? r.name : 'ok';
}

describe('EWB tracking and the IPI', () => {
  /**
   * A thread of the enclave runs compute.elf's sort on one CPU, through the vDSO; another thread of the process
   * reclaims a batch of the enclave's pages on the other CPU while the first is inside. EWB finds the tracking
   * incomplete, ETRACKs, still cannot, and IPIs the enclave's CPUs: the IPI is an interrupt in enclave mode, i.e.
   * an AEX, after which EWB succeeds; the sorting thread then ERESUMEs at the AEP (reloading what it needs) and
   * finishes with the right result.
   */
  async function reclaimWhileInside() {
    const p = bootPlatform({ crypto: nodeBackend, epcPages: 100, seed: 1, costs: { tickCycles: 1e12 } });
    const log: string[] = [];
    let startedAt = 0;
    p.k.spawn(async (sys) => {
      const e = await buildCompute(sys);
      const state = { inside: false, done: false };
      const words = Array.from({ length: 1024 }, (_, i) => (i * 2654435761) >>> 0);
      await sys.clone(CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, async (ts) => {
        const tl = new Libc(ts);
        const run = await Run.alloc(ts, tl, e.base);
        state.inside = true;
        const r = await ecall(ts, tl, run, ecallIndex('sort'), u32s(...words), 4096);
        const out = [...new Uint32Array(r.out.slice().buffer)];
        log.push(`sorted ${r.status === 0n && out.join() === [...words].sort((a, b) => a - b).join()}`);
        state.done = true;
        return 0;
      });
      while (!state.inside || p.m.lpsInside().length === 0) await sys.sched_yield();
      await sys.kcall('reclaim', (t) => {
        const [cpu] = p.m.lpsInside()[0]!;
        log.push(`CPU ${cpu} inside, reclaiming on CPU ${t.cpu}`);
        startedAt = p.k.trace.count;
        sgxReclaimPages(p.sgx);
        log.push(`inside after the batch: ${p.m.lpsInside().length}`);
        return 0;
      });
      while (!state.done) await sys.sched_yield();
      return 0;
    });
    await p.k.run({ maxSteps: 1_000_000 });
    const after = p.k.trace.events.filter((e) => e.seq >= startedAt);
    return { p, log, after };
  }

  it('an eviction with a CPU inside the enclave completes only after the IPI makes it exit (AEX)', async () => {
    const { p, log, after } = await reclaimWhileInside();
    expect(log[0]).toMatch(/^CPU (\d) inside, reclaiming on CPU (?!\1)\d$/);
    expect(log.slice(1)).toEqual(['inside after the batch: 0', 'sorted true']);
    // The first EWB of the batch: NOT_TRACKED, ETRACK, NOT_TRACKED, the IPI and its AEX, then SUCCESS.
    const seq = after
      .filter((e) => (e.ev === 'encls' && ['EWB', 'ETRACK'].includes(e.data?.leaf as string)) || e.ev === 'aex')
      .map((e) => (e.ev === 'aex' ? `AEX ${e.data?.reason}` : `${e.data?.leaf} ${e.data?.ret}`));
    expect(seq.slice(0, 5)).toEqual([
      'EWB SGX_NOT_TRACKED',
      'ETRACK SGX_SUCCESS',
      'EWB SGX_NOT_TRACKED',
      'AEX ipi',
      'EWB SGX_SUCCESS',
    ]);
    expect(p.sgx.stats.ewbIpi).toBeGreaterThan(0);
    expect(p.stats.aepResume, 'the sorting thread resumed at the AEP').toBeGreaterThan(0);
    expect(p.sgx.dmesg.filter((l) => l.includes('WARNING'))).toEqual([]);
  });

  /**
   * A CPU that stays inside whatever happens: tracking says it entered (as a thread running enclave code there
   * would) and nothing connects the IPI to an AEX — what a processor ignoring the interrupt would do.
   */
  it('without an AEX the third EWB fails too: the kernel WARNs and the page’s contents are lost, as upstream', async () => {
    const s = makeSgxSystem({ epcPages: 100 });
    const { layout, sigstruct } = sampleEnclave(64 * P);
    const log: string[] = [];
    let secsPa = 0;
    s.k.onIpi((cpu) => {
      if (s.m.lp(cpu)) log.push(`IPI on CPU ${cpu} inside`);
    });
    s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      secsPa = enclOf(sys, e.fd).secs.epcPage!.pa;
      for (let i = 0; i < 1000 && s.sgx.reclaimPhase !== 'blocked'; i++) await sys.sched_yield();
      await sys.kcall('enter', (t) => {
        enclaveEnter(s.m, secsPa, t.cpu!);
        return 0;
      });
      await settle(sys, s.sgx);
      const cpu = [...s.m.lpsInside()].map(([c]) => c);
      if (cpu.length)
        await sys.kcall('leave', () => {
          enclaveExit(s.m, secsPa, cpu[0]!);
          return 0;
        });
      return 0;
    });
    await s.k.run({ maxSteps: 100_000 });
    expect(log.some((l) => l.startsWith('IPI on CPU'))).toBe(true);
    expect(s.sgx.dmesg).toContain('sgx: WARNING: EWB returned 11 (0xb)');
  });
});

describe('ELDU of altered or replayed backing', () => {
  /** Two processes with one DEBUG enclave each; `attack` runs on one evicted page of the first. */
  async function attackScenario(
    attack: (k: Kernel, encl: SgxEncl, page: SgxEnclPage, sys: Sys, sgx: Sgx) => Promise<void>,
  ) {
    const s = makeSgxSystem();
    const { layout, sigstruct } = sampleEnclave();
    const out: string[] = [];
    const ready = { victim: false, done: false };
    const victim = s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct, attributes: DEBUG });
      const encl = enclOf(sys, e.fd);
      const addr = e.base + dataSeg().offset;
      await poke(sys, addr, 0x1111n);
      const page = encl.pageArray.get(addr / P)!;
      await attack(s.k, encl, page, sys, s.sgx);
      ready.victim = true;
      await sys.load(addr, 1);
      out.push('victim survived');
      return 0;
    });
    s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct, attributes: DEBUG });
      const encl = enclOf(sys, e.fd);
      const addr = e.base + dataSeg().offset;
      await poke(sys, addr, 0x2222n);
      while (!ready.victim) await sys.sched_yield();
      await sys.kcall('evict', () => {
        for (const p of encl.pageArray.values()) if (p.epcPage) evict(s.sgx, p);
        return 0;
      });
      for (let i = 0; i < 10; i++) await sys.sched_yield();
      out.push(`bystander reads ${(await peek(sys, addr))?.toString(16)}`);
      await sys.load(addr, 1);
      out.push(`bystander invariants ${sgxCheckInvariants(s.sgx).join('; ') || 'ok'}`);
      return 0;
    });
    await s.k.run({ maxSteps: 100_000 });
    return { ...s, out, victimStatus: s.k.exitStatus(victim.pid)! };
  }

  it('a flipped byte in the backing page fails ELDU (MAC): SIGBUS for the faulting thread, the rest carries on', async () => {
    const r = await attackScenario(async (k, _encl, page, sys, sgx) => {
      await sys.kcall('tamper', () => {
        evict(sgx, page);
        const i = page.pageIndex;
        const pfn = page.encl.backing!.pages.get(i)!;
        const b = k.mem.read(pfn * P + 100, 1);
        k.mem.write(pfn * P + 100, Uint8Array.of(b[0]! ^ 0x01));
        return 0;
      });
    });
    expect(r.victimStatus & 0x7f, 'killed by SIGBUS').toBe(SIGBUS);
    expect(r.out).toEqual(['bystander reads 2222', 'bystander invariants ok']);
    expect(
      r.k.trace.events.some(
        (e) => e.ev === 'encls' && e.data?.leaf === 'ELDU' && e.data?.ret === 'SGX_MAC_COMPARE_FAIL',
      ),
    ).toBe(true);
    expect(r.sgx.stats.elduFailures).toBe(1);
    expect(r.sgx.nrFreePages, 'no EPC leaked').toBe(256);
    expect(sgxCheckInvariants(r.sgx)).toEqual([]);
  });

  it('an older copy restored with its PCMD (a replay) fails ELDU: the VA slot holds the newer version', async () => {
    let victim: SgxEnclPage | undefined;
    const r = await attackScenario(async (k, _encl, page, sys, sgx) => {
      victim = page;
      const i = page.pageIndex;
      const pcmdOff = page.encl.size + P + i * 128;
      let old: { contents: Uint8Array; pcmd: Uint8Array } | undefined;
      await sys.kcall('evict once', () => {
        evict(sgx, page);
        const b = page.encl.backing!;
        old = {
          contents: k.mem.read(b.pages.get(i)! * P, P),
          pcmd: k.mem.read(b.pages.get(Math.floor(pcmdOff / P))! * P + (pcmdOff % P), 128),
        };
        return 0;
      });
      await poke(sys, page.addr, 0x3333n); // ELDU (fine), then a new value
      await sys.kcall('evict again and replay', () => {
        evict(sgx, page);
        const b = page.encl.backing!;
        k.mem.write(b.pages.get(i)! * P, old!.contents);
        k.mem.write(b.pages.get(Math.floor(pcmdOff / P))! * P + (pcmdOff % P), old!.pcmd);
        return 0;
      });
    });
    expect(r.victimStatus & 0x7f).toBe(SIGBUS);
    expect(r.out).toEqual(['bystander reads 2222', 'bystander invariants ok']);
    // The page's ELDUs: the honest reload before the new value was written, then the replayed copy. ELDU checks
    // the MAC over contents + PCMD and the version in the VA slot; the old copy carries the old version, so the
    // MAC comparison fails (SDM ELDU: SGX_MAC_COMPARE_FAIL, 9).
    const eldus = r.k.trace.events
      .filter((e) => e.ev === 'encls' && e.data?.leaf === 'ELDU' && !e.data?.secs)
      .filter((e) => e.data?.encl === victim!.encl.id && e.data?.addr === victim!.addr)
      .map((e) => e.data!.ret);
    expect(eldus).toEqual(['SGX_SUCCESS', 'SGX_MAC_COMPARE_FAIL']);
    expect(SgxStatus.MAC_COMPARE_FAIL).toBe(9);
    // __sgx_encl_eldu(): encls_failed() is true for any non-zero SGX code, so ENCLS_WARN(ret, "ELDU") prints it.
    expect(r.sgx.dmesg).toContain('sgx: WARNING: ELDU returned 9 (0x9)');
    expect(r.sgx.stats.elduFailures).toBe(1);
    expect(r.sgx.nrFreePages).toBe(256);
  });
});

describe('when nothing can be reclaimed', () => {
  it('allocation gives EBUSY (no reclaim) or reclaims while the LRU has pages; ENOMEM once it is empty; a fault then gets SIGBUS', async () => {
    // 3 EPC pages: VA + SECS + one child. The child is the only reclaimable page.
    const s = makeSgxSystem({ epcPages: 3 });
    const out: string[] = [];
    let held: import('../../../src/driver/index').SgxEpcPage | undefined;
    const { pid } = s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const base = await reserve(sys, 4 * P);
      await ioctlCreate(sys, libc, fd, secsImage({ size: BigInt(4 * P), baseAddr: BigInt(base) }));
      const src = await sys.mmap(0, P, 3, 0x22, -1, 0);
      out.push(`add ${(await ioctlAddPages(sys, libc, fd, { src, offset: 0, length: P })).ret}`);
      await sys.mmap(base, P, 3, 0x11, fd, 0);
      await sys.kcall('alloc', () => {
        const a = sgxAllocEpcPage(s.sgx, null, false);
        out.push(`no reclaim, LRU not empty: ${isErrno(a) ? a.name : 'page'}`);
        const b = sgxAllocEpcPage(s.sgx, null, true);
        out.push(`direct reclaim: ${isErrno(b) ? b.name : 'page'}`);
        if (!isErrno(b)) held = b;
        const c = sgxAllocEpcPage(s.sgx, null, true);
        out.push(`free ${s.sgx.nrFreePages}, LRU ${s.sgx.activePageList.length}: ${isErrno(c) ? c.name : 'page'}`);
        return 0;
      });
      await sys.load(base, 1);
      out.push('survived');
      return 0;
    });
    await s.k.run({ maxSteps: 100_000 });
    expect(out).toEqual(['add 0', 'no reclaim, LRU not empty: EBUSY', 'direct reclaim: page', 'free 0, LRU 0: ENOMEM']);
    expect(s.k.exitStatus(pid)! & 0x7f, 'the reload of the evicted page found no EPC page').toBe(SIGBUS);
    sgxFreeEpcPage(s.sgx, held!);
    expect(s.sgx.nrFreePages).toBe(3);
  });
});
