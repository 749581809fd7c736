export {
  buildEnclaveWithDriver,
  type DriverBuildOptions,
  type LoadedEnclave,
  mapEnclaveSegments,
  reserveElrange,
  type SegmentMapping,
} from './driver-build';
export { type EnclavePlan, type EnclavePlanOptions, MAX_TCS, planEnclave } from './enclave-plan';
export { type RuntimeInfo, type RuntimeMeta, readRuntimeInfo } from './runtime-info';
