/**
 * The EPC page allocator (arch/x86/kernel/cpu/sgx/main.c): sections from CPUID leaf 12H, a free list per
 * section, allocation with direct reclaim, and the boot-time sanitization of "dirty" pages.
 *
 * Each EPC section is its own NUMA node in this model (no SRAT), and the allocating CPU is on node 0, so
 * __sgx_alloc_epc_page()'s "local node first, then the others round-robin" tries the sections in order.
 *
 * Descriptors are created lazily so a huge EPC costs nothing: a section's free list is "the never-used pages
 * in ascending order" followed by the pages freed since, which is exactly the order Linux's list has after
 * sanitization (every page was put on the tail in ascending order at boot; frees go to the tail).
 */

import { PAGE_SIZE } from '../../hw/index';
import { EBUSY, ENOMEM, ERESTARTSYS, type Errno, type Task } from '../../kernel/index';
import {
  eremoveErrorMessage,
  SGX_EPC_PAGE_IS_FREE,
  SGX_EPC_PAGE_RECLAIMER_TRACKED,
  SGX_MAX_EPC_SECTIONS,
  SGX_NR_LOW_PAGES,
  SGX_NR_TO_SCAN,
} from './constants';
import type { SgxEnclPage } from './encl';
import { __eremove } from './encls';
import { SgxEpcPage } from './epc-page';
import { List } from './list';
import { sgxShouldReclaim } from './lru';
import { sgxReclaimPages } from './reclaim';
import type { Sgx } from './sgx';

/** struct sgx_epc_section, with the lazy free list. */
export interface EpcSection {
  /** Index in sgx_epc_sections[]. */
  readonly index: number;
  readonly base: number;
  readonly size: number;
  readonly pageCount: number;
  /** The hardware EPC page index of the first page. */
  readonly firstIndex: number;
  /** Descriptors created so far, by page offset in the section. */
  readonly pages: Map<number, SgxEpcPage>;
  /** Pages at or above this offset have never been handed out: free unless parked on the dirty or free list. */
  freshCursor: number;
  /** Freed pages, after the never-used ones (list_add_tail on free, list_first_entry on alloc). */
  readonly freeList: List<SgxEpcPage>;
  /** Free pages in the section (never used + freed). */
  freeCnt: number;
}

/** sgx_calc_section_metric(): bits 31:12 from `low`, bits 51:32 from `high` 19:0. */
export function sgxCalcSectionMetric(low: number, high: number): number {
  return (low & 0xffff_f000) + (high & 0xfffff) * 2 ** 32;
}

/** The descriptor of page `offset` of `s`, created on first use. */
function pageAt(s: EpcSection, offset: number): SgxEpcPage {
  let p = s.pages.get(offset);
  if (!p) {
    p = new SgxEpcPage(s.index, s.firstIndex + offset, s.base + offset * PAGE_SIZE);
    s.pages.set(offset, p);
  }
  return p;
}

/**
 * sgx_page_cache_init(): the EPC sections CPUID.(12H, 2..9) reports, set up and (lazily) put on the dirty list.
 * @returns false (with "There are zero EPC sections.") when there are none.
 */
export function sgxPageCacheInit(sgx: Sgx): boolean {
  for (let i = 0; i < SGX_MAX_EPC_SECTIONS; i++) {
    const { eax, ebx, ecx, edx } = sgx.m.cpuid12(i + 2);
    const type = eax & 0xf;
    // SGX_CPUID_EPC_INVALID = 0 ends the list; SGX_CPUID_EPC_SECTION = 1.
    if (type === 0) break;
    if (type !== 1) {
      sgx.log(`Unknown EPC section type: ${type}`);
      break;
    }
    const pa = sgxCalcSectionMetric(eax, ebx);
    const size = sgxCalcSectionMetric(ecx, edx);
    sgx.log(`EPC section 0x${pa.toString(16)}-0x${(pa + size - 1).toString(16)}`);
    const firstIndex = sgx.m.epc.indexOf(pa);
    if (firstIndex === undefined) {
      sgx.log('No free memory for an EPC section');
      break;
    }
    sgx.sections.push({
      index: i,
      base: pa,
      size,
      pageCount: size / PAGE_SIZE,
      firstIndex,
      pages: new Map(),
      freshCursor: 0,
      freeList: new List(),
      freeCnt: 0,
    });
  }
  if (sgx.sections.length === 0) {
    sgx.log('There are zero EPC sections.');
    return false;
  }
  return true;
}

/**
 * __sgx_sanitize_pages(), run twice as ksgxd does at start: EREMOVE every page, freeing the ones that succeed; a
 * SECS whose children come later in the list fails the first pass (SGX_CHILD_PRESENT) and is retried. Pages the
 * EPCM shows invalid need no EREMOVE ("IF (EPCM(DS:RCX).VALID = 0) THEN goto DONE": it would succeed and change
 * nothing), so only the valid ones are executed; the rest become free in place, in order.
 * @returns the number of pages still dirty (Linux WARNs when it is not 0).
 */
