/**
 * The enclave signer: builds the 1808-byte SIGSTRUCT that ENCLS[EINIT] verifies (SDM Vol. 3D §38.13 Table 38-19,
 * §41.2 EINIT), the way the Linux SGX selftests' encl_measure() does (tools/testing/selftests/sgx/sigstruct.c):
 * constant headers, the modulus and signature stored little-endian, exponent 3, an RSASSA-PKCS1-v1_5 SHA-256
 * signature over HEADER ‖ BODY, and the Q1/Q2 helper values.
 */
import {
  AttrFlags,
  beToBigInt,
  type CryptoBackend,
  computeQ1Q2,
  encode,
  type RsaPrivateKey,
  SIGSTRUCT,
  SIGSTRUCT_HEADER,
  SIGSTRUCT_HEADER2,
  SIGSTRUCT_VENDOR_INTEL,
  setField,
  sigstructSignedMessage,
  toSigstructInt,
  verifySigstructSignature,
  Xfrm,
} from '../../hw/index';
import { SigningKeyError, SigstructError } from '../errors/index';
import { checkSigningKey, SIGSTRUCT_EXPONENT } from './signing-key';

/** The signed fields of a SIGSTRUCT. Everything but `enclaveHash` is optional. */
export interface SigstructFields {
  /** ENCLAVEHASH: the MRENCLAVE the enclave must measure to (32 bytes). */
  readonly enclaveHash: Uint8Array;
  /** MODULEVENDOR: 0x8086 for Intel, 0 for everyone else. */
  readonly vendor?: number;
  /** DATE as BCD yyyymmdd, e.g. 0x20240131; 0 when unset. */
  readonly date?: number;
  /** SWDEFINED: free for software (HWVERSION for launch enclaves). */
  readonly swDefined?: number;
  readonly miscSelect?: number;
  readonly miscMask?: number;
  /** ATTRIBUTES.FLAGS the enclave expects, compared with SECS.ATTRIBUTES under `attributeMask`. */
  readonly attributes?: bigint;
  readonly xfrm?: bigint;
  readonly attributeMask?: bigint;
  readonly xfrmMask?: bigint;
  readonly isvProdId?: number;
  readonly isvSvn?: number;
  /** KSS: ISVFAMILYID (16 bytes). EINIT refuses a non-zero value unless SECS.ATTRIBUTES.KSS is set. */
  readonly isvFamilyId?: Uint8Array;
  /** KSS: ISVEXTPRODID (16 bytes). */
  readonly isvExtProdId?: Uint8Array;
}

/**
 * The values the Linux selftests sign with (sigstruct.c encl_measure()): vendor and date 0, ATTRIBUTES =
 * MODE64BIT, XFRM = x87|SSE, both masks 0 (so EINIT accepts any SECS attributes), MISCSELECT 0, ISV 0.
 * The signer uses them for every field the caller leaves out.
 */
export const SELFTEST_SIGSTRUCT_DEFAULTS = {
  vendor: 0,
  date: 0,
  swDefined: 0,
  miscSelect: 0,
  miscMask: 0,
  attributes: AttrFlags.MODE64BIT,
  xfrm: Xfrm.LEGACY,
  attributeMask: 0n,
  xfrmMask: 0n,
  isvProdId: 0,
  isvSvn: 0,
} as const satisfies Omit<Required<SigstructFields>, 'enclaveHash' | 'isvFamilyId' | 'isvExtProdId'>;

const U64_MAX = (1n << 64n) - 1n;

function fieldError(field: string, reason: string): SigstructError {
  return new SigstructError({ kind: 'field', field, reason });
}

function uint(field: string, v: number, bits: 16 | 32): number {
  const max = bits === 16 ? 0xffff : 0xffff_ffff;
  if (!Number.isInteger(v) || v < 0 || v > max) throw fieldError(field, `${v} is not a ${bits}-bit unsigned integer`);
  return v;
}

function u64(field: string, v: bigint): bigint {
  if (v < 0n || v > U64_MAX) throw fieldError(field, `${v} is not a 64-bit unsigned integer`);
  return v;
}

function bytes(field: string, v: Uint8Array | undefined, size: number): Uint8Array {
  const b = v ?? new Uint8Array(size);
  if (b.length !== size) throw fieldError(field, `must be ${size} bytes, got ${b.length}`);
  return b;
}

/** True when every nibble is a decimal digit (DATE is BCD, SDM Vol. 3D Table 38-19). */
export function isBcd(v: number): boolean {
  for (let x = v; x > 0; x = Math.floor(x / 16)) if (x % 16 > 9) return false;
  return true;
}

/**
 * The BCD DATE field for a calendar date, e.g. `bcdDate(2024, 1, 31)` = 0x20240131.
 * @throws SigstructError when the date is out of range.
 */
