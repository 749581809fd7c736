/**
 * Comparison of our decoder with iced-x86 (the oracle): for each instruction iced decodes, our decoder must
 * either produce the same length, operands and branch target, or report #UD for an instruction we do not
 * implement. Every iced object is freed (DEPENDENCIES.md: the wasm heap does not shrink otherwise).
 */
import { createRequire } from 'node:module';
import { decodeInsn, type Insn, mnemonicOf, OK } from '../../../../src/hw/index';

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: iced-x86 is CommonJS without ESM types
const iced: any = require('iced-x86');

const GPR64 = [
  'RAX',
  'RCX',
  'RDX',
  'RBX',
  'RSP',
  'RBP',
  'RSI',
  'RDI',
  ...Array.from({ length: 8 }, (_, k) => `R${k + 8}`),
];
const GPR32 = [
  'EAX',
  'ECX',
  'EDX',
  'EBX',
  'ESP',
  'EBP',
  'ESI',
  'EDI',
  ...Array.from({ length: 8 }, (_, k) => `R${k + 8}D`),
];
const GPR16 = ['AX', 'CX', 'DX', 'BX', 'SP', 'BP', 'SI', 'DI', ...Array.from({ length: 8 }, (_, k) => `R${k + 8}W`)];
const GPR8 = [
  'AL',
  'CL',
  'DL',
  'BL',
  'SPL',
  'BPL',
  'SIL',
  'DIL',
  ...Array.from({ length: 8 }, (_, k) => `R${k + 8}L`),
  'AH',
  'CH',
  'DH',
  'BH',
];
const SEGS = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];

/** iced's register name for one of our register operands. */
export function regName(kind: number, size: number, reg: number): string {
  if (kind === OK.XMM) return `XMM${reg}`;
  if (kind === OK.SEG) return SEGS[reg] ?? `SEG${reg}`;
  return (size === 8 ? GPR64 : size === 4 ? GPR32 : size === 2 ? GPR16 : GPR8)[reg]!;
}

const REG_NAMES: string[] = [];
for (const [name, v] of Object.entries(iced.Register)) if (typeof v === 'number') REG_NAMES[v] = name;
const KIND_NAMES: string[] = [];
for (const [name, v] of Object.entries(iced.OpKind)) if (typeof v === 'number') KIND_NAMES[v] = name;
const MNEMONICS: string[] = [];
for (const [name, v] of Object.entries(iced.Mnemonic)) if (typeof v === 'number') MNEMONICS[v] = name;

/** Normalised description of an instruction's operands, comparable between the two decoders. */
export function describeOurs(insn: Insn, ip: bigint): string[] {
  const out: string[] = [];
  let immSeen = false;
  for (const [k, o] of insn.ops.entries()) {
    switch (o.kind) {
      case OK.REG:
      case OK.XMM:
      case OK.SEG:
        out.push(`reg:${regName(o.kind, o.size, o.reg)}`);
        break;
      case OK.IMM: {
        void k;
        const bits = BigInt(o.size * 8);
        const raw = immSeen ? BigInt(insn.imm2) : (BigInt(insn.immHi) << 32n) | BigInt(insn.imm >>> 0);
        out.push(`imm:${BigInt.asUintN(Number(bits), raw).toString(16)}`);
        immSeen = true;
        break;
      }
      case OK.REL:
        out.push(`br:${BigInt.asUintN(64, ip + BigInt(insn.len) + BigInt(insn.imm)).toString(16)}`);
        break;
      default:
        out.push('mem');
    }
  }
  return out;
}

export interface MemDesc {
  base: string;
  index: string;
  scale: number;
  disp: string;
}

function ourMem(insn: Insn, ip: bigint): MemDesc {
  const base = insn.ripRel ? 'RIP' : insn.base >= 0 ? (insn.asize === 8 ? GPR64 : GPR32)[insn.base]! : 'None';
  const index = insn.index >= 0 ? (insn.asize === 8 ? GPR64 : GPR32)[insn.index]! : 'None';
  let disp = BigInt.asUintN(64, BigInt(insn.disp));
  if (insn.row!.ops.some((s) => s[0] === 'O')) disp = (BigInt(insn.immHi >>> 0) << 32n) | BigInt(insn.imm >>> 0);
  if (insn.ripRel) disp = BigInt.asUintN(64, ip + BigInt(insn.len) + BigInt(insn.disp));
  if (insn.asize === 4 && !insn.ripRel) disp = BigInt.asUintN(32, disp);
  return {
    base: base === 'None' && index === 'None' ? 'None' : base,
    index,
    scale: 1 << insn.scale,
    disp: disp.toString(16),
  };
}

export interface Mismatch {
  readonly ip: bigint;
  readonly bytes: string;
  readonly iced: string;
  readonly what: string;
}

