import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';

describe('sgxsim demo', () => {
  it('builds, measures, signs and initializes the sample enclave on the model', async () => {
    let out = '';
    const code = await main(['node', 'sgxsim', 'demo'], {
      stdout: (s) => void (out += s),
      stderr: (s) => void (out += s),
    });
    expect(code, out).toBe(0);
    expect(out).toContain('EINIT    SGX_SUCCESS');
    expect(out).toContain('(= offline measurement)');
    expect(out).toContain('(= SHA-256 of the modulus)');
    expect(out).not.toContain('MISMATCH');
    expect(out).toMatch(/EPC use: 11 of 2048 pages valid/);
  });
});
