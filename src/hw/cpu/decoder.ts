/**
 * The hand-written x86-64 decoder (64-bit mode, legacy encodings), driven by the rows of opcodes.ts.
 * SDM Vol. 2 ch. 2 "Instruction Format": prefixes, REX, opcode (1-byte, 0F, 0F 38, 0F 3A), ModRM, SIB,
 * displacement, immediates. VEX (C4/C5) and EVEX (62) encodings are not implemented and decode as #UD.
 *
 * `decodeInsn()` never throws: it returns an Insn whose `row` is undefined for an invalid or unimplemented
 * encoding (the CPU raises #UD), `len = -1` when the bytes end before the instruction does (the caller
 * fetches the next page and retries), or `len = -2` when the instruction exceeds 15 bytes (#GP(0);
 * SDM Vol. 2 §2.3.11).
 */

import { F, OPCODES, type OpRow } from './opcodes';

/** Operand kinds. */
export const OK = {
  REG: 0,
  MEM: 1,
  IMM: 2,
  REL: 3,
  XMM: 4,
  SEG: 5,
} as const;
/** One of the `OK` operand kinds. */
export type OperandKind = (typeof OK)[keyof typeof OK];

/** Prefix bits recorded in `Insn.pfx`. */
export const PFX = {
  LOCK: 1,
  REP: 2,
  REPNE: 4,
  OPSIZE: 8,
  ADSIZE: 16,
} as const;

/** Segment override in effect for the memory operand: only FS and GS have a base in 64-bit mode. */
export const SEG_NONE = 0;
export const SEG_FS = 4;
export const SEG_GS = 5;

/**
 * One decoded operand. Registers are numbered 0-15 (RAX..R15); byte registers AH, CH, DH, BH (no REX) are
 * 16-19. For IMM and REL the value is in the Insn (`imm`/`immHi`).
 */
export interface Operand {
  readonly kind: OperandKind;
  /** Size in bytes (16 for XMM, 0 when the memory operand has no size, e.g. LEA). */
  readonly size: number;
  readonly reg: number;
}

/** A decoded instruction. The interpreter attaches its handler in `exec`. */
export interface Insn {
  row: OpRow | undefined;
  len: number;
  /** Operand size in bytes: 2, 4 or 8. */
  opsize: number;
  /** Address size in bytes: 4 (67 prefix) or 8. */
  asize: number;
  rex: number;
  pfx: number;
  seg: number;
  mod: number;
  reg: number;
  rm: number;
  /** Memory operand: base/index register (-1 none), scale shift, displacement (signed), RIP-relative. */
  base: number;
  index: number;
  scale: number;
  disp: number;
  ripRel: boolean;
  /** First immediate (sign- or zero-extended per spec; low 32 bits as int32 when 64-bit) and its high half. */
  imm: number;
  immHi: number;
  /** Second immediate (ENTER's nesting level, EXTRQ-style forms). */
  imm2: number;
  ops: Operand[];
  /** Whether an operand is in memory (the handler computes the effective address once). */
  hasMem: boolean;
  /** Bytes of the encoding. */
  bytes: Uint8Array;
  // biome-ignore lint/suspicious/noExplicitAny: the interpreter owns the handler type (exec.ts)
  exec: any;
}

interface Spec {
  letter: string;
  size: string;
}

interface Compiled {
  row: OpRow;
  specs: Spec[];
  needsModrm: boolean;
  /** An M operand: the register form (mod = 3) is #UD. */
  memOnly: boolean;
  /** An R or U operand: the memory form is #UD. */
  regOnly: boolean;
}

// Lookup: per map, per opcode byte, the candidate rows.
const MAPS = new Map<number, Compiled[][]>();
for (const m of [0, 0x0f, 0x0f38, 0x0f3a])
  MAPS.set(
    m,
    Array.from({ length: 256 }, () => []),
  );