export function sgxSanitizePages(sgx: Sgx): number {
  const dirty = sgx.dirtyPageList;
  // Pass 1 over the whole list in order.
  for (const [index] of sgx.m.epcm.validEntries()) {
    const s = sgx.sections.find((x) => index >= x.firstIndex && index < x.firstIndex + x.pageCount);
    if (!s) continue;
    const page = pageAt(s, index - s.firstIndex);
    const ret = __eremove(sgx, page.pa, { sanitize: true });
    // Not yet clean: it stays dirty (moved off the fresh range) for the second pass.
    if (ret) dirty.addTail(page.list);
  }
  for (const s of sgx.sections) {
    s.freeCnt = s.pageCount - [...s.pages.values()].filter((p) => !p.list.detached).length;
    sgx.nrFreePages += s.freeCnt;
  }
  // Pass 2 (and "list_splice(&dirty, dirty_page_list)" for what still fails).
  for (const page of dirty.toArray()) {
    const ret = __eremove(sgx, page.pa, { sanitize: true });
    if (!ret) {
      dirty.del(page.list);
      sgxFreeEpcPage(sgx, page);
    }
  }
  if (!dirty.empty) sgx.warn(`${dirty.length} EPC pages could not be sanitized`);
  return dirty.length;
}

/** The first free page of a section: the never-used ones first, then the freed ones. */
function takeFromSection(s: EpcSection): SgxEpcPage | undefined {
  while (s.freshCursor < s.pageCount) {
    const off = s.freshCursor++;
    // Never handed out; skip it only if it is parked on a list (still dirty, or freed by sanitization's second
    // pass onto the free list proper).
    if (s.pages.get(off)?.list.detached === false) continue;
    s.freeCnt--;
    return pageAt(s, off);
  }
  const page = s.freeList.first();
  if (!page) return undefined;
  s.freeList.del(page.list);
  s.freeCnt--;
  return page;
}

/**
 * __sgx_alloc_epc_page(): a free page from the sections in node order, or ENOMEM.
 */
export function __sgxAllocEpcPage(sgx: Sgx): SgxEpcPage | Errno {
  for (const s of sgx.sections) {
    if (s.freeCnt === 0) continue;
    const page = takeFromSection(s);
    if (page) {
      page.flags = 0;
      sgx.nrFreePages--;
      return page;
    }
  }
  return ENOMEM;
}

/**
 * sgx_alloc_epc_page(): a free EPC page for `owner`, reclaiming one batch at a time when there is none and
 * `reclaim` allows it; wakes ksgxd when fewer than SGX_NR_LOW_PAGES stay free.
 * @param t the calling task (`current`), for signal_pending(); undefined for ksgxd and fault paths.
 * @returns the page, or: ENOMEM (none free and nothing reclaimable), EBUSY (none free, reclaimable pages exist,
 *   `reclaim` false), ERESTARTSYS (a signal arrived while reclaiming).
 */
export function sgxAllocEpcPage(sgx: Sgx, owner: SgxEnclPage | null, reclaim: boolean, t?: Task): SgxEpcPage | Errno {
  let page: SgxEpcPage | Errno;
  let fruitless = 0;
  for (;;) {
    page = __sgxAllocEpcPage(sgx);
    if (!(page === ENOMEM)) {
      (page as SgxEpcPage).owner = owner;
      break;
    }
    if (sgx.activePageList.empty) return ENOMEM;
    if (!reclaim) {
      page = EBUSY;
      break;
    }
    if (t?.signalPending()) {
      page = ERESTARTSYS;
      break;
    }
    const before = sgx.nrFreePages;
    sgxReclaimPages(sgx);
    // Linux loops (cond_resched()) until a page turns up or a signal arrives; other CPUs may free pages meanwhile.
    // Nothing else runs inside this step, so once two full sweeps of the list (one to age, one to evict) freed
    // nothing, no later sweep can: give up the way an empty list does.
    fruitless = sgx.nrFreePages > before ? 0 : fruitless + 1;
    if (fruitless > 2 * Math.ceil(sgx.activePageList.length / SGX_NR_TO_SCAN) + 2) return ENOMEM;
  }
  if (sgxShouldReclaim(sgx, SGX_NR_LOW_PAGES)) sgx.ksgxdWq.wakeAll();
  return page;
}

/**
 * sgx_free_epc_page(): back to its section's free list (tail). The caller has made the page invalid (EREMOVE or
 * EWB) first.
 */
export function sgxFreeEpcPage(sgx: Sgx, page: SgxEpcPage): void {
  const s = sgx.sections[sgx.sections.findIndex((x) => x.index === page.section)];
  if (!s) throw new Error(`EPC page 0x${page.pa.toString(16)} has no section`);
  if (page.flags & SGX_EPC_PAGE_IS_FREE) throw new Error(`double free of EPC page 0x${page.pa.toString(16)}`);
  page.owner = null;
  s.freeList.addTail(page.list);
  page.flags = SGX_EPC_PAGE_IS_FREE;
  s.freeCnt++;
  sgx.nrFreePages++;
}

/**
 * sgx_encl_free_epc_page() (encl.c): EREMOVE an enclave's page and free it; if EREMOVE fails the page is leaked
 * with the upstream warning ("SGX may become unusable").
 */
export function sgxEnclFreeEpcPage(sgx: Sgx, page: SgxEpcPage): void {
  if (page.flags & SGX_EPC_PAGE_RECLAIMER_TRACKED) sgx.warnOnce('sgx_encl_free_epc_page: page is reclaimer-tracked');
  const ret = __eremove(sgx, page.pa);
  if (ret) {
    sgx.warnOnce(eremoveErrorMessage(ret), 'sgx_encl_free_epc_page');
    sgx.stats.leaked++;
    page.owner = null;
    return;
  }
  sgxFreeEpcPage(sgx, page);
}

/** An EPC page's descriptor by physical address (sgx_paddr_to_page()), if it is one of the driver's sections. */
export function sgxPaddrToPage(sgx: Sgx, pa: number): SgxEpcPage | undefined {
  const s = sgx.sections.find((x) => pa >= x.base && pa < x.base + x.size);
  return s ? pageAt(s, Math.floor((pa - s.base) / PAGE_SIZE)) : undefined;
}
