/**
 * Sparse, page-granular physical memory. A page exists once it is written (or explicitly touched), so the
 * configured size costs nothing until used: a 512 GiB EPC that holds 1,000 live pages uses about 4 MiB.
 *
 * The physical map has ordinary RAM from address 0 and one or more EPC sections in processor reserved
 * memory (PRM). Raw accessors here are what the hardware itself (ENCLS microcode, the MMU after its checks)
 * uses. `readNonEnclave`/`writeNonEnclave` apply the abort-page semantics that every access from outside
 * enclave mode gets on EPC (SDM Vol. 3D §38.5.1 "Access-control Requirements"; reads return all-ones,
 * writes are dropped).
 */

import { PAGE_SIZE } from './page';

export interface MemRegion {
  readonly kind: 'ram' | 'epc';
  readonly base: number;
  readonly size: number;
}

export interface PhysMemConfig {
  /** Bytes of ordinary RAM at physical address 0. */
  readonly ramBytes: number;
  /** EPC sections (page-aligned, outside RAM, not overlapping). */
  readonly epcSections: ReadonlyArray<{ readonly base: number; readonly size: number }>;
}

/** 1 TiB: the default base of the first EPC section, far above any simulated RAM. */
export const DEFAULT_EPC_BASE = 2 ** 40;

export interface PhysMemState {
  readonly config: PhysMemConfig;
  /** [pfn, base64-free byte array as plain numbers] pairs; plain JSON. */
  readonly pages: ReadonlyArray<readonly [number, number[]]>;
}

/**
 * Told the frame number of a page whose contents may change by a path other than a CPU's MMU (a caller took the
 * page's storage to write it, `write`, `copyPage`, `freePage`). The decoded-instruction cache listens, so code
 * decoded from a page that ENCLS (EADD, ELDU, EREMOVE …) or the kernel rewrites behind the MMU is dropped.
 */
export type PageWriteObserver = (pfn: number) => void;

const SLAB_PAGES = 32;

export class PhysMem {
  readonly regions: readonly MemRegion[];
  readonly config: PhysMemConfig;
  private readonly pages = new Map<number, Uint8Array>();
  private static readonly ZERO = new Uint8Array(PAGE_SIZE);
  /**
   * Storage for pages touched from now on: frames are carved out of 128 KiB slabs, and released frames are used
   * again (zeroed) before a new slab is cut. One ArrayBuffer per page would make first touches the dominant cost of
   * building an enclave (a backing-store allocation each); slabs keep memory within a slab of the pages in use.
   */
  private readonly released: Uint8Array[] = [];
  private slab: ArrayBuffer | undefined;
  private slabNext = SLAB_PAGES;
  private observers: PageWriteObserver[] = [];

  constructor(config: PhysMemConfig) {
    const regions: MemRegion[] = [{ kind: 'ram', base: 0, size: config.ramBytes }];
    for (const s of config.epcSections) regions.push({ kind: 'epc', base: s.base, size: s.size });
    regions.sort((a, b) => a.base - b.base);
    for (const r of regions) {
      if (r.base % PAGE_SIZE !== 0 || r.size % PAGE_SIZE !== 0 || r.size <= 0) {
        throw new Error(`memory region ${r.kind}@0x${r.base.toString(16)} must be page-aligned and non-empty`);
      }
      if (!Number.isSafeInteger(r.base + r.size)) throw new Error('physical address space exceeds 2^53');
    }
    for (let i = 1; i < regions.length; i++) {
      const prev = regions[i - 1]!;
      if (regions[i]!.base < prev.base + prev.size) throw new Error('memory regions overlap');
    }
    this.regions = regions;
    this.config = config;
  }

  /** The region containing `pa`, or undefined for an address nothing decodes. */
  regionOf(pa: number): MemRegion | undefined {
    for (const r of this.regions) if (pa >= r.base && pa < r.base + r.size) return r;
    return undefined;
  }

  isEpc(pa: number): boolean {
    return this.regionOf(pa)?.kind === 'epc';
  }

  isMapped(pa: number): boolean {
    return this.regionOf(pa) !== undefined;
  }

  /** Number of pages that hold storage. */
  get touchedPages(): number {
    return this.pages.size;
  }

  /**
   * Subscribes to writes that bypass the MMU (see `PageWriteObserver`). Writes through a CPU's MMU are not
   * reported: the MMU routes writes to pages holding decoded code to its own invalidation path.
   */
  onPageWrite(observer: PageWriteObserver): void {
    this.observers = [...this.observers, observer];
  }

  /** Tells the observers that page `pfn` may have changed (for writers holding a `frame()` they wrote). */
  notifyWrite(pfn: number): void {
    for (const o of this.observers) o(pfn);
  }

