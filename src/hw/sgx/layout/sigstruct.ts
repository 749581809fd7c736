// SDM Vol. 3D §38.13 "Enclave Signature Structure (SIGSTRUCT)", Table 38-19; Linux asm/sgx.h struct sgx_sigstruct.
import { defineLayout } from './codec';

export const SIGSTRUCT = defineLayout('SIGSTRUCT', 1808, 4096, [
  { name: 'header', offset: 0, size: 16, type: 'bytes', doc: '06000000E10000000000010000000000' },
  { name: 'vendor', offset: 16, size: 4, type: 'u32', doc: '0x8086 Intel, 0 others' },
  { name: 'date', offset: 20, size: 4, type: 'u32', doc: 'BCD yyyymmdd' },
  { name: 'header2', offset: 24, size: 16, type: 'bytes', doc: '01010000600000006000000001000000' },
  { name: 'swDefined', offset: 40, size: 4, type: 'u32' },
  { name: 'reserved1', offset: 44, size: 84, type: 'reserved' },
  { name: 'modulus', offset: 128, size: 384, type: 'bytes', doc: 'RSA-3072 modulus, little-endian' },
  { name: 'exponent', offset: 512, size: 4, type: 'u32', doc: 'must be 3' },
  { name: 'signature', offset: 516, size: 384, type: 'bytes', doc: 'little-endian' },
  { name: 'miscSelect', offset: 900, size: 4, type: 'u32' },
  { name: 'miscMask', offset: 904, size: 4, type: 'u32' },
  { name: 'reserved2', offset: 908, size: 4, type: 'reserved' },
  { name: 'isvFamilyId', offset: 912, size: 16, type: 'bytes', doc: 'KSS' },
  { name: 'attributes', offset: 928, size: 8, type: 'u64' },
  { name: 'xfrm', offset: 936, size: 8, type: 'u64' },
  { name: 'attributeMask', offset: 944, size: 8, type: 'u64' },
  { name: 'xfrmMask', offset: 952, size: 8, type: 'u64' },
  { name: 'enclaveHash', offset: 960, size: 32, type: 'bytes', doc: 'expected MRENCLAVE' },
  { name: 'reserved3', offset: 992, size: 16, type: 'reserved' },
  { name: 'isvExtProdId', offset: 1008, size: 16, type: 'bytes', doc: 'KSS' },
  { name: 'isvProdId', offset: 1024, size: 2, type: 'u16' },
  { name: 'isvSvn', offset: 1026, size: 2, type: 'u16' },
  { name: 'reserved4', offset: 1028, size: 12, type: 'reserved' },
  { name: 'q1', offset: 1040, size: 384, type: 'bytes', doc: 'floor(sig^2 / N), little-endian' },
  { name: 'q2', offset: 1424, size: 384, type: 'bytes', doc: 'floor((sig^3 - q1*sig*N) / N), little-endian' },
] as const);

/** The signed bytes are HEADER [0,128) and BODY [900,1028) (SDM Vol. 3D §38.13). */
export const SIGSTRUCT_SIGNED_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 128],
  [900, 1028],
];
