import { describe, expect, it } from 'vitest';
import {
  decode,
  deriveKey,
  EINITTOKEN,
  type EnclsOutcome,
  einitTokenKeyDependencies,
  fromHex,
  getField,
  HARDCODED_PKCS1_5_PADDING,
  hiddenBytes,
  hiddenU64,
  SECS,
  type SgxMachine,
  SgxStatus,
  toHex,
} from '../../../../src/hw/index';
import { nodeBackend } from '../../../../src/node/crypto-node';
import { runTool } from '../../../util/native';
import {
  buildSigstruct,
  buildV2,
  doEinit,
  epcPa,
  gpFault,
  HOLE_PA,
  Leaf,
  makeTestMachine,
  OK,
  pfFault,
  run,
  SELFTEST_MRSIGNER,
  SIGSTRUCT_PA,
  type SigstructFields,
  status,
  TOKEN_PA,
  V2_MRENCLAVE,
} from '../fixture';

const SECS_IDX = 0;
const OTHER_HASH = 'aa'.repeat(32);

/** A V2 enclave ready for EINIT, with IA32_SGXLEPUBKEYHASH = the selftest signer unless told otherwise. */
function ready(opts: { attributes?: bigint; leHash?: string; features?: Parameters<typeof makeTestMachine>[0] } = {}) {
  const m = makeTestMachine(opts.features);
  buildV2(m, SECS_IDX, opts.attributes ?? 0x4n);
  setHash(m, opts.leHash ?? SELFTEST_MRSIGNER);
  return m;
}

function setHash(m: SgxMachine, hex: string): void {
  const h = fromHex(hex);
  const dv = new DataView(h.buffer);
  for (let i = 0; i < 4; i++) expect(m.wrmsr(0x8c + i, dv.getBigUint64(8 * i, true))).toBeUndefined();
}

const SIG_CACHE = new Map<string, Uint8Array>();
/** Signing costs ~2 ms; cache by fields. */
function sig(f: SigstructFields = {}): Uint8Array {
  const k = JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? toHex(v) : v));
  let s = SIG_CACHE.get(k);
  if (!s) SIG_CACHE.set(k, (s = buildSigstruct(f)));
  return s.slice();
}

interface TokenFields {
  valid?: number;
  attributes?: bigint;
  xfrm?: bigint;
  mrEnclave?: string;
  mrSigner?: string;
  cpuSvnLe?: Uint8Array;
  isvProdIdLe?: number;
  isvSvnLe?: number;
  maskedMiscSelectLe?: number;
  maskedAttributesLe?: bigint;
  maskedXfrmLe?: bigint;
  keyId?: Uint8Array;
  reservedByte?: number;
}

/** An EINITTOKEN laid out byte by byte (SDM Table 38-20), MACed like a launch enclave would. */
function token(m: SgxMachine, f: TokenFields = {}, corruptMac = false): Uint8Array {
  const t = new Uint8Array(304);
  const dv = new DataView(t.buffer);
  dv.setUint32(0, f.valid ?? 1, true);
  dv.setBigUint64(48, f.attributes ?? 0x4n, true);
  dv.setBigUint64(56, f.xfrm ?? 0x3n, true);
  t.set(fromHex(f.mrEnclave ?? V2_MRENCLAVE), 64);
  t.set(fromHex(f.mrSigner ?? SELFTEST_MRSIGNER), 128);
  t.set(f.cpuSvnLe ?? new Uint8Array(16), 192);
  dv.setUint16(208, f.isvProdIdLe ?? 0x20, true);
  dv.setUint16(210, f.isvSvnLe ?? 1, true);
  dv.setUint32(236, f.maskedMiscSelectLe ?? 0, true);
  dv.setBigUint64(240, f.maskedAttributesLe ?? 0x4n, true);
  dv.setBigUint64(248, f.maskedXfrmLe ?? 0x3n, true);
  t.set(f.keyId ?? Uint8Array.from({ length: 32 }, (_, i) => i), 256);
  if (f.reservedByte !== undefined) t[f.reservedByte] = 1;
  // The launch enclave's EGETKEY(EINITTOKEN) key, which EINIT re-derives from the token and the MSRs.
  const key = deriveKey(
    m.crypto,
    m.secrets.rootProvisioningKey,
    einitTokenKeyDependencies(decode(EINITTOKEN, t), m.lePubKeyHash(), m.keyPlatformInputs()),
  );
  // The CMAC itself comes from openssl, over the first 192 bytes.
  const mac = runTool(
    'openssl',
    ['mac', '-cipher', 'AES-128-CBC', '-macopt', `hexkey:${toHex(key)}`, 'CMAC'],
    t.subarray(0, 192),
  )
    .toString()
    .trim();
  t.set(fromHex(mac), 288);
  if (corruptMac) t[290]! ^= 1;
  return t;
}

