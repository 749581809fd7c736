/**
 * SSE, SSE2, SSE3, SSSE3 and SSE4.1 handlers on the XMM file (SDM Vol. 1 ch. 10-12, Vol. 2 per mnemonic).
 *
 * The XMM file is one ArrayBuffer with typed views (little-endian lanes). A source operand is copied into the
 * scratch register S first, so register and memory forms share code and "dest = src" aliasing is harmless.
 * Legacy-SSE 128-bit memory operands must be 16-byte aligned (#GP(0)) except for the unaligned moves
 * (SDM Vol. 1 §10.4.1.1), which the table marks with the 'movx' handler.
 *
 * Floating point: JS doubles are IEEE binary64 with round-to-nearest-even, and `Math.fround` of an exact
 * double result is correctly rounded binary32 (53 ≥ 2·24 + 2), so the default MXCSR rounding is exact.
 * NaN results follow the SSE rules (SDM Vol. 1 Table 4-7): the first source NaN (quieted) wins, else the
 * second; an invalid operation yields the default QNaN 0xFFF8... / 0xFFC00000. Limitations: MXCSR.RC other
 * than nearest is honoured only by conversions and ROUND*; FTZ/DAZ are ignored; exception flags are not
 * recorded and #XM is never raised.
 */

import { gp } from '../fault';
import { AF, CF, type Cpu, ea, materialize, OF, PF, SF, setReg, TWO32, ZF } from './cpu';
import type { Insn, Operand } from './decoder';
import { OK } from './decoder';
import type { Handler } from './exec-int';
import { ld, st } from './exec-int';

const SBUF = new ArrayBuffer(16);
const S32 = new Int32Array(SBUF);
const SU32 = new Uint32Array(SBUF);
const S16 = new Uint16Array(SBUF);
const SI16 = new Int16Array(SBUF);
const S8 = new Uint8Array(SBUF);
const SI8 = new Int8Array(SBUF);
const SF32 = new Float32Array(SBUF);
const SF64 = new Float64Array(SBUF);

const TBUF = new ArrayBuffer(16);
const T32 = new Int32Array(TBUF);
const T16 = new Uint16Array(TBUF);
const T8 = new Uint8Array(TBUF);

/** Copies 16 bytes (four int32 lanes) from `from` into `to` at lane `d` (cheaper than TypedArray.set here). */
function put4(to: Int32Array, d: number, from: Int32Array): void {
  to[d] = from[0]!;
  to[d + 1] = from[1]!;
  to[d + 2] = from[2]!;
  to[d + 3] = from[3]!;
}

/** Loads the source operand `o` (XMM or memory of o.size bytes) into S; memory beyond o.size reads as 0. */
function loadS(c: Cpu, o: Operand, a: number, aligned: boolean): void {
  if (o.kind === OK.XMM) {
    const k = o.reg * 4;
    S32[0] = c.x32[k]!;
    S32[1] = c.x32[k + 1]!;
    S32[2] = c.x32[k + 2]!;
    S32[3] = c.x32[k + 3]!;
    return;
  }
  const n = o.size;
  if (n === 16) {
    if (aligned && a % 16 !== 0) throw gp(0);
    const m = c.m;
    S32[0] = m.rd64(a);
    S32[1] = m.hi;
    S32[2] = m.rd64(a + 8);
    S32[3] = m.hi;
    return;
  }
  S32[0] = S32[1] = S32[2] = S32[3] = 0;
  if (n === 8) {
    S32[0] = c.m.rd64(a);
    S32[1] = c.m.hi;
  } else if (n === 4) S32[0] = c.m.rd32(a);
  else if (n === 2) S16[0] = c.m.rd16(a);
  else S8[0] = c.m.rd8(a);
}

function addr(c: Cpu, i: Insn): number {
  return i.hasMem ? ea(c, i) : 0;
}

/** Source operand index and destination register for the common "V, W[, Ib]" form. */
function src(c: Cpu, i: Insn, aligned = true): number {
  const a = addr(c, i);
  loadS(c, i.ops[1]!, a, aligned);
  return i.ops[0]!.reg * 4;
}

function storeX(c: Cpu, o: Operand, a: number, from: Int32Array, k: number, n: number, aligned: boolean): void {
  if (o.kind === OK.XMM) {
    const d = o.reg * 4;
    for (let j = 0; j < n / 4; j++) c.x32[d + j] = from[k + j]!;
    return;
  }
  if (n === 16) {
    if (aligned && a % 16 !== 0) throw gp(0);
    c.m.probeW(a, 16);
    c.m.wr64(a, from[k]!, from[k + 1]!);
    c.m.wr64(a + 8, from[k + 2]!, from[k + 3]!);
  } else if (n === 8) c.m.wr64(a, from[k]!, from[k + 1]!);
  else c.m.wr32(a, from[k]!);
}

// ---- moves -------------------------------------------------------------------------------------------------

function moveFull(aligned: boolean): Handler {
  return (c, i) => {
    const a = addr(c, i);
    const d = i.ops[0]!;
    const s = i.ops[1]!;
    if (d.kind === OK.XMM) {
      loadS(c, s, a, aligned);
      put4(c.x32, d.reg * 4, S32);
    } else storeX(c, d, a, c.x32, s.reg * 4, 16, aligned);
  };
}

/** MOVSS/MOVSD: register-register merges the low lane; a load zeroes the rest; a store writes the lane. */
function moveScalar(n: number): Handler {
  return (c, i) => {
    const a = addr(c, i);
    const d = i.ops[0]!;
    const s = i.ops[1]!;
    if (d.kind === OK.XMM) {
      loadS(c, s, a, false);
      const k = d.reg * 4;
      if (s.kind === OK.XMM) {
        for (let j = 0; j < n / 4; j++) c.x32[k + j] = S32[j]!;
      } else put4(c.x32, k, S32);
    } else storeX(c, d, a, c.x32, s.reg * 4, n, false);
  };
}

/** MOVQ xmm, xmm/m64 (F3 0F 7E) and MOVQ xmm/m64, xmm (66 0F D6): the upper lane of a register dest is zeroed. */
const movq: Handler = (c, i) => {
  const a = addr(c, i);
  const d = i.ops[0]!;
  const s = i.ops[1]!;
  if (d.kind === OK.XMM) {
    loadS(c, s, a, false);
    const k = d.reg * 4;
    c.x32[k] = S32[0]!;
    c.x32[k + 1] = S32[1]!;
    c.x32[k + 2] = 0;
    c.x32[k + 3] = 0;
  } else storeX(c, d, a, c.x32, s.reg * 4, 8, false);
};

const movdToX: Handler = (c, i) => {
  const a = addr(c, i);
  const s = i.ops[1]!;
  const lo = ld(c, i, s, a);
  const k = i.ops[0]!.reg * 4;
  c.x32[k] = lo;
  c.x32[k + 1] = s.size === 8 ? c.hi : 0;
  c.x32[k + 2] = 0;
  c.x32[k + 3] = 0;
};

const movdFromX: Handler = (c, i) => {
  const a = addr(c, i);
  const d = i.ops[0]!;
  const k = i.ops[1]!.reg * 4;
  st(c, d, a, c.x32[k]!, c.x32[k + 1]!);
};

const movlo: Handler = (c, i) => {
  const a = addr(c, i);
  const d = i.ops[0]!;
  if (d.kind === OK.XMM) {
    const k = d.reg * 4;
    c.x32[k] = c.m.rd64(a);
    c.x32[k + 1] = c.m.hi;
  } else {
    const k = i.ops[1]!.reg * 4;
    c.m.wr64(a, c.x32[k]!, c.x32[k + 1]!);
  }
};

