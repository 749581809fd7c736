/**
 * The reclaimer's active page list (main.c sgx_active_page_list): one global LRU of reclaimable pages. Only
 * REG/TCS pages of enclaves are ever on it (SECS and VA pages never are); they are appended after EADD and
 * ELDU. A page the reclaimer has taken off the list keeps SGX_EPC_PAGE_RECLAIMER_TRACKED, which is how its
 * owner learns that it may not free it (EBUSY).
 */
import { EBUSY, type Errno } from '../../kernel/index';
import { SGX_EPC_PAGE_RECLAIMER_TRACKED } from './constants';
import type { SgxEpcPage } from './epc-page';
import type { Sgx } from './sgx';

/** sgx_mark_page_reclaimable(): tracked, at the tail of the active list. */
export function sgxMarkPageReclaimable(sgx: Sgx, page: SgxEpcPage): void {
  page.flags |= SGX_EPC_PAGE_RECLAIMER_TRACKED;
  sgx.activePageList.addTail(page.list);
}

/**
 * sgx_unmark_page_reclaimable(): off the active list and untracked.
 * @returns 0, or EBUSY when the reclaimer holds the page (tracked but off the list).
 */
export function sgxUnmarkPageReclaimable(sgx: Sgx, page: SgxEpcPage): 0 | Errno {
  if (page.flags & SGX_EPC_PAGE_RECLAIMER_TRACKED) {
    if (page.list.detached) return EBUSY;
    sgx.activePageList.del(page.list);
    page.flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
  }
  return 0;
}

/** sgx_should_reclaim(): fewer than `watermark` pages free and something to reclaim. */
export function sgxShouldReclaim(sgx: Sgx, watermark: number): boolean {
  return sgx.nrFreePages < watermark && !sgx.activePageList.empty;
}
