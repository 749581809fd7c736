import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  beToBigInt,
  type CryptoBackend,
  fromHex,
  nobleBackend,
  type RsaPrivateKey,
  rsaVerifySha256,
  toHex,
} from '../../../src/hw/index';
import { nodeBackend } from '../../../src/node/crypto-node';

const BACKENDS: CryptoBackend[] = [nobleBackend, nodeBackend];

// RFC 4493 §4 test vectors.
const K = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
const M = fromHex(
  '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
);
const CMAC_VECTORS: Array<[number, string]> = [
  [0, 'bb1d6929e95937287fa37d129b756746'],
  [16, '070a16b46b4d4144f79bdd9dd04a287c'],
  [40, 'dfa66747de9ae63030ca32611497c827'],
  [64, '51f0bebf7e3b9d92fc49741779363cfe'],
];

function b64uToBigInt(s: string): bigint {
  return beToBigInt(new Uint8Array(Buffer.from(s, 'base64url')));
}

function makeKey(): RsaPrivateKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
  const j = privateKey.export({ format: 'jwk' }) as Record<string, string>;
  return {
    n: b64uToBigInt(j.n!),
    e: b64uToBigInt(j.e!),
    d: b64uToBigInt(j.d!),
    p: b64uToBigInt(j.p!),
    q: b64uToBigInt(j.q!),
    dp: b64uToBigInt(j.dp!),
    dq: b64uToBigInt(j.dq!),
    qi: b64uToBigInt(j.qi!),
  };
}

describe.each(BACKENDS)('crypto backend $name', (b) => {
  it.each(CMAC_VECTORS)('AES-CMAC matches RFC 4493 for a %i-byte message', (len, mac) => {
    expect(toHex(b.aesCmac(K, M.subarray(0, len)))).toBe(mac);
  });

  it('SHA-256 matches FIPS 180-2 "abc"', () => {
    expect(toHex(b.sha256(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('clones a running SHA-256 without disturbing it', () => {
    const h = b.createSha256().update(Uint8Array.of(1, 2, 3));
    const c = h.clone();
    c.update(Uint8Array.of(4));
    expect(toHex(h.digest())).toBe(toHex(b.sha256(Uint8Array.of(1, 2, 3))));
    expect(toHex(c.digest())).toBe(toHex(b.sha256(Uint8Array.of(1, 2, 3, 4))));
  });

  it('AES-GCM rejects a flipped ciphertext bit', () => {
    const key = new Uint8Array(16).fill(7);
    const iv = new Uint8Array(12).fill(1);
    const s = b.aesGcmEncrypt(key, iv, new Uint8Array(4096).fill(0xaa), Uint8Array.of(1, 2));
    expect(b.aesGcmDecrypt(key, iv, s.ciphertext, Uint8Array.of(1, 2), s.tag)).toEqual(new Uint8Array(4096).fill(0xaa));
    const bad = s.ciphertext.slice();
    bad[100]! ^= 1;
    expect(b.aesGcmDecrypt(key, iv, bad, Uint8Array.of(1, 2), s.tag)).toBeNull();
    expect(b.aesGcmDecrypt(key, iv, s.ciphertext, Uint8Array.of(1, 3), s.tag)).toBeNull();
  });
});

describe('backends agree byte for byte', () => {
  const bytes = (max: number) => fc.uint8Array({ maxLength: max });
  const key16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const iv12 = fc.uint8Array({ minLength: 12, maxLength: 12 });

  it('on SHA-256 fed in random pieces', () => {
    fc.assert(
      fc.property(fc.array(bytes(300), { maxLength: 8 }), (parts) => {
        const [a, c] = [nobleBackend.createSha256(), nodeBackend.createSha256()];
        for (const p of parts) {
          a.update(p);
          c.update(p);
        }
        expect(toHex(a.digest())).toBe(toHex(c.digest()));
      }),
    );
  });

  it('on AES-CMAC', () => {
    fc.assert(
      fc.property(key16, bytes(200), (k, m) => {
        expect(nobleBackend.aesCmac(k, m)).toEqual(nodeBackend.aesCmac(k, m));
      }),
    );
  });

  it('on AES-128 blocks', () => {
    fc.assert(
      fc.property(key16, fc.uint8Array({ minLength: 16, maxLength: 16 }), (k, blk) => {
        expect(nobleBackend.aes128EncryptBlock(k, blk)).toEqual(nodeBackend.aes128EncryptBlock(k, blk));
      }),
    );
  });

  it('on AES-GCM', () => {
    fc.assert(
      fc.property(key16, iv12, bytes(600), bytes(64), (k, iv, pt, aad) => {
        const x = nobleBackend.aesGcmEncrypt(k, iv, pt, aad);
        const y = nodeBackend.aesGcmEncrypt(k, iv, pt, aad);
        expect(x.ciphertext).toEqual(y.ciphertext);
        expect(x.tag).toEqual(y.tag);
        expect(nobleBackend.aesGcmDecrypt(k, iv, y.ciphertext, aad, y.tag)).toEqual(pt);
      }),
    );
  });
});

describe('RSA-3072, e = 3', () => {
  const key = makeKey();
  const pub = createPublicKey({
    key: {
      kty: 'RSA',
      n: Buffer.from(key.n.toString(16).padStart(768, '0'), 'hex').toString('base64url'),
      e: 'Aw',
    },
    format: 'jwk',
  });

  it('both backends sign what node:crypto verifies, and BigInt verify agrees', () => {
    const msg = new TextEncoder().encode('sgxsim signed message');
    const digest = nobleBackend.sha256(msg);
    for (const b of BACKENDS) {
      const sig = b.rsaSignSha256(key, digest);
      expect(sig.length).toBe(384);
      expect(verify('sha256', msg, pub, sig), `${b.name} signature verifies in OpenSSL`).toBe(true);
      expect(rsaVerifySha256(key.n, 3n, beToBigInt(sig), digest)).toBe(true);
      const bad = sig.slice();
      bad[10]! ^= 1;
      expect(rsaVerifySha256(key.n, 3n, beToBigInt(bad), digest)).toBe(false);
    }
  });
});
