/**
 * Consistency checks over the driver and the hardware state it manages, for tests and debugging. Each returns
 * the violated rules as sentences; an empty list means the state is consistent. They read state only.
 */
import { PAGE_SIZE, PageType } from '../../hw/index';
import { SGX_ENCL_CREATED, SGX_EPC_PAGE_IS_FREE, SGX_EPC_PAGE_RECLAIMER_TRACKED, SGX_VA_SLOT_COUNT } from './constants';
import type { SgxEncl } from './encl';
import { mmgetNotZero } from './encl-mm';
import type { SgxEpcPage } from './epc-page';
import type { Sgx } from './sgx';

/** Pages a live enclave holds in EPC: its REG/TCS pages, its SECS and its VA pages. */
function ownedPages(encl: SgxEncl): Array<{ page: SgxEpcPage; what: string }> {
  const out: Array<{ page: SgxEpcPage; what: string }> = [];
  for (const p of encl.pageArray.values())
    if (p.epcPage) out.push({ page: p.epcPage, what: `page 0x${p.addr.toString(16)}` });
  if (encl.secs.epcPage) out.push({ page: encl.secs.epcPage, what: 'SECS' });
  for (const va of encl.vaPages) out.push({ page: va.epcPage, what: 'VA page' });
  return out;
}

/** References the reclaimer holds on `encl` (pages of it that it took off the list). */
function reclaimerRefs(encl: SgxEncl): number {
  let n = 0;
  for (const p of encl.pageArray.values()) {
    const e = p.epcPage;
    if (e && e.flags & SGX_EPC_PAGE_RECLAIMER_TRACKED && e.list.detached) n++;
  }
  return n;
}

/**
 * Every rule over the EPC and every live enclave:
 * - a page is free, owned by exactly one enclave structure, or leaked, never two of these; free pages are
 *   invalid in the EPCM; the free count matches the free lists;
 * - each enclave page is in exactly one place (EPC, or backing with a VA slot of its own); VA slots are unique;
 * - the EPCM agrees with the page index (type, address, owning SECS) and secs_child_cnt counts resident children;
 * - the LRU holds only tracked REG/TCS children; every resident child is on it or held by the reclaimer;
 * - refcount = file + mm_list entries + reclaimer holds; mm_list has each live mm mapping the enclave once.
 */
