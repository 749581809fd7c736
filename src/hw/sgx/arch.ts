// Only SDM-defined SGX constants live here (SDM Vol. 3D ch. 38-41; Linux arch/x86/include/asm/sgx.h mirrors them).
// Model choices belong elsewhere.

/** ENCLS leaf numbers in EAX (SDM Vol. 3D §41.2, Table 41-1). */
export const EnclsLeaf = {
  ECREATE: 0x00,
  EADD: 0x01,
  EINIT: 0x02,
  EREMOVE: 0x03,
  EDBGRD: 0x04,
  EDBGWR: 0x05,
  EEXTEND: 0x06,
  ELDB: 0x07,
  ELDU: 0x08,
  EBLOCK: 0x09,
  EPA: 0x0a,
  EWB: 0x0b,
  ETRACK: 0x0c,
  EAUG: 0x0d,
  EMODPR: 0x0e,
  EMODT: 0x0f,
} as const;
export type EnclsLeafNumber = (typeof EnclsLeaf)[keyof typeof EnclsLeaf];

/** ENCLU leaf numbers in EAX (SDM Vol. 3D §41.3, Table 41-2). */
export const EncluLeaf = {
  EREPORT: 0x00,
  EGETKEY: 0x01,
  EENTER: 0x02,
  ERESUME: 0x03,
  EEXIT: 0x04,
  EACCEPT: 0x05,
  EMODPE: 0x06,
  EACCEPTCOPY: 0x07,
  EDECCSSA: 0x09,
} as const;
export type EncluLeafNumber = (typeof EncluLeaf)[keyof typeof EncluLeaf];

/** EPCM page types, SECINFO.FLAGS[15:8] (SDM Vol. 3D §38.11.2, Table 38-4). */
export const PageType = {
  SECS: 0,
  TCS: 1,
  REG: 2,
  VA: 3,
  TRIM: 4,
} as const;
export type PageTypeNumber = (typeof PageType)[keyof typeof PageType];

/** SECINFO.FLAGS bits (SDM Vol. 3D §38.11.1). */
export const SecinfoFlags = {
  R: 1n << 0n,
  W: 1n << 1n,
  X: 1n << 2n,
  PENDING: 1n << 3n,
  MODIFIED: 1n << 4n,
  PR: 1n << 5n,
  PAGE_TYPE_SHIFT: 8n,
  PAGE_TYPE_MASK: 0xffn << 8n,
  /** Bits 7:6 and 63:16 are reserved and must be zero. */
  RESERVED_MASK: ~(0x3fn | (0xffn << 8n)) & 0xffff_ffff_ffff_ffffn,
} as const;

/** ATTRIBUTES.FLAGS bits (SDM Vol. 3D §38.7.1, Table 38-3). */
export const AttrFlags = {
  INIT: 1n << 0n,
  DEBUG: 1n << 1n,
  MODE64BIT: 1n << 2n,
  PROVISIONKEY: 1n << 4n,
  EINITTOKENKEY: 1n << 5n,
  CET: 1n << 6n,
  KSS: 1n << 7n,
  AEXNOTIFY: 1n << 10n,
} as const;

/** MISCSELECT bits (SDM Vol. 3D §38.7.2). */
export const MiscSelect = {
  EXINFO: 1 << 0,
} as const;

/** XFRM bits: the XSAVE feature mask of XCR0 (SDM Vol. 1 §13.1). x87 and SSE must always be set. */
export const Xfrm = {
  X87: 1n << 0n,
  SSE: 1n << 1n,
  AVX: 1n << 2n,
  /** The mandatory legacy bits. */
  LEGACY: 3n,
} as const;

/** TCS.FLAGS bits (SDM Vol. 3D §38.8.1). */
export const TcsFlags = {
  DBGOPTIN: 1n << 0n,
  AEXNOTIFY: 1n << 1n,
} as const;

/** KEYREQUEST.KEYNAME values (SDM Vol. 3D §38.17.1). */
export const KeyName = {
  EINITTOKEN: 0,
  PROVISION: 1,
  PROVISION_SEAL: 2,
  REPORT: 3,
  SEAL: 4,
} as const;

/** KEYREQUEST.KEYPOLICY bits (SDM Vol. 3D §38.17.1). */
export const KeyPolicy = {
  MRENCLAVE: 1 << 0,
  MRSIGNER: 1 << 1,
  NOISVPRODID: 1 << 2,
  CONFIGID: 1 << 3,
  ISVFAMILYID: 1 << 4,
  ISVEXTPRODID: 1 << 5,
} as const;

/** EXITINFO.EXIT_TYPE values in GPRSGX (SDM Vol. 3D §38.9.1). */
export const ExitType = {
  HARDWARE: 3,
  SOFTWARE: 6,
} as const;

/** Bytes measured by one EEXTEND (SDM Vol. 3D §41.2 EEXTEND). */
export const EEXTEND_CHUNK = 256;

/** Number of 8-byte version slots in a VA page (SDM Vol. 3D §38.20). */
export const VA_SLOTS = 512;

/** IA32_SGXLEPUBKEYHASH0..3 MSR numbers (SDM Vol. 4). */
export const MSR_IA32_SGXLEPUBKEYHASH0 = 0x8c;

/** Intel's SIGSTRUCT HEADER and HEADER2 constants (SDM Vol. 3D §38.13, Table 38-19). */
export const SIGSTRUCT_HEADER = Uint8Array.of(0x06, 0, 0, 0, 0xe1, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0);
export const SIGSTRUCT_HEADER2 = Uint8Array.of(0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 0x01, 0, 0, 0);
export const SIGSTRUCT_VENDOR_INTEL = 0x8086;