function parseSpec(s: string): Spec {
  if (s === 'sIb') return { letter: 's', size: 'b' };
  if (/^[A-Z][a-z]+$/.test(s) && 'EGMRIJZOXYVWUSB'.includes(s[0]!)) return { letter: s[0]!, size: s.slice(1) };
  if (s === 'V' || s === 'U') return { letter: s, size: 'x' };
  return { letter: s, size: '' };
}

for (const row of OPCODES) {
  const specs = row.ops.map(parseSpec);
  const needsModrm = row.ext !== undefined || specs.some((s) => 'EGMRVWUS'.includes(s.letter));
  const memOnly = specs.some((s) => s.letter === 'M');
  const regOnly = specs.some((s) => s.letter === 'R' || s.letter === 'U');
  MAPS.get(row.map)![row.op]!.push({ row, specs, needsModrm, memOnly, regOnly });
}

/** Rows for a map/opcode (for generated tests and the formatter). */
export function rowsFor(map: number, op: number): readonly OpRow[] {
  return (MAPS.get(map)?.[op] ?? []).map((c) => c.row);
}

const UD_ROWLESS: readonly Operand[] = [];

function newInsn(bytes: Uint8Array): Insn {
  return {
    row: undefined,
    len: 0,
    opsize: 4,
    asize: 8,
    rex: 0,
    pfx: 0,
    seg: SEG_NONE,
    mod: 0,
    reg: 0,
    rm: 0,
    base: -1,
    index: -1,
    scale: 0,
    disp: 0,
    ripRel: false,
    imm: 0,
    immHi: 0,
    imm2: 0,
    ops: UD_ROWLESS as Operand[],
    hasMem: false,
    bytes,
    exec: undefined,
  };
}

class NeedMore {}
const NEED_MORE = new NeedMore();

/**
 * Decodes one instruction from `buf[pos..end)`.
 * @returns an Insn; `row` undefined means #UD; `len` -1 means more bytes are needed, -2 means longer than 15 bytes.
 */
export function decodeInsn(buf: Uint8Array, pos: number, end: number): Insn {
  let p = pos;
  const next = (): number => {
    if (p >= end) throw NEED_MORE;
    return buf[p++]!;
  };
  const insn = newInsn(buf);
  try {
    decodeInto(insn, next, () => p - pos);
  } catch (e) {
    if (e === NEED_MORE) {
      // Bytes ran out. If already 15 or more, the instruction is too long regardless of the next page.
      insn.len = p - pos >= 15 ? -2 : -1;
      insn.row = undefined;
      return insn;
    }
    throw e;
  }
  insn.len = p - pos;
  if (insn.len > 15) {
    insn.len = -2;
    insn.row = undefined;
  }
  insn.bytes = buf.subarray(pos, pos + Math.max(insn.len, 0));
  return insn;
}

