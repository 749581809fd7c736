/**
 * Handlers for the general-purpose integer instructions (SDM Vol. 2, one section per mnemonic). Each handler
 * reads its operands (which may fault), computes, then writes: a fault therefore leaves no architectural
 * side effect. Memory destinations of read-modify-write instructions are probed for writability first.
 */

import { de, gp, ud } from '../fault';
import {
  add,
  alu,
  ctz32,
  divs,
  divu,
  incdec,
  logic,
  mulHiOf,
  muls64,
  mulu32,
  mulu64,
  popcnt32,
  prod,
  quo,
  setCf,
  shift,
  sub,
} from './alu';
import {
  AF,
  branch,
  CF,
  type Cpu,
  checkCanon,
  cond,
  DF,
  ea,
  getReg,
  getZF,
  MASK,
  materialize,
  OF,
  PF,
  POPF_USER,
  pop,
  push,
  readMem,
  rsp,
  SF,
  SIGN,
  setLazy,
  setNum,
  setReg,
  TF,
  TWO32,
  writeMem,
  ZF,
} from './cpu';
import { type Insn, OK, type Operand, PFX } from './decoder';

/** An instruction handler: reads its operands, may throw a CpuFault or StopSignal, then writes results. */
export type Handler = (c: Cpu, i: Insn) => void;

/** Reads operand `o` (register, memory at `a`, or immediate), masked to its size. */
export function ld(c: Cpu, i: Insn, o: Operand, a: number): number {
  switch (o.kind) {
    case OK.REG:
      return getReg(c, o.reg, o.size);
    case OK.MEM:
      return readMem(c, a, o.size);
    default:
      c.hi = i.immHi;
      return o.size === 1 ? i.imm & 0xff : o.size === 2 ? i.imm & 0xffff : i.imm | 0;
  }
}

/** Writes operand `o`. */
export function st(c: Cpu, o: Operand, a: number, lo: number, hi: number): void {
  if (o.kind === OK.REG) setReg(c, o.reg, o.size, lo, hi);
  else writeMem(c, a, o.size, lo, hi);
}

/** Sign-extends a `size`-byte value to int32 (sizes 1, 2, 4). */
function sx(v: number, size: number): number {
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}

const memAddr = (c: Cpu, i: Insn): number => (i.hasMem ? ea(c, i) : 0);

// ---- data movement -------------------------------------------------------------------------------------------

const mov: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  const v = ld(c, i, i.ops[1]!, a);
  st(c, d, a, v, c.hi);
};

const movMoffs: Handler = mov;

const movzx: Handler = (c, i) => {
  const a = memAddr(c, i);
  const v = ld(c, i, i.ops[1]!, a);
  st(c, i.ops[0]!, a, v, 0);
};

const movsx: Handler = (c, i) => {
  const a = memAddr(c, i);
  const s = i.ops[1]!;
  const v = sx(ld(c, i, s, a), s.size);
  const d = i.ops[0]!;
  st(c, d, a, d.size === 2 ? v & 0xffff : v, v < 0 ? -1 : 0);
};

const movsxd: Handler = (c, i) => {
  const a = memAddr(c, i);
  const v = ld(c, i, i.ops[1]!, a);
  const d = i.ops[0]!;
  st(c, d, a, d.size === 2 ? v & 0xffff : v, v < 0 ? -1 : 0);
};

/** Linux's flat user selectors (arch/x86/include/asm/segment.h: __USER_CS = 0x33, __USER_DS = 0x2b). */
const SELECTORS = [0x2b, 0x33, 0x2b, 0x2b, 0, 0];
const movFromSeg: Handler = (c, i) => {
  const s = i.ops[1]!.reg;
  if (s > 5) throw ud();
  const a = memAddr(c, i);
  const d = i.ops[0]!;
  // A register destination of 32/64 bits is zero-extended; memory always gets 16 bits (SDM "MOV").
  st(c, d, a, SELECTORS[s]!, 0);
};

/** LEA computes the address without segmentation or canonical checks, truncated to the operand size. */
const lea: Handler = (c, i) => {
  const d = i.ops[0]!;
  const r = c.r;
  let a = i.ripRel ? c.nextRip + i.disp : i.disp;
  let exact = true;
  if (!i.ripRel) {
    if (i.base >= 0) {
      const h = r[i.base * 2 + 1]!;
      if (h > 0xfffff || h < -0x100000) exact = false;
      a += h * TWO32 + (r[i.base * 2]! >>> 0);
    }
    if (i.index >= 0) {
      const h = r[i.index * 2 + 1]!;
      if (h > 0xfffff || h < -0x100000) exact = false;
      a += (h * TWO32 + (r[i.index * 2]! >>> 0)) * (1 << i.scale);
    }
  }
  if (!exact || a >= 2 ** 53 || a <= -(2 ** 53)) {
    let b = BigInt(i.disp) + (i.ripRel ? BigInt(c.nextRip) : 0n);
    if (!i.ripRel && i.base >= 0) b += c.getReg64(i.base);
    if (!i.ripRel && i.index >= 0) b += c.getReg64(i.index) << BigInt(i.scale);
    const u = BigInt.asUintN(64, b);
    setReg(c, d.reg, d.size, Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0);
    return;
  }
  if (i.asize === 4) a = ((a % TWO32) + TWO32) % TWO32;
  const lo = (a % TWO32) | 0;
  const hi = Math.floor(a / TWO32) | 0;
  setReg(c, d.reg, d.size, lo, hi);
};

const xchg: Handler = (c, i) => {
  const x = i.ops[0]!;
  const y = i.ops[1]!;
  const a = memAddr(c, i);
  if (x.kind === OK.MEM) c.m.probeW(a, x.size);
  const vx = ld(c, i, x, a);
  const hx = c.hi;
  const vy = ld(c, i, y, a);
  const hy = c.hi;
  st(c, x, a, vy, hy);
  st(c, y, a, vx, hx);
};

