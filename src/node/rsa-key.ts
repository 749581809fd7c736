/**
 * Enclave signing keys on Node: PEM files in and out, through node:crypto (OpenSSL). The core signer takes an
 * `RsaPrivateKey` of bigints; this turns a PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") PEM into one
 * via a JWK export, and makes new RSA-3072 keys with public exponent 3 as SIGSTRUCT requires (the same kind of
 * key as the Linux selftests' sign_key.pem, or `openssl genrsa -3 3072`).
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beToBigInt, type RsaPrivateKey } from '../hw/index';
import { checkSigningKey, SigningKeyError } from '../sdk/index';

function b64uToBigInt(s: string | undefined): bigint {
  return beToBigInt(new Uint8Array(Buffer.from(s ?? '', 'base64url')));
}

function decodePem(pem: string): KeyObject {
  if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(pem))
    throw new SigningKeyError({ kind: 'not-a-private-key', detail: 'it is a public key' });
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(pem))
    throw new SigningKeyError({ kind: 'encrypted' });
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new SigningKeyError({ kind: 'not-a-private-key', detail: 'no PEM "PRIVATE KEY" block found' });
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new SigningKeyError(
      { kind: 'not-a-private-key', detail: 'OpenSSL cannot decode the PEM block' },
      { cause: e },
    );
  }
}

/**
 * Parses a PEM private key and checks that it can sign a SIGSTRUCT.
 * @returns the key as integers.
 * @throws SigningKeyError `not-a-private-key`, `encrypted`, `not-rsa`, `modulus-size`, `exponent` or `inconsistent`.
 */
export function parseSigningKeyPem(pem: string): RsaPrivateKey {
  const key = decodePem(pem);
  // RSA-PSS keys are RSA too, but restricted to PSS signatures; SIGSTRUCT needs PKCS#1 v1.5.
  if (key.asymmetricKeyType !== 'rsa')
    throw new SigningKeyError({ kind: 'not-rsa', keyType: key.asymmetricKeyType ?? 'unknown' });
  const j = key.export({ format: 'jwk' });
  const rsa: RsaPrivateKey = {
    n: b64uToBigInt(j.n),
    e: b64uToBigInt(j.e),
    d: b64uToBigInt(j.d),
    p: b64uToBigInt(j.p),
    q: b64uToBigInt(j.q),
    dp: b64uToBigInt(j.dp),
    dq: b64uToBigInt(j.dq),
    qi: b64uToBigInt(j.qi),
  };
  checkSigningKey(rsa);
  return rsa;
}

/**
 * Reads and parses a PEM signing key file.
 * @throws SigningKeyError `read` when the file cannot be read, otherwise as {@link parseSigningKeyPem}.
 */
export function readSigningKey(path: string): RsaPrivateKey {
  let pem: string;
  try {
    pem = readFileSync(path, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (code ?? 'unreadable');
    throw new SigningKeyError({ kind: 'read', detail: `cannot read ${path}: ${why}` }, { cause: e });
  }
  return parseSigningKeyPem(pem);
}

/** A fresh RSA-3072 key with public exponent 3, as a PKCS#1 PEM ("RSA PRIVATE KEY", like sign_key.pem). */
export function generateSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
}
