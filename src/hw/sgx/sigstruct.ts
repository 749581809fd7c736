/**
 * SIGSTRUCT signature arithmetic shared by EINIT (verification) and the SDK signer (signing):
 * the signed message, MRSIGNER, and the Q1/Q2 helper values (SDM Vol. 3D §38.13; Linux selftests sigstruct.c).
 *
 * The processor verifies without division: given Q1 = floor(S^2 / N) and Q2 = floor((S^3 - Q1*S*N) / N) from the
 * SIGSTRUCT, it checks that S^3 mod N equals the PKCS#1 v1.5 encoding. We compute the same quantities exactly, so a SIGSTRUCT with a
 * correct signature but wrong Q1/Q2 fails as it would on hardware (sgx-isa.md §11 item 2).
 */
import type { CryptoBackend } from '../crypto/backend';
import { bigIntToLe, leToBigInt } from '../crypto/bytes';
import { rsaVerifySha256 } from '../crypto/rsa';
import { getField, SIGSTRUCT, SIGSTRUCT_SIGNED_RANGES } from './layout/index';

export const SGX_MODULUS_SIZE = 384;

/** HEADER (bytes 0..127) ‖ BODY (bytes 900..1027): the 256 bytes the enclave signer signs. */
export function sigstructSignedMessage(sig: Uint8Array): Uint8Array {
  const out = new Uint8Array(256);
  let o = 0;
  for (const [a, b] of SIGSTRUCT_SIGNED_RANGES) {
    out.set(sig.subarray(a, b), o);
    o += b - a;
  }
  return out;
}

/** MRSIGNER = SHA-256 of the 384-byte little-endian MODULUS exactly as stored (SDM Vol. 3D §41.2 EINIT). */
export function computeMrSigner(crypto: CryptoBackend, sig: Uint8Array): Uint8Array {
  return crypto.sha256(getField(SIGSTRUCT, sig, 0, 'modulus'));
}

/** Q1 = floor(S^2 / N); Q2 = floor(((S^2 mod N) * S) / N) — the division-free verification helpers. */
export function computeQ1Q2(signature: bigint, modulus: bigint): { q1: bigint; q2: bigint } {
  const s2 = signature * signature;
  const q1 = s2 / modulus;
  const q2 = ((s2 % modulus) * signature) / modulus;
  return { q1, q2 };
}

export type SigstructVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'signature' | 'q1' | 'q2' };

/**
 * RSA-3072 PKCS#1 v1.5 SHA-256 verification of a SIGSTRUCT with exponent 3, plus the Q1/Q2 check.
 * The caller checks EXPONENT = 3 and the header constants first (those give SGX_INVALID_SIG_STRUCT).
 */
export function verifySigstructSignature(crypto: CryptoBackend, sig: Uint8Array): SigstructVerdict {
  const n = leToBigInt(getField(SIGSTRUCT, sig, 0, 'modulus'));
  const s = leToBigInt(getField(SIGSTRUCT, sig, 0, 'signature'));
  const digest = crypto.sha256(sigstructSignedMessage(sig));
  if (n === 0n || !rsaVerifySha256(n, 3n, s, digest)) return { ok: false, reason: 'signature' };
  const { q1, q2 } = computeQ1Q2(s, n);
  if (leToBigInt(getField(SIGSTRUCT, sig, 0, 'q1')) !== q1) return { ok: false, reason: 'q1' };
  if (leToBigInt(getField(SIGSTRUCT, sig, 0, 'q2')) !== q2) return { ok: false, reason: 'q2' };
  return { ok: true };
}

/** Little-endian 384-byte encodings for SIGSTRUCT fields. */
export function toSigstructInt(x: bigint): Uint8Array {
  return bigIntToLe(x, SGX_MODULUS_SIZE);
}
