// ENCLU[EGETKEY] and ENCLU[EREPORT] (SDM Vol. 3D §41.4; sgx-isa.md §6.1): every check with its fault or status code,
// in the pseudo-code order, driven on a CPU that a real EENTER put into the sample enclave. Keys come from keys.ts
// (the one derivation); the REPORT MAC is checked with an AES-CMAC built on node:crypto, the MRSIGNER against the
// published vector for the selftests' key, MRENCLAVE against the offline measurement.
import { describe, expect, it } from 'vitest';
import {
  AttrFlags,
  type CpuFault,
  decode,
  deriveKey,
  EnclsLeaf,
  EncluLeaf,
  type EncluOutcome,
  egetkeyDependencies,
  encls,
  enclu,
  encode,
  fromHex,
  hiddenBytes,
  KEYREQUEST,
  KeyName,
  KeyPolicy,
  PTE_P,
  PTE_U,
  PTE_W,
  REPORT,
  reportKeyDependencies,
  type SecsKeyView,
  SgxStatus,
  TARGETINFO,
  toHex,
  Vector,
} from '../../../../src/hw/index';
import { SELFTEST_MRSIGNER } from '../fixture';
import {
  atStub,
  COMPUTE_ELF,
  DATA,
  type Enclave,
  type LoadOptions,
  loadEnclave,
  makePlatform,
  type Platform,
  R,
  SAMPLE_ELF,
} from './fixture';
import { nodeCmac } from './node-cmac';

const GP: CpuFault = { kind: 'fault', vector: Vector.GP, errorCode: 0, addr: 0 };
const pfAt = (addr: number, errorCode: number): EncluOutcome => ({
  kind: 'fault',
  fault: { kind: 'fault', vector: Vector.PF, errorCode, addr },
});
const gpOut: EncluOutcome = { kind: 'fault', fault: GP };

/** Enclave offsets in the sample: encl_buffer (two RW pages), the code page, a TCS, the heap. */
const BUF = 0x3000;
const BUF2 = 0x4000;
const CODE = 0x2000;
const TCS0 = 0x0000;

interface Inside {
  p: Platform;
  e: Enclave;
  /** Writes bytes at an enclave offset, straight into its EPC page (the test's privilege). */
  put(off: number, bytes: Uint8Array): void;
  get(off: number, len: number): Uint8Array;
  /** Executes `leaf` as the next instruction in enclave mode, with the given registers. */
  leaf(leaf: number, regs: Record<number, number | bigint>): EncluOutcome;
}

