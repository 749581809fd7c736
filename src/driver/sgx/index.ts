// The SGX driver (arch/x86/kernel/cpu/sgx/): its public surface.
export * from './constants';
export { SgxEncl, SgxEnclMm, SgxEnclPage, SgxVaPage } from './encl';
export { sgxEnclCpumask, sgxZapEnclavePtes } from './encl-mm';
export { enclsFailed, enclsFaulted, SGX_ENCLS_FAULT_FLAG } from './encls';
export { type EpcSection, sgxAllocEpcPage, sgxFreeEpcPage } from './epc-allocator';
export { SgxEpcPage } from './epc-page';
export { sgxCheckInvariants } from './invariants';
export { sgxEnclLoadPage } from './load-page';
export { sgxMarkPageReclaimable, sgxShouldReclaim, sgxUnmarkPageReclaimable } from './lru';
export { formatSgxPs } from './ps';
export { sgxReclaimPages } from './reclaim';
export { Sgx, type SgxCounters } from './sgx';
export { type SgxInitResult, sgxInit } from './sgx-init';
export { enclFlagNames, formatSgxStats, type SgxEnclaveStats, type SgxStats, sgxEnclaveStats, sgxStats } from './stats';
export * from './uapi';
