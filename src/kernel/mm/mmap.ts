/**
 * mmap(2) below the syscall layer: do_mmap() (mm/mmap.c) and __mmap_region() (mm/vma.c). Validation order,
 * flag computation, MAP_FIXED replacement, accounting, merging and the driver's ->mmap hook follow Linux.
 */
import { PAGE_SIZE } from '../../hw/index';
import {
  EACCES,
  EEXIST,
  EINVAL,
  ENODEV,
  ENOMEM,
  EOPNOTSUPP,
  EOVERFLOW,
  type Errno,
  isErrno,
  LEGACY_MAP_MASK,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  PROT_WRITE,
} from '../abi/index';
import { FMODE_READ, FMODE_WRITE, type OpenFile } from '../fd/file';
import type { Task } from '../proc/task';
import { checkUnmappedArea, mmGetUnmappedArea, roundHintToMin } from './get-unmapped-area';
import type { Mm } from './mm';
import { cleanUpArea, completeMunmap, gatherMunmapVmas, type MunmapGather, pageAlign, reattachVmas } from './munmap';
import { shmemZeroSetup } from './shmem';
import {
  calcVmFlagBits,
  calcVmProtBits,
  VM_ACCOUNT,
  VM_GROWSDOWN,
  VM_LOCKED_MASK,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NORESERVE,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_SPECIAL,
  VM_WRITE,
} from './vm-flags';
import { Vma } from './vma';
import { vmaMergeExistingRange, vmaMergeNewRange } from './vma-merge';

/** Options of one mapping request (gVisor MMapOpts; the arguments of do_mmap()). */
export interface MmapOpts {
  readonly addr: number;
  readonly len: number;
  readonly prot: number;
  readonly flags: number;
  /** The file to map, or null for anonymous memory. */
  readonly file: OpenFile | null;
  /** Offset into the file, in pages. */
  readonly pgoff: number;
  /** The calling task, handed to the driver's hooks. */
  readonly task: Task;
}

/** accountable_mapping(): private writable mappings are charged against the overcommit policy. */
function accountableMapping(vmFlags: number): boolean {
  return (vmFlags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) === VM_WRITE;
}

/**
 * __get_unmapped_area(): the file's ->get_unmapped_area when it has one, the default otherwise, then the
 * generic range and alignment checks.
 */
function getUnmappedArea(mm: Mm, o: MmapOpts, addr: number, len: number, flags: number): number | Errno {
  if (len > 2 ** 47) return ENOMEM;
  let r: number | Errno;
  if (o.file?.fops.get_unmapped_area) r = o.file.fops.get_unmapped_area(o.file, addr, len, o.pgoff, flags, o.task);
  else r = mmGetUnmappedArea(mm, addr, len, o.file ? o.pgoff : 0, flags);
  if (isErrno(r)) return r;
  return checkUnmappedArea(r, len);
}

/**
 * do_mmap(): validates a request and maps it.
 * @returns the mapped address, or: EINVAL (len 0, bad MAP_TYPE, MAP_GROWSDOWN on a file); ENOMEM (length
 *   overflow, too many mappings, no address space, RLIMIT_AS, overcommit refused); EOVERFLOW (offset wraps);
 *   EEXIST (MAP_FIXED_NOREPLACE over a mapping); EACCES (file not open for reading, or MAP_SHARED with
 *   PROT_WRITE on a file not open for writing); EOPNOTSUPP (MAP_SHARED_VALIDATE with an unknown flag);
 *   ENODEV (the file has no ->mmap); and whatever the driver's ->get_unmapped_area or ->mmap returns.
 */
