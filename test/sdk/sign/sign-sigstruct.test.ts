import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, nobleBackend, type RsaPrivateKey, toHex } from '../../../src/hw/index';
import { nodeBackend } from '../../../src/node/crypto-node';
import { parseSigningKeyPem } from '../../../src/node/rsa-key';
import {
  bcdDate,
  inspectSigstruct,
  mrSignerOfKey,
  SigningKeyError,
  SigstructError,
  type SigstructFields,
  signSigstruct,
} from '../../../src/sdk/index';

const PEM_PATH = join(__dirname, '../../fixtures/selftest-sign_key.pem');
const KEY = parseSigningKeyPem(readFileSync(PEM_PATH, 'utf8'));

// sgx-isa.md §7.3: the SIGSTRUCT for the §7.2 V2 enclave, signed with the selftests' key.
const VECTOR_FIELDS: SigstructFields = {
  vendor: 0,
  date: 0x20240131,
  attributes: 0x4n,
  xfrm: 0x3n,
  attributeMask: 0xffff_ffff_ffff_ffffn,
  xfrmMask: 0xffff_ffff_ffff_fffbn,
  enclaveHash: fromHex('d8c33a61ea1d7a61c4ebb0050f4221cafd1b27c66e9b7eaa8ed10b597b3d2430'),
  isvProdId: 0x1234,
  isvSvn: 5,
};