/** CPU 0 inside TCS #0 of a sample enclave, before its first instruction. */
function inside(load: LoadOptions = {}, p = makePlatform()): Inside {
  const e = loadEnclave(p, SAMPLE_ELF, load);
  const lp = p.lps[0]!;
  atStub(lp, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
  expect(lp.run(1).stop.kind).toBe('budget');
  const pa = (off: number) => e.pageAt.get(off - (off % 4096))! + (off % 4096);
  return {
    p,
    e,
    put: (off, bytes) => p.m.physMem.write(pa(off), bytes),
    get: (off, len) => p.m.physMem.read(pa(off), len),
    leaf: (leaf, regs) => {
      for (const [r, v] of Object.entries(regs)) lp.cpu.setReg64(Number(r), BigInt(v));
      lp.cpu.nextRip = lp.cpu.rip + 3;
      return enclu({ m: p.m, cpu: lp.cpu, cpuId: 0 }, leaf);
    },
  };
}

/** The SECS as the test reads it: architectural fields from the SECS page, MRENCLAVE/MRSIGNER from the loader. */
function secsView(x: Inside): SecsKeyView {
  const page = x.p.m.epcPage(x.e.secsIndex);
  return {
    attributes: x.e.attributes,
    xfrm: 3n,
    miscSelect: x.e.miscSelect,
    mrEnclave: x.e.mrEnclave,
    mrSigner: x.e.mrSigner,
    isvProdId: 0,
    isvSvn: 0,
    configId: new Uint8Array(64),
    configSvn: 0,
    isvFamilyId: new Uint8Array(16),
    isvExtProdId: new Uint8Array(16),
    // SECS.PADDING: what EINIT kept of the signature (hidden SECS state).
    padding: hiddenBytes(page, 'padding'),
  };
}

const keyRequest = (f: Partial<Parameters<typeof encode<typeof KEYREQUEST>>[1]>) => encode(KEYREQUEST, f);

describe('ENCLU[EGETKEY]', () => {
  const base = (x: Inside) => x.e.base;
  const faultRows: Array<[string, (x: Inside) => { rbx: number; rcx: number }, (x: Inside) => EncluOutcome]> = [
    ['KEYREQUEST not 512-aligned is #GP(0)', (x) => ({ rbx: base(x) + BUF + 8, rcx: base(x) + BUF2 }), () => gpOut],
    ['KEYREQUEST outside ELRANGE is #GP(0)', (x) => ({ rbx: DATA, rcx: base(x) + BUF2 }), () => gpOut],
    [
      'KEYREQUEST on a TCS page is #PF(RBX) with the SGX bit, a read',
      (x) => ({ rbx: base(x) + TCS0, rcx: base(x) + BUF2 }),
      (x) => pfAt(base(x) + TCS0, 0x8005),
    ],
    [
      'KEYREQUEST on an ELRANGE page not mapped in the page tables is the walk’s #PF (U, not present)',
      (x) => {
        x.p.space.unmap(base(x) + BUF, 4096);
        return { rbx: base(x) + BUF, rcx: base(x) + BUF2 };
      },
      (x) => pfAt(base(x) + BUF, 4),
    ],
    [
      'KEYREQUEST on a BLOCKED page is #PF(RBX)',
      (x) => {
        encls(x.p.m, EnclsLeaf.EBLOCK, { rcx: x.e.pageAt.get(BUF)! });
        return { rbx: base(x) + BUF, rcx: base(x) + BUF2 };
      },
      (x) => pfAt(base(x) + BUF, 0x8005),
    ],
    [
      'a #PF on KEYREQUEST comes before a misaligned OUTPUTDATA',
      (x) => ({ rbx: base(x) + TCS0, rcx: base(x) + BUF2 + 1 }),
      (x) => pfAt(base(x) + TCS0, 0x8005),
    ],
    ['OUTPUTDATA not 16-aligned is #GP(0)', (x) => ({ rbx: base(x) + BUF, rcx: base(x) + BUF2 + 8 }), () => gpOut],
    ['OUTPUTDATA outside ELRANGE is #GP(0)', (x) => ({ rbx: base(x) + BUF, rcx: DATA }), () => gpOut],
    [
      'OUTPUTDATA on a read-only PTE is the walk’s #PF 0x7',
      (x) => ({ rbx: base(x) + BUF, rcx: base(x) + CODE }),
      (x) => pfAt(base(x) + CODE, 7),
    ],
    [
      'OUTPUTDATA on an EPCM read-only page (PTE writable) is #PF(RCX) 0x8007',
      (x) => {
        x.p.space.mapPfn(base(x) + CODE, x.e.pageAt.get(CODE)! / 4096, PTE_P | PTE_U | PTE_W);
        return { rbx: base(x) + BUF, rcx: base(x) + CODE };
      },
      (x) => pfAt(base(x) + CODE, 0x8007),
    ],
    [
      'a #PF on OUTPUTDATA comes before a reserved KEYREQUEST byte',
      (x) => {
        x.put(BUF + 100, Uint8Array.of(1));
        return { rbx: base(x) + BUF, rcx: base(x) + TCS0 };
      },
      (x) => pfAt(base(x) + TCS0, 0x8007),
    ],
  ];
  it.each(faultRows)('%s', (_rule, setup, want) => {
    const x = inside();
    x.put(BUF, keyRequest({ keyName: KeyName.SEAL }));
    const { rbx, rcx } = setup(x);
    x.put(BUF2, new Uint8Array(16).fill(0xee));
    const rip = x.p.lps[0]!.cpu.rip;
    expect(x.leaf(EncluLeaf.EGETKEY, { [R.RBX]: rbx, [R.RCX]: rcx })).toEqual(want(x));
    expect(x.p.lps[0]!.cpu.rip, 'RIP stays at ENCLU').toBe(rip);
    expect(x.get(BUF2, 16), 'OUTPUTDATA untouched').toEqual(new Uint8Array(16).fill(0xee));
  });

  const requestRows: Array<[string, Partial<Parameters<typeof encode<typeof KEYREQUEST>>[1]>, Uint8Array?]> = [
    ['a non-zero reserved byte at 6 is #GP(0)', { keyName: KeyName.SEAL, reserved1: Uint8Array.of(0, 1) }],
    ['a non-zero reserved byte at 100 is #GP(0)', { keyName: KeyName.SEAL }, Uint8Array.of(100)],
    ['a reserved KEYPOLICY bit (6) is #GP(0)', { keyName: KeyName.SEAL, keyPolicy: 1 << 6 }],
    ['KEYPOLICY.NOISVPRODID without KSS is #GP(0)', { keyName: KeyName.SEAL, keyPolicy: KeyPolicy.NOISVPRODID }],
    ['KEYPOLICY.CONFIGID without KSS is #GP(0)', { keyName: KeyName.SEAL, keyPolicy: KeyPolicy.CONFIGID }],
    ['CONFIGSVN > 0 without KSS is #GP(0)', { keyName: KeyName.SEAL, configSvn: 1 }],
    ['a reserved KEYREQUEST byte is #GP(0) even for an unknown KEYNAME', { keyName: 9 }, Uint8Array.of(200)],
  ];
  it.each(requestRows)('%s', (_rule, fields, poke) => {
    const x = inside();
    const req = keyRequest(fields);
    if (poke) req[poke[0]!] = 1;
    x.put(BUF, req);
    expect(x.leaf(EncluLeaf.EGETKEY, { [R.RBX]: x.e.base + BUF, [R.RCX]: x.e.base + BUF2 })).toEqual(gpOut);
  });

  const statusRows: Array<[string, Partial<Parameters<typeof encode<typeof KEYREQUEST>>[1]>, number, LoadOptions?]> = [
    ['an unknown KEYNAME is SGX_INVALID_KEYNAME', { keyName: 5 }, SgxStatus.INVALID_KEYNAME],
    [
      'SEAL with a CPUSVN beyond CR_CPUSVN is SGX_INVALID_CPUSVN',
      { keyName: KeyName.SEAL, cpuSvn: new Uint8Array(16).fill(0xff) },
      SgxStatus.INVALID_CPUSVN,
    ],
    [
      'SEAL with ISVSVN above SECS.ISVSVN is SGX_INVALID_ISVSVN',
      { keyName: KeyName.SEAL, isvSvn: 1 },
      SgxStatus.INVALID_ISVSVN,
    ],
    [
      'SEAL checks CPUSVN before ISVSVN',
      { keyName: KeyName.SEAL, isvSvn: 1, cpuSvn: new Uint8Array(16).fill(0xff) },
      SgxStatus.INVALID_CPUSVN,
    ],
    [
      'EINITTOKEN without ATTRIBUTES.EINITTOKENKEY is SGX_INVALID_ATTRIBUTE',
      { keyName: KeyName.EINITTOKEN },
      SgxStatus.INVALID_ATTRIBUTE,
    ],
    [
      'PROVISION without ATTRIBUTES.PROVISIONKEY is SGX_INVALID_ATTRIBUTE',
      { keyName: KeyName.PROVISION },
      SgxStatus.INVALID_ATTRIBUTE,
    ],
    [
      'PROVISION_SEAL without ATTRIBUTES.PROVISIONKEY is SGX_INVALID_ATTRIBUTE (before its CPUSVN check)',
      { keyName: KeyName.PROVISION_SEAL, cpuSvn: new Uint8Array(16).fill(0xff) },
      SgxStatus.INVALID_ATTRIBUTE,
    ],
    [
      'PROVISION with the attribute but a CPUSVN beyond is SGX_INVALID_CPUSVN',
      { keyName: KeyName.PROVISION, cpuSvn: new Uint8Array(16).fill(0xff) },
      SgxStatus.INVALID_CPUSVN,
      { attributes: AttrFlags.MODE64BIT | AttrFlags.PROVISIONKEY },
    ],
    [
      'EINITTOKEN with the attribute but ISVSVN above is SGX_INVALID_ISVSVN',
      { keyName: KeyName.EINITTOKEN, isvSvn: 3 },
      SgxStatus.INVALID_ISVSVN,
      { attributes: AttrFlags.MODE64BIT | AttrFlags.EINITTOKENKEY },
    ],
  ];
  it.each(statusRows)('%s; ZF = 1 and OUTPUTDATA is not written', (_rule, fields, status, load) => {
    const x = inside(load);
    x.put(BUF, keyRequest(fields));
    x.put(BUF2, new Uint8Array(16).fill(0xee));
    const c = x.p.lps[0]!.cpu;
    c.setFlags(0x202 | 0x8d5); // CF, PF, AF, ZF, SF, OF all set
    const rip = c.rip;
    expect(x.leaf(EncluLeaf.EGETKEY, { [R.RBX]: x.e.base + BUF, [R.RCX]: x.e.base + BUF2 })).toEqual({ kind: 'done' });
    expect(c.getReg64(R.RAX), 'RAX = the status').toBe(BigInt(status));
    expect(c.getFlags() & 0x8d5, 'ZF = 1; CF, PF, AF, SF, OF = 0').toBe(0x40);
    expect(x.get(BUF2, 16), 'OUTPUTDATA not written').toEqual(new Uint8Array(16).fill(0xee));
    expect(c.rip, 'RIP after ENCLU').toBe(rip + 3);
  });

  it.each([
    ['SEAL (MRENCLAVE policy)', { keyName: KeyName.SEAL, keyPolicy: KeyPolicy.MRENCLAVE }, {}],
    [
      'SEAL (MRSIGNER policy, a key id)',
      { keyName: KeyName.SEAL, keyPolicy: 2, keyId: new Uint8Array(32).fill(9) },
      {},
    ],
    ['REPORT', { keyName: KeyName.REPORT, keyId: new Uint8Array(32).fill(3) }, {}],
    [
      'PROVISION with the attribute',
      { keyName: KeyName.PROVISION },
      { attributes: AttrFlags.MODE64BIT | AttrFlags.PROVISIONKEY },
    ],
    [
      'PROVISION_SEAL with the attribute',
      { keyName: KeyName.PROVISION_SEAL, keyPolicy: KeyPolicy.MRSIGNER },
      { attributes: AttrFlags.MODE64BIT | AttrFlags.PROVISIONKEY },
    ],
    [
      'EINITTOKEN with the attribute',
      { keyName: KeyName.EINITTOKEN },
      { attributes: AttrFlags.MODE64BIT | AttrFlags.EINITTOKENKEY },
    ],
  ] as Array<[string, Partial<Parameters<typeof encode<typeof KEYREQUEST>>[1]>, LoadOptions]>)(
    'derives %s with keys.ts’s dependencies: RAX = 0, ZF = 0, 16 bytes at OUTPUTDATA',
    (_name, fields, load) => {
      const x = inside(load);
      const req = keyRequest(fields);
      x.put(BUF, req);
      const c = x.p.lps[0]!.cpu;
      c.setFlags(0x202 | 0x8d5);
      expect(x.leaf(EncluLeaf.EGETKEY, { [R.RBX]: x.e.base + BUF, [R.RCX]: x.e.base + BUF2 + 16 })).toEqual({
        kind: 'done',
      });
      expect(c.getReg64(R.RAX), 'SGX_SUCCESS').toBe(0n);
      expect(c.getFlags() & 0x8d5, 'ZF, CF, PF, AF, SF, OF = 0').toBe(0);
      const want = deriveKey(
        x.p.m.crypto,
        x.p.m.secrets.rootProvisioningKey,
        egetkeyDependencies(secsView(x), decode(KEYREQUEST, req), x.p.m.keyPlatformInputs()),
      );
      expect(toHex(x.get(BUF2 + 16, 16)), 'the key').toBe(toHex(want));
    },
  );

  it('gives two enclaves of one signer the same MRSIGNER-policy seal key and different MRENCLAVE-policy keys', () => {
    const p = makePlatform();
    const lp = p.lps[0]!;
    const sealKeys = (elf: Uint8Array): string[] => {
      const e = loadEnclave(p, elf);
      atStub(lp, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
      expect(lp.run(1).stop.kind, 'inside').toBe('budget');
      // The unmeasured heap page every layout ends with: RW, PT_REG.
      const heap = e.layout.segments.find((s) => s.kind === 'heap')!.offset;
      const pa = e.pageAt.get(heap)!;
      const ctx = { m: p.m, cpu: lp.cpu, cpuId: 0 };
      const keys = [KeyPolicy.MRSIGNER, KeyPolicy.MRENCLAVE].map((policy) => {
        p.m.physMem.write(pa, keyRequest({ keyName: KeyName.SEAL, keyPolicy: policy }));
        lp.cpu.setReg64(R.RBX, BigInt(e.base + heap));
        lp.cpu.setReg64(R.RCX, BigInt(e.base + heap + 512));
        lp.cpu.nextRip = lp.cpu.rip + 3;
        expect(enclu(ctx, EncluLeaf.EGETKEY)).toEqual({ kind: 'done' });
        expect(lp.cpu.getReg64(R.RAX), 'SGX_SUCCESS').toBe(0n);
        return toHex(p.m.physMem.read(pa + 512, 16));
      });
      lp.cpu.setReg64(R.RBX, 0x40_0003n);
      lp.cpu.nextRip = lp.cpu.rip + 3;
      expect(enclu(ctx, EncluLeaf.EEXIT)).toEqual({ kind: 'done' });
      return keys;
    };
    const [sampleSigner, sampleEnclave] = sealKeys(SAMPLE_ELF);
    const [computeSigner, computeEnclave] = sealKeys(COMPUTE_ELF);
    expect(computeSigner, 'MRSIGNER policy: same signer, same key').toBe(sampleSigner);
    expect(computeEnclave, 'MRENCLAVE policy: different enclaves, different keys').not.toBe(sampleEnclave);
    expect(sampleSigner, 'the two policies give different keys').not.toBe(sampleEnclave);
  });
});

describe('ENCLU[EREPORT]', () => {
  const TI = 0x3000;
  const RD = 0x3200;
  const OUT = 0x3400;
  const rows: Array<[string, (x: Inside) => Record<number, number>, (x: Inside) => EncluOutcome]> = [
    ['TARGETINFO not 512-aligned is #GP(0)', (x) => regs(x, { ti: TI + 64 }), () => gpOut],
    ['TARGETINFO outside ELRANGE is #GP(0)', (x) => ({ ...regs(x), [R.RBX]: DATA }), () => gpOut],
    ['TARGETINFO on a TCS page is #PF 0x8005', (x) => regs(x, { ti: TCS0 }), (x) => pfAt(x.e.base, 0x8005)],
    ['REPORTDATA not 128-aligned is #GP(0)', (x) => regs(x, { rd: RD + 64 }), () => gpOut],
    ['REPORTDATA outside ELRANGE is #GP(0)', (x) => ({ ...regs(x), [R.RCX]: DATA }), () => gpOut],
    [
      'a #PF on TARGETINFO comes before a misaligned REPORTDATA',
      (x) => regs(x, { ti: TCS0, rd: RD + 64 }),
      (x) => pfAt(x.e.base, 0x8005),
    ],
    ['OUTPUTDATA not 512-aligned is #GP(0)', (x) => regs(x, { out: OUT + 128 }), () => gpOut],
    ['OUTPUTDATA outside ELRANGE is #GP(0)', (x) => ({ ...regs(x), [R.RDX]: DATA }), () => gpOut],
    [
      'OUTPUTDATA on an EPCM read-only page (PTE writable) is #PF 0x8007',
      (x) => {
        x.p.space.mapPfn(x.e.base + CODE, x.e.pageAt.get(CODE)! / 4096, PTE_P | PTE_U | PTE_W);
        return regs(x, { out: CODE });
      },
      (x) => pfAt(x.e.base + CODE, 0x8007),
    ],
  ];
  function regs(x: Inside, o: { ti?: number; rd?: number; out?: number } = {}): Record<number, number> {
    return {
      [R.RBX]: x.e.base + (o.ti ?? TI),
      [R.RCX]: x.e.base + (o.rd ?? RD),
      [R.RDX]: x.e.base + (o.out ?? OUT),
    };
  }
  it.each(rows)('%s', (_rule, setup, want) => {
    const x = inside();
    x.put(OUT, new Uint8Array(432).fill(0xee));
    expect(x.leaf(EncluLeaf.EREPORT, setup(x))).toEqual(want(x));
    expect(x.get(OUT, 432), 'OUTPUTDATA untouched').toEqual(new Uint8Array(432).fill(0xee));
  });

  it('writes the REPORT of the enclave, MACed with the target’s report key (node:crypto CMAC), flags untouched', () => {
    const x = inside();
    const target = { attributes: 0x7n, xfrm: 3n, mrEnclave: new Uint8Array(32).fill(0x5a), miscSelect: 1 };
    x.put(
      TI,
      encode(TARGETINFO, {
        measurement: target.mrEnclave,
        attributes: target.attributes,
        xfrm: target.xfrm,
        miscSelect: target.miscSelect,
      }),
    );
    const reportData = Uint8Array.from({ length: 64 }, (_, i) => i * 3);
    x.put(RD, reportData);
    const c = x.p.lps[0]!.cpu;
    c.setFlags(0x202 | 0x41);
    const rip = c.rip;
    expect(x.leaf(EncluLeaf.EREPORT, regs(x))).toEqual({ kind: 'done' });
    expect(c.rip, 'RIP after ENCLU').toBe(rip + 3);
    expect(c.getFlags() & 0x8d5, 'flags unaffected').toBe(0x41);
    const bytes = x.get(OUT, 432);
    const r = decode(REPORT, bytes);
    expect(toHex(r.cpuSvn), 'CPUSVN = CR_CPUSVN').toBe(toHex(x.p.m.cpuSvn));
    expect(r.miscSelect, 'MISCSELECT').toBe(1);
    expect(r.attributes, 'ATTRIBUTES: INIT | MODE64BIT').toBe(AttrFlags.INIT | AttrFlags.MODE64BIT);
    expect(r.xfrm, 'XFRM').toBe(3n);
    expect(toHex(r.mrEnclave), 'MRENCLAVE = the offline measurement').toBe(toHex(x.e.mrEnclave));
    expect(toHex(r.mrSigner), 'MRSIGNER of the selftests’ key (sgx-isa.md §7.3)').toBe(SELFTEST_MRSIGNER);
    expect(toHex(r.reportData), 'REPORTDATA').toBe(toHex(reportData));
    expect(toHex(r.keyId), 'KEYID = CR_REPORT_KEYID').toBe(toHex(x.p.m.secrets.reportKeyId));
    expect([r.isvProdId, r.isvSvn, r.configSvn], 'ISVPRODID, ISVSVN, CONFIGSVN').toEqual([0, 0, 0]);
    for (const f of ['reserved1', 'reserved2', 'reserved3', 'reserved4'] as const)
      expect(
        r[f].every((b) => b === 0),
        `${f} zero`,
      ).toBe(true);
    const key = deriveKey(
      x.p.m.crypto,
      x.p.m.secrets.rootProvisioningKey,
      reportKeyDependencies(
        { ...target, configId: new Uint8Array(64), configSvn: 0 },
        r.keyId,
        x.p.m.keyPlatformInputs(),
      ),
    );
    expect(toHex(r.mac), 'MAC = CMAC(report key of the target, REPORT[0..384))').toBe(
      toHex(nodeCmac(key, bytes.subarray(0, 384))),
    );
  });

  it('uses an AES-CMAC oracle that reproduces RFC 4493 (sgx-isa.md §7.1)', () => {
    const k = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
    const m = fromHex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411');
    expect(toHex(nodeCmac(k, new Uint8Array(0)))).toBe('bb1d6929e95937287fa37d129b756746');
    expect(toHex(nodeCmac(k, m.subarray(0, 16)))).toBe('070a16b46b4d4144f79bdd9dd04a287c');
    expect(toHex(nodeCmac(k, m))).toBe('dfa66747de9ae63030ca32611497c827');
  });
});
