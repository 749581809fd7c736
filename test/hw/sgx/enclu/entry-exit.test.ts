// ENCLU[EENTER], [ERESUME] and [EEXIT]: every check of the SDM pseudo-code (Vol. 3D §41.4), one row per rule, with the
// exact fault, plus the architectural effects the rules promise (sgx-isa.md §5.1, §5.2, §5.4).
import { describe, expect, it } from 'vitest';
import {
  AttrFlags,
  type CpuFault,
  EnclsLeaf,
  EncluLeaf,
  type EncluOutcome,
  encls,
  enclu,
  GPRSGX,
  getField,
  type LpRunResult,
  PfErr,
  PTE_NX,
  PTE_P,
  PTE_U,
  setField,
  TF,
  Vector,
} from '../../../../src/hw/index';
import {
  AFTER_ENCLU,
  atStub,
  DATA,
  type Enclave,
  epcBytes,
  type LoadOptions,
  loadEnclave,
  makePlatform,
  type Platform,
  type PlatformOptions,
  patchTcs,
  poke64,
  R,
  SAMPLE_ELF,
  STACK_TOP,
  STUB,
  TCS,
  tcsPage,
} from './fixture';

const GP: CpuFault = { kind: 'fault', vector: Vector.GP, errorCode: 0, addr: 0 };
const pfAt = (addr: number, errorCode: number): CpuFault => ({ kind: 'fault', vector: Vector.PF, errorCode, addr });
/** #PF of an SGX check on an operand ENCLU writes: P | W | U | SGX. */
const SGX_W = 0x8007;
const NOT_PRESENT_W = PfErr.W | PfErr.U;

interface World {
  p: Platform;
  e: Enclave;
}

function world(platform: PlatformOptions = {}, load: LoadOptions = {}): World {
  const p = makePlatform({ cpus: 2, ...platform });
  return { p, e: loadEnclave(p, SAMPLE_ELF, load) };
}

/** Patches TCS #0 of the sample image (before EADD, so the enclave is measured and signed with it). */
const tcs0 = (fields: Parameters<typeof patchTcs>[1]): LoadOptions => ({
  patch: (off, bytes) => (off === 0 ? patchTcs(bytes, fields) : bytes),
});

/** TCS #0 with raw u64 fields replaced (OSSA @16, OENTRY @32, OFSBASGX @48, OGSBASGX @56). */
const tcs0Raw = (fields: Record<number, bigint>): LoadOptions => ({
  patch: (off, bytes) => {
    if (off !== 0) return bytes;
    const out = Uint8Array.from(bytes);
    for (const [at, v] of Object.entries(fields)) new DataView(out.buffer).setBigUint64(Number(at), v, true);
    return out;
  },
});

/** ENCLU at the stub with `leaf` on TCS `tcs` (default TCS #0) and the given registers, on CPU 0. */
function at(w: World, leaf: number, regs: Record<number, bigint> = {}, tcs = w.e.tcs[0]!): LpRunResult {
  poke64(w.p, DATA, 4n); // the sample's NOP op, should the entry succeed
  atStub(w.p.lps[0]!, leaf, tcs, { [R.RDI]: BigInt(DATA), ...regs });
  return w.p.lps[0]!.run(1_000_000);
}

function faultOf(r: LpRunResult): { fault: CpuFault; aex: boolean } | undefined {
  return r.stop.kind === 'exception' ? { fault: r.stop.fault, aex: r.stop.aex } : undefined;
}

