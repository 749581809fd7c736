/**
 * The ordered set of an mm's VMAs (the maple tree's role): sorted by start, disjoint. Lookups are binary
 * searches; the helpers are named after the kernel's find_vma(), find_vma_prev(), vma_lookup() and
 * find_vma_intersection().
 */
import type { Vma } from './vma';

export class VmaTree {
  private readonly list: Vma[] = [];

  get count(): number {
    return this.list.length;
  }

  /** All VMAs in address order (a copy). */
  all(): Vma[] {
    return [...this.list];
  }

  /** Index of the first VMA with end > addr. */
  private indexAfter(addr: number): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.list[mid]!.end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** find_vma(): the first VMA with end > addr (it may start above addr). */
  find(addr: number): Vma | undefined {
    return this.list[this.indexAfter(addr)];
  }

  /** vma_lookup(): the VMA containing addr. */
  lookup(addr: number): Vma | undefined {
    const v = this.find(addr);
    return v && v.start <= addr ? v : undefined;
  }

  /** find_vma_intersection(): the first VMA overlapping [start, end). */
  intersection(start: number, end: number): Vma | undefined {
    const v = this.find(start);
    return v && v.start < end ? v : undefined;
  }

  /** Every VMA overlapping [start, end), in order. */
  range(start: number, end: number): Vma[] {
    const out: Vma[] = [];
    for (let i = this.indexAfter(start); i < this.list.length && this.list[i]!.start < end; i++)
      out.push(this.list[i]!);
    return out;
  }

  /** The VMA before `vma` (vma_prev()). */
  prev(vma: Vma): Vma | undefined {
    const i = this.list.indexOf(vma);
    return i > 0 ? this.list[i - 1] : undefined;
  }

  /** The VMA after `vma` (vma_next()). */
  next(vma: Vma): Vma | undefined {
    const i = this.list.indexOf(vma);
    return i >= 0 ? this.list[i + 1] : undefined;
  }

  /** The last VMA ending at or below addr (the `prev` of a gap at addr). */
  before(addr: number): Vma | undefined {
    return this.list[this.indexAfter(addr) - 1];
  }

  insert(vma: Vma): void {
    const i = this.indexAfter(vma.start);
    const next = this.list[i];
    if (next && next.start < vma.end) {
      throw new Error(`VMA [${vma.start.toString(16)}, ${vma.end.toString(16)}) overlaps an existing one`);
    }
    this.list.splice(i, 0, vma);
  }

  remove(vma: Vma): void {
    const i = this.list.indexOf(vma);
    if (i < 0) throw new Error('removing a VMA that is not in the tree');
    this.list.splice(i, 1);
  }

  /** Re-sorts after in-place start/end edits (merge/split keep order; this is a cheap safety net). */
  resort(): void {
    this.list.sort((a, b) => a.start - b.start);
  }
}
