import { describe, expect, it } from 'vitest';
import { loadEnclave } from '../../../src/cli/sgx-load';
import { Libc } from '../../../src/kernel/index';
import { makeSgxSystem, sampleEnclave } from '../fixtures/sgx-system';

describe('smoke', () => {
  it('builds the sample enclave', async () => {
    const { k, sgx, m } = makeSgxSystem();
    const { layout, sigstruct } = sampleEnclave();
    const out: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await loadEnclave(sys, libc, { layout, sigstruct });
      const b = await sys.load(e.base, 8);
      out.push(Array.from(b).join(','));
      return 0;
    });
    const r = await k.run({ maxSteps: 100000 });
    console.log(r, out, sgx.dmesg, sgx.nrFreePages, m.epcm.validCount, sgx.stats);
    expect(out.length).toBe(1);
  });
});
