// A thread's register file moved between CPUs with typed-array copies must carry exactly the state saveCpu()
// records (minus the per-CPU instruction count), and refuses to be taken or loaded in enclave mode.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createCpu,
  FlatAddressSpace,
  loadRegisters,
  RegisterFile,
  restoreCpu,
  saveCpu,
  storeRegisters,
} from '../../../src/hw/index';

const hex = (n: number) =>
  fc.bigInt({ min: 0n, max: (1n << BigInt(4 * n)) - 1n }).map((v) => v.toString(16).padStart(n, '0'));

const state = fc.record({
  gpr: fc.array(hex(16), { minLength: 16, maxLength: 16 }),
  rip: fc.integer({ min: 0, max: 2 ** 47 - 1 }).map((v) => v.toString(16).padStart(16, '0')),
  rflags: fc.integer({ min: 0, max: 0xfff }).map((f) => (f & 0xcd5) | 0x202),
  fsBase: fc.integer({ min: 0, max: 2 ** 47 - 1 }).map((v) => v.toString(16).padStart(16, '0')),
  gsBase: fc.integer({ min: 0, max: 2 ** 47 - 1 }).map((v) => v.toString(16).padStart(16, '0')),
  xmm: fc.array(hex(32), { minLength: 16, maxLength: 16 }),
  mxcsr: fc.integer({ min: 0, max: 0xffff }),
  x87: fc.record({
    fcw: fc.integer({ min: 0, max: 0xffff }),
    fsw: fc.integer({ min: 0, max: 0xffff }),
    ftw: fc.integer({ min: 0, max: 0xff }),
    fop: fc.integer({ min: 0, max: 0x7ff }),
    fip: fc.integer({ min: 0, max: 2 ** 47 - 1 }).map((v) => v.toString(16).padStart(16, '0')),
    fdp: fc.integer({ min: 0, max: 2 ** 47 - 1 }).map((v) => v.toString(16).padStart(16, '0')),
    st: fc.array(hex(20), { minLength: 8, maxLength: 8 }),
  }),
  cpl: fc.constant(3),
  enclave: fc.constant(null),
  icount: fc.constant(0),
});

describe('RegisterFile', () => {
  it('moves every register saveCpu() records from one CPU to another', () => {
    const space = new FlatAddressSpace();
    const a = createCpu({ mem: space.mem, pageTable: space });
    const b = createCpu({ mem: space.mem, pageTable: space });
    fc.assert(
      fc.property(state, (s) => {
        restoreCpu(a, s);
        const rf = new RegisterFile();
        storeRegisters(a, rf);
        loadRegisters(b, rf.clone());
        expect(saveCpu(b), 'the other CPU has the same architectural state').toEqual(saveCpu(a));
      }),
      { numRuns: 50 },
    );
  });

  it('is never taken or loaded in enclave mode', () => {
    const space = new FlatAddressSpace();
    const c = createCpu({ mem: space.mem, pageTable: space });
    c.setMode(3, { secs: 0, tcs: 0, cssa: 0, elrangeBase: 0, elrangeSize: 4096 });
    expect(() => storeRegisters(c, new RegisterFile())).toThrow(/enclave mode/);
    expect(() => loadRegisters(c, new RegisterFile())).toThrow(/enclave mode/);
  });
});
