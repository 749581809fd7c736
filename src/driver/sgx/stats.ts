/**
 * EPC statistics: what is free and used, paging counts, VA pages, per enclave and in total. Linux exposes none of
 * this beyond sgx_total_bytes in sysfs; the model reports it for the CLI, the playground and tests.
 */
import { PAGE_SIZE } from '../../hw/index';
import { SGX_ENCL_CREATED, SGX_ENCL_DEBUG, SGX_ENCL_INITIALIZED, SGX_ENCL_IOCTL } from './constants';
import type { SgxEncl } from './encl';
import type { Sgx } from './sgx';

/** One enclave's pages and history. */
export interface SgxEnclaveStats {
  readonly id: number;
  readonly base: number;
  readonly size: number;
  readonly flags: readonly string[];
  /** Pages in page_array (REG/TCS), resident in EPC, and in the backing store. */
  readonly pages: number;
  readonly resident: number;
  readonly inBacking: number;
  readonly secsResident: boolean;
  readonly vaPages: number;
  readonly vaSlotsUsed: number;
  /** Backing-store RAM pages (contents, SECS slot, PCMD pages). */
  readonly backingPages: number;
  readonly evicted: number;
  readonly reloaded: number;
  readonly refcount: number;
  /** Ids of the mms on mm_list, in list order. */
  readonly mmList: readonly number[];
}

export interface SgxStats {
  readonly totalPages: number;
  readonly freePages: number;
  readonly usedPages: number;
  /** Pages on the reclaimer's active list. */
  readonly lruPages: number;
  readonly vaPages: number;
  readonly evicted: number;
  readonly reloaded: number;
  readonly secsEvicted: number;
  readonly secsReloaded: number;
  readonly elduFailures: number;
  readonly ewbEtrack: number;
  readonly ewbIpi: number;
  readonly ksgxdBatches: number;
  readonly directBatches: number;
  readonly leaked: number;
  readonly enclaves: readonly SgxEnclaveStats[];
}

/** SGX_ENCL_* flag names. */
export function enclFlagNames(flags: number): string[] {
  const out: string[] = [];
  if (flags & SGX_ENCL_IOCTL) out.push('IOCTL');
  if (flags & SGX_ENCL_DEBUG) out.push('DEBUG');
  if (flags & SGX_ENCL_CREATED) out.push('CREATED');
  if (flags & SGX_ENCL_INITIALIZED) out.push('INITIALIZED');
  return out;
}

/** One enclave's statistics. */
export function sgxEnclaveStats(encl: SgxEncl): SgxEnclaveStats {
  let resident = 0;
  for (const p of encl.pageArray.values()) if (p.epcPage) resident++;
  let vaSlotsUsed = 0;
  for (const va of encl.vaPages) vaSlotsUsed += va.used;
  return {
    id: encl.id,
    base: encl.base,
    size: encl.size,
    flags: enclFlagNames(encl.flags),
    pages: encl.pageArray.size,
    resident,
    inBacking: encl.pageArray.size - resident,
    secsResident: encl.secs.epcPage !== null,
    vaPages: encl.vaPages.length,
    vaSlotsUsed,
    backingPages: encl.backing?.residentPages ?? 0,
    evicted: encl.evicted,
    reloaded: encl.reloaded,
    refcount: encl.refcount,
    mmList: encl.mmList.map((e) => e.mm.id),
  };
}

/** The whole EPC. */
export function sgxStats(sgx: Sgx): SgxStats {
  const enclaves = [...sgx.enclaves].sort((a, b) => a.id - b.id).map(sgxEnclaveStats);
  const s = sgx.stats;
  return {
    totalPages: sgx.totalPages,
    freePages: sgx.nrFreePages,
    usedPages: sgx.totalPages - sgx.nrFreePages,
    lruPages: sgx.activePageList.length,
    vaPages: enclaves.reduce((n, e) => n + e.vaPages, 0),
    evicted: s.evicted,
    reloaded: s.reloaded,
    secsEvicted: s.secsEvicted,
    secsReloaded: s.secsReloaded,
    elduFailures: s.elduFailures,
    ewbEtrack: s.ewbEtrack,
    ewbIpi: s.ewbIpi,
    ksgxdBatches: s.ksgxdBatches,
    directBatches: s.directBatches,
    leaked: s.leaked,
    enclaves,
  };
}

const kib = (pages: number) => `${(pages * PAGE_SIZE) / 1024} KiB`;

/** A compact text report of sgxStats(). */
export function formatSgxStats(st: SgxStats): string {
  const lines = [
    `EPC: ${st.usedPages} of ${st.totalPages} pages used (${kib(st.usedPages)} of ${kib(st.totalPages)}), ${st.freePages} free, ${st.lruPages} on the LRU, ${st.vaPages} VA`,
    `paging: ${st.evicted} evicted, ${st.reloaded} reloaded (SECS ${st.secsEvicted}/${st.secsReloaded}); EWB needed ETRACK ${st.ewbEtrack}×, IPIs ${st.ewbIpi}×; batches: ksgxd ${st.ksgxdBatches}, direct ${st.directBatches}${st.elduFailures ? `; ELDU failures ${st.elduFailures}` : ''}${st.leaked ? `; LEAKED ${st.leaked}` : ''}`,
  ];
  for (const e of st.enclaves) {
    lines.push(
      `  enclave ${e.id} [${e.flags.join(' ') || 'new'}] 0x${e.base.toString(16)}+0x${e.size.toString(16)}: ${e.pages} pages (${e.resident} in EPC, ${e.inBacking} in backing), SECS ${e.secsResident ? 'in EPC' : 'evicted'}, ${e.vaPages} VA (${e.vaSlotsUsed} slots), ${e.evicted} evicted, ${e.reloaded} reloaded, mm_list [${e.mmList.join(', ')}], refs ${e.refcount}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
