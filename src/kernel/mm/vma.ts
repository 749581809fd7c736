/**
 * struct vm_area_struct: one contiguous range of an address space with uniform flags, file and operations.
 * Addresses are page-aligned JS numbers below TASK_SIZE (2^47); `pgoff` is in pages.
 */
import { PAGE_SIZE } from '../../hw/index';
import type { OpenFile } from '../fd/file';
import type { AnonVma } from './anon-vma';
import type { Mm } from './mm';
import type { VmOperations } from './types';
import { VM_ACCESS_FLAGS, VM_MAYSHARE, VM_SHARED } from './vm-flags';

export class Vma {
  /** The anon_vma_chain: ours first after fork, parents' before it; length 1 outside a fork child. */
  anonVmaChain: AnonVma[] = [];

  constructor(
    readonly mm: Mm,
    public start: number,
    public end: number,
    /** vm_pgoff: file offset in pages, or start >> PAGE_SHIFT for private anonymous memory. */
    public pgoff: number,
    /** vm_flags (VM_*). */
    public flags: number,
    /** vm_file: holds a reference on the open file description. */
    public file: OpenFile | null = null,
    public ops: VmOperations | null = null,
    /** vm_private_data, for the driver. */
    public privateData: unknown = undefined,
    public anonVma: AnonVma | null = null,
  ) {}

  /** vma_pages(). */
  get pages(): number {
    return (this.end - this.start) / PAGE_SIZE;
  }

  /** vma_is_anonymous(): no vm_ops (shmem and driver mappings have them). */
  get isAnonymous(): boolean {
    return this.ops === null;
  }

  /** True for MAP_SHARED-style mappings (VM_SHARED or VM_MAYSHARE). */
  get isShared(): boolean {
    return (this.flags & (VM_SHARED | VM_MAYSHARE)) !== 0;
  }

  /** vma_is_accessible(). */
  get isAccessible(): boolean {
    return (this.flags & VM_ACCESS_FLAGS) !== 0;
  }

  contains(addr: number): boolean {
    return addr >= this.start && addr < this.end;
  }

  /** The file page offset of `addr` (linear_page_index()). */
  pgoffOf(addr: number): number {
    return this.pgoff + (addr - this.start) / PAGE_SIZE;
  }

  /**
   * vm_area_dup(): same flags, file (the caller takes the file reference), ops, private data and anon_vma
   * chain, in `mm` (another mm for fork).
   */
  dup(mm: Mm = this.mm): Vma {
    const v = new Vma(
      mm,
      this.start,
      this.end,
      this.pgoff,
      this.flags,
      this.file,
      this.ops,
      this.privateData,
      this.anonVma,
    );
    v.anonVmaChain = [...this.anonVmaChain];
    return v;
  }
}