  /**
   * The page's storage for a writer, allocated (zeroed) on first use; observers are told it may change. The
   * caller may keep it until `freePage`, which hands the storage on to the next page touched.
   */
  page(pfn: number): Uint8Array {
    if (this.observers.length > 0) this.notifyWrite(pfn);
    return this.frame(pfn);
  }

  /**
   * The page's storage, allocated (zeroed) on first use, without telling the observers: for the MMU, which
   * installs it in its TLB and handles writes to code pages itself, and for readers that need live storage.
   */
  frame(pfn: number): Uint8Array {
    let p = this.pages.get(pfn);
    if (!p) {
      if (!this.isMapped(pfn * PAGE_SIZE))
        throw new Error(`physical page 0x${(pfn * PAGE_SIZE).toString(16)} is not decoded`);
      p = this.newFrame();
      this.pages.set(pfn, p);
    }
    return p;
  }

  private newFrame(): Uint8Array {
    const old = this.released.pop();
    if (old) return old.fill(0);
    if (this.slabNext === SLAB_PAGES) {
      this.slab = new ArrayBuffer(SLAB_PAGES * PAGE_SIZE);
      this.slabNext = 0;
    }
    return new Uint8Array(this.slab!, PAGE_SIZE * this.slabNext++, PAGE_SIZE);
  }

  /** The page's bytes without allocating: a shared zero page when untouched. Do not write to the result. */
  peekPage(pfn: number): Uint8Array {
    return this.pages.get(pfn) ?? PhysMem.ZERO;
  }

  /** Releases a page's storage for reuse; the page reads as zero afterwards. Holders of its `frame()` must drop it. */
  freePage(pfn: number): void {
    if (this.observers.length > 0) this.notifyWrite(pfn);
    const p = this.pages.get(pfn);
    if (!p) return;
    this.pages.delete(pfn);
    this.released.push(p);
  }

  /** Raw read of `len` bytes at `pa` (may cross pages). */
  read(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      out.set(this.peekPage(Math.floor(a / PAGE_SIZE)).subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /** Raw write of `bytes` at `pa` (may cross pages). */
  write(pa: number, bytes: Uint8Array): void {
    const off = pa % PAGE_SIZE;
    if (bytes.length > 0 && off + bytes.length <= PAGE_SIZE) {
      // Within one page, the common case: no subarray, which for a small buffer V8 keeps on its heap would first
      // give it a backing store (~300 ns, more than the copy).
      this.page(Math.floor(pa / PAGE_SIZE)).set(bytes, off);
      return;
    }
    let done = 0;
    while (done < bytes.length) {
      const a = pa + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(bytes.length - done, PAGE_SIZE - off);
      this.page(Math.floor(a / PAGE_SIZE)).set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  readU64(pa: number): bigint {
    const off = pa % PAGE_SIZE;
    if (off > PAGE_SIZE - 8) return new DataView(this.read(pa, 8).buffer).getBigUint64(0, true);
    const p = this.peekPage(Math.floor(pa / PAGE_SIZE));
    return new DataView(p.buffer, p.byteOffset).getBigUint64(off, true);
  }

  writeU64(pa: number, v: bigint): void {
    const off = pa % PAGE_SIZE;
    if (off > PAGE_SIZE - 8) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
      this.write(pa, b);
      return;
    }
    const p = this.page(Math.floor(pa / PAGE_SIZE));
    new DataView(p.buffer, p.byteOffset).setBigUint64(off, BigInt.asUintN(64, v), true);
  }

  /** Copies one whole page. */
  copyPage(dstPfn: number, srcPfn: number): void {
    this.page(dstPfn).set(this.peekPage(srcPfn));
  }

  /** A read from outside enclave mode: EPC bytes read as 0xFF (abort page). */
  readNonEnclave(pa: number, len: number): Uint8Array {
    const out = this.read(pa, len);
    for (let i = 0; i < len; i++) if (this.isEpc(pa + i)) out[i] = 0xff;
    return out;
  }

  /** A write from outside enclave mode: bytes aimed at EPC are dropped (abort page). */
  writeNonEnclave(pa: number, bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      const a = pa + i;
      const n = Math.min(bytes.length - i, PAGE_SIZE - (a % PAGE_SIZE));
      if (!this.isEpc(a)) this.write(a, bytes.subarray(i, i + n));
      i += n;
    }
  }

  save(): PhysMemState {
    return { config: this.config, pages: [...this.pages].map(([pfn, p]) => [pfn, Array.from(p)] as const) };
  }

  static restore(state: PhysMemState): PhysMem {
    const m = new PhysMem(state.config);
    for (const [pfn, bytes] of state.pages) m.pages.set(pfn, Uint8Array.from(bytes));
    return m;
  }
}
