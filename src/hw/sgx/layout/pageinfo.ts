// SDM Vol. 3D §38.10 "Paging Information (PAGEINFO)", Table 38-5.
import { defineLayout } from './codec';

export const PAGEINFO = defineLayout('PAGEINFO', 32, 32, [
  { name: 'linAddr', offset: 0, size: 8, type: 'u64', doc: 'enclave linear address' },
  { name: 'srcPge', offset: 8, size: 8, type: 'u64', doc: 'source/destination page' },
  { name: 'secinfo', offset: 16, size: 8, type: 'u64', doc: 'SECINFO or PCMD address' },
  { name: 'secs', offset: 24, size: 8, type: 'u64', doc: 'EPC address of the SECS' },
] as const);