describe('ENCLS[EINIT] success (SDM Vol. 3D §41.2 EINIT COMMIT)', () => {
  it('initializes a V2 enclave signed by a SIGSTRUCT built with node:crypto (launch-control path)', () => {
    const m = ready({ features: { crypto: nodeBackend } });
    expect(doEinit(m, SECS_IDX, sig())).toEqual(OK);
    const page = m.epcPage(SECS_IDX);
    expect(toHex(getField(SECS, page, 0, 'mrEnclave'))).toBe(V2_MRENCLAVE);
    expect(toHex(getField(SECS, page, 0, 'mrSigner'))).toBe(SELFTEST_MRSIGNER);
    expect(getField(SECS, page, 0, 'isvProdId')).toBe(0x1234);
    expect(getField(SECS, page, 0, 'isvSvn')).toBe(5);
    expect(getField(SECS, page, 0, 'attributes')).toBe(0x5n);
    expect(hiddenBytes(page, 'padding')).toEqual(HARDCODED_PKCS1_5_PADDING);
    expect(m.measurement(hiddenU64(page, 'eid')), 'the running hash is dropped after EINIT').toBeUndefined();
  });

  it('accepts MODULEVENDOR 0x8086', () => {
    expect(doEinit(ready(), SECS_IDX, sig({ vendor: 0x8086 }))).toEqual(OK);
  });

  it('accepts TYPE 0x80000000 in SIGSTRUCT bytes 12..15 only behind acceptDebugSigstructType', () => {
    const debugHeader = fromHex('06000000E10000000000010000000080');
    expect(doEinit(ready(), SECS_IDX, sig({ header: debugHeader }))).toEqual(status(SgxStatus.INVALID_SIG_STRUCT));
    const lax = ready({ features: { features: { acceptDebugSigstructType: true } } });
    expect(doEinit(lax, SECS_IDX, sig({ header: debugHeader }))).toEqual(OK);
  });

  it('accepts a non-zero ISVFAMILYID for a KSS enclave and records it', () => {
    const family = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const m = ready({ attributes: 0x84n, features: { features: { kss: true } } });
    expect(doEinit(m, SECS_IDX, sig({ isvFamilyId: family, attributes: 0x84n }))).toEqual(OK);
    expect(hiddenBytes(m.epcPage(SECS_IDX), 'isvFamilyId')).toEqual(family);
  });

  it('leaves a failed enclave uninitialized so a corrected EINIT succeeds', () => {
    const m = ready();
    expect(doEinit(m, SECS_IDX, sig({ isvSvn: 9, enclaveHash: new Uint8Array(32) }))).toEqual(
      status(SgxStatus.INVALID_MEASUREMENT),
    );
    expect(doEinit(m, SECS_IDX, sig())).toEqual(OK);
  });
});

interface Case {
  readonly rule: string;
  readonly run: () => EnclsOutcome;
  readonly want: EnclsOutcome;
}

function withSig(s: Uint8Array, mutate: (s: Uint8Array) => void): Uint8Array {
  mutate(s);
  return s;
}

