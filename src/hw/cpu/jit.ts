/**
 * The block compiler: turns a hot decoded block into one JavaScript function (`new Function`), with the
 * common integer forms inlined (register and immediate moves, loads and stores through the TLB fast path,
 * ADD/SUB/CMP/AND/OR/XOR/TEST, INC/DEC, LEA, PUSH/POP, Jcc/JMP/CALL) and every other instruction calling its
 * interpreter handler. Semantics are those of the handlers; the differential tests run through this path.
 *
 * Contract with run(): the function executes the whole block unless a branch is taken, a store hits a code
 * page (self-modifying code) or an instruction throws. Before each instruction that may throw it records the
 * instruction's index in `c.blk`, so run() can report the instructions retired and put RIP on the faulting
 * instruction. It returns the number of instructions retired and leaves RIP at the next one.
 */

import { add, alu, logic, shift, sub } from './alu';
import { type Cpu, cond, ea, push } from './cpu';
import { type Insn, OK, PFX, SEG_NONE } from './decoder';
import { F } from './opcodes';

/** A compiled block: returns the instructions retired; `rem` is the remaining budget. */
export type BlockFn = (c: Cpu, insns: readonly Insn[], x: typeof HELPERS, rem: number) => number;

const PARITY = new Uint8Array(256);
for (let v = 0; v < 256; v++) {
  let b = v ^ (v >> 4);
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[v] = (b & 1) === 0 ? 4 : 0; // the PF bit value
}

/** Helpers the generated code calls (passed as `X`). */
const SCRATCH = new ArrayBuffer(8);
/** Helpers and scratch views the generated code reaches as `X`. */
export const HELPERS = {
  ea,
  cond,
  add,
  sub,
  alu,
  logic,
  shift,
  push,
  PARITY,
  I32: new Int32Array(SCRATCH),
  F64: new Float64Array(SCRATCH),
  F32: new Float32Array(SCRATCH),
};

const CANON = 140737488355328;

/** JS expression for a 64-bit register as a signed number, or undefined when |value| may exceed 2^52. */
function regNum(n: number): string {
  return `(r[${2 * n + 1}] * 4294967296 + (r[${2 * n}] >>> 0))`;
}

/** Emits `let a = <effective address>;` with the exactness and canonical checks of cpu.ts `ea()`. */
function emitEa(i: Insn, k: number, nextOff: number): string | undefined {
  if (i.asize !== 8) return undefined;
  const seg = i.seg === SEG_NONE ? '' : i.seg === 4 ? ' + c.fsBase' : ' + c.gsBase';
  if (i.ripRel)
    return `let a = base + ${nextOff + i.disp}${seg}; if (a < -${CANON} || a >= ${CANON}) a = X.ea(c, I[${k}]);`;
  const guards: string[] = [];
  const terms: string[] = [];
  if (i.base >= 0) {
    guards.push(`r[${2 * i.base + 1}]`);
    terms.push(regNum(i.base));
  }
  if (i.index >= 0) {
    guards.push(`r[${2 * i.index + 1}]`);
    terms.push(`${regNum(i.index)} * ${1 << i.scale}`);
  }
  if (i.disp !== 0 || terms.length === 0) terms.push(String(i.disp));
  const g = guards.map((h) => `${h} > 1048575 || ${h} < -1048576`).join(' || ');
  const sum = `${terms.join(' + ')}${seg}`;
  if (!g) return `let a = ${sum}; if (a < -${CANON} || a >= ${CANON}) a = X.ea(c, I[${k}]);`;
  return `let a; if (${g}) a = X.ea(c, I[${k}]); else { a = ${sum}; if (a < -${CANON} || a >= ${CANON}) a = X.ea(c, I[${k}]); }`;
}

/** Code that loads operand `o` into `v` (and `vh` for 64-bit), assuming `a` holds the address for memory. */
function emitLoad(i: Insn, oi: number, v: string, vh: string): string | undefined {
  const o = i.ops[oi]!;
  const s = o.size;
  if (o.kind === OK.REG) {
    if (o.reg >= 16) return `const ${v} = (r[${(o.reg - 16) * 2}] >> 8) & 255;`;
    if (s === 8) return `const ${v} = r[${2 * o.reg}], ${vh} = r[${2 * o.reg + 1}];`;
    if (s === 4) return `const ${v} = r[${2 * o.reg}];`;
    if (s === 2) return `const ${v} = r[${2 * o.reg}] & 65535;`;
    return `const ${v} = r[${2 * o.reg}] & 255;`;
  }
  if (o.kind === OK.IMM) {
    if (s === 8) return `const ${v} = ${i.imm | 0}, ${vh} = ${i.immHi | 0};`;
    if (s === 4) return `const ${v} = ${i.imm | 0};`;
    if (s === 2) return `const ${v} = ${i.imm & 0xffff};`;
    return `const ${v} = ${i.imm & 0xff};`;
  }
  if (o.kind === OK.MEM) {
    if (s === 8)
      return `let ${v}, ${vh}; { const o = a & 4095, p = (a - o) / 4096, t = p & 255; if (m.tagR[t] === p && o <= 4088) { const d = m.dvR[t]; ${v} = d.getInt32(o, true); ${vh} = d.getInt32(o + 4, true); } else { ${v} = m.rd64(a); ${vh} = m.hi; } }`;
    if (s === 4)
      return `let ${v}; { const o = a & 4095, p = (a - o) / 4096, t = p & 255; ${v} = m.tagR[t] === p && o <= 4092 ? m.dvR[t].getInt32(o, true) : m.rd32(a); }`;
    if (s === 2) return `const ${v} = m.rd16(a);`;
    if (s === 1)
      return `let ${v}; { const o = a & 4095, p = (a - o) / 4096, t = p & 255; ${v} = m.tagR[t] === p ? m.u8R[t][o] : m.rd8(a); }`;
  }
  return undefined;
}

