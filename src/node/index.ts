// Node-only adapters (node:crypto, PEM files, enclave files): the CLI's way in.
export { nodeBackend } from './crypto-node';
export {
  DEMO_KEY_PATH,
  fileSigningKey,
  loadEnclaveFile,
  PREBUILT_ENCLAVES,
  readEnclaveElf,
  resolveEnclavePath,
} from './enclave-files';
export { generateSigningKeyPem, parseSigningKeyPem, readSigningKey } from './rsa-key';
