// SSE/SSE2/SSE3/SSSE3/SSE4.1 against the host CPU: for every register form in the opcode table, random
// encodings run natively (asm trampoline loading XMM0-15) and in the interpreter on the same XMM, GPR and
// flag inputs — including NaNs, infinities, signed zeros and denormals — and must leave identical state.
import { describe, expect, it } from 'vitest';
import { OPCODES, type OpRow, Rng } from '../../../src/hw/index';
import { hasGcc } from '../../util/native';
import { type RegCase, runInterpRegs, runNativeRegs, TEST_REGS } from './util/reg-harness';

const SEED = Number(process.env.SGXSIM_SEED ?? 77);
const PER_ROW = Number(process.env.SGXSIM_RUNS ?? 12);
const ARITH = 0x8d5;

const SSE_ROWS = OPCODES.filter(
  (r) =>
    r.map !== 0 &&
    r.ops.some((s) => s === 'V' || s === 'U' || s[0] === 'W') &&
    r.mod !== 'mem' &&
    !r.ops.some((s) => s[0] === 'M' || s[0] === 'Y') &&
    r.sem !== 'maskmov',
);

const f64 = (d: number) => new BigUint64Array(new Float64Array([d]).buffer)[0]!;
const f32pair = (a: number, b: number) => new BigUint64Array(new Float32Array([a, b]).buffer)[0]!;
const SPECIAL_D = [
  0,
  -0,
  1,
  -1,
  1.5,
  0.5,
  -2.5,
  2.5,
  3.5,
  1e300,
  -1e-300,
  5e-324,
  Infinity,
  -Infinity,
  NaN,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 63,
  123456.789,
];
const SPECIAL_F = [0, -0, 1, -1, 1.5, -2.5, 0.5, 3.4e38, 1e-45, Infinity, -Infinity, NaN, 2 ** 31, 16777217];

function xmmValue(rng: Rng, finite = false): bigint {
  if (finite)
    return rng.below(2) ? f64((rng.below(2000) - 1000) / 8) : f32pair((rng.below(200) - 100) / 4, rng.below(50));
  switch (rng.below(6)) {
    case 0:
      return f64(SPECIAL_D[rng.below(SPECIAL_D.length)]!);
    case 1:
      return f32pair(SPECIAL_F[rng.below(SPECIAL_F.length)]!, SPECIAL_F[rng.below(SPECIAL_F.length)]!);
    case 2:
      return f64((rng.below(2000) - 1000) / 8);
    case 3:
      return BigInt(rng.below(256)) * 0x0101010101010101n;
    case 4: // a signalling NaN with payload, either width
      return rng.below(2) ? 0x7ff4000000000123n : 0x7fa000017fa00002n;
    default:
      return rng.nextU64();
  }
}

const PFX: Record<string, number[]> = { np: [], '66': [0x66], F3: [0xf3], F2: [0xf2] };
const MAP: Record<number, number[]> = { 15: [0x0f], 3896: [0x0f, 0x38], 3898: [0x0f, 0x3a] };

/**
 * An encoding of an SSE row: XMM operands anywhere in 0-15, GPR operands among TEST_REGS. With `mem`, the r/m
 * operand is [rip+disp32] pointing at a 16-byte-aligned slot of the data area 2048 bytes after the code.
 */
function encode(row: OpRow, rng: Rng, mem = false): number[] {
  const gprIn = (spec: string | undefined) => spec !== undefined && /^[EGR]/.test(spec);
  // Which ModRM field each operand uses.
  const regSpec = row.ops.find((s) => s === 'V' || s[0] === 'G');
  const rmSpec = row.ops.find((s) => s === 'U' || s[0] === 'W' || s[0] === 'E' || s[0] === 'R');
  const pick = (spec: string | undefined) => (gprIn(spec) ? TEST_REGS[rng.below(TEST_REGS.length)]! : rng.below(16));
  const reg = row.ext ?? pick(regSpec);
  const rm = pick(rmSpec);
  const w = rng.below(2) ? 8 : 0;
  const rex = w | (reg & 8 ? 4 : 0) | (rm & 8 ? 1 : 0);
  const out = [...PFX[row.pfx ?? 'np']!];
  const imm = row.ops.includes('Ib') ? [rng.below(256)] : [];
  if (mem) {
    const rexM = rex & ~1;
    if (rexM) out.push(0x40 | rexM);
    out.push(...MAP[row.map]!, row.op, ((reg & 7) << 3) | 5);
    // disp32 is relative to the end of the instruction: target = 2048 + 16 * slot.
    const len = out.length + 4 + imm.length;
    const disp = 2048 + 16 * rng.below(8) - len;
    out.push(disp & 0xff, (disp >> 8) & 0xff, 0, 0, ...imm);
    return out;
  }
  if (rex) out.push(0x40 | rex);
  out.push(...MAP[row.map]!, row.op, 0xc0 | ((reg & 7) << 3) | (rm & 7), ...imm);
  return out;
}