const cmpxchg: Handler = (c, i) => {
  const d = i.ops[0]!;
  const s = i.ops[1]!;
  const size = d.size;
  const a = memAddr(c, i);
  // The destination is always written (with its old value on failure) — SDM "CMPXCHG": probe it first.
  if (d.kind === OK.MEM) c.m.probeW(a, size);
  const v = ld(c, i, d, a);
  const vh = c.hi;
  const acc = getReg(c, 0, size);
  const acch = c.hi;
  sub(c, size, acc, acch, v, vh, 0);
  if (getZF(c)) {
    const n = ld(c, i, s, a);
    st(c, d, a, n, c.hi);
  } else {
    if (d.kind === OK.MEM) writeMem(c, a, size, v, vh);
    setReg(c, 0, size, v, vh);
  }
};

const cmpxchg8b: Handler = (c, i) => {
  const a = ea(c, i);
  const wide = (i.rex & 8) !== 0; // CMPXCHG16B with REX.W: the operand must be 16-byte aligned (#GP(0))
  const n = wide ? 16 : 8;
  if (wide && a % 16 !== 0) throw gp(0);
  c.m.probeW(a, n);
  const r = c.r;
  materialize(c);
  if (!wide) {
    const lo = c.m.rd32(a);
    const hi = c.m.rd32(a + 4);
    if (lo === r[0] && hi === r[4]) {
      c.m.wr32(a, r[6]!);
      c.m.wr32(a + 4, r[2]!);
      c.flags |= ZF;
    } else {
      c.m.wr32(a, lo);
      c.m.wr32(a + 4, hi);
      setReg(c, 0, 4, lo, 0);
      setReg(c, 2, 4, hi, 0);
      c.flags &= ~ZF;
    }
    return;
  }
  const l0 = c.m.rd64(a);
  const l1 = c.m.hi;
  const h0 = c.m.rd64(a + 8);
  const h1 = c.m.hi;
  if (l0 === r[0] && l1 === r[1] && h0 === r[4] && h1 === r[5]) {
    c.m.wr64(a, r[6]!, r[7]!);
    c.m.wr64(a + 8, r[2]!, r[3]!);
    c.flags |= ZF;
  } else {
    c.m.wr64(a, l0, l1);
    c.m.wr64(a + 8, h0, h1);
    r[0] = l0;
    r[1] = l1;
    r[4] = h0;
    r[5] = h1;
    c.flags &= ~ZF;
  }
};

const xadd: Handler = (c, i) => {
  const d = i.ops[0]!;
  const s = i.ops[1]!;
  const a = memAddr(c, i);
  if (d.kind === OK.MEM) c.m.probeW(a, d.size);
  const v = ld(c, i, d, a);
  const vh = c.hi;
  const w = ld(c, i, s, a);
  const wh = c.hi;
  const r = add(c, d.size, v, vh, w, wh, 0);
  const rh = c.hi;
  // "TEMP ← SRC + DEST; SRC ← DEST; DEST ← TEMP" — with the same register, DEST wins.
  st(c, s, a, v, vh);
  st(c, d, a, r, rh);
};

/** The bytes of a 32-bit value reversed. */
function b32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

const bswap: Handler = (c, i) => {
  const o = i.ops[0]!;
  const r = c.r;
  const k = o.reg * 2;
  if (o.size === 8) {
    const lo = r[k]!;
    r[k] = b32(r[k + 1]!);
    r[k + 1] = b32(lo);
  } else if (o.size === 4) {
    r[k] = b32(r[k]!);
    r[k + 1] = 0;
  } else {
    // BSWAP with a 16-bit operand is undefined; Intel processors zero the low word.
    r[k] = r[k]! & ~0xffff;
  }
};

const movbe: Handler = (c, i) => {
  const d = i.ops[0]!;
  const s = i.ops[1]!;
  const a = ea(c, i);
  const v = ld(c, i, s, a);
  const vh = c.hi;
  if (d.size === 8) st(c, d, a, b32(vh), b32(v));
  else if (d.size === 4) st(c, d, a, b32(v), 0);
  else st(c, d, a, ((v & 0xff) << 8) | ((v >>> 8) & 0xff), 0);
};

const cbw: Handler = (c, i) => {
  const r = c.r;
  if (i.opsize === 8) {
    r[1] = r[0]! >> 31; // CDQE
  } else if (i.opsize === 4) {
    r[0] = (r[0]! << 16) >> 16; // CWDE
    r[1] = 0;
  } else r[0] = (r[0]! & ~0xffff) | (((r[0]! << 24) >> 24) & 0xffff); // CBW
};

const cwd: Handler = (c, i) => {
  const r = c.r;
  if (i.opsize === 8) {
    const s = r[1]! >> 31; // CQO
    r[4] = s;
    r[5] = s;
  } else if (i.opsize === 4) {
    r[4] = r[0]! >> 31; // CDQ
    r[5] = 0;
  } else r[4] = (r[4]! & ~0xffff) | (((r[0]! << 16) >> 31) & 0xffff); // CWD
};

const xlat: Handler = (c, i) => {
  let a = c.getRegNum(3) + (c.r[0]! & 0xff);
  if (i.asize === 4) a = (a % TWO32) >>> 0;
  if (i.seg === 4) a += c.fsBase;
  else if (i.seg === 5) a += c.gsBase;
  const v = c.m.rd8(checkCanon(a, false));
  setReg(c, 0, 1, v, 0);
};

// ---- arithmetic ------------------------------------------------------------------------------------------------