/** Code that stores `v`/`vh` to operand `o` (register write rules of SDM Vol. 1 §3.4.1.1). */
function emitStore(i: Insn, oi: number, v: string, vh: string): string | undefined {
  const o = i.ops[oi]!;
  const s = o.size;
  if (o.kind === OK.REG) {
    const k = 2 * o.reg;
    if (o.reg >= 16) {
      const j = (o.reg - 16) * 2;
      return `r[${j}] = (r[${j}] & -65281) | ((${v} & 255) << 8);`;
    }
    if (s === 8) return `r[${k}] = ${v}; r[${k + 1}] = ${vh};`;
    if (s === 4) return `r[${k}] = ${v}; r[${k + 1}] = 0;`;
    if (s === 2) return `r[${k}] = (r[${k}] & -65536) | (${v} & 65535);`;
    return `r[${k}] = (r[${k}] & -256) | (${v} & 255);`;
  }
  if (o.kind === OK.MEM) {
    if (s === 8)
      return `{ const o = a & 4095, p = (a - o) / 4096, t = p & 255; if (m.tagW[t] === p && o <= 4088) { const d = m.dvW[t]; d.setInt32(o, ${v}, true); d.setInt32(o + 4, ${vh}, true); } else m.wr64(a, ${v}, ${vh}); }`;
    if (s === 4)
      return `{ const o = a & 4095, p = (a - o) / 4096, t = p & 255; if (m.tagW[t] === p && o <= 4092) m.dvW[t].setInt32(o, ${v}, true); else m.wr32(a, ${v}); }`;
    if (s === 2) return `m.wr16(a, ${v});`;
    if (s === 1)
      return `{ const o = a & 4095, p = (a - o) / 4096, t = p & 255; if (m.tagW[t] === p) m.u8W[t][o] = ${v}; else m.wr8(a, ${v}); }`;
  }
  return undefined;
}

/** Removes the lazy-flag stores from an emitted ALU body when its flags are dead. */
function dropFlags(code: string | undefined): string | undefined {
  if (!code || !deadFlags) return code;
  return code.replace(/ c\.lres = [^;]*;.*c\.lazy = 1;/, '');
}

/** Inline ADD/SUB/CMP/AND/OR/XOR/TEST for sizes 4 and 8 with lazy flags; undefined when not inlinable. */
function emitAlu(
  k: number,
  size: number,
  x: string,
  xh: string,
  y: string,
  yh: string,
  out: string,
  outh: string,
): string | undefined {
  if (size === 8) {
    if (k === 0)
      return `const l = (${x} >>> 0) + (${y} >>> 0), h = (${xh} >>> 0) + (${yh} >>> 0) + (l > 4294967295 ? 1 : 0); const ${out} = l | 0, ${outh} = h | 0; c.lres = ${out}; c.lhi = ${outh}; c.lsize = 8; c.laux = (h > 4294967295 ? 1 : 0) | ((${x} ^ ${y} ^ ${out}) & 16) | (((${xh} ^ ${outh}) & (${yh} ^ ${outh})) < 0 ? 2048 : 0); c.lazy = 1;`;
    if (k === 5 || k === 7)
      return `const l = (${x} >>> 0) - (${y} >>> 0), h = (${xh} >>> 0) - (${yh} >>> 0) - (l < 0 ? 1 : 0); const ${out} = l | 0, ${outh} = h | 0; c.lres = ${out}; c.lhi = ${outh}; c.lsize = 8; c.laux = (h < 0 ? 1 : 0) | ((${x} ^ ${y} ^ ${out}) & 16) | (((${xh} ^ ${yh}) & (${xh} ^ ${outh})) < 0 ? 2048 : 0); c.lazy = 1;`;
    const op = k === 1 ? '|' : k === 4 ? '&' : k === 6 ? '^' : undefined;
    if (!op) return undefined;
    return `const ${out} = ${x} ${op} ${y}, ${outh} = ${xh} ${op} ${yh}; c.lres = ${out}; c.lhi = ${outh}; c.lsize = 8; c.laux = 0; c.lazy = 1;`;
  }
  if (size === 4) {
    if (k === 0)
      return `const t = (${x} >>> 0) + (${y} >>> 0); const ${out} = t | 0; c.lres = ${out}; c.lhi = 0; c.lsize = 4; c.laux = (t > 4294967295 ? 1 : 0) | ((${x} ^ ${y} ^ ${out}) & 16) | (((${x} ^ ${out}) & (${y} ^ ${out})) < 0 ? 2048 : 0); c.lazy = 1;`;
    if (k === 5 || k === 7)
      return `const t = (${x} >>> 0) - (${y} >>> 0); const ${out} = t | 0; c.lres = ${out}; c.lhi = 0; c.lsize = 4; c.laux = (t < 0 ? 1 : 0) | ((${x} ^ ${y} ^ ${out}) & 16) | (((${x} ^ ${y}) & (${x} ^ ${out})) < 0 ? 2048 : 0); c.lazy = 1;`;
    const op = k === 1 ? '|' : k === 4 ? '&' : k === 6 ? '^' : undefined;
    if (!op) return undefined;
    return `const ${out} = ${x} ${op} ${y}; c.lres = ${out}; c.lhi = 0; c.lsize = 4; c.laux = 0; c.lazy = 1;`;
  }
  return undefined;
}

/**
 * Size of the lazy flag state an earlier instruction of the same block is known to have left (0 when
 * unknown): then the condition reads the lazy fields directly.
 */
let knownFlags = 0;
/** Length of the block being compiled: the most instructions one loop iteration can retire. */
let loopLen = 0;
/** Whether the flags the instruction being emitted computes are overwritten before anything can see them. */
let deadFlags = false;