const CASES: Case[] = [
  {
    rule: 'RBX (SIGSTRUCT) not 4K aligned is #GP(0)',
    run: () => run(ready(), Leaf.EINIT, { rbx: SIGSTRUCT_PA + 64, rcx: epcPa(0), rdx: TOKEN_PA }),
    want: gpFault(),
  },
  {
    rule: 'RCX not 4K aligned is #GP(0)',
    run: () => run(ready(), Leaf.EINIT, { rbx: SIGSTRUCT_PA, rcx: epcPa(0) + 8, rdx: TOKEN_PA }),
    want: gpFault(),
  },
  {
    rule: 'RDX (EINITTOKEN) not 512-byte aligned is #GP(0)',
    run: () => run(ready(), Leaf.EINIT, { rbx: SIGSTRUCT_PA, rcx: epcPa(0), rdx: TOKEN_PA + 256 }),
    want: gpFault(),
  },
  {
    rule: 'RCX outside the EPC is #PF(RCX)',
    run: () => run(ready(), Leaf.EINIT, { rbx: SIGSTRUCT_PA, rcx: 0x5000, rdx: TOKEN_PA }),
    want: pfFault(0x5000, { write: true }),
  },
  {
    rule: 'an unmapped SIGSTRUCT page-faults when copied',
    run: () => run(ready(), Leaf.EINIT, { rbx: HOLE_PA, rcx: epcPa(0), rdx: TOKEN_PA }),
    want: pfFault(HOLE_PA, { unmapped: true }),
  },
  {
    rule: 'a wrong HEADER is SGX_INVALID_SIG_STRUCT',
    run: () => doEinit(ready(), 0, sig({ header: fromHex('07000000E10000000000010000000000') })),
    want: status(SgxStatus.INVALID_SIG_STRUCT),
  },
  {
    rule: 'a MODULEVENDOR other than 0 or 0x8086 is SGX_INVALID_SIG_STRUCT',
    run: () => doEinit(ready(), 0, sig({ vendor: 0x1234 })),
    want: status(SgxStatus.INVALID_SIG_STRUCT),
  },
  {
    rule: 'a wrong HEADER2 is SGX_INVALID_SIG_STRUCT',
    run: () => doEinit(ready(), 0, sig({ header2: fromHex('01010000600000006000000002000000') })),
    want: status(SgxStatus.INVALID_SIG_STRUCT),
  },
  {
    rule: 'EXPONENT ≠ 3 is SGX_INVALID_SIG_STRUCT',
    run: () =>
      doEinit(
        ready(),
        0,
        withSig(sig(), (s) => new DataView(s.buffer).setUint32(512, 65537, true)),
      ),
    want: status(SgxStatus.INVALID_SIG_STRUCT),
  },
  ...[50, 910, 1000, 1030].map(
    (off): Case => ({
      rule: `a non-zero reserved SIGSTRUCT byte at ${off} is SGX_INVALID_SIG_STRUCT`,
      run: () => doEinit(ready(), 0, sig({ reservedByte: off })),
      want: status(SgxStatus.INVALID_SIG_STRUCT),
    }),
  ),
  {
    rule: 'a header error wins over a pending unmasked event',
    run: () => {
      const m = ready();
      m.pendingUnmaskedEvent = () => true;
      return doEinit(m, 0, sig({ vendor: 1 }));
    },
    want: status(SgxStatus.INVALID_SIG_STRUCT),
  },
  {
    rule: 'a pending unmasked event in the event window is SGX_UNMASKED_EVENT, even with a bad signature',
    run: () => {
      const m = ready();
      m.pendingUnmaskedEvent = () => true;
      return doEinit(
        m,
        0,
        withSig(sig(), (s) => (s[1026] = 6)),
      );
    },
    want: status(SgxStatus.UNMASKED_EVENT),
  },
  {
    rule: 'a signed byte changed after signing is SGX_INVALID_SIGNATURE',
    run: () =>
      doEinit(
        ready(),
        0,
        withSig(sig(), (s) => (s[1026] = 6)),
      ),
    want: status(SgxStatus.INVALID_SIGNATURE),
  },
  {
    rule: 'a wrong Q1 is SGX_INVALID_SIGNATURE',
    run: () =>
      doEinit(
        ready(),
        0,
        withSig(sig(), (s) => (s[1040]! ^= 1)),
      ),
    want: status(SgxStatus.INVALID_SIGNATURE),
  },
  {
    rule: 'a wrong Q2 is SGX_INVALID_SIGNATURE',
    run: () =>
      doEinit(
        ready(),
        0,
        withSig(sig(), (s) => (s[1500]! ^= 1)),
      ),
    want: status(SgxStatus.INVALID_SIGNATURE),
  },
  {
    rule: 'RCX naming an invalid EPC page is #PF(RCX) (after the signature checks)',
    run: () => {
      const m = ready();
      m.physMem.write(SIGSTRUCT_PA, sig());
      return run(m, Leaf.EINIT, { rbx: SIGSTRUCT_PA, rcx: epcPa(20), rdx: TOKEN_PA });
    },
    want: pfFault(epcPa(20), { write: true }),
  },
  {
    rule: 'RCX naming a REG page is #PF(RCX)',
    run: () => {
      const m = ready();
      m.physMem.write(SIGSTRUCT_PA, sig());
      return run(m, Leaf.EINIT, { rbx: SIGSTRUCT_PA, rcx: epcPa(2), rdx: TOKEN_PA });
    },
    want: pfFault(epcPa(2), { write: true }),
  },
  {
    rule: 'ISVFAMILYID ≠ 0 without ATTRIBUTES.KSS is SGX_INVALID_SIG_STRUCT',
    run: () => doEinit(ready(), 0, sig({ isvFamilyId: Uint8Array.of(1) })),
    want: status(SgxStatus.INVALID_SIG_STRUCT),
  },
  {
    rule: 'an already initialized enclave is #GP(0)',
    run: () => {
      const m = ready();
      expect(doEinit(m, 0, sig())).toEqual(OK);
      return doEinit(m, 0, sig());
    },
    want: gpFault(),
  },
  {
    rule: 'ENCLAVEHASH ≠ MRENCLAVE is SGX_INVALID_MEASUREMENT',
    run: () => doEinit(ready(), 0, sig({ enclaveHash: new Uint8Array(32).fill(7) })),
    want: status(SgxStatus.INVALID_MEASUREMENT),
  },
  {
    rule: 'ATTRIBUTES.EINITTOKENKEY with a signer other than IA32_SGXLEPUBKEYHASH is SGX_INVALID_ATTRIBUTE',
    run: () => doEinit(ready({ attributes: 0x24n, leHash: OTHER_HASH }), 0, sig({ attributes: 0x24n })),
    want: status(SgxStatus.INVALID_ATTRIBUTE),
  },
  {
    rule: 'SECS.ATTRIBUTES & ATTRIBUTEMASK ≠ SIGSTRUCT.ATTRIBUTES & ATTRIBUTEMASK is SGX_INVALID_ATTRIBUTE',
    run: () => doEinit(ready(), 0, sig({ attributes: 0x6n })),
    want: status(SgxStatus.INVALID_ATTRIBUTE),
  },
  {
    rule: 'an XFRM mismatch under the XFRM mask is SGX_INVALID_ATTRIBUTE',
    run: () => doEinit(ready(), 0, sig({ xfrm: 0x7n, xfrmMask: ~0n & 0xffffffffffffffffn })),
    want: status(SgxStatus.INVALID_ATTRIBUTE),
  },
  {
    rule: 'SECS.MISCSELECT & MISCMASK ≠ SIGSTRUCT.MISCSELECT & MISCMASK is SGX_INVALID_ATTRIBUTE',
    run: () => doEinit(ready(), 0, sig({ miscSelect: 1, miscMask: 1 })),
    want: status(SgxStatus.INVALID_ATTRIBUTE),
  },
  {
    rule: 'EINITTOKEN.VALID = 0 and MRSIGNER ≠ IA32_SGXLEPUBKEYHASH is SGX_INVALID_EINITTOKEN',
    run: () => doEinit(ready({ leHash: OTHER_HASH }), 0, sig()),
    want: status(SgxStatus.INVALID_EINITTOKEN),
  },
  {
    rule: 'the reset-value MSRs (Intel’s hash) refuse a third-party signer without a token',
    run: () => {
      const m = makeTestMachine();
      buildV2(m);
      return doEinit(m, 0, sig());
    },
    want: status(SgxStatus.INVALID_EINITTOKEN),
  },
];

