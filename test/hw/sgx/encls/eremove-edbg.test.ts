import { describe, expect, it } from 'vitest';
import {
  ENCLS_LEAVES,
  EnclsLeaf,
  type EnclsOutcome,
  enclaveEnter,
  enclaveExit,
  encls,
  hiddenU64,
  PageType,
  type SgxMachine,
  SgxStatus,
} from '../../../../src/hw/index';
import {
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
  pfFault,
  run,
  SELFTEST_MRSIGNER,
  SPARE_PA,
  setLeHash,
  status,
} from '../fixture';

const SECS = 0;
const [TCS, REG0, CODE] = [1, 2, 3];
const VA = 10;

/** A V2 enclave, initialized unless told otherwise, with attributes (0x6 = DEBUG | MODE64BIT for a debug one). */
function enclave(opts: { attributes?: bigint; init?: boolean } = {}): SgxMachine {
  const attributes = opts.attributes ?? 0x4n;
  const m = makeTestMachine();
  buildV2(m, SECS, attributes);
  if (opts.init ?? true) {
    setLeHash(m, SELFTEST_MRSIGNER);
    expect(doEinit(m, SECS, buildSigstruct({ attributes }))).toEqual(OK);
  }
  expect(run(m, Leaf.EPA, { rbx: 3, rcx: epcPa(VA) })).toEqual(DONE);
  return m;
}

describe('ENCLS[EREMOVE] (SDM Vol. 3D §41.2 EREMOVE)', () => {
  const cases: Array<[string, (m: SgxMachine) => EnclsOutcome, EnclsOutcome]> = [
    ['RCX not 4K aligned is #GP(0)', (m) => run(m, Leaf.EREMOVE, { rcx: epcPa(REG0) + 8 }), gpFault()],
    [
      'RCX outside the EPC is #PF(RCX)',
      (m) => run(m, Leaf.EREMOVE, { rcx: SPARE_PA }),
      pfFault(SPARE_PA, { write: true }),
    ],
    [
      'RCX where nothing is mapped is a not-present #PF',
      (m) => run(m, Leaf.EREMOVE, { rcx: HOLE_PA }),
      pfFault(HOLE_PA, { write: true, unmapped: true }),
    ],
    ['an already invalid page succeeds with nothing to do', (m) => run(m, Leaf.EREMOVE, { rcx: epcPa(40) }), OK],
    [
      'a SECS with children is SGX_CHILD_PRESENT',
      (m) => run(m, Leaf.EREMOVE, { rcx: epcPa(SECS) }),
      status(SgxStatus.CHILD_PRESENT),
    ],
    [
      'a page of an enclave with a processor inside is SGX_ENCLAVE_ACT',
      (m) => {
        enclaveEnter(m, epcPa(SECS), 3);
        return run(m, Leaf.EREMOVE, { rcx: epcPa(CODE) });
      },
      status(SgxStatus.ENCLAVE_ACT),
    ],
    [
      'a VA page goes without checks, even while processors are inside',
      (m) => {
        enclaveEnter(m, epcPa(SECS), 3);
        m.physMem.writeU64(epcPa(VA) + 8, 77n);
        return run(m, Leaf.EREMOVE, { rcx: epcPa(VA) });
      },
      OK,
    ],
  ];
  it.each(cases)('%s', (_rule, act, want) => {
    expect(act(enclave())).toEqual(want);
  });

  it('removes children one by one, then the SECS, freeing their storage', () => {
    const m = enclave();
    const touched = m.physMem.touchedPages;
    for (const [i, p] of [TCS, REG0, CODE, 4].entries()) {
      expect(run(m, Leaf.EREMOVE, { rcx: epcPa(p) })).toEqual(OK);
      expect(m.epcm.isValid(p)).toBe(false);
      expect(hiddenU64(m.epcPage(SECS), 'childCnt')).toBe(BigInt(3 - i));
    }
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(SECS) })).toEqual(OK);
    expect(m.epcm.validCount, 'only the VA page is left').toBe(1);
    expect(m.physMem.touchedPages).toBe(touched - 5);
  });

  it('removing the SECS of an enclave under construction drops its running measurement', () => {
    const m = makeTestMachine();
    expect(buildV2(m).length).toBe(4);
    const eid = hiddenU64(m.epcPage(SECS), 'eid');
    for (const p of [1, 2, 3, 4]) expect(run(m, Leaf.EREMOVE, { rcx: epcPa(p) })).toEqual(OK);
    expect(m.measurement(eid)).toBeDefined();
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(SECS) })).toEqual(OK);
    expect(m.measurement(eid)).toBeUndefined();
  });

  it('removes a page once the last processor has left', () => {
    const m = enclave();
    enclaveEnter(m, epcPa(SECS), 0);
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(REG0) })).toEqual(status(SgxStatus.ENCLAVE_ACT));
    enclaveExit(m, epcPa(SECS), 0);
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(REG0) })).toEqual(OK);
  });
});

