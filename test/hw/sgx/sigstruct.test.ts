import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  computeMrSigner,
  fromHex,
  nobleBackend,
  sigstructSignedMessage,
  toHex,
  verifySigstructSignature,
} from '../../../src/hw/index';

const PEM = readFileSync(join(__dirname, '../../fixtures/selftest-sign_key.pem'), 'utf8');

/** Builds the §7.3 SIGSTRUCT byte by byte with node:crypto doing the RSA, independently of src/. */
function buildVectorSigstruct(): Uint8Array {
  const key = createPrivateKey(PEM);
  const jwk = key.export({ format: 'jwk' }) as { n: string };
  const nBe = Buffer.from(jwk.n, 'base64url');
  const n = BigInt(`0x${nBe.toString('hex')}`);
  const s = new Uint8Array(1808);
  const dv = new DataView(s.buffer);
  s.set(fromHex('06000000E10000000000010000000000'), 0);
  dv.setUint32(16, 0, true);
  dv.setUint32(20, 0x20240131, true);
  s.set(fromHex('01010000600000006000000001000000'), 24);
  s.set(Uint8Array.from(nBe).reverse(), 128);
  dv.setUint32(512, 3, true);
  dv.setBigUint64(928, 0x4n, true);
  dv.setBigUint64(936, 0x3n, true);
  dv.setBigUint64(944, 0xffffffffffffffffn, true);
  dv.setBigUint64(952, 0xfffffffffffffffbn, true);
  s.set(fromHex('d8c33a61ea1d7a61c4ebb0050f4221cafd1b27c66e9b7eaa8ed10b597b3d2430'), 960);
  dv.setUint16(1024, 0x1234, true);
  dv.setUint16(1026, 5, true);
  const msg = Buffer.concat([s.subarray(0, 128), s.subarray(900, 1028)]);
  const sigBe = sign('sha256', msg, key);
  const sig = BigInt(`0x${sigBe.toString('hex')}`);
  const q1 = (sig * sig) / n;
  const q2 = (sig * sig * sig - q1 * sig * n) / n;
  const le = (x: bigint) => Uint8Array.from(Buffer.from(x.toString(16).padStart(768, '0'), 'hex')).reverse();
  s.set(Uint8Array.from(sigBe).reverse(), 516);
  s.set(le(q1), 1040);
  s.set(le(q2), 1424);
  return s;
}

describe('SIGSTRUCT verification', () => {
  const s = buildVectorSigstruct();

  it('reproduces the sgx-isa.md §7.3 vector', () => {
    expect(toHex(nobleBackend.sha256(sigstructSignedMessage(s)))).toBe(
      'ed685d8ada95ccd86091125bc82cffae470427a59d2cbf2ab310fc69f37da7dd',
    );
    expect(toHex(s.subarray(516, 532))).toBe('e404d58c4235e22323740344386cc5c2');
    expect(toHex(s.subarray(1040, 1056))).toBe('daa72ed6ed60035c045993805c59a69d');
    expect(toHex(s.subarray(1424, 1440))).toBe('d73ecb91cd816f95805fe768dacaa207');
    expect(toHex(nobleBackend.sha256(s))).toBe('861b91e7a496157d240cf2f89a2d5bde0903fb9f81bf0ce3ea055c9d22771038');
  });

  it('computes MRSIGNER as SHA-256 of the little-endian modulus', () => {
    expect(toHex(computeMrSigner(nobleBackend, s))).toBe(
      '2f9f8fd4fe12d77232f1d87571ca8252ca27714efe7705e46222cffd5a22e8c4',
    );
  });

  it('accepts the node:crypto signature and refuses a tampered body, Q1 or Q2', () => {
    expect(verifySigstructSignature(nobleBackend, s)).toEqual({ ok: true });
    const body = s.slice();
    body[1026] = 6;
    expect(verifySigstructSignature(nobleBackend, body)).toEqual({ ok: false, reason: 'signature' });
    const q1 = s.slice();
    q1[1040]! ^= 1;
    expect(verifySigstructSignature(nobleBackend, q1)).toEqual({ ok: false, reason: 'q1' });
    const q2 = s.slice();
    q2[1424]! ^= 1;
    expect(verifySigstructSignature(nobleBackend, q2)).toEqual({ ok: false, reason: 'q2' });
    // Unsigned fields (reserved4) do not affect the signature.
    const unsigned = s.slice();
    unsigned[1030] = 1;
    expect(verifySigstructSignature(nobleBackend, unsigned)).toEqual({ ok: true });
  });
});
