/**
 * mprotect(2) below the syscall layer: do_mprotect_pkey() and mprotect_fixup() (mm/mprotect.c), including
 * the partial application Linux does when it meets a hole half-way (earlier VMAs keep the new protection
 * and the call fails with ENOMEM).
 */
import { PAGE_SIZE, PTE_A, PTE_D } from '../../hw/index';
import {
  EACCES,
  EINVAL,
  ENOMEM,
  type Errno,
  isErrno,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
} from '../abi/index';
import type { Mm } from './mm';
import { pageAlign } from './munmap';
import {
  calcVmProtBits,
  pteFlagsFor,
  VM_ACCESS_FLAGS,
  VM_ACCOUNT,
  VM_HUGETLB,
  VM_NORESERVE,
  VM_SHARED,
  VM_WRITE,
} from './vm-flags';
import type { Vma } from './vma';
import { vmaModifyFlags } from './vma-merge';

/** Bits mprotect() replaces (VM_ACCESS_FLAGS | VM_FLAGS_CLEAR without pkeys). */
const MASK_OFF_OLD = VM_ACCESS_FLAGS;

/**
 * change_protection(): rewrites the PTEs of [start, end) for the VMA's new flags. Private pages stay
 * read-only unless the page is exclusively ours (can_change_pte_writable()), so copy-on-write keeps working;
 * PROT_NONE turns entries non-present but keeps the pages.
 */
export function changeProtection(mm: Mm, vma: Vma, start: number, end: number): void {
  const vpns = mm.pageTable.vpnsIn(start / PAGE_SIZE, end / PAGE_SIZE);
  if (vpns.length === 0) return;
  mm.notifyInvalidate(start, end);
  const shared = (vma.flags & VM_SHARED) !== 0;
  for (const vpn of vpns) {
    const pte = mm.pageTable.lookup(vpn)!;
    let writable = false;
    if (vma.flags & VM_WRITE) {
      if (shared) writable = true;
      else {
        // can_change_pte_writable(): only an exclusive anonymous page may become writable in place.
        const page = mm.normalPage(vma, pte.pfn);
        writable = page !== undefined && mm.ctx.pages.refcount(page) === 1;
      }
    }
    pte.flags = pteFlagsFor(vma.flags, writable) | (pte.flags & (PTE_A | PTE_D));
  }
  mm.ctx.flushTlb(mm, start, end);
}

/**
 * mprotect_fixup(): gives [start, end) of `vma` the flags `newFlags`, with the accounting rules: becoming
 * writable charges a private mapping (VM_ACCOUNT); an unfaulted anonymous mapping losing write access is
 * uncharged again.
 * @returns the VMA now covering the range (the next `prev`), or ENOMEM / a may_split Errno.
 */
export function mprotectFixup(
  mm: Mm,
  prev: Vma | undefined,
  vma: Vma,
  start: number,
  end: number,
  newFlagsIn: number,
): Vma | Errno {
  let newFlags = newFlagsIn;
  const oldFlags = vma.flags;
  if (newFlags === oldFlags) return vma;
  const nrpages = (end - start) / PAGE_SIZE;
  if (newFlags & VM_WRITE) {
    if (!(oldFlags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE))) {
      if (!mm.ctx.vmEnoughMemory(nrpages)) return ENOMEM;
      newFlags |= VM_ACCOUNT;
    }
  } else if (oldFlags & VM_ACCOUNT && vma.isAnonymous && !vma.anonVma) {
    newFlags &= ~VM_ACCOUNT;
  }
  const r = vmaModifyFlags(mm, prev, vma, start, end, newFlags);
  if (isErrno(r)) return r;
  r.flags = newFlags;
  changeProtection(mm, r, start, end);
  return r;
}

/**
 * do_mprotect_pkey() without protection keys.
 * @returns 0, or: EINVAL (unaligned start, PROT_GROWSDOWN|PROT_GROWSUP together, unknown prot bits);
 *   ENOMEM (wrapping range, a hole in the range, split limit); EACCES (asking for a right the mapping may
 *   never have, e.g. PROT_WRITE on a MAP_SHARED mapping of a read-only file); or the VMA's
 *   vm_ops->mprotect veto (the SGX driver returns EACCES).
 */
export function doMprotect(mm: Mm, startIn: number, lenIn: number, protIn: number): 0 | Errno {
  let prot = protIn;
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return EINVAL;
  if (startIn % PAGE_SIZE !== 0) return EINVAL;
  if (lenIn === 0) return 0;
  const len = pageAlign(lenIn);
  const start = startIn;
  const end = start + len;
  if (end <= start) return ENOMEM;
  // arch_validate_prot(): x86 accepts only these bits.
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) return EINVAL;
  const first = mm.vmas.intersection(start, end);
  if (!first) return ENOMEM;
  if (grows & PROT_GROWSDOWN) return EINVAL; // only VM_GROWSDOWN VMAs accept it; we create none
  if (first.start > start) return ENOMEM;
  let prev: Vma | undefined = start > first.start ? first : mm.vmas.prev(first);
  let nstart = start;
  let tmp = first.start;
  let error: 0 | Errno = 0;
  // for_each_vma_range() over the live tree: fixups split and merge as they go.
  for (let vma = mm.vmas.find(tmp); vma && vma.start < end; vma = mm.vmas.find(tmp)) {
    if (vma.start !== tmp) {
      error = ENOMEM;
      break;
    }
    const newFlags = (calcVmProtBits(prot) | (vma.flags & ~MASK_OFF_OLD)) >>> 0;
    // "newflags >> 4 shift VM_MAY% in place of VM_%"
    if (newFlags & ~(newFlags >>> 4) & VM_ACCESS_FLAGS) {
      error = EACCES;
      break;
    }
    tmp = Math.min(vma.end, end);
    if (vma.ops?.mprotect) {
      const e = vma.ops.mprotect(vma, nstart, tmp, newFlags);
      if (e !== 0) {
        error = e;
        break;
      }
    }
    const r = mprotectFixup(mm, prev, vma, nstart, tmp, newFlags);
    if (isErrno(r)) {
      error = r;
      break;
    }
    prev = r;
    tmp = r.end;
    nstart = tmp;
  }
  if (error === 0 && tmp < end) error = ENOMEM;
  return error;
}
