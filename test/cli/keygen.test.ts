import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineError, runCli } from './run-cli';

const DIR = mkdtempSync(join(tmpdir(), 'sgxsim-cli-keygen-'));

/** MRSIGNER from openssl's reading of the key: SHA-256 of the modulus, little-endian, 384 bytes. */
function opensslMrSigner(path: string): string {
  const hex = execFileSync('openssl', ['rsa', '-in', path, '-noout', '-modulus'])
    .toString()
    .trim()
    .replace(/^Modulus=/, '');
  return createHash('sha256')
    .update(Buffer.from(hex.padStart(768, '0'), 'hex').reverse())
    .digest('hex');
}

describe('sgxsim keygen', () => {
  it('writes an RSA-3072 e=3 key, readable only by its owner, and prints its MRSIGNER', async () => {
    const path = join(DIR, 'k.pem');
    const r = await runCli('keygen', path);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(path).mode & 0o777, 'file mode').toBe(0o600);
    const text = execFileSync('openssl', ['rsa', '-in', path, '-noout', '-text', '-check']).toString();
    expect(text).toContain('Private-Key: (3072 bit, 2 primes)');
    expect(text).toContain('publicExponent: 3 (0x3)');
    expect(text).toContain('RSA key ok');
    expect(r.stdout).toBe(`wrote ${path} (RSA-3072, exponent 3)\nMRSIGNER   ${opensslMrSigner(path)}\n`);
  });

  it('refuses to overwrite an existing file and leaves it as it was; --force replaces it', async () => {
    const path = join(DIR, 'existing.pem');
    writeFileSync(path, 'keep me');
    expectOneLineError(await runCli('keygen', path), `${path}: already exists (use --force to overwrite it)`);
    expect(readFileSync(path, 'utf8')).toBe('keep me');
    const f = await runCli('keygen', path, '--force');
    expect(f.status, f.stderr).toBe(0);
    expect(readFileSync(path, 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
  });

  it('fails with one line when the directory does not exist', async () => {
    const path = join(DIR, 'missing/k.pem');
    expectOneLineError(await runCli('keygen', path), `${path}: cannot write (no such directory)`);
  });
});
