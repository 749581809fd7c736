/**
 * struct sgx_enclave_run (arch/x86/include/uapi/asm/sgx.h), the execution context of __vdso_sgx_enter_enclave(),
 * declared once as layout data with the generic codec. Checked against the installed header with gcc in
 * test/vdso/sgx-enclave-run.test.ts. `exception_*` are written only on an exception; the vDSO never clears them.
 */
import { defineLayout } from '../hw/index';

export const SGX_ENCLAVE_RUN = defineLayout('sgx_enclave_run', 256, 8, [
  { name: 'tcs', offset: 0, size: 8, type: 'u64', doc: 'TCS used to enter the enclave (RBX of ENCLU)' },
  {
    name: 'function',
    offset: 8,
    size: 4,
    type: 'u32',
    doc: 'The last seen ENCLU function: EEXIT, or the EENTER/ERESUME that took an exception',
  },
  { name: 'exception_vector', offset: 12, size: 2, type: 'u16', doc: 'The interrupt vector of the exception' },
  { name: 'exception_error_code', offset: 14, size: 2, type: 'u16', doc: 'Its error code (low 16 bits)' },
  { name: 'exception_addr', offset: 16, size: 8, type: 'u64', doc: 'The address that triggered it (CR2 for #PF)' },
  { name: 'user_handler', offset: 24, size: 8, type: 'u64', doc: 'Called on every exit when non-zero' },
  { name: 'user_data', offset: 32, size: 8, type: 'u64', doc: 'Opaque to the vDSO' },
  { name: 'reserved', offset: 40, size: 216, type: 'reserved', doc: 'Must be zero, else -EINVAL' },
] as const);
