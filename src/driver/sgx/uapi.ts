/**
 * The SGX driver's uAPI (arch/x86/include/uapi/asm/sgx.h): ioctl numbers and argument structs, declared as
 * layout data with the generic codec. Every struct is an array of __u64 with no padding. Checked against the
 * installed header with gcc in test/driver/sgx/uapi.test.ts.
 */
import { defineLayout } from '../../hw/index';
import { _IO, _IOW, _IOWR } from '../../kernel/index';

/** SGX_MAGIC, the ioctl type byte. */
export const SGX_MAGIC = 0xa4;

/** enum sgx_page_flags: measure the added pages with EEXTEND. Other bits are ignored, not rejected. */
export const SGX_PAGE_MEASURE = 0x01;

/** struct sgx_enclave_create: `src` points at a 4096-byte SECS image. */
export const SGX_ENCLAVE_CREATE = defineLayout('sgx_enclave_create', 8, 8, [
  { name: 'src', offset: 0, size: 8, type: 'u64' },
] as const);

/** struct sgx_enclave_add_pages: `count` is written back with the bytes added, even on error. */
export const SGX_ENCLAVE_ADD_PAGES = defineLayout('sgx_enclave_add_pages', 48, 8, [
  { name: 'src', offset: 0, size: 8, type: 'u64' },
  { name: 'offset', offset: 8, size: 8, type: 'u64' },
  { name: 'length', offset: 16, size: 8, type: 'u64' },
  { name: 'secinfo', offset: 24, size: 8, type: 'u64' },
  { name: 'flags', offset: 32, size: 8, type: 'u64' },
  { name: 'count', offset: 40, size: 8, type: 'u64' },
] as const);

/** struct sgx_enclave_init: `sigstruct` points at a 1808-byte SIGSTRUCT. */
export const SGX_ENCLAVE_INIT = defineLayout('sgx_enclave_init', 8, 8, [
  { name: 'sigstruct', offset: 0, size: 8, type: 'u64' },
] as const);

/** struct sgx_enclave_provision: an fd of /dev/sgx_provision (used as unsigned int). */
export const SGX_ENCLAVE_PROVISION = defineLayout('sgx_enclave_provision', 8, 8, [
  { name: 'fd', offset: 0, size: 8, type: 'u64' },
] as const);

/** struct sgx_enclave_restrict_permissions (SGX2). */
export const SGX_ENCLAVE_RESTRICT_PERMISSIONS = defineLayout('sgx_enclave_restrict_permissions', 40, 8, [
  { name: 'offset', offset: 0, size: 8, type: 'u64' },
  { name: 'length', offset: 8, size: 8, type: 'u64' },
  { name: 'permissions', offset: 16, size: 8, type: 'u64' },
  { name: 'result', offset: 24, size: 8, type: 'u64' },
  { name: 'count', offset: 32, size: 8, type: 'u64' },
] as const);

/** struct sgx_enclave_modify_types (SGX2). */
export const SGX_ENCLAVE_MODIFY_TYPES = defineLayout('sgx_enclave_modify_types', 40, 8, [
  { name: 'offset', offset: 0, size: 8, type: 'u64' },
  { name: 'length', offset: 8, size: 8, type: 'u64' },
  { name: 'page_type', offset: 16, size: 8, type: 'u64' },
  { name: 'result', offset: 24, size: 8, type: 'u64' },
  { name: 'count', offset: 32, size: 8, type: 'u64' },
] as const);

/** struct sgx_enclave_remove_pages (SGX2). */
export const SGX_ENCLAVE_REMOVE_PAGES = defineLayout('sgx_enclave_remove_pages', 24, 8, [
  { name: 'offset', offset: 0, size: 8, type: 'u64' },
  { name: 'length', offset: 8, size: 8, type: 'u64' },
  { name: 'count', offset: 16, size: 8, type: 'u64' },
] as const);

export const SGX_IOC_ENCLAVE_CREATE = _IOW(SGX_MAGIC, 0x00, SGX_ENCLAVE_CREATE.size);
export const SGX_IOC_ENCLAVE_ADD_PAGES = _IOWR(SGX_MAGIC, 0x01, SGX_ENCLAVE_ADD_PAGES.size);
export const SGX_IOC_ENCLAVE_INIT = _IOW(SGX_MAGIC, 0x02, SGX_ENCLAVE_INIT.size);
export const SGX_IOC_ENCLAVE_PROVISION = _IOW(SGX_MAGIC, 0x03, SGX_ENCLAVE_PROVISION.size);
/** Only /dev/sgx_vepc implements it; on an enclave fd it is an unknown command (ENOTTY). */
export const SGX_IOC_VEPC_REMOVE_ALL = _IO(SGX_MAGIC, 0x04);
export const SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS = _IOWR(SGX_MAGIC, 0x05, SGX_ENCLAVE_RESTRICT_PERMISSIONS.size);
export const SGX_IOC_ENCLAVE_MODIFY_TYPES = _IOWR(SGX_MAGIC, 0x06, SGX_ENCLAVE_MODIFY_TYPES.size);
export const SGX_IOC_ENCLAVE_REMOVE_PAGES = _IOWR(SGX_MAGIC, 0x07, SGX_ENCLAVE_REMOVE_PAGES.size);
