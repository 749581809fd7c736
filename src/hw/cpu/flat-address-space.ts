/**
 * A flat user address space for tests, tools and the `exec` command: a simple PageTable over PhysMem RAM,
 * with pages allocated on first mapping. The kernel has its own page tables; this one exists so that the CPU
 * can run freestanding code without a kernel.
 */

import { PAGE_SIZE } from '../mem/page';
import { PhysMem } from '../mem/phys-mem';
import { type PageTable, PTE_NX, PTE_P, PTE_U, PTE_W, type Pte } from './page-table';

/** Permissions of a flat mapping. */
export interface MapOptions {
  readonly write?: boolean;
  readonly exec?: boolean;
  /** User-accessible (U/S = 1); default true. */
  readonly user?: boolean;
}

/** Next free RAM page per PhysMem, so that address spaces sharing a PhysMem never alias each other's pages. */
const nextFree = new WeakMap<PhysMem, number>();

/** A PageTable that maps virtual pages to fresh RAM pages of its PhysMem (see the file comment). */
export class FlatAddressSpace implements PageTable {
  readonly mem: PhysMem;
  private readonly ptes = new Map<number, Pte>();

  constructor(mem?: PhysMem) {
    this.mem = mem ?? new PhysMem({ ramBytes: 2 ** 36, epcSections: [] });
  }

  lookup(vpn: number): Pte | undefined {
    return this.ptes.get(vpn);
  }

  /** Maps [va, va+size) to fresh zeroed RAM pages (existing mappings keep their page; flags are replaced). */
  map(va: number, size: number, opts: MapOptions = {}): void {
    const flags = PTE_P | (opts.write ? PTE_W : 0) | (opts.user === false ? 0 : PTE_U) | (opts.exec ? 0 : PTE_NX);
    const first = Math.floor(va / PAGE_SIZE);
    const last = Math.floor((va + Math.max(size, 1) - 1) / PAGE_SIZE);
    for (let v = first; v <= last; v++) {
      const old = this.ptes.get(v);
      if (old) old.flags = flags | (old.flags & ~(PTE_W | PTE_U | PTE_NX | PTE_P));
      else {
        const pfn = nextFree.get(this.mem) ?? 1;
        nextFree.set(this.mem, pfn + 1);
        this.ptes.set(v, { pfn, flags });
      }
    }
  }

  /** Maps one virtual page to a given physical page (e.g. an EPC page in tests). */
  mapPfn(va: number, pfn: number, flags: number): void {
    this.ptes.set(Math.floor(va / PAGE_SIZE), { pfn, flags });
  }

  unmap(va: number, size: number): void {
    const first = Math.floor(va / PAGE_SIZE);
    const last = Math.floor((va + size - 1) / PAGE_SIZE);
    for (let v = first; v <= last; v++) this.ptes.delete(v);
  }

  /** Writes bytes at a mapped virtual address, ignoring protection (a loader's view). */
  write(va: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) {
      const a = va + done;
      const pte = this.ptes.get(Math.floor(a / PAGE_SIZE));
      if (!pte) throw new Error(`address 0x${a.toString(16)} is not mapped`);
      const off = a % PAGE_SIZE;
      const n = Math.min(bytes.length - done, PAGE_SIZE - off);
      this.mem.page(pte.pfn).set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  /** Reads bytes at a mapped virtual address, ignoring protection. */
  read(va: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let done = 0; done < len; ) {
      const a = va + done;
      const pte = this.ptes.get(Math.floor(a / PAGE_SIZE));
      if (!pte) throw new Error(`address 0x${a.toString(16)} is not mapped`);
      const off = a % PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      out.set(this.mem.peekPage(pte.pfn).subarray(off, off + n), done);
      done += n;
    }
    return out;
  }
}
