import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex, nobleBackend, toHex } from '../../../src/hw/index';
import { parseSigningKeyPem } from '../../../src/node/rsa-key';
import {
  attributeNames,
  formatSigstruct,
  inspectSigstruct,
  SigstructError,
  signSigstruct,
  sigstructToJson,
} from '../../../src/sdk/index';

const KEY = parseSigningKeyPem(readFileSync(join(__dirname, '../../fixtures/selftest-sign_key.pem'), 'utf8'));
const HASH = fromHex('d8c33a61ea1d7a61c4ebb0050f4221cafd1b27c66e9b7eaa8ed10b597b3d2430');
const SIG = signSigstruct(nobleBackend, KEY, { enclaveHash: HASH, date: 0x20240131, isvProdId: 0x1234, isvSvn: 5 });

function tampered(offset: number, value: number): Uint8Array {
  const s = SIG.slice();
  s[offset] = value;
  return s;
}

describe('inspectSigstruct', () => {
  it('decodes a signed SIGSTRUCT and passes every check', () => {
    const info = inspectSigstruct(nobleBackend, SIG);
    expect(info.valid).toBe(true);
    expect(info.checks.map((c) => c.name)).toEqual([
      'header',
      'vendor',
      'header2',
      'exponent',
      'reserved',
      'signature',
      'q1',
      'q2',
    ]);
    expect(toHex(info.fields.enclaveHash)).toBe(toHex(HASH));
    expect([info.fields.isvProdId, info.fields.isvSvn, info.fields.date]).toEqual([0x1234, 5, 0x20240131]);
    expect(info.modulusBits).toBe(3072);
    expect(toHex(info.mrSigner)).toBe('2f9f8fd4fe12d77232f1d87571ca8252ca27714efe7705e46222cffd5a22e8c4');
  });

  // Each row: a byte EINIT checks, and the single check that must fail because of it.
  const cases: Array<[string, number, number, string]> = [
    ['a HEADER byte', 0, 0x07, 'header'],
    ['the TYPE dword inside HEADER (debug bit)', 15, 0x80, 'header'],
    ['a vendor of 1', 16, 0x01, 'vendor'],
    ['a HEADER2 byte', 24, 0x02, 'header2'],
    ['exponent 65537', 512, 0x01, 'exponent'],
    ['a reserved byte outside the signed ranges', 1030, 0x01, 'reserved'],
    ['a signed BODY byte (ISVSVN)', 1026, 0x06, 'signature'],
    ['a Q1 byte', 1040, SIG[1040]! ^ 1, 'q1'],
    ['a Q2 byte', 1424, SIG[1424]! ^ 1, 'q2'],
  ];
  for (const [what, offset, value, check] of cases) {
    it(`fails the ${check} check after changing ${what}`, () => {
      const info = inspectSigstruct(nobleBackend, tampered(offset, value));
      const failed = info.checks.filter((c) => !c.ok).map((c) => c.name);
      // Header, vendor and HEADER2 are signed too, so changing them also breaks the signature.
      const alsoSigned = offset < 128 ? ['signature'] : [];
      expect(failed, `failed checks after changing ${what}`).toEqual([check, ...alsoSigned]);
      expect(info.valid).toBe(false);
    });
  }

  it('refuses bytes that are not 1808 long with a SigstructError', () => {
    expect(() => inspectSigstruct(nobleBackend, SIG.subarray(0, 1807))).toThrow(SigstructError);
    expect(() => inspectSigstruct(nobleBackend, new Uint8Array(4096))).toThrow(
      'a SIGSTRUCT is 1808 bytes, this is 4096',
    );
  });

  it('does not throw on an all-zero SIGSTRUCT, and fails it', () => {
    const info = inspectSigstruct(nobleBackend, new Uint8Array(1808));
    expect(info.valid).toBe(false);
    expect(info.modulusBits).toBe(0);
  });
});

describe('formatSigstruct and sigstructToJson', () => {
  const info = inspectSigstruct(nobleBackend, SIG);

  it('prints every field, MRSIGNER and the verdict', () => {
    const text = formatSigstruct(info);
    for (const label of [
      'header',
      'vendor',
      'date',
      'header2',
      'swdefined',
      'modulus',
      'exponent',
      'signature',
      'miscselect',
      'miscmask',
      'isvfamilyid',
      'attributes',
      'xfrm',
      'attributemask',
      'xfrmmask',
      'enclavehash',
      'isvextprodid',
      'isvprodid',
      'isvsvn',
      'q1',
      'q2',
      'mrsigner',
    ]) {
      expect(text, `a line for ${label}`).toMatch(new RegExp(`^  ${label}\\s`, 'm'));
    }
    expect(text).toContain('(2024-01-31)');
    expect(text).toContain('(MODE64BIT)');
    expect(text).toMatch(/verdict: valid$/);
    expect(formatSigstruct(inspectSigstruct(nobleBackend, tampered(1040, SIG[1040]! ^ 1)))).toMatch(
      /verdict: INVALID \(q1\)$/,
    );
  });

  it('gives plain JSON with full-length hex for the long integers', () => {
    const j = JSON.parse(JSON.stringify(sigstructToJson(info)));
    expect(j.fields.modulus).toHaveLength(768);
    expect(j.fields.signature).toBe(toHex(SIG.subarray(516, 900)));
    expect(j.fields.attributes).toBe('0x0000000000000004');
    expect(j.fields.isvProdId).toBe(0x1234);
    expect(j.mrSigner).toBe(toHex(info.mrSigner));
    expect(j.valid).toBe(true);
  });

  it('names attribute bits, and unnamed ones by number', () => {
    expect(attributeNames(0x6n)).toBe('DEBUG|MODE64BIT');
    expect(attributeNames(0n)).toBe('none');
    expect(attributeNames(1n << 9n)).toBe('bit9');
  });
});
