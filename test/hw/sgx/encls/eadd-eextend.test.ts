import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decode,
  type EnclsOutcome,
  hiddenU64,
  nobleBackend,
  PageType,
  type SgxMachine,
  TCS,
  toHex,
} from '../../../../src/hw/index';
import { nodeBackend } from '../../../../src/node/crypto-node';
import {
  buildSigstruct,
  buildV2,
  DONE,
  doEadd,
  doEcreate,
  doEextendPage,
  doEinit,
  epcPa,
  gpFault,
  HOLE_PA,
  Leaf,
  makeTestMachine,
  OK,
  PAGE,
  PAGEINFO_PA,
  pfFault,
  run,
  SECINFO_PA,
  SELFTEST_MRSIGNER,
  SPARE_PA,
  SRC_PA,
  secsImage,
  setLeHash,
  V2_BASE,
  V2_MRENCLAVE,
  writePageinfo,
  writeSecinfo,
} from '../fixture';

const SECS = 0;
const DST = 1;

interface EaddCase {
  readonly rule: string;
  /** Mutates the valid setup (SECS in page 0, a REG page for V2_BASE + 0x1000 into page 1). */
  readonly tweak?: (m: SgxMachine) => void;
  /** Register operands other than the valid defaults. */
  readonly regs?: { rbx?: number; rcx?: number };
  readonly want: EnclsOutcome;
}

function eaddAttempt(c: EaddCase, image = secsImage({ baseAddr: V2_BASE })): EnclsOutcome {
  const m = makeTestMachine();
  expect(doEcreate(m, SECS, image)).toEqual(DONE);
  m.physMem.write(SRC_PA, new Uint8Array(PAGE));
  writeSecinfo(m, 0x203n);
  writePageinfo(m, { linAddr: V2_BASE + 0x1000n, srcPge: SRC_PA, secinfo: SECINFO_PA, secs: epcPa(SECS) });
  c.tweak?.(m);
  const r = c.regs ?? {};
  return run(m, Leaf.EADD, { rbx: r.rbx ?? PAGEINFO_PA, rcx: r.rcx ?? epcPa(DST) });
}

const pi = (m: SgxMachine, f: Parameters<typeof writePageinfo>[1]) =>
  writePageinfo(m, { linAddr: V2_BASE + 0x1000n, srcPge: SRC_PA, secinfo: SECINFO_PA, secs: epcPa(SECS), ...f });

