/**
 * Node-side inputs of the SDK loader: enclave ELF files (a path, or the name of a prebuilt enclave such as
 * "compute" or "compute.elf") and signing-key providers that read a PEM file when the loader asks for the key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RsaPrivateKey } from '../hw/index';
import type { Sys } from '../kernel/index';
import { type Enclave, type LoadEnclaveOptions, loadEnclave } from '../sdk/index';
import { nodeBackend } from './crypto-node';
import { readSigningKey } from './rsa-key';

/** The repository root (src/node/ is two levels down). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** enclaves/prebuilt, where `sgxsim` finds the enclaves it names. */
export const PREBUILT_ENCLAVES = join(ROOT, 'enclaves/prebuilt');

/** enclaves/keys/demo-key.pem: the key the SDK signs with by default. */
export const DEMO_KEY_PATH = join(ROOT, 'enclaves/keys/demo-key.pem');

/**
 * Where an enclave argument points: an existing path as given, else a prebuilt enclave by name ("compute",
 * "compute.elf"); undefined when neither exists.
 */
export function resolveEnclavePath(nameOrPath: string): string | undefined {
  if (existsSync(nameOrPath)) return nameOrPath;
  const name = nameOrPath.endsWith('.elf') ? nameOrPath : `${nameOrPath}.elf`;
  if (/^[\w.-]+$/.test(name) && existsSync(join(PREBUILT_ENCLAVES, name))) return join(PREBUILT_ENCLAVES, name);
  return undefined;
}

/** The bytes of an enclave ELF named by path or prebuilt name. @throws Error (ENOENT) when there is none. */
export function readEnclaveElf(nameOrPath: string): Uint8Array {
  const path = resolveEnclavePath(nameOrPath) ?? nameOrPath;
  return new Uint8Array(readFileSync(path));
}

/** A key provider for `loadEnclave({ key })`: reads and checks the PEM file the first time it is asked. */
export function fileSigningKey(path: string = DEMO_KEY_PATH): () => RsaPrivateKey {
  let key: RsaPrivateKey | undefined;
  return () => {
    key ??= readSigningKey(path);
    return key;
  };
}

/**
 * `loadEnclave()` from a file: the ELF by path or prebuilt name, node:crypto for hashing and signing, and (unless
 * `key` or `sigstruct` says otherwise) the demo key read from enclaves/keys/demo-key.pem.
 * @throws Error (ENOENT) for a missing file, and whatever loadEnclave() throws.
 */
export function loadEnclaveFile(sys: Sys, nameOrPath: string, o: LoadEnclaveOptions = {}): Promise<Enclave> {
  return loadEnclave(sys, readEnclaveElf(nameOrPath), {
    crypto: nodeBackend,
    ...(o.sigstruct ? {} : { key: fileSigningKey() }),
    ...o,
  });
}
