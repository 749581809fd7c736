// The interpreter against the real CPU: every corpus function, at every optimisation level, on the same
// fast-check-generated inputs, must return the same value and leave the same bytes in its buffer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasGcc } from '../../util/native';
import { buildCorpus, CORPUS_FNS, type CorpusInput, interpreterRunner, OPT_LEVELS, runNative } from './util/corpus';

const SEED = Number(process.env.SGXSIM_SEED ?? 20261126);
// 200 inputs per function and level: a thousand per function across the five builds, 46,000 in all (issue 4).
const RUNS = Number(process.env.SGXSIM_RUNS ?? 200);
const FILTER = process.env.SGXSIM_TEST_NAME;

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, 2n, 7n, 0xffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 63n, (1n << 64n) - 1n),
  fc.bigInt({ min: 0n, max: 1000n }),
);
const f64bits = fc
  .oneof(fc.double(), fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -1000, max: 1000 }))
  .map((d) => new BigUint64Array(new Float64Array([d]).buffer)[0]!);

function inputsFor(fn: number): CorpusInput[] {
  const dbl = CORPUS_FNS[fn]!.dbl;
  const arb = fc.record({
    a: dbl ? f64bits : u64,
    b: dbl ? f64bits : u64,
    buf: fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.uint8Array({ minLength: 0, maxLength: 24 }),
      fc.uint8Array({ minLength: 0, maxLength: 64 }).map((b) => b.map((x) => 0x41 + (x % 40))),
    ),
  });
  return fc.sample(arb, { seed: SEED + fn, numRuns: RUNS }).map((r) => ({ fn, ...r }));
}

describe.skipIf(!hasGcc())('interpreter vs native execution of the C corpus', () => {
  for (const opt of OPT_LEVELS) {
    const label = opt.join(' ');
    describe(`compiled with ${label}`, () => {
      const build = buildCorpus(opt);
      const fns = CORPUS_FNS.map((f, k) => ({ ...f, k })).filter((f) => !FILTER || f.name.includes(FILTER));
      const inputs = fns.flatMap((f) => inputsFor(f.k));
      const native = runNative(build.driver, inputs);
      const interp = interpreterRunner(build.elf);
      for (const f of fns) {
        it(`${f.name} returns the native result and leaves the native buffer`, () => {
          inputs.forEach((x, j) => {
            if (x.fn !== f.k) return;
            const got = interp.run(x);
            const want = native[j]!;
            const what = `${f.name}(a=0x${x.a.toString(16)}, b=0x${x.b.toString(16)}, n=${x.buf.length}) at ${label}, seed ${SEED}`;
            expect(got.stop, `${what}: stop`).toBe('returned');
            expect(got.ret.toString(16), `${what}: return value`).toBe(want.ret.toString(16));
            expect(Buffer.from(got.buf).toString('hex'), `${what}: buffer`).toBe(Buffer.from(want.buf).toString('hex'));
          });
        });
      }
    });
  }
});