const EADD_CASES: EaddCase[] = [
  { rule: 'RBX not 32-byte aligned is #GP(0)', regs: { rbx: PAGEINFO_PA + 4 }, want: gpFault() },
  { rule: 'RCX not 4K aligned is #GP(0)', regs: { rcx: epcPa(DST) + 8 }, want: gpFault() },
  {
    rule: 'RCX outside the EPC is #PF(RCX)',
    regs: { rcx: SPARE_PA },
    want: pfFault(SPARE_PA, { write: true }),
  },
  { rule: 'SRCPGE not 4K aligned is #GP(0)', tweak: (m) => pi(m, { srcPge: SRC_PA + 16 }), want: gpFault() },
  { rule: 'PAGEINFO.SECS not 4K aligned is #GP(0)', tweak: (m) => pi(m, { secs: epcPa(SECS) + 8 }), want: gpFault() },
  { rule: 'SECINFO not 64-byte aligned is #GP(0)', tweak: (m) => pi(m, { secinfo: SECINFO_PA + 32 }), want: gpFault() },
  { rule: 'LINADDR not 4K aligned is #GP(0)', tweak: (m) => pi(m, { linAddr: V2_BASE + 0x1010n }), want: gpFault() },
  {
    rule: 'PAGEINFO.SECS outside the EPC is #PF(SECS)',
    tweak: (m) => pi(m, { secs: SPARE_PA }),
    want: pfFault(SPARE_PA),
  },
  {
    rule: 'a non-zero SECINFO reserved byte is #GP(0)',
    tweak: (m) => m.physMem.write(SECINFO_PA + 8, Uint8Array.of(1)),
    want: gpFault(),
  },
  {
    rule: 'a reserved SECINFO.FLAGS bit is #GP(0)',
    tweak: (m) => writeSecinfo(m, 0x203n | (1n << 16n)),
    want: gpFault(),
  },
  {
    rule: 'a reserved SECINFO.FLAGS bit in the high half is #GP(0)',
    tweak: (m) => writeSecinfo(m, 0x203n | (1n << 63n)),
    want: gpFault(),
  },
  {
    rule: 'SECINFO.FLAGS bit 32 is reserved (#GP(0))',
    tweak: (m) => writeSecinfo(m, 0x203n | (1n << 32n)),
    want: gpFault(),
  },
  {
    rule: 'PAGEINFO in the EPC reads as all ones, so its pointers are misaligned (#GP(0))',
    regs: { rbx: epcPa(9) },
    want: gpFault(),
  },
  { rule: 'an unmapped PAGEINFO is #PF(RBX)', regs: { rbx: HOLE_PA }, want: pfFault(HOLE_PA, { unmapped: true }) },
  {
    rule: 'SECINFO in the EPC reads as all ones, so its reserved bytes are not zero (#GP(0))',
    tweak: (m) => pi(m, { secinfo: epcPa(9) }),
    want: gpFault(),
  },
  {
    rule: 'an unmapped SECINFO is #PF(SECINFO)',
    tweak: (m) => pi(m, { secinfo: HOLE_PA }),
    want: pfFault(HOLE_PA, { unmapped: true }),
  },
  { rule: 'a non-canonical SRCPGE is #GP(0)', tweak: (m) => pi(m, { srcPge: 1n << 47n }), want: gpFault() },
  {
    rule: 'an upper-half SRCPGE faults when copied (nothing is mapped there)',
    tweak: (m) => pi(m, { srcPge: 0xffff_8000_0000_0000n }),
    want: pfFault(Number(0xffff_8000_0000_0000n), { unmapped: true }),
  },
  { rule: 'SECINFO.FLAGS.PENDING is #GP(0) for EADD', tweak: (m) => writeSecinfo(m, 0x20bn), want: gpFault() },
  { rule: 'SECINFO.FLAGS.PR is #GP(0) for EADD', tweak: (m) => writeSecinfo(m, 0x223n), want: gpFault() },
  { rule: 'PT_SECS is not a page type EADD accepts (#GP(0))', tweak: (m) => writeSecinfo(m, 0x003n), want: gpFault() },
  { rule: 'PT_VA is not a page type EADD accepts (#GP(0))', tweak: (m) => writeSecinfo(m, 0x300n), want: gpFault() },
  {
    rule: 'a valid destination page is #PF(RCX)',
    tweak: (m) => {
      expect(doEadd(m, DST, SECS, V2_BASE + 0x2000n, 0x203n)).toEqual(DONE);
      m.physMem.write(SRC_PA, new Uint8Array(PAGE));
      writeSecinfo(m, 0x203n);
      pi(m, {});
    },
    want: pfFault(epcPa(DST), { write: true }),
  },
  {
    rule: 'PAGEINFO.SECS naming an invalid EPC page is #PF(SECS)',
    tweak: (m) => pi(m, { secs: epcPa(9) }),
    want: pfFault(epcPa(9)),
  },
  {
    rule: 'PAGEINFO.SECS naming a page that is not PT_SECS is #PF(SECS)',
    tweak: (m) => {
      expect(doEadd(m, 2, SECS, V2_BASE + 0x2000n, 0x203n)).toEqual(DONE);
      m.physMem.write(SRC_PA, new Uint8Array(PAGE));
      writeSecinfo(m, 0x203n);
      pi(m, { secs: epcPa(2) });
    },
    want: pfFault(epcPa(2)),
  },
  {
    rule: 'an unmapped source page faults when copied',
    tweak: (m) => pi(m, { srcPge: HOLE_PA }),
    want: pfFault(HOLE_PA, { unmapped: true }),
  },
  {
    rule: 'a TCS with a non-zero reserved byte is #GP(0)',
    tweak: (m) => {
      writeSecinfo(m, 0x100n);
      m.physMem.write(SRC_PA + 100, Uint8Array.of(1));
    },
    want: gpFault(),
  },
  { rule: 'a REG page with W but not R is #GP(0)', tweak: (m) => writeSecinfo(m, 0x202n), want: gpFault() },
  { rule: 'LINADDR below BASEADDR is #GP(0)', tweak: (m) => pi(m, { linAddr: V2_BASE - 0x1000n }), want: gpFault() },
  {
    rule: 'LINADDR at BASEADDR + SIZE is #GP(0)',
    tweak: (m) => pi(m, { linAddr: V2_BASE + 0x4000n }),
    want: gpFault(),
  },
];