const aluH: Handler = (c, i) => {
  const d = i.ops[0]!;
  const k = i.row!.cc!;
  const a = memAddr(c, i);
  if (d.kind === OK.MEM && k !== 7) c.m.probeW(a, d.size);
  const x = ld(c, i, d, a);
  const xh = c.hi;
  const y = ld(c, i, i.ops[1]!, a);
  const r = alu(c, k, d.size, x, xh, y, c.hi);
  if (k !== 7) st(c, d, a, r, c.hi);
};

const test: Handler = (c, i) => {
  const a = memAddr(c, i);
  const d = i.ops[0]!;
  const x = ld(c, i, d, a);
  const xh = c.hi;
  const y = ld(c, i, i.ops[1]!, a);
  logic(c, d.size, x & y, xh & c.hi);
};

const incdecH: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  if (d.kind === OK.MEM) c.m.probeW(a, d.size);
  const x = ld(c, i, d, a);
  const r = incdec(c, d.size, x, c.hi, i.row!.cc === 1);
  st(c, d, a, r, c.hi);
};

const not: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  if (d.kind === OK.MEM) c.m.probeW(a, d.size);
  const x = ld(c, i, d, a);
  st(c, d, a, ~x & (d.size >= 4 ? -1 : MASK[d.size]!), ~c.hi);
};

const neg: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  if (d.kind === OK.MEM) c.m.probeW(a, d.size);
  const x = ld(c, i, d, a);
  const r = sub(c, d.size, 0, 0, x, c.hi, 0);
  st(c, d, a, r, c.hi);
};

/**
 * Flags after MUL/IMUL: CF = OF = "upper half significant"; SF, ZF, AF, PF are undefined. Intel sets SF from
 * the low half's sign, PF from its low byte, and clears ZF and AF (measured in test/hw/cpu/flags.test.ts).
 */
function mulFlags(c: Cpu, size: number, lo: number, hi: number, overflow: boolean): void {
  const sign = size === 8 ? hi < 0 : (lo & SIGN[size]!) !== 0;
  materialize(c);
  c.flags =
    (c.flags & ~(CF | PF | AF | ZF | SF | OF)) | (overflow ? CF | OF : 0) | (sign ? SF : 0) | (parity8(lo) ? PF : 0);
}

function parity8(v: number): boolean {
  let b = v & 0xff;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  return (b & 1) === 0;
}

const mul1: Handler = (c, i) => {
  const s = i.ops[0]!;
  const size = s.size;
  const a = memAddr(c, i);
  const v = ld(c, i, s, a);
  const vh = c.hi;
  const r = c.r;
  const signed = i.row!.cc === 5;
  if (size === 1) {
    const x = signed ? ((r[0]! << 24) >> 24) * ((v << 24) >> 24) : (r[0]! & 0xff) * v;
    r[0] = (r[0]! & ~0xffff) | (x & 0xffff);
    const lo = x & 0xff;
    mulFlags(c, 1, lo, 0, signed ? x !== (x << 24) >> 24 : x > 0xff);
    return;
  }
  if (size === 2) {
    const x = signed ? ((r[0]! << 16) >> 16) * ((v << 16) >> 16) : (r[0]! & 0xffff) * v;
    r[0] = (r[0]! & ~0xffff) | (x & 0xffff);
    r[4] = (r[4]! & ~0xffff) | ((x >>> 16) & 0xffff);
    mulFlags(c, 2, x & 0xffff, 0, signed ? x !== (x << 16) >> 16 : x > 0xffff);
    return;
  }
  if (size === 4) {
    const lo = mulu32(r[0]! >>> 0, v >>> 0);
    let hi = mulHiOf() | 0;
    if (signed) {
      hi = (hi - (r[0]! < 0 ? v >>> 0 : 0) - (v < 0 ? r[0]! >>> 0 : 0)) | 0;
    }
    setReg(c, 0, 4, lo, 0);
    setReg(c, 2, 4, hi, 0);
    mulFlags(c, 4, lo, 0, signed ? hi !== lo >> 31 : hi !== 0);
    return;
  }
  if (signed) muls64(r[0]!, r[1]!, v, vh);
  else mulu64(r[0]!, r[1]!, v, vh);
  r[0] = prod[0]!;
  r[1] = prod[1]!;
  r[4] = prod[2]!;
  r[5] = prod[3]!;
  const over = signed ? prod[2] !== prod[1]! >> 31 || prod[3] !== prod[1]! >> 31 : (prod[2]! | prod[3]!) !== 0;
  mulFlags(c, 8, prod[0]!, prod[1]!, over);
};

/** Truncated signed multiply (IMUL r, r/m and IMUL r, r/m, imm). */
function imulTrunc(c: Cpu, i: Insn, d: Operand, x: number, xh: number, y: number, yh: number): void {
  const size = d.size;
  if (size === 8) {
    muls64(x, xh, y, yh);
    const lo = prod[0]!;
    const hi = prod[1]!;
    const over = prod[2] !== hi >> 31 || prod[3] !== hi >> 31;
    setReg(c, d.reg, 8, lo, hi);
    mulFlags(c, 8, lo, hi, over);
    return;
  }
  const sxv = sx(x, size);
  const syv = sx(y, size);
  if (size === 4) {
    const lo = Math.imul(sxv, syv);
    const exact = sxv * syv;
    setReg(c, d.reg, 4, lo, 0);
    mulFlags(c, 4, lo, 0, exact !== lo);
    return;
  }
  const p = sxv * syv;
  const lo = p & MASK[size]!;
  setReg(c, d.reg, size, lo, 0);
  mulFlags(c, size, lo, 0, sx(lo, size) !== p);
  void i;
}

