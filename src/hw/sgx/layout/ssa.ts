// SDM Vol. 3D §38.9 "State Save Area (SSA) Frame": GPRSGX (Table 38-10), EXITINFO (Table 38-11), EXINFO (Table 38-12).
// GPRSGX occupies the last 184 bytes of a frame; MISC components (EXINFO) sit just below it.
import { defineLayout } from './codec';

export const GPRSGX = defineLayout('GPRSGX', 184, 8, [
  { name: 'rax', offset: 0, size: 8, type: 'u64' },
  { name: 'rcx', offset: 8, size: 8, type: 'u64' },
  { name: 'rdx', offset: 16, size: 8, type: 'u64' },
  { name: 'rbx', offset: 24, size: 8, type: 'u64' },
  { name: 'rsp', offset: 32, size: 8, type: 'u64' },
  { name: 'rbp', offset: 40, size: 8, type: 'u64' },
  { name: 'rsi', offset: 48, size: 8, type: 'u64' },
  { name: 'rdi', offset: 56, size: 8, type: 'u64' },
  { name: 'r8', offset: 64, size: 8, type: 'u64' },
  { name: 'r9', offset: 72, size: 8, type: 'u64' },
  { name: 'r10', offset: 80, size: 8, type: 'u64' },
  { name: 'r11', offset: 88, size: 8, type: 'u64' },
  { name: 'r12', offset: 96, size: 8, type: 'u64' },
  { name: 'r13', offset: 104, size: 8, type: 'u64' },
  { name: 'r14', offset: 112, size: 8, type: 'u64' },
  { name: 'r15', offset: 120, size: 8, type: 'u64' },
  { name: 'rflags', offset: 128, size: 8, type: 'u64' },
  { name: 'rip', offset: 136, size: 8, type: 'u64' },
  { name: 'ursp', offset: 144, size: 8, type: 'u64', doc: 'untrusted RSP saved by EENTER' },
  { name: 'urbp', offset: 152, size: 8, type: 'u64', doc: 'untrusted RBP saved by EENTER' },
  { name: 'exitInfo', offset: 160, size: 4, type: 'u32', doc: 'VECTOR[7:0], EXIT_TYPE[10:8], VALID[31]' },
  { name: 'reserved', offset: 164, size: 3, type: 'reserved' },
  { name: 'aexNotify', offset: 167, size: 1, type: 'u8', doc: 'AEX-Notify enable (bit 0)' },
  { name: 'fsBase', offset: 168, size: 8, type: 'u64' },
  { name: 'gsBase', offset: 176, size: 8, type: 'u64' },
] as const);

export const EXINFO = defineLayout('EXINFO', 16, 8, [
  { name: 'maddr', offset: 0, size: 8, type: 'u64', doc: 'faulting linear address (#PF), 0 for #GP' },
  { name: 'errcd', offset: 8, size: 4, type: 'u32', doc: 'exception error code' },
  { name: 'reserved', offset: 12, size: 4, type: 'reserved' },
] as const);

/** EXITINFO bit fields. */
export const EXITINFO_VALID = 0x8000_0000;
export const EXITINFO_TYPE_SHIFT = 8;
