/**
 * Shared anonymous memory (mm/shmem.c shmem_zero_setup()): MAP_SHARED|MAP_ANONYMOUS and MAP_SHARED of
 * /dev/zero get an unlinked shmem file, "/dev/zero (deleted)" in /proc/<pid>/maps. Its page cache holds one
 * reference per page; each PTE mapping a page holds another. fork() keeps sharing the same file, so parent
 * and child see each other's writes.
 */
import { type FileOperations, type Inode, O_RDWR_FLAGS, OpenFile } from '../fd/file';
import type { PageAllocator } from './page-allocator';
import { VM_FAULT_OOM, VM_FAULT_SIGBUS, type VmFault, type VmFaultResult, type VmOperations } from './types';
import type { Vma } from './vma';

/** The page cache of one shmem inode. */
export class ShmemObject {
  /** pgoff → frame. */
  readonly pages = new Map<number, number>();
  constructor(
    readonly allocator: PageAllocator,
    /** i_size in pages: the length of the mapping that created the object. */
    readonly sizePages: number,
  ) {}
}

/** The anon-shared mount's device (shm_mnt): 00:01 on x86-64 Linux. */
export const SHMEM_DEV: readonly [number, number] = [0, 1];

const shmemFops: FileOperations = {
  release(_inode: Inode, file: OpenFile) {
    const obj = file.privateData as ShmemObject;
    for (const pfn of obj.pages.values()) obj.allocator.put(pfn);
    obj.pages.clear();
  },
};

/** shmem_fault(): find or allocate the page at vmf.pgoff; the mapping takes its own reference. */
function shmemFault(vmf: VmFault): VmFaultResult {
  const file = vmf.vma.file!;
  const obj = file.privateData as ShmemObject;
  // shmem_fault() -> shmem_get_folio_gfp(): a page at or beyond i_size is SIGBUS (e.g. after mremap grew the
  // mapping past the object's size).
  if (vmf.pgoff >= obj.sizePages) return VM_FAULT_SIGBUS;
  let pfn = obj.pages.get(vmf.pgoff);
  const pages = vmf.vma.mm.ctx.pages;
  if (pfn === undefined) {
    pfn = vmf.vma.mm.ctx.allocPage(vmf.vma.mm);
    if (pfn === undefined) return VM_FAULT_OOM;
    obj.pages.set(vmf.pgoff, pfn);
  }
  pages.get(pfn);
  return { kind: 'PAGE', pfn };
}

export const shmemVmOps: VmOperations = { fault: shmemFault };

/**
 * shmem_zero_setup(): gives `vma` a fresh shmem file of the VMA's size (dropping any file it had, e.g. /dev/zero) and the
 * shmem vm_ops.
 */
export function shmemZeroSetup(vma: Vma): void {
  const ids = vma.mm.ctx.ids;
  const inode: Inode = {
    ino: ids.ino(),
    dev: SHMEM_DEV,
    kind: 'shmem',
    path: '/dev/zero (deleted)',
    fops: shmemFops,
  };
  const file = new OpenFile(inode, O_RDWR_FLAGS, ids.file(), ids.registry);
  file.privateData = new ShmemObject(vma.mm.ctx.pages, vma.pages);
  vma.file?.put();
  vma.file = file;
  vma.ops = shmemVmOps;
}