const imul2: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  const x = ld(c, i, d, a);
  const xh = c.hi;
  const y = ld(c, i, i.ops[1]!, a);
  imulTrunc(c, i, d, x, xh, y, c.hi);
};

const imul3: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  const x = ld(c, i, i.ops[1]!, a);
  const xh = c.hi;
  const y = ld(c, i, i.ops[2]!, a);
  imulTrunc(c, i, d, x, xh, y, c.hi);
};

const div: Handler = (c, i) => {
  const s = i.ops[0]!;
  const size = s.size;
  const a = memAddr(c, i);
  const v = ld(c, i, s, a);
  const vh = c.hi;
  const r = c.r;
  const signed = i.row!.cc === 7;
  // Dividend: AX, DX:AX, EDX:EAX or RDX:RAX; quotient overflow and division by zero are #DE (SDM "DIV").
  let nl: number;
  let nlh: number;
  let nh: number;
  let nhh: number;
  let dl: number;
  let dh: number;
  if (size === 8) {
    nl = r[0]!;
    nlh = r[1]!;
    nh = r[4]!;
    nhh = r[5]!;
    dl = v;
    dh = vh;
  } else {
    const w = size * 8;
    let n: number;
    if (size === 1) n = signed ? (r[0]! << 16) >> 16 : r[0]! & 0xffff;
    else if (size === 2)
      n = signed ? ((r[4]! << 16) >> 16) * 65536 + (r[0]! & 0xffff) : (r[4]! & 0xffff) * 65536 + (r[0]! & 0xffff);
    else n = signed ? r[4]! * TWO32 + (r[0]! >>> 0) : (r[4]! >>> 0) * TWO32 + (r[0]! >>> 0);
    const d = signed ? sx(v, size) : size === 4 ? v >>> 0 : v;
    if (d === 0) throw de();
    if (size === 4 && (n >= 2 ** 53 || n <= -(2 ** 53))) {
      // Dividend beyond double precision: use the 128-bit path with a 64-bit dividend.
      const ok = signed
        ? divs(r[0]!, r[4]!, r[4]! >> 31, r[4]! >> 31, d | 0, d < 0 ? -1 : 0)
        : divu(r[0]!, r[4]!, 0, 0, d >>> 0, 0);
      if (!ok) throw de();
      const q = quo[0]!;
      const qh = quo[1]!;
      if (signed ? qh !== q >> 31 : qh !== 0) throw de();
      setReg(c, 0, 4, q, 0);
      setReg(c, 2, 4, quo[2]!, 0);
      return;
    }
    const q = signed ? Math.trunc(n / d) : Math.floor(n / d);
    const rem = n - q * d;
    const lim = 2 ** (w - 1);
    if (signed ? q >= lim || q < -lim : q >= 2 * lim) throw de();
    if (size === 1) {
      r[0] = (r[0]! & ~0xffff) | (q & 0xff) | ((rem & 0xff) << 8);
    } else if (size === 2) {
      r[0] = (r[0]! & ~0xffff) | (q & 0xffff);
      r[4] = (r[4]! & ~0xffff) | (rem & 0xffff);
    } else {
      setReg(c, 0, 4, q | 0, 0);
      setReg(c, 2, 4, rem | 0, 0);
    }
    return;
  }
  const ok = signed ? divs(nl, nlh, nh, nhh, dl, dh) : divu(nl, nlh, nh, nhh, dl, dh);
  if (!ok) throw de();
  r[0] = quo[0]!;
  r[1] = quo[1]!;
  r[4] = quo[2]!;
  r[5] = quo[3]!;
};

const shiftH: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  if (d.kind === OK.MEM) c.m.probeW(a, d.size);
  const x = ld(c, i, d, a);
  const xh = c.hi;
  const cnt = i.ops[1]!;
  const n = ld(c, i, cnt, a) & 0xff;
  const masked = n & (d.size === 8 ? 63 : 31);
  const r = shift(c, i.row!.cc!, d.size, x, xh, n, cnt.kind === OK.REG);
  // A zero count leaves memory untouched; a 32-bit register is still written (upper half zeroed).
  if (masked === 0 && d.kind === OK.MEM) return;
  st(c, d, a, r, c.hi);
};

