import { describe, expect, it } from 'vitest';
import {
  type EnclsOutcome,
  getField,
  hiddenU64,
  PageType,
  SECS,
  type SgxMachine,
  toHex,
} from '../../../../src/hw/index';
import {
  DONE,
  doEcreate,
  EPC_BASE,
  epcPa,
  gpFault,
  HOLE_PA,
  Leaf,
  makeTestMachine,
  PAGEINFO_PA,
  pfFault,
  run,
  SECINFO_PA,
  type SecsFields,
  SPARE_PA,
  SRC_PA,
  secsImage,
  writePageinfo,
  writeSecinfo,
} from '../fixture';

interface Case {
  readonly rule: string;
  readonly features?: Parameters<typeof makeTestMachine>[0];
  readonly secs?: SecsFields;
  /** Changes the inputs after the default, valid setup. */
  readonly tweak?: (m: SgxMachine, image: Uint8Array) => void;
  /** Register operands other than the valid defaults. */
  readonly regs?: { rbx?: number; rcx?: number };
  readonly want: EnclsOutcome;
}

const SECS_PA = epcPa(0);

/** Sets up a valid ECREATE of `image` into EPC page 0, then applies the case's tweak. */
function attempt(c: Case): EnclsOutcome {
  const m = makeTestMachine(c.features);
  const image = secsImage(c.secs);
  writeSecinfo(m, 0n);
  writePageinfo(m, { srcPge: SRC_PA, secinfo: SECINFO_PA });
  c.tweak?.(m, image);
  const regs = c.regs ?? {};
  m.physMem.write(SRC_PA, image);
  return run(m, Leaf.ECREATE, { rbx: regs.rbx ?? PAGEINFO_PA, rcx: regs.rcx ?? SECS_PA });
}

