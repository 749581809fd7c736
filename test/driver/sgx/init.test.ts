/**
 * sgx_init() and sgx_drv_init() (main.c, driver.c): EPC sections from CPUID leaf 12H, the sanitization of pages
 * left valid (a kexec), which devices get registered on which CPUs, and the reserved masks ENCLAVE_INIT uses,
 * computed from CPUID as upstream does.
 */
import { describe, expect, it } from 'vitest';
import {
  SGX_ATTR_RESERVED_MASK,
  sgxAllocEpcPage,
  sgxCheckInvariants,
  sgxFreeEpcPage,
  sgxInit,
} from '../../../src/driver/index';
import {
  AttrFlags,
  DEFAULT_EPC_BASE,
  EnclsLeaf,
  encls,
  encode,
  isFault,
  PAGE_SIZE,
  PAGEINFO,
  PhysMem,
  Rng,
  SECINFO,
  SECS,
  type SgxFeatures,
  SgxMachine,
} from '../../../src/hw/index';
import { isErrno, Kernel } from '../../../src/kernel/index';
import { nodeBackend } from '../../../src/node/index';
import { makeSgxSystem } from '../fixtures/sgx-system';

const P = PAGE_SIZE;

function machine(sections: Array<{ base: number; pages: number }>, features: Partial<SgxFeatures> = {}) {
  const mem = new PhysMem({
    ramBytes: 16 << 20,
    epcSections: sections.map((s) => ({ base: s.base, size: s.pages * P })),
  });
  const m = new SgxMachine({ physMem: mem, crypto: nodeBackend, rng: new Rng(3), features });
  const k = new Kernel({ mem, seed: 1 });
  return { m, k };
}

