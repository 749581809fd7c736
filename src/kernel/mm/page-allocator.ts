/**
 * The RAM page allocator with per-page reference counts (the buddy allocator plus struct page's _refcount, at
 * 4 KiB granularity). It owns the RAM frames of PhysMem; EPC frames are not struct pages (the SGX driver
 * manages them) and this allocator never counts them, so `isRam()` is how mm code tells the two apart
 * (vm_normal_page()).
 *
 * Allocation order is deterministic: never-used frames in ascending order, then freed frames LIFO.
 */
import { PAGE_SIZE, type PhysMem } from '../../hw/index';

export interface PageAllocatorState {
  readonly firstPfn: number;
  readonly endPfn: number;
  readonly nextFresh: number;
  readonly freeList: readonly number[];
  /** [pfn, refcount] for every allocated frame. */
  readonly refs: ReadonlyArray<readonly [number, number]>;
}

export class PageAllocator {
  readonly firstPfn: number;
  readonly endPfn: number;
  private nextFresh: number;
  private readonly freeList: number[] = [];
  private readonly refs: Int32Array;
  private used = 0;

  /**
   * @param mem physical memory whose RAM region [0, ramBytes) this allocator hands out
   * @param reservedPages frames at the bottom kept back (frame 0 as on a PC, plus the shared zero page)
   */
  constructor(
    readonly mem: PhysMem,
    reservedPages = 1,
  ) {
    const ram = mem.regions.find((r) => r.kind === 'ram');
    if (ram?.base !== 0) throw new Error('physical memory has no RAM region at address 0');
    this.firstPfn = reservedPages;
    this.endPfn = ram.size / PAGE_SIZE;
    if (this.endPfn <= this.firstPfn) throw new Error('not enough RAM for the kernel page allocator');
    this.nextFresh = this.firstPfn;
    this.refs = new Int32Array(this.endPfn);
  }

  /** Frames the allocator manages (totalram_pages()). */
  get totalPages(): number {
    return this.endPfn - this.firstPfn;
  }

  get usedPages(): number {
    return this.used;
  }

  get freePages(): number {
    return this.totalPages - this.used;
  }

  /** True for a frame this allocator manages (it has a struct page). */
  isRam(pfn: number): boolean {
    return pfn >= this.firstPfn && pfn < this.endPfn;
  }

  /** A zero-filled frame with refcount 1, or undefined when RAM is exhausted (the caller maps that to ENOMEM/OOM). */
  alloc(): number | undefined {
    let pfn: number | undefined;
    if (this.freeList.length > 0) pfn = this.freeList.pop();
    else if (this.nextFresh < this.endPfn) pfn = this.nextFresh++;
    if (pfn === undefined) return undefined;
    this.refs[pfn] = 1;
    this.used++;
    return pfn;
  }

  /** get_page(). */
  get(pfn: number): void {
    if (!this.isRam(pfn) || this.refs[pfn]! <= 0) throw new Error(`get_page on free or non-RAM frame ${pfn}`);
    this.refs[pfn]!++;
  }

  /** put_page(): frees the frame (its bytes read as zero again) when the count reaches zero. */
  put(pfn: number): void {
    if (!this.isRam(pfn) || this.refs[pfn]! <= 0) throw new Error(`put_page on free or non-RAM frame ${pfn}`);
    if (--this.refs[pfn]! === 0) {
      this.mem.freePage(pfn);
      this.freeList.push(pfn);
      this.used--;
    }
  }

  /** page_ref_count(); 0 for a free frame. */
  refcount(pfn: number): number {
    return this.isRam(pfn) ? this.refs[pfn]! : 0;
  }

  /** Every allocated frame with its count, ascending (for invariant checks and snapshots). */
  allocated(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let pfn = this.firstPfn; pfn < this.nextFresh; pfn++)
      if (this.refs[pfn]! > 0) out.push([pfn, this.refs[pfn]!]);
    return out;
  }

  save(): PageAllocatorState {
    return {
      firstPfn: this.firstPfn,
      endPfn: this.endPfn,
      nextFresh: this.nextFresh,
      freeList: [...this.freeList],
      refs: this.allocated(),
    };
  }

  /** Restores counts and free lists onto an allocator over the same memory (page contents live in PhysMem). */
  static restore(mem: PhysMem, state: PageAllocatorState): PageAllocator {
    const a = new PageAllocator(mem, state.firstPfn);
    if (a.endPfn !== state.endPfn) throw new Error('page allocator state is for a different RAM size');
    a.nextFresh = state.nextFresh;
    a.freeList.push(...state.freeList);
    for (const [pfn, n] of state.refs) a.refs[pfn] = n;
    a.used = state.refs.length;
    return a;
  }
}