const CASES: Case[] = [
  { rule: 'RBX (PAGEINFO) not 32-byte aligned is #GP(0)', regs: { rbx: PAGEINFO_PA + 8 }, want: gpFault() },
  { rule: 'RCX not 4K aligned is #GP(0)', regs: { rcx: SECS_PA + 64 }, want: gpFault() },
  { rule: 'a non-canonical RCX is #GP(0)', regs: { rcx: 2 ** 47 }, want: gpFault() },
  {
    rule: 'RCX outside the EPC is #PF(RCX) with the SGX bit',
    regs: { rcx: SPARE_PA },
    want: pfFault(SPARE_PA, { write: true }),
  },
  {
    rule: 'RCX where nothing is mapped is a not-present #PF(RCX)',
    regs: { rcx: HOLE_PA },
    want: pfFault(HOLE_PA, { write: true, unmapped: true }),
  },
  {
    rule: 'an unmapped PAGEINFO page-faults when read',
    regs: { rbx: HOLE_PA },
    want: pfFault(HOLE_PA, { unmapped: true }),
  },
  {
    rule: 'SRCPGE not 4K aligned is #GP(0)',
    tweak: (m) => writePageinfo(m, { srcPge: SRC_PA + 8, secinfo: SECINFO_PA }),
    want: gpFault(),
  },
  {
    rule: 'a non-canonical SRCPGE is #GP(0)',
    tweak: (m) => writePageinfo(m, { srcPge: 1n << 48n, secinfo: SECINFO_PA }),
    want: gpFault(),
  },
  {
    rule: 'SECINFO not 64-byte aligned is #GP(0)',
    tweak: (m) => writePageinfo(m, { srcPge: SRC_PA, secinfo: SECINFO_PA + 8 }),
    want: gpFault(),
  },
  {
    rule: 'PAGEINFO.LINADDR ≠ 0 is #GP(0)',
    tweak: (m) => writePageinfo(m, { linAddr: 0x1000n, srcPge: SRC_PA, secinfo: SECINFO_PA }),
    want: gpFault(),
  },
  {
    rule: 'PAGEINFO.SECS ≠ 0 is #GP(0)',
    tweak: (m) => writePageinfo(m, { srcPge: SRC_PA, secinfo: SECINFO_PA, secs: EPC_BASE }),
    want: gpFault(),
  },
  {
    rule: 'a non-zero SECINFO reserved byte is #GP(0)',
    tweak: (m) => m.physMem.write(SECINFO_PA + 40, Uint8Array.of(1)),
    want: gpFault(),
  },
  { rule: 'a reserved SECINFO.FLAGS bit is #GP(0)', tweak: (m) => writeSecinfo(m, 1n << 6n), want: gpFault() },
  { rule: 'SECINFO.PT ≠ PT_SECS is #GP(0)', tweak: (m) => writeSecinfo(m, 0x200n), want: gpFault() },
  {
    rule: 'a valid destination EPC page is #PF(RCX)',
    tweak: (m) => {
      expect(doEcreate(m, 0)).toEqual(DONE);
      writeSecinfo(m, 0n);
      writePageinfo(m, { srcPge: SRC_PA, secinfo: SECINFO_PA });
    },
    want: pfFault(SECS_PA, { write: true }),
  },
  {
    rule: 'an unmapped SRCPGE page-faults when copied',
    tweak: (m) => writePageinfo(m, { srcPge: HOLE_PA, secinfo: SECINFO_PA }),
    want: pfFault(HOLE_PA, { unmapped: true }),
  },
  { rule: 'XFRM without x87 and SSE (bits 1:0 ≠ 11b) is #GP(0)', secs: { xfrm: 0x1n }, want: gpFault() },
  {
    rule: 'an illegal XFRM (one MPX bit without the other) is #GP(0)',
    features: { features: { allowedXfrm: 0x1fn } },
    secs: { xfrm: 0xbn },
    want: gpFault(),
  },
  { rule: 'an XFRM bit the CPU does not offer (AVX here) is #GP(0)', secs: { xfrm: 0x7n }, want: gpFault() },
  { rule: 'a MISCSELECT bit CPUID.(12H,0):EBX does not offer is #GP(0)', secs: { miscSelect: 2 }, want: gpFault() },
  { rule: 'SSAFRAMESIZE = 0 is #GP(0) (too small for XSAVE + GPRSGX)', secs: { ssaFrameSize: 0 }, want: gpFault() },
  {
    rule: 'an SSA frame smaller than XSAVE(XFRM) + MISC + GPRSGX is #GP(0) (AMX needs 3 pages)',
    features: { features: { allowedXfrm: 0x600e7n } },
    secs: { xfrm: 0x600e7n, ssaFrameSize: 2, miscSelect: 1 },
    want: gpFault(),
  },
  {
    rule: 'a non-canonical BASEADDR of a 64-bit enclave is #GP(0)',
    secs: { baseAddr: 1n << 47n, size: 0x2000n },
    want: gpFault(),
  },
  {
    rule: 'a BASEADDR above 4 GiB for a 32-bit enclave is #GP(0)',
    secs: { attributes: 0n, baseAddr: 1n << 32n, size: 0x2000n },
    want: gpFault(),
  },
  {
    rule: 'SIZE ≥ 2^CPUID.(12H,0):EDX[7:0] for a 32-bit enclave is #GP(0)',
    secs: { attributes: 0n, baseAddr: 0n, size: 1n << 31n },
    want: gpFault(),
  },
  {
    rule: 'SIZE ≥ 2^CPUID.(12H,0):EDX[15:8] for a 64-bit enclave is #GP(0)',
    secs: { baseAddr: 0n, size: 1n << 36n },
    want: gpFault(),
  },
  { rule: 'SIZE < 8192 is #GP(0)', secs: { size: 0x1000n, baseAddr: 0x1000n }, want: gpFault() },
  { rule: 'a SIZE that is not a power of two is #GP(0)', secs: { size: 0x3000n, baseAddr: 0n }, want: gpFault() },
  { rule: 'BASEADDR not aligned to SIZE is #GP(0)', secs: { size: 0x4000n, baseAddr: 0x2000n }, want: gpFault() },
  { rule: 'ATTRIBUTES.INIT set is #GP(0)', secs: { attributes: 0x5n }, want: gpFault() },
  { rule: 'a reserved ATTRIBUTES bit (bit 3) is #GP(0)', secs: { attributes: 0xcn }, want: gpFault() },
  { rule: 'ATTRIBUTES.KSS on a part without KSS is #GP(0)', secs: { attributes: 0x84n }, want: gpFault() },
  {
    rule: 'a non-zero SECS reserved byte is #GP(0)',
    tweak: (_m, image) => {
      image[30] = 1;
    },
    want: gpFault(),
  },
  {
    rule: 'a non-zero byte in the reserved tail of the SECS is #GP(0)',
    tweak: (_m, image) => {
      image[3500] = 1;
    },
    want: gpFault(),
  },
  {
    rule: 'CONFIGSVN ≠ 0 without ATTRIBUTES.KSS is #GP(0)',
    features: { features: { kss: true } },
    secs: { configSvn: 1 },
    want: gpFault(),
  },
  {
    rule: 'CONFIGID ≠ 0 without ATTRIBUTES.KSS is #GP(0)',
    features: { features: { kss: true } },
    tweak: (_m, image) => {
      image[200] = 1;
    },
    want: gpFault(),
  },
];

