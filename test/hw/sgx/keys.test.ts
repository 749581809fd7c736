import { describe, expect, it } from 'vitest';
import {
  type Decoded,
  decode,
  deriveKey,
  EINITTOKEN,
  egetkeyDependencies,
  einitTokenKeyDependencies,
  encode,
  fromHex,
  HARDCODED_PKCS1_5_PADDING,
  KEY_DEPENDENCIES,
  KEYREQUEST,
  type KeyDependencies,
  KeyName,
  type KeyPlatformInputs,
  nobleBackend,
  reportKeyDependencies,
  type SecsKeyView,
  toHex,
} from '../../../src/hw/index';
import { nodeBackend } from '../../../src/node/crypto-node';
import { runTool } from '../../util/native';

function opensslCmac(key: Uint8Array, msg: Uint8Array): string {
  return runTool('openssl', ['mac', '-cipher', 'AES-128-CBC', '-macopt', `hexkey:${toHex(key)}`, 'CMAC'], msg)
    .toString()
    .trim()
    .toLowerCase();
}

/** derivekey() of the record in the golden test; pinned forever (sealed data depends on it). */
const GOLDEN_SEAL_KEY = '6b48c918f2e3712f2fe59850096c82a4';
const RPK = fromHex('000102030405060708090a0b0c0d0e0f');
const fill = (n: number, b: number) => new Uint8Array(n).fill(b);

describe('the derivation record (KEY_DEPENDENCIES v1)', () => {
  it('keeps every field at the offset sealed data depends on', () => {
    const fields = KEY_DEPENDENCIES.fields.map((f) => [f.name, f.offset, f.size]);
    expect(KEY_DEPENDENCIES.size).toBe(656);
    expect(fields).toEqual([
      ['label', 0, 8],
      ['keyName', 8, 2],
      ['keyPolicy', 10, 2],
      ['isvProdId', 12, 2],
      ['isvSvn', 14, 2],
      ['cpuSvn', 16, 16],
      ['attributes', 32, 8],
      ['xfrm', 40, 8],
      ['attributeMask', 48, 8],
      ['xfrmMask', 56, 8],
      ['mrEnclave', 64, 32],
      ['mrSigner', 96, 32],
      ['keyId', 128, 32],
      ['ownerEpoch', 160, 16],
      ['sealKeyFuses', 176, 16],
      ['miscSelect', 192, 4],
      ['miscMask', 196, 4],
      ['configSvn', 200, 2],
      ['reserved1', 202, 6],
      ['isvFamilyId', 208, 16],
      ['isvExtProdId', 224, 16],
      ['configId', 240, 64],
      ['padding', 304, 352],
    ]);
  });

  it('derives key = CMAC(CMAC(rootProvisioningKey, "SGXSIMBK" ‖ name), record), checked with openssl', () => {
    const deps: KeyDependencies = {
      keyName: 4,
      keyPolicy: 2,
      isvProdId: 0x1234,
      isvSvn: 5,
      cpuSvn: fill(16, 0x11),
      attributes: 0x7n,
      xfrm: 0x3n,
      attributeMask: 0xff0000000000000bn,
      xfrmMask: 0n,
      mrEnclave: fill(32, 0),
      mrSigner: fill(32, 0x22),
      keyId: fill(32, 0x33),
      ownerEpoch: fill(16, 0x44),
      sealKeyFuses: fill(16, 0x55),
      miscSelect: 1,
      miscMask: 0xfffffffe,
      configSvn: 0,
      isvFamilyId: fill(16, 0),
      isvExtProdId: fill(16, 0),
      configId: fill(64, 0),
      padding: HARDCODED_PKCS1_5_PADDING,
    };
    // The record, byte by byte.
    const r = new Uint8Array(656);
    const dv = new DataView(r.buffer);
    r.set(new TextEncoder().encode('SGXSIMK1'), 0);
    dv.setUint16(8, 4, true);
    dv.setUint16(10, 2, true);
    dv.setUint16(12, 0x1234, true);
    dv.setUint16(14, 5, true);
    r.set(fill(16, 0x11), 16);
    dv.setBigUint64(32, 7n, true);
    dv.setBigUint64(40, 3n, true);
    dv.setBigUint64(48, 0xff0000000000000bn, true);
    r.set(fill(32, 0x22), 96);
    r.set(fill(32, 0x33), 128);
    r.set(fill(16, 0x44), 160);
    r.set(fill(16, 0x55), 176);
    dv.setUint32(192, 1, true);
    dv.setUint32(196, 0xfffffffe, true);
    r.set(HARDCODED_PKCS1_5_PADDING, 304);
    const baseMsg = new Uint8Array(16);
    baseMsg.set(new TextEncoder().encode('SGXSIMBK'));
    baseMsg[8] = 4;
    const base = fromHex(opensslCmac(RPK, baseMsg));
    const want = opensslCmac(base, r);
    for (const b of [nobleBackend, nodeBackend]) expect(toHex(deriveKey(b, RPK, deps)), b.name).toBe(want);
    // Pinned: this value must never change, or data sealed by an earlier release would not unseal.
    expect(want).toBe(GOLDEN_SEAL_KEY);
  });

  it('HARDCODED_PKCS1_5_PADDING is the SDM constant: 0001, 330 × FF, 00, the SHA-256 DigestInfo prefix', () => {
    expect(toHex(HARDCODED_PKCS1_5_PADDING)).toBe(`0001${'ff'.repeat(330)}003031300d060960864801650304020105000420`);
  });
});