function decodeInto(insn: Insn, next: () => number, consumed: () => number): void {
  let b = next();
  let lastRep = 0; // 0xF2 or 0xF3, last one wins (SDM Vol. 2 §2.1.1 leaves it undefined; Intel uses the last)
  let has66 = false;
  let rex = 0;
  // Legacy prefixes, then REX. A REX followed by another legacy prefix is ignored (SDM Vol. 2 §2.2.1).
  for (;;) {
    if (b === 0xf0) insn.pfx |= PFX.LOCK;
    else if (b === 0xf2 || b === 0xf3) lastRep = b;
    else if (b === 0x66) has66 = true;
    else if (b === 0x67) insn.pfx |= PFX.ADSIZE;
    else if (b === 0x64) insn.seg = SEG_FS;
    else if (b === 0x65) insn.seg = SEG_GS;
    else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) {
      // ES/CS/SS/DS overrides have no effect in 64-bit mode, and they cancel an earlier FS/GS (iced agrees).
      insn.seg = SEG_NONE;
    } else if ((b & 0xf0) === 0x40) {
      rex = b;
      b = next();
      if (
        b === 0xf0 ||
        b === 0xf2 ||
        b === 0xf3 ||
        b === 0x66 ||
        b === 0x67 ||
        b === 0x64 ||
        b === 0x65 ||
        b === 0x26 ||
        b === 0x2e ||
        b === 0x36 ||
        b === 0x3e ||
        (b & 0xf0) === 0x40
      ) {
        rex = 0;
        continue;
      }
      break;
    } else break;
    if (consumed() >= 15) throw NEED_MORE; // too long; caller turns 15+ bytes into -2
    b = next();
  }
  insn.rex = rex;
  if (lastRep === 0xf3) insn.pfx |= PFX.REP;
  if (lastRep === 0xf2) insn.pfx |= PFX.REPNE;
  if (has66) insn.pfx |= PFX.OPSIZE;
  insn.asize = insn.pfx & PFX.ADSIZE ? 4 : 8;

  let map = 0;
  if (b === 0x0f) {
    b = next();
    if (b === 0x38) {
      map = 0x0f38;
      b = next();
    } else if (b === 0x3a) {
      map = 0x0f3a;
      b = next();
    } else map = 0x0f;
  }
  const cands = MAPS.get(map)![b]!;
  if (cands.length === 0) return; // #UD (includes VEX C4/C5 and EVEX 62 in 64-bit mode)

  const needsModrm = cands[0]!.needsModrm;
  let modrm = 0;
  if (needsModrm) {
    modrm = next();
    insn.mod = modrm >> 6;
    insn.reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
    insn.rm = (modrm & 7) | ((rex & 1) << 3);
  } else insn.rm = (b & 7) | ((rex & 1) << 3); // for Z operands (register in the opcode byte)
  const ext = (modrm >> 3) & 7;
  const isReg = insn.mod === 3;

  // Row selection: opcode extension, mod/rm restrictions, then the mandatory prefix.
  const fits = (c: Compiled): boolean => {
    const r = c.row;
    if (r.ext !== undefined && r.ext !== ext) return false;
    if (r.mod === 'reg' && !isReg) return false;
    if (r.mod === 'mem' && isReg) return false;
    if (r.rm !== undefined && r.rm !== modrm) return false;
    if ((c.memOnly && isReg) || (c.regOnly && !isReg)) return false;
    // Only ES, CS, SS, DS, FS, GS exist: Sreg encodings 6 and 7 are #UD (SDM Vol. 2 "MOV").
    if (c.row.sem === 'movFromSeg' && ext > 5) return false;
    return true;
  };
  const pool = cands.filter(fits);
  let chosen: Compiled | undefined;
  let mandatory66 = false;
  if (map === 0 && b === 0x90) {
    // 90 is XCHG rAX, r8 with REX.B; F3 90 is PAUSE; otherwise NOP (SDM Vol. 2 "NOP", "XCHG").
    if (lastRep === 0xf3) chosen = pool.find((c) => c.row.pfx === 'F3');
    else chosen = rex & 1 ? pool.find((c) => c.row.sem === 'xchg') : pool.find((c) => c.row.pfx === 'np');
  } else if (pool.some((c) => c.row.pfx !== undefined)) {
    const want = lastRep === 0xf3 ? 'F3' : lastRep === 0xf2 ? 'F2' : undefined;
    if (want) chosen = pool.find((c) => c.row.pfx === want);
    if (!chosen && has66 && !want) {
      chosen = pool.find((c) => c.row.pfx === '66');
      if (chosen) mandatory66 = true;
    }
    if (!chosen && !want && !has66) chosen = pool.find((c) => c.row.pfx === 'np');
    // Prefix-agnostic rows (e.g. BSF next to TZCNT) accept any prefix combination.
    if (!chosen) chosen = pool.find((c) => c.row.pfx === undefined);
  } else chosen = pool[0];
  if (!chosen) {
    // Consume the rest of the encoding as far as we can tell, for a sensible length; the insn is #UD.
    return;
  }
  const row = chosen.row;
  if (row.flags & F.NOREP && lastRep) return;
  if (row.pfx === '66') mandatory66 = true;

  // Operand size: REX.W > 66 > default (SDM Vol. 1 §3.6.1 Table 3-4).
  let opsize = 4;
  if (row.flags & F.F64) opsize = 8;
  else if (rex & 8) opsize = 8;
  else if (has66 && !mandatory66) opsize = 2;
  else if (row.flags & F.D64) opsize = 8;
  insn.opsize = opsize;

  // Memory operand.
  if (needsModrm && !isReg) decodeMem(insn, modrm, next);

  // LOCK is legal only on the listed instructions with a memory destination (SDM Vol. 2 "LOCK").
  if (insn.pfx & PFX.LOCK && (!(row.flags & F.LOCK) || isReg)) return;

  const ops: Operand[] = [];
  insn.ops = ops;
  for (const s of chosen.specs) ops.push(operand(insn, s, next, rex));
  insn.hasMem = ops.some((o) => o.kind === OK.MEM);
  insn.row = row;
}

