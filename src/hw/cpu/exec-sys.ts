/**
 * Handlers for system-flavoured user-mode instructions: CPUID, RDTSC(P), RDRAND/RDSEED, RDPID, XGETBV,
 * FS/GS base, SYSCALL, ENCLU/ENCLS, HLT, INT3/INT n/INT1, UD2, the x87 control instructions, MXCSR and the
 * FXSAVE/XSAVE state images (SDM Vol. 1 ch. 10.5 and ch. 13).
 */

import { gp, ud, Vector } from '../fault';
import { ARITH, CF, type Cpu, ea, materialize, StopSignal, setReg, TWO32 } from './cpu';
import { PFX } from './decoder';
import type { Handler } from './exec-int';

/** XCR0: x87 and SSE state are enabled; nothing else (no AVX). */
export const XCR0 = 3;
/** MXCSR_MASK reported by FXSAVE: all 16 defined bits (DAZ supported). */
export const MXCSR_MASK = 0xffff;

/** Brand string for CPUID 0x80000002-4 (48 bytes, NUL-padded). */
const BRAND = 'sgxsim virtual x86-64 processor'.padEnd(48, '\0');

function brandWords(leaf: number): [number, number, number, number] {
  const base = (leaf - 0x80000002) * 16;
  const w = (k: number) =>
    BRAND.charCodeAt(base + k) |
    (BRAND.charCodeAt(base + k + 1) << 8) |
    (BRAND.charCodeAt(base + k + 2) << 16) |
    (BRAND.charCodeAt(base + k + 3) << 24);
  return [w(0), w(4), w(8), w(12)];
}

/**
 * The built-in CPUID table: a processor with exactly the features the interpreter implements, plus SGX1/SGX2
 * enumeration in leaf 7 (the SGX layer answers leaf 0x12 through the cpuid hook).
 */
export function builtinCpuid(leaf: number, sub: number, apicId: number): [number, number, number, number] {
  switch (leaf) {
    case 0:
      // Max basic leaf 0x12 (SGX enumeration), "GenuineIntel".
      return [0x12, 0x756e6547, 0x6c65746e, 0x49656e69];
    case 1: {
      const ecx =
        (1 << 0) | // SSE3
        (1 << 1) | // PCLMULQDQ
        (1 << 9) | // SSSE3
        (1 << 13) | // CMPXCHG16B
        (1 << 19) | // SSE4.1
        (1 << 20) | // SSE4.2
        (1 << 22) | // MOVBE
        (1 << 23) | // POPCNT
        (1 << 25) | // AES
        (1 << 26) | // XSAVE
        (1 << 27) | // OSXSAVE
        (1 << 30); // RDRAND
      const edx =
        (1 << 0) | // FPU (state only: x87 arithmetic is #UD)
        (1 << 4) | // TSC
        (1 << 8) | // CX8
        (1 << 15) | // CMOV
        (1 << 19) | // CLFSH
        (1 << 24) | // FXSR
        (1 << 25) | // SSE
        (1 << 26); // SSE2
      // Family 6 model 0x9E stepping 0xA (a Coffee Lake part with SGX); CLFLUSH line 8×8 bytes.
      return [0x000906ea, (apicId << 24) | (1 << 16) | (8 << 8), ecx, edx];
    }
    case 7:
      if (sub !== 0) return [0, 0, 0, 0];
      return [
        0,
        (1 << 0) | // FSGSBASE
          (1 << 2) | // SGX
          (1 << 18) | // RDSEED
          (1 << 23), // CLFLUSHOPT
        1 << 22, // RDPID
        0,
      ];
    case 0xd:
      if (sub === 0) return [XCR0, 576, 576, 0];
      if (sub === 1) return [1, 0, 0, 0]; // XSAVEOPT
      return [0, 0, 0, 0];
    case 0x80000000:
      return [0x80000008, 0, 0, 0];
    case 0x80000001:
      return [0, 0, (1 << 0) | (1 << 5) | (1 << 8), (1 << 11) | (1 << 20) | (1 << 27) | (1 << 29)];
    case 0x80000002:
    case 0x80000003:
    case 0x80000004:
      return brandWords(leaf);
    case 0x80000008:
      return [0x3030, 0, 0, 0];
    default:
      return [0, 0, 0, 0];
  }
}

