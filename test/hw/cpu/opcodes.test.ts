// The opcode table's invariants: every row names an existing handler (so "decoded" always means
// "implemented"), and the formatter renders every row.
import { describe, expect, it } from 'vitest';
import { HANDLERS } from '../../../src/hw/cpu/exec';
import { decodeInsn, formatInsn, OPCODES } from '../../../src/hw/index';

describe('opcode table', () => {
  it('gives every row a handler', () => {
    const missing = OPCODES.filter((r) => !HANDLERS[r.sem]).map((r) => `${r.mnem} (${r.sem})`);
    expect(missing, 'rows without a handler').toEqual([]);
  });

  it('has no handler that no row uses', () => {
    const used = new Set(OPCODES.map((r) => r.sem));
    expect(
      Object.keys(HANDLERS).filter((h) => !used.has(h)),
      'unused handlers',
    ).toEqual([]);
  });

  it('formats representative encodings in Intel syntax', () => {
    const cases: Array<[number[], string]> = [
      [[0x48, 0x8b, 0x44, 0x24, 0x08], 'mov rax, qword ptr [rsp+0x8]'],
      [[0x48, 0x8d, 0x05, 0x10, 0, 0, 0], 'lea rax, [rip+0x10] ; 0x1017'],
      [[0xf3, 0x48, 0xa5], 'rep movsq qword ptr [rdi], qword ptr [rsi]'],
      [[0x66, 0x0f, 0xef, 0xc1], 'pxor xmm0, xmm1'],
      [[0xe8, 0xfb, 0xff, 0xff, 0xff], 'call 0x1000'],
      [[0x0f, 0x01, 0xd7], 'enclu'],
      [[0xf0, 0x48, 0x0f, 0xb1, 0x0f], 'lock cmpxchg qword ptr [rdi], rcx'],
      [[0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0], 'mov rax, qword ptr fs:[0x28]'],
      [[0xc4, 0xe2, 0x79, 0x18, 0xc0], '(bad)'],
    ];
    for (const [bytes, want] of cases) {
      const insn = decodeInsn(Uint8Array.from(bytes), 0, bytes.length);
      expect(formatInsn(insn, 0x1000), `format of ${Buffer.from(bytes).toString('hex')}`).toBe(want);
    }
  });

  it('reports a truncated encoding as needing more bytes and an over-long one as too long', () => {
    expect(decodeInsn(Uint8Array.from([0x48, 0x8b]), 0, 2).len).toBe(-1);
    const long = Uint8Array.from([...Array(14).fill(0x66), 0x90]);
    expect(decodeInsn(long, 0, long.length).len, '15 bytes is the limit').toBe(15);
    const tooLong = Uint8Array.from([...Array(15).fill(0x66), 0x90]);
    expect(decodeInsn(tooLong, 0, tooLong.length).len, '16 bytes is #GP').toBe(-2);
  });
});