describe('ENCLS[EADD] error paths (SDM Vol. 3D §41.2 EADD)', () => {
  it.each(EADD_CASES)('$rule', (c) => {
    expect(eaddAttempt(c), c.rule).toEqual(c.want);
  });

  it('a 32-bit enclave refuses a TCS whose FSLIMIT low 12 bits are not FFFh (#GP(0))', () => {
    const image = secsImage({ attributes: 0n, baseAddr: V2_BASE });
    const tcs =
      (fs: number) =>
      (m: SgxMachine): void => {
        writeSecinfo(m, 0x100n);
        const page = new Uint8Array(PAGE);
        new DataView(page.buffer).setUint32(64, fs, true);
        new DataView(page.buffer).setUint32(68, 0xfff, true);
        m.physMem.write(SRC_PA, page);
      };
    expect(eaddAttempt({ rule: '', tweak: tcs(0x1000), want: gpFault() }, image)).toEqual(gpFault());
    expect(eaddAttempt({ rule: '', tweak: tcs(0x1fff), want: DONE }, image)).toEqual(DONE);
  });

  it('refuses to add to an initialized enclave (#GP(0))', () => {
    const m = makeTestMachine();
    buildV2(m);
    setLeHash(m, SELFTEST_MRSIGNER);
    expect(doEinit(m, SECS, buildSigstruct())).toEqual(OK);
    expect(doEadd(m, 9, SECS, V2_BASE + 0x3000n, 0x203n)).toEqual(gpFault());
  });
});

describe('ENCLS[EADD] effects', () => {
  it('binds the page in the EPCM and counts it as a child of the SECS', () => {
    const m = makeTestMachine();
    expect(doEcreate(m, SECS, secsImage({ baseAddr: V2_BASE }))).toEqual(DONE);
    const content = Uint8Array.from({ length: PAGE }, (_, i) => (i * 7) & 0xff);
    expect(doEadd(m, DST, SECS, V2_BASE + 0x1000n, 0x205n, content)).toEqual(DONE);
    expect(m.epcm.get(DST)).toMatchObject({
      pt: PageType.REG,
      r: true,
      w: false,
      x: true,
      enclaveSecs: SECS,
      enclaveAddress: V2_BASE + 0x1000n,
      blocked: false,
    });
    expect(m.epcPage(DST)).toEqual(content);
    expect(hiddenU64(m.epcPage(SECS), 'childCnt')).toBe(1n);
  });

  it('forces DBGOPTIN, CSSA, AEP, STATE and the EPCM R/W/X of a TCS to 0, and measures R/W/X = 0', () => {
    const dirty = new Uint8Array(PAGE);
    const dv = new DataView(dirty.buffer);
    dv.setBigUint64(0, 0xaan, true); // STATE
    dv.setBigUint64(8, 0x3n, true); // FLAGS: DBGOPTIN | AEXNOTIFY
    dv.setUint32(24, 5, true); // CSSA
    dv.setUint32(28, 9, true); // NSSA
    dv.setBigUint64(40, 0x1234n, true); // AEP
    const mrOf = (flags: bigint) => {
      const m = makeTestMachine();
      expect(doEcreate(m, SECS, secsImage({ baseAddr: V2_BASE }))).toEqual(DONE);
      expect(doEadd(m, DST, SECS, V2_BASE, flags, dirty)).toEqual(DONE);
      const t = decode(TCS, m.epcPage(DST));
      expect(t).toMatchObject({ state: 0n, flags: 0x2n, cssa: 0, nssa: 9, aep: 0n });
      expect(m.epcm.get(DST)).toMatchObject({ pt: PageType.TCS, r: false, w: false, x: false });
      return toHex(m.measurement(hiddenU64(m.epcPage(SECS), 'eid'))!.finalize());
    };
    expect(mrOf(0x107n), 'a TCS SECINFO with RWX must measure like one without').toBe(mrOf(0x100n));
  });
});