/** "The following instructions cause #UD if executed inside an enclave: CPUID, ... SYSCALL ..." — SDM Vol. 3D §37.6.1. */
function notInEnclave(c: Cpu): void {
  if (c.enclave) throw ud();
}

const cpuid: Handler = (c) => {
  notInEnclave(c);
  const leaf = c.r[0]! >>> 0;
  const sub = c.r[2]! >>> 0;
  const v = c.opts.cpuid?.(leaf, sub) ?? builtinCpuid(leaf, sub, c.opts.tscAux ?? 0);
  setReg(c, 0, 4, v[0] | 0, 0);
  setReg(c, 3, 4, v[1] | 0, 0);
  setReg(c, 1, 4, v[2] | 0, 0);
  setReg(c, 2, 4, v[3] | 0, 0);
};

function tsc(c: Cpu): number {
  return c.opts.tsc ? c.opts.tsc() : c.icount;
}

const rdtsc: Handler = (c) => {
  notInEnclave(c); // SGX1: RDTSC is illegal in enclave mode (SDM Vol. 3D Table 37-1)
  const t = tsc(c);
  setReg(c, 0, 4, (t % TWO32) | 0, 0);
  setReg(c, 2, 4, Math.floor(t / TWO32) | 0, 0);
};

const rdtscp: Handler = (c) => {
  notInEnclave(c);
  const t = tsc(c);
  setReg(c, 0, 4, (t % TWO32) | 0, 0);
  setReg(c, 2, 4, Math.floor(t / TWO32) | 0, 0);
  setReg(c, 1, 4, c.opts.tscAux ?? 0, 0);
};

const rdpid: Handler = (c, i) => {
  setReg(c, i.ops[0]!.reg, 8, c.opts.tscAux ?? 0, 0);
};

/** RDRAND/RDSEED: always succeed (CF = 1), OF/SF/ZF/AF/PF cleared (SDM "RDRAND"). */
const rdrand: Handler = (c, i) => {
  const o = i.ops[0]!;
  const lo = c.rng.nextU32() | 0;
  const hi = o.size === 8 ? c.rng.nextU32() | 0 : 0;
  setReg(c, o.reg, o.size, o.size === 2 ? lo & 0xffff : lo, hi);
  materialize(c);
  c.flags = (c.flags & ~ARITH) | CF;
};

const xgetbv: Handler = (c) => {
  if (c.r[2] !== 0) throw gp(0);
  setReg(c, 0, 4, XCR0, 0);
  setReg(c, 2, 4, 0, 0);
};

/** RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (cc 0-3); a non-canonical base is #GP(0). */
const fsgsbase: Handler = (c, i) => {
  const o = i.ops[0]!;
  const k = i.row!.cc!;
  if (k < 2) {
    const v = k === 0 ? c.fsBase : c.gsBase;
    const lo = (v % TWO32) | 0;
    setReg(c, o.reg, o.size, lo, Math.floor(v / TWO32) | 0);
    return;
  }
  const lo = c.r[o.reg * 2]!;
  const v = o.size === 8 ? c.r[o.reg * 2 + 1]! * TWO32 + (lo >>> 0) : lo >>> 0;
  if (o.size === 8 && (c.r[o.reg * 2 + 1]! > 0x7fff || c.r[o.reg * 2 + 1]! < -0x8000)) throw gp(0);
  if (k === 2) c.fsBase = v;
  else c.gsBase = v;
};

const syscall: Handler = (c) => {
  notInEnclave(c);
  // RCX ← RIP of the next instruction, R11 ← RFLAGS (SDM "SYSCALL"); the kernel side returns with SYSRET.
  c.setRegNum(1, c.nextRip);
  setReg(c, 11, 8, c.getFlags() & ~0x10000, 0);
  throw new StopSignal('syscall', true);
};

/** "#UD If any of the LOCK/OSIZE/REP/VEX prefix is used" — SDM Vol. 3D §40.3 ENCLU, §39 ENCLS. */
const BAD_SGX_PFX = PFX.LOCK | PFX.OPSIZE | PFX.REP | PFX.REPNE;

