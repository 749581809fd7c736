// The enclave-mode access rules at TLB fill (SDM Vol. 3D §38.5; sgx-isa.md §8.2), one row per rule, asked of the hook
// with the enclave-mode block a real EENTER set up; and the AEX's EXITINFO/EXINFO rules for the events the compute
// and sample tests do not reach (interrupts, INT3, #PF without MISCSELECT.EXINFO).
import { describe, expect, it } from 'vitest';
import {
  type Access,
  type AccessDecision,
  EncluLeaf,
  EXINFO,
  enclaveAccessHook,
  exitInfo,
  GPRSGX,
  getField,
  PageType,
  PTE_P,
  PTE_U,
  setField,
  Vector,
} from '../../../src/hw/index';
import { atStub, DATA, type Enclave, loadEnclave, makePlatform, type Platform, R, SAMPLE_ELF } from './enclu/fixture';

const pf = (addr: number, errorCode: number): AccessDecision => ({ kind: 'fault', vector: Vector.PF, errorCode, addr });

function world(): { p: Platform; e: Enclave; other: Enclave } {
  const p = makePlatform();
  const e = loadEnclave(p, SAMPLE_ELF);
  const other = loadEnclave(p, SAMPLE_ELF);
  atStub(p.lps[0]!, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
  expect(p.lps[0]!.run(1).stop.kind).toBe('budget');
  return { p, e, other };
}

/** Asks the hook about `linear` → physical page `pa`, as the MMU would after the page-table checks passed. */
function ask(w: ReturnType<typeof world>, linear: number, pa: number, access: Access, enclave = true): AccessDecision {
  const cpu = w.p.lps[0]!.cpu;
  return enclaveAccessHook(w.p.m)({
    vpn: Math.floor(linear / 4096),
    linear,
    pte: { pfn: pa / 4096, flags: PTE_P | PTE_U },
    access,
    cpl: 3,
    enclave: enclave ? cpu.enclave : null,
    mem: w.p.m.physMem,
  });
}

const entryOf = (w: ReturnType<typeof world>, e: Enclave, off: number) =>
  w.p.m.epcm.get(w.p.m.epc.indexOf(e.pageAt.get(off)!)!)!;

describe('enclave-mode access control at TLB fill', () => {
  const rows: Array<
    [string, (w: ReturnType<typeof world>) => AccessDecision, (w: ReturnType<typeof world>) => AccessDecision]
  > = [
    [
      'a read of a REG page of the enclave at its address is allowed',
      (w) => ask(w, w.e.base + 0x3000, w.e.pageAt.get(0x3000)!, 'r'),
      () => 'ok',
    ],
    [
      'a fetch from the code page is allowed',
      (w) => ask(w, w.e.base + 0x2000, w.e.pageAt.get(0x2000)!, 'x'),
      () => 'ok',
    ],
    [
      'a fetch from a data page (EPCM X = 0) is #PF with SGX, P, U and I/D',
      (w) => ask(w, w.e.base + 0x3000, w.e.pageAt.get(0x3000)!, 'x'),
      (w) => pf(w.e.base + 0x3000, 0x8015),
    ],
    [
      'a write to the code page (EPCM W = 0) is #PF 0x8007',
      (w) => ask(w, w.e.base + 0x2010, w.e.pageAt.get(0x2000)!, 'w'),
      (w) => pf(w.e.base + 0x2010, 0x8007),
    ],
    [
      'a page of another enclave is #PF 0x8005',
      (w) => ask(w, w.e.base + 0x3000, w.other.pageAt.get(0x3000)!, 'r'),
      (w) => pf(w.e.base + 0x3000, 0x8005),
    ],
    [
      'an EPC page mapped at another linear address is #PF 0x8005',
      (w) => ask(w, w.e.base + 0x4000, w.e.pageAt.get(0x3000)!, 'r'),
      (w) => pf(w.e.base + 0x4000, 0x8005),
    ],
    [
      'a BLOCKED page is #PF 0x8005',
      (w) => {
        entryOf(w, w.e, 0x3000).blocked = true;
        return ask(w, w.e.base + 0x3000, w.e.pageAt.get(0x3000)!, 'r');
      },
      (w) => pf(w.e.base + 0x3000, 0x8005),
    ],
    [
      'a PENDING page is #PF 0x8007 on write',
      (w) => {
        entryOf(w, w.e, 0x3000).pending = true;
        return ask(w, w.e.base + 0x3000, w.e.pageAt.get(0x3000)!, 'w');
      },
      (w) => pf(w.e.base + 0x3000, 0x8007),
    ],
    [
      'a MODIFIED page is #PF 0x8005 on read',
      (w) => {
        entryOf(w, w.e, 0x3000).modified = true;
        return ask(w, w.e.base + 0x3000, w.e.pageAt.get(0x3000)!, 'r');
      },
      (w) => pf(w.e.base + 0x3000, 0x8005),
    ],
    [
      'a TRIM page is #PF 0x8005 on read',
      (w) => {
        entryOf(w, w.e, 0x3000).pt = PageType.TRIM;
        return ask(w, w.e.base + 0x3000, w.e.pageAt.get(0x3000)!, 'r');
      },
      (w) => pf(w.e.base + 0x3000, 0x8005),
    ],
    [
      'an invalid EPC page is #PF 0x8005',
      (w) => {
        w.p.m.epcm.invalidate(w.p.m.epc.indexOf(w.e.pageAt.get(0x3000)!)!);
        return ask(w, w.e.base + 0x3000, w.e.pageAt.get(0x3000)!, 'r');
      },
      (w) => pf(w.e.base + 0x3000, 0x8005),
    ],
    [
      'ELRANGE backed by RAM is #PF 0x8007 on write',
      (w) => ask(w, w.e.base + 0xa000, DATA, 'w'),
      (w) => pf(w.e.base + 0xa000, 0x8007),
    ],
    [
      'a fetch outside ELRANGE is #GP(0)',
      (w) => ask(w, DATA, DATA, 'x'),
      () => ({ kind: 'fault', vector: Vector.GP, errorCode: 0, addr: 0 }),
    ],
    ['a data access outside ELRANGE to RAM is ordinary', (w) => ask(w, DATA, DATA, 'w'), () => 'ok'],
    [
      'a data access outside ELRANGE to EPC (another enclave) is an abort page',
      (w) => ask(w, w.other.base + 0x3000, w.other.pageAt.get(0x3000)!, 'r'),
      () => 'abort',
    ],
    [
      'outside enclave mode, EPC is an abort page',
      (w) => ask(w, w.e.base + 0x3000, w.e.pageAt.get(0x3000)!, 'r', false),
      () => 'abort',
    ],
    ['outside enclave mode, RAM is ordinary', (w) => ask(w, DATA, DATA, 'x', false), () => 'ok'],
  ];
  it.each(rows)('%s', (_rule, act, want) => {
    const w = world();
    expect(act(w)).toEqual(want(w));
  });
});

describe('AEX exit information (SDM Vol. 3D §40.4.1)', () => {
  const ex = (vector: number, trap = false) => ({
    kind: 'exception' as const,
    fault: { kind: 'fault' as const, vector: vector as 0, errorCode: 0, addr: 0 },
    trap,
  });
  it.each([
    ['#DE', ex(Vector.DE), 1, 0x8000_0300],
    ['#DB', ex(Vector.DB, true), 1, 0x8000_0301],
    ['#BP (software, type 6)', ex(Vector.BP, true), 1, 0x8000_0603],
    ['#BR', ex(Vector.BR), 1, 0x8000_0305],
    ['#UD', ex(Vector.UD), 0, 0x8000_0306],
    ['#MF', ex(Vector.MF), 1, 0x8000_0310],
    ['#AC', ex(Vector.AC), 1, 0x8000_0311],
    ['#XM', ex(Vector.XM), 1, 0x8000_0313],
    ['#PF with MISCSELECT.EXINFO', ex(Vector.PF), 1, 0x8000_030e],
    ['#PF without MISCSELECT.EXINFO: not reported', ex(Vector.PF), 0, 0],
    ['#GP with MISCSELECT.EXINFO', ex(Vector.GP), 1, 0x8000_030d],
    ['#GP without MISCSELECT.EXINFO: not reported', ex(Vector.GP), 0, 0],
    ['#SS: never reported', ex(Vector.SS), 1, 0],
    ['#NM: never reported', ex(Vector.NM), 1, 0],
    ['an interrupt', { kind: 'interrupt' as const }, 1, 0],
  ] as const)('%s', (_name, event, misc, want) => {
    expect(exitInfo(event, misc).toString(16)).toBe(want.toString(16));
  });

  it('saves an interrupted context with RIP at the next instruction, RF = 0, EXITINFO 0 and EXINFO untouched', () => {
    const w = world();
    const page = w.p.m.physMem.page(w.e.pageAt.get(0x5000)! / 4096);
    setField(EXINFO, page, 4096 - 200, 'maddr', 0x1234n);
    const rip = w.p.lps[0]!.cpu.rip;
    expect(w.p.lps[0]!.interrupt('timer').aex).toBe(true);
    const gpr = page.subarray(4096 - 184);
    expect(getField(GPRSGX, gpr, 0, 'rip'), 'RIP: the instruction not yet executed').toBe(BigInt(rip));
    expect(getField(GPRSGX, gpr, 0, 'rflags') & 0x10000n, 'RF = 0').toBe(0n);
    expect(getField(GPRSGX, gpr, 0, 'exitInfo'), 'EXITINFO = 0').toBe(0);
    expect(getField(EXINFO, page, 4096 - 200, 'maddr'), 'EXINFO untouched').toBe(0x1234n);
    expect(new DataView(page.buffer, page.byteOffset).getBigUint64(512, true), 'XSTATE_BV ⊆ XFRM').toBe(
      new DataView(page.buffer, page.byteOffset).getBigUint64(512, true) & 3n,
    );
    expect(
      page.subarray(520, 536).every((b) => b === 0),
      'XSAVE header bytes 8..23 cleared',
    ).toBe(true);
  });

  it('reports INT3 in an enclave as a software #BP trap: RIP after it, EXITINFO type 6', () => {
    const p = makePlatform();
    const e = loadEnclave(p, SAMPLE_ELF, {
      patch: (off, b) => {
        if (off !== 0x2000) return b;
        const out = Uint8Array.from(b);
        out[0] = 0xcc;
        return out;
      },
    });
    atStub(p.lps[0]!, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
    expect(p.lps[0]!.run(100).stop).toEqual({
      kind: 'exception',
      fault: { kind: 'fault', vector: Vector.BP, errorCode: 0, addr: 0 },
      trap: true,
      aex: true,
    });
    const gpr = p.m.physMem.page(e.pageAt.get(0x5000)! / 4096).subarray(4096 - 184);
    expect(getField(GPRSGX, gpr, 0, 'rip'), 'after the INT3').toBe(BigInt(e.base + 0x2001));
    expect(getField(GPRSGX, gpr, 0, 'exitInfo').toString(16)).toBe('80000603');
  });

  it('does not report a #PF in EXITINFO or EXINFO when MISCSELECT.EXINFO is clear', () => {
    const p = makePlatform();
    const e = loadEnclave(p, SAMPLE_ELF, { miscSelect: 0 });
    const op = DATA;
    p.space.write(op, new Uint8Array(new BigUint64Array([3n, 0n, BigInt(e.base + 0xa000)]).buffer));
    atStub(p.lps[0]!, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(op) });
    const r = p.lps[0]!.run(1000);
    expect(r.stop.kind === 'exception' && r.stop.fault.vector).toBe(Vector.PF);
    const page = p.m.physMem.page(e.pageAt.get(0x5000)! / 4096);
    expect(getField(GPRSGX, page.subarray(4096 - 184), 0, 'exitInfo'), 'EXITINFO').toBe(0);
    expect(getField(EXINFO, page, 4096 - 200, 'errcd'), 'EXINFO not written').toBe(0);
  });
});
