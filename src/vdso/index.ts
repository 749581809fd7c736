// The vDSO layer's public surface (DESIGN.md §5): the platform (machine, kernel, driver, logical processors,
// vDSO) and __vdso_sgx_enter_enclave() for host programs.
export {
  EENTER,
  EEXIT,
  type EncluExit,
  ERESUME,
  GPR_NAMES,
  type VdsoRegisters,
} from './enclu-runner';
export { type VdsoEnterArgs, type VdsoExitInfo, vdsoSgxEnterEnclave } from './enter-enclave';
export { GuestCpus, GuestThread } from './guest-cpus';
export {
  aexOnInterrupt,
  bootPlatform,
  type Platform,
  type PlatformOptions,
  platformOf,
  type SgxSystem,
  type VdsoStats,
} from './platform';
export { SGX_ENCLAVE_RUN } from './sgx-enclave-run';
export {
  lookupUserHandler,
  registerUserHandler,
  type VdsoHandlerArgs,
  type VdsoHandlerResult,
  type VdsoUserHandler,
} from './user-handler';
export {
  VDSO_EEXIT_LANDING_OFFSET,
  VDSO_ENCLU_OFFSET,
  VDSO_HOSTCALL_VECTOR,
  Vdso,
  vdsoImage,
} from './vdso-image';
