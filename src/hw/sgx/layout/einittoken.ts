// SDM Vol. 3D §38.14 "EINIT Token Structure (EINITTOKEN)", Table 38-20.
import { defineLayout } from './codec';

export const EINITTOKEN = defineLayout('EINITTOKEN', 304, 512, [
  { name: 'valid', offset: 0, size: 4, type: 'u32', doc: 'bit 0' },
  { name: 'reserved1', offset: 4, size: 44, type: 'reserved' },
  { name: 'attributes', offset: 48, size: 8, type: 'u64' },
  { name: 'xfrm', offset: 56, size: 8, type: 'u64' },
  { name: 'mrEnclave', offset: 64, size: 32, type: 'bytes' },
  { name: 'reserved2', offset: 96, size: 32, type: 'reserved' },
  { name: 'mrSigner', offset: 128, size: 32, type: 'bytes' },
  { name: 'reserved3', offset: 160, size: 32, type: 'reserved' },
  { name: 'cpuSvnLe', offset: 192, size: 16, type: 'bytes' },
  { name: 'isvProdIdLe', offset: 208, size: 2, type: 'u16' },
  { name: 'isvSvnLe', offset: 210, size: 2, type: 'u16' },
  { name: 'reserved4', offset: 212, size: 24, type: 'reserved' },
  { name: 'maskedMiscSelectLe', offset: 236, size: 4, type: 'u32' },
  { name: 'maskedAttributesLe', offset: 240, size: 8, type: 'u64' },
  { name: 'maskedXfrmLe', offset: 248, size: 8, type: 'u64' },
  { name: 'keyId', offset: 256, size: 32, type: 'bytes' },
  { name: 'mac', offset: 288, size: 16, type: 'bytes', doc: 'CMAC over bytes [0,192)' },
] as const);
