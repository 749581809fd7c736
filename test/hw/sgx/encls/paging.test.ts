import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type EnclsOutcome,
  type EpcmEntry,
  enclaveEnter,
  enclaveExit,
  hiddenU64,
  nobleBackend,
  PageType,
  PhysMem,
  SgxMachine,
  SgxStatus,
} from '../../../../src/hw/index';
import { nodeBackend } from '../../../../src/node/crypto-node';
import {
  BACKING_PA,
  buildSigstruct,
  buildV2,
  DONE,
  doEinit,
  epcPa,
  gpFault,
  HOLE_PA,
  Leaf,
  makeTestMachine,
  OK,
  PAGE,
  PAGEINFO_PA,
  PCMD_AREA,
  pfFault,
  run,
  SELFTEST_MRSIGNER,
  SPARE_PA,
  setLeHash,
  status,
  V2_BASE,
  writePageinfo,
} from '../fixture';

const SECS = 0;
const [TCS, REG0, CODE, REG1] = [1, 2, 3, 4];
const VA = 10;
const slot = (i: number, va = VA) => epcPa(va) + 8 * i;
const backing = (i: number) => BACKING_PA + i * PAGE;
const pcmd = (i: number) => PCMD_AREA + i * 128;
const LIN: Record<number, bigint> = { [TCS]: V2_BASE, [REG0]: V2_BASE + 0x1000n, [CODE]: V2_BASE + 0x2000n };
LIN[REG1] = V2_BASE + 0x3000n;

/** An initialized V2 enclave (SECS 0, TCS 1, REG 2..4) and a VA page at EPC page 10. */
function setup(crypto = nobleBackend): SgxMachine {
  const m = makeTestMachine({ crypto });
  buildV2(m, SECS);
  setLeHash(m, SELFTEST_MRSIGNER);
  expect(doEinit(m, SECS, buildSigstruct())).toEqual(OK);
  expect(run(m, Leaf.EPA, { rbx: 3, rcx: epcPa(VA) })).toEqual(DONE);
  return m;
}

function ewb(m: SgxMachine, page: number, i: number, slotPa = slot(i)): EnclsOutcome {
  writePageinfo(m, { srcPge: backing(i), secinfo: pcmd(i) });
  return run(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(page), rdx: slotPa });
}

/** EBLOCK + ETRACK + EWB, the reclaimer's happy path with nobody inside. */
function evict(m: SgxMachine, page: number, i: number, slotPa = slot(i)): EnclsOutcome {
  expect(run(m, Leaf.EBLOCK, { rcx: epcPa(page) })).toEqual(OK);
  expect(run(m, Leaf.ETRACK, { rcx: epcPa(SECS) })).toEqual(OK);
  return ewb(m, page, i, slotPa);
}

function load(
  m: SgxMachine,
  dst: number,
  i: number,
  opts: { linAddr?: bigint; secs?: number; slotPa?: number; leaf?: number } = {},
): EnclsOutcome {
  writePageinfo(m, {
    linAddr: opts.linAddr ?? 0n,
    srcPge: backing(i),
    secinfo: pcmd(i),
    secs: opts.secs === undefined ? 0 : epcPa(opts.secs),
  });
  return run(m, opts.leaf ?? Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(dst), rdx: opts.slotPa ?? slot(i) });
}

const loadChild = (
  m: SgxMachine,
  dst: number,
  page: number,
  i: number,
  extra: { slotPa?: number; leaf?: number } = {},
) => load(m, dst, i, { linAddr: LIN[page]!, secs: SECS, ...extra });

/** The architectural part of an EPCM entry. */
function arch(e: EpcmEntry | undefined) {
  if (!e) return undefined;
  const { blocked: _b, blockEpoch: _e, ...rest } = e;
  return rest;
}

