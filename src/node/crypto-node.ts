/** The Node fast path: node:crypto (OpenSSL) behind the same synchronous interface. The CLI injects it. */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  type Hash,
  privateEncrypt,
} from 'node:crypto';
import type { CryptoBackend, RsaPrivateKey, Sha256Hash } from '../hw/crypto/backend';
import { bigIntToBe } from '../hw/crypto/bytes';
import { cmacWith } from '../hw/crypto/cmac';
import { modulusBytes, SHA256_DIGEST_INFO } from '../hw/crypto/rsa';

class NodeSha256 implements Sha256Hash {
  constructor(private readonly h: Hash = createHash('sha256')) {}
  update(data: Uint8Array): this {
    this.h.update(data);
    return this;
  }
  digest(): Uint8Array {
    return new Uint8Array(this.h.digest());
  }
  clone(): Sha256Hash {
    return new NodeSha256(this.h.copy());
  }
}

function aesBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return new Uint8Array(c.update(block));
}

/**
 * A plain Uint8Array over a Buffer's bytes, without copying. Callers get Uint8Array semantics (slice() copies),
 * never a Buffer, whose slice() would alias.
 */
function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** update() output followed by final() output; GCM's final() is empty, so usually no copy at all. */
function joined(a: Buffer, b: Buffer): Uint8Array {
  return b.length === 0 ? view(a) : new Uint8Array(Buffer.concat([a, b]));
}

function b64url(x: bigint): string {
  return Buffer.from(bigIntToBe(x, Math.ceil(x.toString(16).length / 2))).toString('base64url');
}

/** RSASSA-PKCS1-v1_5: OpenSSL's private-key operation with PKCS#1 type-1 padding over the DigestInfo. */
function nodeRsaSign(key: RsaPrivateKey, digest: Uint8Array): Uint8Array {
  const k = createPrivateKey({
    key: {
      kty: 'RSA',
      n: b64url(key.n),
      e: b64url(key.e),
      d: b64url(key.d),
      p: b64url(key.p),
      q: b64url(key.q),
      dp: b64url(key.dp),
      dq: b64url(key.dq),
      qi: b64url(key.qi),
    },
    format: 'jwk',
  });
  const sig = privateEncrypt(
    { key: k, padding: constants.RSA_PKCS1_PADDING },
    Buffer.concat([SHA256_DIGEST_INFO, digest]),
  );
  if (sig.length !== modulusBytes(key.n)) throw new Error('unexpected signature length');
  return new Uint8Array(sig);
}

export const nodeBackend: CryptoBackend = {
  name: 'node',
  sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
  createSha256: () => new NodeSha256(),
  aes128EncryptBlock: aesBlock,
  aesCmac(key, msg) {
    // One cipher for the whole MAC: ECB with no padding encrypts each block independently.
    const c = createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    return cmacWith((b) => new Uint8Array(c.update(b)), msg);
  },
  aesGcmEncrypt(key, iv, plaintext, aad) {
    const c = createCipheriv('aes-128-gcm', key, iv);
    c.setAAD(aad);
    const ct = joined(c.update(plaintext), c.final());
    return { ciphertext: ct, tag: view(c.getAuthTag()) };
  },
  aesGcmDecrypt(key, iv, ciphertext, aad, tag) {
    const d = createDecipheriv('aes-128-gcm', key, iv);
    d.setAAD(aad);
    d.setAuthTag(tag);
    const pt = d.update(ciphertext);
    try {
      return joined(pt, d.final());
    } catch {
      return null;
    }
  },
  rsaSignSha256: nodeRsaSign,
};