const movhi: Handler = (c, i) => {
  const a = addr(c, i);
  const d = i.ops[0]!;
  if (d.kind === OK.XMM) {
    const k = d.reg * 4;
    c.x32[k + 2] = c.m.rd64(a);
    c.x32[k + 3] = c.m.hi;
  } else {
    const k = i.ops[1]!.reg * 4;
    c.m.wr64(a, c.x32[k + 2]!, c.x32[k + 3]!);
  }
};

/** MOVHLPS (cc 0): dest.lo ← src.hi; MOVLHPS (cc 1): dest.hi ← src.lo. */
const movhl: Handler = (c, i) => {
  const d = i.ops[0]!.reg * 4;
  const s = i.ops[1]!.reg * 4;
  const x = c.x32;
  if (i.row!.cc === 0) {
    x[d] = x[s + 2]!;
    x[d + 1] = x[s + 3]!;
  } else {
    x[d + 2] = x[s]!;
    x[d + 3] = x[s + 1]!;
  }
};

/** MOVSLDUP (0), MOVSHDUP (1), MOVDDUP (2). */
const movdup: Handler = (c, i) => {
  const k = i.row!.cc!;
  const d = src(c, i, k !== 2);
  const x = c.x32;
  if (k === 0) {
    x[d] = x[d + 1] = S32[0]!;
    x[d + 2] = x[d + 3] = S32[2]!;
  } else if (k === 1) {
    x[d] = x[d + 1] = S32[1]!;
    x[d + 2] = x[d + 3] = S32[3]!;
  } else {
    x[d] = x[d + 2] = S32[0]!;
    x[d + 1] = x[d + 3] = S32[1]!;
  }
};

const movmsk: Handler = (c, i) => {
  const s = i.ops[1]!.reg * 4;
  const x = c.x32;
  let m = 0;
  if (i.row!.cc === 4) for (let j = 0; j < 4; j++) m |= (x[s + j]! >>> 31) << j;
  else m = (x[s + 1]! >>> 31) | ((x[s + 3]! >>> 31) << 1);
  setReg(c, i.ops[0]!.reg, 4, m, 0);
};

const pmovmskb: Handler = (c, i) => {
  const s = i.ops[1]!.reg * 16;
  let m = 0;
  for (let j = 0; j < 16; j++) m |= (c.x8[s + j]! >> 7) << j;
  setReg(c, i.ops[0]!.reg, 4, m, 0);
};

const maskmov: Handler = (c, i) => {
  // MASKMOVDQU writes the selected bytes of the source to [RDI] (DS segment; 67 selects EDI).
  const s = i.ops[1]!.reg * 16;
  const m = i.ops[2]!.reg * 16;
  let a = i.asize === 4 ? c.r[14]! >>> 0 : c.getRegNum(7);
  if (i.seg === 4) a += c.fsBase;
  else if (i.seg === 5) a += c.gsBase;
  for (let j = 0; j < 16; j++) if (c.x8[m + j]! & 0x80) c.m.probeW(a + j, 1);
  for (let j = 0; j < 16; j++) if (c.x8[m + j]! & 0x80) c.m.wr8(a + j, c.x8[s + j]!);
};

// ---- logic and integer arithmetic ---------------------------------------------------------------------------

/** AND (0), ANDN (1), OR (2), XOR (3) on 128 bits. */
const plogic: Handler = (c, i) => {
  const d = src(c, i);
  const x = c.x32;
  const k = i.row!.cc!;
  for (let j = 0; j < 4; j++) {
    const a = x[d + j]!;
    const b = S32[j]!;
    x[d + j] = k === 0 ? a & b : k === 1 ? ~a & b : k === 2 ? a | b : a ^ b;
  }
};

/** Lane views by width. */
function lanes(c: Cpu, w: number): Int32Array | Int16Array | Int8Array {
  return w === 1 ? c.xi8 : w === 2 ? c.xi16 : c.x32;
}
function slanes(w: number): Int32Array | Int16Array | Int8Array {
  return w === 1 ? SI8 : w === 2 ? SI16 : S32;
}

function add64(x: Int32Array, d: number, s: Int32Array, k: number, negate: boolean): void {
  let bl = s[k]!;
  let bh = s[k + 1]!;
  if (negate) {
    bl = ~bl + 1;
    bh = ~bh + (bl === 0 ? 1 : 0);
  }
  const lo = (x[d]! >>> 0) + (bl >>> 0);
  x[d] = lo | 0;
  x[d + 1] = (x[d + 1]! + bh + (lo > 0xffffffff ? 1 : 0)) | 0;
}

const padd: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  if (w === 8) {
    add64(c.x32, d, S32, 0, false);
    add64(c.x32, d + 2, S32, 2, false);
    return;
  }
  const x = lanes(c, w);
  const s = slanes(w);
  const base = (d * 4) / w;
  for (let j = 0; j < 16 / w; j++) x[base + j] = x[base + j]! + s[j]!;
};

const psub: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  if (w === 8) {
    add64(c.x32, d, S32, 0, true);
    add64(c.x32, d + 2, S32, 2, true);
    return;
  }
  const x = lanes(c, w);
  const s = slanes(w);
  const base = (d * 4) / w;
  for (let j = 0; j < 16 / w; j++) x[base + j] = x[base + j]! - s[j]!;
};

/** Saturating add/sub: cc = width | 0x10 subtract | 0x20 signed. */
const paddsat: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const w = cc & 0xf;
  const subtract = (cc & 0x10) !== 0;
  const signed = (cc & 0x20) !== 0;
  const d = src(c, i);
  const n = 16 / w;
  const base = (d * 4) / w;
  const bits = w * 8;
  const lo = signed ? -(2 ** (bits - 1)) : 0;
  const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const xs = w === 1 ? (signed ? c.xi8 : c.x8) : signed ? c.xi16 : c.x16;
  const ss = w === 1 ? (signed ? SI8 : S8) : signed ? SI16 : S16;
  for (let j = 0; j < n; j++) {
    const r = subtract ? xs[base + j]! - ss[j]! : xs[base + j]! + ss[j]!;
    xs[base + j] = r < lo ? lo : Math.min(r, hi);
  }
};

/** Multiplies: 0 PMULLW, 1 PMULHUW, 2 PMULHW, 3 PMULUDQ, 4 PMADDWD, 5 PMADDUBSW, 6 PMULHRSW, 7 PMULDQ, 8 PMULLD. */
const pmul: Handler = (c, i) => {
  const k = i.row!.cc!;
  const d = src(c, i);
  const x = c.x32;
  const b16 = d * 2;
  switch (k) {
    case 0:
      for (let j = 0; j < 8; j++) c.xi16[b16 + j] = Math.imul(c.xi16[b16 + j]!, SI16[j]!);
      return;
    case 1:
      for (let j = 0; j < 8; j++) c.x16[b16 + j] = (c.x16[b16 + j]! * S16[j]!) >>> 16;
      return;
    case 2:
      for (let j = 0; j < 8; j++) c.xi16[b16 + j] = (c.xi16[b16 + j]! * SI16[j]!) >> 16;
      return;
    case 3:
    case 7:
      for (const j of [0, 2]) {
        const a = x[d + j]!;
        const b = S32[j]!;
        if (k === 3) {
          const lo = Math.imul(a, b);
          const hi = umulhi(a >>> 0, b >>> 0);
          x[d + j] = lo;
          x[d + j + 1] = hi;
        } else {
          const lo = Math.imul(a, b);
          let hi = umulhi(a >>> 0, b >>> 0);
          hi = (hi - (a < 0 ? b >>> 0 : 0) - (b < 0 ? a >>> 0 : 0)) | 0;
          x[d + j] = lo;
          x[d + j + 1] = hi;
        }
      }
      return;
    case 4:
      for (let j = 0; j < 4; j++) {
        const p = c.xi16[b16 + 2 * j]! * SI16[2 * j]! + c.xi16[b16 + 2 * j + 1]! * SI16[2 * j + 1]!;
        x[d + j] = p | 0; // the single overflow case (all four -32768) wraps to 0x80000000, as on hardware
      }
      return;
    case 5: {
      // Unsigned bytes of dest × signed bytes of source, adjacent pairs added with signed saturation.
      const b8 = d * 4;
      for (let j = 0; j < 8; j++) {
        const p = c.x8[b8 + 2 * j]! * SI8[2 * j]! + c.x8[b8 + 2 * j + 1]! * SI8[2 * j + 1]!;
        c.xi16[b16 + j] = p > 32767 ? 32767 : Math.max(p, -32768);
      }
      return;
    }
    case 6:
      for (let j = 0; j < 8; j++) c.xi16[b16 + j] = (((c.xi16[b16 + j]! * SI16[j]!) >> 14) + 1) >> 1;
      return;
    default:
      for (let j = 0; j < 4; j++) x[d + j] = Math.imul(x[d + j]!, S32[j]!);
  }
};

