export {
  DEFAULT_WAIT_SLOTS,
  decodeEnclaveShare,
  ENCLAVE_SHARE,
  ENCLAVE_SHARE_MAGIC,
  ENCLAVE_SHARE_VERSION,
  type EnclaveDescriptor,
  encodeEnclaveShare,
  type PoolWords,
} from './enclave-share';
export { createEnclaveShare, type MappedShare, mapEnclaveShare } from './share-memory';
export { type TcsGrant, TcsPool, type TcsPoolState } from './tcs-pool';