/** Drives CPU 0 into TCS #0 and stops on the first enclave instruction. */
function inside(w: World): void {
  atStub(w.p.lps[0]!, EncluLeaf.EENTER, w.e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
  expect(w.p.lps[0]!.run(1).stop.kind, 'stopped inside').toBe('budget');
  expect(w.p.lps[0]!.inEnclave).toBe(true);
}

/** An interrupt on CPU 0 while inside TCS #0: AEX, CSSA 0 → 1. */
function aexOnTcs0(w: World): void {
  inside(w);
  expect(w.p.lps[0]!.interrupt('timer').aex).toBe(true);
}

/** Executes one ENCLU leaf directly on CPU 0 in its current mode, as the instruction at RIP. */
function leafNow(w: World, leaf: number, regs: Record<number, bigint> = {}): EncluOutcome {
  const cpu = w.p.lps[0]!.cpu;
  for (const [r, v] of Object.entries(regs)) cpu.setReg64(Number(r), v);
  cpu.nextRip = cpu.rip + 3;
  return enclu({ m: w.p.m, cpu, cpuId: 0 }, leaf);
}

const NONCANONICAL = 0x8000_0000_0000_0000n;

/** A page image with `code` at its start. */
function withCode(page: Uint8Array, code: Uint8Array): Uint8Array {
  const out = Uint8Array.from(page);
  out.set(code, 0);
  return out;
}

describe('ENCLU[EENTER] checks, in the SDM order', () => {
  const rows: Array<[string, () => { w: World; r: () => LpRunResult }, CpuFault]> = [
    [
      'RBX not 4 KiB aligned is #GP(0)',
      () => {
        const w = world();
        return { w, r: () => at(w, EncluLeaf.EENTER, {}, w.e.tcs[0]! + 8) };
      },
      GP,
    ],
    [
      'a non-canonical RBX is #GP(0)',
      () => {
        const w = world();
        return { w, r: () => at(w, EncluLeaf.EENTER, { [R.RBX]: NONCANONICAL }) };
      },
      GP,
    ],
    [
      'RBX not mapped in the page tables is the walk’s #PF(RBX), not present',
      () => {
        const w = world();
        w.p.space.unmap(w.e.tcs[0]!, 4096);
        return { w, r: () => at(w, EncluLeaf.EENTER) };
      },
      pfAt(0, NOT_PRESENT_W),
    ],
    [
      'RBX mapped to ordinary memory is #PF(RBX) with the SGX bit',
      () => {
        const w = world();
        return { w, r: () => at(w, EncluLeaf.EENTER, {}, DATA) };
      },
      pfAt(DATA, SGX_W),
    ],
    [
      'a non-canonical AEP (RCX) is #GP(0)',
      () => {
        const w = world();
        return { w, r: () => at(w, EncluLeaf.EENTER, { [R.RCX]: NONCANONICAL }) };
      },
      GP,
    ],
    [
      'an EPC page that is not VALID is #PF(RBX)',
      () => {
        const w = world();
        const pa = w.e.pageAt.get(0)!;
        expect(encls(w.p.m, EnclsLeaf.EREMOVE, { rcx: pa }).kind).toBe('status');
        return { w, r: () => at(w, EncluLeaf.EENTER) };
      },
      pfAt(0, SGX_W),
    ],
    [
      'a BLOCKED TCS is #PF(RBX)',
      () => {
        const w = world();
        encls(w.p.m, EnclsLeaf.EBLOCK, { rcx: w.e.pageAt.get(0)! });
        return { w, r: () => at(w, EncluLeaf.EENTER) };
      },
      pfAt(0, SGX_W),
    ],
    [
      'a PT_REG page is #PF(RBX)',
      () => {
        const w = world();
        return { w, r: () => at(w, EncluLeaf.EENTER, {}, w.e.base + 0x3000) };
      },
      pfAt(0x3000, SGX_W),
    ],
    [
      'a TCS reached at another linear address (EPCM.ENCLAVEADDRESS ≠ RBX) is #PF(RBX)',
      () => {
        const w = world();
        w.p.space.mapPfn(w.e.base + 0xa000, w.e.pageAt.get(0)! / 4096, PTE_P | PTE_U | 2 | PTE_NX);
        return { w, r: () => at(w, EncluLeaf.EENTER, {}, w.e.base + 0xa000) };
      },
      pfAt(0xa000, SGX_W),
    ],
    ['OSSA not 4 KiB aligned is #GP(0)', () => wr(tcs0Raw({ 16: 0x5008n })), GP],
    ['OFSBASGX not 4 KiB aligned is #GP(0)', () => wr(tcs0Raw({ 48: 0x10n })), GP],
    ['OGSBASGX not 4 KiB aligned is #GP(0)', () => wr(tcs0Raw({ 56: 0x10n })), GP],
    ['a non-canonical FS base (BASEADDR + OFSBASGX) is #GP(0)', () => wr(tcs0Raw({ 48: 1n << 46n })), GP],
    ['a reserved TCS.FLAGS bit is #GP(0)', () => wr(tcs0({ flags: 4n })), GP],
    ['TCS.FLAGS.AEXNOTIFY on a part without AEX-Notify is #GP(0) (bit 1 reserved)', () => wr(tcs0({ flags: 2n })), GP],
    ['an enclave that is not initialized is #GP(0)', () => wr({ uninitialized: true }), GP],
    [
      'a 32-bit enclave entered from 64-bit mode is #GP(0) (MODE64BIT mismatch)',
      () => wr({ attributes: 0n, base: 0x4000_0000 }),
      GP,
    ],
    ['SECS.XFRM beyond XCR0 (x87 | SSE) is #GP(0)', () => wr({ xfrm: 7n }, { features: { allowedXfrm: 7n } }), GP],
    [
      'CSSA ≥ NSSA (no free SSA frame) is #GP(0)',
      () => {
        const w = world();
        aexOnTcs0(w);
        return { w, r: () => at(w, EncluLeaf.EENTER) };
      },
      GP,
    ],
    [
      'an SSA page missing from the page tables is the walk’s #PF at that page',
      () => {
        const w = world();
        w.p.space.unmap(w.e.base + 0x5000, 4096);
        return { w, r: () => at(w, EncluLeaf.EENTER) };
      },
      pfAt(0x5000, NOT_PRESENT_W),
    ],
    [
      'an SSA page read-only in the page tables is #PF 0x7 (the leaf writes it)',
      () => {
        const w = world();
        w.p.space.mapPfn(w.e.base + 0x5000, w.e.pageAt.get(0x5000)! / 4096, PTE_P | PTE_U | PTE_NX);
        return { w, r: () => at(w, EncluLeaf.EENTER) };
      },
      pfAt(0x5000, 7),
    ],
    [
      'an SSA frame on an EPCM read-only page (OSSA → the code page) is #PF with the SGX bit',
      () => {
        const w = world({}, tcs0Raw({ 16: 0x2000n }));
        w.p.space.mapPfn(w.e.base + 0x2000, w.e.pageAt.get(0x2000)! / 4096, PTE_P | PTE_U | 2);
        return { w, r: () => at(w, EncluLeaf.EENTER) };
      },
      pfAt(0x2000, SGX_W),
    ],
    [
      'the GPRSGX page is checked at TMP_GPR itself (two-page frame running off the image)',
      () => wr({ ssaFrameSize: 2, ...tcs0Raw({ 16: 0x9000n }) }),
      pfAt(0x9000 + 2 * 4096 - 184, NOT_PRESENT_W),
    ],
    ['a non-canonical entry point (BASEADDR + OENTRY) is #GP(0)', () => wr(tcs0Raw({ 32: 1n << 46n })), GP],
    [
      'a TCS another logical processor is inside (STATE = ACTIVE) is #GP(0)',
      () => {
        const w = world();
        atStub(w.p.lps[1]!, EncluLeaf.EENTER, w.e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
        expect(w.p.lps[1]!.run(1).stop.kind).toBe('budget');
        return { w, r: () => at(w, EncluLeaf.EENTER) };
      },
      GP,
    ],
  ];
  function wr(load: LoadOptions, platform: PlatformOptions = {}): { w: World; r: () => LpRunResult } {
    const w = world(platform, load);
    return { w, r: () => at(w, EncluLeaf.EENTER) };
  }

  it.each(rows)('%s', (_rule, make, want) => {
    const { w, r } = make();
    const res = r();
    // #PF addresses in the table are enclave offsets unless they lie outside ELRANGE.
    const addr = want.vector === Vector.PF && want.addr < w.e.size ? w.e.base + want.addr : want.addr;
    expect(faultOf(res), 'the fault, delivered at ENCLU outside enclave mode').toEqual({
      fault: { ...want, addr },
      aex: false,
    });
    expect(w.p.lps[0]!.cpu.rip, 'RIP stays at ENCLU').toBe(STUB);
  });

  it('is #GP(0) inside an enclave, which AEXes with EXITINFO #GP', () => {
    // A sample enclave whose entry point executes ENCLU[EENTER] (mov eax, 2; enclu).
    const code = Uint8Array.of(0xb8, 2, 0, 0, 0, 0x0f, 0x01, 0xd7);
    const w = world({}, { patch: (off, b) => (off === 0x2000 ? withCode(b, code) : b) });
    const res = at(w, EncluLeaf.EENTER);
    expect(faultOf(res), 'AEX, then #GP(0)').toEqual({ fault: GP, aex: true });
    const gpr = epcBytes(w.p, w.e, w.e.base + 0x5000 + 4096 - 184, 184);
    expect(getField(GPRSGX, gpr, 0, 'rip'), 'SSA.RIP = the ENCLU').toBe(BigInt(w.e.base + 0x2005));
    expect(getField(GPRSGX, gpr, 0, 'exitInfo').toString(16)).toBe('8000030d');
    expect(leafNow(w, EncluLeaf.EEXIT), 'EEXIT outside enclave mode is #GP(0)').toEqual({ kind: 'fault', fault: GP });
  });

  it('enters: RCX = the next instruction, RAX = CSSA, RIP = BASEADDR + OENTRY, URSP/URBP saved, TCS active', () => {
    const w = world();
    const lp = w.p.lps[0]!;
    atStub(lp, EncluLeaf.EENTER, w.e.tcs[1]!, { [R.RDI]: BigInt(DATA), [R.RSI]: 0x77n, 28: 0n });
    lp.cpu.setReg64(12, 0x1212n);
    lp.cpu.fsBase = 0x7000;
    expect(lp.run(1).stop.kind).toBe('budget');
    const c = lp.cpu;
    expect(c.rip, 'RIP = BASEADDR + OENTRY').toBe(w.e.base + 0x2000);
    expect(c.getReg64(R.RCX), 'RCX = the address after ENCLU').toBe(BigInt(AFTER_ENCLU));
    expect(c.getReg64(R.RAX), 'RAX = CSSA').toBe(0n);
    expect(c.getReg64(R.RBX), 'RBX unchanged').toBe(BigInt(w.e.tcs[1]!));
    expect(c.getReg64(R.RSI), 'RSI passed through').toBe(0x77n);
    expect(c.getReg64(12), 'R12 passed through').toBe(0x1212n);
    expect(c.fsBase, 'FS base = BASEADDR + OFSBASGX').toBe(w.e.base);
    expect(c.enclave, 'enclave mode').toMatchObject({ tcs: w.e.tcs[1], cssa: 0, elrangeBase: w.e.base });
    const gpr = epcBytes(w.p, w.e, w.e.base + 0x6000 + 4096 - 184, 184);
    expect(getField(GPRSGX, gpr, 0, 'ursp'), 'URSP').toBe(BigInt(STACK_TOP - 64));
    expect(getField(GPRSGX, gpr, 0, 'urbp'), 'URBP').toBe(0x5151n);
    expect(getField(TCS, tcsPage(w.p, w.e, 1), 0, 'state'), 'TCS.STATE = ACTIVE').toBe(1n);
    expect(w.p.m.lp(0), 'tracked as inside').toEqual({ secs: w.e.secsIndex, epoch: 0 });
    // EEXIT from here restores the untrusted FS base.
    c.setReg64(R.RBX, BigInt(AFTER_ENCLU));
    expect(leafNow(w, EncluLeaf.EEXIT)).toEqual({ kind: 'done' });
    expect(c.fsBase, 'FS base restored').toBe(0x7000);
    expect(w.p.m.lp(0), 'no longer inside').toBeUndefined();
  });

  it('makes EEXIT with a non-canonical RBX a #GP(0) inside the enclave, changing nothing', () => {
    const w = world();
    inside(w);
    const rip = w.p.lps[0]!.cpu.rip;
    expect(leafNow(w, EncluLeaf.EEXIT, { [R.RBX]: NONCANONICAL })).toEqual({ kind: 'fault', fault: GP });
    expect(w.p.lps[0]!.inEnclave, 'still inside').toBe(true);
    expect(w.p.lps[0]!.cpu.rip, 'RIP at the ENCLU').toBe(rip);
  });

  it('reads only EAX[31:0] as the leaf', () => {
    const w = world();
    const res = at(w, EncluLeaf.EENTER, { [R.RAX]: 0xffff_0000_0000_0002n });
    expect(res.stop, 'EENTER ran and the enclave EEXITed').toEqual({ kind: 'int', vector: 0x80 });
  });

  it.each([
    ['8 (no leaf)', 8],
    ['EACCEPT on an SGX1 part', EncluLeaf.EACCEPT],
    ['EMODPE on an SGX1 part', EncluLeaf.EMODPE],
    ['EACCEPTCOPY on an SGX1 part', EncluLeaf.EACCEPTCOPY],
    ['EDECCSSA without AEX-Notify', EncluLeaf.EDECCSSA],
    ['0x100', 0x100],
  ])('is #GP(0) for the undefined leaf %s', (_name, leaf) => {
    const w = world();
    expect(faultOf(at(w, leaf)), 'undefined leaf').toEqual({ fault: GP, aex: false });
  });

  it('takes a TF of an opt-out entry away from the enclave and gives it back with a #DB after EEXIT', () => {
    const w = world();
    const lp = w.p.lps[0]!;
    poke64(w.p, DATA, 4n);
    atStub(lp, EncluLeaf.EENTER, w.e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
    lp.cpu.setFlags(lp.cpu.getFlags() | TF);
    const res = lp.run(1_000_000);
    expect(res.stop, 'no single-step inside; the pending #DB after EEXIT').toEqual({
      kind: 'exception',
      fault: { kind: 'fault', vector: Vector.DB, errorCode: 0, addr: 0, dr6: 0x4000 }, // DR6.BS
      trap: true,
      aex: false,
    });
    expect(lp.cpu.rip, 'RIP = the EEXIT target').toBe(AFTER_ENCLU);
    expect(res.executed, 'the whole NOP ran in one go').toBeGreaterThan(20);
    expect(lp.cpu.getFlags() & TF, 'TF restored').toBe(TF);
  });

  it('pends a #DB at the end of an opt-in EENTER with TF = 1, which AEXes with EXITINFO #DB', () => {
    const w = world({}, { attributes: AttrFlags.MODE64BIT | AttrFlags.DEBUG });
    // EDBGWR may set TCS.FLAGS.DBGOPTIN of a debug enclave (SDM Vol. 3D §41.2 EDBGWR).
    expect(encls(w.p.m, EnclsLeaf.EDBGWR, { rbx: 1n, rcx: w.e.pageAt.get(0)! + 8 }).kind).toBe('status');
    const lp = w.p.lps[0]!;
    atStub(lp, EncluLeaf.EENTER, w.e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
    lp.cpu.setFlags(lp.cpu.getFlags() | TF);
    expect(faultOf(lp.run(1_000_000))).toEqual({
      fault: { kind: 'fault', vector: Vector.DB, errorCode: 0, addr: 0, dr6: 0x4000 }, // DR6.BS
      aex: true,
    });
    const gpr = epcBytes(w.p, w.e, w.e.base + 0x5000 + 4096 - 184, 184);
    expect(getField(GPRSGX, gpr, 0, 'rip'), 'SSA.RIP = OENTRY: nothing ran').toBe(BigInt(w.e.base + 0x2000));
    expect(getField(GPRSGX, gpr, 0, 'exitInfo').toString(16), 'EXITINFO: VALID, hardware, #DB').toBe('80000301');
    expect(lp.cpu.getFlags() & TF, 'opt-in: TF stays set').toBe(TF);
  });
});

describe('ENCLU[ERESUME] checks, in the SDM order', () => {
  /** A world with TCS #0 interrupted (CSSA = 1), and the SSA frame 0 of TCS #0 for tampering. */
  function interrupted(load: LoadOptions = {}): World & { gpr: Uint8Array; xsave: Uint8Array } {
    const w = world({}, load);
    aexOnTcs0(w);
    const page = w.p.m.physMem.page(w.e.pageAt.get(0x5000)! / 4096);
    return { ...w, gpr: page.subarray(4096 - 184), xsave: page.subarray(0, 576) };
  }

  const rows: Array<[string, () => World & { regs?: Record<number, bigint> }, CpuFault]> = [
    ['CSSA = 0 (nothing to resume) is #GP(0)', () => world(), GP],
    [
      'RBX not 4 KiB aligned is #GP(0) (the TCS checks EENTER shares)',
      () => {
        const w = interrupted();
        return { ...w, regs: { [R.RBX]: BigInt(w.e.tcs[0]! + 64) } };
      },
      GP,
    ],
    [
      'TCS.FLAGS with a reserved bit is #GP(0)',
      () => {
        const w = interrupted();
        setField(TCS, tcsPage(w.p, w.e, 0), 0, 'flags', 8n);
        return w;
      },
      GP,
    ],
    [
      'XSAVE header bytes 520..535 not zero is #GP(0)',
      () => {
        const w = interrupted();
        w.xsave[530] = 1;
        return w;
      },
      GP,
    ],
    [
      'XSTATE_BV beyond SECS.XFRM is #GP(0)',
      () => {
        const w = interrupted();
        w.xsave[512] = 7;
        return w;
      },
      GP,
    ],
    [
      'a reserved MXCSR bit in the saved state is #GP(0) (XRSTOR)',
      () => {
        const w = interrupted();
        new DataView(w.xsave.buffer, w.xsave.byteOffset).setUint32(24, 0x1_0000, true);
        return w;
      },
      GP,
    ],
    [
      'a non-canonical saved RIP is #GP(0)',
      () => {
        const w = interrupted();
        setField(GPRSGX, w.gpr, 0, 'rip', NONCANONICAL);
        return w;
      },
      GP,
    ],
    [
      'a non-canonical saved FS base is #GP(0)',
      () => {
        const w = interrupted();
        setField(GPRSGX, w.gpr, 0, 'fsBase', NONCANONICAL);
        return w;
      },
      GP,
    ],
    [
      'the saved frame read-only in the page tables is #PF 0x7',
      () => {
        const w = interrupted();
        w.p.space.mapPfn(w.e.base + 0x5000, w.e.pageAt.get(0x5000)! / 4096, PTE_P | PTE_U | PTE_NX);
        return w;
      },
      pfAt(0x5000, 7),
    ],
  ];
  it.each(rows)('%s', (_rule, make, want) => {
    const w = make();
    const cssa = getField(TCS, tcsPage(w.p, w.e, 0), 0, 'cssa');
    const res = at(w, EncluLeaf.ERESUME, w.regs);
    const addr = want.vector === Vector.PF ? w.e.base + want.addr : want.addr;
    expect(faultOf(res), 'the fault at ENCLU').toEqual({ fault: { ...want, addr }, aex: false });
    expect(getField(TCS, tcsPage(w.p, w.e, 0), 0, 'state'), 'TCS stays INACTIVE').toBe(0n);
    expect(getField(TCS, tcsPage(w.p, w.e, 0), 0, 'cssa'), 'CSSA unchanged').toBe(cssa);
  });

  it('is #GP(0) inside an enclave', () => {
    const w = world();
    inside(w);
    expect(leafNow(w, EncluLeaf.ERESUME)).toEqual({ kind: 'fault', fault: GP });
  });

  it('restores every GPR, the listed RFLAGS bits, XMM, MXCSR and the FS base, pops the frame and records the new AEP', () => {
    const w = world();
    inside(w);
    const c = w.p.lps[0]!.cpu;
    const regs = Array.from({ length: 16 }, (_, r) => 0x1111_0000_0000_0000n + BigInt(r));
    regs.forEach((v, r) => {
      c.setReg64(r, v);
    });
    c.setFlags(0x202 | 0x1 | 0x40 | 0x400 | 0x800);
    c.x8.fill(0xab, 0, 16);
    c.mxcsr = 0x1fc0;
    c.fsBase = w.e.base + 0x3000; // as WRFSBASE inside would
    const rip = c.rip;
    w.p.lps[0]!.interrupt('timer');
    expect(c.x8[0], 'AEX: XMM0 = 0').toBe(0);
    atStub(w.p.lps[0]!, EncluLeaf.ERESUME, w.e.tcs[0]!);
    c.setReg64(R.RCX, 0x40_0800n); // another AEP
    expect(w.p.lps[0]!.run(1).stop.kind, 'one instruction: ERESUME').toBe('budget');
    regs.forEach((v, r) => {
      expect(c.getReg64(r), `register ${r}`).toBe(v);
    });
    expect(c.rip, 'RIP from the SSA').toBe(rip);
    expect(c.getFlags() & 0xcd5, 'CF, ZF, DF, OF restored').toBe(0x1 | 0x40 | 0x400 | 0x800);
    expect(c.x8[15], 'XMM0 restored').toBe(0xab);
    expect(c.mxcsr, 'MXCSR restored').toBe(0x1fc0);
    expect(c.fsBase, 'FS base from GPRSGX.FSBASE').toBe(w.e.base + 0x3000);
    expect(getField(TCS, tcsPage(w.p, w.e, 0), 0, 'cssa'), 'CSSA − 1').toBe(0);
    expect(getField(TCS, tcsPage(w.p, w.e, 0), 0, 'aep'), 'TCS.AEP = the new RCX').toBe(0x40_0800n);
    expect(c.enclave?.cssa, 'enclave mode on frame 0').toBe(0);
  });
});
