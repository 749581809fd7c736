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

/**
 * check_prep_vma(): the checks against the source VMA (Linux 6.17+). Shrinks may unmap past the VMA end;
 * anything that maps new space must stay inside the VMA and respect VM_DONTEXPAND/VM_PFNMAP.
 * @returns 0, or EFAULT (no VMA, range past its end, growing a VM_DONTEXPAND/VM_PFNMAP VMA), EINVAL
 *   (duplicating a private mapping, DONTUNMAP of a special mapping), ENOMEM (RLIMIT_AS).
 */
function checkPrepVma(mm: Mm, r: Remap): 0 | Errno {
  const vma = r.vma as Vma | undefined;
  if (!vma) return EFAULT;
  r.delta = Math.abs(r.oldLen - r.newLen);
  if (!impliesNewAddr(r)) r.newAddr = r.addr;
  const expand = r.newLen > r.oldLen;
  if (!expand && !impliesNewAddr(r)) return 0;
  if (r.oldLen === 0 && !(vma.flags & (VM_SHARED | VM_MAYSHARE))) return EINVAL;
  if (r.flags & MREMAP_DONTUNMAP && vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return EINVAL;
  // "We permit crossing of boundaries for the range being unmapped due to a shrink."
  const oldLen = Math.min(r.oldLen, r.newLen);
  // "We can't remap across the end of VMAs, as another VMA may be adjacent"
  if (oldLen > vma.end - r.addr) return EFAULT;
  if (r.newLen === oldLen) return 0;
  if (vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return EFAULT;
  if (!mm.mayExpandVm(r.delta / PAGE_SIZE)) return ENOMEM;
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
  if (mm.ctx.maxMapCount - mm.mapCount < 4) return ENOMEM;
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
    // dontunmap_complete(): the old VMA stays, empty (still accounted since "mm/mremap: correctly account
    // old mapping after MREMAP_DONTUNMAP remap"); it loses its anon_vma when fully copied.
    const old = r.vma;
    old.flags &= ~VM_LOCKED_MASK;
    if (newVma !== old && r.addr === old.start && r.addr + r.oldLen === old.end) {
      old.anonVma = null;
      old.anonVmaChain = [];
    }
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
  if (r.flags & MREMAP_DONTUNMAP && !mm.mayExpandVm(r.oldLen / PAGE_SIZE)) return ENOMEM;
  const e2 = setNewAddr(mm, r, t);
  if (e2 !== 0) return e2;
  return moveVma(mm, r);
}

/** expand_vma(): grow in place when the tail is free, else move (MREMAP_MAYMOVE) or fail with ENOMEM. */
function expandVma(mm: Mm, r: Remap, t: Task): number | Errno {
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

/** vma_multi_allowed(): a VMA whose file picks its own addresses cannot be part of a multi-VMA move. */
function multiAllowed(vma: Vma): boolean {
  return !vma.file?.fops.get_unmapped_area;
}

/**
 * remap_move() (Linux 6.17+): MREMAP_FIXED with old_len == new_len moves every VMA in the source range,
 * keeping the gaps between them. The range may not start in a hole.
 */
function remapMove(mm: Mm, r: Remap, t: Task): number | Errno {
  const start = r.addr;
  const end = r.addr + r.oldLen;
  let target = r.newAddr;
  let res: number | Errno = EFAULT;
  let lastEnd = 0;
  let seen = false;
  let cursor = start;
  // for_each_vma_range(): the iterator only moves forward, so a VMA the destination merged into (which may
  // start before the cursor) is not visited again.
  const nextFrom = (from: number): Vma | undefined => {
    let v = mm.vmas.find(from);
    while (v && seen && v.start < from) v = mm.vmas.next(v);
    return v;
  };
  for (let vma = nextFrom(cursor); vma && vma.start < end; vma = nextFrom(cursor)) {
    const a = Math.max(vma.start, start);
    const len = Math.min(end, vma.end) - a;
    // "No gap permitted at the start of the range."
    if (!seen && start < vma.start) return EFAULT;
    const offset = seen ? vma.start - lastEnd : 0;
    lastEnd = vma.end;
    cursor = vma.end;
    r.vma = vma;
    r.addr = a;
    r.newAddr = target + offset;
    r.oldLen = len;
    r.newLen = len;
    if (!multiAllowed(vma)) {
      if (seen) return EFAULT;
      if (vma.end < end) return EFAULT;
    }
    let rv: number | Errno = checkPrepVma(mm, r);
    if (rv === 0) rv = mremapTo(mm, r, t);
    if (isErrno(rv)) return rv;
    if (!seen) res = rv;
    seen = true;
    target = rv + len;
  }
  return res;
}

/**
 * do_mremap() (Linux 6.17+ structure).
 * @returns the (possibly new) address, or: EINVAL (unknown flags, unaligned addresses, zero or huge new length,
 *   MREMAP_FIXED/DONTUNMAP without MREMAP_MAYMOVE, DONTUNMAP with a size change or on a VM_DONTEXPAND/PFNMAP
 *   VMA, overlapping source and destination, duplicating a private mapping with old_len 0); EFAULT (no VMA at
 *   addr, range crossing a VMA end, growing a VM_DONTEXPAND/VM_PFNMAP VMA, a gap in a multi-VMA move); ENOMEM
 *   (cannot grow in place without MREMAP_MAYMOVE, map count, RLIMIT_AS, overcommit); or a driver's ->mremap /
 *   may_split Errno.
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
  const oldLen = pageAlign(oldLenIn);
  const newLen = pageAlign(newLenIn);
  // check_mremap_params()
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return EINVAL;
  if (addr % PAGE_SIZE !== 0) return EINVAL;
  if (newLen === 0) return EINVAL;
  if (newLen > TASK_SIZE) return EINVAL;
  const r: Remap = { addr, oldLen, newLen, flags, newAddr, vma: undefined as unknown as Vma, delta: 0 };
  if (impliesNewAddr(r)) {
    if (newAddr > TASK_SIZE - newLen) return EINVAL;
    if (newAddr % PAGE_SIZE !== 0) return EINVAL;
    if (!(flags & MREMAP_MAYMOVE)) return EINVAL;
    if (flags & MREMAP_DONTUNMAP && oldLen !== newLen) return EINVAL;
    // "Target VMA must not overlap source VMA."
    if (addr + oldLen > newAddr && newAddr + newLen > addr) return EINVAL;
    if (mm.ctx.maxMapCount - mm.mapCount < 6) return ENOMEM;
  }
  if (flags & MREMAP_FIXED && oldLen === newLen) return remapMove(mm, r, t);
  const vma = mm.vmas.lookup(addr);
  r.vma = vma as Vma;
  const e = checkPrepVma(mm, r);
  if (e !== 0) return e;
  if (impliesNewAddr(r)) return mremapTo(mm, r, t);
  if (r.delta === 0) return addr;
  if (oldLen > newLen) {
    const e2 = doMunmap(mm, addr + newLen, r.delta);
    return e2 === 0 ? addr : e2;
  }
  return expandVma(mm, r, t);
}
