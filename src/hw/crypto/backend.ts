/**
 * The synchronous crypto interface of the core (DESIGN.md §2 "Crypto"). Everything in hw, kernel and driver
 * hashes, MACs and encrypts through one of these, so the browser build (noble) and the Node fast path
 * (node:crypto) give byte-identical results.
 */

/** An incremental SHA-256. `clone()` forks the running state (used by EINIT to finalize a copy of MRENCLAVE). */
export interface Sha256Hash {
  update(data: Uint8Array): this;
  digest(): Uint8Array;
  clone(): Sha256Hash;
}

/** An RSA private key as integers (the JWK/PKCS#1 fields). */
export interface RsaPrivateKey {
  readonly n: bigint;
  readonly e: bigint;
  readonly d: bigint;
  readonly p: bigint;
  readonly q: bigint;
  readonly dp: bigint;
  readonly dq: bigint;
  readonly qi: bigint;
}

export interface GcmSealed {
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
}

export interface CryptoBackend {
  readonly name: string;
  sha256(data: Uint8Array): Uint8Array;
  createSha256(): Sha256Hash;
  /** AES-128 encryption of one 16-byte block. */
  aes128EncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array;
  /** AES-128-CMAC (RFC 4493). */
  aesCmac(key: Uint8Array, msg: Uint8Array): Uint8Array;
  /** AES-128-GCM with a 12-byte IV and a 16-byte tag. */
  aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): GcmSealed;
  /** Returns the plaintext, or null when the tag does not verify. */
  aesGcmDecrypt(
    key: Uint8Array,
    iv: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array | null;
  /** RSASSA-PKCS1-v1_5 with SHA-256: the big-endian signature over a 32-byte digest. */
  rsaSignSha256(key: RsaPrivateKey, digest: Uint8Array): Uint8Array;
}
