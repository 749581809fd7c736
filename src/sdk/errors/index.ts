export { EcallError, type EcallProblem } from './ecall-error';
export { EnclaveAbortedError, type EnclaveAbortProblem } from './enclave-aborted-error';
export { EnclaveLayoutError, type EnclaveLayoutProblem } from './enclave-layout-error';
export { EnclaveLoadError, type EnclaveLoadProblem } from './enclave-load-error';
export { isSdkError, SdkError } from './sdk-error';
export { SigningKeyError, type SigningKeyProblem } from './signing-key-error';
export { SigstructError, type SigstructProblem } from './sigstruct-error';