function umulhi(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const mid = (ll >>> 16) + ((al * bh) & 0xffff) + ((ah * bl) & 0xffff);
  return (ah * bh + ((al * bh) >>> 16) + ((ah * bl) >>> 16) + Math.floor(mid / 65536)) | 0;
}

const pavg: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  if (w === 1) for (let j = 0; j < 16; j++) c.x8[d * 4 + j] = (c.x8[d * 4 + j]! + S8[j]! + 1) >> 1;
  else for (let j = 0; j < 8; j++) c.x16[d * 2 + j] = (c.x16[d * 2 + j]! + S16[j]! + 1) >> 1;
};

/** PMIN/PMAX: cc = width | 0x10 max | 0x20 signed. */
const pminmax: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const w = cc & 0xf;
  const max = (cc & 0x10) !== 0;
  const signed = (cc & 0x20) !== 0;
  const d = src(c, i);
  const n = 16 / w;
  const base = (d * 4) / w;
  const xs = w === 1 ? (signed ? c.xi8 : c.x8) : w === 2 ? (signed ? c.xi16 : c.x16) : signed ? c.x32 : c.xu32;
  const ss = w === 1 ? (signed ? SI8 : S8) : w === 2 ? (signed ? SI16 : S16) : signed ? S32 : SU32;
  for (let j = 0; j < n; j++) {
    const a = xs[base + j]!;
    const b = ss[j]!;
    xs[base + j] = max ? Math.max(a, b) : Math.min(a, b);
  }
};

const pcmpeq: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  if (w === 8) {
    for (const j of [0, 2]) {
      const eq = c.x32[d + j] === S32[j] && c.x32[d + j + 1] === S32[j + 1] ? -1 : 0;
      c.x32[d + j] = c.x32[d + j + 1] = eq;
    }
    return;
  }
  const x = lanes(c, w);
  const s = slanes(w);
  const base = (d * 4) / w;
  for (let j = 0; j < 16 / w; j++) x[base + j] = x[base + j] === s[j] ? -1 : 0;
};

const pcmpgt: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  if (w === 8) {
    for (const j of [0, 2]) {
      const ah = c.x32[d + j + 1]!;
      const bh = S32[j + 1]!;
      const gt = ah > bh || (ah === bh && c.x32[d + j]! >>> 0 > S32[j]! >>> 0) ? -1 : 0;
      c.x32[d + j] = c.x32[d + j + 1] = gt;
    }
    return;
  }
  const x = lanes(c, w);
  const s = slanes(w);
  const base = (d * 4) / w;
  for (let j = 0; j < 16 / w; j++) x[base + j] = x[base + j]! > s[j]! ? -1 : 0;
};

/** `v` saturated to [lo, hi]. */
function sat(v: number, lo: number, hi: number): number {
  return v < lo ? lo : Math.min(v, hi);
}

/** PACKSSWB (0), PACKUSWB (1), PACKSSDW (2), PACKUSDW (3). */
const pack: Handler = (c, i) => {
  const k = i.row!.cc!;
  const d = src(c, i);
  if (k <= 1) {
    const lo = k === 0 ? -128 : 0;
    const hi = k === 0 ? 127 : 255;
    for (let j = 0; j < 8; j++) T8[j] = sat(c.xi16[d * 2 + j]!, lo, hi);
    for (let j = 0; j < 8; j++) T8[8 + j] = sat(SI16[j]!, lo, hi);
  } else {
    const lo = k === 2 ? -32768 : 0;
    const hi = k === 2 ? 32767 : 65535;
    for (let j = 0; j < 4; j++) T16[j] = sat(c.x32[d + j]!, lo, hi);
    for (let j = 0; j < 4; j++) T16[4 + j] = sat(S32[j]!, lo, hi);
  }
  put4(c.x32, d, T32);
};

/** Interleave: cc = width | 0x10 high half. Also UNPCKL/HPS/PD (same lane semantics). */
const punpck: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const w = cc & 0xf;
  const high = (cc & 0x10) !== 0;
  const d = src(c, i);
  const b8 = d * 4;
  const start = high ? 8 : 0;
  for (let j = 0; j < 8 / w; j++) {
    for (let b = 0; b < w; b++) {
      T8[2 * j * w + b] = c.x8[b8 + start + j * w + b]!;
      T8[(2 * j + 1) * w + b] = S8[start + j * w + b]!;
    }
  }
  put4(c.x32, d, T32);
};

/** PSHUFD (0), PSHUFHW (1), PSHUFLW (2). */
const pshuf: Handler = (c, i) => {
  const k = i.row!.cc!;
  const d = src(c, i);
  const imm = i.imm & 0xff;
  if (k === 0) {
    for (let j = 0; j < 4; j++) T32[j] = S32[(imm >> (2 * j)) & 3]!;
  } else {
    put4(T32, 0, S32);
    const off = k === 1 ? 4 : 0;
    for (let j = 0; j < 4; j++) T16[off + j] = S16[off + ((imm >> (2 * j)) & 3)]!;
  }
  put4(c.x32, d, T32);
};

const pshufb: Handler = (c, i) => {
  const d = src(c, i);
  const b8 = d * 4;
  for (let j = 0; j < 16; j++) T8[j] = c.x8[b8 + j]!;
  for (let j = 0; j < 16; j++) {
    const m = S8[j]!;
    c.x8[b8 + j] = m & 0x80 ? 0 : T8[m & 15]!;
  }
};

/** Shifts by an XMM/m128 count (pshift) or an immediate (pshiftI): cc = width | 0x10 arithmetic | 0x20 left. */
function doShift(c: Cpu, d: number, cc: number, countLo: number, countHi: number): void {
  const w = cc & 0xf;
  const arith = (cc & 0x10) !== 0;
  const left = (cc & 0x20) !== 0;
  const bits = w * 8;
  const big = countHi !== 0 || countLo >>> 0 >= bits;
  const n = countLo >>> 0;
  const x = c.x32;
  if (w === 8) {
    for (const j of [0, 2]) {
      const lo = x[d + j]!;
      const hi = x[d + j + 1]!;
      if (big) {
        x[d + j] = 0;
        x[d + j + 1] = 0;
      } else if (left) {
        if (n >= 32) {
          x[d + j + 1] = lo << (n - 32);
          x[d + j] = 0;
        } else if (n > 0) {
          x[d + j + 1] = (hi << n) | (lo >>> (32 - n));
          x[d + j] = lo << n;
        }
      } else if (n >= 32) {
        x[d + j] = hi >>> (n - 32);
        x[d + j + 1] = 0;
      } else if (n > 0) {
        x[d + j] = (lo >>> n) | (hi << (32 - n));
        x[d + j + 1] = hi >>> n;
      }
    }
    return;
  }
  const v = w === 2 ? (arith ? c.xi16 : c.x16) : arith ? c.x32 : c.xu32;
  const base = (d * 4) / w;
  for (let j = 0; j < 16 / w; j++) {
    const a = v[base + j]!;
    if (arith) v[base + j] = big ? (a < 0 ? -1 : 0) : a >> n;
    else if (big) v[base + j] = 0;
    else v[base + j] = left ? a << n : a >>> n;
  }
}

