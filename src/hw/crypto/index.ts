export type { CryptoBackend, GcmSealed, RsaPrivateKey, Sha256Hash } from './backend';
export * from './bytes';
export { cmacWith } from './cmac';
export { nobleBackend } from './noble';
export { emsaPkcs1Sha256, modPow, modulusBytes, rsaSignSha256BigInt, rsaVerifySha256, SHA256_DIGEST_INFO } from './rsa';
