/**
 * SGX_IOC_ENCLAVE_ADD_PAGES (ioctl.c sgx_ioc_enclave_add_pages(), sgx_encl_add_page(), __sgx_encl_add_page(),
 * __sgx_encl_extend(), sgx_validate_secinfo(), sgx_validate_offset_length(); encl.c sgx_encl_page_alloc()):
 * validate, then EADD (and EEXTEND) page by page, reporting the bytes added in `count` whatever happens.
 */
import {
  type Decoded,
  decode,
  encode,
  PAGE_SIZE,
  PAGEINFO,
  PageType,
  type PageTypeNumber,
  SECINFO,
} from '../../hw/index';
import {
  block,
  EACCES,
  EBUSY,
  EFAULT,
  EINVAL,
  EIO,
  ERESTARTSYS,
  type Errno,
  type FileOpResult,
  getUserPages,
  isErrno,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  type Task,
  VM_EXEC,
  VM_MAYEXEC,
  VM_READ,
  VM_WRITE,
} from '../../kernel/index';
import {
  SGX_EEXTEND_BLOCK_SIZE,
  SGX_ENCL_CREATED,
  SGX_ENCL_INITIALIZED,
  SGX_SECINFO_PAGE_TYPE_MASK,
  SGX_SECINFO_PERMISSION_MASK,
  SGX_SECINFO_R,
  SGX_SECINFO_REG,
  SGX_SECINFO_RESERVED_MASK,
  SGX_SECINFO_TCS,
  SGX_SECINFO_W,
  SGX_SECINFO_X,
} from './constants';
import { type SgxEncl, SgxEnclPage } from './encl';
import { __eadd, __eextend, enclsFailed } from './encls';
import { sgxAllocEpcPage, sgxEnclFreeEpcPage } from './epc-allocator';
import type { SgxEpcPage } from './epc-page';
import { sgxMarkPageReclaimable } from './lru';
import { SGX_ENCLAVE_ADD_PAGES, SGX_PAGE_MEASURE } from './uapi';
import { sgxEnclGrow, sgxEnclShrink } from './va-page';

const U64_MAX = (1n << 64n) - 1n;

/**
 * sgx_validate_offset_length(): page-aligned, non-empty, no wrap-around, and inside [0, size).
 * @returns 0 or EINVAL.
 */
export function sgxValidateOffsetLength(encl: SgxEncl, offset: bigint, length: bigint): 0 | Errno {
  if (offset % BigInt(PAGE_SIZE) !== 0n) return EINVAL;
  if (!length || length % BigInt(PAGE_SIZE) !== 0n) return EINVAL;
  if (offset + length > U64_MAX) return EINVAL;
  if (offset + length - BigInt(PAGE_SIZE) >= BigInt(encl.size)) return EINVAL;
  return 0;
}

/**
 * sgx_validate_secinfo(): REG or TCS; W needs R; a TCS has no permissions (the CPU would silently zero them and
 * the measurement would not match); no reserved flag bits; the 56 reserved bytes zero.
 * @returns 0 or EINVAL.
 */
export function sgxValidateSecinfo(secinfo: Uint8Array): 0 | Errno {
  const s = decode(SECINFO, secinfo);
  const perm = s.flags & SGX_SECINFO_PERMISSION_MASK;
  const pt = s.flags & SGX_SECINFO_PAGE_TYPE_MASK;
  if (pt !== SGX_SECINFO_REG && pt !== SGX_SECINFO_TCS) return EINVAL;
  if (perm & SGX_SECINFO_W && !(perm & SGX_SECINFO_R)) return EINVAL;
  if (pt === SGX_SECINFO_TCS && perm) return EINVAL;
  if (s.flags & SGX_SECINFO_RESERVED_MASK) return EINVAL;
  if (s.reserved.some((b) => b !== 0)) return EINVAL;
  return 0;
}

