/**
 * Shared anonymous memory (mm/shmem.c shmem_zero_setup()): MAP_SHARED|MAP_ANONYMOUS and MAP_SHARED of
 * /dev/zero get an unlinked shmem file, "/dev/zero (deleted)" in /proc/<pid>/maps. Its page cache holds one
 * reference per page; each PTE mapping a page holds another. fork() keeps sharing the same file, so parent
 * and child see each other's writes. memfd_create() (mm/memfd.c) makes the same kind of file with an fd, a
 * size of 0 and ftruncate() to size it (shmem_file_setup(), shmem_setattr()).
 */
import { PAGE_SIZE } from '../../hw/index';
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
    /** i_size in bytes: the length of the mapping that created the object, or what ftruncate() set. */
    public size: number,
  ) {}

  /**
   * shmem_setattr() → truncate_setsize() + shmem_truncate_range() for a smaller size: zeroes the tail of the
   * page that now ends the file (truncate_inode_partial_folio()) and drops every page past it from the cache.
   * The caller unmaps them first (unmap_mapping_range()).
   */
  truncate(size: number, mem: { page(pfn: number): Uint8Array }): void {
    if (size < this.size) {
      const tail = size % PAGE_SIZE;
      const partial = tail ? this.pages.get(Math.floor(size / PAGE_SIZE)) : undefined;
      if (partial !== undefined) mem.page(partial).fill(0, tail);
      const keep = Math.ceil(size / PAGE_SIZE);
      for (const [pgoff, pfn] of [...this.pages]) {
        if (pgoff < keep) continue;
        this.pages.delete(pgoff);
        this.allocator.put(pfn);
      }
    }
    this.size = size;
  }
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
  // mapping past the object's size, or ftruncate() shrank a memfd).
  if (vmf.pgoff * PAGE_SIZE >= obj.size) return VM_FAULT_SIGBUS;
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
  file.privateData = new ShmemObject(vma.mm.ctx.pages, vma.pages * PAGE_SIZE);
  vma.file?.put();
  vma.file = file;
  vma.ops = shmemVmOps;
}

/** shmem_mmap(): any protection and either mapping type; the page cache backs it (private writes copy). */
function shmemMmap(_file: OpenFile, vma: Vma): 0 {
  vma.ops = shmemVmOps;
  return 0;
}

const memfdFops: FileOperations = { release: shmemFops.release, mmap: shmemMmap };

/**
 * shmem_file_setup() for memfd_create(): an unlinked shmem file of size 0 named "/memfd:<name> (deleted)",
 * opened O_RDWR | O_LARGEFILE (mm/memfd.c alloc_file()).
 */
export function memfdFileSetup(
  ctx: {
    readonly pages: PageAllocator;
    readonly ids: { ino(): number; file(): number; readonly registry?: Set<OpenFile> };
  },
  name: string,
  flags: number,
): OpenFile {
  const inode: Inode = {
    ino: ctx.ids.ino(),
    dev: SHMEM_DEV,
    kind: 'shmem',
    path: `/memfd:${name} (deleted)`,
    fops: memfdFops,
  };
  const file = new OpenFile(inode, flags, ctx.ids.file(), ctx.ids.registry);
  file.privateData = new ShmemObject(ctx.pages, 0);
  return file;
}
