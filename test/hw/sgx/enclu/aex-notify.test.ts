// AEX-Notify (SDM Vol. 3D §41.4 ERESUME, EDECCSSA; sgx-isa.md §5.4): SECS.ATTRIBUTES.AEXNOTIFY, TCS.FLAGS.AEXNOTIFY
// and the AEXNOTIFY byte of GPRSGX (offset 167) make ERESUME enter the enclave like EENTER onto the next SSA frame;
// EDECCSSA pops a frame from inside. On a part without AEX-Notify all of it is #GP(0).
import { describe, expect, it } from 'vitest';
import {
  AttrFlags,
  type CpuFault,
  EncluLeaf,
  type EncluOutcome,
  enclu,
  GPRSGX,
  getField,
  setField,
  Vector,
} from '../../../../src/hw/index';
import {
  AFTER_ENCLU,
  atStub,
  DATA,
  type Enclave,
  loadEnclave,
  makePlatform,
  type Platform,
  patchTcs,
  R,
  SAMPLE_ELF,
  STACK_TOP,
  TCS,
  tcsPage,
} from './fixture';

const GP: CpuFault = { kind: 'fault', vector: Vector.GP, errorCode: 0, addr: 0 };

/** A part with AEX-Notify and a sample enclave opted in: TCS #0 has FLAGS.AEXNOTIFY and two SSA frames. */
function notifyWorld(): { p: Platform; e: Enclave } {
  const p = makePlatform({ features: { aexNotify: true } });
  const e = loadEnclave(p, SAMPLE_ELF, {
    attributes: AttrFlags.MODE64BIT | AttrFlags.AEXNOTIFY,
    // TCS #0's frames are at 0x5000 and 0x6000 (TCS #1's frame, unused here).
    patch: (off, b) => (off === 0 ? patchTcs(b, { flags: 2n, nssa: 2 }) : b),
  });
  return { p, e };
}

const lp0 = (p: Platform) => p.lps[0]!;