const pshift: Handler = (c, i) => {
  const d = src(c, i);
  doShift(c, d, i.row!.cc!, S32[0]!, S32[1]!);
};

const pshiftI: Handler = (c, i) => {
  doShift(c, i.ops[0]!.reg * 4, i.row!.cc!, i.imm & 0xff, 0);
};

/** PSRLDQ (cc 0) / PSLLDQ (cc 1): byte shifts of the whole register. */
const pbshift: Handler = (c, i) => {
  const d = i.ops[0]!.reg * 16;
  const n = i.imm & 0xff;
  for (let j = 0; j < 16; j++) T8[j] = c.x8[d + j]!;
  for (let j = 0; j < 16; j++) {
    const from = i.row!.cc === 0 ? j + n : j - n;
    c.x8[d + j] = from >= 0 && from < 16 ? T8[from]! : 0;
  }
};

const psadbw: Handler = (c, i) => {
  const d = src(c, i);
  const b8 = d * 4;
  for (const h of [0, 8]) {
    let sum = 0;
    for (let j = 0; j < 8; j++) sum += Math.abs(c.x8[b8 + h + j]! - S8[h + j]!);
    c.x32[d + h / 4] = sum;
    c.x32[d + h / 4 + 1] = 0;
  }
};

const pinsr: Handler = (c, i) => {
  const a = addr(c, i);
  const w = i.row!.cc!;
  const s = i.ops[1]!;
  const v = ld(c, i, s, a);
  const d = i.ops[0]!.reg * 4;
  const imm = i.imm;
  if (w === 1) c.x8[d * 4 + (imm & 15)] = v;
  else if (w === 2) c.x16[d * 2 + (imm & 7)] = v;
  else if (s.size === 8) {
    const j = (imm & 1) * 2;
    c.x32[d + j] = v;
    c.x32[d + j + 1] = c.hi;
  } else c.x32[d + (imm & 3)] = v;
};

/** PEXTRB/W/D/Q (cc 1/2/4), EXTRACTPS (cc 5). A register destination is zero-extended. */
const pextr: Handler = (c, i) => {
  const a = addr(c, i);
  const w = i.row!.cc!;
  const d = i.ops[0]!;
  const s = i.ops[1]!.reg * 4;
  const imm = i.imm;
  let lo: number;
  let hi = 0;
  if (w === 1) lo = c.x8[s * 4 + (imm & 15)]!;
  else if (w === 2) lo = c.x16[s * 2 + (imm & 7)]!;
  else if (d.size === 8 && w === 4) {
    const j = (imm & 1) * 2;
    lo = c.x32[s + j]!;
    hi = c.x32[s + j + 1]!;
  } else lo = c.x32[s + (imm & 3)]!;
  if (d.kind === OK.REG) setReg(c, d.reg, Math.max(d.size, 4), lo, hi);
  else st(c, d, a, lo, hi);
};

const palignr: Handler = (c, i) => {
  const d = src(c, i);
  const n = i.imm & 0xff;
  const b8 = d * 4;
  // (dest:src) >> (n bytes), low 16 bytes.
  for (let j = 0; j < 16; j++) {
    const k = j + n;
    T8[j] = k < 16 ? S8[k]! : k < 32 ? c.x8[b8 + k - 16]! : 0;
  }
  put4(c.x32, d, T32);
};

const psign: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  const x = lanes(c, w);
  const s = slanes(w);
  const base = (d * 4) / w;
  for (let j = 0; j < 16 / w; j++) {
    const b = s[j]!;
    x[base + j] = b < 0 ? -x[base + j]! : b === 0 ? 0 : x[base + j]!;
  }
};

const pabs: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  const x = lanes(c, w);
  const s = slanes(w);
  const base = (d * 4) / w;
  for (let j = 0; j < 16 / w; j++) x[base + j] = Math.abs(s[j]!);
};

/** One horizontal add or subtract, saturated to int16 when asked. */
function hop(a: number, b: number, subtract: boolean, saturate: boolean): number {
  const r = subtract ? a - b : a + b;
  return saturate ? sat(r, -32768, 32767) : r;
}

/** PHADD/PHSUB: cc = width | 0x10 subtract | 0x20 signed saturation. */
const phadd: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const w = cc & 0xf;
  const subtract = (cc & 0x10) !== 0;
  const sat = (cc & 0x20) !== 0;
  const d = src(c, i);
  const n = 16 / w;
  const x = lanes(c, w);
  const s = slanes(w);
  const base = (d * 4) / w;
  const out: number[] = [];
  for (let j = 0; j < n / 2; j++) out.push(hop(x[base + 2 * j]!, x[base + 2 * j + 1]!, subtract, sat));
  for (let j = 0; j < n / 2; j++) out.push(hop(s[2 * j]!, s[2 * j + 1]!, subtract, sat));
  for (let j = 0; j < n; j++) x[base + j] = out[j]!;
};

/** PMOVSX/PMOVZX: cc = 0x100 signed | (from width << 4) | to width. */
const pmovx: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const signed = (cc & 0x100) !== 0;
  const from = (cc >> 4) & 0xf;
  const to = cc & 0xf;
  const d = src(c, i, false);
  const n = 16 / to;
  const vals: number[] = [];
  for (let j = 0; j < n; j++) {
    const v =
      from === 1
        ? signed
          ? SI8[j]!
          : S8[j]!
        : from === 2
          ? signed
            ? SI16[j]!
            : S16[j]!
          : signed
            ? S32[j]!
            : SU32[j]!;
    vals.push(v);
  }
  if (to === 8) {
    for (let j = 0; j < 2; j++) {
      const v = vals[j]!;
      c.x32[d + 2 * j] = v | 0;
      c.x32[d + 2 * j + 1] = v < 0 ? -1 : 0;
    }
  } else {
    const x = to === 2 ? c.xi16 : c.x32;
    const base = (d * 4) / to;
    for (let j = 0; j < n; j++) x[base + j] = vals[j]!;
  }
};

const ptest: Handler = (c, i) => {
  const d = src(c, i);
  let zf = true;
  let cf = true;
  for (let j = 0; j < 4; j++) {
    if ((c.x32[d + j]! & S32[j]!) !== 0) zf = false;
    if ((~c.x32[d + j]! & S32[j]!) !== 0) cf = false;
  }
  materialize(c);
  c.flags = (c.flags & ~(CF | PF | AF | ZF | SF | OF)) | (zf ? ZF : 0) | (cf ? CF : 0);
};

/** PBLENDVB/BLENDVPS/BLENDVPD: mask from the sign bits of XMM0 lanes. */
const pblendv: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  for (let j = 0; j < 16 / w; j++) {
    const signByte = c.x8[j * w + w - 1]! & 0x80; // XMM0 is at offset 0
    if (signByte) for (let b = 0; b < w; b++) c.x8[d * 4 + j * w + b] = S8[j * w + b]!;
  }
};

/** BLENDPS/BLENDPD/PBLENDW with an immediate mask. */
const pblend: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  const imm = i.imm & 0xff;
  for (let j = 0; j < 16 / w; j++) {
    if ((imm >> j) & 1) for (let b = 0; b < w; b++) c.x8[d * 4 + j * w + b] = S8[j * w + b]!;
  }
};