/** SHLD/SHRD (cc 0/1). Count masked to 5/6 bits; results for counts beyond 16-bit widths follow Intel. */
/** Bit k (0-63) of a 64-bit lo/hi pair. */
function bitOf(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/**
 * SHLD/SHRD on 32 and 64 bits without BigInt; count n in 1..width-1 (already masked, non-zero). Leaves the
 * result in the lazy flag fields (lres/lhi), which the caller stores.
 */
function shldNum(c: Cpu, left: boolean, size: number, x: number, xh: number, y: number, yh: number, n: number): void {
  if (size === 4) {
    const r = left ? (x << n) | (y >>> (32 - n)) : (x >>> n) | (y << (32 - n));
    const cf = left ? (x >>> (32 - n)) & 1 : (x >>> (n - 1)) & 1;
    // OF: Intel applies the 1-bit formula for every count — SHLD: MSB ^ MSB-1 of DEST; SHRD: MSB(DEST) ^ LSB(SRC).
    const of = left ? ((x ^ (x << 1)) >>> 31) & 1 : (x >>> 31) ^ (y & 1);
    setLazy(c, r | 0, 0, 4, cf | (of ? OF : 0));
    return;
  }
  let rl: number;
  let rh: number;
  if (left) {
    // (X:Y) << n, upper 64 bits.
    if (n < 32) {
      rh = (xh << n) | (x >>> (32 - n));
      rl = (x << n) | (yh >>> (32 - n));
    } else if (n === 32) {
      rh = x;
      rl = yh;
    } else {
      const s = n - 32;
      rh = (x << s) | (yh >>> (32 - s));
      rl = (yh << s) | (y >>> (32 - s));
    }
  } else if (n < 32) {
    // (Y:X) >> n, lower 64 bits.
    rl = (x >>> n) | (xh << (32 - n));
    rh = (xh >>> n) | (y << (32 - n));
  } else if (n === 32) {
    rl = xh;
    rh = y;
  } else {
    const s = n - 32;
    rl = (xh >>> s) | (y << (32 - s));
    rh = (y >>> s) | (yh << (32 - s));
  }
  const cf = left ? bitOf(x, xh, 64 - n) : bitOf(x, xh, n - 1);
  const of = left ? ((xh ^ (xh << 1)) >>> 31) & 1 : (xh >>> 31) ^ (y & 1);
  setLazy(c, rl | 0, rh | 0, 8, cf | (of ? OF : 0));
}

const shld: Handler = (c, i) => {
  const d = i.ops[0]!;
  const size = d.size;
  const a = memAddr(c, i);
  if (d.kind === OK.MEM) c.m.probeW(a, size);
  const x = ld(c, i, d, a);
  const xh = c.hi;
  const y = ld(c, i, i.ops[1]!, a);
  const yh = c.hi;
  const n = ld(c, i, i.ops[2]!, a) & (size === 8 ? 63 : 31);
  if (n === 0) {
    if (d.kind === OK.REG) st(c, d, a, x, xh);
    return;
  }
  const left = i.row!.cc === 0;
  if (size === 4 || size === 8) {
    shldNum(c, left, size, x, xh, y, yh, n);
    st(c, d, a, c.lres, c.lhi);
    return;
  }
  const w = size * 8;
  // 16-bit: a bigint concatenation covers Intel's counts above 16 (rare in compiled code).
  const X = size === 8 ? (BigInt(xh >>> 0) << 32n) | BigInt(x >>> 0) : BigInt(size === 4 ? x >>> 0 : x);
  const Y = size === 8 ? (BigInt(yh >>> 0) << 32n) | BigInt(y >>> 0) : BigInt(size === 4 ? y >>> 0 : y);
  const W = BigInt(w);
  const N = BigInt(n);
  const mask = (1n << W) - 1n;
  let R: bigint;
  let cf: bigint;
  if (left) {
    // 16-bit with a count above 16: Intel shifts the 48-bit pattern DEST:SRC:DEST.
    const cat = size === 2 ? (X << 32n) | (Y << 16n) | X : (X << W) | Y;
    const cw = size === 2 ? 48n : 2n * W;
    R = (cat >> (cw - W - N)) & mask;
    cf = (cat >> (cw - N)) & 1n;
  } else {
    const cat = size === 2 ? (X << 32n) | (Y << 16n) | X : (Y << W) | X;
    R = (cat >> N) & mask;
    cf = (cat >> (N - 1n)) & 1n;
  }
  const rl = Number(R & 0xffffffffn) | 0;
  const rh = Number(R >> 32n) | 0;
  // OF: Intel applies the 1-bit formula for every count — SHLD: MSB ^ MSB-1 of DEST; SHRD: MSB(DEST) ^ LSB(SRC).
  const sb = 1n << (W - 1n);
  const xMsb = (X & sb) !== 0n;
  const of = left ? xMsb !== ((X & (sb >> 1n)) !== 0n) : xMsb !== ((Y & 1n) !== 0n);
  const lo = size === 4 ? rl : size === 8 ? rl : rl & MASK[size]!;
  setLazy(c, lo, size === 8 ? rh : 0, size, Number(cf) | (of ? OF : 0));
  st(c, d, a, lo, rh);
};

// ---- bits ------------------------------------------------------------------------------------------------------

/** BT/BTS/BTR/BTC (cc 0-3). Memory with a register offset addresses beyond the operand (SDM "BT"). */
const bt: Handler = (c, i) => {
  const d = i.ops[0]!;
  const s = i.ops[1]!;
  const size = d.size;
  const w = size * 8;
  let a = memAddr(c, i);
  let bit: number;
  if (s.kind === OK.IMM) bit = i.imm & (w - 1);
  else {
    const off = getReg(c, s.reg, size);
    if (d.kind === OK.MEM) {
      // Signed bit offset: the address moves by whole operands.
      const offv = size === 8 ? c.hi * TWO32 + (off >>> 0) : sx(off, size);
      const q = Math.floor(offv / w);
      a = checkCanon(a + q * size, false);
      bit = offv - q * w;
    } else bit = off & (w - 1);
  }
  const k = i.row!.cc!;
  if (d.kind === OK.MEM && k !== 0) c.m.probeW(a, size);
  const v = ld(c, i, d, a);
  const vh = c.hi;
  const inHi = bit >= 32;
  const word = inHi ? vh : v;
  const m = 1 << (bit & 31);
  const cf = (word & m) !== 0 ? 1 : 0;
  setCf(c, cf);
  if (k === 0) return;
  const nw = k === 1 ? word | m : k === 2 ? word & ~m : word ^ m;
  if (inHi) st(c, d, a, v, nw);
  else st(c, d, a, size < 4 ? nw & MASK[size]! : nw, vh);
};

/** BSF/BSR (cc 0/1), TZCNT/LZCNT (cc 2/3). */
const bsf: Handler = (c, i) => {
  const d = i.ops[0]!;
  const size = d.size;
  const a = memAddr(c, i);
  const v = ld(c, i, i.ops[1]!, a);
  const vh = size === 8 ? c.hi : 0;
  const k = i.row!.cc!;
  const w = size * 8;
  const zero = v === 0 && vh === 0;
  let n: number;
  if (k === 0 || k === 2) n = v !== 0 ? ctz32(v) : size === 8 && vh !== 0 ? 32 + ctz32(vh) : w;
  else if (size === 8) n = vh !== 0 ? 63 - Math.clz32(vh) : v !== 0 ? 31 - Math.clz32(v) : -1;
  else n = v !== 0 ? 31 - Math.clz32(size === 4 ? v : v & MASK[size]!) : -1;
  if (k <= 1) {
    // BSF/BSR: ZF = (source = 0) and the destination is left unchanged for a zero source (Intel; AMD documents
    // it). CF, OF, SF, AF, PF are undefined: Intel clears CF, OF, SF, AF and sets PF from the result's low
    // byte, or sets it for a zero source (measured in test/hw/cpu/flags.test.ts).
    materialize(c);
    const base = c.flags & ~(CF | PF | AF | ZF | SF | OF);
    if (zero) {
      c.flags = base | ZF | PF;
      return;
    }
    c.flags = base | (parity8(n) ? PF : 0);
    setReg(c, d.reg, size, n, 0);
    return;
  }
  if (k === 3) n = zero ? w : w - 1 - n;
  // TZCNT/LZCNT: CF = (source = 0), ZF = (result = 0); OF, SF, AF, PF undefined and cleared by Intel.
  materialize(c);
  c.flags = (c.flags & ~(CF | PF | AF | ZF | SF | OF)) | (zero ? CF : 0) | (n === 0 ? ZF : 0);
  setReg(c, d.reg, size, n, 0);
};

const popcnt: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  const v = ld(c, i, i.ops[1]!, a);
  const n = popcnt32(d.size === 8 ? v : v & (d.size === 4 ? -1 : MASK[d.size]!)) + (d.size === 8 ? popcnt32(c.hi) : 0);
  // "OF, SF, ZF, AF, CF, PF are all cleared. ZF is set if SRC = 0" — SDM "POPCNT".
  materialize(c);
  c.flags = (c.flags & ~(CF | PF | AF | ZF | SF | OF)) | (n === 0 ? ZF : 0);
  setReg(c, d.reg, d.size, n, 0);
};

