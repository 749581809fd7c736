/**
 * The Enclave Page Cache: the EPC sections of physical memory, numbered page by page (SDM Vol. 3D §39.5 "EPC and
 * Management of EPC Pages"; enumerated by CPUID.(EAX=12H, ECX≥2), §37.7.2). An EPC page index is global across
 * sections, in ascending physical order, so the EPCM can be one sparse table.
 */
import type { PhysMem } from '../mem/index';
import { PAGE_SIZE } from '../mem/index';

/** One EPC section: its physical range and the index of its first page. */
export interface EpcSection {
  readonly base: number;
  readonly size: number;
  readonly firstIndex: number;
  readonly pageCount: number;
}

export class Epc {
  readonly sections: readonly EpcSection[];
  /** Number of EPC pages in all sections together. */
  readonly pageCount: number;

  constructor(physMem: PhysMem) {
    const sections: EpcSection[] = [];
    let index = 0;
    for (const r of physMem.regions) {
      if (r.kind !== 'epc') continue;
      const pageCount = r.size / PAGE_SIZE;
      sections.push({ base: r.base, size: r.size, firstIndex: index, pageCount });
      index += pageCount;
    }
    this.sections = sections;
    this.pageCount = index;
  }

  /** The section containing `pa`, if any. */
  sectionOf(pa: number): EpcSection | undefined {
    for (const s of this.sections) if (pa >= s.base && pa < s.base + s.size) return s;
    return undefined;
  }

  /** True when `pa` lies in an EPC section. */
  isEpc(pa: number): boolean {
    return this.sectionOf(pa) !== undefined;
  }

  /** The EPC page index of the page containing `pa`, or undefined when `pa` is not EPC. */
  indexOf(pa: number): number | undefined {
    const s = this.sectionOf(pa);
    return s === undefined ? undefined : s.firstIndex + Math.floor((pa - s.base) / PAGE_SIZE);
  }

  /** The physical address of EPC page `index`. */
  addressOf(index: number): number {
    for (const s of this.sections) {
      if (index >= s.firstIndex && index < s.firstIndex + s.pageCount)
        return s.base + (index - s.firstIndex) * PAGE_SIZE;
    }
    throw new RangeError(`EPC page index ${index} is out of range (${this.pageCount} pages)`);
  }
}
