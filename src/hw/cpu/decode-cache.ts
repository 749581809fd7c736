/**
 * The decoded-instruction cache, keyed by physical address and shared by the CPUs of one machine. A block is
 * a run of decoded instructions within one page, ending at a control transfer. Writes through any CPU's MMU
 * to a page holding decoded code invalidate that page's blocks (the MMU routes such writes to its slow path),
 * so self-modifying code stays correct. Writers that bypass the MMU (the kernel loading pages, ENCLS
 * EADD/ELDU, DMA) go through PhysMem's write observers, which the owner of the cache connects to
 * `invalidatePage(pfn)`; `invalidateAll()` is there for wholesale changes.
 */

import { PAGE_SIZE } from '../mem/page';
import type { CodeCache } from './cpu';
import type { Insn } from './decoder';
import type { BlockFn, Compiled } from './jit';
import type { Mmu } from './mmu';

/** A basic block: instructions decoded from consecutive bytes of one physical page. */
export interface Block {
  readonly pa: number;
  readonly insns: Insn[];
  /** Times entered; the block is compiled (jit.ts) once it is hot. */
  hits: number;
  /** The compiled function of the region this block enters, once compiled. */
  fn: BlockFn | undefined;
  /** The compiled region (jit.ts) with its fault-placement tables. */
  comp: Compiled | undefined;
  /** Set when the block's page was invalidated; run() stops following links to it. */
  dead: boolean;
  /** The last two blocks run() found after this one, with their physical addresses (a two-entry link cache). */
  nextPa: number;
  next: Block | undefined;
  next2Pa: number;
  next2: Block | undefined;
}

/** Decoded blocks by physical address, shared by the CPUs of one machine (see the file comment). */
export class DecodeCache implements CodeCache {
  private readonly blocks = new Map<number, Block>();
  private readonly byPage = new Map<number, number[]>();
  private readonly mmus = new Set<Mmu>();

  attach(mmu: Mmu): void {
    this.mmus.add(mmu);
  }

  detach(mmu: Mmu): void {
    this.mmus.delete(mmu);
  }

  get(pa: number): Block | undefined {
    return this.blocks.get(pa);
  }

  put(block: Block): void {
    const pfn = Math.floor(block.pa / PAGE_SIZE);
    let list = this.byPage.get(pfn);
    if (!list) {
      list = [];
      this.byPage.set(pfn, list);
      // First code on this page: later writes to it must take the MMU slow path to invalidate.
      for (const m of this.mmus) m.dropWritesToPfn(pfn);
    }
    list.push(block.pa);
    this.blocks.set(block.pa, block);
  }

  isCode(pfn: number): boolean {
    return this.byPage.has(pfn);
  }

  /** Drops every block decoded from physical page `pfn`. */
  invalidatePage(pfn: number): void {
    const list = this.byPage.get(pfn);
    if (!list) return;
    for (const pa of list) {
      const b = this.blocks.get(pa);
      if (b) b.dead = true;
      this.blocks.delete(pa);
    }
    this.byPage.delete(pfn);
  }

  invalidateAll(): void {
    for (const b of this.blocks.values()) b.dead = true;
    this.blocks.clear();
    this.byPage.clear();
  }

  /** Number of cached blocks (for tests and statistics). */
  get size(): number {
    return this.blocks.size;
  }
}
