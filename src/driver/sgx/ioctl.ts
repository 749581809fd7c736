/**
 * The ioctl dispatcher of /dev/sgx_enclave (ioctl.c sgx_ioctl(); compat_ioctl is the same function): one ioctl
 * at a time per enclave (SGX_ENCL_IOCTL, EBUSY for a concurrent one, across threads, processes and dup'd fds),
 * then a flat switch; an unknown command is ENOIOCTLCMD, which the VFS reports as ENOTTY.
 */
import { EBUSY, ENOIOCTLCMD, type FileOpResult, isBlock, type OpenFile, type Task } from '../../kernel/index';
import { SGX_ENCL_IOCTL } from './constants';
import type { SgxEncl } from './encl';
import { sgxIocEnclaveAddPages } from './ioctl-add-pages';
import { sgxIocEnclaveCreate } from './ioctl-create';
import { sgxIocEnclaveInit } from './ioctl-init';
import { sgxIocEnclaveModifyTypes, sgxIocEnclaveRemovePages, sgxIocEnclaveRestrictPermissions } from './ioctl-sgx2';
import { sgxIocEnclaveProvision } from './provision';
import {
  SGX_IOC_ENCLAVE_ADD_PAGES,
  SGX_IOC_ENCLAVE_CREATE,
  SGX_IOC_ENCLAVE_INIT,
  SGX_IOC_ENCLAVE_MODIFY_TYPES,
  SGX_IOC_ENCLAVE_PROVISION,
  SGX_IOC_ENCLAVE_REMOVE_PAGES,
  SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS,
} from './uapi';

/** A handler: the enclave, the user argument, `current`, and the state kept across a sleep. */
type IoctlHandler = (encl: SgxEncl, arg: number, t: Task, state: Record<string, unknown>) => FileOpResult;

/** The command table (the switch of sgx_ioctl()). */
export const SGX_IOCTLS: Readonly<Record<number, IoctlHandler>> = Object.freeze({
  [SGX_IOC_ENCLAVE_CREATE]: sgxIocEnclaveCreate,
  [SGX_IOC_ENCLAVE_ADD_PAGES]: sgxIocEnclaveAddPages,
  [SGX_IOC_ENCLAVE_INIT]: sgxIocEnclaveInit,
  [SGX_IOC_ENCLAVE_PROVISION]: sgxIocEnclaveProvision,
  [SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS]: sgxIocEnclaveRestrictPermissions,
  [SGX_IOC_ENCLAVE_MODIFY_TYPES]: sgxIocEnclaveModifyTypes,
  [SGX_IOC_ENCLAVE_REMOVE_PAGES]: sgxIocEnclaveRemovePages,
});

/**
 * sgx_ioctl().
 * @returns the handler's result, EBUSY (another ioctl on this enclave is in progress), or ENOIOCTLCMD.
 */
export function sgxIoctl(
  file: OpenFile,
  cmd: number,
  arg: number,
  t: Task,
  state: Record<string, unknown> = {},
): FileOpResult {
  const encl = file.privateData as SgxEncl;
  // A call resumed after a sleep already holds the bit.
  if (!state.sgxIoctlHeld) {
    // test_and_set_bit(SGX_ENCL_IOCTL). A holder killed while asleep in the ioctl never comes back to clear it
    // here (Linux would finish the ioctl first), so a dead holder no longer counts.
    if (encl.flags & SGX_ENCL_IOCTL && encl.ioctlOwner?.state !== 'dead') return EBUSY;
    encl.flags |= SGX_ENCL_IOCTL;
    encl.ioctlOwner = t;
    state.sgxIoctlHeld = true;
  }
  const handler = SGX_IOCTLS[cmd];
  const ret = handler ? handler(encl, arg, t, state) : ENOIOCTLCMD;
  if (isBlock(ret)) return ret;
  state.sgxIoctlHeld = false;
  encl.flags &= ~SGX_ENCL_IOCTL;
  encl.ioctlOwner = null;
  return ret;
}
