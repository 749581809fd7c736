/** Splitting a VMA in two (mm/vma.c __split_vma(), split_vma()). */
import { PAGE_SIZE } from '../../hw/index';
import { ENOMEM, type Errno } from '../abi/index';
import type { Vma } from './vma';

/**
 * __split_vma(): cuts `vma` at `addr`. With `newBelow` the new VMA is the lower part and `vma` keeps the
 * upper part; otherwise the new VMA is the upper part. The new VMA takes a file reference and gets
 * vm_ops->open(); vm_ops->may_split can veto. This variant skips the map_count limit.
 * @returns the new VMA, or the Errno from may_split.
 */
export function splitVmaUnchecked(vma: Vma, addr: number, newBelow: boolean): Vma | Errno {
  if (addr <= vma.start || addr >= vma.end) throw new Error('split address outside the VMA');
  if (vma.ops?.may_split) {
    const err = vma.ops.may_split(vma, addr);
    if (err !== 0) return err;
  }
  const neu = vma.dup();
  if (newBelow) {
    neu.end = addr;
  } else {
    neu.start = addr;
    neu.pgoff += (addr - vma.start) / PAGE_SIZE;
  }
  neu.file?.get();
  neu.ops?.open?.(neu);
  if (newBelow) {
    vma.pgoff += (addr - neu.start) / PAGE_SIZE;
    vma.start = addr;
  } else {
    vma.end = addr;
  }
  vma.mm.vmas.insert(neu);
  return neu;
}

/**
 * split_vma(): as {@link splitVmaUnchecked} but refuses with ENOMEM when the mm already has
 * vm.max_map_count VMAs.
 * @returns the new VMA, ENOMEM, or the may_split Errno.
 */
export function splitVma(vma: Vma, addr: number, newBelow: boolean): Vma | Errno {
  if (vma.mm.mapCount >= vma.mm.ctx.maxMapCount) return ENOMEM;
  return splitVmaUnchecked(vma, addr, newBelow);
}
