/** The default, isomorphic backend: @noble/hashes and @noble/ciphers. */
import { cmac, ecb, gcm } from '@noble/ciphers/aes.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { CryptoBackend, RsaPrivateKey, Sha256Hash } from './backend';
import { concatBytes } from './bytes';
import { rsaSignSha256BigInt } from './rsa';

type NobleHash = ReturnType<typeof sha256.create>;

class NobleSha256 implements Sha256Hash {
  constructor(private readonly h: NobleHash = sha256.create()) {}
  update(data: Uint8Array): this {
    this.h.update(data);
    return this;
  }
  digest(): Uint8Array {
    return this.h.digest();
  }
  clone(): Sha256Hash {
    return new NobleSha256(this.h.clone());
  }
}

export const nobleBackend: CryptoBackend = {
  name: 'noble',
  sha256: (data) => sha256(data),
  createSha256: () => new NobleSha256(),
  aes128EncryptBlock: (key, block) => ecb(key, { disablePadding: true }).encrypt(block),
  aesCmac: (key, msg) => cmac(msg, key),
  aesGcmEncrypt(key, iv, plaintext, aad) {
    const out = gcm(key, iv, aad).encrypt(plaintext);
    return { ciphertext: out.slice(0, plaintext.length), tag: out.slice(plaintext.length) };
  },
  aesGcmDecrypt(key, iv, ciphertext, aad, tag) {
    try {
      return gcm(key, iv, aad).decrypt(concatBytes(ciphertext, tag));
    } catch {
      // noble throws on a tag mismatch; the interface reports it as null.
      return null;
    }
  },
  rsaSignSha256: (key: RsaPrivateKey, digest) => rsaSignSha256BigInt(key, digest),
};
