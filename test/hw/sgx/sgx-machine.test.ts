import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EPC_BASE,
  Epc,
  enclaveEnter,
  enclaveExit,
  entryEpoch,
  hiddenU64,
  INTEL_LE_PUBKEY_HASH_MSRS,
  nobleBackend,
  PhysMem,
  Rng,
  SgxMachine,
  threadsInside,
  toHex,
} from '../../../src/hw/index';
import {
  buildSigstruct,
  buildV2,
  DONE,
  doEcreate,
  doEinit,
  epcPa,
  Leaf,
  makeTestMachine,
  OK,
  PAGE,
  PAGEINFO_PA,
  run,
  SELFTEST_MRSIGNER,
  secsImage,
  setLeHash,
  V2_BASE,
  writePageinfo,
} from './fixture';

/** Linux arch/x86/kernel/cpu/sgx/main.c: sgx_calc_section_metric() and the sgx_page_cache_init() loop. */
function linuxEpcSections(m: SgxMachine): Array<{ base: number; size: number }> {
  const metric = (low: number, high: number) => ((low & 0xffff_f000) >>> 0) + (high & 0xfffff) * 2 ** 32;
  const out: Array<{ base: number; size: number }> = [];
  for (let i = 0; i < 8; i++) {
    const { eax, ebx, ecx, edx } = m.cpuid12(2 + i);
    const type = eax & 0xf;
    if (type === 0) break;
    expect(type, 'SGX_CPUID_EPC_SECTION').toBe(1);
    out.push({ base: metric(eax, ebx), size: metric(ecx, edx) });
  }
  return out;
}

describe('CPUID leaf 12H (SDM Vol. 3D §37.7.2)', () => {
  it('reports SGX1, EXINFO, the size limits, and the allowed ATTRIBUTES/XFRM by default', () => {
    const m = makeTestMachine();
    expect(m.cpuid12(0)).toEqual({ eax: 1, ebx: 1, ecx: 0, edx: (36 << 8) | 31 });
    expect(m.cpuid12(1)).toEqual({ eax: 0x36, ebx: 0, ecx: 3, edx: 0 });
  });

  it('reports SGX2 and KSS when configured', () => {
    const m = makeTestMachine({ features: { sgx2: true, kss: true } });
    expect(m.cpuid12(0).eax).toBe(3);
    expect(m.cpuid12(1).eax).toBe(0xb6);
  });

  it('enumerates EPC sections the way the Linux driver parses them, including one above 4 GiB', () => {
    const sections = [
      { base: 0x8000_0000, size: 0x40_0000 },
      { base: DEFAULT_EPC_BASE + 0x1234_5000, size: 3 * 2 ** 32 + 0x10_0000 },
    ];
    const m = new SgxMachine({
      physMem: new PhysMem({ ramBytes: 1 << 20, epcSections: sections }),
      crypto: nobleBackend,
      rng: new Rng(1),
    });
    expect(linuxEpcSections(m)).toEqual(sections);
    expect(m.cpuid12(2).ecx & 0xf, 'confidentiality, integrity and replay protection').toBe(1);
    expect(m.cpuid12(4)).toEqual({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
  });
});

describe('EPC page numbering', () => {
  it('numbers pages across sections in physical order', () => {
    const physMem = new PhysMem({
      ramBytes: 1 << 20,
      epcSections: [
        { base: 0x4000_0000, size: 2 * PAGE },
        { base: 0x1000_0000, size: 3 * PAGE },
      ],
    });
    const epc = new Epc(physMem);
    expect(epc.pageCount).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => epc.addressOf(i))).toEqual([
      0x1000_0000, 0x1000_1000, 0x1000_2000, 0x4000_0000, 0x4000_1000,
    ]);
    expect(epc.indexOf(0x4000_1ff8)).toBe(4);
    expect(epc.indexOf(0x2000)).toBeUndefined();
    expect(epc.isEpc(0x1000_3000)).toBe(false);
    expect(() => epc.addressOf(5)).toThrow(RangeError);
  });

  it('costs nothing for a 512 GiB EPC until pages are used', () => {
    const size = 512 * 2 ** 30;
    const m = new SgxMachine({
      physMem: new PhysMem({ ramBytes: 1 << 20, epcSections: [{ base: DEFAULT_EPC_BASE, size }] }),
      crypto: nobleBackend,
      rng: new Rng(2),
    });
    expect(m.epc.pageCount).toBe(size / PAGE);
    const last = m.epc.pageCount - 1;
    expect(doEcreate(m, last, secsImage({ baseAddr: V2_BASE }))).toEqual(DONE);
    expect(m.epcm.validCount).toBe(1);
    expect(m.physMem.touchedPages, 'RAM scratch pages plus one EPC page').toBeLessThan(8);
  });

  it('refuses memory beyond the 2^47 direct map', () => {
    const physMem = new PhysMem({ ramBytes: 1 << 20, epcSections: [{ base: 2 ** 47, size: PAGE }] });
    expect(() => new SgxMachine({ physMem, crypto: nobleBackend, rng: new Rng(3) })).toThrow(/direct map/);
  });
});