function enterAndStop(p: Platform, e: Enclave, leaf: number = EncluLeaf.EENTER): void {
  atStub(lp0(p), leaf, e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
  expect(lp0(p).run(1).stop.kind, 'stopped right after the leaf').toBe('budget');
}

function leafNow(p: Platform, leaf: number): EncluOutcome {
  const cpu = lp0(p).cpu;
  cpu.nextRip = cpu.rip + 3;
  return enclu({ m: p.m, cpu, cpuId: 0 }, leaf);
}

/** GPRSGX of frame `i` of TCS #0. */
function frameGpr(p: Platform, e: Enclave, i: number): Uint8Array {
  const off = 0x5000 + i * 4096;
  return p.m.physMem.page(e.pageAt.get(off)! / 4096).subarray(4096 - 184);
}

describe('AEX-Notify', () => {
  it('enumerates EDECCSSA in CPUID.(12H,0):EAX[11] and the AEXNOTIFY attribute in CPUID.(12H,1):EAX[10]', () => {
    expect(notifyWorld().p.m.cpuid12(0).eax & (1 << 11)).toBe(1 << 11);
    expect(notifyWorld().p.m.cpuid12(1).eax & (1 << 10)).toBe(1 << 10);
    expect(makePlatform().m.cpuid12(0).eax & (1 << 11), 'not on a part without it').toBe(0);
  });

  it('refuses ATTRIBUTES.AEXNOTIFY at ECREATE on a part without it', () => {
    expect(() =>
      loadEnclave(makePlatform(), SAMPLE_ELF, { attributes: AttrFlags.MODE64BIT | AttrFlags.AEXNOTIFY }),
    ).toThrow();
  });

  it('is #GP(0) at EENTER when TCS.FLAGS.AEXNOTIFY differs from SECS.ATTRIBUTES.AEXNOTIFY (opt-out TCS)', () => {
    const { p, e } = notifyWorld();
    atStub(lp0(p), EncluLeaf.EENTER, e.tcs[1]!, { [R.RDI]: BigInt(DATA) }); // TCS #1 kept FLAGS = 0
    expect(lp0(p).run(10).stop).toEqual({ kind: 'exception', fault: GP, trap: false, aex: false });
  });

  it('resumes normally when the saved frame’s AEXNOTIFY byte is clear', () => {
    const { p, e } = notifyWorld();
    enterAndStop(p, e);
    const rip = lp0(p).cpu.rip;
    lp0(p).interrupt('timer');
    enterAndStop(p, e, EncluLeaf.ERESUME);
    expect(lp0(p).cpu.rip, 'RIP from the SSA').toBe(rip);
    expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa'), 'frame popped').toBe(0);
  });

  it('makes ERESUME enter at OENTRY on the next frame when the byte is set, then EDECCSSA pops the frame', () => {
    const { p, e } = notifyWorld();
    enterAndStop(p, e);
    // The enclave opts in for the frame it runs on (frame 0); the AEX leaves the byte alone.
    setField(GPRSGX, frameGpr(p, e, 0), 0, 'aexNotify', 1);
    const interruptedRip = lp0(p).cpu.rip;
    lp0(p).interrupt('timer');
    expect(getField(GPRSGX, frameGpr(p, e, 0), 0, 'aexNotify'), 'AEX preserved the byte').toBe(1);
    expect(getField(GPRSGX, frameGpr(p, e, 0), 0, 'rip'), 'frame 0 holds the interrupted context').toBe(
      BigInt(interruptedRip),
    );

    atStub(lp0(p), EncluLeaf.ERESUME, e.tcs[0]!, { [R.RDI]: 0x1234n });
    lp0(p).cpu.setReg64(R.RSP, BigInt(STACK_TOP - 128));
    expect(lp0(p).run(1).stop.kind).toBe('budget');
    const c = lp0(p).cpu;
    expect(c.rip, 'RIP = BASEADDR + OENTRY').toBe(e.base + 0x2000);
    expect(c.getReg64(R.RAX), 'RAX = CSSA').toBe(1n);
    expect(c.getReg64(R.RCX), 'RCX = the address after ENCLU').toBe(BigInt(AFTER_ENCLU));
    expect(c.getReg64(R.RDI), 'other registers are the untrusted caller’s').toBe(0x1234n);
    expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa'), 'CSSA not decremented').toBe(1);
    expect(c.enclave?.cssa, 'running on frame 1').toBe(1);
    expect(getField(GPRSGX, frameGpr(p, e, 1), 0, 'ursp'), 'URSP saved into frame 1').toBe(BigInt(STACK_TOP - 128));
    expect(c.fsBase, 'FS base = BASEADDR + OFSBASGX').toBe(e.base);

    // The handler pops frame 1 … then an interrupt saves into frame 0 again.
    expect(leafNow(p, EncluLeaf.EDECCSSA)).toEqual({ kind: 'done' });
    expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa'), 'EDECCSSA: CSSA − 1').toBe(0);
    expect(c.enclave?.cssa).toBe(0);
    const handlerRip = c.rip;
    lp0(p).interrupt('timer');
    expect(getField(GPRSGX, frameGpr(p, e, 0), 0, 'rip'), 'the next AEX saved into frame 0').toBe(BigInt(handlerRip));
    expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa')).toBe(1);
  });

  it('is #GP(0) at a notifying ERESUME when no frame is left (CSSA = NSSA)', () => {
    const { p, e } = notifyWorld();
    enterAndStop(p, e);
    setField(GPRSGX, frameGpr(p, e, 0), 0, 'aexNotify', 1);
    lp0(p).interrupt('timer');
    enterAndStop(p, e, EncluLeaf.ERESUME); // notify: now on frame 1
    setField(GPRSGX, frameGpr(p, e, 1), 0, 'aexNotify', 1);
    lp0(p).interrupt('timer'); // CSSA = 2 = NSSA
    atStub(lp0(p), EncluLeaf.ERESUME, e.tcs[0]!);
    expect(lp0(p).run(10).stop).toEqual({ kind: 'exception', fault: GP, trap: false, aex: false });
    // Without the byte, frame 1 resumes as usual.
    setField(GPRSGX, frameGpr(p, e, 1), 0, 'aexNotify', 0);
    enterAndStop(p, e, EncluLeaf.ERESUME);
    expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa')).toBe(1);
  });

  it('is #GP(0) at EDECCSSA when CSSA is 0', () => {
    const { p, e } = notifyWorld();
    enterAndStop(p, e);
    expect(leafNow(p, EncluLeaf.EDECCSSA)).toEqual({ kind: 'fault', fault: GP });
  });

  it('is an undefined leaf (#GP(0)) on a part without AEX-Notify', () => {
    const p = makePlatform();
    const e = loadEnclave(p, SAMPLE_ELF);
    enterAndStop(p, e);
    expect(leafNow(p, EncluLeaf.EDECCSSA)).toEqual({ kind: 'fault', fault: GP });
  });
});
