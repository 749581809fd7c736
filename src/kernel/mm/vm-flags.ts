/**
 * vm_flags bits (include/linux/mm.h, x86-64 values). They are kernel-internal, not ABI, but /proc/<pid>/smaps
 * shows them and the merge rules compare them bit for bit, so we keep Linux's values.
 */
import { PTE_NX, PTE_P, PTE_U, PTE_W } from '../../hw/index';
import { MAP_GROWSDOWN, MAP_LOCKED, MAP_SYNC, PROT_EXEC, PROT_READ, PROT_WRITE } from '../abi/index';

export const VM_NONE = 0;
export const VM_READ = 0x00000001;
export const VM_WRITE = 0x00000002;
export const VM_EXEC = 0x00000004;
export const VM_SHARED = 0x00000008;
export const VM_MAYREAD = 0x00000010;
export const VM_MAYWRITE = 0x00000020;
export const VM_MAYEXEC = 0x00000040;
export const VM_MAYSHARE = 0x00000080;
export const VM_GROWSDOWN = 0x00000100;
export const VM_PFNMAP = 0x00000400;
export const VM_LOCKED = 0x00002000;
export const VM_IO = 0x00004000;
export const VM_DONTCOPY = 0x00020000;
export const VM_DONTEXPAND = 0x00040000;
export const VM_LOCKONFAULT = 0x00080000;
export const VM_ACCOUNT = 0x00100000;
export const VM_NORESERVE = 0x00200000;
export const VM_HUGETLB = 0x00400000;
export const VM_SYNC = 0x00800000;
export const VM_WIPEONFORK = 0x02000000;
export const VM_DONTDUMP = 0x04000000;
export const VM_SOFTDIRTY = 0x08000000;
export const VM_MIXEDMAP = 0x10000000;

/** VM_READ | VM_WRITE | VM_EXEC. */
export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;
/** Mappings the core must not merge, expand or treat as normal memory (mm.h VM_SPECIAL). */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;
export const VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;

/** calc_vm_prot_bits() (include/linux/mman.h) without protection keys. */
export function calcVmProtBits(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/** calc_vm_flag_bits() (include/linux/mman.h) for the flags we model. */
export function calcVmFlagBits(mapFlags: number): number {
  return (
    (mapFlags & MAP_GROWSDOWN ? VM_GROWSDOWN : 0) |
    (mapFlags & MAP_LOCKED ? VM_LOCKED : 0) |
    (mapFlags & MAP_SYNC ? VM_SYNC : 0)
  );
}

/** is_cow_mapping(): private and may be written, so writes must copy. */
export function isCowMapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/**
 * PTE bits for a page in a VMA with these flags (x86 protection_map[] as vm_get_page_prot()): user, NX unless
 * VM_EXEC, writable only when `writable` (private mappings start read-only so the first write faults and
 * copies). No access bits at all gives a PROT_NONE entry: not present, but the page stays referenced.
 */
export function pteFlagsFor(vmFlags: number, writable: boolean): number {
  if ((vmFlags & VM_ACCESS_FLAGS) === 0) return 0;
  let f = PTE_P | PTE_U;
  if (writable && vmFlags & VM_WRITE) f |= PTE_W;
  if (!(vmFlags & VM_EXEC)) f |= PTE_NX;
  return f;
}

/** Names for the smaps "VmFlags:" line (fs/proc/task_mmu.c show_smap_vma_flags), used by the ps snapshot. */
export function vmFlagNames(flags: number): string[] {
  const table: ReadonlyArray<readonly [number, string]> = [
    [VM_READ, 'rd'],
    [VM_WRITE, 'wr'],
    [VM_EXEC, 'ex'],
    [VM_SHARED, 'sh'],
    [VM_MAYREAD, 'mr'],
    [VM_MAYWRITE, 'mw'],
    [VM_MAYEXEC, 'me'],
    [VM_MAYSHARE, 'ms'],
    [VM_GROWSDOWN, 'gd'],
    [VM_PFNMAP, 'pf'],
    [VM_LOCKED, 'lo'],
    [VM_IO, 'io'],
    [VM_DONTCOPY, 'dc'],
    [VM_DONTEXPAND, 'de'],
    [VM_LOCKONFAULT, 'lf'],
    [VM_ACCOUNT, 'ac'],
    [VM_NORESERVE, 'nr'],
    [VM_HUGETLB, 'ht'],
    [VM_SYNC, 'sf'],
    [VM_WIPEONFORK, 'wf'],
    [VM_DONTDUMP, 'dd'],
    [VM_SOFTDIRTY, 'sd'],
    [VM_MIXEDMAP, 'mm'],
  ];
  return table.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
}