const enclu: Handler = (c, i) => {
  if (i.pfx & BAD_SGX_PFX) throw ud();
  if (c.cpl !== 3) throw ud(); // "#UD If current privilege level is not 3"
  throw new StopSignal('enclu', false, c.r[0]! >>> 0);
};

const encls: Handler = (c, i) => {
  if (i.pfx & BAD_SGX_PFX) throw ud();
  if (c.cpl !== 0) throw ud(); // "#UD If current privilege level is not 0"
  throw new StopSignal('encls', false, c.r[0]! >>> 0);
};

const hlt: Handler = (c) => {
  if (c.cpl !== 0) throw gp(0); // privileged
  throw new StopSignal('hlt', true);
};

const int3: Handler = () => {
  throw new StopSignal('int', true, Vector.BP);
};

const int1: Handler = () => {
  throw new StopSignal('int', true, Vector.DB);
};

const intn: Handler = (c, i) => {
  notInEnclave(c); // INT n is illegal in enclave mode (SDM Vol. 3D Table 37-1)
  throw new StopSignal('int', true, i.imm & 0xff);
};

const ud2: Handler = () => {
  throw ud();
};

// ---- x87 control state -----------------------------------------------------------------------------------------

const fwait: Handler = () => {};

const fldcw: Handler = (c, i) => {
  c.fcw = c.m.rd16(ea(c, i));
};

const fnstcw: Handler = (c, i) => {
  c.m.wr16(ea(c, i), c.fcw);
};

const fnstsw: Handler = (c, i) => {
  if (i.ops[0]!.kind === 0) setReg(c, 0, 2, c.fsw, 0);
  else c.m.wr16(ea(c, i), c.fsw);
};

/** FNINIT: "FPUControlWord ← 037FH; FPUStatusWord ← 0; FPUTagWord ← FFFFH; ... pointers ← 0". */
function x87Init(c: Cpu): void {
  c.fcw = 0x037f;
  c.fsw = 0;
  c.ftw = 0;
  c.fop = 0;
  c.fip = 0;
  c.fdp = 0;
}

const fninit: Handler = (c) => x87Init(c);

const fnclex: Handler = (c) => {
  c.fsw &= ~0x80ff;
};

// ---- MXCSR ------------------------------------------------------------------------------------------------------

const ldmxcsr: Handler = (c, i) => {
  const v = c.m.rd32(ea(c, i)) >>> 0;
  if (v & ~MXCSR_MASK) throw gp(0); // reserved bits set
  c.mxcsr = v;
};

const stmxcsr: Handler = (c, i) => {
  c.m.wr32(ea(c, i), c.mxcsr);
};

// ---- FXSAVE / XSAVE ---------------------------------------------------------------------------------------------

const scratch = new Uint8Array(576);
const sdv = new DataView(scratch.buffer);

function x87InUse(c: Cpu): boolean {
  return (
    c.fcw !== 0x037f ||
    c.fsw !== 0 ||
    c.ftw !== 0 ||
    c.fop !== 0 ||
    c.fip !== 0 ||
    c.fdp !== 0 ||
    c.st.some((b) => b !== 0)
  );
}

function sseInUse(c: Cpu): boolean {
  for (let k = 0; k < 64; k++) if (c.x32[k] !== 0) return true;
  return false;
}

/** Fills the 512-byte legacy image (SDM Vol. 1 Table 10-2, 64-bit format with REX.W, else 32-bit pointers). */
function legacyImage(c: Cpu, rexW: boolean, x87: boolean, sse: boolean, mxcsr: boolean): void {
  if (x87) {
    sdv.setUint16(0, c.fcw, true);
    sdv.setUint16(2, c.fsw, true);
    scratch[4] = c.ftw;
    scratch[5] = 0;
    sdv.setUint16(6, c.fop, true);
    if (rexW) {
      sdv.setFloat64(8, 0);
      sdv.setUint32(8, c.fip % TWO32, true);
      sdv.setUint32(12, Math.floor(c.fip / TWO32) >>> 0, true);
      sdv.setUint32(16, c.fdp % TWO32, true);
      sdv.setUint32(20, Math.floor(c.fdp / TWO32) >>> 0, true);
    } else {
      // FCS/FDS are deprecated and stored as zero on current processors (CPUID.(7,0):EBX[13]).
      sdv.setUint32(8, c.fip % TWO32, true);
      sdv.setUint32(12, 0, true);
      sdv.setUint32(16, c.fdp % TWO32, true);
      sdv.setUint32(20, 0, true);
    }
    for (let k = 0; k < 8; k++) {
      scratch.set(c.st.subarray(k * 10, k * 10 + 10), 32 + k * 16);
      scratch.fill(0, 32 + k * 16 + 10, 48 + k * 16);
    }
  }
  if (mxcsr) {
    sdv.setUint32(24, c.mxcsr, true);
    sdv.setUint32(28, MXCSR_MASK, true);
  }
  if (sse) scratch.set(c.x8, 160);
}

