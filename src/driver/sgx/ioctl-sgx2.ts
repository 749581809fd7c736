/**
 * The SGX2 ioctls' entry checks (ioctl.c sgx_ioc_sgx2_ready(), sgx_ioc_enclave_restrict_permissions(),
 * sgx_ioc_enclave_modify_types(), sgx_ioc_enclave_remove_pages()): every validation step up to the per-page work,
 * in upstream order. The modelled processor is SGX1 (CPUID.(12H,0):EAX[1] = 0), so these return ENODEV, which is
 * what the selftests use to skip ("no SGX2"). The per-page bodies (EMODPR, EMODT, the EACCEPT-checked removal)
 * belong to the SGX2 work, together with those leaves in the hardware model.
 */
import { decode, type Layout } from '../../hw/index';
import { EFAULT, EINVAL, ENODEV, type Errno, isErrno, type Task } from '../../kernel/index';
import {
  SGX_ENCL_INITIALIZED,
  SGX_PAGE_TYPE_MASK,
  SGX_SECINFO_PERMISSION_MASK,
  SGX_SECINFO_R,
  SGX_SECINFO_W,
} from './constants';
import type { SgxEncl } from './encl';
import { sgxValidateOffsetLength } from './ioctl-add-pages';
import { SGX_ENCLAVE_MODIFY_TYPES, SGX_ENCLAVE_REMOVE_PAGES, SGX_ENCLAVE_RESTRICT_PERMISSIONS } from './uapi';

/**
 * sgx_ioc_sgx2_ready(): the CPU has SGX2 and the enclave is initialized.
 * @returns 0, ENODEV (no SGX2) or EINVAL (not initialized).
 */
export function sgxIocSgx2Ready(encl: SgxEncl): 0 | Errno {
  if (!encl.sgx.m.features.sgx2) return ENODEV;
  if (!(encl.flags & SGX_ENCL_INITIALIZED)) return EINVAL;
  return 0;
}

/** The argument copied in, or EFAULT. */
function copyIn<L extends Layout>(t: Task, arg: number, layout: L): ReturnType<typeof decode<L>> | Errno {
  const a = t.copyFromUser(arg, layout.size);
  if (isErrno(a)) return EFAULT;
  return decode(layout, a);
}

function notModelled(what: string): never {
  throw new Error(`${what}: the SGX2 page operations are not modelled (the hardware model has no EMODPR/EMODT/EAUG)`);
}

/**
 * sgx_ioc_enclave_restrict_permissions().
 * @returns ENODEV/EINVAL from sgx_ioc_sgx2_ready(), EFAULT, or EINVAL (offset/length, permission bits beyond RWX,
 *   W without R, non-zero result or count on input).
 */
export function sgxIocEnclaveRestrictPermissions(encl: SgxEncl, arg: number, t: Task): 0 | Errno {
  const ready = sgxIocSgx2Ready(encl);
  if (ready) return ready;
  const p = copyIn(t, arg, SGX_ENCLAVE_RESTRICT_PERMISSIONS);
  if (isErrno(p)) return p;
  if (sgxValidateOffsetLength(encl, p.offset, p.length)) return EINVAL;
  if (p.permissions & ~SGX_SECINFO_PERMISSION_MASK) return EINVAL;
  // "Fail early if invalid permissions requested to prevent ENCLS[EMODPR] from faulting later."
  if (p.permissions & SGX_SECINFO_W && !(p.permissions & SGX_SECINFO_R)) return EINVAL;
  if (p.result || p.count) return EINVAL;
  return notModelled('SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS');
}

/**
 * sgx_ioc_enclave_modify_types().
 * @returns ENODEV/EINVAL from sgx_ioc_sgx2_ready(), EFAULT, or EINVAL (offset/length, page_type beyond 0xFF,
 *   non-zero result or count on input).
 */
export function sgxIocEnclaveModifyTypes(encl: SgxEncl, arg: number, t: Task): 0 | Errno {
  const ready = sgxIocSgx2Ready(encl);
  if (ready) return ready;
  const p = copyIn(t, arg, SGX_ENCLAVE_MODIFY_TYPES);
  if (isErrno(p)) return p;
  if (sgxValidateOffsetLength(encl, p.offset, p.length)) return EINVAL;
  if (p.page_type & ~SGX_PAGE_TYPE_MASK) return EINVAL;
  if (p.result || p.count) return EINVAL;
  return notModelled('SGX_IOC_ENCLAVE_MODIFY_TYPES');
}

/**
 * sgx_ioc_enclave_remove_pages().
 * @returns ENODEV/EINVAL from sgx_ioc_sgx2_ready(), EFAULT, or EINVAL (offset/length, non-zero count on input).
 */
export function sgxIocEnclaveRemovePages(encl: SgxEncl, arg: number, t: Task): 0 | Errno {
  const ready = sgxIocSgx2Ready(encl);
  if (ready) return ready;
  const p = copyIn(t, arg, SGX_ENCLAVE_REMOVE_PAGES);
  if (isErrno(p)) return p;
  if (sgxValidateOffsetLength(encl, p.offset, p.length)) return EINVAL;
  if (p.count) return EINVAL;
  return notModelled('SGX_IOC_ENCLAVE_REMOVE_PAGES');
}
