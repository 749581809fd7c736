/**
 * An enclave's backing store: the "SGX backing" shmem file ENCLAVE_CREATE sets up (ioctl.c sgx_encl_create(),
 * encl.c sgx_encl_get_backing() and friends). It is sparse RAM, page-granular, holding what EWB writes:
 *
 *   [0, size)                    page i = the encrypted contents of enclave page i ((addr - base) >> 12)
 *   [size, size + 4096)          the SECS slot (page index PFN_DOWN(size))
 *   size + 4096 + i * 128        the PCMD of page i (32 PCMDs per backing page; the SECS's is index PFN(size))
 *
 * i_size is (size + 4096) + (size + 4096) / 32, VM_NORESERVE: pages exist only once written.
 */
import { PAGE_SIZE } from '../../hw/index';
import { EINVAL, ENOMEM, type Errno } from '../../kernel/index';
import { SGX_PCMD_SIZE, SGX_SECS_SIZE } from './constants';
import type { SgxEncl } from './encl';
import type { Sgx } from './sgx';

/** The largest shmem file (MAX_LFS_FILESIZE, a signed 64-bit offset). */
const MAX_LFS_FILESIZE = 2 ** 63 - 1;

/** The page cache of the backing file: page index → RAM frame. */
export class SgxBacking {
  readonly pages = new Map<number, number>();

  constructor(
    readonly sgx: Sgx,
    /** i_size in bytes. */
    readonly size: number,
  ) {}

  /** Number of RAM pages the file holds. */
  get residentPages(): number {
    return this.pages.size;
  }

  /**
   * shmem_read_mapping_page_gfp(): the frame holding page `index`, allocated (zeroed) on first use.
   * @returns the frame, or ENOMEM when RAM is exhausted, EINVAL past i_size.
   */
  getPage(index: number): number | Errno {
    if (index * PAGE_SIZE >= this.size) return EINVAL;
    let pfn = this.pages.get(index);
    if (pfn === undefined) {
      pfn = this.sgx.k.pages.alloc();
      if (pfn === undefined) return ENOMEM;
      this.pages.set(index, pfn);
    }
    return pfn;
  }

  /** shmem_truncate_range() of one page: its frame goes back to the allocator. */
  truncate(index: number): void {
    const pfn = this.pages.get(index);
    if (pfn === undefined) return;
    this.pages.delete(index);
    this.sgx.k.pages.put(pfn);
  }

  /** fput() of the last reference: the whole page cache is freed. */
  release(): void {
    for (const pfn of this.pages.values()) this.sgx.k.pages.put(pfn);
    this.pages.clear();
  }
}

/**
 * shmem_file_setup("SGX backing", encl_size + (encl_size >> 5), VM_NORESERVE) with encl_size = SECS.SIZE + PAGE_SIZE.
 * @returns the backing store, or EINVAL when the size does not fit a file offset.
 */
export function sgxBackingSetup(sgx: Sgx, secsSize: number): SgxBacking | Errno {
  // "The extra page goes to SECS."
  const enclSize = secsSize + PAGE_SIZE;
  const total = enclSize + Math.floor(enclSize / 32);
  if (total > MAX_LFS_FILESIZE) return EINVAL;
  return new SgxBacking(sgx, total);
}

/** struct sgx_backing: the pages one EWB or ELDU uses. Addresses are physical (the kmap of each page). */
export interface SgxBackingRef {
  readonly pageIndex: number;
  /** Physical address of the contents page. */
  readonly contents: number;
  /** Backing page index of the PCMD page, and the physical address of this page's PCMD in it. */
  readonly pcmdIndex: number;
  readonly pcmd: number;
  /** pcmd_offset within its page. */
  readonly pcmdOffset: number;
}

/** sgx_encl_get_backing_page_pcmd_offset(): byte offset of page `pageIndex`'s PCMD in the file. */
export function sgxPcmdOffset(encl: SgxEncl, pageIndex: number): number {
  return encl.size + SGX_SECS_SIZE + pageIndex * SGX_PCMD_SIZE;
}

/**
 * sgx_encl_get_backing(): pins the contents page and the PCMD page of enclave page `pageIndex`.
 * @returns the pages, or ENOMEM (no RAM for them).
 */
export function sgxEnclGetBacking(encl: SgxEncl, pageIndex: number): SgxBackingRef | Errno {
  const backing = encl.backing;
  if (!backing) throw new Error(`enclave ${encl.id} has no backing store`);
  const pcmdOff = sgxPcmdOffset(encl, pageIndex);
  const contents = backing.getPage(pageIndex);
  if (typeof contents !== 'number') return contents;
  const pcmdIndex = Math.floor(pcmdOff / PAGE_SIZE);
  const pcmd = backing.getPage(pcmdIndex);
  if (typeof pcmd !== 'number') return pcmd;
  const pcmdOffset = pcmdOff % PAGE_SIZE;
  return { pageIndex, contents: contents * PAGE_SIZE, pcmdIndex, pcmd: pcmd * PAGE_SIZE + pcmdOffset, pcmdOffset };
}
