/**
 * Bringing an evicted page back (encl.c __sgx_encl_eldu(), sgx_encl_eldu(), __sgx_encl_load_page(),
 * sgx_encl_load_page_in_vma(), sgx_encl_load_page()). The SECS comes back first when it was evicted too. After a
 * load, the VA slot is free again (its VA page moves to the head of va_pages), the backing contents page is
 * truncated and the PCMD entry zeroed; a PCMD page left all-zero is truncated unless the reclaimer is about to
 * write into it.
 */
import { encode, PAGE_SIZE, PAGEINFO } from '../../hw/index';
import { EBUSY, EFAULT, type Errno, isErrno, VM_EXEC, VM_READ, VM_WRITE } from '../../kernel/index';
import { sgxEnclGetBacking, sgxPcmdOffset } from './backing';
import { SGX_PCMD_SIZE } from './constants';
import type { SgxEncl, SgxEnclPage } from './encl';
import { __eldu, enclsFailed } from './encls';
import { sgxAllocEpcPage, sgxEnclFreeEpcPage } from './epc-allocator';
import type { SgxEpcPage } from './epc-page';
import { sgxMarkPageReclaimable } from './lru';
import { sgxFreeVaSlot } from './va-page';

/** 32 PCMD entries share a backing page. */
const PCMDS_PER_PAGE = PAGE_SIZE / SGX_PCMD_SIZE;

/**
 * reclaimer_writing_to_pcmd(): whether a page sharing the PCMD page that starts with `startAddr` is being
 * reclaimed (so the PCMD page must not be truncated even though it is all zero now).
 */
function reclaimerWritingToPcmd(encl: SgxEncl, startAddr: number): boolean {
  for (let i = 0; i < PCMDS_PER_PAGE; i++) {
    const addr = startAddr + i * PAGE_SIZE;
    // "Stop when reaching the SECS page - it does not have a page_array entry."
    if (addr === encl.base + encl.size) break;
    const entry = encl.pageArray.get(addr / PAGE_SIZE);
    if (!entry) continue;
    if (entry.epcPage && entry.beingReclaimed) return true;
  }
  return false;
}

/**
 * __sgx_encl_eldu(): ELDU `page` from its backing into `epcPage` (under `secsPage`, or none for the SECS itself).
 * @returns 0, or EFAULT when ELDU fails (a MAC mismatch: altered or replayed backing) or the page has no saved
 *   version; the backing copy is discarded either way, as upstream.
 */
function __sgxEnclEldu(page: SgxEnclPage, epcPage: SgxEpcPage, secsPage: SgxEpcPage | null): 0 | Errno {
  const encl = page.encl;
  const sgx = encl.sgx;
  const pageIndex = secsPage ? page.pageIndex : encl.size / PAGE_SIZE;
  // Address of the enclave page using the first entry of this PCMD page.
  const pcmdFirstPage = (pageIndex - (pageIndex % PCMDS_PER_PAGE)) * PAGE_SIZE + encl.base;
  const pagePcmdOff = sgxPcmdOffset(encl, pageIndex);
  const b = sgxEnclGetBacking(encl, pageIndex);
  if (isErrno(b)) return b;
  let ret: 0 | Errno = 0;
  const va = page.vaPage;
  if (!va) {
    // Linux would dereference a NULL va_page here (a page whose EWB failed before it was ever evicted).
    sgx.warnOnce('ELDU of a page without a saved version');
    ret = EFAULT;
  } else {
    const pginfo = sgx.scratchPfn * PAGE_SIZE;
    sgx.k.mem.write(
      pginfo,
      encode(PAGEINFO, {
        linAddr: BigInt(page.addr),
        srcPge: BigInt(b.contents),
        secinfo: BigInt(b.pcmd),
        secs: BigInt(secsPage ? secsPage.pa : 0),
      }),
    );
    const r = __eldu(sgx, pginfo, epcPage.pa, va.epcPage.pa + page.vaOffset, {
      encl: encl.id,
      addr: page.addr,
      secs: secsPage === null,
    });
    if (r) {
      if (enclsFailed(r)) sgx.enclsWarn(r, 'ELDU');
      ret = EFAULT;
    }
  }
  // The PCMD entry is zeroed and the contents page dropped whether or not ELDU succeeded.
  sgx.k.mem.write(b.pcmd, new Uint8Array(SGX_PCMD_SIZE));
  const pcmdPageEmpty = sgx.k.mem.read(b.pcmd - b.pcmdOffset, PAGE_SIZE).every((x) => x === 0);
  encl.backing!.truncate(pageIndex);
  if (pcmdPageEmpty && !reclaimerWritingToPcmd(encl, pcmdFirstPage)) {
    encl.backing!.truncate(Math.floor(pagePcmdOff / PAGE_SIZE));
  }
  return ret;
}