const phminposuw: Handler = (c, i) => {
  const d = src(c, i);
  let best = S16[0]!;
  let idx = 0;
  for (let j = 1; j < 8; j++)
    if (S16[j]! < best) {
      best = S16[j]!;
      idx = j;
    }
  c.x32[d] = best | (idx << 16);
  c.x32[d + 1] = c.x32[d + 2] = c.x32[d + 3] = 0;
};

const mpsadbw: Handler = (c, i) => {
  const d = src(c, i);
  const imm = i.imm & 0xff;
  const a = ((imm >> 2) & 1) * 4;
  const b = (imm & 3) * 4;
  const b8 = d * 4;
  for (let j = 0; j < 16; j++) T8[j] = c.x8[b8 + j]!;
  for (let j = 0; j < 8; j++) {
    let sum = 0;
    for (let k = 0; k < 4; k++) sum += Math.abs(T8[a + j + k]! - S8[b + k]!);
    c.x16[d * 2 + j] = sum;
  }
};

// ---- floating point -----------------------------------------------------------------------------------------

const QNAN64_HI = 0xfff80000 | 0;
const QNAN32 = 0xffc00000 | 0;

/** Writes lane j (width 4 or 8) of register base d with value r, resolving NaN per the SSE rules. */
function putF(c: Cpu, d: number, w: number, j: number, r: number, a: number, b: number, hasB: boolean): void {
  if (!Number.isNaN(r)) {
    if (w === 8) c.xf64[d / 2 + j] = r;
    else c.xf32[d + j] = r;
    return;
  }
  const x = c.x32;
  if (w === 8) {
    const k = d + 2 * j;
    if (Number.isNaN(a)) {
      x[k + 1] = x[k + 1]! | 0x00080000; // first source NaN, quieted (bits already in place)
    } else if (hasB && Number.isNaN(b)) {
      x[k] = S32[2 * j]!;
      x[k + 1] = S32[2 * j + 1]! | 0x00080000;
    } else {
      x[k] = 0;
      x[k + 1] = QNAN64_HI;
    }
    return;
  }
  const k = d + j;
  if (Number.isNaN(a)) x[k] = x[k]! | 0x00400000;
  else if (hasB && Number.isNaN(b)) x[k] = S32[j]! | 0x00400000;
  else x[k] = QNAN32;
}

type FOp = (a: number, b: number) => number;

function farith(op: FOp, unary = false): Handler {
  return (c, i) => {
    const cc = i.row!.cc!;
    const w = cc & 0xf;
    const scalar = (cc & 0x10) !== 0;
    const d = src(c, i, !scalar);
    const n = scalar ? 1 : 16 / w;
    for (let j = 0; j < n; j++) {
      const a = w === 8 ? c.xf64[d / 2 + j]! : c.xf32[d + j]!;
      const b = w === 8 ? SF64[j]! : SF32[j]!;
      let r = unary ? op(b, b) : op(a, b);
      if (w === 4) r = Math.fround(r);
      // For SQRT the only source is the second operand.
      // The only source of SQRT is the second operand: its NaN (quieted) is the result.
      if (unary) putF(c, d, w, j, r, 0, b, true);
      else putF(c, d, w, j, r, a, b, true);
    }
  };
}

/** MIN/MAX return the second (source) operand when either is NaN or both are zero (SDM "MINPS"). */
function fminmax(max: boolean): Handler {
  return (c, i) => {
    const cc = i.row!.cc!;
    const w = cc & 0xf;
    const scalar = (cc & 0x10) !== 0;
    const d = src(c, i, !scalar);
    const n = scalar ? 1 : 16 / w;
    for (let j = 0; j < n; j++) {
      const a = w === 8 ? c.xf64[d / 2 + j]! : c.xf32[d + j]!;
      const b = w === 8 ? SF64[j]! : SF32[j]!;
      const keepA = max ? a > b : a < b;
      if (!keepA) {
        if (w === 8) {
          c.x32[d + 2 * j] = S32[2 * j]!;
          c.x32[d + 2 * j + 1] = S32[2 * j + 1]!;
        } else c.x32[d + j] = S32[j]!;
      }
    }
  };
}

/**
 * Bit-exact binary operation on one lane with the SSE NaN rules: a NaN first operand (quieted) wins, then a
 * NaN second operand, else an invalid result is the default NaN. `w` is 4 or 8; lanes are given and returned
 * as bit patterns (bigint, off the hot path: used by the horizontal and dot-product instructions).
 */
const LANE = new DataView(new ArrayBuffer(8));
function laneVal(bits: bigint, w: number): number {
  if (w === 8) {
    LANE.setBigUint64(0, bits, true);
    return LANE.getFloat64(0, true);
  }
  LANE.setUint32(0, Number(bits), true);
  return LANE.getFloat32(0, true);
}
function laneBits(v: number, w: number): bigint {
  if (w === 8) {
    LANE.setFloat64(0, v, true);
    return LANE.getBigUint64(0, true);
  }
  LANE.setFloat32(0, v, true);
  return BigInt(LANE.getUint32(0, true));
}
function laneNaN(bits: bigint, w: number): boolean {
  return w === 8
    ? (bits & 0x7ff0000000000000n) === 0x7ff0000000000000n && (bits & 0xfffffffffffffn) !== 0n
    : (bits & 0x7f800000n) === 0x7f800000n && (bits & 0x7fffffn) !== 0n;
}
function laneOp(a: bigint, b: bigint, w: number, op: (x: number, y: number) => number): bigint {
  const quiet = w === 8 ? 0x8000000000000n : 0x400000n;
  if (laneNaN(a, w)) return a | quiet;
  if (laneNaN(b, w)) return b | quiet;
  const r = op(laneVal(a, w), laneVal(b, w));
  if (Number.isNaN(r)) return w === 8 ? 0xfff8000000000000n : 0xffc00000n;
  return laneBits(w === 4 ? Math.fround(r) : r, w);
}
function getLane(x: Uint32Array, base: number, j: number, w: number): bigint {
  return w === 8 ? (BigInt(x[base + 2 * j + 1]!) << 32n) | BigInt(x[base + 2 * j]!) : BigInt(x[base + j]!);
}
function putLane(x: Uint32Array, base: number, j: number, w: number, v: bigint): void {
  if (w === 8) {
    x[base + 2 * j] = Number(v & 0xffffffffn);
    x[base + 2 * j + 1] = Number(v >> 32n);
  } else x[base + j] = Number(v);
}
const ADD = (x: number, y: number) => x + y;
const SUB = (x: number, y: number) => x - y;
const MUL = (x: number, y: number) => x * y;

/**
 * HADDPS/PD, HSUBPS/PD: pairwise sums/differences of adjacent elements. The SDM writes the sum as
 * "xmm1[63:32] + xmm1[31:0]", but Intel hardware propagates the low element's NaN first (test/hw/cpu/sse.test.ts).
 */
const fhadd: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const w = cc & 0xf;
  const subtract = (cc & 0x10) !== 0;
  const d = src(c, i);
  const n = 16 / w;
  const x = c.xu32;
  const out: bigint[] = [];
  for (const [arr, base] of [
    [x, d],
    [SU32, 0],
  ] as const) {
    for (let j = 0; j < n / 2; j++) {
      const lo = getLane(arr, base, 2 * j, w);
      const hi = getLane(arr, base, 2 * j + 1, w);
      // NaN precedence measured on Intel hardware: the low element is the first operand for both.
      out.push(laneOp(lo, hi, w, subtract ? SUB : ADD));
    }
  }
  for (let j = 0; j < n; j++) putLane(x, d, j, w, out[j]!);
};

