/**
 * One mm's page table, implementing the MMU's PageTable interface (hw/cpu/page-table.ts). Entries are
 * mutable Pte objects so the MMU can set Accessed/Dirty in place, as the hardware walker writes the PTE.
 * Only the last level is modelled; the 4-level walk is the MMU's business.
 *
 * A PTE with a frame but without PTE_P is a PROT_NONE entry (mprotect(PROT_NONE) keeps the page).
 */
import type { PageTable, Pte } from '../../hw/index';

export interface PageTableState {
  /** [vpn, pfn, flags] triples in ascending vpn order. */
  readonly entries: ReadonlyArray<readonly [number, number, number]>;
}

export class MmPageTable implements PageTable {
  private readonly ptes = new Map<number, Pte>();

  lookup(vpn: number): Pte | undefined {
    return this.ptes.get(vpn);
  }

  /** set_pte_at(): installs a new entry object. */
  set(vpn: number, pfn: number, flags: number): Pte {
    const pte: Pte = { pfn, flags };
    this.ptes.set(vpn, pte);
    return pte;
  }

  /** ptep_get_and_clear(): removes and returns the entry. */
  clear(vpn: number): Pte | undefined {
    const pte = this.ptes.get(vpn);
    if (pte) this.ptes.delete(vpn);
    return pte;
  }

  get size(): number {
    return this.ptes.size;
  }

  /** Virtual page numbers with an entry in [startVpn, endVpn), ascending. */
  vpnsIn(startVpn: number, endVpn: number): number[] {
    const out: number[] = [];
    if (endVpn - startVpn <= this.ptes.size * 4) {
      for (let v = startVpn; v < endVpn; v++) if (this.ptes.has(v)) out.push(v);
    } else {
      for (const v of this.ptes.keys()) if (v >= startVpn && v < endVpn) out.push(v);
      out.sort((a, b) => a - b);
    }
    return out;
  }

  /** Every entry, ascending by vpn. */
  entries(): Array<[number, Pte]> {
    return [...this.ptes.entries()].sort((a, b) => a[0] - b[0]);
  }

  save(): PageTableState {
    return { entries: this.entries().map(([v, p]) => [v, p.pfn, p.flags] as const) };
  }

  static restore(state: PageTableState): MmPageTable {
    const t = new MmPageTable();
    for (const [v, pfn, flags] of state.entries) t.set(v, pfn, flags);
    return t;
  }
}
