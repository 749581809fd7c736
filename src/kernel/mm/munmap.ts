/**
 * Unmapping (mm/vma.c vms_gather_munmap_vmas(), vms_complete_munmap_vmas(), do_vmi_munmap()). The same
 * gather/clean/complete steps serve munmap(2), MAP_FIXED over existing mappings and mremap's unmaps.
 */
import { PAGE_SIZE } from '../../hw/index';
import { EINVAL, ENOMEM, type Errno, isErrno } from '../abi/index';
import { type Mm, TASK_SIZE } from './mm';
import { VM_ACCOUNT } from './vm-flags';
import type { Vma } from './vma';
import { splitVmaUnchecked } from './vma-split';

/** struct vma_munmap_struct: the detached VMAs of [start, end) and their neighbours. */
export interface MunmapGather {
  readonly start: number;
  readonly end: number;
  readonly vmas: Vma[];
  prev: Vma | undefined;
  next: Vma | undefined;
  nrPages: number;
  nrAccounted: number;
  /** PTEs already cleared and ->close already called (vms_clean_up_area()). */
  closed: boolean;
}

/** PAGE_ALIGN(). */
export function pageAlign(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

/**
 * vms_gather_munmap_vmas(): splits the first and last VMA at the range edges and detaches every VMA in
 * [start, end) from the tree. On failure the detached VMAs are put back (a split already done stays).
 * @returns the gather state, or ENOMEM (map count, split) or a may_split Errno.
 */
export function gatherMunmapVmas(mm: Mm, first: Vma, start: number, end: number): MunmapGather | Errno {
  if (start > first.start) {
    // "Make sure that map_count on return from munmap() will not exceed its limit"
    if (end < first.end && mm.mapCount >= mm.ctx.maxMapCount) return ENOMEM;
    const r = splitVmaUnchecked(first, start, true);
    if (isErrno(r)) return r;
  }
  const g: MunmapGather = {
    start,
    end,
    vmas: [],
    prev: mm.vmas.before(start),
    next: undefined,
    nrPages: 0,
    nrAccounted: 0,
    closed: false,
  };
  for (const vma of mm.vmas.range(start, end)) {
    if (vma.end > end) {
      const r = splitVmaUnchecked(vma, end, false);
      if (isErrno(r)) {
        reattachVmas(mm, g);
        return r;
      }
    }
    mm.vmas.remove(vma);
    g.vmas.push(vma);
    g.nrPages += vma.pages;
    if (vma.flags & VM_ACCOUNT) g.nrAccounted += vma.pages;
  }
  g.next = mm.vmas.find(end);
  return g;
}

/** reattach_vmas(): undoes the detach of a gather that will not complete. */
export function reattachVmas(mm: Mm, g: MunmapGather): void {
  for (const v of g.vmas) mm.vmas.insert(v);
  g.vmas.length = 0;
}

/** vms_clean_up_area(): clears the PTEs and runs vm_ops->close while the range is being replaced. */
export function cleanUpArea(mm: Mm, g: MunmapGather): void {
  if (g.closed) return;
  for (const v of g.vmas) mm.zapRange(v, v.start, v.end);
  for (const v of g.vmas) v.ops?.close?.(v);
  g.closed = true;
}

/** vms_complete_munmap_vmas(): finishes the unmap: PTEs, ->close, the file references, the counters. */
export function completeMunmap(mm: Mm, g: MunmapGather): void {
  if (!g.closed) {
    for (const v of g.vmas) mm.zapRange(v, v.start, v.end);
    for (const v of g.vmas) v.ops?.close?.(v);
    g.closed = true;
  }
  for (const v of g.vmas) v.file?.put();
  mm.totalVm -= g.nrPages;
  g.vmas.length = 0;
}

/**
 * do_vmi_munmap(): removes every mapping in [start, start + PAGE_ALIGN(len)).
 * @returns 0, EINVAL (unaligned start, zero or overflowing length), or ENOMEM (a split would exceed
 *   vm.max_map_count) or a may_split Errno.
 */
export function doMunmap(mm: Mm, start: number, len: number): 0 | Errno {
  if (start % PAGE_SIZE !== 0 || start > TASK_SIZE || len > TASK_SIZE - start) return EINVAL;
  const end = start + pageAlign(len);
  if (end === start) return EINVAL;
  const first = mm.vmas.intersection(start, end);
  if (!first) return 0;
  const g = gatherMunmapVmas(mm, first, start, end);
  if (isErrno(g)) return g;
  completeMunmap(mm, g);
  return 0;
}