describe('ENCLS[EDBGRD] and ENCLS[EDBGWR] (SDM Vol. 3D §41.2 EDBGRD, EDBGWR)', () => {
  const debug = () => enclave({ attributes: 0x6n });
  const rd = (m: SgxMachine, rcx: number) => run(m, Leaf.EDBGRD, { rcx });
  const wr = (m: SgxMachine, rcx: number, rbx: bigint) => run(m, Leaf.EDBGWR, { rbx, rcx });
  const read = (rbx: bigint): EnclsOutcome => ({ kind: 'status', rax: 0, zf: false, cf: false, rbx });

  const cases: Array<[string, (m: SgxMachine) => EnclsOutcome, EnclsOutcome]> = [
    ['EDBGRD of an address not 8-byte aligned is #GP(0)', (m) => rd(m, epcPa(CODE) + 4), gpFault()],
    ['EDBGWR of an address not 8-byte aligned is #GP(0)', (m) => wr(m, epcPa(CODE) + 4, 0n), gpFault()],
    ['EDBGRD outside the EPC is #PF(RCX)', (m) => rd(m, SPARE_PA), pfFault(SPARE_PA)],
    ['EDBGWR outside the EPC is #PF(RCX)', (m) => wr(m, SPARE_PA, 0n), pfFault(SPARE_PA, { write: true })],
    ['EDBGRD of an invalid page is #PF(RCX)', (m) => rd(m, epcPa(40)), pfFault(epcPa(40))],
    ['EDBGRD of a SECS is #PF(RCX)', (m) => rd(m, epcPa(SECS) + 64), pfFault(epcPa(SECS) + 64)],
    ['EDBGWR of a SECS is #PF(RCX)', (m) => wr(m, epcPa(SECS), 1n), pfFault(epcPa(SECS), { write: true })],
    ['EDBGWR of a VA page is #PF(RCX)', (m) => wr(m, epcPa(VA), 1n), pfFault(epcPa(VA), { write: true })],
    [
      'EDBGRD of a TRIM page is #PF(RCX)',
      (m) => {
        m.epcm.get(CODE)!.pt = PageType.TRIM;
        return rd(m, epcPa(CODE));
      },
      pfFault(epcPa(CODE)),
    ],
    [
      'EDBGRD of a PENDING page is SGX_PAGE_NOT_DEBUGGABLE',
      (m) => {
        m.epcm.get(CODE)!.pending = true;
        return rd(m, epcPa(CODE));
      },
      status(SgxStatus.PAGE_NOT_DEBUGGABLE),
    ],
    [
      'EDBGWR of a MODIFIED page is SGX_PAGE_NOT_DEBUGGABLE',
      (m) => {
        m.epcm.get(CODE)!.modified = true;
        return wr(m, epcPa(CODE), 1n);
      },
      status(SgxStatus.PAGE_NOT_DEBUGGABLE),
    ],
    ['EDBGRD of a TCS at SGX_TCS_LIMIT (72) is #GP(0)', (m) => rd(m, epcPa(TCS) + 72), gpFault()],
    ['EDBGWR of a TCS word other than FLAGS is #GP(0)', (m) => wr(m, epcPa(TCS) + 16, 0n), gpFault()],
    ['EDBGRD reads a TCS field (OSSA = 0x1000)', (m) => rd(m, epcPa(TCS) + 16), read(0x1000n)],
    ['EDBGRD reads code bytes 8..15 of the V2 code page', (m) => rd(m, epcPa(CODE) + 8), read(0x0f0e0d0c0b0a0908n)],
    ['EDBGRD of a free VA slot reads 0', (m) => rd(m, epcPa(VA) + 16), read(0n)],
    [
      'EDBGRD of an occupied VA slot reads all ones, hiding the version',
      (m) => {
        m.physMem.writeU64(epcPa(VA) + 16, 0x1234n);
        return rd(m, epcPa(VA) + 16);
      },
      read(0xffff_ffff_ffff_ffffn),
    ],
  ];
  it.each(cases)('%s', (_rule, act, want) => {
    expect(act(debug())).toEqual(want);
  });

  it('refuses a non-debug enclave with #GP(0) for both leaves', () => {
    const m = enclave();
    expect(rd(m, epcPa(CODE))).toEqual(gpFault());
    expect(wr(m, epcPa(CODE), 1n)).toEqual(gpFault());
    expect(rd(m, epcPa(TCS))).toEqual(gpFault());
  });

  it('EDBGWR ignores EPCM permissions, writes 8 bytes, and may set TCS.FLAGS.DBGOPTIN', () => {
    const m = debug();
    expect(m.epcm.get(CODE)?.w).toBe(false);
    expect(wr(m, epcPa(CODE) + 24, 0x1122334455667788n)).toEqual(OK);
    expect(rd(m, epcPa(CODE) + 24)).toEqual(read(0x1122334455667788n));
    expect(wr(m, epcPa(TCS) + 8, 1n)).toEqual(OK);
    expect(rd(m, epcPa(TCS) + 8)).toEqual(read(1n));
  });

  it('works on an enclave that is not initialized yet', () => {
    const m = enclave({ attributes: 0x6n, init: false });
    expect(rd(m, epcPa(TCS) + 32)).toEqual(read(0x2000n));
  });
});

