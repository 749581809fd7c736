// Node-only adapters (node:crypto, PEM files): the CLI's way in.
export { nodeBackend } from './crypto-node';
export { generateSigningKeyPem, parseSigningKeyPem, readSigningKey } from './rsa-key';