describe('ENCLS[EINIT] error paths (SDM Vol. 3D §41.2 EINIT; sgx-isa.md §5a order)', () => {
  it.each(CASES)('$rule', (c) => {
    expect(c.run(), c.rule).toEqual(c.want);
  });
});

describe('ENCLS[EINIT] token path (EINITTOKEN.VALID = 1)', () => {
  // The launch enclave signs tokens; IA32_SGXLEPUBKEYHASH names it, not the enclave's own signer.
  const le = () => ready({ leHash: OTHER_HASH });

  it('accepts a token whose MAC was made with the EINITTOKEN key', () => {
    const m = le();
    expect(doEinit(m, 0, sig(), token(m))).toEqual(OK);
  });

  const cases: Array<[string, (m: SgxMachine) => Uint8Array, EnclsOutcome]> = [
    ['a token with a corrupted MAC is SGX_INVALID_EINITTOKEN', (m) => token(m, {}, true), status(16)],
    [
      'a debug launch enclave’s token for a production enclave is SGX_INVALID_EINITTOKEN',
      (m) => token(m, { maskedAttributesLe: 0x6n }),
      status(SgxStatus.INVALID_EINITTOKEN),
    ],
    [
      'a non-zero token reserved byte is SGX_INVALID_EINITTOKEN',
      (m) => token(m, { reservedByte: 100 }),
      status(SgxStatus.INVALID_EINITTOKEN),
    ],
    ['upper VALID bits set is SGX_INVALID_EINITTOKEN', (m) => token(m, { valid: 3 }), status(16)],
    [
      'a token CPUSVN above CR_CPUSVN is SGX_INVALID_CPUSVN',
      (m) => token(m, { cpuSvnLe: new Uint8Array(16).fill(0xff) }),
      status(SgxStatus.INVALID_CPUSVN),
    ],
    [
      'a validly MACed token for another MRENCLAVE is SGX_INVALID_MEASUREMENT',
      (m) => token(m, { mrEnclave: '11'.repeat(32) }),
      status(SgxStatus.INVALID_MEASUREMENT),
    ],
    [
      'a validly MACed token for another MRSIGNER is SGX_INVALID_MEASUREMENT',
      (m) => token(m, { mrSigner: '22'.repeat(32) }),
      status(SgxStatus.INVALID_MEASUREMENT),
    ],
    [
      'token ATTRIBUTES other than the SECS’s are SGX_INVALID_EINITTOKEN',
      (m) => token(m, { attributes: 0x6n }),
      status(SgxStatus.INVALID_EINITTOKEN),
    ],
    [
      'a token MACed for a different IA32_SGXLEPUBKEYHASH is SGX_INVALID_EINITTOKEN',
      (m) => {
        const t = token(m);
        setHash(m, 'bb'.repeat(32));
        return t;
      },
      status(SgxStatus.INVALID_EINITTOKEN),
    ],
  ];
  it.each(cases)('%s', (_rule, make, want) => {
    const m = le();
    expect(doEinit(m, 0, sig(), make(m))).toEqual(want);
  });

  it('a debug launch enclave may launch a debug enclave', () => {
    const m = ready({ attributes: 0x6n, leHash: OTHER_HASH });
    expect(doEinit(m, 0, sig({ attributes: 0x6n }), token(m, { attributes: 0x6n, maskedAttributesLe: 0x6n }))).toEqual(
      OK,
    );
  });
});
