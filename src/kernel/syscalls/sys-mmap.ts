/** Memory-mapping syscalls (arch/x86/kernel/sys_x86_64.c sys_mmap, mm/mmap.c ksys_mmap_pgoff, mm/util.c). */
import { PAGE_SIZE } from '../../hw/index';
import { EBADF, EINVAL, ENOMEM, isErrno, MAP_ANONYMOUS, MAP_HUGETLB, MAP_POPULATE } from '../abi/index';
import { handleMmFault } from '../mm/fault';
import type { Mm } from '../mm/mm';
import { doMmap } from '../mm/mmap';
import { doMprotect } from '../mm/mprotect';
import { doMremap } from '../mm/mremap';
import { doMunmap } from '../mm/munmap';
import { FAULT_FLAG_WRITE } from '../mm/types';
import { VM_IO, VM_PFNMAP, VM_SHARED, VM_WRITE } from '../mm/vm-flags';
import type { Task } from '../proc/task';
import { argInt, argU64 } from './args';
import type { SyscallArgs, SyscallResult } from './types';

/**
 * __mm_populate() for MAP_POPULATE: faults every page in, writing for private writable mappings so that
 * copy-on-write is broken up front (populate_vma_page_range()). Errors are ignored, as in Linux.
 */
function populate(mm: Mm, start: number, len: number): void {
  for (const vma of mm.vmas.range(start, start + len)) {
    if (vma.flags & (VM_IO | VM_PFNMAP)) continue;
    const write = (vma.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE;
    const s = Math.max(start, vma.start);
    const e = Math.min(start + len, vma.end);
    for (let a = s; a < e; a += PAGE_SIZE) {
      if (mm.pageTable.lookup(a / PAGE_SIZE)) continue;
      const r = handleMmFault(vma, a, write ? FAULT_FLAG_WRITE : 0);
      if (r.kind !== 'ok') return;
    }
  }
}

/**
 * mmap(2).
 * @returns the address, or EINVAL (offset not page-aligned, MAP_HUGETLB on a normal file), EBADF (bad fd
 *   without MAP_ANONYMOUS), ENOMEM (MAP_HUGETLB: no huge pages are configured), or any do_mmap() errno.
 */
export function sysMmap(t: Task, a: SyscallArgs): SyscallResult {
  const addr = argU64(a, 0);
  const len = argU64(a, 1);
  const prot = argInt(a, 2) >>> 0;
  const flags = argInt(a, 3) >>> 0;
  const fd = argInt(a, 4);
  const off = argU64(a, 5);
  if (off % PAGE_SIZE !== 0) return EINVAL;
  let file = null;
  if (!(flags & MAP_ANONYMOUS)) {
    file = t.fget(fd) ?? null;
    if (!file) return EBADF;
    if (flags & MAP_HUGETLB) {
      file.put();
      return EINVAL;
    }
  } else if (flags & MAP_HUGETLB) {
    // hugetlb_file_setup() fails: vm.nr_hugepages is 0.
    return ENOMEM;
  }
  const mm = t.mm!;
  const r = doMmap(mm, { addr, len, prot, flags, file, pgoff: off / PAGE_SIZE, task: t });
  file?.put();
  if (isErrno(r)) return r;
  if (flags & MAP_POPULATE) populate(mm, r, len);
  return r;
}

/** munmap(2). @returns 0, or EINVAL, ENOMEM (see doMunmap). */
export function sysMunmap(t: Task, a: SyscallArgs): SyscallResult {
  return doMunmap(t.mm!, argU64(a, 0), argU64(a, 1));
}

/** mprotect(2). @returns 0, or EINVAL, ENOMEM, EACCES, a driver veto (see doMprotect). */
export function sysMprotect(t: Task, a: SyscallArgs): SyscallResult {
  return doMprotect(t.mm!, argU64(a, 0), argU64(a, 1), argInt(a, 2) >>> 0);
}

/** mremap(2). @returns the address, or EINVAL, EFAULT, ENOMEM (see doMremap). */
export function sysMremap(t: Task, a: SyscallArgs): SyscallResult {
  return doMremap(t.mm!, argU64(a, 0), argU64(a, 1), argU64(a, 2), argInt(a, 3) >>> 0, argU64(a, 4), t);
}
