/**
 * struct mm_struct: an address space. It owns the VMA tree and the page table, and keeps the counters the
 * limits need (map_count, total_vm, RSS). The operations on it live one per file (mmap.ts, munmap.ts,
 * mprotect.ts, mremap.ts, fork.ts, exit-mmap.ts, fault.ts), as mm/ does in Linux.
 */
import { PAGE_SIZE, type PhysMem } from '../../hw/index';
import type { OpenFile } from '../fd/file';
import type { PageAllocator } from './page-allocator';
import { MmPageTable } from './page-table';
import type { MmuNotifier } from './types';
import { VM_MIXEDMAP, VM_PFNMAP } from './vm-flags';
import type { Vma } from './vma';
import { VmaTree } from './vma-tree';

/** x86-64 TASK_SIZE_MAX with 4-level paging: (1 << 47) - PAGE_SIZE. */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;
/**
 * mmap_base without ASLR: TASK_SIZE minus the stack gap (8 MiB RLIMIT_STACK rounded, plus the guard gap),
 * which puts the first mapping just below 0x7ffff7fff000 as on x86-64 Linux with randomization off.
 */
export const DEFAULT_MMAP_BASE = 0x7ffff7fff000;
/** vm.mmap_min_addr default. */
export const MMAP_MIN_ADDR = 65536;

/** The services of the rest of the kernel that mm code calls into. */
export interface MmContext {
  readonly mem: PhysMem;
  readonly pages: PageAllocator;
  /** The shared zero page (empty_zero_page): mapped read-only for read faults on anonymous memory. */
  readonly zeroPfn: number;
  /** vm.max_map_count. */
  readonly maxMapCount: number;
  /**
   * A zeroed RAM frame for `mm`, running the OOM killer and retrying once when RAM is exhausted
   * (__alloc_pages_slowpath() -> out_of_memory()). Undefined when nothing could be freed, or when `mm` itself
   * was torn down by the kill.
   */
  allocPage(mm: Mm): number | undefined;
  /** flush_tlb_range(): PTEs in [start, end) changed; tell every CPU that may cache them. */
  flushTlb(mm: Mm, start: number, end: number): void;
  /** __vm_enough_memory() under the heuristic overcommit policy. */
  vmEnoughMemory(pages: number): boolean;
  /** Inode numbers, file ids and the live-file registry for files mm creates itself (shmem). */
  readonly ids: { ino(): number; file(): number; readonly registry?: Set<OpenFile> };
}

export class Mm {
  readonly vmas = new VmaTree();
  readonly pageTable = new MmPageTable();
  /** total_vm in pages. */
  totalVm = 0;
  /** Resident RAM pages mapped (MM_ANONPAGES + MM_SHMEMPAGES). */
  rss = 0;
  /** Page faults handled (minor; there is no swap). */
  faults = 0;
  /** mm_users: tasks using this address space. */
  users = 1;
  /** mm_cpumask(): CPUs that have this mm loaded (and may hold its TLB entries). */
  readonly cpumask = new Set<number>();
  readonly notifiers: MmuNotifier[] = [];
  /** RLIMIT_AS of the owning process, in bytes. */
  asLimit = Number.POSITIVE_INFINITY;
  /** Set once exit_mmap() ran. */
  dead = false;
  constructor(
    readonly ctx: MmContext,
    /** A small id for traces and snapshots, assigned by the kernel in creation order. */
    readonly id: number,
    readonly mmapBase = DEFAULT_MMAP_BASE,
  ) {}

  /** map_count. */
  get mapCount(): number {
    return this.vmas.count;
  }

  /** may_expand_vm() for RLIMIT_AS. */
  mayExpandVm(pages: number): boolean {
    return (this.totalVm + pages) * PAGE_SIZE <= this.asLimit;
  }

  /**
   * vm_normal_page(): the RAM frame behind a PTE that the page allocator counts, or undefined for the zero page,
   * PFN mappings (VM_PFNMAP/VM_MIXEDMAP, e.g. EPC) and frames outside RAM.
   */
  normalPage(vma: Vma, pfn: number): number | undefined {
    if (vma.flags & (VM_PFNMAP | VM_MIXEDMAP)) return undefined;
    if (pfn === this.ctx.zeroPfn || !this.ctx.pages.isRam(pfn)) return undefined;
    return pfn;
  }

  /** mmu_notifier_invalidate_range_start(). */
  notifyInvalidate(start: number, end: number): void {
    for (const n of [...this.notifiers]) n.invalidateRange?.(this, start, end);
  }

  /**
   * zap_page_range_single() / unmap_page_range(): clears the PTEs of [start, end) inside `vma`, drops the page
   * references they held and flushes the TLB. Returns the number of entries cleared.
   */
  zapRange(vma: Vma, start: number, end: number): number {
    const vpns = this.pageTable.vpnsIn(start / PAGE_SIZE, end / PAGE_SIZE);
    if (vpns.length === 0) return 0;
    this.notifyInvalidate(start, end);
    for (const vpn of vpns) {
      const pte = this.pageTable.clear(vpn)!;
      const page = this.normalPage(vma, pte.pfn);
      if (page !== undefined) {
        this.ctx.pages.put(page);
        this.rss--;
      }
    }
    this.ctx.flushTlb(this, start, end);
    return vpns.length;
  }
}
