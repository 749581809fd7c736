/** struct sgx_epc_page (arch/x86/kernel/cpu/sgx/sgx.h): the kernel's descriptor of one EPC page. */
import type { SgxEnclPage } from './encl';
import { ListNode } from './list';

export class SgxEpcPage {
  /** SGX_EPC_PAGE_RECLAIMER_TRACKED | SGX_EPC_PAGE_IS_FREE. */
  flags = 0;
  /**
   * The enclave page using it: a REG/TCS page, or the enclave's `secs`; null for a VA page (sgx_alloc_va_page()
   * allocates with a NULL owner) and for a free page.
   */
  owner: SgxEnclPage | null = null;
  /** page->list: on a free list, the dirty list or the reclaimer's active list, or detached. */
  readonly list = new ListNode<SgxEpcPage>(this);

  constructor(
    /** Index into the EPC sections (page->section). */
    readonly section: number,
    /** The EPC page index the hardware uses (global across sections). */
    readonly index: number,
    /** sgx_get_epc_phys_addr(), which is also sgx_get_epc_virt_addr() in this model (linear = physical). */
    readonly pa: number,
  ) {}

  /** PFN_DOWN(sgx_get_epc_phys_addr()): what vmf_insert_pfn() maps. */
  get pfn(): number {
    return this.pa / 4096;
  }
}
