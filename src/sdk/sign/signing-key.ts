import { type CryptoBackend, type RsaPrivateKey, SGX_MODULUS_SIZE, toSigstructInt } from '../../hw/index';
import { SigningKeyError } from '../errors/index';

/** SIGSTRUCT carries a 3072-bit modulus and EINIT verifies with exponent 3 (SDM Vol. 3D §38.13, §41.2 EINIT). */
export const SIGSTRUCT_MODULUS_BITS = SGX_MODULUS_SIZE * 8;
export const SIGSTRUCT_EXPONENT = 3n;

/**
 * Checks that a private key can sign a SIGSTRUCT: RSA with a modulus of exactly 3072 bits, public exponent 3,
 * and primes that multiply to the modulus.
 * @throws SigningKeyError `modulus-size`, `exponent` or `inconsistent`.
 */
export function checkSigningKey(key: RsaPrivateKey): void {
  const bits = key.n > 0n ? key.n.toString(2).length : 0;
  if (bits !== SIGSTRUCT_MODULUS_BITS) throw new SigningKeyError({ kind: 'modulus-size', bits });
  if (key.e !== SIGSTRUCT_EXPONENT) throw new SigningKeyError({ kind: 'exponent', exponent: key.e.toString() });
  if (key.p * key.q !== key.n) throw new SigningKeyError({ kind: 'inconsistent' });
}

/** MRSIGNER of a key: SHA-256 of its modulus as SIGSTRUCT stores it, 384 bytes little-endian (SDM EINIT). */
export function mrSignerOfKey(crypto: CryptoBackend, n: bigint): Uint8Array {
  return crypto.sha256(toSigstructInt(n));
}