export function sgxCheckInvariants(sgx: Sgx): string[] {
  const bad: string[] = [];
  const m = sgx.m;
  const owner = new Map<SgxEpcPage, string>();
  const claim = (page: SgxEpcPage, what: string) => {
    const prev = owner.get(page);
    if (prev) bad.push(`EPC page 0x${page.pa.toString(16)} is both ${prev} and ${what}`);
    owner.set(page, what);
  };
  // Free pages: the never-used range of each section and its free list.
  let free = 0;
  for (const s of sgx.sections) {
    for (const page of s.freeList) {
      claim(page, 'free');
      if (!(page.flags & SGX_EPC_PAGE_IS_FREE)) bad.push(`free-list page 0x${page.pa.toString(16)} lacks IS_FREE`);
      free++;
    }
    for (let off = s.freshCursor; off < s.pageCount; off++) {
      const d = s.pages.get(off);
      if (d && !d.list.detached) continue;
      free++;
      if (m.epcm.isValid(s.firstIndex + off))
        bad.push(`never-used EPC page ${s.firstIndex + off} is valid in the EPCM`);
    }
  }
  if (free !== sgx.nrFreePages) bad.push(`free lists hold ${free} pages but nr_free_pages is ${sgx.nrFreePages}`);
  for (const page of owner.keys()) if (m.epcm.isValid(page.index)) bad.push(`free EPC page ${page.index} is valid`);

  const vaSlots = new Map<string, string>();
  for (const encl of sgx.enclaves) {
    const tag = `enclave ${encl.id}`;
    for (const { page, what } of ownedPages(encl)) {
      claim(page, `${tag} ${what}`);
      if (page.flags & SGX_EPC_PAGE_IS_FREE) bad.push(`${tag} ${what} is marked free`);
    }
    const secsIdx = encl.secs.epcPage?.index;
    if (encl.secs.epcPage && m.epcm.get(encl.secs.epcPage.index)?.pt !== PageType.SECS)
      bad.push(`${tag} SECS page is not a valid PT_SECS in the EPCM`);
    for (const va of encl.vaPages) {
      if (m.epcm.get(va.epcPage.index)?.pt !== PageType.VA) bad.push(`${tag} VA page is not PT_VA in the EPCM`);
      if (va.slots.length !== SGX_VA_SLOT_COUNT) bad.push(`${tag} VA page has a wrong slot count`);
    }
    let resident = 0;
    const evictedPages = [...encl.pageArray.values()].filter((p) => !p.epcPage);
    if (encl.flags & SGX_ENCL_CREATED && !encl.secs.epcPage) evictedPages.push(encl.secs);
    for (const p of encl.pageArray.values()) {
      const where = `${tag} page 0x${p.addr.toString(16)}`;
      if (p.epcPage) {
        resident++;
        const e = m.epcm.get(p.epcPage.index);
        if (!e) bad.push(`${where} is resident but invalid in the EPCM`);
        else {
          if (e.pt !== p.type) bad.push(`${where} has type ${p.type} but EPCM PT ${e.pt}`);
          if (e.enclaveAddress !== BigInt(p.addr))
            bad.push(`${where} is at 0x${e.enclaveAddress.toString(16)} in the EPCM`);
          if (e.enclaveSecs !== secsIdx) bad.push(`${where} belongs to SECS ${e.enclaveSecs} in the EPCM`);
        }
        const f = p.epcPage.flags;
        const onLru = p.epcPage.list.list === sgx.activePageList;
        const held = f & SGX_EPC_PAGE_RECLAIMER_TRACKED && p.epcPage.list.detached;
        if (!onLru && !held) bad.push(`${where} is resident but neither on the LRU nor held by the reclaimer`);
      }
    }
    for (const p of evictedPages) {
      const where = `${tag} ${p === encl.secs ? 'SECS' : `page 0x${p.addr.toString(16)}`}`;
      if (!p.vaPage) {
        bad.push(`${where} is in neither EPC nor backing (no VA slot)`);
        continue;
      }
      if (!p.vaPage.slots[p.vaOffset >> 3]) bad.push(`${where} is evicted but its VA slot is free`);
      if (p.vaPage.list.list !== encl.vaPages) bad.push(`${where} uses a VA page the enclave no longer has`);
      const key = `${p.vaPage.epcPage.pa}:${p.vaOffset}`;
      const prev = vaSlots.get(key);
      if (prev) bad.push(`${where} and ${prev} share a VA slot`);
      vaSlots.set(key, where);
    }
    let slotsUsed = 0;
    for (const va of encl.vaPages) slotsUsed += va.used;
    if (slotsUsed !== evictedPages.length)
      bad.push(`${tag} has ${evictedPages.length} evicted pages but ${slotsUsed} VA slots in use`);
    // PTEs: an evicted page is mapped nowhere; a resident one only to its own EPC frame.
    for (const e of encl.mmList) {
      if (!mmgetNotZero(e.mm)) continue;
      for (const p of encl.pageArray.values()) {
        const pte = e.mm.pageTable.lookup(p.addr / PAGE_SIZE);
        if (!pte) continue;
        const vma = e.mm.vmas.lookup(p.addr);
        if (!vma || vma.privateData !== encl) continue;
        if (!p.epcPage) bad.push(`${tag} page 0x${p.addr.toString(16)} is evicted but mapped in mm ${e.mm.id}`);
        else if (pte.pfn !== p.epcPage.pfn)
          bad.push(`${tag} page 0x${p.addr.toString(16)} maps the wrong frame in mm ${e.mm.id}`);
      }
    }
    if (resident !== encl.secsChildCnt)
      bad.push(`${tag} secs_child_cnt is ${encl.secsChildCnt} but ${resident} children are resident`);
    if (encl.vaPages.length * SGX_VA_SLOT_COUNT < encl.pageCnt)
      bad.push(`${tag} has too few VA pages for ${encl.pageCnt} pages`);
    // References.
    const want = (encl.fileReleased ? 0 : 1) + encl.mmList.length + reclaimerRefs(encl);
    if (encl.refcount !== want)
      bad.push(`${tag} refcount is ${encl.refcount}, want ${want} (file + mm_list + reclaimer)`);
    const mms = new Set(encl.mmList.map((e) => e.mm));
    if (mms.size !== encl.mmList.length) bad.push(`${tag} has an mm twice on mm_list`);
    for (const e of encl.mmList) if (!mmgetNotZero(e.mm)) bad.push(`${tag} keeps exited mm ${e.mm.id} on mm_list`);
  }
  // Every live mm with a VMA of an enclave is on that enclave's mm_list.
  const seen = new Set<number>();
  for (const p of sgx.k.processes.values()) {
    const mm = p.threads[0]?.mm;
    if (!mm || seen.has(mm.id) || !mmgetNotZero(mm)) continue;
    seen.add(mm.id);
    for (const v of mm.vmas.all()) {
      if (v.ops !== sgx.vmOps || !v.privateData) continue;
      const encl = v.privateData as SgxEncl;
      if (!encl.mmList.some((e) => e.mm === mm))
        bad.push(`mm ${mm.id} maps enclave ${encl.id} but is not on its mm_list`);
      if (encl.released) bad.push(`mm ${mm.id} maps released enclave ${encl.id}`);
    }
  }
  // The LRU.
  for (const page of sgx.activePageList) {
    const o = page.owner;
    if (!(page.flags & SGX_EPC_PAGE_RECLAIMER_TRACKED)) bad.push(`LRU page 0x${page.pa.toString(16)} is not tracked`);
    if (!o || (o.type !== PageType.REG && o.type !== PageType.TCS) || o.epcPage !== page)
      bad.push(`LRU page 0x${page.pa.toString(16)} is not a resident REG/TCS page`);
  }
  // The EPCM: every valid entry in the driver's sections is a page the driver owns (or leaked).
  let valid = 0;
  for (const [index] of m.epcm.validEntries()) {
    if (sgx.sections.some((s) => index >= s.firstIndex && index < s.firstIndex + s.pageCount)) valid++;
  }
  const owned = [...owner.values()].filter((w) => w !== 'free').length;
  if (valid !== owned + sgx.stats.leaked)
    bad.push(`EPCM has ${valid} valid pages, the driver owns ${owned} and leaked ${sgx.stats.leaked}`);
  return bad;
}
