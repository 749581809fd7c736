// SDM Vol. 3D §38.12 "Paging Crypto MetaData (PCMD)", Table 38-6.
import { defineLayout } from './codec';

export const PCMD = defineLayout('PCMD', 128, 128, [
  { name: 'secinfo', offset: 0, size: 64, type: 'bytes', doc: 'the evicted page’s SECINFO' },
  { name: 'enclaveId', offset: 64, size: 8, type: 'u64', doc: 'EID of the owning enclave' },
  { name: 'reserved', offset: 72, size: 40, type: 'reserved' },
  { name: 'mac', offset: 112, size: 16, type: 'bytes' },
] as const);
