import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli } from './run-cli';

const SAMPLE = join(__dirname, '../../enclaves/prebuilt/sample.elf');
const KEY = join(__dirname, '../fixtures/selftest-sign_key.pem');
const DIR = mkdtempSync(join(tmpdir(), 'sgxsim-cli-sigstruct-'));
const GOOD = join(DIR, 'good.sigstruct');

describe('sgxsim sigstruct', () => {
  beforeAll(async () => {
    const r = await runCli('sign', SAMPLE, '--key', KEY, '-o', GOOD, '--isvprodid', '7');
    expect(r.status, r.stderr).toBe(0);
  });

  it('dumps every field of a good SIGSTRUCT and calls it valid', async () => {
    const r = await runCli('sigstruct', GOOD);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^SIGSTRUCT \(1808 bytes\)\n/);
    expect(r.stdout).toContain('  isvprodid     0x0007 (7)\n');
    expect(r.stdout).toContain('  mrsigner      2f9f8fd4fe12d77232f1d87571ca8252ca27714efe7705e46222cffd5a22e8c4\n');
    expect(r.stdout).not.toContain('FAIL');
    expect(r.stdout).toMatch(/verdict: valid\n$/);
    expect(r.stderr).toBe('');
  });

  it('prints JSON whose ENCLAVEHASH is the MRENCLAVE sgxsim measure prints', async () => {
    const r = await runCli('sigstruct', GOOD, '--json');
    const m = await runCli('measure', SAMPLE, '--json');
    const j = JSON.parse(r.stdout);
    expect(j.valid).toBe(true);
    expect(j.fields.enclaveHash).toBe(JSON.parse(m.stdout).mrenclave);
    expect(j.fields.isvProdId).toBe(7);
    expect(j.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
  });

  it('prints a tampered SIGSTRUCT with the failed check marked, then fails with one line', async () => {
    const bad = new Uint8Array(readFileSync(GOOD));
    bad[1026] ^= 1; // ISVSVN, inside the signed body
    const path = join(DIR, 'bad.sigstruct');
    writeFileSync(path, bad);
    const r = await runCli('sigstruct', path);
    expect(r.stdout).toContain('[FAIL: does not verify against MODULUS]');
    expect(r.stdout).toMatch(/verdict: INVALID \(signature\)\n$/);
    expectOneLineError(r, `${path}: SIGSTRUCT does not verify (failed: signature)`);
  });

  it('fails with one line for a file that is not 1808 bytes, and for a missing file', async () => {
    expectOneLineError(
      await runCli('sigstruct', SAMPLE),
      `${SAMPLE}: a SIGSTRUCT is 1808 bytes, this is ${statSync(SAMPLE).size}`,
    );
    expectOneLineError(await runCli('sigstruct', join(DIR, 'none')), `${join(DIR, 'none')}: no such file`);
  });
});
