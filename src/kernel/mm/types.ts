/**
 * The interfaces drivers implement for their mappings (include/linux/mm.h struct vm_operations_struct,
 * struct vm_fault, vm_fault_t) and the outcome types of the fault path.
 */
import type { Errno } from '../abi/index';
import type { Mm } from './mm';
import type { Vma } from './vma';

/** FAULT_FLAG_* bits a fault handler sees (include/linux/mm_types.h). */
export const FAULT_FLAG_WRITE = 0x01;
export const FAULT_FLAG_USER = 0x40;
export const FAULT_FLAG_INSTRUCTION = 0x100;
export const FAULT_FLAG_ALLOW_RETRY = 0x04;

/** struct vm_fault: what ->fault receives. */
export interface VmFault {
  readonly vma: Vma;
  /** Faulting address, page-aligned (vmf->address). */
  readonly address: number;
  /** The exact faulting address (vmf->real_address). */
  readonly realAddress: number;
  /** File page offset of the faulting page (vmf->pgoff). */
  readonly pgoff: number;
  readonly flags: number;
}

/**
 * vm_fault_t as a discriminated union:
 * - NOPAGE: the handler installed the PTE itself (vmf_insert_pfn) or wants the access retried;
 * - PAGE: the core maps this RAM frame (the handler took a reference for the mapping, like vmf->page);
 * - SIGBUS / SIGSEGV: unresolvable;
 * - OOM: allocation failed;
 * - RETRY: transient, the access is retried after a scheduling point.
 */
export type VmFaultResult =
  | { readonly kind: 'NOPAGE' }
  | { readonly kind: 'PAGE'; readonly pfn: number }
  | { readonly kind: 'SIGBUS' }
  | { readonly kind: 'SIGSEGV' }
  | { readonly kind: 'OOM' }
  | { readonly kind: 'RETRY' };

export const VM_FAULT_NOPAGE: VmFaultResult = Object.freeze({ kind: 'NOPAGE' });
export const VM_FAULT_SIGBUS: VmFaultResult = Object.freeze({ kind: 'SIGBUS' });
export const VM_FAULT_SIGSEGV: VmFaultResult = Object.freeze({ kind: 'SIGSEGV' });
export const VM_FAULT_OOM: VmFaultResult = Object.freeze({ kind: 'OOM' });
export const VM_FAULT_RETRY: VmFaultResult = Object.freeze({ kind: 'RETRY' });

/** struct vm_operations_struct: the hooks the core calls on a driver's VMAs. All optional. */
export interface VmOperations {
  /** A copy of the VMA now exists (fork, split, mremap copy): take references for it (vm_ops->open). */
  open?(vma: Vma): void;
  /** The VMA is going away (munmap, exit, MAP_FIXED over it). A VMA with close() is never merged away. */
  close?(vma: Vma): void;
  /** Resolve a fault on a page with no PTE. */
  fault?(vmf: VmFault): VmFaultResult;
  /** Veto or accept an mprotect() of [start, end) to `newFlags` (vm_flags). Return 0 or an Errno. */
  mprotect?(vma: Vma, start: number, end: number, newFlags: number): 0 | Errno;
  /** Veto a split at `addr` (vm_ops->may_split). Return 0 or an Errno. */
  may_split?(vma: Vma, addr: number): 0 | Errno;
  /** The VMA was moved by mremap (vm_ops->mremap). Return 0 or an Errno. */
  mremap?(vma: Vma): 0 | Errno;
  /**
   * Access `buf.length` bytes at `addr` for another task (ptrace, /proc/<pid>/mem) where get_user_pages cannot reach
   * the memory (VM_IO/VM_PFNMAP). A read fills `buf`; a write takes its bytes. Return the bytes done or an Errno
   * (vm_ops->access).
   */
  access?(vma: Vma, addr: number, buf: Uint8Array, write: boolean): number | Errno;
  /** A name for /proc/<pid>/maps when the VMA has no file (vm_ops->name). */
  name?(vma: Vma): string | undefined;
}

/** Why a user access could not be satisfied: the signal the kernel raises (do_user_addr_fault()). */
export type FaultOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retry' }
  | { readonly kind: 'sigsegv'; readonly code: number; readonly addr: number }
  | { readonly kind: 'sigbus'; readonly code: number; readonly addr: number }
  | { readonly kind: 'oom'; readonly addr: number };

/** mmu_notifier_ops, reduced to what the SGX driver uses (include/linux/mmu_notifier.h). */
export interface MmuNotifier {
  /** The mm is being torn down (exit_mmap): called once, before the VMAs are unmapped. */
  release?(mm: Mm): void;
  /** PTEs in [start, end) are about to be cleared or changed (invalidate_range_start). */
  invalidateRange?(mm: Mm, start: number, end: number): void;
}
