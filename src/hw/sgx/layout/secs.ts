// SDM Vol. 3D §38.7 "SGX Enclave Control Structure (SECS)", Table 38-2; Linux asm/sgx.h struct sgx_secs.
import { defineLayout } from './codec';

export const SECS = defineLayout('SECS', 4096, 4096, [
  { name: 'size', offset: 0, size: 8, type: 'u64', doc: 'enclave size in bytes, a power of two' },
  { name: 'baseAddr', offset: 8, size: 8, type: 'u64', doc: 'enclave base linear address, aligned to size' },
  { name: 'ssaFrameSize', offset: 16, size: 4, type: 'u32', doc: 'size of one SSA frame in pages' },
  { name: 'miscSelect', offset: 20, size: 4, type: 'u32', doc: 'MISCSELECT: bit 0 EXINFO' },
  { name: 'reserved1', offset: 24, size: 24, type: 'reserved' },
  { name: 'attributes', offset: 48, size: 8, type: 'u64', doc: 'ATTRIBUTES.FLAGS' },
  { name: 'xfrm', offset: 56, size: 8, type: 'u64', doc: 'ATTRIBUTES.XFRM' },
  { name: 'mrEnclave', offset: 64, size: 32, type: 'bytes' },
  { name: 'reserved2', offset: 96, size: 32, type: 'reserved' },
  { name: 'mrSigner', offset: 128, size: 32, type: 'bytes' },
  { name: 'reserved3', offset: 160, size: 32, type: 'reserved' },
  { name: 'configId', offset: 192, size: 64, type: 'bytes', doc: 'KSS' },
  { name: 'isvProdId', offset: 256, size: 2, type: 'u16' },
  { name: 'isvSvn', offset: 258, size: 2, type: 'u16' },
  { name: 'configSvn', offset: 260, size: 2, type: 'u16', doc: 'KSS' },
  { name: 'reserved4', offset: 262, size: 3834, type: 'reserved' },
] as const);
