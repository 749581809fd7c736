// Our decoder against iced-x86: on the C corpus at every optimisation level, on libc's .text, and on an
// encoding generated from every row of the opcode table. Lengths, mnemonics, operands, memory operands and
// branch targets must match; instructions we do not implement must be exactly the listed #UD set.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPCODES, type OpRow, Rng, rowsFor } from '../../../src/hw/index';
import { parseElf64 } from '../../../src/sdk/index';
import { hasGcc } from '../../util/native';
import { buildCorpus, OPT_LEVELS } from './util/corpus';
import { sweep } from './util/iced';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';

/**
 * Legacy-encoded instructions the interpreter does not implement (they raise #UD): x87 arithmetic and
 * environment instructions, TSX and PKU (not enumerated in our CPUID, so #UD is
 * also what a CPU without them does). VEX/EVEX encodings are all #UD.
 */
const NOT_IMPLEMENTED = /^(F[a-z0-9]+|Xbegin|Xend|Xabort|Xtest|Rdpkru|Wrpkru)$/;

/** The x87 control and state instructions the interpreter does implement: never an acceptable #UD. */
const X87_IMPLEMENTED = /^(Wait|Fldcw|Fnstcw|Fnstsw|Fninit|Fnclex|Fxsave|Fxsave64|Fxrstor|Fxrstor64)$/;
const allowedUd = (k: string) =>
  k.endsWith('(VEX)') || k.endsWith('(EVEX)') || (NOT_IMPLEMENTED.test(k) && !X87_IMPLEMENTED.test(k));

function textOf(path: string): { code: Uint8Array; addr: bigint } {
  const elf = parseElf64(new Uint8Array(readFileSync(path)));
  const t = elf.sections.find((s) => s.name === '.text')!;
  return { code: elf.bytes.subarray(t.offset, t.offset + t.size), addr: BigInt(t.addr) };
}

describe.skipIf(!hasGcc())('decoder agrees with iced-x86 on compiled code', () => {
  for (const opt of OPT_LEVELS) {
    it(`decodes every instruction of the corpus built with ${opt.join(' ')} like iced, with none #UD`, () => {
      const { code, addr } = textOf(buildCorpus(opt).elf);
      const r = sweep(code, addr);
      expect(r.decoded, 'instructions decoded').toBeGreaterThan(1000);
      expect(r.mismatches, 'mismatches with iced').toEqual([]);
      expect([...r.ud.keys()], 'corpus instructions reported as #UD').toEqual([]);
    });
  }
});

// libc needs no compiler: only iced-x86 and the host's libc.so.6.
describe("decoder agrees with iced-x86 on the host's libc", () => {
  it.skipIf(!existsSync(LIBC))(
    "decodes libc's .text like iced; only VEX/EVEX and the listed legacy instructions are #UD",
    () => {
      const { code, addr } = textOf(LIBC);
      const r = sweep(code, addr);
      expect(r.decoded, 'instructions decoded').toBeGreaterThan(100_000);
      expect(r.mismatches, 'mismatches with iced').toEqual([]);
      const unexpected = [...r.ud.keys()].filter((k) => !allowedUd(k));
      expect(unexpected, 'legacy instructions we #UD without listing them as unimplemented').toEqual([]);
    },
  );
});

const PFX_BYTE: Record<string, number[]> = { np: [], '66': [0x66], F3: [0xf3], F2: [0xf2] };
const MAP_BYTES: Record<number, number[]> = { 0: [], 15: [0x0f], 3896: [0x0f, 0x38], 3898: [0x0f, 0x3a] };

/** An encoding of `row` with random ModRM, SIB, displacement, REX and immediates. */
function encodeRow(row: OpRow, rnd: Rng): number[] {
  const r = (n: number) => rnd.below(n);
  const out: number[] = [];
  if (row.flags & 1 /* LOCK */ && r(4) === 0) out.push(0xf0);
  if (row.pfx) out.push(...PFX_BYTE[row.pfx]!);
  else {
    if (r(4) === 0) out.push(0x66);
    if (r(8) === 0) out.push(r(2) ? 0xf3 : 0xf2);
  }
  const rex = r(2) ? 0x40 | r(16) : 0;
  if (rex) out.push(rex);
  out.push(...MAP_BYTES[row.map]!, row.op);
  const needsModrm = row.ext !== undefined || row.ops.some((s) => 'EGMRVWUS'.includes(s[0]!) && s !== 'eAX');
  let opsize = row.flags & 4 ? 8 : rex & 8 ? 8 : out[0] === 0x66 && row.pfx !== '66' ? 2 : 4;
  if (row.flags & 2 && opsize === 4) opsize = 8;
  if (needsModrm) {
    let mod = row.mod === 'reg' ? 3 : row.mod === 'mem' ? r(3) : r(4);
    const reg = row.ext ?? r(8);
    const rm = r(8);
    if (row.rm !== undefined) {
      out.push(row.rm);
      mod = 3;
    } else out.push((mod << 6) | (reg << 3) | rm);
    if (mod !== 3) {
      if (rm === 4) {
        const sib = r(256);
        out.push(sib);
        if ((sib & 7) === 5 && mod === 0) out.push(r(256), r(256), r(256), r(256));
      } else if (rm === 5 && mod === 0) out.push(r(256), r(256), r(256), r(256));
      if (mod === 1) out.push(r(256));
      if (mod === 2) out.push(r(256), r(256), r(256), r(256));
    }
  }
  for (const s of row.ops) {
    const bytes =
      s === 'Ib' || s === 'sIb' || s === 'Jb'
        ? 1
        : s === 'Iw'
          ? 2
          : s === 'Iz'
            ? opsize === 2
              ? 2
              : 4
            : s === 'Jz'
              ? 4
              : s === 'Iv'
                ? opsize
                : s[0] === 'O'
                  ? 8
                  : 0;
    for (let k = 0; k < bytes; k++) out.push(r(256));
  }
  return out;
}

describe('decoder agrees with iced-x86 on encodings generated from the opcode table', () => {
  const rows = OPCODES;
  it('decodes a random encoding of every row exactly like iced', () => {
    const all: Array<{ row: OpRow; bytes: number[] }> = [];
    for (const [k, row] of rows.entries()) {
      const rnd = new Rng(`row-${k}`);
      for (let j = 0; j < 16; j++) all.push({ row, bytes: encodeRow(row, rnd) });
    }
    const bad: string[] = [];
    for (const { row, bytes } of all) {
      const code = Uint8Array.from([...bytes, 0x90, 0x90, 0x90, 0x90]);
      const r = sweep(code.subarray(0, bytes.length), 0x1000n);
      for (const m of r.mismatches) bad.push(`${row.mnem}: ${m.bytes} ${m.iced} — ${m.what}`);
      if (r.ud.size)
        bad.push(`${row.mnem}: ${Buffer.from(bytes).toString('hex')} decodes as #UD but iced says ${[...r.ud.keys()]}`);
    }
    expect(bad, 'rows whose generated encoding differs from iced').toEqual([]);
    expect(all.length).toBeGreaterThan(OPCODES.length);
  });

  it('has rows for both halves of the shared 0F 12/16 and 90 slots', () => {
    expect(rowsFor(0x0f, 0x12).map((r) => r.mnem)).toContain('movhlps');
    expect(rowsFor(0, 0x90).map((r) => r.mnem)).toEqual(expect.arrayContaining(['nop', 'pause', 'xchg']));
  });
});