describe('IA32_SGXLEPUBKEYHASH0..3', () => {
  it('reset to Intel’s launch-enclave key hash (KVM/QEMU reset value)', () => {
    const m = makeTestMachine();
    expect([0, 1, 2, 3].map((i) => m.rdmsr(0x8c + i))).toEqual(INTEL_LE_PUBKEY_HASH_MSRS);
    expect(toHex(m.lePubKeyHash().subarray(0, 8))).toBe('acb77012053e05a6');
  });

  it('are writable with launch control and hold the hash little-endian per MSR', () => {
    const m = makeTestMachine();
    setLeHash(m, SELFTEST_MRSIGNER);
    expect(toHex(m.lePubKeyHash())).toBe(SELFTEST_MRSIGNER);
  });

  it('fault with #GP(0) on WRMSR without launch control and keep their value', () => {
    const m = makeTestMachine({ features: { launchControl: false } });
    expect(m.wrmsr(0x8c, 1n)).toEqual({ kind: 'fault', vector: 13, errorCode: 0, addr: 0 });
    expect(m.rdmsr(0x8c)).toBe(INTEL_LE_PUBKEY_HASH_MSRS[0]);
  });

  it('are the only MSRs this object answers for', () => {
    const m = makeTestMachine();
    expect(m.handlesMsr(0x8f)).toBe(true);
    expect(m.handlesMsr(0x90)).toBe(false);
    expect(() => m.rdmsr(0x3a)).toThrow(RangeError);
  });
});

describe('package secrets and counters', () => {
  it('come from the seed: the same seed gives the same fuses, EIDs and versions', () => {
    const a = makeTestMachine({ seed: 'x' });
    const b = makeTestMachine({ seed: 'x' });
    const c = makeTestMachine({ seed: 'y' });
    expect(a.secrets).toEqual(b.secrets);
    expect(a.nextEid()).toBe(b.nextEid());
    expect(a.nextVersion()).toBe(b.nextVersion());
    expect(toHex(a.secrets.pagingKey)).not.toBe(toHex(c.secrets.pagingKey));
    expect(toHex(a.secrets.rootProvisioningKey)).not.toBe(toHex(a.secrets.sealKeyFuses));
  });

  it('hand out unique EIDs and unique non-zero versions', () => {
    const m = makeTestMachine();
    const eids = new Set(Array.from({ length: 100 }, () => m.nextEid()));
    const versions = Array.from({ length: 100 }, () => m.nextVersion());
    expect(eids.size).toBe(100);
    expect(new Set(versions).size).toBe(100);
    expect(versions.every((v) => v > 0n)).toBe(true);
  });

  it('take an owner epoch override', () => {
    const ownerEpoch = new Uint8Array(16).fill(9);
    const m = new SgxMachine({
      physMem: new PhysMem({ ramBytes: 1 << 20, epcSections: [{ base: DEFAULT_EPC_BASE, size: PAGE }] }),
      crypto: nobleBackend,
      rng: new Rng(4),
      ownerEpoch,
    });
    expect(m.secrets.ownerEpoch).toEqual(ownerEpoch);
  });
});

