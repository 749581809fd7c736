/**
 * Helpers for drivers that map memory without struct pages (EPC): vmf_insert_pfn() and zap_vma_ptes()
 * (mm/memory.c), ptep_test_and_clear_young() (arch/x86/mm/pgtable.c) and a PTE lookup (follow_pte()).
 * The allocator never counts these frames.
 */
import { PAGE_SIZE, PTE_A, type Pte } from '../../hw/index';
import { VM_FAULT_NOPAGE, VM_FAULT_SIGBUS, type VmFaultResult } from './types';
import { pteFlagsFor, VM_MIXEDMAP, VM_PFNMAP, VM_SHARED } from './vm-flags';
import type { Vma } from './vma';

/**
 * vmf_insert_pfn(): maps physical frame `pfn` at `addr` with the VMA's protection (writable only for a
 * shared writable VMA). The entry starts Accessed, as x86's PAGE_* protections include _PAGE_ACCESSED.
 * @returns NOPAGE (also when the same frame is already mapped), or SIGBUS when `addr` is outside the VMA.
 */
export function vmfInsertPfn(vma: Vma, addr: number, pfn: number): VmFaultResult {
  if (!(vma.flags & (VM_PFNMAP | VM_MIXEDMAP))) throw new Error('vmf_insert_pfn on a VMA without VM_PFNMAP');
  if (addr < vma.start || addr >= vma.end) return VM_FAULT_SIGBUS;
  const mm = vma.mm;
  const vpn = Math.floor(addr / PAGE_SIZE);
  const old = mm.pageTable.lookup(vpn);
  // insert_pfn(): an existing entry is left alone (a different frame is a driver bug Linux WARNs about).
  if (old) return VM_FAULT_NOPAGE;
  const writable = (vma.flags & VM_SHARED) !== 0;
  mm.pageTable.set(vpn, pfn, pteFlagsFor(vma.flags, writable) | PTE_A);
  return VM_FAULT_NOPAGE;
}

/**
 * zap_vma_ptes(): removes the PTEs of [addr, addr + len) from a VM_PFNMAP VMA and flushes the TLB of every
 * CPU that may cache them. Silently does nothing for a range outside the VMA or a non-PFNMAP VMA.
 */
export function zapVmaPtes(vma: Vma, addr: number, len: number): void {
  if (addr < vma.start || addr + len > vma.end || !(vma.flags & VM_PFNMAP)) return;
  vma.mm.zapRange(vma, addr, addr + len);
}

/** follow_pte(): the entry mapping `addr` in `vma`, if any. */
export function followPte(vma: Vma, addr: number): Pte | undefined {
  if (addr < vma.start || addr >= vma.end) return undefined;
  return vma.mm.pageTable.lookup(Math.floor(addr / PAGE_SIZE));
}

/**
 * ptep_test_and_clear_young(): clears the Accessed bit of the PTE for `addr` and says whether it was set.
 * Like Linux it does not flush the TLB (a CPU may keep using a cached translation without setting A again).
 */
export function ptepTestAndClearYoung(vma: Vma, addr: number): boolean {
  const pte = followPte(vma, addr);
  if (!pte) return false;
  const young = (pte.flags & PTE_A) !== 0;
  pte.flags &= ~PTE_A;
  return young;
}
