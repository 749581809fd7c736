// SDM Vol. 3D §38.8 "Thread Control Structure (TCS)", Table 38-8; Linux asm/sgx.h struct sgx_tcs.
import { defineLayout } from './codec';

export const TCS = defineLayout('TCS', 4096, 4096, [
  { name: 'state', offset: 0, size: 8, type: 'u64', doc: 'hardware busy indicator; EADD forces 0' },
  { name: 'flags', offset: 8, size: 8, type: 'u64', doc: 'bit 0 DBGOPTIN, bit 1 AEXNOTIFY' },
  { name: 'ossa', offset: 16, size: 8, type: 'u64', doc: 'offset of the SSA stack from the enclave base' },
  { name: 'cssa', offset: 24, size: 4, type: 'u32', doc: 'current SSA frame index' },
  { name: 'nssa', offset: 28, size: 4, type: 'u32', doc: 'number of SSA frames' },
  { name: 'oentry', offset: 32, size: 8, type: 'u64', doc: 'entry point offset from the base' },
  { name: 'aep', offset: 40, size: 8, type: 'u64', doc: 'asynchronous exit pointer saved by EENTER/ERESUME' },
  { name: 'ofsBase', offset: 48, size: 8, type: 'u64', doc: 'FS base offset from the base' },
  { name: 'ogsBase', offset: 56, size: 8, type: 'u64', doc: 'GS base offset from the base' },
  { name: 'fsLimit', offset: 64, size: 4, type: 'u32' },
  { name: 'gsLimit', offset: 68, size: 4, type: 'u32' },
  { name: 'reserved', offset: 72, size: 4024, type: 'reserved' },
] as const);