const faddsub: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  const n = 16 / w;
  for (let j = 0; j < n; j++) {
    const a = w === 8 ? c.xf64[d / 2 + j]! : c.xf32[d + j]!;
    const b = w === 8 ? SF64[j]! : SF32[j]!;
    let r = j % 2 === 0 ? a - b : a + b;
    if (w === 4) r = Math.fround(r);
    putF(c, d, w, j, r, a, b, true);
  }
};

/** CMPPS/PD/SS/SD with predicates 0-7 (EQ LT LE UNORD NEQ NLT NLE ORD); legacy SSE uses imm8[2:0]. */
const fcmp: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const w = cc & 0xf;
  const scalar = (cc & 0x10) !== 0;
  const d = src(c, i, !scalar);
  const n = scalar ? 1 : 16 / w;
  const p = i.imm & 7;
  for (let j = 0; j < n; j++) {
    const a = w === 8 ? c.xf64[d / 2 + j]! : c.xf32[d + j]!;
    const b = w === 8 ? SF64[j]! : SF32[j]!;
    const un = Number.isNaN(a) || Number.isNaN(b);
    let t: boolean;
    switch (p) {
      case 0:
        t = a === b;
        break;
      case 1:
        t = a < b;
        break;
      case 2:
        t = a <= b;
        break;
      case 3:
        t = un;
        break;
      case 4:
        t = !(a === b);
        break;
      case 5:
        t = !(a < b);
        break;
      case 6:
        t = !(a <= b);
        break;
      default:
        t = !un;
    }
    const m = t ? -1 : 0;
    if (w === 8) c.x32[d + 2 * j] = c.x32[d + 2 * j + 1] = m;
    else c.x32[d + j] = m;
  }
};

/** COMISS/COMISD/UCOMISS/UCOMISD: ZF,PF,CF = 111 unordered, 000 greater, 001 less, 100 equal; OF,SF,AF = 0. */
const comis: Handler = (c, i) => {
  const w = i.row!.cc! & 0xf;
  const d = src(c, i, false);
  const a = w === 8 ? c.xf64[d / 2]! : c.xf32[d]!;
  const b = w === 8 ? SF64[0]! : SF32[0]!;
  let f = 0;
  if (Number.isNaN(a) || Number.isNaN(b)) f = ZF | PF | CF;
  else if (a < b) f = CF;
  else if (a === b) f = ZF;
  materialize(c);
  c.flags = (c.flags & ~(CF | PF | AF | ZF | SF | OF)) | f;
};

const shufp: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  const imm = i.imm & 0xff;
  if (w === 4) {
    T32[0] = c.x32[d + (imm & 3)]!;
    T32[1] = c.x32[d + ((imm >> 2) & 3)]!;
    T32[2] = S32[(imm >> 4) & 3]!;
    T32[3] = S32[(imm >> 6) & 3]!;
  } else {
    const s0 = (imm & 1) * 2;
    const s1 = ((imm >> 1) & 1) * 2;
    T32[0] = c.x32[d + s0]!;
    T32[1] = c.x32[d + s0 + 1]!;
    T32[2] = S32[s1]!;
    T32[3] = S32[s1 + 1]!;
  }
  put4(c.x32, d, T32);
};

/** Rounds to an integer per mode 0 nearest-even, 1 down, 2 up, 3 toward zero. */
function roundMode(x: number, mode: number): number {
  switch (mode) {
    case 0: {
      const r = Math.round(x);
      return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r === 0 && x < 0 ? -0 : r;
    }
    case 1:
      return Math.floor(x);
    case 2:
      return Math.ceil(x);
    default:
      return Math.trunc(x);
  }
}

function rcMode(c: Cpu): number {
  return (c.mxcsr >> 13) & 3;
}

/** Float → int32/int64 with the "integer indefinite" result for NaN and out-of-range values. */
function f2i(c: Cpu, x: number, trunc: boolean, size: number): [number, number] {
  const r = trunc ? Math.trunc(x) : roundMode(x, rcMode(c));
  if (size === 4) {
    if (Number.isNaN(r) || r >= 2 ** 31 || r < -(2 ** 31)) return [0x80000000 | 0, 0];
    return [r | 0, 0];
  }
  if (Number.isNaN(r) || r >= 2 ** 63 || r < -(2 ** 63)) return [0, 0x80000000 | 0];
  const lo = r % TWO32;
  const hi = Math.floor(r / TWO32);
  return [lo | 0, hi | 0];
}

const cvtf2si: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const w = cc & 0xf;
  const trunc = (cc & 0x10) !== 0;
  src(c, i, false);
  const d = i.ops[0]!;
  const x = w === 8 ? SF64[0]! : SF32[0]!;
  const [lo, hi] = f2i(c, x, trunc, d.size);
  setReg(c, d.reg, d.size, lo, hi);
};

/** Exact int64 → binary32 with a single rounding (round to nearest even), via the exact magnitude. */
function i64ToF32(lo: number, hi: number): number {
  const v = hi * TWO32 + (lo >>> 0);
  if (Math.abs(v) < 2 ** 53) return Math.fround(v);
  const b = BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
  const neg = b < 0n;
  const mag = neg ? -b : b;
  // Keep 24 significant bits: drop `e` low bits with round-half-even on the dropped part.
  const e = mag.toString(2).length - 24;
  const shift = BigInt(e);
  const q = mag >> shift;
  const rem = mag - (q << shift);
  const half = 1n << (shift - 1n);
  let r = q;
  if (rem > half || (rem === half && (q & 1n) === 1n)) r += 1n;
  const out = Number(r) * 2 ** e;
  return neg ? -out : out;
}

const cvtsi2f: Handler = (c, i) => {
  const a = addr(c, i);
  const s = i.ops[1]!;
  const lo = ld(c, i, s, a);
  const hi = s.size === 8 ? c.hi : lo >> 31;
  const d = i.ops[0]!.reg * 4;
  if (i.row!.cc === 8) c.xf64[d / 2] = hi * TWO32 + (lo >>> 0);
  else c.xf32[d] = s.size === 8 ? i64ToF32(lo, hi) : Math.fround(lo);
};

function f64to32bits(c: Cpu, x: number, bits: Int32Array, k: number, dst: number): void {
  if (!Number.isNaN(x)) {
    c.xf32[dst] = x;
    return;
  }
  // NaN: keep sign and the top 22 payload bits, quiet.
  const hi = bits[k + 1]!;
  const lo = bits[k]!;
  c.x32[dst] = (hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29);
}

function f32to64(c: Cpu, x: number, bits: number, dst: number): void {
  if (!Number.isNaN(x)) {
    c.xf64[dst / 2] = x;
    return;
  }
  c.x32[dst] = (bits & 7) << 29;
  c.x32[dst + 1] = (bits & 0x80000000) | 0x7ff80000 | ((bits & 0x3fffff) >>> 3);
}

/**
 * Conversions (cc): 0 CVTPS2PD, 1 CVTPD2PS, 2 CVTSS2SD, 3 CVTSD2SS, 4 CVTDQ2PS, 5 CVTPS2DQ, 6 CVTTPS2DQ,
 * 7 CVTTPD2DQ, 8 CVTDQ2PD, 9 CVTPD2DQ.
 */
