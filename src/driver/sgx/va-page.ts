/**
 * Version Array pages (encl.c sgx_alloc_va_page(), sgx_alloc_va_slot(), sgx_free_va_slot(), sgx_va_page_full();
 * ioctl.c sgx_encl_grow(), sgx_encl_shrink()). An enclave gets a new VA page whenever its page count (SECS +
 * REG/TCS pages) crosses a multiple of 512, so every page it has can be evicted at once. VA pages are never on
 * the LRU and are freed only when the enclave is released.
 */
import { EFAULT, type Errno, isErrno, type Task } from '../../kernel/index';
import { SGX_VA_SLOT_COUNT } from './constants';
import { type SgxEncl, SgxVaPage } from './encl';
import { __epa } from './encls';
import { sgxAllocEpcPage, sgxEnclFreeEpcPage } from './epc-allocator';
import type { SgxEpcPage } from './epc-page';
import type { Sgx } from './sgx';

/**
 * sgx_alloc_va_page(): an EPC page made a VA page with EPA.
 * @returns the page, or the allocator's ENOMEM/EBUSY/ERESTARTSYS, or EFAULT when EPA fails (WARN).
 */
export function sgxAllocVaPage(sgx: Sgx, reclaim: boolean, t?: Task): SgxEpcPage | Errno {
  const epcPage = sgxAllocEpcPage(sgx, null, reclaim, t);
  if (isErrno(epcPage)) return epcPage;
  const ret = __epa(sgx, epcPage.pa);
  if (ret) {
    sgx.warnOnce(`EPA returned ${ret} (0x${ret.toString(16)})`);
    sgxEnclFreeEpcPage(sgx, epcPage);
    return EFAULT;
  }
  return epcPage;
}

/** sgx_alloc_va_slot(): the first free slot, taken; its byte offset (4096 when the page is full). */
export function sgxAllocVaSlot(va: SgxVaPage): number {
  const slot = va.slots.indexOf(0);
  if (slot < 0) return SGX_VA_SLOT_COUNT << 3;
  va.slots[slot] = 1;
  return slot << 3;
}

/** sgx_free_va_slot(). */
export function sgxFreeVaSlot(va: SgxVaPage, offset: number): void {
  va.slots[offset >> 3] = 0;
}

/** sgx_va_page_full(). */
export function sgxVaPageFull(va: SgxVaPage): boolean {
  return va.slots.indexOf(0) < 0;
}

/**
 * sgx_encl_grow(): counts one more enclave page, allocating a VA page first when the count is a multiple of 512.
 * The caller adds a returned VA page to encl.vaPages.
 * @returns the new VA page, null when none was needed, or an Errno from sgx_alloc_va_page().
 */
export function sgxEnclGrow(encl: SgxEncl, reclaim: boolean, t?: Task): SgxVaPage | null | Errno {
  let va: SgxVaPage | null = null;
  if (encl.pageCnt % SGX_VA_SLOT_COUNT === 0) {
    const epc = sgxAllocVaPage(encl.sgx, reclaim, t);
    if (isErrno(epc)) return epc;
    va = new SgxVaPage(epc);
  }
  encl.pageCnt++;
  return va;
}

/** sgx_encl_shrink(): undoes sgx_encl_grow() (freeing its VA page, if it made one). */
export function sgxEnclShrink(encl: SgxEncl, va: SgxVaPage | null): void {
  encl.pageCnt--;
  if (va) {
    sgxEnclFreeEpcPage(encl.sgx, va.epcPage);
    if (!va.list.detached) encl.vaPages.del(va.list);
  }
}