/** CRC32 (SSE4.2), polynomial 0x11EDC6F41 (Castagnoli), bit-reflected as the SDM's pseudocode specifies. */
const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let x = n;
  for (let k = 0; k < 8; k++) x = x & 1 ? (x >>> 1) ^ 0x82f63b78 : x >>> 1;
  CRC_TABLE[n] = x;
}
const crc32: Handler = (c, i) => {
  const d = i.ops[0]!;
  const s = i.ops[1]!;
  const a = memAddr(c, i);
  const v = ld(c, i, s, a);
  const vh = c.hi;
  let crc = getReg(c, d.reg, 4) >>> 0;
  for (let k = 0; k < s.size; k++) {
    const byte = k < 4 ? (v >>> (8 * k)) & 0xff : (vh >>> (8 * (k - 4))) & 0xff;
    crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ byte) & 0xff]!;
  }
  setReg(c, d.reg, d.size, crc | 0, 0);
};

// ---- conditionals ---------------------------------------------------------------------------------------------

const setcc: Handler = (c, i) => {
  const a = memAddr(c, i);
  st(c, i.ops[0]!, a, cond(c, i.row!.cc!) ? 1 : 0, 0);
};

const cmov: Handler = (c, i) => {
  const d = i.ops[0]!;
  const a = memAddr(c, i);
  const v = ld(c, i, i.ops[1]!, a); // the source is read (and may fault) whatever the condition
  if (cond(c, i.row!.cc!)) setReg(c, d.reg, d.size, v, c.hi);
  else if (d.size === 4) c.r[d.reg * 2 + 1] = 0; // 32-bit CMOVcc zero-extends even when false (SDM "CMOVcc")
};

// ---- flags -----------------------------------------------------------------------------------------------------

const flagop: Handler = (c, i) => {
  materialize(c);
  switch (i.row!.cc) {
    case 0:
      c.flags ^= CF;
      break;
    case 1:
      c.flags &= ~CF;
      break;
    case 2:
      c.flags |= CF;
      break;
    case 3:
      c.flags &= ~DF;
      break;
    default:
      c.flags |= DF;
  }
};

const sahf: Handler = (c) => {
  materialize(c);
  const ah = (c.r[0]! >> 8) & 0xff;
  c.flags = (c.flags & ~(SF | ZF | AF | PF | CF)) | (ah & (SF | ZF | AF | PF | CF));
};

const lahf: Handler = (c) => {
  const f = c.getFlags() & 0xff;
  c.r[0] = (c.r[0]! & ~0xff00) | ((f | 2) << 8);
};

const pushf: Handler = (c, i) => {
  // RF and VM read as 0 in the pushed image (SDM "PUSHF").
  const f = c.getFlags() & 0xfcffff;
  push(c, i.opsize, f, 0);
};

const popf: Handler = (c, i) => {
  const v = pop(c, i.opsize);
  let mask = i.opsize === 2 ? POPF_USER & 0xffff : POPF_USER;
  // Opt-out enclave entry: POPF cannot set TF (SDM Vol. 3D §42.2.5); TF is already 0 there, so leave it alone.
  if (c.enclave && !c.enclave.optIn) mask &= ~TF;
  const f = c.getFlags();
  c.setFlags((f & ~mask) | (v & mask));
};

const cli: Handler = () => {
  // CLI/STI at CPL 3 with IOPL 0 and no VME/PVI: #GP(0) (SDM "CLI").
  throw gp(0);
};

// ---- stack and control flow -----------------------------------------------------------------------------------