describe('ENCLS[ECREATE] error paths (SDM Vol. 3D §41.2 ECREATE)', () => {
  it.each(CASES)('$rule', (c) => {
    expect(attempt(c), c.rule).toEqual(c.want);
  });
});

describe('ENCLS[ECREATE] effects', () => {
  it('creates a valid SECS entry with R/W/X = 0, no address, and the V1 measurement', () => {
    const m = makeTestMachine();
    expect(doEcreate(m, 3, secsImage({ size: 0x2000n, baseAddr: 0x4000_0000n, ssaFrameSize: 1 }))).toEqual(DONE);
    const e = m.epcm.get(3)!;
    expect(e).toMatchObject({ valid: true, pt: PageType.SECS, r: false, w: false, x: false, enclaveAddress: 0n });
    expect(e).toMatchObject({ blocked: false, pending: false, modified: false, pr: false });
    const page = m.epcPage(3);
    expect(getField(SECS, page, 0, 'baseAddr')).toBe(0x4000_0000n);
    // sgx-isa.md §7.2 V1: only the ECREATE record, SSAFRAMESIZE = 1, SIZE = 0x2000.
    const eid = hiddenU64(page, 'eid');
    expect(toHex(m.measurement(eid)!.finalize())).toBe(
      '9e197c8837c6d65632dbdd59cd7df4f1a25b68d8e4e5eb6ca3b20b05311fecb8',
    );
  });

  it('assigns each enclave a fresh EID', () => {
    const m = makeTestMachine();
    const eids = [0, 1, 2].map((i) => {
      expect(doEcreate(m, i)).toEqual(DONE);
      return hiddenU64(m.epcPage(i), 'eid');
    });
    expect(new Set(eids).size, `EIDs ${eids} should be distinct`).toBe(3);
  });

  it('accepts an upper-half canonical BASEADDR, KSS with CONFIGSVN, and AMX with a 3-page SSA frame', () => {
    const m = makeTestMachine({ features: { kss: true, allowedXfrm: 0x600e7n } });
    expect(doEcreate(m, 0, secsImage({ baseAddr: 0xffff_8000_0000_0000n, size: 0x2000n }))).toEqual(DONE);
    expect(doEcreate(m, 1, secsImage({ attributes: 0x84n, configSvn: 7 }))).toEqual(DONE);
    expect(doEcreate(m, 2, secsImage({ xfrm: 0x600e7n, ssaFrameSize: 3, miscSelect: 1 }))).toEqual(DONE);
  });

  it('reads SRCPGE in EPC as the abort page, so the all-ones image is refused with #GP(0)', () => {
    const m = makeTestMachine();
    writeSecinfo(m, 0n);
    writePageinfo(m, { srcPge: epcPa(5), secinfo: SECINFO_PA });
    expect(run(m, Leaf.ECREATE, { rbx: PAGEINFO_PA, rcx: SECS_PA })).toEqual(gpFault());
  });
});
