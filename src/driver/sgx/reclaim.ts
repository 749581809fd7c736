/**
 * EPC reclaim (main.c sgx_reclaim_pages() and its helpers): take up to 16 pages from the head of the active
 * list, give young ones a second chance, then for the rest zap every PTE and EBLOCK, and EWB each into its
 * enclave's backing store with a VA slot. EWB that finds the TLB tracking incomplete escalates: ETRACK and
 * retry, then IPI every CPU that may be in the enclave and retry. When the last child of an initialized enclave
 * leaves, its SECS is evicted too.
 *
 * One batch has three phases. Direct reclaim (an allocation that found no free page) runs them back to back;
 * ksgxd runs each phase as its own scheduling step, so faults and exits can happen in between, as on a real
 * machine where the reclaimer runs concurrently with the enclave's users.
 */
import { encode, PAGE_SIZE, PAGEINFO, SgxStatus } from '../../hw/index';
import { isErrno } from '../../kernel/index';
import { type SgxBackingRef, sgxEnclGetBacking } from './backing';
import { SGX_ENCL_INITIALIZED, SGX_EPC_PAGE_RECLAIMER_TRACKED, SGX_NR_LOW_PAGES, SGX_NR_TO_SCAN } from './constants';
import type { SgxEnclPage } from './encl';
import { mmgetNotZero, sgxEnclCpumask, sgxEnclTestAndClearYoung, sgxZapEnclavePtes } from './encl-mm';
import { sgxEnclGetUnlessZero, sgxEnclPut } from './encl-release';
import { __eblock, __etrack, __ewb, type EnclsTraceInfo, enclsFailed } from './encls';
import { sgxEnclFreeEpcPage, sgxFreeEpcPage } from './epc-allocator';
import type { SgxEpcPage } from './epc-page';
import { sgxShouldReclaim } from './lru';
import type { Sgx } from './sgx';
import { sgxAllocVaSlot, sgxFreeVaSlot, sgxVaPageFull } from './va-page';

/** A batch between phases: the pages the reclaimer holds (null once skipped) and their backing. */
export interface ReclaimBatch {
  readonly chunk: Array<SgxEpcPage | null>;
  readonly backing: Array<SgxBackingRef | undefined>;
}

/** The enclave page an LRU page belongs to (only REG/TCS pages are ever on the list). */
function ownerOf(page: SgxEpcPage): SgxEnclPage {
  if (!page.owner) throw new Error(`EPC page 0x${page.pa.toString(16)} on the active list has no owner`);
  return page.owner;
}

/**
 * sgx_reclaimer_age(): test-and-clear the Accessed bit of the page in each mm that maps the enclave.
 * @returns true when no mm had it young (the page may go).
 */
function sgxReclaimerAge(page: SgxEpcPage): boolean {
  const encl = ownerOf(page).encl;
  for (const e of [...encl.mmList]) {
    if (!mmgetNotZero(e.mm)) continue;
    if (sgxEnclTestAndClearYoung(e.mm, ownerOf(page))) return false;
  }
  return true;
}

/**
 * Phase 1 of sgx_reclaim_pages(): isolate up to SGX_NR_TO_SCAN pages from the head of the active list (taking an
 * enclave reference for each), age them, and pin backing for the old ones, which are marked BEING_RECLAIMED.
 */
export function sgxReclaimIsolate(sgx: Sgx): ReclaimBatch {
  const chunk: Array<SgxEpcPage | null> = [];
  for (let i = 0; i < SGX_NR_TO_SCAN; i++) {
    const page = sgx.activePageList.first();
    if (!page) break;
    sgx.activePageList.del(page.list);
    if (sgxEnclGetUnlessZero(ownerOf(page).encl)) chunk.push(page);
    // "The owner is freeing the page. No need to add the page back to the list of reclaimable pages."
    else page.flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
  }
  const backing: Array<SgxBackingRef | undefined> = [];
  for (let i = 0; i < chunk.length; i++) {
    const page = chunk[i]!;
    const enclPage = ownerOf(page);
    let b: SgxBackingRef | undefined;
    if (sgxReclaimerAge(page)) {
      const r = sgxEnclGetBacking(enclPage.encl, enclPage.pageIndex);
      if (!isErrno(r)) b = r;
    } else {
      sgx.stats.agedYoung++;
    }
    if (b) {
      enclPage.beingReclaimed = true;
      backing[i] = b;
      continue;
    }
    // skip: back to the tail, drop the reference.
    sgx.activePageList.addTail(page.list);
    sgxEnclPut(enclPage.encl);
    chunk[i] = null;
  }
  sgx.trace('sgx_reclaim_isolate', { pages: chunk.filter((p) => p !== null).length, scanned: chunk.length });
  return { chunk, backing };
}

/** sgx_reclaimer_block(): zap the page's PTEs in every mm, then EBLOCK it. */
function sgxReclaimerBlock(page: SgxEpcPage): void {
  const enclPage = ownerOf(page);
  const encl = enclPage.encl;
  sgxZapEnclavePtes(encl, enclPage.addr);
  const ret = __eblock(encl.sgx, page.pa, { encl: encl.id, addr: enclPage.addr });
  if (enclsFailed(ret)) encl.sgx.enclsWarn(ret, 'EBLOCK');
}

