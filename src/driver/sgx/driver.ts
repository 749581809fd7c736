/**
 * /dev/sgx_enclave (driver.c): open() makes one enclave per open file description, release drains the mms still
 * on mm_list and drops the file's reference, and sgx_drv_init() registers the node only on a CPU with flexible
 * launch control and the SGX1 leaves, computing the reserved masks ENCLAVE_INIT checks from CPUID leaf 12H.
 */
import {
  ENODEV,
  type Errno,
  type FileOperations,
  type Inode,
  mmuNotifierUnregister,
  type OpenFile,
} from '../../kernel/index';
import { SGX_ATTR_RESERVED_MASK, SGX_MISC_RESERVED_MASK } from './constants';
import { SgxEncl } from './encl';
import { sgxEnclPut } from './encl-release';
import { sgxIoctl } from './ioctl';
import { sgxGetUnmappedArea, sgxMmap } from './mmap';
import type { Sgx } from './sgx';

/** sgx_open(): a fresh enclave with one reference (the file's). No EPC is used until ENCLAVE_CREATE. */
function sgxOpen(sgx: Sgx, file: OpenFile): 0 {
  const encl = new SgxEncl(sgx, sgx.allocEnclId());
  file.privateData = encl;
  sgx.enclaves.add(encl);
  sgx.trace('sgx_open', { encl: encl.id, file: file.id });
  return 0;
}

/**
 * sgx_release(): the last reference to the file is gone (every fd closed and every mapping unmapped). The mms
 * still on mm_list belong to processes that unmapped the enclave but have not exited; each entry's reference is
 * dropped, then the file's own.
 */
function sgxRelease(file: OpenFile): void {
  const encl = file.privateData as SgxEncl;
  for (let e = encl.mmList.shift(); e; e = encl.mmList.shift()) {
    mmuNotifierUnregister(e.notifier, e.mm);
    sgxEnclPut(encl);
  }
  encl.fileReleased = true;
  encl.sgx.trace('sgx_release', { encl: encl.id });
  sgxEnclPut(encl);
}

/** sgx_encl_fops. */
export function sgxEnclFops(sgx: Sgx): FileOperations {
  return Object.freeze({
    open: (_inode: Inode, file: OpenFile) => sgxOpen(sgx, file),
    release: (_inode: Inode, file: OpenFile) => sgxRelease(file),
    ioctl: sgxIoctl,
    mmap: sgxMmap,
    get_unmapped_area: sgxGetUnmappedArea,
  });
}

/**
 * sgx_drv_init(): registers /dev/sgx_enclave.
 * @returns 0, or ENODEV without launch control or without the SGX1 leaves (with the upstream log line).
 */
export function sgxDrvInit(sgx: Sgx): 0 | Errno {
  if (!sgx.m.features.launchControl) {
    sgx.log('SGX disabled: SGX launch control CPU feature is not available, /dev/sgx_enclave disabled.');
    return ENODEV;
  }
  const leaf0 = sgx.m.cpuid12(0);
  if (!(leaf0.eax & 1)) {
    sgx.log('SGX disabled: SGX1 instruction support not available, /dev/sgx_enclave disabled.');
    return ENODEV;
  }
  // sgx_misc_reserved_mask is a u32: ~EBX | SGX_MISC_RESERVED_MASK, truncated.
  sgx.miscReservedMask = (BigInt(~leaf0.ebx >>> 0) | SGX_MISC_RESERVED_MASK) & 0xffff_ffffn;
  const leaf1 = sgx.m.cpuid12(1);
  const attrMask = (BigInt(leaf1.ebx >>> 0) << 32n) | BigInt(leaf1.eax >>> 0);
  sgx.attributesReservedMask = BigInt.asUintN(64, ~attrMask) | SGX_ATTR_RESERVED_MASK;
  // X86_FEATURE_OSXSAVE: the kernel enables XSAVE on every CPU that has it, and the modelled CPU does.
  const xfrmMask = (BigInt(leaf1.edx >>> 0) << 32n) | BigInt(leaf1.ecx >>> 0);
  sgx.xfrmReservedMask = BigInt.asUintN(64, ~xfrmMask);
  sgx.enclaveInode = sgx.k.registerDevice('/dev/sgx_enclave', sgxEnclFops(sgx), { rdev: [10, 125] });
  return 0;
}
