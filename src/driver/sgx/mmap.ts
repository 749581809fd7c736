/**
 * Mapping an enclave (driver.c sgx_mmap(), sgx_get_unmapped_area(); encl.c sgx_encl_may_map()). Enclave
 * mappings are MAP_SHARED only (copy-on-write of enclave memory cannot exist), their protection may not exceed
 * any added page's build-time permissions, and after EINIT they must lie inside ELRANGE. Holes (offsets with no
 * page) are not checked. The file offset is ignored: enclave pages are found by virtual address.
 */
import { PAGE_SIZE } from '../../hw/index';
import {
  EACCES,
  EINVAL,
  type Errno,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_TYPE,
  mmGetUnmappedArea,
  type OpenFile,
  type Task,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_IO,
  VM_PFNMAP,
  VM_READ,
  VM_WRITE,
  type Vma,
} from '../../kernel/index';
import { SGX_ENCL_INITIALIZED } from './constants';
import type { SgxEncl } from './encl';
import { sgxEnclMmAdd } from './encl-mm';

/**
 * sgx_encl_may_map(): may [start, end) be mapped (or mprotect()ed) with `vmFlags`?
 * @returns 0, or EACCES: outside ELRANGE once initialized, or a requested R/W/X that some page in the range was
 *   not added with. (The READ_IMPLIES_EXEC personality check has nothing to test: personality(2) is not
 *   modelled and the default personality is 0.)
 */
export function sgxEnclMayMap(encl: SgxEncl, start: number, end: number, vmFlags: number): 0 | Errno {
  const vmProtBits = vmFlags & (VM_READ | VM_WRITE | VM_EXEC);
  // "Disallow mapping outside enclave's address range."
  if (encl.flags & SGX_ENCL_INITIALIZED && (start < encl.base || end > encl.base + encl.size)) return EACCES;
  const first = Math.floor(start / PAGE_SIZE);
  const last = Math.floor((end - 1) / PAGE_SIZE);
  // xas_for_each() over [PFN(start), PFN(end - 1)]: probe the range or scan the index, whichever is smaller.
  if (last - first + 1 <= encl.pageArray.size) {
    for (let i = first; i <= last; i++) {
      const page = encl.pageArray.get(i);
      if (page && ~page.vmMaxProtBits & vmProtBits) return EACCES;
    }
  } else {
    for (const [i, page] of encl.pageArray) {
      if (i >= first && i <= last && ~page.vmMaxProtBits & vmProtBits) return EACCES;
    }
  }
  return 0;
}

/**
 * sgx_get_unmapped_area(): MAP_PRIVATE is refused; MAP_FIXED keeps the address; otherwise the default search.
 * @returns the address, or EINVAL for MAP_PRIVATE.
 */
export function sgxGetUnmappedArea(
  _file: OpenFile,
  addr: number,
  len: number,
  pgoff: number,
  flags: number,
  t: Task,
): number | Errno {
  if ((flags & MAP_TYPE) === MAP_PRIVATE) return EINVAL;
  if (flags & MAP_FIXED) return addr;
  return mmGetUnmappedArea(t.mm!, addr, len, pgoff, flags);
}

/**
 * sgx_mmap(): check the range, put the mm on the enclave's mm_list, and make the VMA a PFN mapping with the
 * enclave vm_ops (VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO: no struct pages, no mremap growth, no core
 * dump, no get_user_pages).
 * @returns 0, or EACCES (sgx_encl_may_map()), or sgx_encl_mm_add()'s error.
 */
export function sgxMmap(file: OpenFile, vma: Vma): 0 | Errno {
  const encl = file.privateData as SgxEncl;
  let ret = sgxEnclMayMap(encl, vma.start, vma.end, vma.flags);
  if (ret) return ret;
  ret = sgxEnclMmAdd(encl, vma.mm);
  if (ret) return ret;
  vma.ops = encl.sgx.vmOps;
  vma.flags |= VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO;
  vma.privateData = encl;
  return 0;
}