describe('save and restore', () => {
  /** A scripted continuation: evict, reload, track, remove. */
  function continueRun(m: SgxMachine): unknown[] {
    const out: unknown[] = [];
    writePageinfo(m, { srcPge: 0x20000, secinfo: 0x9000 });
    out.push(run(m, Leaf.EBLOCK, { rcx: epcPa(2) }));
    out.push(run(m, Leaf.ETRACK, { rcx: epcPa(0) }));
    out.push(run(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(2), rdx: epcPa(10) + 16 }));
    writePageinfo(m, { linAddr: V2_BASE + 0x1000n, srcPge: 0x20000, secinfo: 0x9000, secs: epcPa(0) });
    out.push(run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(20), rdx: epcPa(10) + 16 }));
    out.push(run(m, Leaf.EREMOVE, { rcx: epcPa(20) }));
    out.push(toHex(m.physMem.read(0x20000, 64)), m.epcm.save(), m.save().nextVersion);
    return out;
  }

  function prepared(): SgxMachine {
    const m = makeTestMachine();
    buildV2(m);
    setLeHash(m, SELFTEST_MRSIGNER);
    expect(doEinit(m, 0, buildSigstruct())).toEqual(OK);
    expect(run(m, Leaf.EPA, { rbx: 3, rcx: epcPa(10) })).toEqual(DONE);
    enclaveEnter(m, epcPa(0), 7);
    return m;
  }

  it('gives a machine that continues exactly like the original (run → save → restore → run)', () => {
    const a = prepared();
    const b = prepared();
    const state = JSON.parse(JSON.stringify(b.save()));
    const phys = PhysMem.restore(JSON.parse(JSON.stringify(b.physMem.save())));
    const restored = SgxMachine.restore({ physMem: phys, crypto: nobleBackend }, state);
    expect(restored.lp(7), 'logical processors inside are part of the state').toEqual(a.lp(7));
    expect(continueRun(restored)).toEqual(continueRun(a));
    enclaveExit(restored, epcPa(0), 7);
    expect(threadsInside(restored, 0)).toBe(0);
  });

  it('refuses to save while an enclave is between ECREATE and EINIT, naming the reason', () => {
    const m = makeTestMachine();
    expect(doEcreate(m, 0)).toEqual(DONE);
    expect(() => m.save()).toThrow(/EID .* is uninitialized: its running MRENCLAVE is opaque/);
  });
});

describe('tracking interface (enclaveEnter / enclaveExit)', () => {
  function initialized(): SgxMachine {
    const m = makeTestMachine();
    buildV2(m);
    setLeHash(m, SELFTEST_MRSIGNER);
    expect(doEinit(m, 0, buildSigstruct())).toEqual(OK);
    return m;
  }

  it('counts processors inside and moves them to the previous epoch at ETRACK', () => {
    const m = initialized();
    enclaveEnter(m, epcPa(0), 0);
    enclaveEnter(m, epcPa(0), 1);
    expect(threadsInside(m, 0)).toBe(2);
    expect(run(m, Leaf.ETRACK, { rcx: epcPa(0) })).toEqual(OK);
    expect(entryEpoch(m, 0)).toBe(1);
    expect(hiddenU64(m.epcPage(0), 'entryEpoch')).toBe(1n);
    enclaveExit(m, epcPa(0), 0);
    enclaveEnter(m, epcPa(0), 0);
    expect(m.lp(0)).toEqual({ secs: 0, epoch: 1 });
    expect(threadsInside(m, 0)).toBe(2);
  });

  it('treats misuse by the caller as a simulator bug', () => {
    const m = initialized();
    expect(() => enclaveEnter(m, epcPa(1), 0), 'a TCS is not a SECS').toThrow(/not a valid SECS/);
    expect(() => enclaveEnter(m, epcPa(30), 0), 'an invalid page').toThrow(/not a valid SECS/);
    enclaveEnter(m, epcPa(0), 0);
    expect(() => enclaveEnter(m, epcPa(0), 0)).toThrow(/already in enclave mode/);
    expect(() => enclaveExit(m, epcPa(0), 1)).toThrow(/not inside/);
  });
});