/** Whether instruction `i` (inlined) overwrites all six arithmetic flags without reading any and cannot fault. */
function killsFlags(i: Insn): boolean {
  const sem = i.row?.sem;
  if (i.hasMem) return false;
  if (sem === 'test') return i.ops[0]!.size >= 4;
  if (sem === 'alu') return i.ops[0]!.size >= 4 && i.row!.cc !== 2 && i.row!.cc !== 3;
  return false;
}

/** Flag-neutral inlined instructions besides moves: NOT and XMM moves/logic touch no flags and cannot fault. */
const NEUTRAL_REG = new Set(['not', 'movx', 'movxa', 'plogic', 'padd', 'psub', 'pshiftI', 'movq']);

/** Instructions that neither read nor write flags and cannot fault (register moves and LEA). */
function flagNeutral(i: Insn): boolean {
  const sem = i.row?.sem;
  if (i.hasMem && sem !== 'lea') return false;
  return (
    sem === 'mov' ||
    sem === 'lea' ||
    sem === 'nop' ||
    sem === 'movzx' ||
    sem === 'movsx' ||
    sem === 'movsxd' ||
    (sem !== undefined && NEUTRAL_REG.has(sem))
  );
}

/**
 * Dead-flag analysis within a block: instruction k's flags are dead when a later instruction overwrites them
 * all and only flag-neutral, non-faulting instructions come in between (a fault would expose the flags).
 */
function deadFlagSet(insns: readonly Insn[]): boolean[] {
  const dead = insns.map(() => false);
  for (let k = 0; k < insns.length; k++) {
    for (let j = k + 1; j < insns.length; j++) {
      const n = insns[j]!;
      if (killsFlags(n)) {
        dead[k] = true;
        break;
      }
      if (!flagNeutral(n)) break;
    }
  }
  return dead;
}

/** Inline condition for Jcc: from the known lazy state when possible, else ZF/CF inline and the rest via cond(). */
function emitCond(cc: number): string {
  const neg = cc & 1 ? '!' : '';
  if (knownFlags === 4 || knownFlags === 8) {
    const zf = knownFlags === 4 ? '(c.lres === 0)' : '((c.lres | c.lhi) === 0)';
    const sf = knownFlags === 4 ? '(c.lres < 0)' : '(c.lhi < 0)';
    const of = '((c.laux & 2048) !== 0)';
    const cf = '((c.laux & 1) !== 0)';
    switch (cc >> 1) {
      case 0:
        return `${neg}${of}`;
      case 1:
        return `${neg}${cf}`;
      case 2:
        return `${neg}${zf}`;
      case 3:
        return `${neg}(${cf} || ${zf})`;
      case 4:
        return `${neg}${sf}`;
      case 6:
        return `${neg}(${sf} !== ${of})`;
      case 7:
        return `${neg}(${zf} || ${sf} !== ${of})`;
      default:
        return `X.cond(c, ${cc})`;
    }
  }
  if (knownFlags === -1) {
    // Flags were just written to c.flags (lazy = 0): test the bits directly.
    const f = (b: number) => `((c.flags & ${b}) !== 0)`;
    switch (cc >> 1) {
      case 0:
        return `${neg}${f(2048)}`;
      case 1:
        return `${neg}${f(1)}`;
      case 2:
        return `${neg}${f(64)}`;
      case 3:
        return `${neg}${f(65)}`;
      case 4:
        return `${neg}${f(128)}`;
      case 5:
        return `${neg}${f(4)}`;
      case 6:
        return `${neg}(${f(128)} !== ${f(2048)})`;
      default:
        return `${neg}(${f(64)} || ${f(128)} !== ${f(2048)})`;
    }
  }
  switch (cc >> 1) {
    case 1:
      return `${neg}((c.lazy ? c.laux : c.flags) & 1)`;
    case 2:
      return `${neg}(c.lazy ? (c.lres | c.lhi) === 0 : (c.flags & 64) !== 0)`;
    default:
      return `X.cond(c, ${cc})`;
  }
}

/** Whether the flags of the instruction being emitted were found dead (it then writes none). */
function deadFlagsAt(_i: Insn): boolean {
  return deadFlags;
}

/** What an inlined instruction does to the known flag state: a lazy size, -1 (in c.flags), 'keep', or 0 (unknown). */
function flagEffect(i: Insn): number | 'keep' {
  const sem = i.row?.sem;
  switch (sem) {
    case 'alu':
    case 'test': {
      const sz = i.ops[0]!.size;
      // ADC/SBB and narrow forms set lazy flags too, through alu(); the size says how to read them.
      return sz;
    }
    case 'setcc':
    case 'cmov':
    case 'not':
    case 'movq':
    case 'ret':
    case 'movsd':
    case 'fmin':
    case 'fmax':
    case 'fadd':
    case 'fsub':
    case 'fmul':
    case 'fdiv':
    case 'cvtsi2f':
    case 'cvtf2si':
      return 'keep';
    case 'comis':
      return -1;
    case 'imul2':
    case 'imul3':
      return deadFlagsAt(i) ? 0 : -1;
    case 'incdec':
      return i.ops[0]!.size;
    case 'shift': {
      const k = i.row!.cc!;
      const n = i.imm & (i.ops[0]!.size === 8 ? 63 : 31);
      if (i.ops[1]!.kind !== OK.IMM || n === 0) return 'keep';
      if (k === 0 || k === 1) return 'keep'; // CF/OF land in laux while lazy, so the lazy state stays valid
      return k === 2 || k === 3 ? 'keep' : i.ops[0]!.size;
    }
    case 'mov':
    case 'movzx':
    case 'movsx':
    case 'movsxd':
    case 'lea':
    case 'push':
    case 'pop':
    case 'nop':
    case 'jcc':
    case 'movx':
    case 'movxa':
    case 'plogic':
    case 'padd':
    case 'psub':
    case 'pshiftI':
      return 'keep';
    default:
      return 0;
  }
}

