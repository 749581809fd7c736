/**
 * RSA in BigInt, shared by every backend: PKCS#1 v1.5 verification with SHA-256 (what EINIT does with
 * SIGSTRUCT, SDM Vol. 3D §41.2 EINIT) and CRT signing for the signer when no native RSA is at hand.
 */
import type { RsaPrivateKey } from './backend';
import { beToBigInt, bigIntToBe, bytesEqual } from './bytes';

/** DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1). */
export const SHA256_DIGEST_INFO = Uint8Array.of(
  0x30,
  0x31,
  0x30,
  0x0d,
  0x06,
  0x09,
  0x60,
  0x86,
  0x48,
  0x01,
  0x65,
  0x03,
  0x04,
  0x02,
  0x01,
  0x05,
  0x00,
  0x04,
  0x20,
);

export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

/** EMSA-PKCS1-v1_5 encoding of a SHA-256 digest into `k` bytes (RFC 8017 §9.2). */
export function emsaPkcs1Sha256(digest: Uint8Array, k: number): Uint8Array {
  const tLen = SHA256_DIGEST_INFO.length + digest.length;
  if (k < tLen + 11) throw new Error('RSA modulus too short');
  const em = new Uint8Array(k).fill(0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[k - tLen - 1] = 0x00;
  em.set(SHA256_DIGEST_INFO, k - tLen);
  em.set(digest, k - digest.length);
  return em;
}

/** Byte length of a modulus. */
export function modulusBytes(n: bigint): number {
  return Math.ceil(n.toString(16).length / 2);
}

/** RSASSA-PKCS1-v1_5-VERIFY with SHA-256 on integers. */
export function rsaVerifySha256(n: bigint, e: bigint, signature: bigint, digest: Uint8Array): boolean {
  if (signature >= n) return false;
  const k = modulusBytes(n);
  const em = bigIntToBe(modPow(signature, e, n), k);
  return bytesEqual(em, emsaPkcs1Sha256(digest, k));
}

/** RSASSA-PKCS1-v1_5-SIGN with SHA-256 using the CRT form (RFC 8017 §5.1.2). Returns big-endian bytes. */
export function rsaSignSha256BigInt(key: RsaPrivateKey, digest: Uint8Array): Uint8Array {
  const k = modulusBytes(key.n);
  const m = beToBigInt(emsaPkcs1Sha256(digest, k));
  const m1 = modPow(m, key.dp, key.p);
  const m2 = modPow(m, key.dq, key.q);
  let h = ((m1 - m2) * key.qi) % key.p;
  if (h < 0n) h += key.p;
  return bigIntToBe(m2 + h * key.q, k);
}
