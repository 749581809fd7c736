/**
 * mremap(2) below the syscall layer (mm/mremap.c do_mremap() and its helpers check_mremap_params(),
 * remap_is_valid(), expand_vma(), move_vma(), shrink_vma()). A VMA with VM_DONTEXPAND or VM_PFNMAP (the
 * SGX driver's enclave mappings) can be moved but never grown: growing it is EFAULT.
 */
import { PAGE_SIZE } from '../../hw/index';
import {
  EFAULT,
  EINVAL,
  ENOMEM,
  type Errno,
  isErrno,
  MAP_FIXED,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
} from '../abi/index';
import type { Task } from '../proc/task';
import { checkUnmappedArea, mmGetUnmappedArea } from './get-unmapped-area';
import { type Mm, TASK_SIZE } from './mm';
import { doMunmap, pageAlign } from './munmap';
import { VM_ACCOUNT, VM_DONTEXPAND, VM_LOCKED_MASK, VM_MAYSHARE, VM_PFNMAP, VM_SHARED } from './vm-flags';
import type { Vma } from './vma';
import { vmaMergeNewRange } from './vma-merge';

/** struct vma_remap_struct. */
interface Remap {
  addr: number;
  oldLen: number;
  newLen: number;
  readonly flags: number;
  newAddr: number;
  vma: Vma;
  delta: number;
}