function decodeMem(insn: Insn, modrm: number, next: () => number): void {
  const mod = modrm >> 6;
  const rm = modrm & 7;
  const rex = insn.rex;
  if (rm === 4) {
    const sib = next();
    const scale = sib >> 6;
    const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
    const base = (sib & 7) | ((rex & 1) << 3);
    insn.scale = scale;
    insn.index = idx === 4 ? -1 : idx; // index 100b without REX.X means none; R12 is a valid index
    if ((sib & 7) === 5 && mod === 0) {
      insn.base = -1;
      insn.disp = readS32(next);
      return;
    }
    insn.base = base;
  } else if (rm === 5 && mod === 0) {
    // RIP-relative (SDM Vol. 2 §2.2.1.6); with 67 it is EIP-relative.
    insn.ripRel = true;
    insn.disp = readS32(next);
    return;
  } else {
    insn.base = rm | ((rex & 1) << 3);
  }
  if (mod === 1) insn.disp = (next() << 24) >> 24;
  else if (mod === 2) insn.disp = readS32(next);
}

function readS32(next: () => number): number {
  const a = next();
  const b = next();
  const c = next();
  const d = next();
  return a | (b << 8) | (c << 16) | (d << 24);
}

function sizeOf(code: string, insn: Insn): number {
  switch (code) {
    case 'b':
      return 1;
    case 'w':
      return 2;
    case 'd':
      return 4;
    case 'q':
      return 8;
    case 'v':
      return insn.opsize;
    case 'y':
      return insn.rex & 8 ? 8 : 4;
    case 'yb':
      return insn.mod === 3 ? (insn.rex & 8 ? 8 : 4) : 1;
    case 'yw':
      return insn.mod === 3 ? (insn.rex & 8 ? 8 : 4) : 2;
    case 'yd':
      return insn.mod === 3 ? (insn.rex & 8 ? 8 : 4) : 4;
    case 'z':
      return insn.opsize === 2 ? 2 : 4;
    case 'x':
    case 'dq':
      return 16;
    case 'fx':
      return 512;
    case 'xs':
      return 576;
    default:
      return 0;
  }
}

function gpr(reg: number, size: number, rex: number): Operand {
  // Without any REX prefix, byte registers 4-7 are AH, CH, DH, BH (SDM Vol. 1 §3.7.2.1).
  if (size === 1 && rex === 0 && reg >= 4 && reg < 8) return { kind: OK.REG, size, reg: reg + 12 };
  return { kind: OK.REG, size, reg };
}

