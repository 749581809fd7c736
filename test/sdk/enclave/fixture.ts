/** Fixtures for the SDK enclave tests: a booted platform running one host program, and the prebuilt enclaves. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sys } from '../../../src/kernel/index';
import { nodeBackend } from '../../../src/node/index';
import { bootPlatform, type Platform, type PlatformOptions } from '../../../src/vdso/index';

export const ROOT = join(__dirname, '../../..');
export const COMPUTE = new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/compute.elf')));
export const SEAL = new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/seal.elf')));

/** Boots a platform and runs `main` as its only host program to the end. @returns the platform. */
export async function runHost(
  main: (sys: Sys, p: Platform) => Promise<void>,
  o: Partial<PlatformOptions> = {},
): Promise<Platform> {
  const p = bootPlatform({ crypto: nodeBackend, epcPages: 256, seed: 'sdk', ...o });
  let failure: unknown;
  p.k.spawn(async (sys) => {
    try {
      await main(sys, p);
    } catch (e) {
      failure = e;
    }
    return 0;
  });
  const r = await p.k.run({ maxSteps: 5_000_000 });
  if (failure) throw failure;
  if (r.kind !== 'idle') throw new Error(`the run ended with ${r.kind}`);
  return p;
}

export const text = (s: string) => new TextEncoder().encode(s);
export const str = (b: Uint8Array) => new TextDecoder().decode(b);
