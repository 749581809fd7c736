/**
 * The page-fault path: do_user_addr_fault() and access_error() (arch/x86/mm/fault.c), handle_mm_fault()
 * with do_anonymous_page(), do_fault()/do_cow_fault() and do_wp_page() (mm/memory.c), and
 * anon_vma_prepare() (mm/rmap.c). Host accesses, copy_from_user/copy_to_user and, later, the CPU all come
 * through here.
 */
import { PAGE_SIZE, PfErr, PTE_A, PTE_D, PTE_P, PTE_W } from '../../hw/index';
import { BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR } from '../abi/index';
import { AnonVma } from './anon-vma';
import type { Mm } from './mm';
import { FAULT_FLAG_INSTRUCTION, FAULT_FLAG_USER, FAULT_FLAG_WRITE, type FaultOutcome } from './types';
import { pteFlagsFor, VM_ACCESS_FLAGS, VM_SHARED, VM_SOFTDIRTY, VM_WRITE } from './vm-flags';
import type { Vma } from './vma';

const OK: FaultOutcome = Object.freeze({ kind: 'ok' });
const RETRY: FaultOutcome = Object.freeze({ kind: 'retry' });

/**
 * access_error(): does the VMA forbid this access outright? An SGX-flagged #PF (EPCM violation) is always
 * one: "the page tables are fine, the EPCM said no".
 */
export function accessError(errorCode: number, vma: Vma): boolean {
  if (errorCode & PfErr.PK) return true;
  if (errorCode & PfErr.SGX) return true;
  if (errorCode & PfErr.W) return (vma.flags & VM_WRITE) === 0;
  // read, present: a protection fault on a readable page (e.g. NX instruction fetch)
  if (errorCode & PfErr.P) return true;
  // read, not present
  return !vma.isAccessible;
}

