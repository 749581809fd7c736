export { attachEnclave, Enclave, type LoadEnclaveOptions, loadEnclave, type SigningKeySource } from './enclave';
export {
  type ProcessGroupOptions,
  type ProcessGroupResult,
  runProcessGroup,
  threadsOf,
  type WorkerInfo,
} from './process-group';
export type { EcallCounters, EcallResult, OcallHandler, OcallReply, OcallRequest } from './run-ecall';
export { SCRATCH_SIZE, UntrustedArea } from './untrusted-area';
