/**
 * get_user_pages() (mm/gup.c): fault user pages in and take a reference on each frame, as a driver does to
 * read a source page (the SGX driver's EADD source). Like check_vma_flags(), VM_IO/VM_PFNMAP mappings are
 * refused, a write needs VM_WRITE, a read needs VM_READ (FOLL_FORCE, ptrace's flag: VM_MAYREAD), and a missing
 * VMA is EFAULT.
 */
import { PAGE_SIZE, PTE_P, PTE_W } from '../../hw/index';
import { EFAULT, type Errno } from '../abi/index';
import { handleMmFault } from './fault';
import type { Mm } from './mm';
import { FAULT_FLAG_WRITE } from './types';
import { VM_IO, VM_MAYREAD, VM_PFNMAP, VM_READ, VM_WRITE } from './vm-flags';

/** Pinned frames and the put_page() for all of them. */
export interface PinnedPages {
  readonly pfns: readonly number[];
  /** Drops the references (unpin_user_pages()). */
  release(): void;
}

/**
 * Pins `nrPages` pages from `start` (page-aligned down). A read of untouched anonymous memory pins the
 * shared zero page, as Linux does.
 * @returns the frames, or EFAULT.
 */
export function getUserPages(
  mm: Mm,
  start: number,
  nrPages: number,
  write: boolean,
  opts: { readonly force?: boolean } = {},
): PinnedPages | Errno {
  const out: number[] = [];
  const put = () => {
    for (const p of out) if (p !== mm.ctx.zeroPfn) mm.ctx.pages.put(p);
    out.length = 0;
  };
  const release = (): Errno => {
    put();
    return EFAULT;
  };
  for (let i = 0; i < nrPages; i++) {
    const addr = Math.floor(start / PAGE_SIZE) * PAGE_SIZE + i * PAGE_SIZE;
    const vma = mm.vmas.lookup(addr);
    if (!vma || vma.flags & (VM_IO | VM_PFNMAP)) return release();
    if (write && !(vma.flags & VM_WRITE)) return release();
    if (!write && !(vma.flags & VM_READ) && !(opts.force && vma.flags & VM_MAYREAD)) return release();
    let pte = mm.pageTable.lookup(addr / PAGE_SIZE);
    // FOLL_WRITE breaks COW (and replaces the zero page) so the caller sees its own page.
    const needFault = !pte || !(pte.flags & PTE_P) || (write && !(pte.flags & PTE_W));
    if (needFault) {
      const r = handleMmFault(vma, addr, write ? FAULT_FLAG_WRITE : 0);
      if (r.kind !== 'ok') return release();
      pte = mm.pageTable.lookup(addr / PAGE_SIZE);
    }
    if (!pte) return release();
    const page = mm.normalPage(vma, pte.pfn) ?? (pte.pfn === mm.ctx.zeroPfn ? pte.pfn : undefined);
    if (page === undefined) return release();
    if (page !== mm.ctx.zeroPfn) mm.ctx.pages.get(page);
    out.push(page);
  }
  return { pfns: [...out], release: put };
}