/** Phase 2: block every page of the batch. */
export function sgxReclaimBlockBatch(batch: ReclaimBatch): void {
  for (const page of batch.chunk) if (page) sgxReclaimerBlock(page);
}

/** __sgx_encl_ewb(): one EWB of `page` into `backing`, its version into the VA slot at `vaSlot`. */
function __sgxEnclEwb(
  sgx: Sgx,
  page: SgxEpcPage,
  vaSlot: number,
  backing: SgxBackingRef,
  what: EnclsTraceInfo,
): number {
  const pginfo = sgx.scratchPfn * PAGE_SIZE;
  sgx.k.mem.write(
    pginfo,
    encode(PAGEINFO, { linAddr: 0n, secs: 0n, srcPge: BigInt(backing.contents), secinfo: BigInt(backing.pcmd) }),
  );
  return __ewb(sgx, pginfo, page.pa, vaSlot, what);
}

/**
 * sgx_encl_ewb(): EWB with a fresh VA slot, escalating on SGX_NOT_TRACKED to ETRACK and then to IPIs (the CPU
 * mask is computed after ETRACK, so a CPU entering meanwhile is in the new epoch). A final failure WARNs and frees
 * the slot: the page's contents are lost, as in Linux.
 */
function sgxEnclEwb(page: SgxEpcPage, backing: SgxBackingRef): void {
  const enclPage = ownerOf(page);
  const encl = enclPage.encl;
  const sgx = encl.sgx;
  enclPage.beingReclaimed = false;
  const va = encl.vaPages.first();
  if (!va) throw new Error(`enclave ${encl.id} has no VA page for EWB`);
  const vaOffset = sgxAllocVaSlot(va);
  const vaSlot = va.epcPage.pa + vaOffset;
  if (sgxVaPageFull(va)) encl.vaPages.moveTail(va.list);
  const what = { encl: encl.id, addr: enclPage.addr, secs: enclPage === encl.secs };
  let ret = __sgxEnclEwb(sgx, page, vaSlot, backing, what);
  if (ret === SgxStatus.NOT_TRACKED) {
    sgx.stats.ewbEtrack++;
    ret = __etrack(sgx, encl.secs.epcPage!.pa, { encl: encl.id });
    if (ret && enclsFailed(ret)) sgx.enclsWarn(ret, 'ETRACK');
    ret = __sgxEnclEwb(sgx, page, vaSlot, backing, what);
    if (ret === SgxStatus.NOT_TRACKED) {
      // "Slow path, send IPIs to kick cpus out of the enclave." on_each_cpu_mask(..., wait = 1).
      sgx.stats.ewbIpi++;
      const cpus = sgxEnclCpumask(encl);
      sgx.trace('sgx_ewb_ipi', { encl: encl.id, cpus });
      sgx.k.sendIpi(cpus);
      ret = __sgxEnclEwb(sgx, page, vaSlot, backing, what);
    }
  }
  if (ret) {
    if (enclsFailed(ret)) sgx.enclsWarn(ret, 'EWB');
    sgxFreeVaSlot(va, vaOffset);
  } else {
    enclPage.vaOffset = vaOffset;
    enclPage.vaPage = va;
  }
}

/**
 * sgx_reclaimer_write(): EWB the page, drop it from the enclave's resident set, and evict the SECS when this was
 * the last resident child of an initialized enclave.
 */
function sgxReclaimerWrite(page: SgxEpcPage, backing: SgxBackingRef): void {
  const enclPage = ownerOf(page);
  const encl = enclPage.encl;
  const sgx = encl.sgx;
  sgxEnclEwb(page, backing);
  enclPage.epcPage = null;
  encl.secsChildCnt--;
  sgx.stats.evicted++;
  encl.evicted++;
  if (!encl.secsChildCnt && encl.flags & SGX_ENCL_INITIALIZED) {
    const secsBacking = sgxEnclGetBacking(encl, encl.size / PAGE_SIZE);
    if (isErrno(secsBacking)) return;
    const secsPage = encl.secs.epcPage!;
    sgxEnclEwb(secsPage, secsBacking);
    sgxEnclFreeEpcPage(sgx, secsPage);
    encl.secs.epcPage = null;
    sgx.stats.secsEvicted++;
  }
}

/** Phase 3: write every page out, drop the references and free the EPC pages. */
export function sgxReclaimWriteBatch(sgx: Sgx, batch: ReclaimBatch): void {
  batch.chunk.forEach((page, i) => {
    if (!page) return;
    const encl = ownerOf(page).encl;
    sgxReclaimerWrite(page, batch.backing[i]!);
    sgxEnclPut(encl);
    page.flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
    sgxFreeEpcPage(sgx, page);
  });
}

/** sgx_reclaim_pages(): one whole batch, synchronously (direct reclaim). */
export function sgxReclaimPages(sgx: Sgx): void {
  sgx.stats.directBatches++;
  const batch = sgxReclaimIsolate(sgx);
  sgxReclaimBlockBatch(batch);
  sgxReclaimWriteBatch(sgx, batch);
}

/** sgx_reclaim_direct(): one batch inline when free pages are scarce (the SGX2 ioctls call it per page). */
export function sgxReclaimDirect(sgx: Sgx): void {
  if (sgxShouldReclaim(sgx, SGX_NR_LOW_PAGES)) sgxReclaimPages(sgx);
}