/** Returns the inline code for instruction `i` (index k), or undefined to fall back to its handler. */
function emitInline(i: Insn, k: number, next: number, loop: boolean): string | undefined {
  const row = i.row;
  // LOCKed and REP-prefixed string forms go through their handlers (F2/F3 on other rows are mandatory prefixes).
  if (!row || i.pfx & PFX.LOCK || (row.flags & F.REP && i.pfx & (PFX.REP | PFX.REPNE))) return undefined;
  const sem = row.sem;
  const ops = i.ops;
  const needEa = i.hasMem;
  const eaCode = needEa ? emitEa(i, k, next) : '';
  if (eaCode === undefined) return undefined;
  const mark = needEa ? `c.blk = ${k}; ` : '';
  switch (sem) {
    case 'nop':
      return '';
    case 'mov': {
      if (ops.length !== 2) return undefined;
      const ld = emitLoad(i, 1, 'v', 'vh');
      const stc = emitStore(i, 0, 'v', 'vh');
      if (!ld || !stc) return undefined;
      const smc =
        ops[0]!.kind === OK.MEM ? ' if (m.smc) { m.smc = false; c.rip = base + NEXT; return done + K1; }' : '';
      return `${mark}{ ${eaCode} ${ld} ${stc}${smc} }`;
    }
    case 'movzx':
    case 'movsx':
    case 'movsxd': {
      const d = ops[0]!;
      const s = ops[1]!;
      if (d.kind !== OK.REG || (d.size !== 4 && d.size !== 8)) return undefined;
      const ld = emitLoad(i, 1, 'v', 'vh');
      if (!ld) return undefined;
      const ext = sem === 'movzx' ? 'v' : s.size === 1 ? '((v << 24) >> 24)' : s.size === 2 ? '((v << 16) >> 16)' : 'v';
      const hi = sem === 'movzx' || d.size === 4 ? '0' : `(${ext} < 0 ? -1 : 0)`;
      return `${mark}{ ${eaCode} ${ld} const w = ${ext}; r[${2 * d.reg}] = w; r[${2 * d.reg + 1}] = ${hi}; }`;
    }
    case 'alu':
    case 'test': {
      const d = ops[0]!;
      const kk = sem === 'test' ? 4 : row.cc!;
      const lx = emitLoad(i, 0, 'x', 'xh');
      const ly = emitLoad(i, 1, 'y', 'yh');
      // 8/16-bit forms and ADC/SBB go through alu() with the operands loaded inline.
      const body =
        d.size === 4 || d.size === 8
          ? (dropFlags(emitAlu(kk, d.size, 'x', 'xh', 'y', 'yh', 'z', 'zh')) ??
            `const z = X.alu(c, ${kk}, ${d.size}, x, ${d.size === 8 ? 'xh' : 0}, y, ${d.size === 8 ? 'yh' : 0}), zh = c.hi;`)
          : `const z = X.alu(c, ${kk}, ${d.size}, x, 0, y, 0), zh = 0;`;
      if (!lx || !ly) return undefined;
      const writes = sem === 'alu' && kk !== 7;
      // A memory destination is probed for writing before it is read (no effect if the write would fault).
      const probe = writes && d.kind === OK.MEM ? `m.probeW(a, ${d.size});` : '';
      const stc = writes ? emitStore(i, 0, 'z', 'zh') : '';
      if (stc === undefined) return undefined;
      const smc =
        writes && d.kind === OK.MEM ? ' if (m.smc) { m.smc = false; c.rip = base + NEXT; return done + K1; }' : '';
      return `${mark}{ ${eaCode} ${probe} ${lx} ${ly} ${body} ${stc}${smc} }`;
    }
    case 'not': {
      const d = ops[0]!;
      if (d.kind !== OK.REG || (d.size !== 4 && d.size !== 8)) return undefined;
      const R = 2 * d.reg;
      return `r[${R}] = ~r[${R}]; r[${R + 1}] = ${d.size === 8 ? `~r[${R + 1}]` : '0'};`;
    }
    case 'movq': {
      // MOVQ xmm, xmm/m64 zeroes the upper lane; MOVQ m64, xmm stores the low lane.
      const d = ops[0]!;
      const sv = ops[1]!;
      if (d.kind === OK.XMM) {
        const D = d.reg * 4;
        const load =
          sv.kind === OK.XMM
            ? `const lo = c.x32[${sv.reg * 4}], hi = c.x32[${sv.reg * 4 + 1}];`
            : 'const lo = m.rd64(a), hi = m.hi;';
        return `${mark}{ ${eaCode} ${load} const x = c.x32; x[${D}] = lo; x[${D + 1}] = hi; x[${D + 2}] = 0; x[${D + 3}] = 0; }`;
      }
      const S = sv.reg * 4;
      return `${mark}{ ${eaCode} m.wr64(a, c.x32[${S}], c.x32[${S + 1}]); if (m.smc) { m.smc = false; c.rip = base + NEXT; return done + K1; } }`;
    }
    case 'fadd':
    case 'fsub':
    case 'fmul':
    case 'fdiv': {
      // Scalar SSE2/SSE arithmetic: IEEE double (and fround for single) is exact; a NaN result goes through
      // the handler, which applies the SSE NaN rules (inputs are untouched until the write).
      const cc = row.cc!;
      if (!(cc & 0x10)) return undefined;
      const w = cc & 0xf;
      const d = ops[0]!;
      const sv = ops[1]!;
      const op = sem === 'fadd' ? '+' : sem === 'fsub' ? '-' : sem === 'fmul' ? '*' : '/';
      const lane = w === 8 ? `c.xf64[${d.reg * 2}]` : `c.xf32[${d.reg * 4}]`;
      const load =
        sv.kind === OK.XMM
          ? `const b = ${w === 8 ? `c.xf64[${sv.reg * 2}]` : `c.xf32[${sv.reg * 4}]`};`
          : w === 8
            ? 'X.I32[0] = m.rd64(a); X.I32[1] = m.hi; const b = X.F64[0];'
            : 'X.I32[0] = m.rd32(a); const b = X.F32[0];';
      const res = w === 8 ? `${lane} ${op} b` : `Math.fround(${lane} ${op} b)`;
      return `${mark}{ ${eaCode} ${load} const z = ${res}; if (z === z) ${lane} = z; else { c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); } }`;
    }
    case 'fmin':
    case 'fmax': {
      // MINSD/MAXSD/MINSS/MAXSS: keep the destination only when it is strictly smaller (larger); otherwise the
      // source's bits, NaNs and signed zeros included (SDM "MINSD").
      const cc = row.cc!;
      if (!(cc & 0x10)) return undefined;
      const w = cc & 0xf;
      const d = ops[0]!;
      const sv = ops[1]!;
      const cmp = sem === 'fmax' ? '>' : '<';
      const lane = w === 8 ? `c.xf64[${d.reg * 2}]` : `c.xf32[${d.reg * 4}]`;
      const D = d.reg * 4;
      if (sv.kind === OK.XMM) {
        const S = sv.reg * 4;
        const bv = w === 8 ? `c.xf64[${sv.reg * 2}]` : `c.xf32[${S}]`;
        const copy = w === 8 ? `x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}];` : `x[${D}] = x[${S}];`;
        return `{ const x = c.x32; if (!(${lane} ${cmp} ${bv})) { ${copy} } }`;
      }
      const load =
        w === 8
          ? 'X.I32[0] = m.rd64(a); X.I32[1] = m.hi; const b = X.F64[0];'
          : 'X.I32[0] = m.rd32(a); const b = X.F32[0];';
      const copy = w === 8 ? `x[${D}] = X.I32[0]; x[${D + 1}] = X.I32[1];` : `x[${D}] = X.I32[0];`;
      return `${mark}{ ${eaCode} ${load} const x = c.x32; if (!(${lane} ${cmp} b)) { ${copy} } }`;
    }
    case 'movsd': {
      const d = ops[0]!;
      const sv = ops[1]!;
      if (d.kind === OK.XMM && sv.kind === OK.XMM) {
        return `{ const x = c.x32; x[${d.reg * 4}] = x[${sv.reg * 4}]; x[${d.reg * 4 + 1}] = x[${sv.reg * 4 + 1}]; }`;
      }
      if (d.kind === OK.XMM) {
        const D = d.reg * 4;
        return `${mark}{ ${eaCode} const lo = m.rd64(a), hi = m.hi, x = c.x32; x[${D}] = lo; x[${D + 1}] = hi; x[${D + 2}] = 0; x[${D + 3}] = 0; }`;
      }
      const S = sv.reg * 4;
      return `${mark}{ ${eaCode} m.wr64(a, c.x32[${S}], c.x32[${S + 1}]); if (m.smc) { m.smc = false; c.rip = base + NEXT; return done + K1; } }`;
    }
    case 'comis': {
      // ZF,PF,CF = 111 unordered, 000 greater, 001 less, 100 equal; OF, SF, AF cleared (non-lazy).
      const w = row.cc! & 0xf;
      const d = ops[0]!;
      const sv = ops[1]!;
      const x = w === 8 ? `c.xf64[${d.reg * 2}]` : `c.xf32[${d.reg * 4}]`;
      const load =
        sv.kind === OK.XMM
          ? `const b = ${w === 8 ? `c.xf64[${sv.reg * 2}]` : `c.xf32[${sv.reg * 4}]`};`
          : w === 8
            ? 'X.I32[0] = m.rd64(a); X.I32[1] = m.hi; const b = X.F64[0];'
            : 'X.I32[0] = m.rd32(a); const b = X.F32[0];';
      return `${mark}{ ${eaCode} ${load} const x = ${x}; c.flags = (c.flags & -2262) | (x !== x || b !== b ? 69 : x < b ? 1 : x === b ? 64 : 0); c.lazy = 0; }`;
    }
    case 'cvtsi2f': {
      if (row.cc !== 8) return undefined;
      const ld = emitLoad(i, 1, 'v', 'vh');
      if (!ld) return undefined;
      const val = ops[1]!.size === 8 ? 'vh * 4294967296 + (v >>> 0)' : 'v';
      return `${mark}{ ${eaCode} ${ld} c.xf64[${ops[0]!.reg * 2}] = ${val}; }`;
    }
    case 'cvtf2si': {
      // CVTTSD2SI in range inline; out-of-range and NaN (integer indefinite) through the handler.
      if (row.cc !== (8 | 0x10)) return undefined;
      const d = ops[0]!;
      const sv = ops[1]!;
      const load =
        sv.kind === OK.XMM
          ? `const b = c.xf64[${sv.reg * 2}];`
          : 'X.I32[0] = m.rd64(a); X.I32[1] = m.hi; const b = X.F64[0];';
      const lim = d.size === 8 ? '9007199254740992' : '2147483648';
      const wr =
        d.size === 8
          ? `const lo = t % 4294967296; r[${2 * d.reg}] = lo | 0; r[${2 * d.reg + 1}] = ((t - lo) / 4294967296 - (lo < 0 ? 1 : 0)) | 0;`
          : `r[${2 * d.reg}] = t | 0; r[${2 * d.reg + 1}] = 0;`;
      return `${mark}{ ${eaCode} ${load} const t = Math.trunc(b); if (t > -${lim} && t < ${lim}) { ${wr} } else { c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); } }`;
    }
    case 'setcc': {
      const stc = emitStore(i, 0, 'v', '0');
      if (!stc) return undefined;
      const smc =
        ops[0]!.kind === OK.MEM ? ' if (m.smc) { m.smc = false; c.rip = base + NEXT; return done + K1; }' : '';
      return `${mark}{ ${eaCode} const v = ${emitCond(row.cc!)} ? 1 : 0; ${stc}${smc} }`;
    }
    case 'cmov': {
      const d = ops[0]!;
      if (d.size !== 4 && d.size !== 8) return undefined;
      const ld = emitLoad(i, 1, 'v', 'vh');
      if (!ld) return undefined;
      const R = 2 * d.reg;
      // The source is read whatever the condition; a 32-bit CMOVcc zero-extends even when false.
      return `${mark}{ ${eaCode} ${ld} if (${emitCond(row.cc!)}) { r[${R}] = v; r[${R + 1}] = ${d.size === 8 ? 'vh' : '0'}; } ${d.size === 4 ? `else r[${R + 1}] = 0;` : ''} }`;
    }
    case 'ret': {
      const extra = ops.length ? i.imm & 0xffff : 0;
      // Read the return address, check it, then move RSP (the handler's order); odd cases use the handler.
      return `c.blk = ${k}; { const sp = r[9] * 4294967296 + (r[8] >>> 0); if (sp < -${CANON} || sp >= ${CANON - 8}) { c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); c.rip = c.nextRip; return done + ${k + 1}; } const lo = m.rd64(sp), t = m.hi * 4294967296 + (lo >>> 0); if (t < -${CANON} || t >= ${CANON}) { c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); } const n = sp + ${8 + extra}; const nl = n % 4294967296; r[8] = nl | 0; r[9] = ((n - nl) / 4294967296 - (nl < 0 ? 1 : 0)) | 0; c.rip = t; return done + ${k + 1}; }`;
    }
    case 'imul2':
    case 'imul3': {
      // 32-bit register forms: Math.imul and an exact overflow test; flags as mulFlags() (SF, PF from the low
      // half, ZF = AF = 0, CF = OF = overflow), written non-lazily.
      const d = ops[0]!;
      if (d.size !== 4) return undefined;
      const lx = emitLoad(i, sem === 'imul2' ? 0 : 1, 'x', 'xh');
      const ly = emitLoad(i, sem === 'imul2' ? 1 : 2, 'y', 'yh');
      if (!lx || !ly) return undefined;
      const fl = deadFlags
        ? ''
        : 'c.flags = (c.flags & -2262) | (z * 1 !== x * y ? 2049 : 0) | (z < 0 ? 128 : 0) | X.PARITY[z & 255]; c.lazy = 0;';
      return `${mark}{ ${eaCode} ${lx} ${ly} const z = Math.imul(x, y); r[${2 * d.reg}] = z; r[${2 * d.reg + 1}] = 0; ${fl} }`;
    }
    case 'call': {
      const t = next + i.imm;
      return `c.blk = ${k}; { const t = base + ${t}; if (t < -${CANON} || t >= ${CANON}) { c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); } const ret = base + NEXT; X.push(c, 8, ret % 4294967296 | 0, Math.floor(ret / 4294967296) | 0); c.rip = t; return done + ${k + 1}; }`;
    }
    case 'incdec': {
      const d = ops[0]!;
      if (d.kind !== OK.REG || (d.size !== 4 && d.size !== 8)) return undefined;
      const dec = row.cc === 1;
      const lx = emitLoad(i, 0, 'x', 'xh')!;
      const cf = '((c.lazy ? c.laux : c.flags) & 1)';
      if (d.size === 4) {
        return `{ ${lx} const cf = ${cf}; const z = (x ${dec ? '-' : '+'} 1) | 0; r[${2 * d.reg}] = z; r[${2 * d.reg + 1}] = 0; c.lres = z; c.lhi = 0; c.lsize = 4; c.laux = cf | ((x ^ 1 ^ z) & 16) | (${dec ? '((x ^ 1) & (x ^ z))' : '((x ^ z) & (1 ^ z))'} < 0 ? 2048 : 0); c.lazy = 1; }`;
      }
      return `{ ${lx} const cf = ${cf}; const z = X.${dec ? 'sub' : 'add'}(c, 8, x, xh, 1, 0, 0), zh = c.hi; c.laux = (c.laux & -2) | cf; r[${2 * d.reg}] = z; r[${2 * d.reg + 1}] = zh; }`;
    }
    case 'lea': {
      const d = ops[0]!;
      if (i.asize !== 8 || i.seg !== SEG_NONE) return undefined;
      if (i.ripRel) {
        return `{ const v = base + ${next + i.disp}; r[${2 * d.reg}] = v % 4294967296 | 0; ${d.size === 8 ? `r[${2 * d.reg + 1}] = Math.floor(v / 4294967296) | 0;` : d.size === 4 ? `r[${2 * d.reg + 1}] = 0;` : ''} }`;
      }
      if (d.size === 4 || d.size === 2) {
        const terms: string[] = [];
        if (i.base >= 0) terms.push(`r[${2 * i.base}]`);
        if (i.index >= 0) terms.push(i.scale ? `(r[${2 * i.index}] << ${i.scale})` : `r[${2 * i.index}]`);
        terms.push(String(i.disp | 0));
        const v = `(${terms.join(' + ')}) | 0`;
        return d.size === 4
          ? `{ r[${2 * d.reg}] = ${v}; r[${2 * d.reg + 1}] = 0; }`
          : `{ r[${2 * d.reg}] = (r[${2 * d.reg}] & -65536) | ((${v}) & 65535); }`;
      }
      // 64-bit: exact in doubles when every register is below 2^52 in magnitude (else the handler).
      const guards: string[] = [];
      const terms: string[] = [];
      if (i.base >= 0) {
        guards.push(`r[${2 * i.base + 1}]`);
        terms.push(regNum(i.base));
      }
      if (i.index >= 0) {
        guards.push(`r[${2 * i.index + 1}]`);
        terms.push(`${regNum(i.index)} * ${1 << i.scale}`);
      }
      terms.push(String(i.disp));
      const g = guards.map((h) => `${h} > 1048575 || ${h} < -1048576`).join(' || ');
      return `{ const v = ${g ? `${g} ? NaN : ` : ''}${terms.join(' + ')}; if (!(v > -9007199254740992 && v < 9007199254740992)) { c.nextRip = base + ${next}; I[${k}].exec(c, I[${k}]); } else { const lo = v % 4294967296; r[${2 * d.reg}] = lo | 0; r[${2 * d.reg + 1}] = ((v - lo) / 4294967296 - (lo < 0 ? 1 : 0)) | 0; } }`;
    }
    case 'push': {
      if (i.opsize !== 8) return undefined;
      const ld = emitLoad(i, 0, 'v', 'vh');
      if (!ld) return undefined;
      return `c.blk = ${k}; { ${eaCode} ${ld} X.push(c, 8, v, ${ops[0]!.kind === OK.IMM ? i.immHi | 0 : 'vh'}); if (m.smc) { m.smc = false; c.rip = base + NEXT; return done + K1; } }`;
    }
    case 'pop': {
      const d = ops[0]!;
      if (i.opsize !== 8 || d.kind !== OK.REG) return undefined;
      return `c.blk = ${k}; { const sp = r[9] * 4294967296 + (r[8] >>> 0); if (sp < -${CANON} || sp >= ${CANON}) { c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); } else { const lo = m.rd64(sp), hi = m.hi; const n = sp + 8; const nl = n % 4294967296; r[8] = nl | 0; r[9] = ((n - nl) / 4294967296 - (nl < 0 ? 1 : 0)) | 0; r[${2 * d.reg}] = lo; r[${2 * d.reg + 1}] = hi; } }`;
    }
    case 'movx':
    case 'movxa': {
      // 128-bit moves: register copies inline; loads and stores through the MMU (alignment per 'movxa').
      const d = ops[0]!;
      const sv = ops[1]!;
      const aligned = sem === 'movxa';
      if (d.kind === OK.XMM && sv.kind === OK.XMM) {
        const D = d.reg * 4;
        const S = sv.reg * 4;
        return `{ const x = c.x32; x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}]; x[${D + 2}] = x[${S + 2}]; x[${D + 3}] = x[${S + 3}]; }`;
      }
      const al = aligned ? `if (a % 16 !== 0) { c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); }` : '';
      if (d.kind === OK.XMM) {
        const D = d.reg * 4;
        return `${mark}{ ${eaCode} ${al} const l0 = m.rd64(a), h0 = m.hi, l1 = m.rd64(a + 8), h1 = m.hi; const x = c.x32; x[${D}] = l0; x[${D + 1}] = h0; x[${D + 2}] = l1; x[${D + 3}] = h1; }`;
      }
      const S = sv.reg * 4;
      return `${mark}{ ${eaCode} ${al} const x = c.x32; m.probeW(a, 16); m.wr64(a, x[${S}], x[${S + 1}]); m.wr64(a + 8, x[${S + 2}], x[${S + 3}]); if (m.smc) { m.smc = false; c.rip = base + NEXT; return done + K1; } }`;
    }
    case 'plogic':
    case 'padd':
    case 'psub': {
      // Register-register forms on dwords (and whole-register logic) inline.
      const d = ops[0]!;
      const sv = ops[1]!;
      if (sv.kind !== OK.XMM) return undefined;
      if (sem !== 'plogic' && row.cc !== 4) return undefined;
      const D = d.reg * 4;
      const S = sv.reg * 4;
      const e =
        sem === 'padd'
          ? (j: number) => `(x[${D + j}] + x[${S + j}]) | 0`
          : sem === 'psub'
            ? (j: number) => `(x[${D + j}] - x[${S + j}]) | 0`
            : row.cc === 0
              ? (j: number) => `x[${D + j}] & x[${S + j}]`
              : row.cc === 1
                ? (j: number) => `~x[${D + j}] & x[${S + j}]`
                : row.cc === 2
                  ? (j: number) => `x[${D + j}] | x[${S + j}]`
                  : (j: number) => `x[${D + j}] ^ x[${S + j}]`;
      return `{ const x = c.x32; const t0 = ${e(0)}, t1 = ${e(1)}, t2 = ${e(2)}, t3 = ${e(3)}; x[${D}] = t0; x[${D + 1}] = t1; x[${D + 2}] = t2; x[${D + 3}] = t3; }`;
    }
    case 'pshiftI': {
      // Dword shifts by an immediate.
      const cc = row.cc!;
      if ((cc & 0xf) !== 4) return undefined;
      const D = ops[0]!.reg * 4;
      const n = i.imm & 0xff;
      const arith = (cc & 0x10) !== 0;
      const left = (cc & 0x20) !== 0;
      const e = (j: number) =>
        n > 31
          ? arith
            ? `x[${D + j}] >> 31`
            : '0'
          : left
            ? `x[${D + j}] << ${n}`
            : arith
              ? `x[${D + j}] >> ${n}`
              : `(x[${D + j}] >>> ${n}) | 0`;
      return `{ const x = c.x32; x[${D}] = ${e(0)}; x[${D + 1}] = ${e(1)}; x[${D + 2}] = ${e(2)}; x[${D + 3}] = ${e(3)}; }`;
    }
    case 'shift': {
      // Immediate counts on 32-bit registers inline (the flag rules of alu.ts shift()); the rest call it.
      const d = ops[0]!;
      const cnt = ops[1]!;
      if (d.kind !== OK.REG || cnt.kind !== OK.IMM) return undefined;
      const kk = row.cc!;
      const n = i.imm & (d.size === 8 ? 63 : 31);
      const R = 2 * d.reg;
      if (n === 0 || d.size !== 4 || kk === 2 || kk === 3) {
        if (d.size !== 8 && d.size !== 4) return undefined;
        return `{ const z = X.shift(c, ${kk}, ${d.size}, r[${R}], r[${R + 1}], ${i.imm & 0xff}, false); r[${R}] = z; r[${R + 1}] = ${d.size === 8 ? 'c.hi' : '0'}; }`;
      }
      // When a later instruction of the block overwrites every flag first, the flag updates are skipped.
      const setCf = (cf: string) =>
        deadFlags ? '' : `if (c.lazy) c.laux = (c.laux & -2) | ${cf}; else c.flags = (c.flags & -2) | ${cf};`;
      const setCfOf = (cf: string, of: string) =>
        deadFlags
          ? ''
          : `{ const f = ${cf} | (${of} ? 2048 : 0); if (c.lazy) c.laux = (c.laux & -2050) | f; else c.flags = (c.flags & -2050) | f; }`;
      const lazy = (res: string, aux: string) =>
        deadFlags ? '' : `c.lres = ${res}; c.lhi = 0; c.lsize = 4; c.laux = ${aux}; c.lazy = 1;`;
      switch (kk) {
        case 0:
          return `{ const x = r[${R}]; const z = (x << ${n}) | (x >>> ${32 - n}); r[${R}] = z; r[${R + 1}] = 0; ${n === 1 ? setCfOf('(z & 1)', '((x ^ (x << 1)) < 0)') : setCf('(z & 1)')} }`;
        case 1:
          return `{ const x = r[${R}]; const z = (x >>> ${n}) | (x << ${32 - n}); r[${R}] = z; r[${R + 1}] = 0; ${n === 1 ? setCfOf('(z >>> 31)', '((x ^ (x << 31)) < 0)') : setCf('(z >>> 31)')} }`;
        case 4:
        case 6:
          return `{ const x = r[${R}]; const z = x << ${n}; r[${R}] = z; r[${R + 1}] = 0; ${lazy('z', `((x >>> ${32 - n}) & 1) | ((x ^ (x << 1)) < 0 ? 2048 : 0)`)} }`;
        case 5:
          return `{ const x = r[${R}]; const z = (x >>> ${n}) | 0; r[${R}] = z; r[${R + 1}] = 0; ${lazy('z', `((x >>> ${n - 1}) & 1) | (x < 0 ? 2048 : 0)`)} }`;
        default:
          return `{ const x = r[${R}]; const z = x >> ${n}; r[${R}] = z; r[${R + 1}] = 0; ${lazy('z', `(x >> ${n - 1}) & 1`)} }`;
      }
    }
    case 'jcc': {
      const t = next + i.imm;
      if (t === 0 && loop) {
        // A branch back to the block start: keep iterating inside this function while the budget allows.
        return `if (${emitCond(row.cc!)}) { done += ${k + 1}; if (rem - done >= ${loopLen}) { c.blkBase = done; continue; } c.rip = base; return done; }`;
      }
      return `if (${emitCond(row.cc!)}) { const t = base + ${t}; if (t < -${CANON} || t >= ${CANON}) { c.blk = ${k}; c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); } c.rip = t; return done + ${k + 1}; }`;
    }
    case 'jmp': {
      const t = next + i.imm;
      if (t === 0 && loop) {
        return `{ done += ${k + 1}; if (rem - done >= ${loopLen}) { c.blkBase = done; continue; } c.rip = base; return done; }`;
      }
      return `{ const t = base + ${t}; if (t < -${CANON} || t >= ${CANON}) { c.blk = ${k}; c.nextRip = base + NEXT; I[${k}].exec(c, I[${k}]); } c.rip = t; return done + ${k + 1}; }`;
    }
    default:
      return undefined;
  }
}

