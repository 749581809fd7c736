export { EnclaveLayoutError, type EnclaveLayoutProblem } from './enclave-layout-error';
export { isSdkError, SdkError } from './sdk-error';
export { SigningKeyError, type SigningKeyProblem } from './signing-key-error';
export { SigstructError, type SigstructProblem } from './sigstruct-error';
