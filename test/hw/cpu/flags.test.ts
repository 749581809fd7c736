// Instruction-level differential tests: random register-only sequences run on the host CPU (through a tiny
// asm trampoline built with gcc) and in the interpreter; every test register and the six arithmetic flags
// must match, including the flags the SDM calls undefined (the interpreter follows what Intel CPUs do).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasGcc } from '../../util/native';
import { ARITH, gens, seqArb } from './flags.gens';
import { type RegCase, runInterpRegs, runNativeRegs, TEST_REGS } from './util/reg-harness';

const SEED = Number(process.env.SGXSIM_SEED ?? 4242);
const RUNS = Number(process.env.SGXSIM_RUNS ?? 300);

describe.skipIf(!hasGcc())('flags and registers match the host CPU instruction by instruction', () => {
  const cases: RegCase[] = fc
    .sample(seqArb, { seed: SEED, numRuns: RUNS })
    .map(([seq, regs, flags]) => ({ code: Uint8Array.from(seq.flat()), regs, flags }));
  // One family at a time too, so each instruction group gets coverage of its own.
  for (const [name, g] of Object.entries(gens)) {
    for (const [seq, regs, flags] of fc.sample(
      fc.tuple(
        fc.array(g, { minLength: 1, maxLength: 3 }),
        seqArb.map((x) => x[1]),
        seqArb.map((x) => x[2]),
      ),
      { seed: SEED + name.length, numRuns: 25 },
    )) {
      cases.push({ code: Uint8Array.from(seq.flat()), regs, flags });
    }
  }
  // Regressions: cases that once differed, kept whatever the seed (each names the rule it pins down).
  const R = (hex: string, regs: Record<number, bigint>, flags = 0x202): RegCase => ({
    code: Uint8Array.from(Buffer.from(hex, 'hex')),
    regs: Array.from({ length: 16 }, (_, k) => regs[k] ?? 0n),
    flags,
  });
  cases.push(
    R('6641d3d8', { 1: 0x11n, 8: 0xffffn }), // RCR r16 by 17: no rotation, flags untouched
    R('d2d0', { 1: 0x09n, 0: 0x80n }, 0x203), // RCL r8 by 9
    R('d3ce', { 1: 0x23n, 6: 0xedc91256392bab56n }), // ROR r32 by CL: OF = MSB ^ LSB of the source
    R('c0eb1a', { 3: 0xf3n }), // SHR r8 by 26: OF = MSB of the source
    R('440fbcc2', { 2: 0x7fffffffn }, 0x203), // BSF: CF, AF, SF, OF cleared; PF from the result
    R('48f7eb', { 0: 1n << 63n, 3: 8n }, 0x246), // IMUL: ZF cleared
    R('4d0facc310', { 0: 0x8000n, 8: 0x8000n, 3: 0x80n }), // SHRD r64: OF = MSB(dest) ^ LSB(src)
    R('48f7eb', { 0: 0x80f3123ff6484287n, 3: 0xfffffffffffffff5n }), // signed 64×64→128 high half (a borrow case)
    R('48f7e3', { 0: 0xffffffffffffffffn, 3: 0xffffffffffffffffn }), // unsigned 64×64→128
  );
  const native = runNativeRegs(cases);

  for (const jit of [false, true]) {
    it(`every sequence leaves the same registers and arithmetic flags (${jit ? 'compiled blocks' : 'interpreter'})`, () => {
      cases.forEach((c, k) => {
        const got = runInterpRegs(c, jit);
        const want = native[k]!;
        const what = `code ${Buffer.from(c.code).toString('hex')} flags0 0x${c.flags.toString(16)} regs0 [${c.regs.map((r) => r.toString(16)).join(',')}] (seed ${SEED})`;
        expect(got.stop, `${what}: stop`).toBe('returned');
        for (const r of TEST_REGS)
          expect(got.regs[r]!.toString(16), `${what}: register ${r}`).toBe(want.regs[r]!.toString(16));
        expect((got.flags & ARITH).toString(16), `${what}: flags`).toBe((want.flags & ARITH).toString(16));
      });
    });
  }
});
