/**
 * The cryptography of EWB and ELDB/ELDU (SDM Vol. 3D §41.2 EWB and ELDB/ELDU pseudo-code):
 *
 *   {ciphertext, MAC} = AES_GCM_ENC(CR_BASE_PK, IV = TMP_VER << 32, AAD = TMP_HEADER (128 bytes), page (4096))
 *
 * The key is the per-boot paging key; the nonce is the page's version, which EWB stores in a VA slot and ELDU
 * reads back from it, so a replayed older copy (whose version is no longer in the slot) fails to verify. The
 * SDM names the header's contents but not its layout; ours is declared below. It binds the page's SECINFO as
 * written to the PCMD, the PCMD's reserved bytes, the enclave's EID (from the SECS, 0 for SECS and VA pages),
 * the linear address, and the PCMD's ENCLAVEID field, so altering any PCMD byte or the address is detected.
 */
import type { CryptoBackend } from '../crypto/backend';
import { defineLayout, encode } from './layout/index';

/** TMP_HEADER: the 128 bytes of additional authenticated data (sgxsim layout). */
export const PAGING_MAC_HEADER = defineLayout('EWB MAC header (sgxsim)', 128, 8, [
  { name: 'secinfo', offset: 0, size: 64, type: 'bytes', doc: 'the PCMD SECINFO: PT, RWX, PENDING, MODIFIED, PR' },
  { name: 'eid', offset: 64, size: 8, type: 'u64', doc: 'EID of the owning enclave (SDM TMP_HEADER.EID)' },
  { name: 'pcmdReserved', offset: 72, size: 40, type: 'bytes', doc: 'PCMD.RESERVED (SDM TMP_HEADER.RSVD)' },
  { name: 'linAddr', offset: 112, size: 8, type: 'u64', doc: 'ENCLAVEADDRESS / PAGEINFO.LINADDR' },
  { name: 'pcmdEnclaveId', offset: 120, size: 8, type: 'u64', doc: 'PCMD.ENCLAVEID' },
] as const);

export interface PagingHeader {
  readonly secinfo: Uint8Array;
  readonly eid: bigint;
  readonly pcmdReserved: Uint8Array;
  readonly linAddr: bigint;
  readonly pcmdEnclaveId: bigint;
}

/** The 96-bit GCM counter TMP_VER << 32: four zero bytes, then the version little-endian. */
export function pagingIv(version: bigint): Uint8Array {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setBigUint64(4, BigInt.asUintN(64, version), true);
  return iv;
}

/** EWB's AES_GCM_ENC: the encrypted page and the 16-byte MAC for PCMD.MAC. */
export function sealPage(
  crypto: CryptoBackend,
  pagingKey: Uint8Array,
  version: bigint,
  header: PagingHeader,
  page: Uint8Array,
): { ciphertext: Uint8Array; mac: Uint8Array } {
  const sealed = crypto.aesGcmEncrypt(pagingKey, pagingIv(version), page, encode(PAGING_MAC_HEADER, header));
  return { ciphertext: sealed.ciphertext, mac: sealed.tag };
}

/** ELDB/ELDU's AES_GCM_DEC with the MAC comparison: the plaintext page, or null (SGX_MAC_COMPARE_FAIL). */
export function openPage(
  crypto: CryptoBackend,
  pagingKey: Uint8Array,
  version: bigint,
  header: PagingHeader,
  ciphertext: Uint8Array,
  mac: Uint8Array,
): Uint8Array | null {
  return crypto.aesGcmDecrypt(pagingKey, pagingIv(version), ciphertext, encode(PAGING_MAC_HEADER, header), mac);
}