// --- The SDM dependency table (sgx-isa.md §6.1) -------------------------------------------------------------

const SECS_BASE: SecsKeyView = {
  attributes: 0x7n, // INIT | DEBUG | MODE64BIT
  xfrm: 0x3n,
  miscSelect: 1,
  mrEnclave: fill(32, 0xe1),
  mrSigner: fill(32, 0x51),
  isvProdId: 0x22,
  isvSvn: 9,
  configId: fill(64, 0),
  configSvn: 0,
  isvFamilyId: fill(16, 0),
  isvExtProdId: fill(16, 0),
  padding: HARDCODED_PKCS1_5_PADDING,
};
type Req = Decoded<typeof KEYREQUEST>;
const REQ_BASE: Req = decode(
  KEYREQUEST,
  encode(KEYREQUEST, {
    keyPolicy: 2,
    isvSvn: 3,
    cpuSvn: fill(16, 1),
    attributeMask: 0xffn & ~0x10n,
    xfrmMask: 0x3n,
    keyId: fill(32, 0x77),
    miscMask: 1,
  }),
);
const CR_BASE: KeyPlatformInputs = { cpuSvn: fill(16, 2), ownerEpoch: fill(16, 0xe0), sealKeyFuses: fill(16, 0xf0) };

interface Perturbation {
  readonly input: string;
  readonly secs?: Partial<SecsKeyView>;
  readonly req?: Partial<Req>;
  readonly cr?: Partial<KeyPlatformInputs>;
  /** Whether the key changes, for SEAL, REPORT, EINITTOKEN, PROVISION, PROVISION_SEAL. */
  readonly changes: readonly [boolean, boolean, boolean, boolean, boolean];
}

const Y = true;
const N = false;
const TABLE: Perturbation[] = [
  { input: 'SECS.ISVPRODID', secs: { isvProdId: 0x23 }, changes: [Y, N, Y, Y, Y] },
  { input: 'KEYREQUEST.ISVSVN', req: { isvSvn: 2 }, changes: [Y, N, Y, Y, Y] },
  { input: 'SECS.ISVSVN (only bounds the request)', secs: { isvSvn: 10 }, changes: [N, N, N, N, N] },
  { input: 'KEYREQUEST.CPUSVN', req: { cpuSvn: fill(16, 0) }, changes: [Y, N, Y, Y, Y] },
  { input: 'CR_CPUSVN', cr: { cpuSvn: fill(16, 3) }, changes: [N, Y, N, N, N] },
  { input: 'SECS.MRENCLAVE (policy MRSIGNER)', secs: { mrEnclave: fill(32, 0xe2) }, changes: [N, Y, N, N, N] },
  { input: 'SECS.MRSIGNER', secs: { mrSigner: fill(32, 0x52) }, changes: [Y, N, Y, Y, Y] },
  { input: 'KEYREQUEST.KEYID', req: { keyId: fill(32, 0x78) }, changes: [Y, Y, Y, N, N] },
  { input: 'CR_SGXOWNEREPOCH', cr: { ownerEpoch: fill(16, 0xe1) }, changes: [Y, Y, Y, N, N] },
  { input: 'SEAL_KEY_FUSES', cr: { sealKeyFuses: fill(16, 0xf1) }, changes: [Y, Y, Y, N, Y] },
  { input: 'SECS.ATTRIBUTES.DEBUG (always in the mask)', secs: { attributes: 0x5n }, changes: [Y, Y, Y, Y, Y] },
  { input: 'SECS.ATTRIBUTES outside the mask', secs: { attributes: 0x17n }, changes: [N, Y, N, N, N] },
  { input: 'KEYREQUEST.ATTRIBUTEMASK', req: { attributeMask: 0xefn | (1n << 40n) }, changes: [Y, N, N, Y, Y] },
  { input: 'SECS.MISCSELECT under the mask', secs: { miscSelect: 0 }, changes: [Y, Y, Y, Y, Y] },
  { input: 'KEYREQUEST.MISCMASK', req: { miscMask: 3 }, changes: [Y, N, N, Y, Y] },
  { input: 'SECS.PADDING', secs: { padding: fill(352, 0) }, changes: [Y, N, Y, Y, Y] },
  { input: 'SECS.CONFIGID (no CONFIGID policy)', secs: { configId: fill(64, 1) }, changes: [N, Y, N, N, N] },
  { input: 'SECS.CONFIGSVN', secs: { configSvn: 4 }, changes: [N, Y, N, N, N] },
  { input: 'KEYREQUEST.CONFIGSVN (no CONFIGID policy)', req: { configSvn: 4 }, changes: [N, N, N, N, N] },
  { input: 'SECS.ISVFAMILYID (no policy bit)', secs: { isvFamilyId: fill(16, 1) }, changes: [N, N, N, N, N] },
];

