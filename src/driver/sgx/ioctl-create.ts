/**
 * SGX_IOC_ENCLAVE_CREATE (ioctl.c sgx_ioc_enclave_create(), sgx_encl_create()): copy the SECS from user memory,
 * allocate the first VA page, the backing store and the SECS page, and ECREATE.
 */
import { AttrFlags, decode, encode, PAGE_SIZE, PAGEINFO, SECS } from '../../hw/index';
import { EFAULT, EINVAL, EIO, ENOMEM, type Errno, isErrno, type Task } from '../../kernel/index';
import { sgxBackingSetup } from './backing';
import { SGX_ATTR_UNPRIV_MASK, SGX_ENCL_CREATED, SGX_ENCL_DEBUG } from './constants';
import type { SgxEncl } from './encl';
import { __ecreate } from './encls';
import { sgxAllocEpcPage, sgxEnclFreeEpcPage } from './epc-allocator';
import { SGX_ENCLAVE_CREATE } from './uapi';
import { sgxEnclGrow, sgxEnclShrink } from './va-page';

/** is_power_of_2() of a u64. */
function isPowerOf2(x: bigint): boolean {
  return x !== 0n && (x & (x - 1n)) === 0n;
}

/**
 * sgx_encl_create(): the enclave from the SECS image at physical `secsPa` (the kernel's copy).
 * @returns 0, or EINVAL (SECS.SIZE not a power of two, or too big for a backing file), ENOMEM/ERESTARTSYS (no EPC
 *   for the VA page or the SECS), EIO (ECREATE faulted: every SECS check the kernel leaves to the CPU).
 */
function sgxEnclCreate(encl: SgxEncl, secsPa: number, t: Task): 0 | Errno {
  const sgx = encl.sgx;
  const secs = decode(SECS, sgx.k.mem.read(secsPa, SECS.size));
  // "ECREATE would detect this too, but checking here also ensures that the 'encl_size' calculations below can
  // never overflow."
  if (!isPowerOf2(secs.size)) return EINVAL;
  const va = sgxEnclGrow(encl, true, t);
  if (isErrno(va)) return va;
  if (va) encl.vaPages.add(va.list);
  const backing = sgxBackingSetup(sgx, Number(secs.size));
  if (isErrno(backing)) {
    sgxEnclShrink(encl, va);
    return backing;
  }
  encl.backing = backing;
  const secsEpc = sgxAllocEpcPage(sgx, encl.secs, true, t);
  if (isErrno(secsEpc)) {
    backing.release();
    encl.backing = null;
    sgxEnclShrink(encl, va);
    return secsEpc;
  }
  encl.secs.epcPage = secsEpc;
  // PAGEINFO{addr 0, contents = the SECS copy, metadata = a zeroed SECINFO, secs 0} on the kernel stack.
  const pginfo = sgx.scratchPfn * PAGE_SIZE;
  const secinfo = pginfo + 64;
  sgx.k.mem.write(secinfo, new Uint8Array(64));
  sgx.k.mem.write(
    pginfo,
    encode(PAGEINFO, { linAddr: 0n, srcPge: BigInt(secsPa), secinfo: BigInt(secinfo), secs: 0n }),
  );
  const ret = __ecreate(sgx, pginfo, secsEpc.pa, { encl: encl.id });
  if (ret) {
    sgxEnclFreeEpcPage(sgx, secsEpc);
    encl.secs.epcPage = null;
    backing.release();
    encl.backing = null;
    sgxEnclShrink(encl, va);
    return EIO;
  }
  if (secs.attributes & AttrFlags.DEBUG) encl.flags |= SGX_ENCL_DEBUG;
  encl.base = Number(secs.baseAddr);
  encl.size = Number(secs.size);
  encl.attributes = secs.attributes;
  encl.attributesMask = SGX_ATTR_UNPRIV_MASK;
  // "Set only after completion, as encl->lock has not been taken."
  encl.flags |= SGX_ENCL_CREATED;
  sgx.trace('sgx_encl_create', { encl: encl.id, base: encl.base, size: encl.size });
  return 0;
}

/**
 * sgx_ioc_enclave_create().
 * @returns 0, or EINVAL (already created), EFAULT (bad pointer to the argument or the SECS), ENOMEM, or what
 *   sgx_encl_create() returns.
 */
export function sgxIocEnclaveCreate(encl: SgxEncl, arg: number, t: Task): 0 | Errno {
  if (encl.flags & SGX_ENCL_CREATED) return EINVAL;
  const a = t.copyFromUser(arg, SGX_ENCLAVE_CREATE.size);
  if (isErrno(a)) return EFAULT;
  const createArg = decode(SGX_ENCLAVE_CREATE, a);
  const pfn = encl.sgx.kmallocPage();
  if (pfn === undefined) return ENOMEM;
  let ret: 0 | Errno;
  const src = createArg.src > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(createArg.src);
  const secs = src < 0 ? EFAULT : t.copyFromUser(src, PAGE_SIZE);
  if (isErrno(secs)) ret = EFAULT;
  else {
    encl.sgx.k.mem.write(pfn * PAGE_SIZE, secs);
    ret = sgxEnclCreate(encl, pfn * PAGE_SIZE, t);
  }
  encl.sgx.kfree(pfn);
  return ret;
}
