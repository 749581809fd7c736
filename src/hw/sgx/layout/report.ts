// SDM Vol. 3D §38.15 "Report (REPORT)", Table 38-21, and §38.16 "Report Target Info (TARGETINFO)", Table 38-22.
import { defineLayout } from './codec';

export const REPORT = defineLayout('REPORT', 432, 512, [
  { name: 'cpuSvn', offset: 0, size: 16, type: 'bytes' },
  { name: 'miscSelect', offset: 16, size: 4, type: 'u32' },
  { name: 'reserved1', offset: 20, size: 12, type: 'reserved' },
  { name: 'isvExtProdId', offset: 32, size: 16, type: 'bytes' },
  { name: 'attributes', offset: 48, size: 8, type: 'u64' },
  { name: 'xfrm', offset: 56, size: 8, type: 'u64' },
  { name: 'mrEnclave', offset: 64, size: 32, type: 'bytes' },
  { name: 'reserved2', offset: 96, size: 32, type: 'reserved' },
  { name: 'mrSigner', offset: 128, size: 32, type: 'bytes' },
  { name: 'reserved3', offset: 160, size: 32, type: 'reserved' },
  { name: 'configId', offset: 192, size: 64, type: 'bytes' },
  { name: 'isvProdId', offset: 256, size: 2, type: 'u16' },
  { name: 'isvSvn', offset: 258, size: 2, type: 'u16' },
  { name: 'configSvn', offset: 260, size: 2, type: 'u16' },
  { name: 'reserved4', offset: 262, size: 42, type: 'reserved' },
  { name: 'isvFamilyId', offset: 304, size: 16, type: 'bytes' },
  { name: 'reportData', offset: 320, size: 64, type: 'bytes' },
  { name: 'keyId', offset: 384, size: 32, type: 'bytes' },
  { name: 'mac', offset: 416, size: 16, type: 'bytes', doc: 'CMAC over bytes [0,384)' },
] as const);

export const TARGETINFO = defineLayout('TARGETINFO', 512, 512, [
  { name: 'measurement', offset: 0, size: 32, type: 'bytes', doc: 'target MRENCLAVE' },
  { name: 'attributes', offset: 32, size: 8, type: 'u64' },
  { name: 'xfrm', offset: 40, size: 8, type: 'u64' },
  { name: 'reserved1', offset: 48, size: 2, type: 'reserved' },
  { name: 'configSvn', offset: 50, size: 2, type: 'u16' },
  { name: 'miscSelect', offset: 52, size: 4, type: 'u32' },
  { name: 'reserved2', offset: 56, size: 8, type: 'reserved' },
  { name: 'configId', offset: 64, size: 64, type: 'bytes' },
  { name: 'reserved3', offset: 128, size: 384, type: 'reserved' },
] as const);

/** REPORTDATA is 64 bytes, 128-byte aligned (SDM Vol. 3D §41.3 EREPORT). */
export const REPORTDATA_SIZE = 64;
