import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTool } from '../util/native';
import { expectOneLineError, runCli } from './run-cli';

const SAMPLE = join(__dirname, '../../enclaves/prebuilt/sample.elf');
const KEY = join(__dirname, '../fixtures/selftest-sign_key.pem');
const ORACLE = join(__dirname, '../sdk/layout/selftest-measure.py');
const MRSIGNER = '2f9f8fd4fe12d77232f1d87571ca8252ca27714efe7705e46222cffd5a22e8c4';
const DIR = mkdtempSync(join(tmpdir(), 'sgxsim-cli-sign-'));
const out = (name: string) => join(DIR, name);

function oracleMrenclave(heap: number): string {
  return runTool('python3', [ORACLE, SAMPLE, String(heap)])
    .toString()
    .split(' ')[0]!;
}

/** openssl's verdict on a SIGSTRUCT's signature, with the public key taken from the PEM. */
function opensslVerifies(sigstruct: Uint8Array): boolean {
  const pub = out('pub.pem');
  execFileSync('openssl', ['rsa', '-in', KEY, '-pubout', '-out', pub], { stdio: 'ignore' });
  writeFileSync(out('msg'), Buffer.concat([sigstruct.subarray(0, 128), sigstruct.subarray(900, 1028)]));
  writeFileSync(out('sig'), Uint8Array.from(sigstruct.subarray(516, 900)).reverse());
  try {
    execFileSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', out('sig'), out('msg')]);
    return true;
  } catch {
    return false;
  }
}

function writeKey(name: string, pem: string | Buffer): string {
  writeFileSync(out(name), pem);
  return out(name);
}

describe('sgxsim sign', () => {
  it('writes a 1808-byte SIGSTRUCT for the enclave’s MRENCLAVE that openssl verifies, and prints both hashes', async () => {
    const r = await runCli('sign', SAMPLE, '--key', KEY, '-o', out('a.sigstruct'));
    expect(r.status, r.stderr).toBe(0);
    const sig = new Uint8Array(readFileSync(out('a.sigstruct')));
    const mrenclave = oracleMrenclave(4096);
    expect(sig.length).toBe(1808);
    expect(Buffer.from(sig.subarray(960, 992)).toString('hex'), 'ENCLAVEHASH').toBe(mrenclave);
    expect(opensslVerifies(sig), 'openssl dgst -verify').toBe(true);
    expect(r.stdout).toBe(
      `wrote ${out('a.sigstruct')} (1808 bytes)\nMRENCLAVE  ${mrenclave}\nMRSIGNER   ${MRSIGNER}\n`,
    );
  });

  it('puts --date, --isvprodid and --isvsvn into the signed body, and measures with --heap', async () => {
    const r = await runCli(
      'sign',
      SAMPLE,
      '--key',
      KEY,
      '-o',
      out('b.sigstruct'),
      '--json',
      '--heap',
      '16k',
      '--date',
      '2024-01-31',
      '--isvprodid',
      '0x1234',
      '--isvsvn',
      '5',
    );
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toEqual({
      file: SAMPLE,
      output: out('b.sigstruct'),
      mrenclave: oracleMrenclave(16384),
      mrsigner: MRSIGNER,
      size: 0x10000,
    });
    const dv = new DataView(new Uint8Array(readFileSync(out('b.sigstruct'))).buffer);
    expect([dv.getUint32(20, true), dv.getUint16(1024, true), dv.getUint16(1026, true)]).toEqual([
      0x20240131, 0x1234, 5,
    ]);
  });

  it('refuses to overwrite an existing output file and leaves it as it was, unless --force', async () => {
    writeFileSync(out('keep.sigstruct'), 'precious');
    const r = await runCli('sign', SAMPLE, '--key', KEY, '-o', out('keep.sigstruct'));
    expectOneLineError(r, `${out('keep.sigstruct')}: already exists (use --force to overwrite it)`);
    expect(readFileSync(out('keep.sigstruct'), 'utf8')).toBe('precious');
    const f = await runCli('sign', SAMPLE, '--key', KEY, '-o', out('keep.sigstruct'), '--force');
    expect(f.status, f.stderr).toBe(0);
    expect(readFileSync(out('keep.sigstruct')).length).toBe(1808);
  });

  const ec = () =>
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const rsa2048 = () =>
    generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey.export({
      type: 'pkcs1',
      format: 'pem',
    });
  const e65537 = () => {
    const jwk = createPrivateKey(readFileSync(KEY)).export({ format: 'jwk' });
    return createPrivateKey({ key: { ...jwk, e: 'AQAB' }, format: 'jwk' }).export({ type: 'pkcs1', format: 'pem' });
  };
  const errors: Array<[string, () => string[], (p: string) => string]> = [
    ['a missing key file', () => ['--key', out('none.pem')], () => `${out('none.pem')}: no such file`],
    [
      'a key file that is not PEM',
      () => ['--key', SAMPLE],
      () => `${SAMPLE}: not a PEM private key (no PEM "PRIVATE KEY" block found)`,
    ],
    [
      'an EC key',
      () => ['--key', writeKey('ec.pem', ec() as string)],
      (p) => `${p}: the key is ec, not RSA; SIGSTRUCT needs an RSA-3072 key with exponent 3`,
    ],
    [
      'an RSA-2048 key',
      () => ['--key', writeKey('2048.pem', rsa2048() as string)],
      (p) => `${p}: the RSA modulus has 2048 bits; SIGSTRUCT needs exactly 3072`,
    ],
    [
      'a key with exponent 65537',
      () => ['--key', writeKey('e65537.pem', e65537() as string)],
      (p) => `${p}: the RSA public exponent is 65537; SIGSTRUCT needs exponent 3`,
    ],
    ['no --key', () => [], () => "required option '--key <key.pem>' not specified"],
    [
      'an ISVSVN over 16 bits',
      () => ['--key', KEY, '--isvsvn', '70000'],
      () => "option '--isvsvn <n>' argument '70000' is invalid. Expected an integer from 0 to 65535.",
    ],
    [
      'a date that does not exist',
      () => ['--key', KEY, '--date', '20241301'],
      () => "option '--date <yyyymmdd>' argument '20241301' is invalid. 20241301 is not a calendar date.",
    ],
  ];
  for (const [what, extra, message] of errors) {
    it(`fails with one line, status 1 and no output file for ${what}`, async () => {
      const target = out(`err-${what.replace(/\W+/g, '-')}.sigstruct`);
      const args = extra();
      const keyPath = args[args.indexOf('--key') + 1] ?? '';
      const r = await runCli('sign', SAMPLE, '-o', target, ...args);
      expectOneLineError(r, message(keyPath));
      expect(() => readFileSync(target), 'no output file').toThrow(/ENOENT/);
    });
  }

  it('fails with one line when the output directory does not exist', async () => {
    const r = await runCli('sign', SAMPLE, '--key', KEY, '-o', join(DIR, 'no/such/dir/x.sigstruct'));
    expectOneLineError(r, `${join(DIR, 'no/such/dir/x.sigstruct')}: cannot write (no such directory)`);
  });

  it('fails with one line for an enclave file that is not an ELF', async () => {
    const r = await runCli('sign', KEY, '--key', KEY, '-o', out('c.sigstruct'));
    expectOneLineError(r, `${KEY}: not an ELF file (bad magic)`);
  });
});
