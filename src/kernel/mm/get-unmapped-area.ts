/**
 * Choosing an address for a new mapping: x86's arch_get_unmapped_area_topdown() with vm_unmapped_area()
 * (arch/x86/kernel/sys_x86_64.c, mm/vma.c) and the bottom-up fallback, plus the generic wrapper
 * __get_unmapped_area() (mm/mmap.c). No ASLR unless the mm was given a randomized mmap_base.
 */
import { PAGE_SIZE } from '../../hw/index';
import { EINVAL, ENOMEM, type Errno, MAP_32BIT, MAP_FIXED } from '../abi/index';
import { MMAP_MIN_ADDR, type Mm, TASK_SIZE } from './mm';
import { VM_GROWSDOWN } from './vm-flags';
import type { Vma } from './vma';

/** stack_guard_gap: 256 pages below a VM_GROWSDOWN VMA stay free. */
export const STACK_GUARD_GAP = 256 * PAGE_SIZE;
/** DEFAULT_MAP_WINDOW on 4-level paging equals the full user space. */
const DEFAULT_MAP_WINDOW = TASK_SIZE;
/** TASK_UNMAPPED_BASE for the bottom-up allocator: PAGE_ALIGN(TASK_SIZE / 3). */
export const TASK_UNMAPPED_BASE = Math.ceil(TASK_SIZE / 3 / PAGE_SIZE) * PAGE_SIZE;

/** vm_start_gap(). */
function startGap(vma: Vma): number {
  return vma.flags & VM_GROWSDOWN ? Math.max(0, vma.start - STACK_GUARD_GAP) : vma.start;
}

/** mmap_address_hint_valid(). */
function hintValid(addr: number, len: number): boolean {
  if (TASK_SIZE - len < addr) return false;
  return addr > DEFAULT_MAP_WINDOW === addr + len > DEFAULT_MAP_WINDOW;
}

/** vm_unmapped_area() top-down: the highest gap of `len` bytes in [low, high). */
function unmappedAreaTopdown(mm: Mm, len: number, low: number, high: number): number | undefined {
  const vmas = mm.vmas.all();
  // Walk gaps from the top: the gap above vmas[i-1] and below vmas[i].
  for (let i = vmas.length; i >= 0; i--) {
    const gapStart = i > 0 ? vmas[i - 1]!.end : 0;
    const gapEnd = i < vmas.length ? startGap(vmas[i]!) : TASK_SIZE;
    const top = Math.min(gapEnd, high);
    const bottom = Math.max(gapStart, low);
    if (top - bottom >= len) return top - len;
    if (gapEnd <= low) break;
  }
  return undefined;
}

/** vm_unmapped_area() bottom-up: the lowest gap of `len` bytes in [low, high). */
function unmappedAreaBottomup(mm: Mm, len: number, low: number, high: number): number | undefined {
  const vmas = mm.vmas.all();
  for (let i = 0; i <= vmas.length; i++) {
    const gapStart = Math.max(i > 0 ? vmas[i - 1]!.end : 0, low);
    const gapEnd = Math.min(i < vmas.length ? startGap(vmas[i]!) : TASK_SIZE, high);
    if (gapEnd - gapStart >= len) return gapStart;
  }
  return undefined;
}

/**
 * mm_get_unmapped_area() for x86-64: the default placement drivers fall back to from their own
 * ->get_unmapped_area (the SGX driver does).
 * @returns a page-aligned address, or ENOMEM when nothing fits.
 */
export function mmGetUnmappedArea(mm: Mm, addr: number, len: number, _pgoff: number, flags: number): number | Errno {
  if (len > TASK_SIZE) return ENOMEM;
  if (flags & MAP_FIXED) return addr;
  if (!(flags & MAP_32BIT)) {
    if (addr) {
      const hint = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
      if (hintValid(hint, len)) {
        const vma = mm.vmas.find(hint);
        if (!vma || hint + len <= startGap(vma)) return hint;
      }
    }
    const a = unmappedAreaTopdown(mm, len, PAGE_SIZE, mm.mmapBase);
    if (a !== undefined) return a;
  }
  // arch_get_unmapped_area(): bottom-up from TASK_UNMAPPED_BASE (or below 2 GiB for MAP_32BIT).
  const [low, high] = flags & MAP_32BIT ? [0x40000000, 0x80000000] : [TASK_UNMAPPED_BASE, TASK_SIZE];
  const a = unmappedAreaBottomup(mm, len, low, high);
  return a ?? ENOMEM;
}

/**
 * The checks __get_unmapped_area() applies to whatever the chosen allocator returned.
 * @returns the address, ENOMEM (beyond TASK_SIZE), EINVAL (unaligned), or EPERM-like security refusal is not
 *   modelled (we run as root with CAP_SYS_RAWIO, so mmap_min_addr does not apply to MAP_FIXED).
 */
export function checkUnmappedArea(addr: number, len: number): number | Errno {
  if (addr > TASK_SIZE - len) return ENOMEM;
  if (addr % PAGE_SIZE !== 0) return EINVAL;
  return addr;
}

/** round_hint_to_min(): a non-zero hint below mmap_min_addr is raised to it. */
export function roundHintToMin(hint: number): number {
  const h = Math.floor(hint / PAGE_SIZE) * PAGE_SIZE;
  if (h !== 0 && h < MMAP_MIN_ADDR) return MMAP_MIN_ADDR;
  return h;
}