function operand(insn: Insn, s: Spec, next: () => number, rex: number): Operand {
  const mem = (size: number): Operand => ({ kind: OK.MEM, size, reg: -1 });
  switch (s.letter) {
    case 'E':
    case 'M':
    case 'R': {
      const size = sizeOf(s.size, insn);
      return insn.mod === 3 ? gpr(insn.rm, size, rex) : mem(size);
    }
    case 'G':
      return gpr(insn.reg, sizeOf(s.size, insn), rex);
    case 'S':
      return { kind: OK.SEG, size: 2, reg: insn.reg & 7 };
    case 'V':
      return { kind: OK.XMM, size: 16, reg: insn.reg };
    case 'U':
      return { kind: OK.XMM, size: 16, reg: insn.rm };
    case 'W': {
      const size = sizeOf(s.size, insn);
      return insn.mod === 3 ? { kind: OK.XMM, size: 16, reg: insn.rm } : mem(size);
    }
    case 'Z':
      // Register in the opcode's low three bits, extended by REX.B (decodeInto stores it in rm).
      return gpr(insn.rm, sizeOf(s.size, insn), rex);
    case 'I': {
      if (s.size === 'b') return imm(insn, next(), 0, 1);
      if (s.size === 'w') {
        const v = next() | (next() << 8);
        return imm(insn, v, 0, 2);
      }
      if (s.size === 'z') {
        if (insn.opsize === 2) return imm(insn, ((next() | (next() << 8)) << 16) >> 16, 0, 2);
        const v = readS32(next);
        return imm(insn, v, v < 0 ? -1 : 0, insn.opsize);
      }
      // Iv: the only full 64-bit immediate (MOV r64, imm64).
      if (insn.opsize === 2) return imm(insn, next() | (next() << 8), 0, 2);
      const lo = readS32(next);
      if (insn.opsize === 4) return imm(insn, lo, 0, 4);
      return imm(insn, lo, readS32(next), 8);
    }
    case 's': {
      const v = (next() << 24) >> 24;
      return imm(insn, v, v < 0 ? -1 : 0, insn.opsize);
    }
    case 'J': {
      const v = s.size === 'b' ? (next() << 24) >> 24 : readS32(next);
      insn.imm = v;
      insn.immHi = v < 0 ? -1 : 0;
      return { kind: OK.REL, size: 8, reg: -1 };
    }
    case 'O': {
      // moffs64 (A0-A3): the address is an 8-byte immediate (4 with 67).
      // Kept exactly in imm/immHi (no immediate shares these forms); disp holds the signed value, exact for
      // every canonical address.
      const lo = readS32(next);
      const hi = insn.asize === 8 ? readS32(next) : 0;
      insn.imm = lo;
      insn.immHi = hi;
      insn.disp = hi * 4294967296 + (lo >>> 0);
      insn.base = -1;
      insn.index = -1;
      return mem(sizeOf(s.size, insn));
    }
    case 'X':
    case 'Y':
    case 'B':
      return mem(sizeOf(s.size, insn));
    case 'AL':
      return { kind: OK.REG, size: 1, reg: 0 };
    case 'AX':
      return { kind: OK.REG, size: 2, reg: 0 };
    case 'eAX':
      return { kind: OK.REG, size: insn.opsize === 2 ? 2 : 4, reg: 0 };
    case 'rAX':
      return { kind: OK.REG, size: insn.opsize, reg: 0 };
    case 'CL':
      return { kind: OK.REG, size: 1, reg: 1 };
    case 'DX':
      return { kind: OK.REG, size: 2, reg: 2 };
    case '1':
      return imm(insn, 1, 0, 1);
    default:
      throw new Error(`opcode table: unknown operand spec ${s.letter}${s.size}`);
  }
}

function imm(insn: Insn, lo: number, hi: number, size: number): Operand {
  // The second immediate of a two-immediate form (ENTER Iw,Ib) goes to imm2.
  if (insn.ops.length > 0 && insn.ops.some((o) => o.kind === OK.IMM)) {
    insn.imm2 = lo;
  } else {
    insn.imm = lo;
    insn.immHi = hi;
  }
  return { kind: OK.IMM, size, reg: -1 };
}