describe.skipIf(!hasGcc())('SSE instructions match the host CPU', () => {
  const cases: Array<{ row: OpRow; c: RegCase }> = [];
  const rng = new Rng(`sse-${SEED}`);
  for (const row of SSE_ROWS) {
    for (let k = 0; k < PER_ROW; k++) {
      const regs = Array.from({ length: 16 }, () => (rng.below(4) === 0 ? BigInt(rng.below(300)) : rng.nextU64()));
      // DPPS/DPPD: which NaN payload Intel hardware propagates differs per destination lane and is not modelled
      // (README "Known differences"); their arithmetic is tested on finite inputs.
      let xmm = Array.from({ length: 32 }, () => xmmValue(rng, row.sem === 'fdp'));
      if (row.sem === 'pcmpstr') {
        // Strings over a small alphabet (with NULs and signed extremes), and short explicit lengths.
        const alpha = [0, 0x61, 0x62, 0x63, 0x80, 0x7f, 0xff];
        xmm = Array.from({ length: 32 }, () => {
          let v = 0n;
          for (let b = 0; b < 8; b++) v = (v << 8n) | BigInt(alpha[rng.below(rng.below(2) ? 3 : alpha.length)]!);
          return v;
        });
        regs[0] = BigInt.asUintN(64, BigInt(rng.below(40) - 20));
        regs[2] = BigInt.asUintN(64, BigInt(rng.below(40) - 20));
      }
      const flags = 0x202 | (rng.below(0x1000) & ARITH);
      cases.push({ row, c: { code: Uint8Array.from(encode(row, rng)), regs, flags, xmm } });
      // The memory form of the same row (a W/E source in r/m), reading from the data area.
      const memSrc = row.ops.slice(1).some((s) => s[0] === 'W' || s[0] === 'E') && row.mod !== 'reg';
      if (memSrc && k % 2 === 0) {
        const data = new Uint8Array(128);
        for (let j = 0; j < 128; j += 8)
          new DataView(data.buffer).setBigUint64(j, xmmValue(rng, row.sem === 'fdp'), true);
        cases.push({ row, c: { code: Uint8Array.from(encode(row, rng, true)), regs, flags, xmm, data } });
      }
    }
  }
  const native = runNativeRegs(cases.map((x) => x.c));
  if (process.env.SGXSIM_DEBUG)
    console.log(`${cases.length} cases, ${cases.filter((x) => x.c.data).length} with memory operands`);

  for (const jit of [false, true]) {
    it(`every register form leaves the native XMM, GPR and flag state (${jit ? 'compiled blocks' : 'interpreter'})`, () => {
      const bad: string[] = [];
      cases.forEach(({ row, c }, k) => {
        const got = runInterpRegs(c, jit);
        const want = native[k]!;
        const diffs: string[] = [];
        if (got.stop !== 'returned') diffs.push(`stop ${got.stop}`);
        for (let j = 0; j < 32; j++)
          if (got.xmm[j] !== want.xmm[j])
            diffs.push(
              `xmm${j >> 1}.${j & 1 ? 'hi' : 'lo'} ${got.xmm[j]!.toString(16)} want ${want.xmm[j]!.toString(16)}`,
            );
        for (const r of TEST_REGS)
          if (got.regs[r] !== want.regs[r])
            diffs.push(`r${r} ${got.regs[r]!.toString(16)} want ${want.regs[r]!.toString(16)}`);
        if ((got.flags & ARITH) !== (want.flags & ARITH))
          diffs.push(`flags ${(got.flags & ARITH).toString(16)} want ${(want.flags & ARITH).toString(16)}`);
        if (diffs.length) {
          const inputs = c.xmm!.map((v) => v.toString(16)).join(',');
          bad.push(
            `${row.mnem} ${Buffer.from(c.code).toString('hex')}: ${diffs.slice(0, 3).join('; ')} [xmm in ${inputs.slice(0, 120)}…]`,
          );
        }
      });
      expect(bad.slice(0, 30), `${bad.length} of ${cases.length} cases differ (seed ${SEED})`).toEqual([]);
    });
  }
});
