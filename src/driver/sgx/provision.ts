/**
 * /dev/sgx_provision and SGX_IOC_ENCLAVE_PROVISION (main.c sgx_provision_fops, sgx_set_attribute(); ioctl.c
 * sgx_ioc_enclave_provision()). The device has no file operations at all: an open fd of it is a capability,
 * and handing it to ENCLAVE_PROVISION lets that enclave have ATTRIBUTES.PROVISIONKEY.
 */
import { AttrFlags, decode } from '../../hw/index';
import { EFAULT, EINVAL, type Errno, type FileOperations, isErrno, type Task } from '../../kernel/index';
import type { SgxEncl } from './encl';
import { SGX_ENCLAVE_PROVISION } from './uapi';

/** sgx_provision_fops: only .owner; read/write/ioctl/mmap get the VFS defaults. */
export const SGX_PROVISION_FOPS: FileOperations = Object.freeze({});

/**
 * sgx_set_attribute(): adds PROVISIONKEY to `encl.attributesMask` when `fd` is an open /dev/sgx_provision.
 * @returns 0, or EINVAL (no such fd, or another kind of file).
 */
export function sgxSetAttribute(encl: SgxEncl, fd: number, t: Task): 0 | Errno {
  const file = t.fget(fd);
  if (!file) return EINVAL;
  if (file.fops !== SGX_PROVISION_FOPS) {
    file.put();
    return EINVAL;
  }
  encl.attributesMask |= AttrFlags.PROVISIONKEY;
  file.put();
  return 0;
}

/**
 * sgx_ioc_enclave_provision(): works in any enclave state (before CREATE, after INIT) and is idempotent.
 * @returns 0, EFAULT, or EINVAL.
 */
export function sgxIocEnclaveProvision(encl: SgxEncl, arg: number, t: Task): 0 | Errno {
  const a = t.copyFromUser(arg, SGX_ENCLAVE_PROVISION.size);
  if (isErrno(a)) return EFAULT;
  // params.fd is a __u64 passed as an unsigned int.
  const fd = Number(decode(SGX_ENCLAVE_PROVISION, a).fd & 0xffff_ffffn);
  // fget() takes an unsigned int; a value above INT_MAX is never an open fd.
  return sgxSetAttribute(encl, fd > 0x7fff_ffff ? -1 : fd, t);
}