/** Byte offset of each instruction of the block from its start, plus the end offset. */
export function blockOffsets(insns: readonly Insn[]): number[] {
  const offs = [0];
  for (const i of insns) offs.push(offs[offs.length - 1]! + i.len);
  return offs;
}

/**
 * Compiles a block (the whole decoded block; REP-string and stop instructions go through their handlers).
 * A block ending in a branch to its own start becomes a loop that runs while `rem` (the remaining budget)
 * allows another full iteration; `c.blkBase` counts the instructions of completed iterations.
 */
export function compileBlock(insns: readonly Insn[]): BlockFn {
  const offs = blockOffsets(insns);
  // Any Jcc/JMP back to the block start makes the block a loop.
  const loop = insns.some((i, k) => (i.row?.sem === 'jcc' || i.row?.sem === 'jmp') && offs[k + 1]! + i.imm === 0);
  loopLen = insns.length;
  const parts: string[] = ['const r = c.r, m = c.m, base = c.rip; let done = 0; c.blkBase = 0;'];
  if (loop) parts.push('for (;;) {');
  knownFlags = 0;
  const dead = deadFlagSet(insns);
  insns.forEach((i, k) => {
    const off = offs[k]!;
    const next = offs[k + 1]!;
    deadFlags = dead[k]!;
    const inline = emitInline(i, k, next, loop);
    if (inline !== undefined) {
      parts.push(inline.replaceAll('NEXT', String(next)).replaceAll('K1', String(k + 1)));
      const eff = flagEffect(i);
      if (eff !== 'keep') knownFlags = eff === 4 || eff === 8 || eff === -1 ? eff : 0;
      return;
    }
    knownFlags = 0;
    // Fallback: the interpreter handler, with RIP and next-RIP as run() would set them.
    const branchy = !i.row || i.row.flags & (F.BRANCH | F.REP);
    parts.push(
      `c.blk = ${k}; c.rip = base + ${off}; c.nextRip = base + ${next}; I[${k}].exec(c, I[${k}]);` +
        (branchy ? ` if (c.nextRip !== base + ${next}) { c.rip = c.nextRip; return done + ${k + 1}; }` : '') +
        ` if (m.smc) { m.smc = false; c.rip = base + ${next}; return done + ${k + 1}; }`,
    );
  });
  parts.push(`c.rip = base + ${offs[insns.length]}; return done + ${insns.length};`);
  if (loop) parts.push('}');
  // Generating a block function is the point of the JIT (CpuOptions.jit turns it off where eval is barred).
  return new Function('c', 'I', 'X', 'rem', parts.join('\n')) as BlockFn;
}