function loadLegacy(c: Cpu, rexW: boolean, x87: boolean, sse: boolean): void {
  if (x87) {
    c.fcw = sdv.getUint16(0, true);
    c.fsw = sdv.getUint16(2, true);
    c.ftw = scratch[4]!;
    c.fop = sdv.getUint16(6, true) & 0x7ff;
    c.fip = rexW ? sdv.getUint32(12, true) * TWO32 + sdv.getUint32(8, true) : sdv.getUint32(8, true);
    c.fdp = rexW ? sdv.getUint32(20, true) * TWO32 + sdv.getUint32(16, true) : sdv.getUint32(16, true);
    for (let k = 0; k < 8; k++) c.st.set(scratch.subarray(32 + k * 16, 42 + k * 16), k * 10);
  }
  if (sse) c.x8.set(scratch.subarray(160, 416));
}

/** Which bytes of the legacy region each part occupies, for writing only what is saved. */
function writeRange(c: Cpu, a: number, from: number, to: number): void {
  c.m.wrBytes(a + from, scratch, from, to - from);
}

const fxsave: Handler = (c, i) => {
  const a = ea(c, i);
  if (a % 16 !== 0) throw gp(0); // "#GP(0) If a memory operand is not aligned on a 16-byte boundary"
  c.m.probeW(a, 512);
  legacyImage(c, (i.rex & 8) !== 0, true, true, true);
  // Bytes 416-511 are reserved or available to software; FXSAVE does not write them.
  writeRange(c, a, 0, 416);
};

const fxrstor: Handler = (c, i) => {
  const a = ea(c, i);
  if (a % 16 !== 0) throw gp(0);
  c.m.rdBytes(a, 512, scratch);
  const mx = sdv.getUint32(24, true);
  if (mx & ~MXCSR_MASK) throw gp(0); // reserved MXCSR bits
  loadLegacy(c, (i.rex & 8) !== 0, true, true);
  c.mxcsr = mx;
};

/** XSAVE/XSAVEOPT (standard form): RFBM = XCR0 ∧ EDX:EAX; XSTATE_BV[i] ← XINUSE[i] for i in RFBM (SDM §13.7). */
const xsave: Handler = (c, i) => {
  const a = ea(c, i);
  if (a % 64 !== 0) throw gp(0);
  const rfbm = XCR0 & c.r[0]!;
  c.m.probeW(a, 576);
  const x87 = (rfbm & 1) !== 0;
  const sse = (rfbm & 2) !== 0;
  legacyImage(c, (i.rex & 8) !== 0, x87, sse, sse);
  if (x87) {
    writeRange(c, a, 0, 24);
    writeRange(c, a, 32, 160);
  }
  if (sse) {
    writeRange(c, a, 24, 32);
    writeRange(c, a, 160, 416);
  }
  const oldBv = c.m.rd32(a + 512);
  const inuse = (x87InUse(c) ? 1 : 0) | (sseInUse(c) ? 2 : 0);
  c.m.wr32(a + 512, (oldBv & ~rfbm) | (inuse & rfbm));
};