describe('ENCLS[EBLOCK] (SDM Vol. 3D §41.2 EBLOCK)', () => {
  const cases: Array<[string, (m: SgxMachine) => EnclsOutcome, EnclsOutcome]> = [
    ['RCX not 4K aligned is #GP(0)', (m) => run(m, Leaf.EBLOCK, { rcx: epcPa(REG0) + 8 }), gpFault()],
    [
      'RCX outside the EPC is #PF(RCX)',
      (m) => run(m, Leaf.EBLOCK, { rcx: SPARE_PA }),
      pfFault(SPARE_PA, { write: true }),
    ],
    ['an invalid page is SGX_PG_INVLD with ZF = 1', (m) => run(m, Leaf.EBLOCK, { rcx: epcPa(30) }), status(6)],
    [
      'a SECS is SGX_PG_IS_SECS with CF = 1, ZF = 0',
      (m) => run(m, Leaf.EBLOCK, { rcx: epcPa(SECS) }),
      status(SgxStatus.PG_IS_SECS, false, true),
    ],
    [
      'a VA page is SGX_NOTBLOCKABLE with CF = 1, ZF = 0',
      (m) => run(m, Leaf.EBLOCK, { rcx: epcPa(VA) }),
      status(SgxStatus.NOTBLOCKABLE, false, true),
    ],
    [
      'an already blocked page is SGX_BLKSTATE with CF = 1, ZF = 0',
      (m) => {
        expect(run(m, Leaf.EBLOCK, { rcx: epcPa(REG0) })).toEqual(OK);
        return run(m, Leaf.EBLOCK, { rcx: epcPa(REG0) });
      },
      status(SgxStatus.BLKSTATE, false, true),
    ],
  ];
  it.each(cases)('%s', (_rule, act, want) => {
    expect(act(setup())).toEqual(want);
  });

  it('sets BLOCKED on REG and TCS pages', () => {
    const m = setup();
    expect(run(m, Leaf.EBLOCK, { rcx: epcPa(TCS) })).toEqual(OK);
    expect(m.epcm.get(TCS)?.blocked).toBe(true);
  });
});

describe('ENCLS[ETRACK] (SDM Vol. 3D §41.2 ETRACK)', () => {
  it.each([
    ['RCX not 4K aligned is #GP(0)', epcPa(SECS) + 64, gpFault()],
    ['RCX outside the EPC is #PF(RCX)', SPARE_PA, pfFault(SPARE_PA, { write: true })],
    ['RCX where nothing is mapped is a not-present #PF', HOLE_PA, pfFault(HOLE_PA, { write: true, unmapped: true })],
    ['an invalid EPC page is #PF(RCX)', epcPa(30), pfFault(epcPa(30), { write: true })],
    ['a page that is not PT_SECS is #PF(RCX)', epcPa(REG0), pfFault(epcPa(REG0), { write: true })],
  ] as const)('%s', (_rule, rcx, want) => {
    expect(run(setup(), Leaf.ETRACK, { rcx })).toEqual(want);
  });

  it('is SGX_PREV_TRK_INCMPL until every processor inside at the last ETRACK has left', () => {
    const m = setup();
    enclaveEnter(m, epcPa(SECS), 0);
    expect(run(m, Leaf.ETRACK, { rcx: epcPa(SECS) })).toEqual(OK);
    expect(run(m, Leaf.ETRACK, { rcx: epcPa(SECS) })).toEqual(status(SgxStatus.PREV_TRK_INCMPL));
    enclaveExit(m, epcPa(SECS), 0);
    expect(run(m, Leaf.ETRACK, { rcx: epcPa(SECS) })).toEqual(OK);
    expect(run(m, Leaf.ETRACK, { rcx: epcPa(SECS) }), 'nobody inside: cycles complete at once').toEqual(OK);
  });
});

