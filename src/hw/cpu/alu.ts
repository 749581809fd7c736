/**
 * Integer arithmetic on 8/16/32-bit numbers and 64-bit lo/hi int32 pairs, with the flags the SDM defines
 * (Vol. 1 Appendix A "EFLAGS Cross-Reference") and, for "undefined" flags, the values Intel processors
 * produce as observed by the native flag tests (test/hw/cpu/flags.test.ts).
 *
 * Conventions: operands of size 1/2 are unsigned and masked, size 4 is an int32, size 8 is (lo int32, hi int32).
 * Results return the low half; the high half of a 64-bit result is left in `c.hi`.
 */

import { AF, CF, type Cpu, getCF, MASK, OF, SIGN, setLazy, TWO32 } from './cpu';

/** a + b + cin with flags. */
export function add(c: Cpu, size: number, a: number, ah: number, b: number, bh: number, cin: number): number {
  if (size === 8) {
    const lo = (a >>> 0) + (b >>> 0) + cin;
    const c1 = lo > 0xffffffff ? 1 : 0;
    const hi = (ah >>> 0) + (bh >>> 0) + c1;
    const rl = lo | 0;
    const rh = hi | 0;
    const aux = (hi > 0xffffffff ? CF : 0) | ((a ^ b ^ rl) & AF) | (((ah ^ rh) & (bh ^ rh)) < 0 ? OF : 0);
    setLazy(c, rl, rh, 8, aux);
    c.hi = rh;
    return rl;
  }
  const m = MASK[size]!;
  const t = (size === 4 ? a >>> 0 : a) + (size === 4 ? b >>> 0 : b) + cin;
  const r = t & m;
  const aux = (t > m ? CF : 0) | ((a ^ b ^ r) & AF) | ((a ^ r) & (b ^ r) & SIGN[size]! ? OF : 0);
  setLazy(c, r, 0, size, aux);
  return r;
}

/** a - b - bin with flags. */
export function sub(c: Cpu, size: number, a: number, ah: number, b: number, bh: number, bin: number): number {
  if (size === 8) {
    const lo = (a >>> 0) - (b >>> 0) - bin;
    const b1 = lo < 0 ? 1 : 0;
    const hi = (ah >>> 0) - (bh >>> 0) - b1;
    const rl = lo | 0;
    const rh = hi | 0;
    const aux = (hi < 0 ? CF : 0) | ((a ^ b ^ rl) & AF) | (((ah ^ bh) & (ah ^ rh)) < 0 ? OF : 0);
    setLazy(c, rl, rh, 8, aux);
    c.hi = rh;
    return rl;
  }
  const m = MASK[size]!;
  const t = (size === 4 ? a >>> 0 : a) - (size === 4 ? b >>> 0 : b) - bin;
  const r = t & m;
  const aux = (t < 0 ? CF : 0) | ((a ^ b ^ r) & AF) | ((a ^ b) & (a ^ r) & SIGN[size]! ? OF : 0);
  setLazy(c, r, 0, size, aux);
  return r;
}

/** AND/OR/XOR flags: CF = OF = 0, AF = 0 on Intel (architecturally undefined). */
export function logic(c: Cpu, size: number, r: number, rh: number): number {
  setLazy(c, r, size === 8 ? rh : 0, size, 0);
  c.hi = rh;
  return r;
}

/** The eight group-1 operations (ADD OR ADC SBB AND SUB XOR CMP). */
export function alu(c: Cpu, k: number, size: number, a: number, ah: number, b: number, bh: number): number {
  switch (k) {
    case 0:
      return add(c, size, a, ah, b, bh, 0);
    case 1:
      return logic(c, size, a | b, ah | bh);
    case 2:
      return add(c, size, a, ah, b, bh, getCF(c));
    case 3:
      return sub(c, size, a, ah, b, bh, getCF(c));
    case 4:
      return logic(c, size, a & b, ah & bh);
    case 6:
      return logic(c, size, a ^ b, ah ^ bh);
    default:
      return sub(c, size, a, ah, b, bh, 0);
  }
}

/** INC/DEC: like ADD/SUB 1 but CF is preserved (SDM Vol. 2 "INC"). */
export function incdec(c: Cpu, size: number, a: number, ah: number, dec: boolean): number {
  const cf = getCF(c);
  const r = dec ? sub(c, size, a, ah, 1, 0, 0) : add(c, size, a, ah, 1, 0, 0);
  c.laux = (c.laux & ~CF) | cf;
  return r;
}

// ---- shifts and rotates (SDM Vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR") ----------------------------------

