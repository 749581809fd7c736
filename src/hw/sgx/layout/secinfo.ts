// SDM Vol. 3D §38.11 "Security Information (SECINFO)", Table 38-3.
import { defineLayout } from './codec';

export const SECINFO = defineLayout('SECINFO', 64, 64, [
  { name: 'flags', offset: 0, size: 8, type: 'u64', doc: 'R W X PENDING MODIFIED PR, PAGE_TYPE[15:8]' },
  { name: 'reserved', offset: 8, size: 56, type: 'reserved' },
] as const);