describe('sgx_init()', () => {
  it('finds every EPC section through CPUID and logs it as upstream', () => {
    const { m, k } = machine([
      { base: DEFAULT_EPC_BASE, pages: 64 },
      { base: DEFAULT_EPC_BASE + 0x1000_0000, pages: 32 },
    ]);
    const r = sgxInit(k, m);
    if (r.kind !== 'ok') throw new Error(r.errno.name);
    expect(r.sgx.sections.map((s) => [s.base, s.size])).toEqual([
      [DEFAULT_EPC_BASE, 64 * P],
      [DEFAULT_EPC_BASE + 0x1000_0000, 32 * P],
    ]);
    expect(r.sgx.dmesg).toEqual([
      'sgx: EPC section 0x10000000000-0x1000003ffff',
      'sgx: EPC section 0x10010000000-0x1001001ffff',
    ]);
    expect(r.sgx.nrFreePages).toBe(96);
    expect(k.vfs.paths()).toEqual(expect.arrayContaining(['/dev/sgx_enclave', '/dev/sgx_provision']));
    expect(r.sgx.ksgxdTask?.comm).toBe('[ksgxd]');
  });

  it('allocates from the sections in order, each a FIFO free list', () => {
    const { m, k } = machine([
      { base: DEFAULT_EPC_BASE, pages: 2 },
      { base: DEFAULT_EPC_BASE + 0x100000, pages: 2 },
    ]);
    const r = sgxInit(k, m);
    if (r.kind !== 'ok') throw new Error(r.errno.name);
    const sgx = r.sgx;
    const take = () => {
      const p = sgxAllocEpcPage(sgx, null, false);
      if (isErrno(p)) return p.name;
      return p;
    };
    const a = take();
    const b = take();
    const c = take();
    if (typeof a === 'string' || typeof b === 'string' || typeof c === 'string') throw new Error('alloc failed');
    expect([a.pa, b.pa, c.pa].map((x) => x - DEFAULT_EPC_BASE)).toEqual([0, P, 0x100000]);
    sgxFreeEpcPage(sgx, a);
    // Section 0's list now holds only `a` (at its tail): it is the next page handed out.
    const d = take();
    expect(typeof d !== 'string' && d.pa).toBe(a.pa);
    const e = take();
    expect(typeof e !== 'string' && e.pa - DEFAULT_EPC_BASE).toBe(0x100000 + P);
    expect(take(), 'nothing free and nothing reclaimable').toBe('ENOMEM');
  });

  it('sanitizes pages a previous kernel left valid: children first, the SECS on the second pass', () => {
    const { m, k } = machine([{ base: DEFAULT_EPC_BASE, pages: 8 }]);
    // Leftovers: a SECS at EPC page 0 with a child at page 1 (after a kexec the EPCM keeps them).
    const ram = 8 * P;
    m.physMem.write(
      ram,
      encode(SECS, {
        size: 2n * 8192n,
        baseAddr: 0x400000n,
        ssaFrameSize: 1,
        attributes: AttrFlags.MODE64BIT,
        xfrm: 3n,
      }),
    );
    m.physMem.write(ram + P, encode(PAGEINFO, { srcPge: BigInt(ram), secinfo: BigInt(ram + P + 64) }));
    const c = encls(m, EnclsLeaf.ECREATE, { rbx: ram + P, rcx: DEFAULT_EPC_BASE });
    expect(c.kind).toBe('done');
    m.physMem.write(ram + 2 * P, encode(SECINFO, { flags: 0x203n }));
    m.physMem.write(
      ram + P,
      encode(PAGEINFO, {
        linAddr: 0x400000n,
        srcPge: BigInt(ram + 3 * P),
        secinfo: BigInt(ram + 2 * P),
        secs: BigInt(DEFAULT_EPC_BASE),
      }),
    );
    const a = encls(m, EnclsLeaf.EADD, { rbx: ram + P, rcx: DEFAULT_EPC_BASE + P });
    expect(isFault(a)).toBe(false);
    expect(m.epcm.validCount).toBe(2);
    const r = sgxInit(k, m);
    if (r.kind !== 'ok') throw new Error(r.errno.name);
    expect(m.epcm.validCount, 'every page EREMOVEd').toBe(0);
    expect(r.sgx.nrFreePages).toBe(8);
    // Pass 1: SECS (CHILD_PRESENT), child (ok); pass 2: SECS (ok).
    expect(r.sgx.stats.encls.EREMOVE).toBe(3);
    expect(sgxCheckInvariants(r.sgx)).toEqual([]);
    // The SECS that failed the first pass went to the tail of the free list.
    const order: number[] = [];
    for (let i = 0; i < 8; i++) {
      const p = sgxAllocEpcPage(r.sgx, null, false);
      if (!isErrno(p)) order.push((p.pa - DEFAULT_EPC_BASE) / P);
    }
    expect(order).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
  });

  it('without flexible launch control: no /dev/sgx_enclave, and no SGX at all (no vEPC either)', () => {
    const { m, k } = machine([{ base: DEFAULT_EPC_BASE, pages: 8 }], { launchControl: false });
    const r = sgxInit(k, m);
    expect(r.kind).toBe('error');
    if (r.kind !== 'error') return;
    expect(r.errno.name).toBe('ENODEV');
    expect(r.dmesg).toContain(
      'sgx: SGX disabled: SGX launch control CPU feature is not available, /dev/sgx_enclave disabled.',
    );
    expect(k.vfs.paths()).not.toContain('/dev/sgx_enclave');
    expect(k.vfs.paths(), 'sgx_provision is deregistered on the error path').not.toContain('/dev/sgx_provision');
  });

  it('without the SGX1 leaves (CPUID.(12H,0):EAX[0] = 0): no /dev/sgx_enclave', () => {
    const { m, k } = machine([{ base: DEFAULT_EPC_BASE, pages: 8 }]);
    const cpuid = m.cpuid12.bind(m);
    m.cpuid12 = (sub: number) => (sub === 0 ? { ...cpuid(0), eax: 0 } : cpuid(sub));
    const r = sgxInit(k, m);
    expect(r.kind === 'error' && r.errno.name).toBe('ENODEV');
    expect(r.kind === 'error' && r.dmesg).toContain(
      'sgx: SGX disabled: SGX1 instruction support not available, /dev/sgx_enclave disabled.',
    );
  });

  it('with zero EPC sections it fails with ENOMEM', () => {
    const { m, k } = machine([]);
    const r = sgxInit(k, m);
    expect(r.kind === 'error' && r.errno.name).toBe('ENOMEM');
    expect(r.kind === 'error' && r.dmesg).toEqual(['sgx: There are zero EPC sections.']);
  });

  it('computes the reserved masks from CPUID leaf 12H', () => {
    const { sgx, m } = makeSgxSystem({ features: { kss: true } });
    const l0 = m.cpuid12(0);
    const l1 = m.cpuid12(1);
    const allowed = (BigInt(l1.ebx >>> 0) << 32n) | BigInt(l1.eax >>> 0);
    const u64 = (x: bigint) => BigInt.asUintN(64, x);
    expect(sgx.attributesReservedMask).toBe(u64(~allowed) | SGX_ATTR_RESERVED_MASK);
    // KSS (bit 7) is allowed on this CPU; bits 3, 6, 8, 9, 11.. are always reserved.
    expect(sgx.attributesReservedMask & AttrFlags.KSS).toBe(0n);
    expect(sgx.attributesReservedMask & (1n << 10n), 'AEX-Notify is reserved: this CPU lacks it').toBe(1n << 10n);
    expect(sgx.miscReservedMask).toBe(BigInt(~l0.ebx >>> 0) | 0xffff_fffen);
    expect(sgx.xfrmReservedMask).toBe(u64(~((BigInt(l1.edx >>> 0) << 32n) | BigInt(l1.ecx >>> 0))));
    expect(sgx.xfrmReservedMask & 3n).toBe(0n);
  });
});
