/**
 * The enclave's reference count and its destruction (encl.c sgx_encl_release()). References: the open file, each
 * mm on mm_list, and the reclaimer while it works on one of the enclave's pages. The last put EREMOVEs every
 * resident page, then the SECS, then the VA pages, and frees the backing store.
 */

import type { SgxEncl } from './encl';
import { sgxEnclFreeEpcPage } from './epc-allocator';
import { sgxUnmarkPageReclaimable } from './lru';

/** kref_get(). */
export function sgxEnclGet(encl: SgxEncl): void {
  if (encl.refcount <= 0) throw new Error(`kref_get on released enclave ${encl.id}`);
  encl.refcount++;
}

/** kref_get_unless_zero(): a reference unless the enclave is already being destroyed. */
export function sgxEnclGetUnlessZero(encl: SgxEncl): boolean {
  if (encl.refcount === 0) return false;
  encl.refcount++;
  return true;
}

/** kref_put(&encl->refcount, sgx_encl_release). */
export function sgxEnclPut(encl: SgxEncl): void {
  if (encl.refcount <= 0) throw new Error(`kref_put underflow on enclave ${encl.id}`);
  if (--encl.refcount === 0) sgxEnclRelease(encl);
}

/** sgx_encl_release(): frees everything the enclave owns. */
export function sgxEnclRelease(encl: SgxEncl): void {
  const sgx = encl.sgx;
  // xa_for_each() visits the pages in index order.
  const indices = [...encl.pageArray.keys()].sort((a, b) => a - b);
  for (const index of indices) {
    const entry = encl.pageArray.get(index)!;
    if (entry.epcPage) {
      // "The page and its radix tree entry cannot be freed if the page is being held by the reclaimer."
      if (sgxUnmarkPageReclaimable(sgx, entry.epcPage)) continue;
      sgxEnclFreeEpcPage(sgx, entry.epcPage);
      encl.secsChildCnt--;
      entry.epcPage = null;
    }
  }
  encl.pageArray.clear();
  if (!encl.secsChildCnt && encl.secs.epcPage) {
    sgxEnclFreeEpcPage(sgx, encl.secs.epcPage);
    encl.secs.epcPage = null;
  }
  for (let va = encl.vaPages.first(); va; va = encl.vaPages.first()) {
    encl.vaPages.del(va.list);
    sgxEnclFreeEpcPage(sgx, va.epcPage);
  }
  encl.backing?.release();
  encl.backing = null;
  if (encl.mmList.length) sgx.warnOnce('sgx_encl_release: mm_list is not empty');
  // "Detect EPC page leak's."
  if (encl.secsChildCnt) sgx.warnOnce('sgx_encl_release: secs_child_cnt is not zero');
  if (encl.secs.epcPage) sgx.warnOnce('sgx_encl_release: the SECS is still resident');
  encl.released = true;
  sgx.enclaves.delete(encl);
  sgx.trace('sgx_encl_release', { encl: encl.id });
}