export function doMmap(mm: Mm, o: MmapOpts): number | Errno {
  let { addr, flags } = o;
  const { prot, file } = o;
  let pgoff = o.pgoff;
  if (o.len === 0) return EINVAL;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  if (!(flags & MAP_FIXED)) addr = roundHintToMin(addr);
  const len = pageAlign(o.len);
  if (len === 0 || !Number.isSafeInteger(len)) return ENOMEM;
  if (pgoff + len / PAGE_SIZE > 2 ** 52) return EOVERFLOW;
  if (mm.mapCount > mm.ctx.maxMapCount) return ENOMEM;

  const a = getUnmappedArea(mm, { ...o, pgoff }, addr, len, flags);
  if (isErrno(a)) return a;
  addr = a;
  if (flags & MAP_FIXED_NOREPLACE && mm.vmas.intersection(addr, addr + len)) return EEXIST;

  let vmFlags = calcVmProtBits(prot) | calcVmFlagBits(flags) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (file) {
    const fmode = file.mode;
    let type = flags & MAP_TYPE;
    if (type === MAP_SHARED) {
      flags &= LEGACY_MAP_MASK;
      type = MAP_SHARED_VALIDATE;
    } else if (type === MAP_SHARED_VALIDATE) {
      // Only MAP_SYNC-capable files accept more; none of ours do (FOP_MMAP_SYNC).
      if (flags & ~LEGACY_MAP_MASK) return EOPNOTSUPP;
    }
    if (type === MAP_SHARED_VALIDATE) {
      if (prot & PROT_WRITE && !(fmode & FMODE_WRITE)) return EACCES;
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      if (!(fmode & FMODE_WRITE)) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
    } else if (type !== MAP_PRIVATE) {
      return EINVAL;
    }
    if (!(fmode & FMODE_READ)) return EACCES;
    if (!file.fops.mmap) return ENODEV;
    if (vmFlags & VM_GROWSDOWN) return EINVAL;
  } else {
    switch (flags & MAP_TYPE) {
      case MAP_SHARED:
        if (vmFlags & VM_GROWSDOWN) return EINVAL;
        pgoff = 0;
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        break;
      case MAP_PRIVATE:
        // "Set pgoff according to addr for anon_vma."
        pgoff = addr / PAGE_SIZE;
        break;
      default:
        return EINVAL;
    }
  }
  if (flags & MAP_NORESERVE) vmFlags |= VM_NORESERVE;
  return mmapRegion(mm, { ...o, pgoff }, addr, len, vmFlags);
}

/**
 * __mmap_region(): replaces whatever is in [addr, addr + len), charges the mapping, merges it with a
 * neighbour when possible or creates a VMA (calling the file's ->mmap), and updates the counters.
 */
export function mmapRegion(mm: Mm, o: MmapOpts, addr: number, len: number, vmFlagsIn: number): number | Errno {
  let vmFlags = vmFlagsIn;
  const end = addr + len;
  const pglen = len / PAGE_SIZE;
  const file = o.file;

  // __mmap_prepare(): gather the VMAs being replaced.
  let g: MunmapGather | undefined;
  let prev: Vma | undefined;
  let next: Vma | undefined;
  const first = mm.vmas.intersection(addr, end);
  if (first) {
    const r = gatherMunmapVmas(mm, first, addr, end);
    if (isErrno(r)) return r;
    g = r;
    prev = g.prev;
    next = g.next;
  } else {
    prev = mm.vmas.before(addr);
    next = mm.vmas.find(addr);
  }
  const replaced = g?.nrPages ?? 0;
  if (!mm.mayExpandVm(pglen - replaced)) {
    if (g) reattachVmas(mm, g);
    return ENOMEM;
  }
  if (accountableMapping(vmFlags)) {
    const charged = pglen - (g?.nrAccounted ?? 0);
    if (charged > 0 && !mm.ctx.vmEnoughMemory(charged)) {
      if (g) reattachVmas(mm, g);
      return ENOMEM;
    }
    vmFlags |= VM_ACCOUNT;
  }
  if (g) cleanUpArea(mm, g);

  let vma: Vma | undefined;
  if (prev || next) {
    vma = vmaMergeNewRange({
      mm,
      prev,
      next,
      vma: undefined,
      start: addr,
      end,
      pgoff: o.pgoff,
      flags: vmFlags,
      file,
      anonVma: null,
    });
  }
  let retryMerge = false;
  if (!vma) {
    vma = new Vma(mm, addr, end, o.pgoff, vmFlags);
    if (file) {
      vma.file = file.get();
      const err = file.fops.mmap!(file, vma, o.task);
      if (err !== 0) {
        // "Undo any partial mapping done by a device driver."
        mm.zapRange(vma, vma.start, vma.end);
        vma.file = null;
        file.put();
        if (g) completeMunmap(mm, g);
        return err;
      }
      if (vma.start !== addr) throw new Error('a driver ->mmap must not move the VMA');
      // "If the flags change (and are mergeable), let's retry later."
      retryMerge = vma.flags !== vmFlags && !(vma.flags & VM_SPECIAL);
      vmFlags = vma.flags;
    } else if (vmFlags & VM_SHARED) {
      shmemZeroSetup(vma);
    }
    mm.vmas.insert(vma);
  }
  if (retryMerge) {
    vmaMergeExistingRange({
      mm,
      prev: mm.vmas.prev(vma),
      next: undefined,
      vma,
      start: vma.start,
      end: vma.end,
      pgoff: vma.pgoff,
      flags: vma.flags,
      file: vma.file,
      anonVma: vma.anonVma,
    });
  }
  // __mmap_complete()
  if (g) completeMunmap(mm, g);
  mm.totalVm += pglen;
  if (vma.flags & VM_LOCKED_MASK && vma.flags & VM_SPECIAL) vma.flags &= ~VM_LOCKED_MASK;
  vma.flags |= VM_SOFTDIRTY;
  return addr;
}