/** XRSTOR (standard form only: XCOMP_BV must be 0 as XSAVEC is not enumerated). */
const xrstor: Handler = (c, i) => {
  const a = ea(c, i);
  if (a % 64 !== 0) throw gp(0);
  c.m.rdBytes(a, 576, scratch);
  const bvLo = sdv.getUint32(512, true);
  const bvHi = sdv.getUint32(516, true);
  // "#GP(0) if XSTATE_BV sets a bit not in XCR0, if XCOMP_BV ≠ 0 here, or if header bytes 16-63 are not 0".
  if (bvHi !== 0 || bvLo & ~XCR0) throw gp(0);
  for (let k = 520; k < 576; k++) if (scratch[k] !== 0) throw gp(0);
  const rfbm = XCR0 & c.r[0]!;
  const mx = sdv.getUint32(24, true);
  if (rfbm & 2 && mx & ~MXCSR_MASK) throw gp(0);
  const rexW = (i.rex & 8) !== 0;
  if (rfbm & 1) {
    if (bvLo & 1) loadLegacy(c, rexW, true, false);
    else {
      x87Init(c);
      c.st.fill(0);
    }
  }
  if (rfbm & 2) {
    if (bvLo & 2) loadLegacy(c, rexW, false, true);
    else c.x32.fill(0);
    c.mxcsr = mx;
  }
};

// ---- the state images AEX and ERESUME move (SDM Vol. 3D §40.4.1, ERESUME) --------------------------------------

/**
 * Saves the x87/SSE components of `rfbm` into the 576-byte legacy region and XSAVE header `area`, in place, as
 * XSAVE64 (REX.W) writes them: "the same format (64-bit) that XSAVE/FXSAVE uses ... when REX.W = 1" (SDM Vol. 3D
 * §40.4 AEX flow). XSTATE_BV[i] ← XINUSE[i] for i in `rfbm`; other bytes of `area` are left as they were.
 */
export function xsaveToArea(c: Cpu, rfbm: number, area: Uint8Array): void {
  const x87 = (rfbm & 1) !== 0;
  const sse = (rfbm & 2) !== 0;
  legacyImage(c, true, x87, sse, sse);
  if (x87) {
    area.set(scratch.subarray(0, 24), 0);
    area.set(scratch.subarray(32, 160), 32);
  }
  if (sse) {
    area.set(scratch.subarray(24, 32), 24);
    area.set(scratch.subarray(160, 416), 160);
  }
  const dv = new DataView(area.buffer, area.byteOffset, 576);
  const inuse = (x87InUse(c) ? 1 : 0) | (sseInUse(c) ? 2 : 0);
  dv.setUint32(512, ((dv.getUint32(512, true) & ~rfbm) | (inuse & rfbm)) >>> 0, true);
}

/**
 * Loads the x87/SSE components of `rfbm` from `area` as XRSTOR64 (standard form) does: a component whose
 * XSTATE_BV bit is clear gets its initial state; MXCSR is loaded whenever SSE is requested. The caller has done
 * the header and MXCSR checks that make XRSTOR #GP (ERESUME: SDM Vol. 3D §41.4 "ERESUME").
 */
export function xrstorFromArea(c: Cpu, rfbm: number, area: Uint8Array): void {
  scratch.set(area.subarray(0, 576));
  const bv = sdv.getUint32(512, true);
  if (rfbm & 1) {
    if (bv & 1) loadLegacy(c, true, true, false);
    else {
      x87Init(c);
      c.st.fill(0);
    }
  }
  if (rfbm & 2) {
    if (bv & 2) loadLegacy(c, true, false, true);
    else c.x32.fill(0);
    c.mxcsr = sdv.getUint32(24, true);
  }
}

/**
 * x87 and SSE to their INIT state, as XRSTOR with RFBM[1:0] set and XSTATE_BV[1:0] clear loads them, with
 * MXCSR = 1F80H: the synthetic state of an AEX (SDM Vol. 3D Table 40-1; FCW 037EH / MXCSR tweaks apply only to
 * #MF and #XM, which the interpreter never raises).
 */
export function x87SseInit(c: Cpu): void {
  x87Init(c);
  c.st.fill(0);
  c.x32.fill(0);
  c.mxcsr = 0x1f80;
}

/** System-flavoured handlers by opcode-table `sem` name. */
export const SYS_HANDLERS: Record<string, Handler> = {
  cpuid,
  rdtsc,
  rdtscp,
  rdpid,
  rdrand,
  xgetbv,
  fsgsbase,
  syscall,
  enclu,
  encls,
  hlt,
  int3,
  int1,
  intn,
  ud2,
  fwait,
  fldcw,
  fnstcw,
  fnstsw,
  fninit,
  fnclex,
  ldmxcsr,
  stmxcsr,
  fxsave,
  fxrstor,
  xsave,
  xrstor,
};
