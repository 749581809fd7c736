// The block compiler against the interpreter, which differential.test.ts holds to native execution: the C corpus
// runs on two machines — one interpreting, one compiling every region on first use — through the same sequence
// of random budgets. After every run() both must report the same stop and count and hold the same registers,
// flags, XMM state, buffer and stack bytes. Random budgets end runs inside loops, calls and regions, so every
// compiled exit, the budget check at block starts and the interpreter's handover are compared.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Cpu, createCpu, run, saveCpu, setNum } from '../../../src/hw/index';
import { type FlatProgram, loadFlatElf } from '../../../src/sdk/index';
import { hasGcc } from '../../util/native';
import { BUF_ADDR, buildCorpus, CORPUS_FNS, OPT_LEVELS } from './util/corpus';

const SEED = Number(process.env.SGXSIM_SEED ?? 7);
const RUNS = Number(process.env.SGXSIM_RUNS ?? 3);
const FILTER = process.env.SGXSIM_TEST_NAME;

/** Where a called function returns to: unmapped, so the RET's fetch faults (as in sysv-call.ts). */
const SENTINEL_HI = 0x7ffe;

interface Machine {
  readonly prog: FlatProgram;
  readonly cpu: Cpu;
}

function machine(elf: string, jit: boolean): Machine {
  const prog = loadFlatElf(new Uint8Array(readFileSync(elf)));
  prog.space.map(BUF_ADDR, 8192, { write: true });
  const cpu = createCpu({ mem: prog.space.mem, pageTable: prog.space, jit, jitThreshold: 0 });
  return { prog, cpu };
}

/** Sets up a System V call of corpus function `fn` (psABI §3.2.3) with a return address that faults. */
function setup(mc: Machine, fn: number, a: bigint, b: bigint, buf: Uint8Array): void {
  const { cpu, prog } = mc;
  const f = CORPUS_FNS[fn]!;
  prog.space.write(BUF_ADDR, new Uint8Array(8192));
  prog.space.write(BUF_ADDR, buf);
  for (let r = 0; r < 16; r++) cpu.setReg64(r, 0n);
  cpu.setFlags(0x202);
  cpu.x8.fill(0);
  const ints = f.dbl ? [BigInt(BUF_ADDR), BigInt(buf.length)] : [a, b, BigInt(BUF_ADDR), BigInt(buf.length)];
  const regs = [7, 6, 2, 1];
  for (const [k, v] of ints.entries()) cpu.setReg64(regs[k]!, v);
  if (f.dbl) {
    const d = new Float64Array(new BigUint64Array([a, b]).buffer);
    cpu.xf64[0] = d[0]!;
    cpu.xf64[2] = d[1]!;
  }
  const sp = prog.stackTop - 8;
  cpu.m.wr64(sp, 0, SENTINEL_HI);
  setNum(cpu.r, 8, sp);
  cpu.rip = prog.symbol(f.name);
}

/** A budget: mostly a few instructions or a few dozen, sometimes thousands. */
function budgets(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = (x >>> 0) % 1000;
    return r < 300 ? 1 + (r % 9) : r < 800 ? 10 + (r % 190) : 200 + ((x >>> 0) % 5000);
  };
}

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, 7n, 0x80000000n, 0xffffffffn, 1n << 63n, (1n << 64n) - 1n),
  fc.bigInt({ min: 0n, max: 1000n }),
);

describe.skipIf(!hasGcc())('compiled regions against the interpreter, run() by run()', () => {
  for (const opt of OPT_LEVELS) {
    const label = opt.join(' ');
    it(`every corpus function compiled with ${label} stops alike after every budget`, () => {
      const build = buildCorpus(opt);
      const A = machine(build.elf, false);
      const B = machine(build.elf, true);
      const inputs = fc.sample(fc.record({ a: u64, b: u64, buf: fc.uint8Array({ minLength: 0, maxLength: 300 }) }), {
        seed: SEED,
        numRuns: RUNS,
      });
      CORPUS_FNS.forEach((f, fn) => {
        if (FILTER && !f.name.includes(FILTER)) return;
        inputs.forEach((x, j) => {
          setup(A, fn, x.a, x.b, x.buf);
          setup(B, fn, x.a, x.b, x.buf);
          const next = budgets(SEED * 1000 + fn * 10 + j);
          for (let step = 0; ; step++) {
            const n = next();
            const ra = run(A.cpu, n);
            const rb = run(B.cpu, n);
            const what = `${f.name} at ${label}, input ${j} (a=0x${x.a.toString(16)}, b=0x${x.b.toString(16)}, n=${x.buf.length}), step ${step} with budget ${n}, seed ${SEED}`;
            expect(JSON.stringify(rb), `${what}: stop and count`).toBe(JSON.stringify(ra));
            expect(saveCpu(B.cpu), `${what}: architectural state`).toEqual(saveCpu(A.cpu));
            const top = A.prog.stackTop;
            expect(
              Buffer.from(B.prog.space.read(top - 4096, 4096)).equals(A.prog.space.read(top - 4096, 4096)),
              `${what}: stack`,
            ).toBe(true);
            expect(
              Buffer.from(B.prog.space.read(BUF_ADDR, 8192)).equals(A.prog.space.read(BUF_ADDR, 8192)),
              `${what}: buffer`,
            ).toBe(true);
            if (ra.stop.kind !== 'budget') {
              // The corpus returns to the unmapped sentinel: an instruction-fetch #PF there.
              expect(
                ra.stop.kind === 'fault' && ra.stop.fault.addr === SENTINEL_HI * 2 ** 32,
                `${what}: returned`,
              ).toBe(true);
              break;
            }
          }
        });
      });
    });
  }
});
