// Generators of register-only instruction sequences for the flag tests.
import fc from 'fast-check';
import { TEST_REGS } from './util/reg-harness';

export const ARITH = 0x8d5;
type Gen = fc.Arbitrary<number[]>;
const reg = fc.constantFrom(...TEST_REGS);
const size = fc.constantFrom(1, 2, 4, 8);
const imm8 = fc.integer({ min: 0, max: 255 });
const imm32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });

/** ModRM register-register form with the needed REX/66 prefixes. */
function rr(sz: number, op: number[], regField: number, rm: number, forceRex = false): number[] {
  const rex = (sz === 8 ? 8 : 0) | (regField & 8 ? 4 : 0) | (rm & 8 ? 1 : 0);
  const out: number[] = [];
  if (sz === 2) out.push(0x66);
  // For byte operands, REX makes 6/7 mean SIL/DIL instead of DH/BH; both forms are worth testing.
  if (rex || forceRex) out.push(0x40 | rex);
  out.push(...op, 0xc0 | ((regField & 7) << 3) | (rm & 7));
  return out;
}
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

export const gens: Record<string, Gen> = {
  alu: fc
    .tuple(fc.integer({ min: 0, max: 7 }), size, reg, reg, fc.boolean())
    .map(([k, sz, a, b, rex]) => rr(sz, [k * 8 + (sz === 1 ? 0 : 1)], b, a, rex)),
  aluImm8: fc
    .tuple(fc.integer({ min: 0, max: 7 }), size, reg, imm8)
    .map(([k, sz, a, i]) => (sz === 1 ? [...rr(1, [0x80], k, a), i] : [...rr(sz, [0x83], k, a), i])),
  aluImm32: fc
    .tuple(fc.integer({ min: 0, max: 7 }), fc.constantFrom(4, 8), reg, imm32)
    .map(([k, sz, a, i]) => [...rr(sz, [0x81], k, a), ...le32(i)]),
  shiftImm: fc
    .tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 7), size, reg, fc.integer({ min: 0, max: 70 }))
    .map(([k, sz, a, n]) => [...rr(sz, [sz === 1 ? 0xc0 : 0xc1], k, a), n]),
  shiftCl: fc
    .tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 7), size, fc.constantFrom(0, 2, 3, 6, 7, 8, 9))
    .map(([k, sz, a]) => rr(sz, [sz === 1 ? 0xd2 : 0xd3], k, a)),
  shift1: fc
    .tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 7), size, reg)
    .map(([k, sz, a]) => rr(sz, [sz === 1 ? 0xd0 : 0xd1], k, a)),
  unary: fc.tuple(fc.constantFrom(2, 3, 4, 5), size, reg).map(([k, sz, a]) => rr(sz, [sz === 1 ? 0xf6 : 0xf7], k, a)),
  incdec: fc.tuple(fc.constantFrom(0, 1), size, reg).map(([k, sz, a]) => rr(sz, [sz === 1 ? 0xfe : 0xff], k, a)),
  imul: fc.tuple(fc.constantFrom(2, 4, 8), reg, reg).map(([sz, a, b]) => rr(sz, [0x0f, 0xaf], a, b)),
  imul3: fc.tuple(fc.constantFrom(2, 4, 8), reg, reg, imm8).map(([sz, a, b, i]) => [...rr(sz, [0x6b], a, b), i]),
  div: fc.tuple(fc.constantFrom(4, 8), fc.boolean()).map(([sz, signed]) => [
    // divisor RCX forced positive and ≥ 2; dividend RDX:RAX = sign/zero extension of RAX: never #DE.
    ...rr(4, [0x81], 4, 1),
    ...le32(0x7fff),
    ...rr(4, [0x83], 1, 1),
    2,
    ...(signed ? (sz === 8 ? [0x48, 0x99] : [0x99]) : rr(4, [0x31], 2, 2)),
    ...rr(sz, [0xf7], signed ? 7 : 6, 1),
  ]),
  bt: fc
    .tuple(fc.constantFrom(0xa3, 0xab, 0xb3, 0xbb), fc.constantFrom(2, 4, 8), reg, reg)
    .map(([op, sz, a, b]) => rr(sz, [0x0f, op], b, a)),
  btImm: fc
    .tuple(fc.integer({ min: 4, max: 7 }), fc.constantFrom(2, 4, 8), reg, imm8)
    .map(([k, sz, a, i]) => [...rr(sz, [0x0f, 0xba], k, a), i]),
  bitscan: fc
    .tuple(fc.constantFrom(0xbc, 0xbd), fc.constantFrom(0, 0xf3), fc.constantFrom(2, 4, 8), reg, reg)
    .map(([op, p, sz, a, b]) => {
      const body = rr(sz, [0x0f, op], a, b);
      // The mandatory F3 goes before 66/REX.
      return p ? [0xf3, ...body] : body;
    }),
  popcnt: fc.tuple(fc.constantFrom(2, 4, 8), reg, reg).map(([sz, a, b]) => [0xf3, ...rr(sz, [0x0f, 0xb8], a, b)]),
  cmov: fc
    .tuple(fc.integer({ min: 0, max: 15 }), fc.constantFrom(2, 4, 8), reg, reg)
    .map(([cc, sz, a, b]) => rr(sz, [0x0f, 0x40 + cc], a, b)),
  setcc: fc.tuple(fc.integer({ min: 0, max: 15 }), reg).map(([cc, a]) => rr(1, [0x0f, 0x90 + cc], 0, a)),
  shld: fc
    .tuple(fc.constantFrom(0xa4, 0xac), fc.constantFrom(4, 8), reg, reg, fc.integer({ min: 0, max: 70 }))
    .map(([op, sz, a, b, n]) => [...rr(sz, [0x0f, op], b, a), n]),
  shldCl: fc
    .tuple(fc.constantFrom(0xa5, 0xad), fc.constantFrom(4, 8), fc.constantFrom(0, 2, 3, 6, 7), reg)
    .map(([op, sz, a, b]) => rr(sz, [0x0f, op], b, a)),
  xadd: fc.tuple(size, reg, reg).map(([sz, a, b]) => rr(sz, [0x0f, sz === 1 ? 0xc0 : 0xc1], b, a)),
  cmpxchg: fc.tuple(size, reg, reg).map(([sz, a, b]) => rr(sz, [0x0f, sz === 1 ? 0xb0 : 0xb1], b, a)),
  xchg: fc.tuple(size, reg, reg).map(([sz, a, b]) => rr(sz, [sz === 1 ? 0x86 : 0x87], b, a)),
  test: fc.tuple(size, reg, reg).map(([sz, a, b]) => rr(sz, [sz === 1 ? 0x84 : 0x85], b, a)),
  movx: fc
    .tuple(fc.constantFrom(0xb6, 0xb7, 0xbe, 0xbf), fc.constantFrom(2, 4, 8), reg, reg)
    .map(([op, sz, a, b]) => rr(sz, [0x0f, op], a, b)),
  movsxd: fc.tuple(reg, reg).map(([a, b]) => rr(8, [0x63], a, b)),
  bswap: fc
    .tuple(fc.constantFrom(4, 8), reg)
    .map(([sz, a]) => [
      ...(sz === 8 || a & 8 ? [0x40 | (sz === 8 ? 8 : 0) | (a & 8 ? 1 : 0)] : []),
      0x0f,
      0xc8 + (a & 7),
    ]),
  lea: fc
    .tuple(fc.constantFrom(2, 4, 8), reg, reg, reg, fc.integer({ min: 0, max: 3 }), fc.integer({ min: -128, max: 127 }))
    .map(([sz, d, b, x, sc, disp]) => {
      const rex = (sz === 8 ? 8 : 0) | (d & 8 ? 4 : 0) | (x & 8 ? 2 : 0) | (b & 8 ? 1 : 0);
      return [
        ...(sz === 2 ? [0x66] : []),
        ...(rex ? [0x40 | rex] : []),
        0x8d,
        0x44 | ((d & 7) << 3),
        (sc << 6) | ((x & 7) << 3) | (b & 7),
        disp & 0xff,
      ];
    }),
  // ALU then Jcc over `inc r11d`: exercises condition evaluation (the compiled path reads the lazy state).
  aluJcc: fc
    .tuple(fc.integer({ min: 0, max: 7 }), fc.constantFrom(4, 8), reg, reg, fc.integer({ min: 0, max: 15 }))
    .map(([k, sz, a, b, cc]) => [...rr(sz, [k * 8 + 1], b, a), 0x70 + cc, 0x03, 0x41, 0xff, 0xc3]),
  shiftJcc: fc
    .tuple(
      fc.constantFrom(4, 5, 7),
      fc.constantFrom(4, 8),
      reg,
      fc.integer({ min: 1, max: 31 }),
      fc.integer({ min: 0, max: 15 }),
    )
    .map(([k, sz, a, n, cc]) => [...rr(sz, [0xc1], k, a), n, 0x70 + cc, 0x03, 0x41, 0xff, 0xc3]),
  misc: fc.constantFrom(
    [0x98],
    [0x48, 0x98],
    [0x66, 0x98],
    [0x99],
    [0x48, 0x99],
    [0x66, 0x99],
    [0x9e],
    [0x9f],
    [0xf5],
    [0xf8],
    [0xf9],
  ),
};

export const seqArb = fc.tuple(
  fc.array(fc.oneof(...Object.values(gens)), { minLength: 1, maxLength: 6 }),
  fc.array(
    fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.constantFrom(0n, 1n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn),
      fc.constantFrom(1n << 63n, (1n << 63n) - 1n, (1n << 64n) - 1n, 0x100000000n),
    ),
    { minLength: 16, maxLength: 16 },
  ),
  fc.integer({ min: 0, max: ARITH }).map((f) => (f & ARITH) | 0x202),
);
