import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPem, parseSigningKeyPem, readSigningKey } from '../../src/node/rsa-key';
import { SigningKeyError } from '../../src/sdk/index';

const PEM_PATH = join(__dirname, '../fixtures/selftest-sign_key.pem');
const PEM = readFileSync(PEM_PATH, 'utf8');
const DIR = mkdtempSync(join(tmpdir(), 'sgxsim-key-'));

/** The modulus as `openssl rsa -noout -modulus` prints it: an independent reading of the PEM. */
function opensslModulus(path: string): bigint {
  const out = execFileSync('openssl', ['rsa', '-in', path, '-noout', '-modulus']).toString().trim();
  return BigInt(`0x${out.replace(/^Modulus=/, '')}`);
}

function problem(f: () => unknown): SigningKeyError {
  try {
    f();
  } catch (e) {
    expect(e, 'a SigningKeyError').toBeInstanceOf(SigningKeyError);
    expect((e as Error).message, 'a one-line message').not.toContain('\n');
    return e as SigningKeyError;
  }
  throw new Error('expected a SigningKeyError, got no error');
}

describe('parseSigningKeyPem', () => {
  it('reads the PKCS#1 selftest key with the modulus openssl reports, exponent 3 and consistent CRT values', () => {
    const k = parseSigningKeyPem(PEM);
    expect(k.n).toBe(opensslModulus(PEM_PATH));
    expect(k.e).toBe(3n);
    expect(k.p * k.q).toBe(k.n);
    expect((k.d * k.e) % (((k.p - 1n) * (k.q - 1n)) / gcd(k.p - 1n, k.q - 1n))).toBe(1n);
  });

  it('reads the same key from a PKCS#8 PEM made by openssl', () => {
    const pkcs8 = execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', PEM_PATH]).toString();
    expect(pkcs8).toContain('-----BEGIN PRIVATE KEY-----');
    expect(parseSigningKeyPem(pkcs8)).toEqual(parseSigningKeyPem(PEM));
  });

  it('refuses a public key, naming it', () => {
    const spki = execFileSync('openssl', ['rsa', '-in', PEM_PATH, '-pubout']).toString();
    const e = problem(() => parseSigningKeyPem(spki));
    expect(e.data.kind).toBe('not-a-private-key');
    expect(e.message).toBe('not a PEM private key (it is a public key)');
  });

  it('refuses an encrypted key', () => {
    const enc = createPrivateKey(PEM).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-128-cbc',
      passphrase: 'secret',
    }) as string;
    expect(problem(() => parseSigningKeyPem(enc)).data.kind).toBe('encrypted');
  });

  it('refuses text that holds no PEM key, and a PEM block OpenSSL cannot decode', () => {
    expect(problem(() => parseSigningKeyPem('hello\n')).message).toBe(
      'not a PEM private key (no PEM "PRIVATE KEY" block found)',
    );
    const broken = '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n';
    expect(problem(() => parseSigningKeyPem(broken)).message).toBe(
      'not a PEM private key (OpenSSL cannot decode the PEM block)',
    );
  });

  it('refuses an EC key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const e = problem(() => parseSigningKeyPem(ec as string));
    expect(e.data).toEqual({ kind: 'not-rsa', keyType: 'ec' });
  });

  it('refuses an RSA-2048 key for its size', () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey;
    const e = problem(() => parseSigningKeyPem(k.export({ type: 'pkcs1', format: 'pem' }) as string));
    expect(e.data).toEqual({ kind: 'modulus-size', bits: 2048 });
    expect(e.message).toBe('the RSA modulus has 2048 bits; SIGSTRUCT needs exactly 3072');
  });

  it('refuses a 3072-bit key whose public exponent is not 3', () => {
    // The selftest key's numbers with e = 65537: OpenSSL stores it without checking, we must refuse it.
    const jwk = createPrivateKey(PEM).export({ format: 'jwk' });
    const pem = createPrivateKey({ key: { ...jwk, e: 'AQAB' }, format: 'jwk' }).export({
      type: 'pkcs1',
      format: 'pem',
    });
    const e = problem(() => parseSigningKeyPem(pem as string));
    expect(e.data).toEqual({ kind: 'exponent', exponent: '65537' });
  });
});

describe('readSigningKey', () => {
  it('reads a key file', () => {
    expect(readSigningKey(PEM_PATH).n).toBe(opensslModulus(PEM_PATH));
  });

  it('names a missing file and a directory', () => {
    expect(problem(() => readSigningKey(join(DIR, 'nope.pem'))).message).toBe(
      `cannot read ${join(DIR, 'nope.pem')}: no such file`,
    );
    expect(problem(() => readSigningKey(DIR)).message).toBe(`cannot read ${DIR}: it is a directory`);
  });
});

describe('generateSigningKeyPem', () => {
  it('makes a PKCS#1 RSA-3072 key with exponent 3 that openssl checks as valid', () => {
    const pem = generateSigningKeyPem();
    expect(pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    const path = join(DIR, 'new.pem');
    writeFileSync(path, pem);
    expect(execFileSync('openssl', ['rsa', '-in', path, '-check', '-noout']).toString()).toContain('RSA key ok');
    const text = execFileSync('openssl', ['rsa', '-in', path, '-noout', '-text']).toString();
    expect(text).toContain('Private-Key: (3072 bit, 2 primes)');
    expect(text).toContain('publicExponent: 3 (0x3)');
    expect(parseSigningKeyPem(pem).n).toBe(opensslModulus(path));
  });
});

function gcd(a: bigint, b: bigint): bigint {
  return b === 0n ? a : gcd(b, a % b);
}
