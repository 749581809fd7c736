// The LogicalProcessor the kernel drives: the stops it reports, interrupts (AEX in enclave mode, nothing outside),
// two processors sharing a TCS, the threads-inside tracking that ETRACK/EWB rely on, the cost model, CPUID leaf 12H
// through the interpreter, and save/restore of the whole machine in the middle of an enclave.
import { describe, expect, it } from 'vitest';
import {
  CostModel,
  EnclsLeaf,
  EncluLeaf,
  encls,
  encode,
  LogicalProcessor,
  PAGE_SIZE,
  PAGEINFO,
  type PageTable,
  PageType,
  PhysMem,
  SgxMachine,
  SgxStatus,
  saveCpu,
  Vector,
} from '../../../src/hw/index';
import { nodeBackend } from '../../../src/node/index';
import {
  atStub,
  COMPUTE_ELF,
  DATA,
  type Enclave,
  loadEnclave,
  makePlatform,
  type Platform,
  poke64,
  R,
  SAMPLE_ELF,
  STUB,
} from '../sgx/enclu/fixture';
import { beginEcall, driveEcall, ecallIndex, type HostMemory } from '../sgx/enclu/runtime-host';

const GP = { kind: 'fault', vector: Vector.GP, errorCode: 0, addr: 0 } as const;

function sample(cpus = 2): { p: Platform; e: Enclave } {
  const p = makePlatform({ cpus });
  return { p, e: loadEnclave(p, SAMPLE_ELF) };
}

/** CPU `cpu` EENTERs TCS `tcs` with the NOP op and stops after `steps` instructions (inside). */
function enterNop(p: Platform, e: Enclave, cpu: number, tcs: number, steps = 3): void {
  poke64(p, DATA, 4n);
  atStub(p.lps[cpu]!, EncluLeaf.EENTER, e.tcs[tcs]!, { [R.RDI]: BigInt(DATA) });
  expect(p.lps[cpu]!.run(steps).stop.kind, `CPU ${cpu} inside`).toBe('budget');
  expect(p.lps[cpu]!.inEnclave).toBe(true);
}