function bit64(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/**
 * Group-2 operation `k` (0 ROL, 1 ROR, 2 RCL, 3 RCR, 4 SHL, 5 SHR, 7 SAR) on a value of `size`, count already
 * read from the operand. The count is masked to 5 bits (6 for 64-bit); a masked count of 0 changes nothing.
 * Returns the result (hi in c.hi).
 *
 * OF is architecturally defined only for 1-bit shifts. For larger counts Intel processors apply the 1-bit
 * formula to the original operand — SHL: MSB ^ MSB-1, SHR: MSB, SAR: 0, RCL: MSB ^ MSB-1, RCR: MSB ^ CF,
 * and with a CL count ROL: MSB ^ MSB-1, ROR: MSB ^ LSB — while ROL/ROR by an immediate above 1 leave OF
 * unchanged. AF is cleared by shifts and untouched by rotates. Measured on the host by
 * test/hw/cpu/flags.test.ts.
 */
export function shift(c: Cpu, k: number, size: number, v: number, vh: number, count: number, fromCl = false): number {
  const n = count & (size === 8 ? 63 : 31);
  if (n === 0) {
    c.hi = vh;
    return v;
  }
  if (size === 8) return shift64(c, k, v, vh, n, fromCl);
  const w = size * 8;
  const m = MASK[size]!;
  const sb = SIGN[size]!;
  const u = size === 4 ? v >>> 0 : v;
  const msb = (u & sb) !== 0 ? 1 : 0;
  const msb2 = (u & (sb >>> 1)) !== 0 ? 1 : 0;
  let r: number;
  let cf: number;
  let of: number;
  switch (k) {
    case 0:
    case 1: {
      // ROL/ROR: only CF and OF change; for 8/16-bit the rotation is modulo the width.
      const e = n % w;
      r = e === 0 ? u : k === 0 ? ((u << e) | (u >>> (w - e))) & m : ((u >>> e) | (u << (w - e))) & m;
      if (size === 4) r |= 0;
      cf = k === 0 ? r & 1 : (r & sb) !== 0 ? 1 : 0;
      if (n === 1 || fromCl) setCfOf(c, cf, k === 0 ? msb ^ msb2 : msb ^ (u & 1));
      else setCf(c, cf);
      return r;
    }
    case 2:
    case 3: {
      // RCL/RCR rotate through CF: modulo 9 for bytes, 17 for words (SDM "tempCOUNT ← (COUNT & 1FH) MOD 9").
      const e = size === 1 ? n % 9 : size === 2 ? n % 17 : n;
      // A count that is a multiple of 9 (17) rotates nothing and leaves every flag alone (measured on Intel).
      if (e === 0) return v;
      const cf0 = getCF(c);
      let x = u;
      let carry = cf0;
      for (let s = 0; s < e; s++) {
        if (k === 2) {
          const out = (x & sb) !== 0 ? 1 : 0;
          x = ((x << 1) | carry) & m;
          carry = out;
        } else {
          const out = x & 1;
          x = ((x >>> 1) | (carry ? sb : 0)) & m;
          carry = out;
        }
      }
      r = size === 4 ? x | 0 : x;
      of = k === 2 ? msb ^ msb2 : msb ^ cf0;
      setCfOf(c, carry, of);
      return r;
    }
    case 4:
    case 6:
      if (size === 4) {
        r = u << n;
        cf = (u >>> (32 - n)) & 1;
      } else {
        const t = u * 2 ** n;
        r = t & m;
        cf = Math.floor(t / 2 ** w) & 1;
      }
      of = msb ^ msb2;
      break;
    case 5:
      r = n >= 32 ? 0 : u >>> n;
      if (size === 4) r |= 0;
      cf = n > 32 ? 0 : (u / 2 ** (n - 1)) & 1;
      of = msb;
      break;
    default: {
      const sv = (u << (32 - w)) >> (32 - w);
      r = (sv >> n) & m;
      cf = (sv >> (n - 1)) & 1;
      of = 0;
    }
  }
  setLazy(c, r, 0, size, cf | (of ? OF : 0));
  return r;
}

function shift64(c: Cpu, k: number, lo: number, hi: number, n: number, fromCl: boolean): number {
  let rl: number;
  let rh: number;
  let cf: number;
  let of: number;
  const msb = hi >>> 31;
  const msb2 = (hi >>> 30) & 1;
  switch (k) {
    case 0:
    case 1: {
      const e = k === 0 ? n : 64 - n;
      let l = lo;
      let h = hi;
      let s = e;
      if (s >= 32) {
        const t = l;
        l = h;
        h = t;
        s -= 32;
      }
      if (s) {
        const nh = (h << s) | (l >>> (32 - s));
        l = (l << s) | (h >>> (32 - s));
        h = nh;
      }
      rl = l;
      rh = h;
      cf = k === 0 ? rl & 1 : rh >>> 31;
      if (n === 1 || fromCl) setCfOf(c, cf, k === 0 ? msb ^ msb2 : msb ^ (lo & 1));
      else setCf(c, cf);
      c.hi = rh;
      return rl;
    }
    case 2:
    case 3: {
      let l = lo;
      let h = hi;
      const cf0 = getCF(c);
      let carry = cf0;
      for (let s = 0; s < n; s++) {
        if (k === 2) {
          const out = h >>> 31;
          h = (h << 1) | (l >>> 31);
          l = (l << 1) | carry;
          carry = out;
        } else {
          const out = l & 1;
          l = (l >>> 1) | (h << 31);
          h = (h >>> 1) | (carry << 31);
          carry = out;
        }
      }
      rl = l | 0;
      rh = h | 0;
      of = k === 2 ? msb ^ msb2 : msb ^ cf0;
      setCfOf(c, carry, of);
      c.hi = rh;
      return rl;
    }
    case 4:
    case 6:
      cf = bit64(lo, hi, 64 - n);
      if (n >= 32) {
        rh = n === 32 ? lo : lo << (n - 32);
        rl = 0;
      } else {
        rh = (hi << n) | (lo >>> (32 - n));
        rl = lo << n;
      }
      of = msb ^ msb2;
      break;
    case 5:
      cf = bit64(lo, hi, n - 1);
      if (n >= 32) {
        rl = n === 32 ? hi : hi >>> (n - 32);
        rh = 0;
      } else {
        rl = (lo >>> n) | (hi << (32 - n));
        rh = hi >>> n;
      }
      rl |= 0;
      rh |= 0;
      of = msb;
      break;
    default:
      cf = n - 1 < 32 ? (lo >>> (n - 1)) & 1 : (hi >> (n - 1 - 32)) & 1;
      if (n >= 32) {
        rl = hi >> (n - 32);
        rh = hi >> 31;
      } else {
        rl = (lo >>> n) | (hi << (32 - n));
        rh = hi >> n;
      }
      of = 0;
  }
  setLazy(c, rl, rh, 8, cf | (of ? OF : 0));
  c.hi = rh;
  return rl;
}

/** Sets CF and OF only. While flags are lazy, CF and OF live explicitly in `laux`, so no materialisation. */
function setCfOf(c: Cpu, cf: number, of: number): void {
  if (c.lazy) c.laux = (c.laux & ~(CF | OF)) | cf | (of ? OF : 0);
  else c.flags = (c.flags & ~(CF | OF)) | cf | (of ? OF : 0);
}

/** Sets CF only (rotates by an immediate above 1, BT family). */
export function setCf(c: Cpu, cf: number): void {
  if (c.lazy) c.laux = (c.laux & ~CF) | cf;
  else c.flags = (c.flags & ~CF) | cf;
}

// ---- multiplication and division ---------------------------------------------------------------------------

let mulHi = 0;

/** Unsigned 32×32 → 64: returns the low half (int32); the high half (uint32) is left in `mulHi`. */
export function mulu32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mulHi = (ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
  return ((mid & 0xffff) << 16) | (ll & 0xffff);
}

/** High half (uint32) of the last `mulu32`. */
export function mulHiOf(): number {
  return mulHi;
}

/** The four 32-bit words of a 128-bit product, least significant first. */
export const prod = new Int32Array(4);

/** Unsigned 64×64 → 128 into `prod`. */
export function mulu64(al: number, ah: number, bl: number, bh: number): void {
  const p0 = mulu32(al >>> 0, bl >>> 0);
  const p0h = mulHi;
  const p1 = mulu32(al >>> 0, bh >>> 0);
  const p1h = mulHi;
  const p2 = mulu32(ah >>> 0, bl >>> 0);
  const p2h = mulHi;
  const p3 = mulu32(ah >>> 0, bh >>> 0);
  const p3h = mulHi;
  // Column sums with carries (each fits in a double exactly).
  const w1 = p0h + (p1 >>> 0) + (p2 >>> 0);
  const w2 = Math.floor(w1 / TWO32) + p1h + p2h + (p3 >>> 0);
  const w3 = Math.floor(w2 / TWO32) + p3h;
  prod[0] = p0;
  prod[1] = w1 | 0;
  prod[2] = w2 | 0;
  prod[3] = w3 | 0;
}

/** Signed 64×64 → 128 into `prod`: the unsigned product corrected by the operands' signs. */
export function muls64(al: number, ah: number, bl: number, bh: number): void {
  mulu64(al, ah, bl, bh);
  // (a - 2^64·[a<0])(b - 2^64·[b<0]) = ab - 2^64(b·[a<0] + a·[b<0]) mod 2^128.
  let hl = prod[2]! >>> 0;
  let hh = prod[3]! >>> 0;
  if (ah < 0) {
    const t = hl - (bl >>> 0);
    hh = hh - (bh >>> 0) - (t < 0 ? 1 : 0);
    hl = t < 0 ? t + TWO32 : t;
  }
  if (bh < 0) {
    const t = hl - (al >>> 0);
    hh = hh - (ah >>> 0) - (t < 0 ? 1 : 0);
    hl = t < 0 ? t + TWO32 : t;
  }
  prod[2] = hl | 0;
  prod[3] = hh | 0;
}

/** 64-bit value as bigint (division slow path only). */
function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * Unsigned division of the 128-bit (nh:nl) by d; returns false on #DE (divide by zero or quotient overflow).
 * Quotient in quo[0..1], remainder in quo[2..3]. Doubles are exact below 2^53; larger values use BigInt
 * (rare in practice: 64-bit division with a dividend ≥ 2^53 or a non-zero RDX).
 */
export const quo = new Int32Array(4);

/** Unsigned 128/64 division into `quo`; false on #DE. */
export function divu(nl: number, nlh: number, nh: number, nhh: number, dl: number, dh: number): boolean {
  if (dl === 0 && dh === 0) return false;
  if (nh === 0 && nhh === 0 && nlh >>> 0 < 0x200000 && dh >>> 0 < 0x200000) {
    const n = (nlh >>> 0) * TWO32 + (nl >>> 0);
    const d = (dh >>> 0) * TWO32 + (dl >>> 0);
    let q = Math.floor(n / d);
    let r = n - q * d;
    if (r < 0) {
      q--;
      r += d;
    } else if (r >= d) {
      q++;
      r -= d;
    }
    quo[0] = (q % TWO32) | 0;
    quo[1] = Math.floor(q / TWO32) | 0;
    quo[2] = (r % TWO32) | 0;
    quo[3] = Math.floor(r / TWO32) | 0;
    return true;
  }
  const n = (big(nh, nhh) << 64n) | big(nl, nlh);
  const d = big(dl, dh);
  const q = n / d;
  if (q >> 64n) return false;
  const r = n % d;
  quo[0] = Number(q & 0xffffffffn) | 0;
  quo[1] = Number(q >> 32n) | 0;
  quo[2] = Number(r & 0xffffffffn) | 0;
  quo[3] = Number(r >> 32n) | 0;
  return true;
}

/** Signed 128/64 division (truncating); false on #DE. */
export function divs(nl: number, nlh: number, nh: number, nhh: number, dl: number, dh: number): boolean {
  if (dl === 0 && dh === 0) return false;
  // Fast path: both operands within ±2^53. trunc(n/d) is exact there: the rounding error of n/d is below
  // 1/|d|, the smallest distance from a non-integer quotient to the next integer.
  const small =
    (nh === 0 && nhh === 0 && nlh >= 0 && nlh < 0x200000) || (nh === -1 && nhh === -1 && nlh < 0 && nlh >= -0x200000);
  if (small && dh < 0x200000 && dh >= -0x200000) {
    const n = nlh * TWO32 + (nl >>> 0);
    const d = dh * TWO32 + (dl >>> 0);
    const q = Math.trunc(n / d);
    const r = n - q * d;
    if (q >= 2 ** 63 || q < -(2 ** 63)) return false;
    quo[0] = (q % TWO32) | 0;
    quo[1] = Math.floor(q / TWO32) | 0;
    quo[2] = (r % TWO32) | 0;
    quo[3] = Math.floor(r / TWO32) | 0;
    return true;
  }
  const n = BigInt.asIntN(128, (big(nh, nhh) << 64n) | big(nl, nlh));
  const d = BigInt.asIntN(64, big(dl, dh));
  const q = n / d;
  if (q > 0x7fffffffffffffffn || q < -0x8000000000000000n) return false;
  const r = n % d;
  const uq = BigInt.asUintN(64, q);
  const ur = BigInt.asUintN(64, r);
  quo[0] = Number(uq & 0xffffffffn) | 0;
  quo[1] = Number(uq >> 32n) | 0;
  quo[2] = Number(ur & 0xffffffffn) | 0;
  quo[3] = Number(ur >> 32n) | 0;
  return true;
}

/** Number of trailing zeros of a 32-bit value (32 for 0). */
export function ctz32(x: number): number {
  if (x === 0) return 32;
  return 31 - Math.clz32(x & -x);
}

/** Population count of a 32-bit value. */
export function popcnt32(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
