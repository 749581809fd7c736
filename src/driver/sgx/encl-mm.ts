/**
 * Which mms map an enclave, and what the driver does to all of them (encl.c sgx_encl_mm_add(),
 * sgx_mmu_notifier_release()/_free(), sgx_encl_find(), sgx_encl_cpumask(), sgx_zap_enclave_ptes(),
 * sgx_encl_test_and_clear_young()). An mm joins the enclave's mm_list on mmap() or on a VMA copy (fork, split)
 * and leaves it when it exits (the mmu notifier) or when the enclave file is released; each entry holds an
 * enclave reference.
 */
import { PAGE_SIZE } from '../../hw/index';
import {
  type Errno,
  type Mm,
  type MmuNotifier,
  mmuNotifierRegister,
  mmuNotifierUnregister,
  ptepTestAndClearYoung,
  type Vma,
  zapVmaPtes,
} from '../../kernel/index';
import { type SgxEncl, SgxEnclMm, type SgxEnclPage } from './encl';
import { sgxEnclGet, sgxEnclPut } from './encl-release';

/** mmget_not_zero(): the mm still has users (it is not being torn down). */
export function mmgetNotZero(mm: Mm): boolean {
  return mm.users > 0 && !mm.dead;
}

/** sgx_encl_find_mm(). */
export function sgxEnclFindMm(encl: SgxEncl, mm: Mm): SgxEnclMm | undefined {
  return encl.mmList.find((e) => e.mm === mm);
}

/**
 * sgx_mmu_notifier_release() and, after the SRCU grace period, sgx_mmu_notifier_free(): the mm is exiting;
 * drop it from mm_list (unless the file release already did) and put its enclave reference.
 */
function sgxMmuNotifierRelease(encl: SgxEnclMm): void {
  const list = encl.encl.mmList;
  const i = list.indexOf(encl);
  if (i < 0) return;
  list.splice(i, 1);
  mmuNotifierUnregister(encl.notifier, encl.mm);
  sgxEnclPut(encl.encl);
}

/**
 * sgx_encl_mm_add(): puts `mm` on the enclave's mm_list (once per mm) with an mmu notifier.
 * @returns 0, or the mmu_notifier_register() error (the reference taken before it is not dropped on that path,
 *   as upstream).
 */
export function sgxEnclMmAdd(encl: SgxEncl, mm: Mm): 0 | Errno {
  // "It's possible that an entry already exists in the mm_list, because it is removed only on VFS release or
  // process exit."
  if (sgxEnclFindMm(encl, mm)) return 0;
  const notifier: MmuNotifier = { release: () => sgxMmuNotifierRelease(entry) };
  const entry = new SgxEnclMm(encl, mm, notifier);
  sgxEnclGet(encl);
  const ret = mmuNotifierRegister(notifier, mm);
  if (ret) return ret;
  encl.mmList.unshift(entry);
  encl.mmListVersion++;
  encl.sgx.trace('sgx_encl_mm_add', { encl: encl.id, mm: mm.id });
  return 0;
}

/** sgx_encl_find(): the enclave VMA containing `addr` in `mm` (find_vma() and a vm_ops check). */
export function sgxEnclFind(encl: SgxEncl, mm: Mm, addr: number): Vma | undefined {
  const vma = mm.vmas.find(addr);
  if (!vma || vma.ops !== encl.sgx.vmOps || addr < vma.start) return undefined;
  return vma;
}

/**
 * sgx_encl_cpumask(): every CPU that may be running in the enclave, i.e. the union of mm_cpumask() of its mms.
 * Called after ETRACK, so a CPU that enters later does so in the new epoch.
 */
export function sgxEnclCpumask(encl: SgxEncl): number[] {
  const cpus = new Set<number>();
  for (const e of encl.mmList) {
    if (!mmgetNotZero(e.mm)) continue;
    for (const c of e.mm.cpumask) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * sgx_zap_enclave_ptes(): removes the PTE of enclave page `addr` from every mm that maps the enclave (with its
 * TLB shootdown), walking mm_list again if an mm joined meanwhile.
 */
export function sgxZapEnclavePtes(encl: SgxEncl, addr: number): void {
  let version: number;
  do {
    version = encl.mmListVersion;
    for (const e of [...encl.mmList]) {
      if (!mmgetNotZero(e.mm)) continue;
      const vma = sgxEnclFind(encl, e.mm, addr);
      if (vma && vma.privateData === encl) zapVmaPtes(vma, addr, PAGE_SIZE);
    }
  } while (encl.mmListVersion !== version);
}

/**
 * sgx_encl_test_and_clear_young(): tests and clears the Accessed bit of the PTE mapping `page` in `mm`.
 * @returns true when it was set.
 */
export function sgxEnclTestAndClearYoung(mm: Mm, page: SgxEnclPage): boolean {
  const vma = sgxEnclFind(page.encl, mm, page.addr);
  if (!vma || vma.privateData !== page.encl) return false;
  return ptepTestAndClearYoung(vma, page.addr);
}
