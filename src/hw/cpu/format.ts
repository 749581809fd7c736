/**
 * The disassembler's formatter, Intel syntax (SDM notation: destination first, `qword ptr [base+index*scale+disp]`),
 * driven by the same opcode-table rows as the decoder. Branch targets and RIP-relative addresses are shown
 * as absolute addresses; immediates in hex.
 */

import { type Insn, OK, type Operand, PFX, SEG_FS, SEG_GS } from './decoder';
import { GPR64_NAMES } from './gpr-names';

const GPR64: readonly string[] = GPR64_NAMES;
const GPR32 = [
  'eax',
  'ecx',
  'edx',
  'ebx',
  'esp',
  'ebp',
  'esi',
  'edi',
  ...Array.from({ length: 8 }, (_, k) => `r${k + 8}d`),
];
const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', ...Array.from({ length: 8 }, (_, k) => `r${k + 8}w`)];
const GPR8 = [
  'al',
  'cl',
  'dl',
  'bl',
  'spl',
  'bpl',
  'sil',
  'dil',
  ...Array.from({ length: 8 }, (_, k) => `r${k + 8}b`),
  'ah',
  'ch',
  'dh',
  'bh',
];
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
const PTR: Record<number, string> = {
  1: 'byte ptr ',
  2: 'word ptr ',
  4: 'dword ptr ',
  8: 'qword ptr ',
  16: 'xmmword ptr ',
  512: '',
  576: '',
};

/** Name of GPR `reg` at `size` bytes (byte registers 16-19 are AH, CH, DH, BH). */
export function gprName(reg: number, size: number): string {
  return (size === 8 ? GPR64 : size === 4 ? GPR32 : size === 2 ? GPR16 : GPR8)[reg] ?? `r?${reg}`;
}

function hex(v: bigint): string {
  return v < 10n ? v.toString() : `0x${v.toString(16)}`;
}

function signedHex(v: number): string {
  return v < 0 ? `-0x${(-v).toString(16)}` : `+0x${v.toString(16)}`;
}

/** The size suffix string instructions and CBW-family mnemonics take from the operand size. */
function mnemonic(i: Insn): string {
  const row = i.row!;
  let m = row.mnem;
  const sfx = i.opsize === 8 ? 'q' : i.opsize === 4 ? 'd' : 'w';
  if (m === 'movs' || m === 'cmps' || m === 'stos' || m === 'lods' || m === 'scas' || m === 'ins' || m === 'outs') {
    m += m === 'ins' || m === 'outs' ? (i.opsize === 2 ? 'w' : 'd') : sfx;
  } else if (m === 'cwde') m = i.opsize === 8 ? 'cdqe' : i.opsize === 4 ? 'cwde' : 'cbw';
  else if (m === 'cdq') m = i.opsize === 8 ? 'cqo' : i.opsize === 4 ? 'cdq' : 'cwd';
  else if ((m === 'movd' || m === 'pextrd' || m === 'pinsrd') && i.rex & 8) m = `${m.slice(0, -1)}q`;
  else if ((m === 'pushf' || m === 'popf') && i.opsize === 8) m += 'q';
  else if (m === 'iret') m += sfx;
  else if (m === 'cmpxchg8b' && i.rex & 8) m = 'cmpxchg16b';
  else if (/^(fxsave|fxrstor|xsave|xrstor|xsaveopt|pcmpestri|pcmpestrm)$/.test(m) && i.rex & 8) m += '64';
  let pre = '';
  if (i.pfx & PFX.LOCK) pre += 'lock ';
  if (row.flags & 8 /* F.REP */) {
    if (i.pfx & PFX.REP) pre += m.startsWith('cmps') || m.startsWith('scas') ? 'repe ' : 'rep ';
    else if (i.pfx & PFX.REPNE) pre += 'repne ';
  }
  return pre + m;
}

function memText(i: Insn, o: Operand, ip: number): string {
  const spec = i.row!.ops[i.ops.indexOf(o)] ?? '';
  const size = o.size;
  const ptr = spec === 'M' ? '' : (PTR[size] ?? '');
  const seg = i.seg === SEG_FS ? 'fs:' : i.seg === SEG_GS ? 'gs:' : '';
  const regs = i.asize === 8 ? GPR64 : GPR32;
  if (spec[0] === 'X') return `${ptr}${seg}[${regs[6]}]`;
  if (spec[0] === 'Y') return `${ptr}[${regs[7]}]`;
  if (spec[0] === 'B') return `${ptr}${seg}[${regs[3]}+al]`;
  if (spec[0] === 'O') return `${ptr}${seg}[${hex((BigInt(i.immHi >>> 0) << 32n) | BigInt(i.imm >>> 0))}]`;
  if (i.ripRel) {
    const target = BigInt.asUintN(64, BigInt(ip + i.len + i.disp));
    return `${ptr}${seg}[rip${signedHex(i.disp)}] ; ${hex(target)}`;
  }
  const parts: string[] = [];
  if (i.base >= 0) parts.push(regs[i.base]!);
  if (i.index >= 0) parts.push(`${regs[i.index]}*${1 << i.scale}`);
  let body = parts.join('+');
  if (i.disp !== 0 || parts.length === 0) {
    body += parts.length ? signedHex(i.disp) : hex(BigInt.asUintN(i.asize * 8, BigInt(i.disp)));
  }
  return `${ptr}${seg}[${body}]`;
}

/** Formats one decoded instruction at address `ip` (Intel syntax). Invalid encodings show as `(bad)`. */
export function formatInsn(i: Insn, ip: number): string {
  if (!i.row) return '(bad)';
  const parts: string[] = [];
  let comment = '';
  let immSeen = false;
  for (const o of i.ops) {
    switch (o.kind) {
      case OK.REG:
        parts.push(gprName(o.reg, o.size));
        break;
      case OK.XMM:
        parts.push(`xmm${o.reg}`);
        break;
      case OK.SEG:
        parts.push(SEGS[o.reg] ?? '?');
        break;
      case OK.IMM: {
        const raw = immSeen ? BigInt(i.imm2) : (BigInt(i.immHi) << 32n) | BigInt(i.imm >>> 0);
        parts.push(hex(BigInt.asUintN(o.size * 8, raw)));
        immSeen = true;
        break;
      }
      case OK.REL:
        parts.push(hex(BigInt.asUintN(64, BigInt(ip + i.len + i.imm))));
        break;
      default: {
        const t = memText(i, o, ip);
        const k = t.indexOf(' ; ');
        if (k >= 0) {
          comment = t.slice(k);
          parts.push(t.slice(0, k));
        } else parts.push(t);
      }
    }
  }
  const m = mnemonic(i);
  return (parts.length ? `${m} ${parts.join(', ')}` : m) + comment;
}

/** The mnemonic alone (for comparisons with other disassemblers). */
export function mnemonicOf(i: Insn): string {
  return i.row ? mnemonic(i).split(' ').pop()! : '(bad)';
}