const pushH: Handler = (c, i) => {
  const o = i.ops[0]!;
  const a = memAddr(c, i);
  const v = ld(c, i, o, a);
  const size = i.opsize;
  push(c, size, size === 2 ? v & 0xffff : v, o.kind === OK.IMM ? i.immHi : size === 8 ? c.hi : 0);
};

const popH: Handler = (c, i) => {
  const o = i.ops[0]!;
  const size = i.opsize;
  const sp = rsp(c);
  const v = c.m.rd64(checkCanon(sp, true));
  const vh = c.m.hi;
  const val = size === 2 ? v & 0xffff : v;
  if (o.kind === OK.MEM) {
    // "If the destination operand uses RSP as a base, the address is computed after RSP is incremented."
    setNum(c.r, 8, sp + size);
    let a: number;
    try {
      a = ea(c, i);
      writeMem(c, a, size, val, vh);
    } catch (e) {
      setNum(c.r, 8, sp);
      throw e;
    }
    return;
  }
  setNum(c.r, 8, sp + size);
  setReg(c, o.reg, size, val, vh);
};

const enter: Handler = (c, i) => {
  const size = i.opsize;
  const alloc = i.imm & 0xffff;
  const level = i.imm2 & 31;
  const r = c.r;
  const sp0 = rsp(c);
  const bp = c.getRegNum(5);
  // Compute and probe everything before writing (no side effects on fault).
  let sp = sp0 - size;
  const frame = sp;
  c.m.probeW(checkCanon(sp, true), size);
  const writes: Array<[number, number, number]> = [[sp, r[10]!, r[11]!]];
  if (level > 0) {
    let b = bp;
    for (let k = 1; k < level; k++) {
      b -= size;
      const v = size === 8 ? c.m.rd64(checkCanon(b, true)) : c.m.rd16(checkCanon(b, true));
      const vh = c.m.hi;
      sp -= size;
      writes.push([sp, v, vh]);
    }
    sp -= size;
    writes.push([sp, (frame % TWO32) | 0, Math.floor(frame / TWO32) | 0]);
  }
  const finalSp = sp - alloc;
  checkCanon(finalSp, true);
  for (const [addr] of writes) c.m.probeW(checkCanon(addr, true), size);
  for (const [addr, lo, hi] of writes) {
    if (size === 8) c.m.wr64(addr, lo, hi);
    else c.m.wr16(addr, lo);
  }
  if (size === 8) setNum(r, 10, frame);
  else r[10] = (r[10]! & ~0xffff) | (frame & 0xffff);
  setNum(r, 8, finalSp);
};

const leave: Handler = (c, i) => {
  const size = i.opsize;
  const bp = c.getRegNum(5);
  const v = size === 8 ? c.m.rd64(checkCanon(bp, true)) : c.m.rd16(checkCanon(bp, true));
  const vh = c.m.hi;
  setNum(c.r, 8, bp + size);
  if (size === 8) {
    c.r[10] = v;
    c.r[11] = vh;
  } else c.r[10] = (c.r[10]! & ~0xffff) | v;
};

const jmp: Handler = (c, i) => branch(c, c.nextRip + i.imm);

const jcc: Handler = (c, i) => {
  if (cond(c, i.row!.cc!)) branch(c, c.nextRip + i.imm);
};

const call: Handler = (c, i) => {
  const target = c.nextRip + i.imm;
  const ret = c.nextRip;
  if (target < -(2 ** 47) || target >= 2 ** 47) throw gp(0);
  push(c, 8, (ret % TWO32) | 0, Math.floor(ret / TWO32) | 0);
  c.nextRip = target;
};

function targetOf(c: Cpu, i: Insn): number {
  const a = memAddr(c, i);
  const o = i.ops[0]!;
  const lo = ld(c, i, o, a);
  return c.hi * TWO32 + (lo >>> 0);
}

const callInd: Handler = (c, i) => {
  const target = targetOf(c, i);
  if (target < -(2 ** 47) || target >= 2 ** 47) throw gp(0);
  const ret = c.nextRip;
  push(c, 8, (ret % TWO32) | 0, Math.floor(ret / TWO32) | 0);
  c.nextRip = target;
};

const jmpInd: Handler = (c, i) => branch(c, targetOf(c, i));

const ret: Handler = (c, i) => {
  const sp = rsp(c);
  const lo = c.m.rd64(checkCanon(sp, true));
  const target = c.m.hi * TWO32 + (lo >>> 0);
  branch(c, target);
  setNum(c.r, 8, sp + 8 + (i.ops.length ? i.imm & 0xffff : 0));
};

const loop: Handler = (c, i) => {
  const r = c.r;
  // LOOP decrements RCX (ECX with 67) without touching flags.
  let taken: boolean;
  if (i.asize === 8) {
    const lo = r[2]!;
    r[2] = lo - 1;
    if (lo === 0) r[3] = r[3]! - 1;
    taken = (r[2]! | r[3]!) !== 0;
  } else {
    r[2] = r[2]! - 1;
    r[3] = 0;
    taken = r[2] !== 0;
  }
  const k = i.row!.cc;
  if (k === 0) taken &&= !getZF(c);
  else if (k === 1) taken &&= getZF(c);
  if (taken) branch(c, c.nextRip + i.imm);
};

const jrcxz: Handler = (c, i) => {
  const z = i.asize === 8 ? (c.r[2]! | c.r[3]!) === 0 : c.r[2] === 0;
  if (z) branch(c, c.nextRip + i.imm);
};

// ---- string instructions (SDM Vol. 1 §7.3.9; REP in Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ") ---------------------

/** Iterations a REP string instruction runs before yielding (the instruction then restarts, as on interrupt). */
const REP_CHUNK = 16384;