const NAMES = [KeyName.SEAL, KeyName.REPORT, KeyName.EINITTOKEN, KeyName.PROVISION, KeyName.PROVISION_SEAL];

function keyFor(name: number, p?: Perturbation): string {
  const secs = { ...SECS_BASE, ...p?.secs };
  const req = { ...REQ_BASE, ...p?.req, keyName: name };
  const cr = { ...CR_BASE, ...p?.cr };
  return toHex(deriveKey(nobleBackend, RPK, egetkeyDependencies(secs, req, cr)));
}

describe('EGETKEY dependencies follow the SDM table for all five key names', () => {
  it.each(TABLE)('$input', (p) => {
    const got = NAMES.map((n) => keyFor(n, p) !== keyFor(n));
    expect(got, `SEAL, REPORT, EINITTOKEN, PROVISION, PROVISION_SEAL change for ${p.input}`).toEqual(p.changes);
  });

  it('KEYPOLICY selects MRENCLAVE for SEAL keys, and is itself an input of SEAL and PROVISION_SEAL', () => {
    const withMrEnclave = (name: number, mrEnclave: Uint8Array) =>
      toHex(
        deriveKey(
          nobleBackend,
          RPK,
          egetkeyDependencies({ ...SECS_BASE, mrEnclave }, { ...REQ_BASE, keyName: name, keyPolicy: 1 }, CR_BASE),
        ),
      );
    expect(withMrEnclave(KeyName.SEAL, fill(32, 1))).not.toBe(withMrEnclave(KeyName.SEAL, fill(32, 2)));
    // NOISVPRODID with ISVPRODID 0 leaves only the KEYPOLICY field different.
    const secs0 = { ...SECS_BASE, isvProdId: 0 };
    const k = (name: number, keyPolicy: number) =>
      toHex(
        deriveKey(nobleBackend, RPK, egetkeyDependencies(secs0, { ...REQ_BASE, keyName: name, keyPolicy }, CR_BASE)),
      );
    expect(NAMES.map((n) => k(n, 2) !== k(n, 6))).toEqual([Y, N, N, N, Y]);
  });

  it('gives different keys for different key names over otherwise equal inputs', () => {
    expect(new Set(NAMES.map((n) => keyFor(n))).size).toBe(5);
  });

  it('EREPORT’s MAC key for a target equals the target’s own EGETKEY(REPORT)', () => {
    const keyId = fill(32, 0x99);
    const viaTargetinfo = reportKeyDependencies(SECS_BASE, keyId, CR_BASE);
    const viaEgetkey = egetkeyDependencies(SECS_BASE, { ...REQ_BASE, keyName: KeyName.REPORT, keyId }, CR_BASE);
    expect(deriveKey(nobleBackend, RPK, viaTargetinfo)).toEqual(deriveKey(nobleBackend, RPK, viaEgetkey));
  });

  it('EINIT’s token key equals the launch enclave’s EGETKEY(EINITTOKEN) when LEPUBKEYHASH is its MRSIGNER', () => {
    const le: SecsKeyView = { ...SECS_BASE, attributes: 0x37n, mrSigner: fill(32, 0x1e), isvProdId: 0x20 };
    const req = { ...REQ_BASE, keyName: KeyName.EINITTOKEN, isvSvn: 1, cpuSvn: fill(16, 0), attributeMask: 0xffn };
    const leKey = deriveKey(nobleBackend, RPK, egetkeyDependencies(le, req, CR_BASE));
    const t = new Uint8Array(304);
    const dv = new DataView(t.buffer);
    dv.setUint16(208, 0x20, true); // ISVPRODIDLE
    dv.setUint16(210, 1, true); // ISVSVNLE
    dv.setUint32(236, 1, true); // MASKEDMISCSELECTLE = MISCMASK & MISCSELECT
    dv.setBigUint64(240, 0x37n, true); // MASKEDATTRIBUTESLE = (mask | INIT | DEBUG) & ATTRIBUTES
    dv.setBigUint64(248, 0x3n, true);
    t.set(fill(32, 0x77), 256); // KEYID
    const einitKey = deriveKey(
      nobleBackend,
      RPK,
      einitTokenKeyDependencies(decode(EINITTOKEN, t), fill(32, 0x1e), CR_BASE),
    );
    expect(toHex(einitKey)).toBe(toHex(leKey));
  });

  it('refuses to build dependencies for an undefined key name', () => {
    expect(() => egetkeyDependencies(SECS_BASE, { ...REQ_BASE, keyName: 5 }, CR_BASE)).toThrow(/INVALID_KEYNAME/);
  });
});
