/** The node-side inputs of the SDK loader: enclave files by path or prebuilt name, key providers, loadEnclaveFile. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/hw/index';
import {
  DEMO_KEY_PATH,
  fileSigningKey,
  loadEnclaveFile,
  PREBUILT_ENCLAVES,
  readSigningKey,
  resolveEnclavePath,
} from '../../src/node/index';
import { DEMO_SIGNING_KEY, SigningKeyError } from '../../src/sdk/index';
import { runHost } from '../sdk/enclave/fixture';

describe('enclave files', () => {
  it('resolves a path as given, and a prebuilt enclave by name with or without .elf', () => {
    const compute = join(PREBUILT_ENCLAVES, 'compute.elf');
    expect(resolveEnclavePath(compute)).toBe(compute);
    expect(resolveEnclavePath('compute')).toBe(compute);
    expect(resolveEnclavePath('compute.elf')).toBe(compute);
    expect(resolveEnclavePath('no-such-enclave')).toBeUndefined();
    expect(resolveEnclavePath('../prebuilt/compute')).toBeUndefined();
  });

  it('reads the key when first asked, once, and reports an unreadable key as SigningKeyError', () => {
    const p = fileSigningKey();
    expect(p()).toEqual(DEMO_SIGNING_KEY);
    expect(p()).toBe(p());
    expect(readSigningKey(DEMO_KEY_PATH)).toEqual(DEMO_SIGNING_KEY);
    expect(() => fileSigningKey('/nonexistent/key.pem')()).toThrow(SigningKeyError);
  });

  it('loads an enclave by name, as in the SDK example', async () => {
    let digest = '';
    await runHost(async (sys) => {
      const e = await loadEnclaveFile(sys, 'compute.elf', { tcs: 4 });
      expect(e.tcsCount).toBe(4);
      digest = toHex((await e.ecall('sha256', new TextEncoder().encode('abc'), 32)).out);
    });
    expect(digest).toBe(createHash('sha256').update('abc').digest('hex'));
  });
});