describe('signSigstruct', () => {
  const sig = signSigstruct(nobleBackend, KEY, VECTOR_FIELDS);

  it('reproduces the sgx-isa.md §7.3 SIGSTRUCT vector byte for byte', () => {
    expect(sig.length, 'SIGSTRUCT length').toBe(1808);
    expect(toHex(sig.subarray(516, 532)), 'SIGNATURE prefix').toBe('e404d58c4235e22323740344386cc5c2');
    expect(toHex(sig.subarray(1040, 1056)), 'Q1 prefix').toBe('daa72ed6ed60035c045993805c59a69d');
    expect(toHex(sig.subarray(1424, 1440)), 'Q2 prefix').toBe('d73ecb91cd816f95805fe768dacaa207');
    expect(toHex(nobleBackend.sha256(sig)), 'SHA-256 of the whole SIGSTRUCT').toBe(
      '861b91e7a496157d240cf2f89a2d5bde0903fb9f81bf0ce3ea055c9d22771038',
    );
  });

  it('gives the §7.3 MRSIGNER, from the SIGSTRUCT and from the key alike', () => {
    const want = '2f9f8fd4fe12d77232f1d87571ca8252ca27714efe7705e46222cffd5a22e8c4';
    expect(toHex(inspectSigstruct(nobleBackend, sig).mrSigner)).toBe(want);
    expect(toHex(mrSignerOfKey(nodeBackend, KEY.n))).toBe(want);
  });

  it('makes a signature that openssl dgst -verify accepts with the PEM public key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgxsim-sign-'));
    const pub = join(dir, 'pub.pem');
    execFileSync('openssl', ['rsa', '-in', PEM_PATH, '-pubout', '-out', pub], { stdio: 'ignore' });
    writeFileSync(join(dir, 'msg'), Buffer.concat([sig.subarray(0, 128), sig.subarray(900, 1028)]));
    // SIGSTRUCT stores the signature little-endian; OpenSSL wants the usual big-endian octet string.
    writeFileSync(join(dir, 'sig'), Uint8Array.from(sig.subarray(516, 900)).reverse());
    const out = execFileSync('openssl', [
      'dgst',
      '-sha256',
      '-verify',
      pub,
      '-signature',
      join(dir, 'sig'),
      join(dir, 'msg'),
    ]).toString();
    expect(out.trim(), 'openssl verdict').toBe('Verified OK');
  });

  it('gives identical bytes with the noble and node:crypto backends', () => {
    expect(toHex(signSigstruct(nodeBackend, KEY, VECTOR_FIELDS))).toBe(toHex(sig));
  });

  it('uses the selftests’ values for fields left out', () => {
    const s = signSigstruct(nodeBackend, KEY, { enclaveHash: new Uint8Array(32) });
    const f = inspectSigstruct(nodeBackend, s).fields;
    expect([f.vendor, f.date, f.attributes, f.xfrm, f.attributeMask, f.xfrmMask, f.isvProdId, f.isvSvn]).toEqual([
      0,
      0,
      4n,
      3n,
      0n,
      0n,
      0,
      0,
    ]);
  });

  it('round-trips arbitrary fields through inspectSigstruct, and every result verifies', () => {
    const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const b = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    fc.assert(
      fc.property(
        fc.record({
          vendor: fc.constantFrom(0, 0x8086),
          swDefined: u32,
          miscSelect: u32,
          miscMask: u32,
          attributes: u64,
          xfrm: u64,
          attributeMask: u64,
          xfrmMask: u64,
          isvProdId: u16,
          isvSvn: u16,
          enclaveHash: b(32),
          isvFamilyId: b(16),
          isvExtProdId: b(16),
        }),
        (fields) => {
          const info = inspectSigstruct(nodeBackend, signSigstruct(nodeBackend, KEY, fields));
          expect(info.valid, 'signed SIGSTRUCT verifies').toBe(true);
          for (const [k, v] of Object.entries(fields)) expect(info.fields[k as keyof typeof info.fields], k).toEqual(v);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('signSigstruct rejects bad input', () => {
  const hash = new Uint8Array(32);
  const keyCases: Array<[string, RsaPrivateKey, string]> = [
    ['a 3071-bit modulus', { ...KEY, n: KEY.n >> 1n }, 'modulus-size'],
    ['exponent 65537', { ...KEY, e: 65537n }, 'exponent'],
    ['primes that do not multiply to the modulus', { ...KEY, p: KEY.p + 2n }, 'inconsistent'],
    ['a wrong CRT exponent', { ...KEY, dp: KEY.dp + 1n }, 'inconsistent'],
  ];
  for (const [what, key, kind] of keyCases) {
    it(`refuses a key with ${what}`, () => {
      let err: unknown;
      try {
        signSigstruct(nobleBackend, key, { enclaveHash: hash });
      } catch (e) {
        err = e;
      }
      expect(err, 'a SigningKeyError').toBeInstanceOf(SigningKeyError);
      const e = err as SigningKeyError;
      expect(e.data.kind).toBe(kind);
      expect(e.code).toBe('SIGNING_KEY');
      expect(e.message).not.toContain('\n');
      expect(JSON.parse(JSON.stringify(e))).toMatchObject({ code: 'SIGNING_KEY', data: { kind } });
    });
  }

  const fieldCases: Array<[string, Partial<SigstructFields>, RegExp]> = [
    ['a vendor other than 0 or 0x8086', { vendor: 1 }, /MODULEVENDOR: must be 0 or 0x8086/],
    ['a DATE that is not BCD', { date: 0x2024013a }, /DATE: 0x2024013a is not BCD/],
    ['an ISVPRODID over 16 bits', { isvProdId: 0x10000 }, /ISVPRODID: 65536 is not a 16-bit/],
    ['a negative ISVSVN', { isvSvn: -1 }, /ISVSVN: -1 is not a 16-bit/],
    ['a MISCSELECT over 32 bits', { miscSelect: 2 ** 32 }, /MISCSELECT: 4294967296 is not a 32-bit/],
    ['ATTRIBUTES over 64 bits', { attributes: 1n << 64n }, /ATTRIBUTES: .* is not a 64-bit/],
    ['a 31-byte ENCLAVEHASH', { enclaveHash: new Uint8Array(31) }, /ENCLAVEHASH: must be 32 bytes, got 31/],
    ['a 15-byte ISVFAMILYID', { isvFamilyId: new Uint8Array(15) }, /ISVFAMILYID: must be 16 bytes, got 15/],
  ];
  for (const [what, patch, msg] of fieldCases) {
    it(`refuses ${what}`, () => {
      expect(() => signSigstruct(nobleBackend, KEY, { enclaveHash: hash, ...patch })).toThrow(SigstructError);
      expect(() => signSigstruct(nobleBackend, KEY, { enclaveHash: hash, ...patch })).toThrow(msg);
    });
  }
});

describe('bcdDate', () => {
  it('encodes a calendar date as BCD yyyymmdd', () => {
    expect(bcdDate(2024, 1, 31)).toBe(0x20240131);
    expect(bcdDate(1999, 12, 1)).toBe(0x19991201);
  });

  it('refuses a month or day out of range', () => {
    expect(() => bcdDate(2024, 13, 1)).toThrow(/is not a date/);
    expect(() => bcdDate(2024, 1, 0)).toThrow(/is not a date/);
  });
});