describe('ENCLS[EEXTEND] (SDM Vol. 3D §41.2 EEXTEND)', () => {
  function setup(): SgxMachine {
    const m = makeTestMachine();
    expect(doEcreate(m, SECS, secsImage({ baseAddr: V2_BASE }))).toEqual(DONE);
    expect(doEadd(m, DST, SECS, V2_BASE + 0x1000n, 0x203n)).toEqual(DONE);
    expect(doEcreate(m, 5, secsImage({ baseAddr: 0x20_0000n }))).toEqual(DONE);
    return m;
  }
  const cases: Array<[string, { rbx: number; rcx: number }, EnclsOutcome]> = [
    ['RBX not 4K aligned is #GP(0)', { rbx: epcPa(SECS) + 8, rcx: epcPa(DST) }, gpFault()],
    ['RBX outside the EPC is #PF(RBX)', { rbx: SPARE_PA, rcx: epcPa(DST) }, pfFault(SPARE_PA)],
    ['RCX not 256-byte aligned is #GP(0)', { rbx: epcPa(SECS), rcx: epcPa(DST) + 128 }, gpFault()],
    ['RCX outside the EPC is #PF(RCX)', { rbx: epcPa(SECS), rcx: SPARE_PA + 256 }, pfFault(SPARE_PA + 256)],
    ['RCX in an invalid EPC page is #PF(RCX)', { rbx: epcPa(SECS), rcx: epcPa(7) }, pfFault(epcPa(7))],
    ['RCX in a SECS page is #PF(RCX)', { rbx: epcPa(SECS), rcx: epcPa(SECS) + 256 }, pfFault(epcPa(SECS) + 256)],
    ['RBX naming another enclave’s SECS is #GP(0)', { rbx: epcPa(5), rcx: epcPa(DST) }, gpFault()],
    ['RBX naming a non-SECS page is #GP(0)', { rbx: epcPa(DST), rcx: epcPa(DST) }, gpFault()],
  ];
  it.each(cases)('%s', (_rule, regs, want) => {
    expect(run(setup(), Leaf.EEXTEND, regs)).toEqual(want);
  });

  it('refuses an initialized enclave (#GP(0))', () => {
    const m = makeTestMachine();
    const [, reg] = buildV2(m);
    setLeHash(m, SELFTEST_MRSIGNER);
    expect(doEinit(m, SECS, buildSigstruct())).toEqual(OK);
    expect(run(m, Leaf.EEXTEND, { rbx: epcPa(SECS), rcx: epcPa(reg!) })).toEqual(gpFault());
  });

  it('measures 256 bytes as one header and four data blocks at ENCLAVEOFFSET + (RCX & 0xFFF)', () => {
    const m = setup();
    const eid = hiddenU64(m.epcPage(SECS), 'eid');
    const before = m.measurement(eid)!.blocks;
    expect(run(m, Leaf.EEXTEND, { rbx: epcPa(SECS), rcx: epcPa(DST) + 0x300 })).toEqual(DONE);
    expect(m.measurement(eid)!.blocks).toBe(before + 5);
  });
});

describe('MRENCLAVE through the real leaves', () => {
  it.each([nobleBackend, nodeBackend])('ECREATE/EADD/EEXTEND/EINIT reproduce sgx-isa.md §7.2 V2 ($name)', (crypto) => {
    const m = makeTestMachine({ crypto });
    buildV2(m);
    expect(m.measurement(hiddenU64(m.epcPage(SECS), 'eid'))!.blocks).toBe(245);
    setLeHash(m, SELFTEST_MRSIGNER);
    expect(doEinit(m, SECS, buildSigstruct())).toEqual(OK);
    expect(toHex(m.epcPage(SECS).subarray(64, 96))).toBe(V2_MRENCLAVE);
  });

  it('EEXTEND of a TCS measures the EPC copy with the values EADD forced, not the source page', () => {
    const src = new Uint8Array(PAGE);
    const dv = new DataView(src.buffer);
    dv.setBigUint64(0, 7n, true); // STATE
    dv.setBigUint64(8, 1n, true); // FLAGS.DBGOPTIN
    dv.setUint32(24, 3, true); // CSSA
    dv.setUint32(28, 4, true); // NSSA
    dv.setBigUint64(40, 0x55n, true); // AEP
    const clean = src.slice();
    clean.fill(0, 0, 8);
    clean.fill(0, 8, 16);
    clean.fill(0, 24, 28);
    clean.fill(0, 40, 48);
    const m = makeTestMachine();
    expect(doEcreate(m, SECS, secsImage({ baseAddr: V2_BASE }))).toEqual(DONE);
    expect(doEadd(m, DST, SECS, V2_BASE, 0x100n, src)).toEqual(DONE);
    expect(doEextendPage(m, SECS, DST).every((o) => o.kind === 'done')).toBe(true);
    // The oracle: SHA-256 (node:crypto) over records built here from the SDM pseudo-code.
    const rec = (tag: string, fill: (d: DataView) => void) => {
      const r = new Uint8Array(64);
      r.set(new TextEncoder().encode(tag));
      fill(new DataView(r.buffer));
      return r;
    };
    const h = createHash('sha256');
    h.update(
      rec('ECREATE', (d) => {
        d.setUint32(8, 1, true);
        d.setBigUint64(12, 0x4000n, true);
      }),
    );
    h.update(rec('EADD', (d) => d.setBigUint64(16, 0x100n, true)));
    for (let c = 0; c < PAGE; c += 256) {
      h.update(rec('EEXTEND', (d) => d.setBigUint64(8, BigInt(c), true)));
      h.update(clean.subarray(c, c + 256));
    }
    expect(toHex(m.measurement(hiddenU64(m.epcPage(SECS), 'eid'))!.finalize())).toBe(h.digest('hex'));
  });
});