const cvtfp: Handler = (c, i) => {
  const k = i.row!.cc!;
  const d = src(c, i, k !== 0 && k !== 2 && k !== 3 && k !== 8);
  switch (k) {
    case 0: {
      const b0 = S32[0]!;
      const b1 = S32[1]!;
      const x0 = SF32[0]!;
      const x1 = SF32[1]!;
      f32to64(c, x0, b0, d);
      f32to64(c, x1, b1, d + 2);
      return;
    }
    case 1:
      f64to32bits(c, SF64[0]!, S32, 0, d);
      f64to32bits(c, SF64[1]!, S32, 2, d + 1);
      c.x32[d + 2] = c.x32[d + 3] = 0;
      return;
    case 2:
      f32to64(c, SF32[0]!, S32[0]!, d);
      return;
    case 3:
      f64to32bits(c, SF64[0]!, S32, 0, d);
      return;
    case 4:
      for (let j = 0; j < 4; j++) c.xf32[d + j] = Math.fround(S32[j]!);
      return;
    case 5:
    case 6:
      for (let j = 0; j < 4; j++) c.x32[d + j] = f2i(c, SF32[j]!, k === 6, 4)[0];
      return;
    case 7:
    case 9:
      c.x32[d] = f2i(c, SF64[0]!, k === 7, 4)[0];
      c.x32[d + 1] = f2i(c, SF64[1]!, k === 7, 4)[0];
      c.x32[d + 2] = c.x32[d + 3] = 0;
      return;
    default: {
      const a0 = S32[0]!;
      const a1 = S32[1]!;
      c.xf64[d / 2] = a0;
      c.xf64[d / 2 + 1] = a1;
    }
  }
};

/** ROUNDPS/PD/SS/SD: imm[1:0] mode unless imm[2] selects MXCSR.RC; NaN inputs are quieted. */
const fround: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const w = cc & 0xf;
  const scalar = (cc & 0x10) !== 0;
  const d = src(c, i, !scalar);
  const imm = i.imm & 0xff;
  const mode = imm & 4 ? rcMode(c) : imm & 3;
  const n = scalar ? 1 : 16 / w;
  for (let j = 0; j < n; j++) {
    const b = w === 8 ? SF64[j]! : SF32[j]!;
    let r = Number.isNaN(b) || !Number.isFinite(b) ? b : roundMode(b, mode);
    if (r === 0 && (b < 0 || Object.is(b, -0))) r = -0;
    if (Number.isNaN(b)) {
      if (w === 8) {
        c.x32[d + 2 * j] = S32[2 * j]!;
        c.x32[d + 2 * j + 1] = S32[2 * j + 1]! | 0x00080000;
      } else c.x32[d + j] = S32[j]! | 0x00400000;
    } else if (w === 8) c.xf64[d / 2 + j] = r;
    else c.xf32[d + j] = r;
  }
};

/** DPPS/DPPD: products of the lanes selected by imm[7:4] (summed), written to the lanes selected by imm[3:0]. */
/** DPPS/DPPD: products of the lanes selected by imm[7:4], summed pairwise as the SDM's pseudocode does. */
const fdp: Handler = (c, i) => {
  const w = i.row!.cc!;
  const d = src(c, i);
  const imm = i.imm & 0xff;
  const n = 16 / w;
  const x = c.xu32;
  const p: bigint[] = [];
  for (let j = 0; j < n; j++) {
    p.push((imm >> (4 + j)) & 1 ? laneOp(getLane(x, d, j, w), getLane(SU32, 0, j, w), w, MUL) : 0n);
  }
  // NaN precedence measured on Intel hardware: the higher-indexed partial result is the first operand.
  const sum =
    w === 8 ? laneOp(p[1]!, p[0]!, w, ADD) : laneOp(laneOp(p[3]!, p[2]!, w, ADD), laneOp(p[1]!, p[0]!, w, ADD), w, ADD);
  for (let j = 0; j < n; j++) putLane(x, d, j, w, (imm >> j) & 1 ? sum : 0n);
};

const insertps: Handler = (c, i) => {
  const a = addr(c, i);
  const imm = i.imm & 0xff;
  const s = i.ops[1]!;
  const d = i.ops[0]!.reg * 4;
  const v = s.kind === OK.XMM ? c.x32[s.reg * 4 + ((imm >> 6) & 3)]! : c.m.rd32(a);
  c.x32[d + ((imm >> 4) & 3)] = v;
  for (let j = 0; j < 4; j++) if ((imm >> j) & 1) c.x32[d + j] = 0;
};

/**
 * PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (SDM Vol. 2 §4.1 "Imm8 Control Byte Operation for PCMPESTRI /
 * PCMPESTRM / PCMPISTRI / PCMPISTRM"): imm8[1:0] element format, [3:2] aggregation, [5:4] polarity,
 * [6] output selection. Invalid elements (past the length or the first NUL) follow Table 4-7's overrides.
 */
const pcmpstr: Handler = (c, i) => {
  const cc = i.row!.cc!;
  const explicit = (cc & 2) !== 0;
  const index = (cc & 1) !== 0;
  const d = src(c, i, false);
  const imm = i.imm & 0xff;
  const words = (imm & 1) !== 0;
  const signed = (imm & 2) !== 0;
  const n = words ? 8 : 16;
  const elem = (arr: 'd' | 's', k: number): number => {
    if (words) return arr === 'd' ? (signed ? c.xi16[d * 2 + k]! : c.x16[d * 2 + k]!) : signed ? SI16[k]! : S16[k]!;
    return arr === 'd' ? (signed ? c.xi8[d * 4 + k]! : c.x8[d * 4 + k]!) : signed ? SI8[k]! : S8[k]!;
  };
  const implicitLen = (arr: 'd' | 's'): number => {
    for (let k = 0; k < n; k++) if (elem(arr, k) === 0) return k;
    return n;
  };
  const explicitLen = (reg: number): number => {
    // |rAX| / |rDX| (64-bit with REX.W), saturated to the element count.
    const lo = c.r[reg * 2]!;
    const v = i.rex & 8 ? Math.abs(c.r[reg * 2 + 1]! * TWO32 + (lo >>> 0)) : Math.abs(lo);
    return Math.min(v, n);
  };
  const len1 = explicit ? explicitLen(0) : implicitLen('d');
  const len2 = explicit ? explicitLen(2) : implicitLen('s');
  const agg = (imm >> 2) & 3;
  let res1 = 0;
  for (let j = 0; j < n; j++) {
    let bit = false;
    const v2 = j < len2;
    switch (agg) {
      case 0: // equal any
        if (v2) for (let k = 0; k < len1 && !bit; k++) bit = elem('d', k) === elem('s', j);
        break;
      case 1: // ranges: pairs (lo, hi) of the first operand
        if (v2)
          for (let k = 0; k + 1 < len1 + 1 && k + 1 < n && !bit; k += 2)
            bit = k + 1 < len1 && elem('d', k) <= elem('s', j) && elem('s', j) <= elem('d', k + 1);
        break;
      case 2: {
        // equal each
        const v1 = j < len1;
        bit = v1 && v2 ? elem('d', j) === elem('s', j) : !v1 && !v2;
        break;
      }
      default: // equal ordered (substring)
        bit = true;
        for (let k = 0; k < n - j && bit; k++) {
          if (k >= len1) break; // invalid element of the first operand: forced true
          if (j + k >= len2)
            bit = false; // valid needle, exhausted haystack
          else bit = elem('d', k) === elem('s', j + k);
        }
    }
    if (bit) res1 |= 1 << j;
  }
  const full = (1 << n) - 1;
  const pol = (imm >> 4) & 3;
  const res2 = pol === 1 ? ~res1 & full : pol === 3 ? res1 ^ ((1 << len2) - 1) : res1;
  if (index) {
    let idx = n;
    if (res2) idx = imm & 0x40 ? 31 - Math.clz32(res2) : 31 - Math.clz32(res2 & -res2);
    setReg(c, 1, 4, idx, 0);
  } else if (imm & 0x40) {
    for (let j = 0; j < n; j++) {
      const on = (res2 >> j) & 1 ? -1 : 0;
      if (words) c.x16[j] = on;
      else c.x8[j] = on;
    }
  } else {
    c.x32[0] = res2;
    c.x32[1] = c.x32[2] = c.x32[3] = 0;
  }
  materialize(c);
  c.flags =
    (c.flags & ~(CF | PF | AF | ZF | SF | OF)) |
    (res2 ? CF : 0) |
    (len2 < n ? ZF : 0) |
    (len1 < n ? SF : 0) |
    (res2 & 1 ? OF : 0);
};

