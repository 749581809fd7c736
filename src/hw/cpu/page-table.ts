/**
 * The page-table interface between the MMU (hw) and the kernel that owns the tables (DESIGN.md §2-3).
 * A PTE here is the 4-level walk's final result; the kernel keeps it as a mutable object so that the
 * MMU can set Accessed/Dirty the way the hardware page walker does (SDM Vol. 3A §4.8).
 * The reclaimer reads and clears Accessed through the kernel (Linux ptep_test_and_clear_young).
 */

export const PTE_P = 1 << 0;
export const PTE_W = 1 << 1;
export const PTE_U = 1 << 2;
export const PTE_A = 1 << 5;
export const PTE_D = 1 << 6;
/** Execute-disable. Bit 63 in hardware; kept in a low bit here because flags are a JS number. */
export const PTE_NX = 1 << 30;

export interface Pte {
  /** Physical page frame number (physical address / 4096). */
  pfn: number;
  /** PTE_* bits. */
  flags: number;
}

/** One address space's translations, as the walker sees them. */
export interface PageTable {
  /** The present-or-not PTE for virtual page number `vpn` (address / 4096), or undefined when no entry exists. */
  lookup(vpn: number): Pte | undefined;
}