describe('LogicalProcessor', () => {
  it('answers CPUID leaf 12H from the SGX machine, through the interpreter', () => {
    const { p } = sample(1);
    const lp = p.lps[0]!;
    p.space.write(STUB + 0x200, Uint8Array.of(0x0f, 0xa2, 0xcd, 0x80)); // CPUID; INT 0x80
    for (const sub of [0, 1, 2, 3]) {
      lp.cpu.setReg64(R.RAX, 0x12n);
      lp.cpu.setReg64(R.RCX, BigInt(sub));
      lp.cpu.rip = STUB + 0x200;
      expect(lp.run(10).stop).toEqual({ kind: 'int', vector: 0x80 });
      const want = p.m.cpuid12(sub);
      const got = [R.RAX, 3, R.RCX, R.RDX].map((r) => Number(lp.cpu.getReg64(r)));
      expect(got, `CPUID.(12H, ${sub})`).toEqual([want.eax, want.ebx, want.ecx, want.edx]);
    }
    expect(p.m.cpuid12(2).eax & 0xf, 'sub-leaf 2 is the EPC section').toBe(1);
  });

  it('does nothing on an interrupt outside enclave mode, and AEXes inside', () => {
    const { p, e } = sample(1);
    const lp = p.lps[0]!;
    expect(lp.interrupt('timer')).toEqual({ aex: false, cycles: 0 });
    enterNop(p, e, 0, 0);
    const before = lp.cycles;
    expect(lp.interrupt('ipi')).toEqual({ aex: true, cycles: CostModel.aex });
    expect(lp.cycles - before, 'the AEX is charged').toBe(CostModel.aex);
    expect(lp.inEnclave).toBe(false);
    expect(lp.cpu.rip, 'RIP = AEP').toBe(STUB);
    expect(lp.cpu.getReg64(R.RAX), 'RAX = ERESUME: running on resumes the enclave').toBe(3n);
    expect(lp.run(1_000_000).stop, 'ERESUME, the NOP finishes, EEXIT').toEqual({ kind: 'int', vector: 0x80 });
  });

  it('charges instructions at CostModel.instruction and each ENCLU leaf at its cost', () => {
    const { p, e } = sample(1);
    const lp = p.lps[0]!;
    poke64(p, DATA, 4n);
    atStub(lp, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
    const r = lp.run(1_000_000);
    expect(r.stop.kind).toBe('int');
    expect(r.cycles, 'EENTER + EEXIT + the other instructions').toBe(
      CostModel.eenter + CostModel.eexit + (r.executed - 2) * CostModel.instruction,
    );
    expect(lp.cycles).toBe(r.cycles);
  });

  it('refuses EENTER on a TCS another processor is inside (#GP at ENCLU), and allows it once that one left', () => {
    const { p, e } = sample();
    enterNop(p, e, 0, 0);
    atStub(p.lps[1]!, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
    expect(p.lps[1]!.run(100).stop).toEqual({ kind: 'exception', fault: GP, trap: false, aex: false });
    expect(p.lps[1]!.cpu.rip, 'RIP at ENCLU').toBe(STUB);
    enterNop(p, e, 1, 1); // the other TCS is free
    expect(p.lps[0]!.run(1_000_000).stop, 'CPU 0 finishes').toEqual({ kind: 'int', vector: 0x80 });
    expect(p.lps[1]!.run(1_000_000).stop, 'CPU 1 finishes').toEqual({ kind: 'int', vector: 0x80 });
    atStub(p.lps[1]!, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(DATA) });
    expect(p.lps[1]!.run(1_000_000).stop, 'TCS #0 is free again').toEqual({ kind: 'int', vector: 0x80 });
  });

  it('lets EWB proceed only after every processor that entered before ETRACK has left (AEX or EEXIT)', () => {
    const { p, e } = sample();
    const heap = e.pageAt.get(0x9000)!;
    const va = p.epc.take();
    expect(encls(p.m, EnclsLeaf.EPA, { rbx: PageType.VA, rcx: va }).kind).toBe('done');
    const pageinfo = p.scratch.take();
    const backing = p.scratch.take();
    const ewb = () => {
      p.m.physMem.write(pageinfo, encode(PAGEINFO, { srcPge: BigInt(backing), secinfo: BigInt(pageinfo + 128) }));
      return encls(p.m, EnclsLeaf.EWB, { rbx: pageinfo, rcx: heap, rdx: va });
    };
    enterNop(p, e, 0, 0);
    expect(encls(p.m, EnclsLeaf.EBLOCK, { rcx: heap })).toMatchObject({ rax: 0 });
    expect(encls(p.m, EnclsLeaf.ETRACK, { rcx: e.secsPa })).toMatchObject({ rax: 0 });
    enterNop(p, e, 1, 1); // enters after ETRACK: does not hold the eviction back
    expect(ewb(), 'CPU 0 entered before ETRACK and is still inside').toMatchObject({ rax: SgxStatus.NOT_TRACKED });
    expect(p.lps[0]!.interrupt('timer').aex, 'CPU 0 leaves through an AEX').toBe(true);
    expect(ewb(), 'now every old translation is gone').toMatchObject({ rax: SgxStatus.SUCCESS });
    expect(p.m.epcm.get(p.m.epc.indexOf(heap)!), 'evicted').toBeUndefined();

    // The page tables still map the freed EPC page (the driver would zap the PTE): CPU 1, inside, gets #PF(SGX).
    poke64(p, DATA + 64, 3n);
    poke64(p, DATA + 64 + 16, BigInt(e.base + 0x9000));
    expect(p.lps[1]!.run(1_000_000).stop, 'CPU 1 finishes its NOP').toEqual({ kind: 'int', vector: 0x80 });
    atStub(p.lps[1]!, EncluLeaf.EENTER, e.tcs[1]!, { [R.RDI]: BigInt(DATA + 64) });
    expect(p.lps[1]!.run(1_000_000).stop).toEqual({
      kind: 'exception',
      fault: { kind: 'fault', vector: Vector.PF, errorCode: 0x8005, addr: e.base + 0x9000 },
      trap: false,
      aex: true,
    });
  });

  it('keeps the tracking of threads inside exact across EENTER, AEX, ERESUME and EEXIT', () => {
    const { p, e } = sample();
    expect(p.m.lpsInside()).toEqual([]);
    enterNop(p, e, 0, 0);
    enterNop(p, e, 1, 1);
    expect(p.m.lpsInside().map(([cpu]) => cpu)).toEqual([0, 1]);
    p.lps[0]!.interrupt('timer');
    expect(
      p.m.lpsInside().map(([cpu]) => cpu),
      'AEX leaves',
    ).toEqual([1]);
    expect(p.lps[0]!.run(2).stop.kind, 'ERESUME re-enters').toBe('budget');
    expect(p.m.lpsInside().map(([cpu]) => cpu)).toEqual([0, 1]);
    for (const lp of p.lps) expect(lp.run(1_000_000).stop).toEqual({ kind: 'int', vector: 0x80 });
    expect(p.m.lpsInside(), 'EEXIT leaves').toEqual([]);
  });

  it('continues identically after the whole machine is saved and restored in the middle of an enclave', () => {
    const ix = ecallIndex(COMPUTE_ELF);
    const data = Uint8Array.from({ length: 333 }, (_, i) => (i * 7) ^ 0x33);
    const p = makePlatform({ seed: 'snapshot' });
    const e = loadEnclave(p, COMPUTE_ELF);
    const lp = p.lps[0]!;
    beginEcall(p.space, lp, e.tcs[0]!, ix('sha256'), data, 32);
    expect(lp.run(5000).stop.kind).toBe('budget');
    expect(lp.inEnclave, 'stopped inside the enclave').toBe(true);
    // Snapshot: physical memory, the SGX machine, the processor — all plain JSON.
    const snapshot = JSON.parse(
      JSON.stringify({ mem: p.m.physMem.save(), sgx: p.m.save(), lp: lp.save() }, (_k, v) =>
        typeof v === 'bigint' ? v.toString() : v,
      ),
    );
    const straight = driveEcall(p.space, lp, e.tcs[0]!, 32);
    const straightCpu = saveCpu(lp.cpu);

    const mem = PhysMem.restore(snapshot.mem);
    const m = SgxMachine.restore({ physMem: mem, crypto: nodeBackend }, snapshot.sgx);
    // The page tables are the kernel's; the flat space's PTEs point at the same physical pages.
    const pt: PageTable = { lookup: (vpn) => p.space.lookup(vpn) };
    const lp2 = new LogicalProcessor({ id: 0, machine: m, pageTable: pt });
    lp2.restore(snapshot.lp);
    expect(lp2.inEnclave).toBe(true);
    expect(m.lp(0), 'the machine still counts CPU 0 inside').toBeDefined();
    const view: HostMemory = {
      read: (va, len) => mem.read(p.space.lookup(Math.floor(va / PAGE_SIZE))!.pfn * PAGE_SIZE + (va % PAGE_SIZE), len),
      write: (va, bytes) =>
        mem.write(p.space.lookup(Math.floor(va / PAGE_SIZE))!.pfn * PAGE_SIZE + (va % PAGE_SIZE), bytes),
    };
    const resumed = driveEcall(view, lp2, e.tcs[0]!, 32);
    expect(resumed.out, 'the same digest').toEqual(straight.out);
    expect([resumed.status, resumed.ret, resumed.executed]).toEqual([straight.status, straight.ret, straight.executed]);
    expect(saveCpu(lp2.cpu), 'the same final CPU state').toEqual(straightCpu);
    expect(lp2.cycles, 'the same cycle count').toBe(lp.cycles);
  });
});