describe('ENCLS dispatch', () => {
  it('registers a handler for each of the 13 SGX1 leaves', () => {
    expect(
      Object.keys(ENCLS_LEAVES)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('an undefined leaf is #GP(0)', () => {
    expect(encls(makeTestMachine(), 0x20, {})).toEqual(gpFault());
  });

  it('the SGX2 leaves are #GP(0) on a part without SGX2', () => {
    for (const leaf of [EnclsLeaf.EAUG, EnclsLeaf.EMODPR, EnclsLeaf.EMODT])
      expect(encls(makeTestMachine(), leaf, {})).toEqual(gpFault());
  });

  it('an SGX2 leaf on a part that enumerates SGX2 is a simulator limitation, reported as such', () => {
    expect(() => encls(makeTestMachine({ features: { sgx2: true } }), EnclsLeaf.EAUG, {})).toThrow(/not modelled/);
  });

  it('uses only EAX[31:0] to select the leaf', () => {
    expect(encls(makeTestMachine(), 2 ** 32 + EnclsLeaf.EREMOVE, { rcx: epcPa(5) })).toEqual(OK);
  });

  it('rejects an operand that is not a physical address as a caller bug', () => {
    expect(() => encls(makeTestMachine(), EnclsLeaf.EREMOVE, { rcx: -4096 })).toThrow(RangeError);
    expect(() => encls(makeTestMachine(), EnclsLeaf.EREMOVE, { rcx: 1.5 })).toThrow(RangeError);
  });
});