function strAddr(c: Cpu, reg: number, asize: number): number {
  const r = c.r;
  if (asize === 4) return r[reg * 2]! >>> 0;
  return r[reg * 2 + 1]! * TWO32 + (r[reg * 2]! >>> 0);
}

function strAdvance(c: Cpu, reg: number, asize: number, delta: number): void {
  const r = c.r;
  if (asize === 4) {
    r[reg * 2] = (r[reg * 2]! + delta) | 0;
    r[reg * 2 + 1] = 0;
    return;
  }
  const lo = (r[reg * 2]! >>> 0) + delta;
  r[reg * 2] = lo | 0;
  if (lo >= TWO32) r[reg * 2 + 1] = r[reg * 2 + 1]! + 1;
  else if (lo < 0) r[reg * 2 + 1] = r[reg * 2 + 1]! - 1;
}

function srcAddr(c: Cpu, i: Insn): number {
  let a = strAddr(c, 6, i.asize);
  if (i.seg === 4) a += c.fsBase;
  else if (i.seg === 5) a += c.gsBase;
  return checkCanon(a, false);
}

/** RCX (or ECX) as a number. */
function count(c: Cpu, i: Insn): number {
  return i.asize === 4 ? c.r[2]! >>> 0 : c.r[3]! * TWO32 + (c.r[2]! >>> 0);
}

function decCount(c: Cpu, i: Insn): void {
  strAdvance(c, 1, i.asize, -1);
}

/** Runs one string iteration `body`, repeated per the REP prefix; returns early in chunks. */
function rep(c: Cpu, i: Insn, body: () => boolean): void {
  const repPfx = i.pfx & (PFX.REP | PFX.REPNE);
  if (!repPfx) {
    body();
    return;
  }
  let n = 0;
  while (count(c, i) !== 0) {
    if (n === REP_CHUNK) {
      // Yield between iterations: RIP stays on this instruction, so the next step resumes it.
      c.nextRip = c.rip;
      return;
    }
    const more = body();
    decCount(c, i);
    n++;
    if (!more) return;
  }
}

const movs: Handler = (c, i) => {
  const size = i.ops[0]!.size;
  const step = c.flags & DF ? -size : size;
  rep(c, i, () => {
    const s = srcAddr(c, i);
    const d = checkCanon(strAddr(c, 7, i.asize), false);
    const v = readMem(c, s, size);
    writeMem(c, d, size, v, c.hi);
    strAdvance(c, 6, i.asize, step);
    strAdvance(c, 7, i.asize, step);
    return true;
  });
};

const stos: Handler = (c, i) => {
  const size = i.ops[0]!.size;
  const step = c.flags & DF ? -size : size;
  const v = getReg(c, 0, size);
  const vh = c.hi;
  rep(c, i, () => {
    const d = checkCanon(strAddr(c, 7, i.asize), false);
    writeMem(c, d, size, v, vh);
    strAdvance(c, 7, i.asize, step);
    return true;
  });
};

const lods: Handler = (c, i) => {
  const size = i.ops[0]!.size;
  const step = c.flags & DF ? -size : size;
  rep(c, i, () => {
    const v = readMem(c, srcAddr(c, i), size);
    setReg(c, 0, size, v, c.hi);
    strAdvance(c, 6, i.asize, step);
    return true;
  });
};

const cmps: Handler = (c, i) => {
  const size = i.ops[0]!.size;
  const step = c.flags & DF ? -size : size;
  const repne = (i.pfx & PFX.REPNE) !== 0;
  rep(c, i, () => {
    const x = readMem(c, srcAddr(c, i), size);
    const xh = c.hi;
    const y = readMem(c, checkCanon(strAddr(c, 7, i.asize), false), size);
    sub(c, size, x, xh, y, c.hi, 0);
    strAdvance(c, 6, i.asize, step);
    strAdvance(c, 7, i.asize, step);
    return repne ? !getZF(c) : getZF(c);
  });
};

const scas: Handler = (c, i) => {
  const size = i.ops[0]!.size;
  const step = c.flags & DF ? -size : size;
  const repne = (i.pfx & PFX.REPNE) !== 0;
  const x = getReg(c, 0, size);
  const xh = c.hi;
  rep(c, i, () => {
    const y = readMem(c, checkCanon(strAddr(c, 7, i.asize), false), size);
    sub(c, size, x, xh, y, c.hi, 0);
    strAdvance(c, 7, i.asize, step);
    return repne ? !getZF(c) : getZF(c);
  });
};

const nop: Handler = () => {};

const io: Handler = () => {
  // IN/OUT/INS/OUTS at CPL 3 with IOPL 0 and no I/O bitmap grant: #GP(0) (SDM Vol. 1 §19.5).
  throw gp(0);
};

/** General-purpose integer handlers by opcode-table `sem` name. */
export const INT_HANDLERS: Record<string, Handler> = {
  mov,
  movMoffs,
  movzx,
  movsx,
  movsxd,
  movFromSeg,
  lea,
  xchg,
  cmpxchg,
  cmpxchg8b,
  xadd,
  bswap,
  movbe,
  cbw,
  cwd,
  xlat,
  alu: aluH,
  test,
  incdec: incdecH,
  not,
  neg,
  mul1,
  imul1: mul1,
  imul2,
  imul3,
  div,
  shift: shiftH,
  shld,
  bt,
  bsf,
  popcnt,
  crc32,
  setcc,
  cmov,
  flagop,
  sahf,
  lahf,
  pushf,
  popf,
  cli,
  push: pushH,
  pop: popH,
  enter,
  leave,
  jmp,
  jcc,
  call,
  callInd,
  jmpInd,
  ret,
  loop,
  jrcxz,
  movs,
  stos,
  lods,
  cmps,
  scas,
  nop,
  io,
};