/** anon_vma_compatible() as used by find_mergeable_anon_vma(). */
function anonVmaCompatible(a: Vma, b: Vma): boolean {
  return (
    a.end === b.start &&
    a.file === b.file &&
    ((a.flags ^ b.flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) === 0 &&
    b.pgoff === a.pgoff + (b.start - a.start) / PAGE_SIZE
  );
}

/**
 * anon_vma_prepare(): the first anonymous page of a VMA gives it an anon_vma, reusing a compatible
 * neighbour's (next first, then prev) so that a later mprotect() can merge them again.
 */
export function anonVmaPrepare(vma: Vma): void {
  if (vma.anonVma) return;
  const mm = vma.mm;
  let av: AnonVma | null = null;
  const next = mm.vmas.next(vma);
  if (next && anonVmaCompatible(vma, next) && next.anonVma && next.anonVmaChain.length === 1) av = next.anonVma;
  if (!av) {
    const prev = mm.vmas.prev(vma);
    if (prev && anonVmaCompatible(prev, vma) && prev.anonVma && prev.anonVmaChain.length === 1) av = prev.anonVma;
  }
  vma.anonVma = av ?? new AnonVma();
  vma.anonVmaChain = [vma.anonVma];
}

/**
 * cow_user_page(): copies a page the way a non-enclave access sees it, so a copy of an EPC frame reads as
 * the abort page (all ones) and never leaks enclave memory.
 */
function copyUserPage(mm: Mm, dst: number, src: number): void {
  const mem = mm.ctx.mem;
  if (mem.isEpc(src * PAGE_SIZE)) mem.page(dst).fill(0xff);
  else mem.copyPage(dst, src);
}

/** Installs a RAM page (reference already taken for this mapping) and counts it. */
function installPage(mm: Mm, vma: Vma, addr: number, pfn: number, writable: boolean, dirty: boolean): void {
  const flags = pteFlagsFor(vma.flags, writable) | PTE_A | (dirty ? PTE_D : 0);
  mm.pageTable.set(addr / PAGE_SIZE, pfn, flags);
  if (mm.normalPage(vma, pfn) !== undefined) mm.rss++;
}

/** do_anonymous_page(): the zero page for a read, a fresh zeroed page for a write. */
function doAnonymousPage(mm: Mm, vma: Vma, addr: number, write: boolean): FaultOutcome {
  if (!write) {
    mm.pageTable.set(addr / PAGE_SIZE, mm.ctx.zeroPfn, pteFlagsFor(vma.flags, false) | PTE_A);
    return OK;
  }
  anonVmaPrepare(vma);
  const pfn = mm.ctx.allocPage(mm);
  if (pfn === undefined) return { kind: 'oom', addr };
  installPage(mm, vma, addr, pfn, true, true);
  return OK;
}

/**
 * do_fault(): the VMA's ->fault provides the page (or installs a PFN itself). A write to a private mapping
 * copies the page first (do_cow_fault()).
 */
function doFault(mm: Mm, vma: Vma, addr: number, realAddr: number, flags: number): FaultOutcome {
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  const res = vma.ops!.fault!({ vma, address: addr, realAddress: realAddr, pgoff: vma.pgoffOf(addr), flags });
  switch (res.kind) {
    case 'NOPAGE':
      return OK;
    case 'RETRY':
      return RETRY;
    case 'SIGBUS':
      return { kind: 'sigbus', code: BUS_ADRERR, addr: realAddr };
    case 'SIGSEGV':
      return { kind: 'sigsegv', code: SEGV_MAPERR, addr: realAddr };
    case 'OOM':
      return { kind: 'oom', addr: realAddr };
    case 'PAGE': {
      if (write && !(vma.flags & VM_SHARED)) {
        anonVmaPrepare(vma);
        const copy = mm.ctx.allocPage(mm);
        if (copy === undefined) {
          mm.ctx.pages.put(res.pfn);
          return { kind: 'oom', addr: realAddr };
        }
        copyUserPage(mm, copy, res.pfn);
        mm.ctx.pages.put(res.pfn);
        installPage(mm, vma, addr, copy, true, true);
        return OK;
      }
      const writable = (vma.flags & VM_SHARED) !== 0 && (vma.flags & VM_WRITE) !== 0;
      installPage(mm, vma, addr, res.pfn, writable, write);
      return OK;
    }
    default: {
      const _exhaustive: never = res;
      return _exhaustive;
    }
  }
}

/**
 * do_wp_page(): a write hit a present read-only PTE in a writable VMA. Shared mappings just become
 * writable; a private page we own alone is reused; otherwise (or for the zero page) it is copied.
 */
function doWpPage(mm: Mm, vma: Vma, addr: number): FaultOutcome {
  const vpn = addr / PAGE_SIZE;
  const pte = mm.pageTable.lookup(vpn)!;
  if (vma.flags & VM_SHARED) {
    pte.flags |= PTE_W | PTE_D | PTE_A;
    return OK;
  }
  const page = mm.normalPage(vma, pte.pfn);
  if (page !== undefined && mm.ctx.pages.refcount(page) === 1) {
    // wp_can_reuse_anon_folio(): we are the only user.
    pte.flags |= PTE_W | PTE_D | PTE_A;
    mm.ctx.flushTlb(mm, addr, addr + PAGE_SIZE);
    return OK;
  }
  anonVmaPrepare(vma);
  const copy = mm.ctx.allocPage(mm);
  if (copy === undefined) return { kind: 'oom', addr };
  if (pte.pfn !== mm.ctx.zeroPfn) copyUserPage(mm, copy, pte.pfn);
  mm.notifyInvalidate(addr, addr + PAGE_SIZE);
  mm.pageTable.clear(vpn);
  if (page !== undefined) {
    mm.ctx.pages.put(page);
    mm.rss--;
  }
  installPage(mm, vma, addr, copy, true, true);
  mm.ctx.flushTlb(mm, addr, addr + PAGE_SIZE);
  return OK;
}

/**
 * handle_mm_fault() for a fault already known to be inside `vma` and allowed by it.
 * @param flags FAULT_FLAG_* bits
 */
export function handleMmFault(vma: Vma, address: number, flags: number): FaultOutcome {
  const mm = vma.mm;
  mm.faults++;
  const addr = Math.floor(address / PAGE_SIZE) * PAGE_SIZE;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  const pte = mm.pageTable.lookup(addr / PAGE_SIZE);
  if (!pte) {
    if (vma.ops?.fault) return doFault(mm, vma, addr, address, flags);
    if (vma.ops) return { kind: 'sigbus', code: BUS_ADRERR, addr: address };
    return doAnonymousPage(mm, vma, addr, write);
  }
  if (!(pte.flags & PTE_P)) {
    // A PROT_NONE entry in a VMA that is accessible again would have been rewritten by mprotect; restore it.
    pte.flags = pteFlagsFor(vma.flags, false) | (pte.flags & (PTE_A | PTE_D));
    return OK;
  }
  if (write && !(pte.flags & PTE_W)) return doWpPage(mm, vma, addr);
  // Spurious: another CPU fixed it, or a stale TLB entry. Mark young/dirty as the walker would.
  pte.flags |= PTE_A | (write ? PTE_D : 0);
  return OK;
}

/**
 * do_user_addr_fault(): resolves a #PF at `addr` with x86 `errorCode` (PfErr bits) in `mm`.
 * @returns ok / retry, or the signal to raise: SIGSEGV with SEGV_MAPERR (no VMA) or SEGV_ACCERR (the VMA
 *   forbids the access, or an SGX EPCM fault), SIGBUS from the VMA's fault handler, or oom.
 */
export function doUserAddrFault(mm: Mm, addr: number, errorCode: number): FaultOutcome {
  const vma = mm.vmas.find(addr);
  if (!vma || addr < vma.start) return { kind: 'sigsegv', code: SEGV_MAPERR, addr };
  if (accessError(errorCode, vma)) return { kind: 'sigsegv', code: SEGV_ACCERR, addr };
  let flags = 0;
  if (errorCode & PfErr.W) flags |= FAULT_FLAG_WRITE;
  if (errorCode & PfErr.U) flags |= FAULT_FLAG_USER;
  if (errorCode & PfErr.I) flags |= FAULT_FLAG_INSTRUCTION;
  return handleMmFault(vma, addr, flags);
}
