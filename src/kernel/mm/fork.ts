/**
 * fork()'s address-space copy: dup_mmap() (kernel/fork.c / mm/mmap.c) and copy_page_range() (mm/memory.c).
 * Private pages become copy-on-write in both parent and child; shared mappings keep the same pages (the
 * child faults them in from the shared object); VM_DONTCOPY VMAs are not inherited; VM_WIPEONFORK VMAs are
 * inherited empty; every copied VMA gets vm_ops->open. PFN mappings (VM_PFNMAP, e.g. EPC) have their PTEs
 * copied as they are, without page references - vma_needs_copy() returns true for them.
 */
import { PAGE_SIZE, PTE_A, PTE_D, PTE_W } from '../../hw/index';
import { ENOMEM, type Errno } from '../abi/index';
import { AnonVma } from './anon-vma';
import type { Mm } from './mm';
import {
  isCowMapping,
  VM_ACCOUNT,
  VM_DONTCOPY,
  VM_LOCKED_MASK,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_SHARED,
  VM_WIPEONFORK,
} from './vm-flags';
import type { Vma } from './vma';

/** vma_needs_copy(). */
function vmaNeedsCopy(src: Vma): boolean {
  return (src.flags & (VM_PFNMAP | VM_MIXEDMAP)) !== 0 || src.anonVma !== null;
}

/** copy_page_range(): @returns whether any parent PTE was write-protected (the parent TLB needs a flush). */
function copyPageRange(dst: Vma, src: Vma): boolean {
  if (!vmaNeedsCopy(src)) return false;
  const sm = src.mm;
  const dm = dst.mm;
  let wrprotected = false;
  const cow = isCowMapping(src.flags);
  for (const vpn of sm.pageTable.vpnsIn(src.start / PAGE_SIZE, src.end / PAGE_SIZE)) {
    const pte = sm.pageTable.lookup(vpn)!;
    const page = sm.normalPage(src, pte.pfn);
    if (page !== undefined) {
      sm.ctx.pages.get(page);
      dm.rss++;
    }
    let flags = pte.flags;
    if (cow && flags & PTE_W) {
      pte.flags &= ~PTE_W;
      flags &= ~PTE_W;
      wrprotected = true;
    }
    // copy_present_pte(): "if (vm_flags & VM_SHARED) pte = pte_mkclean(pte); pte = pte_mkold(pte);"
    if (src.flags & VM_SHARED) flags &= ~PTE_D;
    flags &= ~PTE_A;
    dm.pageTable.set(vpn, pte.pfn, flags);
  }
  return wrprotected;
}

/**
 * dup_mmap(): fills the empty `newMm` from `oldMm`.
 * @returns 0, or ENOMEM when a VM_ACCOUNT VMA cannot be charged (the caller tears `newMm` down).
 */
export function dupMmap(oldMm: Mm, newMm: Mm): 0 | Errno {
  let flush = false;
  newMm.asLimit = oldMm.asLimit;
  for (const mpnt of oldMm.vmas.all()) {
    if (mpnt.flags & VM_DONTCOPY) continue;
    if (mpnt.flags & VM_ACCOUNT && !oldMm.ctx.vmEnoughMemory(mpnt.pages)) {
      if (flush) oldMm.ctx.flushTlb(oldMm, 0, 2 ** 47);
      return ENOMEM;
    }
    const tmp = mpnt.dup(newMm);
    if (mpnt.flags & VM_WIPEONFORK) {
      tmp.anonVma = null;
      tmp.anonVmaChain = [];
    } else if (mpnt.anonVma) {
      // anon_vma_fork(): the child gets its own anon_vma chained below the parent's.
      tmp.anonVma = new AnonVma(mpnt.anonVma);
      tmp.anonVmaChain = [...mpnt.anonVmaChain, tmp.anonVma];
    }
    tmp.flags &= ~VM_LOCKED_MASK;
    tmp.file?.get();
    newMm.vmas.insert(tmp);
    newMm.totalVm += tmp.pages;
    tmp.ops?.open?.(tmp);
    if (!(tmp.flags & VM_WIPEONFORK) && copyPageRange(tmp, mpnt)) flush = true;
  }
  if (flush) oldMm.ctx.flushTlb(oldMm, 0, 2 ** 47);
  return 0;
}
