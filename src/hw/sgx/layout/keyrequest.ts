// SDM Vol. 3D §38.17 "Key Request (KEYREQUEST)", Table 38-23.
import { defineLayout } from './codec';

export const KEYREQUEST = defineLayout('KEYREQUEST', 512, 512, [
  { name: 'keyName', offset: 0, size: 2, type: 'u16' },
  { name: 'keyPolicy', offset: 2, size: 2, type: 'u16' },
  { name: 'isvSvn', offset: 4, size: 2, type: 'u16' },
  { name: 'reserved1', offset: 6, size: 2, type: 'reserved' },
  { name: 'cpuSvn', offset: 8, size: 16, type: 'bytes' },
  { name: 'attributeMask', offset: 24, size: 8, type: 'u64' },
  { name: 'xfrmMask', offset: 32, size: 8, type: 'u64' },
  { name: 'keyId', offset: 40, size: 32, type: 'bytes' },
  { name: 'miscMask', offset: 72, size: 4, type: 'u32' },
  { name: 'configSvn', offset: 76, size: 2, type: 'u16' },
  { name: 'reserved2', offset: 78, size: 434, type: 'reserved' },
] as const);