/** SSE family handlers by opcode-table `sem` name. */
// ---- AES-NI and PCLMULQDQ (SDM Vol. 2 "AESENC", "PCLMULQDQ"; FIPS 197 for the round functions) --------------

const SBOX = new Uint8Array(256);
const INV_SBOX = new Uint8Array(256);
{
  // The AES S-box from its definition (FIPS 197 §5.1.1): multiplicative inverse in GF(2^8), then the affine map.
  let p = 1;
  let q = 1;
  do {
    p = p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const x = q ^ ((q << 1) | (q >> 7)) ^ ((q << 2) | (q >> 6)) ^ ((q << 3) | (q >> 5)) ^ ((q << 4) | (q >> 4));
    SBOX[p] = (x ^ 0x63) & 0xff;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let k = 0; k < 256; k++) INV_SBOX[SBOX[k]!] = k;
}

/** Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1. */
function gmul(a: number, b: number): number {
  let r = 0;
  for (let k = 0; k < 8; k++) {
    if (b & 1) r ^= a;
    const hi = a & 0x80;
    a = (a << 1) & 0xff;
    if (hi) a ^= 0x1b;
    b >>= 1;
  }
  return r;
}

const ST = new Uint8Array(16);

/** ShiftRows (or its inverse) on the state bytes in ST; byte r + 4c is row r, column c. */
function shiftRows(inv: boolean): void {
  const t = Uint8Array.from(ST);
  for (let r = 0; r < 4; r++)
    for (let col = 0; col < 4; col++) ST[r + 4 * col] = t[r + 4 * ((inv ? col - r + 4 : col + r) % 4)]!;
}

function mixColumns(inv: boolean): void {
  for (let col = 0; col < 4; col++) {
    const [a0, a1, a2, a3] = [ST[4 * col]!, ST[4 * col + 1]!, ST[4 * col + 2]!, ST[4 * col + 3]!];
    const m = inv ? [14, 11, 13, 9] : [2, 3, 1, 1];
    ST[4 * col] = gmul(a0, m[0]!) ^ gmul(a1, m[1]!) ^ gmul(a2, m[2]!) ^ gmul(a3, m[3]!);
    ST[4 * col + 1] = gmul(a0, m[3]!) ^ gmul(a1, m[0]!) ^ gmul(a2, m[1]!) ^ gmul(a3, m[2]!);
    ST[4 * col + 2] = gmul(a0, m[2]!) ^ gmul(a1, m[3]!) ^ gmul(a2, m[0]!) ^ gmul(a3, m[1]!);
    ST[4 * col + 3] = gmul(a0, m[1]!) ^ gmul(a1, m[2]!) ^ gmul(a2, m[3]!) ^ gmul(a3, m[0]!);
  }
}

/** AESENC (0), AESENCLAST (1), AESDEC (2), AESDECLAST (3): one round on the destination with the source as key; AESIMC (4). */
const aes: Handler = (c, i) => {
  const k = i.row!.cc!;
  const d = src(c, i);
  const b8 = d * 4;
  if (k === 4) {
    ST.set(S8);
    mixColumns(true);
    c.x8.set(ST, b8);
    return;
  }
  ST.set(c.x8.subarray(b8, b8 + 16));
  const dec = k >= 2;
  shiftRows(dec);
  const box = dec ? INV_SBOX : SBOX;
  for (let j = 0; j < 16; j++) ST[j] = box[ST[j]!]!;
  if (k === 0 || k === 2) mixColumns(dec);
  for (let j = 0; j < 16; j++) c.x8[b8 + j] = ST[j]! ^ S8[j]!;
};

/** AESKEYGENASSIST: SubWord/RotWord of source dwords 1 and 3, XOR the round constant imm8. */
const aeskeygen: Handler = (c, i) => {
  const d = src(c, i);
  const rcon = i.imm & 0xff;
  const sub = (w: number) =>
    SBOX[w & 0xff]! | (SBOX[(w >>> 8) & 0xff]! << 8) | (SBOX[(w >>> 16) & 0xff]! << 16) | (SBOX[w >>> 24]! << 24);
  const rot = (w: number) => (w >>> 8) | (w << 24);
  const x1 = sub(SU32[1]!);
  const x3 = sub(SU32[3]!);
  c.x32[d] = x1;
  c.x32[d + 1] = rot(x1) ^ rcon;
  c.x32[d + 2] = x3;
  c.x32[d + 3] = rot(x3) ^ rcon;
};

/** PCLMULQDQ: carry-less 64×64 → 128 of the qwords selected by imm8[0] (destination) and imm8[4] (source). */
const pclmul: Handler = (c, i) => {
  const d = src(c, i);
  const imm = i.imm & 0xff;
  const aj = d + (imm & 1 ? 2 : 0);
  const al = c.x32[aj]!;
  const ah = c.x32[aj + 1]!;
  const bl = S32[imm & 0x10 ? 2 : 0]!;
  const bh = S32[imm & 0x10 ? 3 : 1]!;
  let r0 = 0;
  let r1 = 0;
  let r2 = 0;
  let r3 = 0;
  for (let k = 0; k < 64; k++) {
    const bit = k < 32 ? (bl >>> k) & 1 : (bh >>> (k - 32)) & 1;
    if (!bit) continue;
    // XOR (a << k) into the 128-bit result.
    if (k === 0) {
      r0 ^= al;
      r1 ^= ah;
    } else if (k < 32) {
      r0 ^= al << k;
      r1 ^= (ah << k) | (al >>> (32 - k));
      r2 ^= ah >>> (32 - k);
    } else if (k === 32) {
      r1 ^= al;
      r2 ^= ah;
    } else {
      const s = k - 32;
      r1 ^= al << s;
      r2 ^= (ah << s) | (al >>> (32 - s));
      r3 ^= ah >>> (32 - s);
    }
  }
  c.x32[d] = r0;
  c.x32[d + 1] = r1;
  c.x32[d + 2] = r2;
  c.x32[d + 3] = r3;
};

export const SSE_HANDLERS: Record<string, Handler> = {
  aes,
  aeskeygen,
  pclmul,
  pcmpstr,
  movx: moveFull(false),
  movxa: moveFull(true),
  movss: moveScalar(4),
  movsd: moveScalar(8),
  movq,
  movdToX,
  movdFromX,
  movlo,
  movhi,
  movhl,
  movdup,
  movmsk,
  pmovmskb,
  maskmov,
  plogic,
  padd,
  psub,
  paddsat,
  pmul,
  pavg,
  pminmax,
  pcmpeq,
  pcmpgt,
  pack,
  punpck,
  pshuf,
  pshufb,
  pshift,
  pshiftI,
  pbshift,
  psadbw,
  pinsr,
  pextr,
  palignr,
  psign,
  pabs,
  phadd,
  pmovx,
  ptest,
  pblendv,
  pblend,
  phminposuw,
  mpsadbw,
  fadd: farith((a, b) => a + b),
  fsub: farith((a, b) => a - b),
  fmul: farith((a, b) => a * b),
  fdiv: farith((a, b) => a / b),
  fsqrt: farith((_a, b) => Math.sqrt(b), true),
  fmin: fminmax(false),
  fmax: fminmax(true),
  fhadd,
  faddsub,
  fcmp,
  comis,
  shufp,
  cvtf2si,
  cvtsi2f,
  cvtfp,
  fround,
  fdp,
  insertps,
};