/**
 * sgx_encl_eldu(): a fresh EPC page (no direct reclaim) loaded with `page`.
 * @returns the EPC page, or EBUSY/ENOMEM from the allocator, EFAULT from ELDU.
 */
function sgxEnclEldu(page: SgxEnclPage, secsPage: SgxEpcPage | null): SgxEpcPage | Errno {
  const encl = page.encl;
  const sgx = encl.sgx;
  const epcPage = sgxAllocEpcPage(sgx, page, false);
  if (isErrno(epcPage)) return epcPage;
  const ret = __sgxEnclEldu(page, epcPage, secsPage);
  if (ret) {
    sgx.stats.elduFailures++;
    sgxEnclFreeEpcPage(sgx, epcPage);
    return ret;
  }
  const va = page.vaPage!;
  sgxFreeVaSlot(va, page.vaOffset);
  encl.vaPages.move(va.list);
  page.vaOffset = 0;
  page.epcPage = epcPage;
  if (secsPage) {
    sgx.stats.reloaded++;
    encl.reloaded++;
  } else {
    sgx.stats.secsReloaded++;
  }
  return epcPage;
}

/**
 * __sgx_encl_load_page(): the page, made resident.
 * @returns the page, or EBUSY (the reclaimer is writing it out), or what sgx_encl_eldu() failed with.
 */
function __sgxEnclLoadPage(encl: SgxEncl, entry: SgxEnclPage): SgxEnclPage | Errno {
  if (entry.epcPage) {
    if (entry.beingReclaimed) return EBUSY;
    return entry;
  }
  if (!encl.secs.epcPage) {
    const secs = sgxEnclEldu(encl.secs, null);
    if (isErrno(secs)) return secs;
  }
  const epc = sgxEnclEldu(entry, encl.secs.epcPage);
  if (isErrno(epc)) return epc;
  encl.secsChildCnt++;
  sgxMarkPageReclaimable(encl.sgx, epc);
  return entry;
}

/**
 * sgx_encl_load_page_in_vma(): the page at `addr` for an access through a VMA with `vmFlags`.
 * @returns the page, or EFAULT (no page there, or the VMA allows more than the page's build-time permissions),
 *   EBUSY, or a load failure.
 */
export function sgxEnclLoadPageInVma(encl: SgxEncl, addr: number, vmFlags: number): SgxEnclPage | Errno {
  const vmProtBits = vmFlags & (VM_READ | VM_WRITE | VM_EXEC);
  const entry = encl.pageArray.get(Math.floor(addr / PAGE_SIZE));
  if (!entry) return EFAULT;
  // "Verify that the page has equal or higher build time permissions than the VMA permissions."
  if ((entry.vmMaxProtBits & vmProtBits) !== vmProtBits) return EFAULT;
  return __sgxEnclLoadPage(encl, entry);
}

/** sgx_encl_load_page(): the page at `addr`, made resident (the SGX2 ioctls' path). */
export function sgxEnclLoadPage(encl: SgxEncl, addr: number): SgxEnclPage | Errno {
  const entry = encl.pageArray.get(Math.floor(addr / PAGE_SIZE));
  if (!entry) return EFAULT;
  return __sgxEnclLoadPage(encl, entry);
}