export function bcdDate(year: number, month: number, day: number): number {
  const ok =
    Number.isInteger(year) &&
    Number.isInteger(month) &&
    Number.isInteger(day) &&
    year >= 0 &&
    year <= 9999 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= 31;
  if (!ok) throw fieldError('DATE', `${year}-${month}-${day} is not a date`);
  const digits = `${String(year).padStart(4, '0')}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`;
  return Number.parseInt(digits, 16);
}

/**
 * Signs an enclave: builds the SIGSTRUCT for `fields` and signs it with `key`.
 *
 * The signature is RSASSA-PKCS1-v1_5 with SHA-256 over HEADER (bytes 0..127) ‖ BODY (bytes 900..1027), made
 * by `crypto.rsaSignSha256`; MODULUS, SIGNATURE, Q1 and Q2 are stored little-endian. The result is verified
 * as EINIT would before it is returned.
 *
 * @param crypto the backend that hashes and signs (noble or node:crypto give identical bytes).
 * @param key an RSA-3072 private key with public exponent 3.
 * @param fields the signed fields; omitted ones take {@link SELFTEST_SIGSTRUCT_DEFAULTS}.
 * @returns the 1808-byte SIGSTRUCT.
 * @throws SigningKeyError `modulus-size`, `exponent` or `inconsistent` for an unusable key.
 * @throws SigstructError `field` for a value that does not fit its field (or a vendor other than 0/0x8086,
 *   a DATE that is not BCD, an ENCLAVEHASH that is not 32 bytes).
 */
export function signSigstruct(crypto: CryptoBackend, key: RsaPrivateKey, fields: SigstructFields): Uint8Array {
  checkSigningKey(key);
  const d = SELFTEST_SIGSTRUCT_DEFAULTS;
  const vendor = uint('MODULEVENDOR', fields.vendor ?? d.vendor, 32);
  // "MODULEVENDOR: Intel Enclave: 00008086H; Non-Intel Enclave: 00000000H" — SDM Vol. 3D Table 38-19.
  if (vendor !== 0 && vendor !== SIGSTRUCT_VENDOR_INTEL) throw fieldError('MODULEVENDOR', `must be 0 or 0x8086`);
  const date = uint('DATE', fields.date ?? d.date, 32);
  if (!isBcd(date)) throw fieldError('DATE', `0x${date.toString(16)} is not BCD (yyyymmdd)`);

  const sig = encode(SIGSTRUCT, {
    header: SIGSTRUCT_HEADER,
    vendor,
    date,
    header2: SIGSTRUCT_HEADER2,
    swDefined: uint('SWDEFINED', fields.swDefined ?? d.swDefined, 32),
    modulus: toSigstructInt(key.n),
    exponent: Number(SIGSTRUCT_EXPONENT),
    miscSelect: uint('MISCSELECT', fields.miscSelect ?? d.miscSelect, 32),
    miscMask: uint('MISCMASK', fields.miscMask ?? d.miscMask, 32),
    isvFamilyId: bytes('ISVFAMILYID', fields.isvFamilyId, 16),
    attributes: u64('ATTRIBUTES', fields.attributes ?? d.attributes),
    xfrm: u64('XFRM', fields.xfrm ?? d.xfrm),
    attributeMask: u64('ATTRIBUTEMASK', fields.attributeMask ?? d.attributeMask),
    xfrmMask: u64('XFRMMASK', fields.xfrmMask ?? d.xfrmMask),
    enclaveHash: bytes('ENCLAVEHASH', fields.enclaveHash, 32),
    isvExtProdId: bytes('ISVEXTPRODID', fields.isvExtProdId, 16),
    isvProdId: uint('ISVPRODID', fields.isvProdId ?? d.isvProdId, 16),
    isvSvn: uint('ISVSVN', fields.isvSvn ?? d.isvSvn, 16),
  });

  const digest = crypto.sha256(sigstructSignedMessage(sig));
  const s = beToBigInt(crypto.rsaSignSha256(key, digest));
  const { q1, q2 } = computeQ1Q2(s, key.n);
  setField(SIGSTRUCT, sig, 0, 'signature', toSigstructInt(s));
  setField(SIGSTRUCT, sig, 0, 'q1', toSigstructInt(q1));
  setField(SIGSTRUCT, sig, 0, 'q2', toSigstructInt(q2));

  // A key whose primes match its modulus can still carry a wrong d or CRT exponent; its signature then fails
  // EINIT. Catch that here rather than at EINIT time.
  if (!verifySigstructSignature(crypto, sig).ok) throw new SigningKeyError({ kind: 'inconsistent' });
  return sig;
}
