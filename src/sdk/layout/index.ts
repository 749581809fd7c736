export {
  buildEnclaveLayout,
  DEFAULT_HEAP_SIZE,
  DEFAULT_SSA_FRAME_SIZE,
  type EnclaveLayout,
  type EnclaveLayoutOptions,
  type EnclavePage,
  type EnclaveSegment,
  enclaveSizeFor,
  Prot,
  segmentPages,
  type TcsPage,
} from './enclave-layout';
export { measureEnclave } from './measure-enclave';
