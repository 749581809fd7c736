/**
 * sgx_vm_ops (encl.c): what the kernel calls on an enclave VMA. A fault maps the EPC page of the faulting
 * address into the faulting mm only, loading it back from the backing store first if it was evicted; a VMA copy
 * (fork, split) adds its mm to mm_list; mprotect() is held to the mmap rule; and ptrace-style access reads and
 * writes a debug enclave through EDBGRD/EDBGWR.
 */
import { PAGE_SIZE } from '../../hw/index';
import {
  EACCES,
  EBUSY,
  EFAULT,
  EIO,
  type Errno,
  isErrno,
  VM_FAULT_NOPAGE,
  VM_FAULT_SIGBUS,
  type Vma,
  type VmFault,
  type VmFaultResult,
  type VmOperations,
  vmfInsertPfn,
} from '../../kernel/index';
import { SGX_ENCL_DEBUG } from './constants';
import type { SgxEncl, SgxEnclPage } from './encl';
import { sgxEnclMmAdd, sgxEnclTestAndClearYoung } from './encl-mm';
import { __edbgrd, __edbgwr } from './encls';
import { sgxEnclLoadPageInVma } from './load-page';
import { sgxEnclMayMap } from './mmap';

/**
 * sgx_vma_fault().
 * @returns NOPAGE (the PTE is in place, or the page is being reclaimed and the access should be retried), or
 *   SIGBUS: no enclave (a failed fork-time mm_add), no page at the address, a VMA allowing more than the page,
 *   a failed reload (ELDU MAC mismatch, no EPC that could be reclaimed), or a failed PFN insert.
 */
function sgxVmaFault(vmf: VmFault): VmFaultResult {
  const vma = vmf.vma;
  const addr = vmf.address;
  const encl = vma.privateData as SgxEncl | null;
  // vm_private_data is cleared when sgx_vma_open() could not add a forked mm.
  if (!encl) return VM_FAULT_SIGBUS;
  if (encl.sgx.m.features.sgx2 && !encl.pageArray.has(addr / PAGE_SIZE))
    throw new Error('sgx_encl_eaug_page: EAUG on fault is not modelled (the hardware model has no SGX2 leaves)');
  const entry = sgxEnclLoadPageInVma(encl, addr, vma.flags);
  if (isErrno(entry)) {
    // EBUSY: the page is being written out, or no EPC page is free until ksgxd frees some; the access retries.
    if (entry === EBUSY) {
      encl.sgx.stats.faultBusy++;
      return VM_FAULT_NOPAGE;
    }
    encl.sgx.trace('sgx_vma_fault', { encl: encl.id, addr, ret: entry.name });
    return VM_FAULT_SIGBUS;
  }
  const ret = vmfInsertPfn(vma, addr, entry.epcPage!.pfn);
  if (ret.kind !== 'NOPAGE') return VM_FAULT_SIGBUS;
  // The PTE starts young; clear it so that the reclaimer sees only accesses made after this fault.
  sgxEnclTestAndClearYoung(vma.mm, entry);
  encl.sgx.trace('sgx_vma_fault', { encl: encl.id, addr, mm: vma.mm.id, pfn: entry.epcPage!.pfn });
  return VM_FAULT_NOPAGE;
}

/** sgx_vma_open(): a copied VMA (fork, split) brings its mm onto mm_list. */
function sgxVmaOpen(vma: Vma): void {
  const encl = vma.privateData as SgxEncl | null;
  if (!encl) return;
  if (sgxEnclMmAdd(encl, vma.mm)) vma.privateData = null;
}

/** sgx_vma_mprotect(): sgx_encl_may_map() with the new flags. @returns 0 or EACCES. */
function sgxVmaMprotect(vma: Vma, start: number, end: number, newFlags: number): 0 | Errno {
  const encl = vma.privateData as SgxEncl | null;
  // Upstream dereferences it unconditionally; it is only null after an allocation failure at fork, which this
  // model never has. Refuse rather than crash.
  if (!encl) return EACCES;
  return sgxEnclMayMap(encl, start, end, newFlags);
}

/**
 * sgx_encl_reserve_page(): the page at `addr`, resident, for an access through a VMA with `vmFlags`. Linux spins
 * while the reclaimer holds the page; nothing else can run inside this step, so EBUSY is returned instead.
 */
function sgxEnclReservePage(encl: SgxEncl, addr: number, vmFlags: number): SgxEnclPage | Errno {
  return sgxEnclLoadPageInVma(encl, addr, vmFlags);
}

/**
 * sgx_vma_access(): reads into or writes from `buf` at `addr`, 8-byte word by word with EDBGRD (and EDBGWR for a
 * write, merging partial words).
 * @returns the bytes done, or EFAULT (no enclave, not a DEBUG enclave, no page or a VMA allowing more than it),
 *   EIO (EDBGRD/EDBGWR failed), EBUSY (the reclaimer holds the page), or a reload failure.
 */
function sgxVmaAccess(vma: Vma, addr: number, buf: Uint8Array, write: boolean): number | Errno {
  const encl = vma.privateData as SgxEncl | null;
  if (!encl) return EFAULT;
  // A production enclave's memory is unreadable.
  if (!(encl.flags & SGX_ENCL_DEBUG)) return EFAULT;
  const sgx = encl.sgx;
  const len = buf.length;
  let ret: number | Errno = 0;
  let i = 0;
  while (i < len) {
    const a = addr + i;
    const entry = sgxEnclReservePage(encl, a - (a % PAGE_SIZE), vma.flags);
    if (isErrno(entry)) {
      ret = entry;
      break;
    }
    const align = a - (a % 8);
    const offset = a % 8;
    const cnt = Math.min(8 - offset, len - i);
    const epcAddr = entry.epcPage!.pa + (align % PAGE_SIZE);
    const rd = __edbgrd(sgx, epcAddr, { encl: encl.id, addr: align });
    if (rd.ret) {
      ret = EIO;
      break;
    }
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigUint64(0, rd.data, true);
    if (write) {
      data.set(buf.subarray(i, i + cnt), offset);
      const wr = __edbgwr(sgx, epcAddr, new DataView(data.buffer).getBigUint64(0, true), {
        encl: encl.id,
        addr: align,
      });
      if (wr) {
        ret = EIO;
        break;
      }
    } else {
      buf.set(data.subarray(offset, offset + cnt), i);
    }
    i += cnt;
  }
  return isErrno(ret) ? ret : i;
}

/** sgx_vm_ops, one object per driver instance (sgx_encl_find() compares vm_ops with it). */
export function sgxVmOps(): VmOperations {
  return Object.freeze({
    fault: sgxVmaFault,
    mprotect: sgxVmaMprotect,
    open: sgxVmaOpen,
    access: sgxVmaAccess,
  });
}
