/**
 * The software-defined enclave structures (arch/x86/kernel/cpu/sgx/encl.h): struct sgx_encl, sgx_encl_page,
 * sgx_va_page and sgx_encl_mm. Behaviour lives in the files named after it (encl-mm.ts, encl-release.ts,
 * va-page.ts, load-page.ts, …); these classes are the data.
 */
import { PAGE_SIZE, type PageTypeNumber } from '../../hw/index';
import type { Mm, MmuNotifier, Task } from '../../kernel/index';
import type { SgxBacking } from './backing';
import { SGX_VA_SLOT_COUNT } from './constants';
import type { SgxEpcPage } from './epc-page';
import { List, ListNode } from './list';
import type { Sgx } from './sgx';

/** struct sgx_va_page: a Version Array page and which of its 512 slots are taken. */
export class SgxVaPage {
  /** DECLARE_BITMAP(slots, SGX_VA_SLOT_COUNT), one byte per slot. */
  readonly slots = new Uint8Array(SGX_VA_SLOT_COUNT);
  readonly list = new ListNode<SgxVaPage>(this);
  constructor(public epcPage: SgxEpcPage) {}

  /** Slots in use. */
  get used(): number {
    let n = 0;
    for (const s of this.slots) n += s;
    return n;
  }
}

/**
 * struct sgx_encl_page. Linux packs the address, SGX_ENCL_PAGE_BEING_RECLAIMED (bit 3) and the VA slot offset
 * (bits 11:3, valid only while the page is evicted) into `desc`; they are separate fields here.
 */
export class SgxEnclPage {
  /** desc & PAGE_MASK: the enclave linear address (0 for the SECS). */
  readonly addr: number;
  /** desc & SGX_ENCL_PAGE_BEING_RECLAIMED: the reclaimer has picked the page (faults see -EBUSY). */
  beingReclaimed = false;
  /** desc & SGX_ENCL_PAGE_VA_OFFSET_MASK: byte offset of the VA slot holding the evicted page's version. */
  vaOffset = 0;
  /** VM_READ | VM_WRITE | VM_EXEC the page may ever be mapped with (from SECINFO at EADD; TCS: RW). */
  vmMaxProtBits: number;
  /** The resident EPC page, or null while the page is in the backing store. */
  epcPage: SgxEpcPage | null = null;
  /** The VA page whose slot `vaOffset` holds the version, once evicted. */
  vaPage: SgxVaPage | null = null;
  /** SGX_PAGE_TYPE_REG / TCS (SECS for encl.secs). */
  type: PageTypeNumber;

  constructor(
    readonly encl: SgxEncl,
    addr: number,
    vmMaxProtBits: number,
    type: PageTypeNumber,
  ) {
    this.addr = addr;
    this.vmMaxProtBits = vmMaxProtBits;
    this.type = type;
  }

  /** The page index in the enclave (and in the backing store): (addr - base) >> PAGE_SHIFT. */
  get pageIndex(): number {
    return (this.addr - this.encl.base) / PAGE_SIZE;
  }
}

/** struct sgx_encl_mm: one mm that has mapped the enclave, with its mmu notifier. */
export class SgxEnclMm {
  constructor(
    readonly encl: SgxEncl,
    readonly mm: Mm,
    readonly notifier: MmuNotifier,
  ) {}
}

/** struct sgx_encl: one enclave, created by open("/dev/sgx_enclave"), one per open file description. */
export class SgxEncl {
  /** SECS.BASEADDR and SECS.SIZE (valid once CREATED). */
  base = 0;
  size = 0;
  /** SGX_ENCL_IOCTL | SGX_ENCL_DEBUG | SGX_ENCL_CREATED | SGX_ENCL_INITIALIZED. */
  flags = 0;
  /** SECS plus every REG/TCS page ever counted by sgx_encl_grow() (VA pages are sized from it). */
  pageCnt = 0;
  /** Resident child pages (the hardware SECS's CHILDCNT, as the kernel tracks it). */
  secsChildCnt = 0;
  /** page_array: the enclave pages by PFN_DOWN(addr), resident or evicted. */
  readonly pageArray = new Map<number, SgxEnclPage>();
  /** The SECS as an enclave page (owner of the SECS EPC page; evicted to backing index PFN(size)). */
  readonly secs: SgxEnclPage;
  attributes = 0n;
  /** Attributes EINIT may allow: SGX_ATTR_UNPRIV_MASK, plus PROVISIONKEY after ENCLAVE_PROVISION. */
  attributesMask = 0n;
  /** The shmem-like backing store, from ENCLAVE_CREATE on. */
  backing: SgxBacking | null = null;
  /** kref. */
  refcount = 1;
  /** VA pages: ones with free slots first, full ones moved to the tail. */
  readonly vaPages = new List<SgxVaPage>();
  mmListVersion = 0;
  /** The mms that mapped the enclave (list_add_rcu adds at the head). */
  readonly mmList: SgxEnclMm[] = [];
  /** Set once sgx_encl_release() ran (kfree). */
  released = false;
  /** The file's ->release ran. */
  fileReleased = false;
  /**
   * The task inside an ioctl (the SGX_ENCL_IOCTL bit's holder). A task killed while sleeping in an ioctl never
   * returns to the driver in this model; a dead holder releases the bit (see ioctl.ts).
   */
  ioctlOwner: Task | null = null;
  /** Pages written out and loaded back for this enclave (stats). */
  evicted = 0;
  reloaded = 0;

  constructor(
    readonly sgx: Sgx,
    /** A small id for ps/stats output, in creation order. */
    readonly id: number,
  ) {
    this.secs = new SgxEnclPage(this, 0, 0, 0);
  }
}