export interface SweepResult {
  readonly decoded: number;
  /** iced mnemonic → count, for instructions our decoder reports as #UD. */
  readonly ud: Map<string, number>;
  readonly mismatches: Mismatch[];
}

/** Decodes `code` (loaded at `ip0`) with iced and with ours, instruction by instruction. */
export function sweep(code: Uint8Array, ip0: bigint): SweepResult {
  const decoder = new iced.Decoder(64, code, iced.DecoderOptions.None);
  const formatter = new iced.Formatter(iced.FormatterSyntax.Intel);
  const instr = new iced.Instruction();
  decoder.ip = ip0;
  const ud = new Map<string, number>();
  const mismatches: Mismatch[] = [];
  let decoded = 0;
  try {
    while (decoder.canDecode) {
      const pos = decoder.position;
      decoder.decodeOut(instr);
      const len = instr.length;
      const ip = ip0 + BigInt(pos);
      const ours = decodeInsn(code, pos, code.length);
      if (instr.isInvalid) {
        if (ours.row && mismatches.length < 200) {
          const bytes = Buffer.from(code.subarray(pos, pos + Math.max(ours.len, 1))).toString('hex');
          mismatches.push({ ip, bytes, iced: '(invalid)', what: 'we accept an encoding iced rejects' });
        }
        continue;
      }
      decoded++;
      const mnem = MNEMONICS[instr.mnemonic] ?? '?';
      const legacy = instr.encoding === iced.EncodingKind.Legacy;
      if (!ours.row) {
        const key = legacy ? mnem : `${mnem} (${instr.encoding === iced.EncodingKind.VEX ? 'VEX' : 'EVEX'})`;
        ud.set(key, (ud.get(key) ?? 0) + 1);
        continue;
      }
      const bytes = Buffer.from(code.subarray(pos, pos + len)).toString('hex');
      const bad = (what: string) => {
        if (mismatches.length < 200) mismatches.push({ ip, bytes, iced: formatter.format(instr), what });
      };
      if (!legacy) {
        bad('decoded a non-legacy encoding');
        continue;
      }
      if (ours.len !== len) {
        bad(`length ${ours.len} vs ${len}`);
        continue;
      }
      const theirs: string[] = [];
      for (let k = 0; k < instr.opCount; k++) {
        const kind = KIND_NAMES[instr.opKind(k)]!;
        if (kind === 'Register') theirs.push(`reg:${REG_NAMES[instr.opRegister(k)]}`);
        else if (kind.startsWith('Immediate')) {
          // iced sign-extends to 64 bits; compare within the operand's own width.
          const o = ours.ops[k];
          const bits = o && o.kind === OK.IMM ? o.size * 8 : 64;
          theirs.push(`imm:${BigInt.asUintN(bits, instr.immediate(k)).toString(16)}`);
        } else if (kind.startsWith('NearBranch')) theirs.push(`br:${instr.nearBranch64.toString(16)}`);
        else theirs.push('mem');
      }
      if (mnemonicOf(ours) !== mnem.toLowerCase()) bad(`mnemonic ${mnemonicOf(ours)} vs ${mnem.toLowerCase()}`);
      const mine = describeOurs(ours, ip);
      if (mine.join(' ') !== theirs.join(' ')) {
        bad(`operands [${mine.join(' ')}] vs [${theirs.join(' ')}]`);
        continue;
      }
      if (
        mine.includes('mem') &&
        theirs.includes('mem') &&
        ours.row.ops.every((s) => s[0] !== 'X' && s[0] !== 'Y' && s[0] !== 'B')
      ) {
        const m = ourMem(ours, ip);
        const t: MemDesc = {
          base: REG_NAMES[instr.memoryBase]!,
          index: REG_NAMES[instr.memoryIndex]!,
          scale: instr.memoryIndex === iced.Register.None ? 1 : instr.memoryIndexScale,
          disp: BigInt.asUintN(ours.asize === 4 && !ours.ripRel ? 32 : 64, instr.memoryDisplacement).toString(16),
        };
        if (m.index === 'None') m.scale = 1;
        if (JSON.stringify(m) !== JSON.stringify(t)) bad(`memory ${JSON.stringify(m)} vs ${JSON.stringify(t)}`);
        const seg = REG_NAMES[instr.segmentPrefix];
        const ourSeg = ours.seg === 4 ? 'FS' : ours.seg === 5 ? 'GS' : 'None';
        if ((seg === 'FS' || seg === 'GS' || ourSeg !== 'None') && seg !== ourSeg) bad(`segment ${ourSeg} vs ${seg}`);
      }
    }
  } finally {
    instr.free();
    formatter.free();
    decoder.free();
  }
  return { decoded, ud, mismatches };
}