function impliesNewAddr(r: { flags: number }): boolean {
  return (r.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
}

/** remap_is_valid(). */
function remapIsValid(mm: Mm, r: Remap): 0 | Errno {
  const vma = r.vma;
  if (r.oldLen === 0 && !(vma.flags & (VM_SHARED | VM_MAYSHARE))) return EINVAL;
  if (r.flags & MREMAP_DONTUNMAP && vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return EINVAL;
  // "We can't remap across vm area boundaries"
  if (r.oldLen > vma.end - r.addr) return EFAULT;
  if (r.newLen === r.oldLen) return 0;
  if (vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return EFAULT;
  if (r.newLen > r.oldLen && !mm.mayExpandVm(r.delta / PAGE_SIZE)) return ENOMEM;
  return 0;
}

/** vrm_set_new_addr(): the file's placement hook, or the default, as mmap would. */
function setNewAddr(mm: Mm, r: Remap, t: Task): 0 | Errno {
  const vma = r.vma;
  const pgoff = vma.pgoff + (r.addr - vma.start) / PAGE_SIZE;
  let mapFlags = 0;
  if (r.flags & MREMAP_FIXED) mapFlags |= MAP_FIXED;
  if (vma.flags & VM_MAYSHARE) mapFlags |= MAP_SHARED;
  const hint = impliesNewAddr(r) ? r.newAddr : 0;
  let res: number | Errno;
  if (vma.file?.fops.get_unmapped_area)
    res = vma.file.fops.get_unmapped_area(vma.file, hint, r.newLen, pgoff, mapFlags, t);
  else res = mmGetUnmappedArea(mm, hint, r.newLen, pgoff, mapFlags);
  if (isErrno(res)) return res;
  res = checkUnmappedArea(res, r.newLen);
  if (isErrno(res)) return res;
  r.newAddr = res;
  return 0;
}

/** move_page_tables(): moves the PTEs of [from, from + len) to `to`, flushing the old range. */
function movePageTables(mm: Mm, from: number, to: number, len: number): void {
  const vpns = mm.pageTable.vpnsIn(from / PAGE_SIZE, (from + len) / PAGE_SIZE);
  if (vpns.length === 0) return;
  mm.notifyInvalidate(from, from + len);
  const shift = (to - from) / PAGE_SIZE;
  for (const vpn of vpns) {
    const pte = mm.pageTable.clear(vpn)!;
    mm.pageTable.set(vpn + shift, pte.pfn, pte.flags);
  }
  mm.ctx.flushTlb(mm, from, from + len);
}

/** copy_vma(): the destination VMA, merged with a neighbour when possible. */
function copyVma(mm: Mm, r: Remap, pgoffIn: number): Vma {
  const vma = r.vma;
  let pgoff = pgoffIn;
  // "If anonymous vma has not yet been faulted, update new pgoff to match new location"
  if (vma.isAnonymous && !vma.file && !vma.anonVma) pgoff = r.newAddr / PAGE_SIZE;
  const merged = vmaMergeNewRange({
    mm,
    prev: mm.vmas.before(r.newAddr),
    next: mm.vmas.find(r.newAddr),
    vma: undefined,
    start: r.newAddr,
    end: r.newAddr + r.newLen,
    pgoff,
    flags: vma.flags,
    file: vma.file,
    anonVma: vma.anonVma,
  });
  if (merged) {
    if (r.addr >= merged.start && r.addr < merged.end) r.vma = merged;
    return merged;
  }
  const neu = vma.dup();
  neu.start = r.newAddr;
  neu.end = r.newAddr + r.newLen;
  neu.pgoff = pgoff;
  neu.file?.get();
  neu.ops?.open?.(neu);
  mm.vmas.insert(neu);
  return neu;
}

/** move_vma(). @returns the new address, or ENOMEM / a may_split or ->mremap Errno. */
function moveVma(mm: Mm, r: Remap): number | Errno {
  // prep_move_vma(): "We'd prefer to avoid failure later on in do_munmap"
  if (mm.mapCount >= mm.ctx.maxMapCount - 3) return ENOMEM;
  const vma = r.vma;
  if (vma.ops?.may_split) {
    let e: 0 | Errno = 0;
    if (vma.start !== r.addr) e = vma.ops.may_split(vma, r.addr);
    if (e === 0 && vma.end !== r.addr + r.oldLen) e = vma.ops.may_split(vma, r.addr + r.oldLen);
    if (e !== 0) return e;
  }
  if (vma.flags & VM_ACCOUNT) {
    const charged = (r.flags & MREMAP_DONTUNMAP ? r.newLen : r.delta) / PAGE_SIZE;
    if (!mm.ctx.vmEnoughMemory(charged)) return ENOMEM;
  }
  const pgoff = vma.pgoff + (r.addr - vma.start) / PAGE_SIZE;
  const newVma = copyVma(mm, r, pgoff);
  movePageTables(mm, r.addr, r.newAddr, r.oldLen);
  let err: 0 | Errno = 0;
  if (r.vma.ops?.mremap) err = r.vma.ops.mremap(newVma);
  if (err !== 0) {
    // "On error, move entries back from new area to old ... and then proceed to unmap new area instead"
    movePageTables(mm, r.newAddr, r.addr, r.oldLen);
    r.vma = newVma;
    r.oldLen = r.newLen;
    r.addr = r.newAddr;
  }
  mm.totalVm += r.newLen / PAGE_SIZE;
  if (err === 0 && r.flags & MREMAP_DONTUNMAP) {
    r.vma.flags &= ~(VM_LOCKED_MASK | VM_ACCOUNT);
    return r.newAddr;
  }
  // unmap_source_vma(): unmapping the source must not uncharge what the move kept.
  const accountable = (r.vma.flags & VM_ACCOUNT) !== 0 && !(r.flags & MREMAP_DONTUNMAP);
  const src = r.vma;
  const [vs, ve] = [src.start, src.end];
  if (accountable) src.flags &= ~VM_ACCOUNT;
  doMunmap(mm, r.addr, r.oldLen);
  if (accountable) {
    if (vs < r.addr) mm.vmas.before(r.addr)!.flags |= VM_ACCOUNT;
    if (ve > r.addr + r.oldLen) mm.vmas.find(r.addr + r.oldLen)!.flags |= VM_ACCOUNT;
  }
  return err !== 0 ? err : r.newAddr;
}

/** shrink_vma(): unmaps the tail beyond the new length. */
function shrinkVma(mm: Mm, r: Remap): 0 | Errno {
  const e = doMunmap(mm, r.addr + r.newLen, r.delta);
  if (e !== 0) return e;
  const v = mm.vmas.lookup(r.addr);
  if (!v) return EFAULT;
  r.vma = v;
  return 0;
}

/** mremap_to(): an explicit destination (MREMAP_FIXED or MREMAP_DONTUNMAP). */
function mremapTo(mm: Mm, r: Remap, t: Task): number | Errno {
  if (r.newLen > TASK_SIZE || r.newAddr > TASK_SIZE - r.newLen) return EINVAL;
  if (r.addr + r.oldLen > r.newAddr && r.newAddr + r.newLen > r.addr) return EINVAL;
  if (r.flags & MREMAP_FIXED) {
    const e = doMunmap(mm, r.newAddr, r.newLen);
    if (e !== 0) return e;
    const v = mm.vmas.lookup(r.addr);
    if (!v) return EFAULT;
    r.vma = v;
  }
  if (r.oldLen > r.newLen) {
    const e = shrinkVma(mm, r);
    if (e !== 0) return e;
    r.oldLen = r.newLen;
  }
  const e = remapIsValid(mm, r);
  if (e !== 0) return e;
  if (r.flags & MREMAP_DONTUNMAP && !mm.mayExpandVm(r.oldLen / PAGE_SIZE)) return ENOMEM;
  const e2 = setNewAddr(mm, r, t);
  if (e2 !== 0) return e2;
  return moveVma(mm, r);
}

/** expand_vma(): grow in place when the tail is free, else move (MREMAP_MAYMOVE) or fail. */
function expandVma(mm: Mm, r: Remap, t: Task): number | Errno {
  const e = remapIsValid(mm, r);
  if (e !== 0) return e;
  const vma = r.vma;
  const newEnd = vma.end + r.delta;
  const canInPlace = vma.end - r.addr === r.oldLen && !mm.vmas.intersection(vma.end, newEnd) && newEnd <= TASK_SIZE;
  if (canInPlace) {
    if (vma.flags & VM_ACCOUNT && !mm.ctx.vmEnoughMemory(r.delta / PAGE_SIZE)) return ENOMEM;
    // vma_merge_extend(): the extension merges with vma itself (and with next if it now touches).
    const merged = vmaMergeNewRange({
      mm,
      prev: vma,
      next: mm.vmas.next(vma),
      vma: undefined,
      start: vma.end,
      end: newEnd,
      pgoff: vma.pgoff + (vma.end - vma.start) / PAGE_SIZE,
      flags: vma.flags,
      file: vma.file,
      anonVma: vma.anonVma,
    });
    if (!merged) return ENOMEM;
    mm.totalVm += r.delta / PAGE_SIZE;
    return r.addr;
  }
  if (!(r.flags & MREMAP_MAYMOVE)) return ENOMEM;
  const e2 = setNewAddr(mm, r, t);
  if (e2 !== 0) return e2;
  return moveVma(mm, r);
}

/**
 * do_mremap().
 * @returns the (possibly new) address, or: EINVAL (unknown flags, unaligned addresses, zero new length,
 *   MREMAP_FIXED/DONTUNMAP without MREMAP_MAYMOVE, DONTUNMAP with a size change or on a VM_DONTEXPAND/PFNMAP
 *   VMA, overlapping source and destination, duplicating a private mapping with old_len 0); EFAULT (no VMA at
 *   addr, range crossing a VMA end, growing a VM_DONTEXPAND/VM_PFNMAP VMA); ENOMEM (cannot grow in place
 *   without MREMAP_MAYMOVE, map count, RLIMIT_AS, overcommit); or a driver's ->mremap / may_split Errno.
 */
export function doMremap(
  mm: Mm,
  addr: number,
  oldLenIn: number,
  newLenIn: number,
  flags: number,
  newAddr: number,
  t: Task,
): number | Errno {
  // check_mremap_params()
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return EINVAL;
  if (addr % PAGE_SIZE !== 0) return EINVAL;
  if (pageAlign(newLenIn) === 0) return EINVAL;
  if (impliesNewAddr({ flags })) {
    if (newAddr % PAGE_SIZE !== 0) return EINVAL;
    if (!(flags & MREMAP_MAYMOVE)) return EINVAL;
    if (flags & MREMAP_DONTUNMAP && oldLenIn !== newLenIn) return EINVAL;
    if (mm.mapCount + 2 >= mm.ctx.maxMapCount - 3) return ENOMEM;
  }
  const oldLen = pageAlign(oldLenIn);
  const newLen = pageAlign(newLenIn);
  const vma = mm.vmas.lookup(addr);
  if (!vma) return EFAULT;
  const r: Remap = { addr, oldLen, newLen, flags, newAddr, vma, delta: Math.abs(oldLen - newLen) };
  if (impliesNewAddr(r)) return mremapTo(mm, r, t);
  if (r.delta === 0) return addr;
  if (oldLen > newLen) {
    const e = doMunmap(mm, addr + newLen, r.delta);
    return e === 0 ? addr : e;
  }
  return expandVma(mm, r, t);
}