describe('ENCLS[EWB] error paths (SDM Vol. 3D §41.2 EWB)', () => {
  const blocked = (m: SgxMachine) => {
    expect(run(m, Leaf.EBLOCK, { rcx: epcPa(REG0) })).toEqual(OK);
    expect(run(m, Leaf.ETRACK, { rcx: epcPa(SECS) })).toEqual(OK);
  };
  const at = (m: SgxMachine, rcx: number, rdx = slot(0), rbx = PAGEINFO_PA) => {
    writePageinfo(m, { srcPge: backing(0), secinfo: pcmd(0) });
    return run(m, Leaf.EWB, { rbx, rcx, rdx });
  };
  const cases: Array<[string, (m: SgxMachine) => EnclsOutcome, EnclsOutcome]> = [
    ['RBX not 32-byte aligned is #GP(0)', (m) => at(m, epcPa(REG0), slot(0), PAGEINFO_PA + 16), gpFault()],
    ['RCX not 4K aligned is #GP(0)', (m) => at(m, epcPa(REG0) + 8), gpFault()],
    ['RCX outside the EPC is #PF(RCX)', (m) => at(m, SPARE_PA), pfFault(SPARE_PA, { write: true })],
    ['RDX not 8-byte aligned is #GP(0)', (m) => at(m, epcPa(REG0), slot(0) + 4), gpFault()],
    ['RDX outside the EPC is #PF(RDX)', (m) => at(m, epcPa(REG0), SPARE_PA), pfFault(SPARE_PA, { write: true })],
    ['RCX and RDX in the same EPC page is #GP(0)', (m) => at(m, epcPa(VA), slot(3)), gpFault()],
    [
      'PAGEINFO.LINADDR ≠ 0 is #GP(0)',
      (m) => {
        writePageinfo(m, { linAddr: 0x1000n, srcPge: backing(0), secinfo: pcmd(0) });
        return run(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      gpFault(),
    ],
    [
      'PAGEINFO.SECS ≠ 0 is #GP(0)',
      (m) => {
        writePageinfo(m, { srcPge: backing(0), secinfo: pcmd(0), secs: epcPa(SECS) });
        return run(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      gpFault(),
    ],
    [
      'a PCMD not 128-byte aligned is #GP(0)',
      (m) => {
        writePageinfo(m, { srcPge: backing(0), secinfo: pcmd(0) + 64 });
        return run(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      gpFault(),
    ],
    [
      'a destination not 4K aligned is #GP(0)',
      (m) => {
        writePageinfo(m, { srcPge: backing(0) + 128, secinfo: pcmd(0) });
        return run(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      gpFault(),
    ],
    ['an invalid page is #PF(RCX)', (m) => at(m, epcPa(30)), pfFault(epcPa(30), { write: true })],
    [
      'a slot outside a VA page is #PF(RDX)',
      (m) => at(m, epcPa(REG0), epcPa(REG1) + 8),
      pfFault(epcPa(REG1) + 8, { write: true }),
    ],
    [
      'a slot in an invalid EPC page is #PF(RDX)',
      (m) => at(m, epcPa(REG0), epcPa(31)),
      pfFault(epcPa(31), { write: true }),
    ],
    ['an unblocked page is SGX_PAGE_NOT_BLOCKED', (m) => at(m, epcPa(REG0)), status(SgxStatus.PAGE_NOT_BLOCKED)],
    [
      'a page blocked after the last ETRACK is SGX_NOT_TRACKED',
      (m) => {
        expect(run(m, Leaf.EBLOCK, { rcx: epcPa(REG0) })).toEqual(OK);
        return at(m, epcPa(REG0));
      },
      status(SgxStatus.NOT_TRACKED),
    ],
    ['a SECS with children is SGX_CHILD_PRESENT', (m) => at(m, epcPa(SECS)), status(SgxStatus.CHILD_PRESENT)],
    [
      'an unmapped destination page faults and changes nothing',
      (m) => {
        blocked(m);
        writePageinfo(m, { srcPge: HOLE_PA, secinfo: pcmd(0) });
        const o = run(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
        expect(m.epcm.get(REG0)?.valid).toBe(true);
        expect(m.physMem.readU64(slot(0))).toBe(0n);
        return o;
      },
      pfFault(HOLE_PA, { write: true, unmapped: true }),
    ],
  ];
  it.each(cases)('%s', (_rule, act, want) => {
    expect(act(setup())).toEqual(want);
  });
});

describe('EWB/ELDU round trips', () => {
  it.each([nobleBackend, nodeBackend])('restores exact bytes and the EPCM entry ($name)', (crypto) => {
    const m = setup(crypto);
    const before = m.epcPage(CODE).slice();
    const entry = arch(m.epcm.get(CODE));
    const eid = hiddenU64(m.epcPage(SECS), 'eid');
    expect(evict(m, CODE, 0)).toEqual(OK);
    expect(m.epcm.get(CODE), 'EWB invalidates the page').toBeUndefined();
    expect(hiddenU64(m.epcPage(SECS), 'childCnt')).toBe(3n);
    const ct = m.physMem.read(backing(0), PAGE);
    expect(ct).not.toEqual(before);
    // PCMD: SECINFO.FLAGS = PT_REG | R | X, ENCLAVEID = EID; PAGEINFO.LINADDR receives the address.
    expect(m.physMem.readU64(pcmd(0))).toBe(0x205n);
    expect(m.physMem.readU64(pcmd(0) + 64)).toBe(eid);
    expect(m.physMem.readU64(PAGEINFO_PA)).toBe(LIN[CODE]);
    const version = m.physMem.readU64(slot(0));
    expect(version).not.toBe(0n);
    // Independent oracle: OpenSSL's AES-128-GCM with the model's key and nonce recovers the plaintext.
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setBigUint64(4, version, true);
    const d = createDecipheriv('aes-128-gcm', m.secrets.pagingKey, iv);
    d.setAAD(aadFor(m, pcmd(0), eid, LIN[CODE]!));
    d.setAuthTag(m.physMem.read(pcmd(0) + 112, 16));
    expect(new Uint8Array(Buffer.concat([d.update(ct), d.final()]))).toEqual(before);

    expect(loadChild(m, 20, CODE, 0)).toEqual(OK);
    expect(m.epcPage(20)).toEqual(before);
    expect(arch(m.epcm.get(20))).toEqual(entry);
    expect(m.epcm.get(20)?.blocked).toBe(false);
    expect(m.physMem.readU64(slot(0)), 'ELDU frees the VA slot').toBe(0n);
    expect(hiddenU64(m.epcPage(SECS), 'childCnt')).toBe(4n);
  });

  it('ELDB reloads the page BLOCKED, and it can be written back again after an ETRACK', () => {
    const m = setup();
    expect(evict(m, TCS, 0)).toEqual(OK);
    expect(loadChild(m, TCS, TCS, 0, { leaf: Leaf.ELDB })).toEqual(OK);
    expect(m.epcm.get(TCS)).toMatchObject({ pt: PageType.TCS, blocked: true, r: false, w: false, x: false });
    expect(ewb(m, TCS, 1)).toEqual(status(SgxStatus.NOT_TRACKED));
    expect(run(m, Leaf.ETRACK, { rcx: epcPa(SECS) })).toEqual(OK);
    expect(ewb(m, TCS, 1)).toEqual(OK);
  });

  it('pages evicted with the noble backend load under node:crypto after save and restore', () => {
    const m = setup(nobleBackend);
    const before = m.epcPage(REG1).slice();
    expect(evict(m, REG1, 0)).toEqual(OK);
    const phys = PhysMem.restore(JSON.parse(JSON.stringify(m.physMem.save())));
    const m2 = SgxMachine.restore({ physMem: phys, crypto: nodeBackend }, JSON.parse(JSON.stringify(m.save())));
    expect(loadChild(m2, REG1, REG1, 0)).toEqual(OK);
    expect(m2.epcPage(REG1)).toEqual(before);
  });
});

/** The model's MAC header (paging-crypto.ts), rebuilt here from the PCMD bytes. */
function aadFor(m: SgxMachine, pcmdPa: number, eid: bigint, lin: bigint): Uint8Array {
  const h = new Uint8Array(128);
  const dv = new DataView(h.buffer);
  h.set(m.physMem.read(pcmdPa, 64), 0);
  dv.setBigUint64(64, eid, true);
  h.set(m.physMem.read(pcmdPa + 72, 40), 72);
  dv.setBigUint64(112, lin, true);
  dv.setBigUint64(120, m.physMem.readU64(pcmdPa + 64), true);
  return h;
}

describe('ELDU refuses altered and replayed pages with SGX_MAC_COMPARE_FAIL', () => {
  const flip = (m: SgxMachine, pa: number) => m.physMem.write(pa, Uint8Array.of(m.physMem.read(pa, 1)[0]! ^ 0x01));
  const reload = (m: SgxMachine) => loadChild(m, REG0, REG0, 0);
  const cases: Array<[string, (m: SgxMachine) => void, (m: SgxMachine) => EnclsOutcome]> = [
    ['a flipped byte of the encrypted page', (m) => flip(m, backing(0) + 1000), reload],
    ['a flipped PCMD SECINFO.FLAGS byte', (m) => flip(m, pcmd(0)), reload],
    ['a flipped PCMD SECINFO reserved byte', (m) => flip(m, pcmd(0) + 40), reload],
    ['a flipped PCMD ENCLAVEID byte', (m) => flip(m, pcmd(0) + 64), reload],
    ['a flipped PCMD reserved byte', (m) => flip(m, pcmd(0) + 80), reload],
    ['a flipped MAC byte', (m) => flip(m, pcmd(0) + 112), reload],
    ['a different LINADDR', () => {}, (m) => load(m, REG0, 0, { linAddr: LIN[REG1]!, secs: SECS })],
    ['the wrong VA slot', () => {}, (m) => loadChild(m, REG0, REG0, 0, { slotPa: slot(5) })],
  ];
  it.each(cases)('%s', (_rule, tamper, act) => {
    const m = setup();
    expect(evict(m, REG0, 0)).toEqual(OK);
    const version = m.physMem.readU64(slot(0));
    tamper(m);
    expect(act(m)).toEqual(status(SgxStatus.MAC_COMPARE_FAIL));
    expect(m.epcm.get(REG0), 'a failed load leaves the page invalid').toBeUndefined();
    expect(m.physMem.readU64(slot(0)), 'and the slot untouched').toBe(version);
  });

  it('a page bound to another enclave’s SECS', () => {
    const m = setup();
    buildV2(m, 40);
    expect(evict(m, REG0, 0)).toEqual(OK);
    expect(load(m, REG0, 0, { linAddr: LIN[REG0]!, secs: 40 })).toEqual(status(SgxStatus.MAC_COMPARE_FAIL));
    expect(loadChild(m, REG0, REG0, 0)).toEqual(OK);
  });

  it('a replayed older copy after the page was evicted again', () => {
    const m = setup();
    expect(evict(m, REG0, 0)).toEqual(OK);
    const oldPage = m.physMem.read(backing(0), PAGE);
    const oldPcmd = m.physMem.read(pcmd(0), 128);
    expect(loadChild(m, REG0, REG0, 0)).toEqual(OK);
    expect(evict(m, REG0, 0)).toEqual(OK);
    // The attacker puts back the first copy and its PCMD; the slot now holds the second version.
    m.physMem.write(backing(0), oldPage);
    m.physMem.write(pcmd(0), oldPcmd);
    expect(loadChild(m, REG0, REG0, 0)).toEqual(status(SgxStatus.MAC_COMPARE_FAIL));
  });

  it('a second load of the same copy (the slot was freed by the first)', () => {
    const m = setup();
    expect(evict(m, REG0, 0)).toEqual(OK);
    expect(loadChild(m, REG0, REG0, 0)).toEqual(OK);
    expect(loadChild(m, 21, REG0, 0)).toEqual(status(SgxStatus.MAC_COMPARE_FAIL));
  });
});

describe('VA slots', () => {
  it('EPA zeroes all 512 slots; a second EPA on the page is #PF(RCX); RBX ≠ PT_VA is #GP(0)', () => {
    const m = setup();
    m.physMem.write(epcPa(11), new Uint8Array(PAGE).fill(0xee));
    expect(run(m, Leaf.EPA, { rbx: 3, rcx: epcPa(11) })).toEqual(DONE);
    expect(m.epcPage(11)).toEqual(new Uint8Array(PAGE));
    expect(m.epcm.get(11)).toMatchObject({ pt: PageType.VA, r: false, w: false, x: false, enclaveAddress: 0n });
    expect(run(m, Leaf.EPA, { rbx: 3, rcx: epcPa(11) })).toEqual(pfFault(epcPa(11), { write: true }));
    expect(run(m, Leaf.EPA, { rbx: 2, rcx: epcPa(12) })).toEqual(gpFault());
    expect(run(m, Leaf.EPA, { rbx: 3, rcx: epcPa(12) + 8 })).toEqual(gpFault());
    expect(run(m, Leaf.EPA, { rbx: 3, rcx: SPARE_PA })).toEqual(pfFault(SPARE_PA, { write: true }));
  });

  it('EWB into an occupied slot returns SGX_VA_SLOT_OCCUPIED with CF = 1, ZF = 0 and still evicts', () => {
    const m = setup();
    expect(evict(m, REG0, 0)).toEqual(OK);
    expect(evict(m, REG1, 1, slot(0))).toEqual(status(SgxStatus.VA_SLOT_OCCUPIED, false, true));
    expect(m.epcm.get(REG1)).toBeUndefined();
    // The slot holds REG1's version now: REG1 loads from it, REG0's copy is lost.
    expect(loadChild(m, REG0, REG0, 0)).toEqual(status(SgxStatus.MAC_COMPARE_FAIL));
    expect(loadChild(m, REG1, REG1, 1, { slotPa: slot(0) })).toEqual(OK);
  });

  it('ELDU with an empty slot fails the MAC check', () => {
    const m = setup();
    expect(evict(m, REG0, 0)).toEqual(OK);
    expect(loadChild(m, REG0, REG0, 0, { slotPa: slot(100) })).toEqual(status(SgxStatus.MAC_COMPARE_FAIL));
  });

  it('versions in use are unique across slots', () => {
    const m = setup();
    for (const [i, p] of [REG0, CODE, REG1].entries()) expect(evict(m, p, i)).toEqual(OK);
    const versions = [0, 1, 2].map((i) => m.physMem.readU64(slot(i)));
    expect(new Set(versions).size).toBe(3);
  });

  it('a VA page can itself be evicted into another VA page and reloaded with its slots intact', () => {
    const m = setup();
    expect(run(m, Leaf.EPA, { rbx: 3, rcx: epcPa(11) })).toEqual(DONE);
    expect(evict(m, REG0, 0)).toEqual(OK);
    expect(ewb(m, VA, 1, slot(0, 11))).toEqual(OK);
    expect(load(m, 12, 1, { slotPa: slot(0, 11) })).toEqual(OK);
    expect(m.epcm.get(12)).toMatchObject({ pt: PageType.VA, enclaveSecs: -1 });
    expect(loadChild(m, REG0, REG0, 0, { slotPa: slot(0, 12) })).toEqual(OK);
  });
});

describe('ELDB/ELDU error paths (SDM Vol. 3D §41.2 ELDB/ELDU)', () => {
  const evicted = () => {
    const m = setup();
    expect(evict(m, REG0, 0)).toEqual(OK);
    return m;
  };
  const cases: Array<[string, (m: SgxMachine) => EnclsOutcome, EnclsOutcome]> = [
    [
      'RBX not 32-byte aligned is #GP(0)',
      (m) => run(m, Leaf.ELDU, { rbx: PAGEINFO_PA + 8, rcx: epcPa(REG0), rdx: slot(0) }),
      gpFault(),
    ],
    [
      'RCX not 4K aligned is #GP(0)',
      (m) => run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(REG0) + 8, rdx: slot(0) }),
      gpFault(),
    ],
    [
      'RCX outside the EPC is #PF(RCX)',
      (m) => run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: SPARE_PA, rdx: slot(0) }),
      pfFault(SPARE_PA, { write: true }),
    ],
    ['RDX not 8-byte aligned is #GP(0)', (m) => loadChild(m, REG0, REG0, 0, { slotPa: slot(0) + 2 }), gpFault()],
    [
      'RDX outside the EPC is #PF(RDX)',
      (m) => loadChild(m, REG0, REG0, 0, { slotPa: SPARE_PA }),
      pfFault(SPARE_PA, { write: true }),
    ],
    [
      'a PCMD not 128-byte aligned is #GP(0)',
      (m) => {
        writePageinfo(m, { linAddr: LIN[REG0], srcPge: backing(0), secinfo: pcmd(0) + 32, secs: epcPa(SECS) });
        return run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      gpFault(),
    ],
    [
      'a source not 4K aligned is #GP(0)',
      (m) => {
        writePageinfo(m, { linAddr: LIN[REG0], srcPge: backing(0) + 8, secinfo: pcmd(0), secs: epcPa(SECS) });
        return run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      gpFault(),
    ],
    ['a valid destination is #PF(RCX)', (m) => loadChild(m, CODE, REG0, 0), pfFault(epcPa(CODE), { write: true })],
    [
      'a slot outside a VA page is #PF(RDX)',
      (m) => loadChild(m, REG0, REG0, 0, { slotPa: epcPa(CODE) }),
      pfFault(epcPa(CODE), { write: true }),
    ],
    [
      'PAGEINFO.SECS not 4K aligned for a child page is #GP(0)',
      (m) => {
        writePageinfo(m, { linAddr: LIN[REG0], srcPge: backing(0), secinfo: pcmd(0), secs: epcPa(SECS) + 64 });
        return run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      gpFault(),
    ],
    [
      'PAGEINFO.SECS outside the EPC is #PF(SECS)',
      (m) => {
        writePageinfo(m, { linAddr: LIN[REG0], srcPge: backing(0), secinfo: pcmd(0), secs: SPARE_PA });
        return run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      pfFault(SPARE_PA),
    ],
    [
      'PAGEINFO.SECS naming a page that is not a SECS is #PF(SECS)',
      (m) => load(m, REG0, 0, { linAddr: LIN[REG0]!, secs: CODE }),
      pfFault(epcPa(CODE)),
    ],
    [
      'an unmapped source page faults',
      (m) => {
        writePageinfo(m, { linAddr: LIN[REG0], srcPge: HOLE_PA, secinfo: pcmd(0), secs: epcPa(SECS) });
        return run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(REG0), rdx: slot(0) });
      },
      pfFault(HOLE_PA, { unmapped: true }),
    ],
  ];
  it.each(cases)('%s', (_rule, act, want) => {
    expect(act(evicted())).toEqual(want);
  });
});

describe('tracking: EWB waits for every processor that entered before the ETRACK', () => {
  it('follows the Linux reclaimer sequence: EWB → NOT_TRACKED → ETRACK → EWB → NOT_TRACKED → exits → EWB', () => {
    const m = setup();
    const secsPa = epcPa(SECS);
    enclaveEnter(m, secsPa, 1);
    expect(run(m, Leaf.EBLOCK, { rcx: epcPa(REG0) })).toEqual(OK);
    expect(ewb(m, REG0, 0), 'no ETRACK since EBLOCK').toEqual(status(SgxStatus.NOT_TRACKED));
    expect(run(m, Leaf.ETRACK, { rcx: secsPa })).toEqual(OK);
    expect(ewb(m, REG0, 0), 'CPU 1 entered before the ETRACK and is still inside').toEqual(
      status(SgxStatus.NOT_TRACKED),
    );
    enclaveEnter(m, secsPa, 2); // entered after the ETRACK: it cannot hold a stale translation
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(REG1) })).toEqual(status(SgxStatus.ENCLAVE_ACT));
    enclaveExit(m, secsPa, 1); // the IPI's AEX
    expect(ewb(m, REG0, 0)).toEqual(OK);
    enclaveExit(m, secsPa, 2);
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(REG1) })).toEqual(OK);
  });

  it('a processor that re-enters after exiting belongs to the new epoch', () => {
    const m = setup();
    const secsPa = epcPa(SECS);
    enclaveEnter(m, secsPa, 0);
    expect(run(m, Leaf.EBLOCK, { rcx: epcPa(REG0) })).toEqual(OK);
    expect(run(m, Leaf.ETRACK, { rcx: secsPa })).toEqual(OK);
    enclaveExit(m, secsPa, 0);
    enclaveEnter(m, secsPa, 0);
    expect(ewb(m, REG0, 0)).toEqual(OK);
  });
});

describe('SECS eviction', () => {
  it('needs every child gone first, and must be reloaded before its children', () => {
    const m = setup();
    const eid = hiddenU64(m.epcPage(SECS), 'eid');
    const originals = [TCS, REG0, CODE, REG1].map((p) => m.epcPage(p).slice());
    for (const [i, p] of [TCS, REG0, CODE].entries()) expect(evict(m, p, i)).toEqual(OK);
    expect(ewb(m, SECS, 9, slot(9)), 'REG1 is still resident').toEqual(status(SgxStatus.CHILD_PRESENT));
    expect(evict(m, REG1, 3)).toEqual(OK);
    const secsBytes = m.epcPage(SECS).slice();
    expect(ewb(m, SECS, 9, slot(9))).toEqual(OK);
    expect(m.physMem.readU64(pcmd(9) + 64), 'the SECS PCMD carries its EID as a handle').toBe(eid);
    expect(m.epcm.get(SECS)).toBeUndefined();
    // A child cannot come back while its SECS is out.
    expect(loadChild(m, REG0, REG0, 1)).toEqual(pfFault(epcPa(SECS)));
    // Reload the SECS elsewhere (PAGEINFO.SECS = 0), then the children against the new location.
    const NEW = 30;
    expect(load(m, NEW, 9, { slotPa: slot(9) })).toEqual(OK);
    expect(m.epcPage(NEW)).toEqual(secsBytes);
    expect(m.epcm.get(NEW)).toMatchObject({ pt: PageType.SECS, enclaveSecs: -1, blocked: false });
    for (const [i, p] of [TCS, REG0, CODE, REG1].entries()) {
      expect(load(m, 31 + i, i, { linAddr: LIN[p]!, secs: NEW })).toEqual(OK);
      expect(m.epcPage(31 + i)).toEqual(originals[i]);
      expect(m.epcm.get(31 + i)?.enclaveSecs).toBe(NEW);
    }
    expect(hiddenU64(m.epcPage(NEW), 'childCnt')).toBe(4n);
    expect(hiddenU64(m.epcPage(NEW), 'eid')).toBe(eid);
  });

  it('an ELDB of a SECS leaves it unblocked', () => {
    const m = setup();
    for (const [i, p] of [TCS, REG0, CODE, REG1].entries()) expect(evict(m, p, i)).toEqual(OK);
    expect(ewb(m, SECS, 9, slot(9))).toEqual(OK);
    expect(load(m, SECS, 9, { slotPa: slot(9), leaf: Leaf.ELDB })).toEqual(OK);
    expect(m.epcm.get(SECS)?.blocked).toBe(false);
  });
});
