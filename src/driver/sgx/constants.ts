/**
 * Numbers the Linux SGX driver defines for itself (arch/x86/kernel/cpu/sgx/{sgx.h,encl.h,driver.h,ioctl.c} and
 * arch/x86/include/asm/sgx.h). Architectural constants (leaf numbers, page types, attribute bits) come from
 * src/hw; the uAPI (ioctl numbers, argument structs) is in uapi.ts.
 */
import { AttrFlags, PAGE_SIZE } from '../../hw/index';

/** sgx.h: pages scanned per reclaim batch. */
export const SGX_NR_TO_SCAN = 16;
/** sgx.h: an allocation leaving fewer free pages wakes ksgxd. */
export const SGX_NR_LOW_PAGES = 32;
/** sgx.h: ksgxd reclaims until this many pages are free. */
export const SGX_NR_HIGH_PAGES = 64;
/** sgx.h: CPUID.(12H, 2..9) at most. */
export const SGX_MAX_EPC_SECTIONS = 8;
/** sgx.h: EEXTEND measures 256 bytes. */
export const SGX_EEXTEND_BLOCK_SIZE = 256;
/** encl.h: 8-byte version slots in a VA page. */
export const SGX_VA_SLOT_COUNT = 512;

/** sgx.h sgx_epc_page.flags: the page is on, or held by, the reclaimer's active list. */
export const SGX_EPC_PAGE_RECLAIMER_TRACKED = 1 << 0;
/** sgx.h: the page is on a free list. */
export const SGX_EPC_PAGE_IS_FREE = 1 << 1;

/** encl.h enum sgx_encl_flags (bit numbers as masks). */
export const SGX_ENCL_IOCTL = 1 << 0;
export const SGX_ENCL_DEBUG = 1 << 1;
export const SGX_ENCL_CREATED = 1 << 2;
export const SGX_ENCL_INITIALIZED = 1 << 3;

/** driver.h: EINIT attempts before sleeping, sleeps before giving up, and the sleep. */
export const SGX_EINIT_SPIN_COUNT = 20;
export const SGX_EINIT_SLEEP_COUNT = 50;
export const SGX_EINIT_SLEEP_TIME_MS = 20;

/** asm/sgx.h: 384-byte RSA-3072 modulus in SIGSTRUCT; 304-byte EINITTOKEN. */
export const SGX_MODULUS_SIZE = 384;
export const SGX_LAUNCH_TOKEN_SIZE = 304;

/** asm/sgx.h SECINFO flag masks (the driver's names). */
export const SGX_SECINFO_R = 0x01n;
export const SGX_SECINFO_W = 0x02n;
export const SGX_SECINFO_X = 0x04n;
export const SGX_SECINFO_PERMISSION_MASK = 0x07n;
export const SGX_SECINFO_PAGE_TYPE_MASK = 0xffn << 8n;
export const SGX_SECINFO_TCS = 0x01n << 8n;
export const SGX_SECINFO_REG = 0x02n << 8n;
export const SGX_SECINFO_TRIM = 0x04n << 8n;
/** ~(PERMISSION_MASK | PAGE_TYPE_MASK) as a u64. */
export const SGX_SECINFO_RESERVED_MASK = BigInt.asUintN(
  64,
  ~(SGX_SECINFO_PERMISSION_MASK | SGX_SECINFO_PAGE_TYPE_MASK),
);
/** asm/sgx.h: SGX_PAGE_TYPE_MASK. */
export const SGX_PAGE_TYPE_MASK = 0xffn;

/** asm/sgx.h: MISCSELECT bits 63..1 are reserved. */
export const SGX_MISC_RESERVED_MASK = BigInt.asUintN(64, ~1n) & 0xffff_ffffn;
/** asm/sgx.h: ATTRIBUTES bits 3, 6, 8, 9 and 63..11 are reserved (AEX-Notify, bit 10, is defined). */
export const SGX_ATTR_RESERVED_MASK =
  (1n << 3n) | (1n << 6n) | (1n << 8n) | (1n << 9n) | (((1n << 64n) - 1n) & ~((1n << 11n) - 1n));
/** asm/sgx.h: attributes only a privileged capability may grant. */
export const SGX_ATTR_PRIV_MASK = AttrFlags.PROVISIONKEY | AttrFlags.EINITTOKENKEY;
/** asm/sgx.h: attributes any enclave may have; a new enclave's attributes_mask. */
export const SGX_ATTR_UNPRIV_MASK = AttrFlags.DEBUG | AttrFlags.MODE64BIT | AttrFlags.KSS | AttrFlags.AEXNOTIFY;

/** "EREMOVE returned %d (0x%x) and an EPC page was leaked. SGX may become unusable. …" (encls.h). */
export function eremoveErrorMessage(ret: number): string {
  return `EREMOVE returned ${ret} (0x${ret.toString(16)}) and an EPC page was leaked. SGX may become unusable. Refer to Documentation/x86/sgx.rst for more information.`;
}

/** Bytes of one PCMD (struct sgx_pcmd) and of the SECS, for the backing-store offsets. */
export const SGX_PCMD_SIZE = 128;
export const SGX_SECS_SIZE = PAGE_SIZE;