/** calc_vm_prot_bits() of the PROT_* bits SECINFO R/W/X translate to. */
function protToVm(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/**
 * sgx_encl_page_alloc(): the page at `offset` with its maximum VM protection: SECINFO R/W/X, and always R|W for
 * a TCS ("the CPU ignores the user provided values and silently overwrites them with zero permissions").
 */
export function sgxEnclPageAlloc(encl: SgxEncl, offset: number, secinfoFlags: bigint): SgxEnclPage {
  let prot =
    (secinfoFlags & SGX_SECINFO_R ? PROT_READ : 0) |
    (secinfoFlags & SGX_SECINFO_W ? PROT_WRITE : 0) |
    (secinfoFlags & SGX_SECINFO_X ? PROT_EXEC : 0);
  if ((secinfoFlags & SGX_SECINFO_PAGE_TYPE_MASK) === SGX_SECINFO_TCS) prot |= PROT_READ | PROT_WRITE;
  const type = Number((secinfoFlags & SGX_SECINFO_PAGE_TYPE_MASK) >> 8n) as PageTypeNumber;
  return new SgxEnclPage(encl, encl.base + offset, protToVm(prot), type === PageType.TCS ? PageType.TCS : PageType.REG);
}

/**
 * __sgx_encl_add_page(): EADD the user page at `src` (the source must be in a mapping that may be executable:
 * a noexec mount would clear VM_MAYEXEC).
 * @returns 0, or EFAULT (no VMA at or after `src`, or the page cannot be pinned), EACCES (no VM_MAYEXEC), EIO
 *   (EADD faulted).
 */
function __sgxEnclAddPage(
  encl: SgxEncl,
  page: SgxEnclPage,
  epcPage: SgxEpcPage,
  secinfo: Uint8Array,
  src: number,
  t: Task,
): 0 | Errno {
  const sgx = encl.sgx;
  const mm = t.mm!;
  // "Deny noexec." find_vma(): the first VMA ending above src.
  const vma = mm.vmas.find(src);
  if (!vma) return EFAULT;
  if (!(vma.flags & VM_MAYEXEC)) return EACCES;
  const pinned = getUserPages(mm, src, 1, false);
  if (isErrno(pinned)) return EFAULT;
  const pginfo = sgx.scratchPfn * PAGE_SIZE;
  const secinfoPa = pginfo + 64;
  sgx.k.mem.write(secinfoPa, secinfo);
  sgx.k.mem.write(
    pginfo,
    encode(PAGEINFO, {
      secs: BigInt(encl.secs.epcPage!.pa),
      linAddr: BigInt(page.addr),
      secinfo: BigInt(secinfoPa),
      srcPge: BigInt(pinned.pfns[0]! * PAGE_SIZE),
    }),
  );
  const ret = __eadd(sgx, pginfo, epcPage.pa, { encl: encl.id, addr: page.addr });
  pinned.release();
  return ret ? EIO : 0;
}

/** __sgx_encl_extend(): 16 × EEXTEND. @returns 0 or EIO. */
function __sgxEnclExtend(encl: SgxEncl, epcPage: SgxEpcPage): 0 | Errno {
  const sgx = encl.sgx;
  for (let off = 0; off < PAGE_SIZE; off += SGX_EEXTEND_BLOCK_SIZE) {
    const ret = __eextend(sgx, encl.secs.epcPage!.pa, epcPage.pa + off);
    if (ret) {
      if (enclsFailed(ret)) sgx.enclsWarn(ret, 'EEXTEND');
      return EIO;
    }
  }
  return 0;
}

/**
 * sgx_encl_add_page(): one page, all or nothing.
 * @returns 0, or ENOMEM/ERESTARTSYS (EPC), EBUSY (a page exists at that offset), or __sgx_encl_add_page()'s and
 *   __sgx_encl_extend()'s errors.
 */
function sgxEnclAddPage(
  encl: SgxEncl,
  src: number,
  offset: number,
  secinfo: Uint8Array,
  flags: bigint,
  t: Task,
): 0 | Errno {
  const sgx = encl.sgx;
  const secinfoFlags = decode(SECINFO, secinfo).flags;
  const page = sgxEnclPageAlloc(encl, offset, secinfoFlags);
  const epcPage = sgxAllocEpcPage(sgx, page, true, t);
  if (isErrno(epcPage)) return epcPage;
  const va = sgxEnclGrow(encl, true, t);
  if (isErrno(va)) {
    sgxEnclFreeEpcPage(sgx, epcPage);
    return va;
  }
  if (va) encl.vaPages.add(va.list);
  const index = page.addr / PAGE_SIZE;
  // xa_insert(): "Insert prior to EADD in case of OOM. EADD modifies MRENCLAVE, i.e. can't be gracefully
  // unwound."
  if (encl.pageArray.has(index)) {
    sgxEnclShrink(encl, va);
    sgxEnclFreeEpcPage(sgx, epcPage);
    return EBUSY;
  }
  encl.pageArray.set(index, page);
  let ret = __sgxEnclAddPage(encl, page, epcPage, secinfo, src, t);
  if (!ret) {
    page.epcPage = epcPage;
    page.type = Number((secinfoFlags & SGX_SECINFO_PAGE_TYPE_MASK) >> 8n) as PageTypeNumber;
    encl.secsChildCnt++;
    // As upstream, a failing EEXTEND leaves secs_child_cnt counting the page it then frees (unreachable here:
    // nothing can invalidate the page between EADD and EEXTEND).
    if (BigInt(flags) & BigInt(SGX_PAGE_MEASURE)) ret = __sgxEnclExtend(encl, epcPage);
  }
  if (ret) {
    encl.pageArray.delete(index);
    page.epcPage = null;
    sgxEnclShrink(encl, va);
    sgxEnclFreeEpcPage(sgx, epcPage);
    return ret;
  }
  sgxMarkPageReclaimable(sgx, epcPage);
  return 0;
}

/** What a resumed ENCLAVE_ADD_PAGES keeps across cond_resched(). */
interface AddPagesState {
  readonly args: Decoded<typeof SGX_ENCLAVE_ADD_PAGES>;
  readonly secinfo: Uint8Array;
  c: bigint;
  ret: 0 | Errno;
}

/**
 * sgx_ioc_enclave_add_pages().
 * @returns 0 (count = length), or: EINVAL (not created / already initialized, src not page-aligned, bad offset or
 *   length, bad SECINFO), EFAULT (bad pointers, or the count could not be written back), ERESTARTSYS (a signal
 *   before the first page; with pages done the call returns 0 and a short count), or the first page error:
 *   ENOMEM, EBUSY, EACCES, EIO, EFAULT, ERESTARTSYS. `count` is written back on every path after validation.
 */
export function sgxIocEnclaveAddPages(
  encl: SgxEncl,
  arg: number,
  t: Task,
  state: Record<string, unknown>,
): FileOpResult {
  let st = state.sgxAddPages as AddPagesState | undefined;
  if (!st) {
    if (!(encl.flags & SGX_ENCL_CREATED) || encl.flags & SGX_ENCL_INITIALIZED) return EINVAL;
    const a = t.copyFromUser(arg, SGX_ENCLAVE_ADD_PAGES.size);
    if (isErrno(a)) return EFAULT;
    const args = decode(SGX_ENCLAVE_ADD_PAGES, a);
    if (args.src % BigInt(PAGE_SIZE) !== 0n) return EINVAL;
    if (sgxValidateOffsetLength(encl, args.offset, args.length)) return EINVAL;
    const secinfoPtr = args.secinfo > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(args.secinfo);
    const secinfo = secinfoPtr < 0 ? EFAULT : t.copyFromUser(secinfoPtr, SECINFO.size);
    if (isErrno(secinfo)) return EFAULT;
    if (sgxValidateSecinfo(secinfo)) return EINVAL;
    st = { args, secinfo, c: 0n, ret: 0 };
    state.sgxAddPages = st;
  }
  const { args } = st;
  const page = BigInt(PAGE_SIZE);
  while (st.c < args.length) {
    if (t.signalPending()) {
      if (!st.c) st.ret = ERESTARTSYS;
      break;
    }
    // cond_resched(): another task gets the CPU; the loop continues where it was.
    if (encl.sgx.needResched(t)) return block([], { deadline: t.now(), uninterruptible: true });
    const src = args.src + st.c;
    const ret = sgxEnclAddPage(
      encl,
      src > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(src),
      Number(args.offset + st.c),
      st.secinfo,
      args.flags,
      t,
    );
    st.ret = ret;
    if (ret) break;
    st.c += page;
  }
  state.sgxAddPages = undefined;
  const out = encode(SGX_ENCLAVE_ADD_PAGES, { ...args, count: st.c });
  if (t.copyToUser(arg, out)) return EFAULT;
  return st.ret;
}
