/**
 * One logical processor's architectural state and the helpers every instruction handler uses: registers,
 * lazily evaluated arithmetic flags, effective addresses and typed memory access through the MMU.
 *
 * 64-bit registers are kept as lo/hi int32 halves in an Int32Array (no BigInt in the hot path). A handler
 * that produces a 64-bit value returns the low half and leaves the high half in `cpu.hi`.
 *
 * Arithmetic flags are lazy: a flag-setting instruction records its result and the CF/AF/OF bits it computed
 * (`lres`, `lhi`, `lsize`, `laux`); ZF, SF and PF are derived from the result only when read. `getFlags()`
 * materialises RFLAGS. The state is plain data: `saveCpu()`/`restoreCpu()` round-trip through JSON.
 */

import { fault, gp, Vector } from '../fault';
import type { PhysMem } from '../mem/phys-mem';
import { Rng } from '../rng';
import type { Insn } from './decoder';
import { SEG_FS, SEG_GS } from './decoder';
import { type AccessHook, CANON_HI, CANON_LO, Mmu } from './mmu';
import type { PageTable } from './page-table';

// RFLAGS bits (SDM Vol. 1 §3.4.3).
export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const TF = 1 << 8;
export const IF = 1 << 9;
export const DF = 1 << 10;
export const OF = 1 << 11;
export const AC = 1 << 18;
export const ID = 1 << 21;
/** The six arithmetic flags. */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Flags user code can change with POPF at CPL 3, IOPL 0 (SDM Vol. 2 "POPF": IF and IOPL are kept). */
export const POPF_USER = ARITH | TF | DF | AC | ID;

/** The enclave-mode block: filled by EENTER/ERESUME (SDM Vol. 3D §37.2), null outside enclave mode. */
export interface EnclaveMode {
  /** Physical address of the current SECS. */
  readonly secs: number;
  /** Linear address of the TCS in use. */
  readonly tcs: number;
  /** Current State Save Area slot (TCS.CSSA at entry). */
  readonly cssa: number;
  readonly elrangeBase: number;
  readonly elrangeSize: number;
  /**
   * TCS.FLAGS.DBGOPTIN of the entry. On an opt-out entry (false or absent) "any attempt to set TF via a POPF
   * instruction while inside the enclave clears TF" (SDM Vol. 3D §42.2.5).
   */
  readonly optIn?: boolean;
  /** Anything else the SGX layer needs across save/restore (plain JSON). */
  readonly data?: unknown;
}

/** The complete architectural state as plain JSON (64-bit quantities as 16-digit hex strings). */
export interface CpuState {
  /** RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15. */
  readonly gpr: readonly string[];
  readonly rip: string;
  readonly rflags: number;
  readonly fsBase: string;
  readonly gsBase: string;
  /** XMM0..15 as 32-digit hex strings (most significant digit first). */
  readonly xmm: readonly string[];
  readonly mxcsr: number;
  readonly x87: {
    readonly fcw: number;
    readonly fsw: number;
    /** Abridged tag word (FXSAVE format: one bit per register, 1 = valid). */
    readonly ftw: number;
    readonly fop: number;
    readonly fip: string;
    readonly fdp: string;
    /** ST0..7 / MM0..7 as 20-digit hex strings (80-bit). */
    readonly st: readonly string[];
  };
  readonly cpl: number;
  readonly enclave: EnclaveMode | null;
  /** Instructions retired. */
  readonly icount: number;
}

/** Everything a CPU needs from the machine. */
export interface CpuOptions {
  readonly mem: PhysMem;
  readonly pageTable: PageTable;
  /** Shared decoded-instruction cache; one per PhysMem. Defaults to a private one. */
  readonly cache?: CodeCache;
  /** Source for RDRAND/RDSEED. */
  readonly rng?: Rng;
  /** Access hook consulted at TLB fill (SGX EPCM checks). Defaults to abort-page semantics for EPC. */
  readonly accessHook?: AccessHook;
  /** Virtual time-stamp counter for RDTSC/RDTSCP; defaults to the retired-instruction count. */
  readonly tsc?: () => number;
  /**
   * CPUID override: return [eax, ebx, ecx, edx] to replace a leaf (the SGX layer answers leaf 0x12 here),
   * or undefined for the built-in value.
   */
  readonly cpuid?: (leaf: number, subleaf: number) => readonly [number, number, number, number] | undefined;
  /** Processor number reported by RDPID/RDTSCP (IA32_TSC_AUX). */
  readonly tscAux?: number;
  /**
   * Compile hot blocks to JS functions with `new Function` (default true). Turn off where eval is not
   * allowed (a strict Content-Security-Policy); results are identical either way.
   */
  readonly jit?: boolean;
  /** Entries of a block before its region is compiled (default 32; 0 compiles on first use, as tests do). */
  readonly jitThreshold?: number;
}

/** The interface the MMU and run loop need from the decoded-instruction cache (decode-cache.ts). */
export interface CodeCache {
  isCode(pfn: number): boolean;
  invalidatePage(pfn: number): void;
  attach(mmu: Mmu): void;
}

/** Thrown inside handlers to stop run() for a reason other than a fault (SYSCALL, ENCLU, HLT, INT n). */
export class StopSignal {
  constructor(
    readonly kind: 'syscall' | 'enclu' | 'encls' | 'hlt' | 'int',
    /** Whether RIP moves past the instruction before stopping. */
    readonly advance: boolean,
    readonly vector = 0,
  ) {}
}

const TWO32 = 4294967296;

/**
 * One logical processor: architectural state plus its MMU, the shared decode cache and the injected Rng.
 * Create it with `createCpu()` (run.ts) and drive it with `run()`.
 */
export class Cpu {
  /** GPRs as lo/hi int32 pairs: r[2n] low half, r[2n+1] high half. */
  readonly r = new Int32Array(32);
  rip = 0;
  /** RIP of the next instruction, set by run() before each handler; branches overwrite it. */
  nextRip = 0;
  /** Non-arithmetic RFLAGS bits, plus the arithmetic ones while `lazy` is 0. Bit 1 is always set. */
  flags = 0x202;
  lazy = 0;
  lres = 0;
  lhi = 0;
  lsize = 4;
  laux = 0;
  /** High half of the last 64-bit value a helper produced. */
  hi = 0;
  fsBase = 0;
  gsBase = 0;
  readonly xmmBuf = new ArrayBuffer(256);
  readonly x32 = new Int32Array(this.xmmBuf);
  readonly xu32 = new Uint32Array(this.xmmBuf);
  readonly x16 = new Uint16Array(this.xmmBuf);
  readonly xi16 = new Int16Array(this.xmmBuf);
  readonly x8 = new Uint8Array(this.xmmBuf);
  readonly xi8 = new Int8Array(this.xmmBuf);
  readonly xf32 = new Float32Array(this.xmmBuf);
  readonly xf64 = new Float64Array(this.xmmBuf);
  mxcsr = 0x1f80;
  fcw = 0x037f;
  fsw = 0;
  ftw = 0;
  fop = 0;
  fip = 0;
  fdp = 0;
  readonly st = new Uint8Array(80);
  cpl = 3;
  enclave: EnclaveMode | null = null;
  icount = 0;
  /** Index of the instruction a compiled region is executing (jit.ts `Compiled.insns`), for fault reporting. */
  blk = 0;
  /** Instructions a compiled region retired before the block of the instruction that threw. */
  blkBase = 0;
  readonly m: Mmu;
  readonly cache: CodeCache;
  readonly rng: Rng;
  readonly opts: CpuOptions;

  constructor(opts: CpuOptions, makeCache: () => CodeCache) {
    this.opts = opts;
    this.cache = opts.cache ?? makeCache();
    this.m = new Mmu({
      mem: opts.mem,
      pageTable: opts.pageTable,
      code: this.cache,
      ...(opts.accessHook && { hook: opts.accessHook }),
    });
    this.cache.attach(this.m);
    this.rng = opts.rng ?? new Rng('cpu');
  }

  /** Switches address space (MOV CR3): flushes the TLB. */
  setPageTable(pt: PageTable): void {
    this.m.pageTable = pt;
    this.m.flushAll();
  }

  /** Sets the privilege level and enclave block together (the MMU reads both at fill time). */
  setMode(cpl: number, enclave: EnclaveMode | null): void {
    this.cpl = cpl;
    this.enclave = enclave;
    this.m.cpl = cpl;
    this.m.enclave = enclave;
  }

  // ---- 64-bit register access as numbers (edges only: loaders, tests, handlers of rare instructions) -----

  /** Register `n` as an unsigned 64-bit bigint (for tests and tools; not used in the hot path). */
  getReg64(n: number): bigint {
    return (BigInt(this.r[2 * n + 1]! >>> 0) << 32n) | BigInt(this.r[2 * n]! >>> 0);
  }

  setReg64(n: number, v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.r[2 * n] = Number(u & 0xffffffffn) | 0;
    this.r[2 * n + 1] = Number(u >> 32n) | 0;
  }

  /** Register `n` as a signed number (exact for |v| < 2^53: addresses, counts). */
  getRegNum(n: number): number {
    return this.r[2 * n + 1]! * TWO32 + (this.r[2 * n]! >>> 0);
  }

  /** Sets register `n` from a signed or unsigned integer number (exact up to 2^53). */
  setRegNum(n: number, v: number): void {
    setNum(this.r, 2 * n, v);
  }

  /** RFLAGS with the lazy arithmetic flags materialised. */
  getFlags(): number {
    if (!this.lazy) return this.flags;
    return (
      (this.flags & ~ARITH) | this.laux | (lazyZF(this) ? ZF : 0) | (lazySF(this) ? SF : 0) | (lazyPF(this) ? PF : 0)
    );
  }

  /** Writes RFLAGS (all bits given; bit 1 forced to 1). */
  setFlags(v: number): void {
    this.flags = (v | 2) >>> 0;
    this.lazy = 0;
  }
}

/** Writes a number (signed or unsigned integer, |v| ≤ 2^64) as lo/hi halves at r[k], r[k+1]. */
export function setNum(r: Int32Array, k: number, v: number): void {
  const lo = v % TWO32;
  r[k] = lo | 0;
  r[k + 1] = ((v - lo) / TWO32) | 0;
  if (lo < 0) {
    // e.g. v = -1: lo = -1, hi = 0 → must borrow from the high half.
    r[k + 1] = (((v - lo) / TWO32) | 0) - 1;
  }
}

// ---- lazy flags --------------------------------------------------------------------------------------------

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[i] = (b & 1) ^ 1;
}

/** Sign-bit masks per size (size 4 as int32). */
export const SIGN = [0, 0x80, 0x8000, 0, 0x80000000 | 0, 0, 0, 0, 0];
/** Value masks per operand size (size 4 as a 32-bit mask). */
export const MASK = [0, 0xff, 0xffff, 0, 0xffffffff, 0, 0, 0, 0];

function lazyZF(c: Cpu): boolean {
  return (c.lres | c.lhi) === 0;
}
function lazySF(c: Cpu): boolean {
  return c.lsize === 8 ? c.lhi < 0 : (c.lres & SIGN[c.lsize]!) !== 0;
}
function lazyPF(c: Cpu): boolean {
  return PARITY[c.lres & 0xff] === 1;
}

/** Records a flag-setting result: `lo` masked to size (int32 for 4), `hi` only for size 8; aux = CF|AF|OF bits. */
export function setLazy(c: Cpu, lo: number, hi: number, size: number, aux: number): void {
  c.lres = lo;
  c.lhi = hi;
  c.lsize = size;
  c.laux = aux;
  c.lazy = 1;
}

/** Materialises the lazy flags into `c.flags` (before partial flag updates). */
export function materialize(c: Cpu): void {
  if (c.lazy) {
    c.flags = c.getFlags();
    c.lazy = 0;
  }
}

/** CF as 0/1, lazily evaluated. The other getters below read ZF, SF, OF and PF the same way. */
export function getCF(c: Cpu): number {
  return c.lazy ? c.laux & 1 : c.flags & 1;
}
export function getZF(c: Cpu): boolean {
  return c.lazy ? (c.lres | c.lhi) === 0 : (c.flags & ZF) !== 0;
}
export function getSF(c: Cpu): boolean {
  return c.lazy ? lazySF(c) : (c.flags & SF) !== 0;
}
export function getOF(c: Cpu): boolean {
  return c.lazy ? (c.laux & OF) !== 0 : (c.flags & OF) !== 0;
}
export function getPF(c: Cpu): boolean {
  return c.lazy ? lazyPF(c) : (c.flags & PF) !== 0;
}

/** Evaluates condition code `cc` (SDM Vol. 1 Appendix B, Table B-1). */
export function cond(c: Cpu, cc: number): boolean {
  let t: boolean;
  switch (cc >> 1) {
    case 0:
      t = getOF(c);
      break;
    case 1:
      t = getCF(c) !== 0;
      break;
    case 2:
      t = getZF(c);
      break;
    case 3:
      t = getCF(c) !== 0 || getZF(c);
      break;
    case 4:
      t = getSF(c);
      break;
    case 5:
      t = getPF(c);
      break;
    case 6:
      t = getSF(c) !== getOF(c);
      break;
    default:
      t = getZF(c) || getSF(c) !== getOF(c);
  }
  return (cc & 1) === 0 ? t : !t;
}

// ---- registers -----------------------------------------------------------------------------------------------

/** Reads a GPR operand of `size`; byte registers 16-19 are AH, CH, DH, BH. Size 8 leaves the high half in c.hi. */
export function getReg(c: Cpu, reg: number, size: number): number {
  const r = c.r;
  switch (size) {
    case 1:
      return reg >= 16 ? (r[(reg - 16) * 2]! >> 8) & 0xff : r[reg * 2]! & 0xff;
    case 2:
      return r[reg * 2]! & 0xffff;
    case 4:
      return r[reg * 2]!;
    default:
      c.hi = r[reg * 2 + 1]!;
      return r[reg * 2]!;
  }
}

/** Writes a GPR operand: 32-bit writes zero the upper half, 8/16-bit writes keep the rest (SDM Vol. 1 §3.4.1.1). */
export function setReg(c: Cpu, reg: number, size: number, lo: number, hi: number): void {
  const r = c.r;
  switch (size) {
    case 1:
      if (reg >= 16) {
        const k = (reg - 16) * 2;
        r[k] = (r[k]! & ~0xff00) | ((lo & 0xff) << 8);
      } else r[reg * 2] = (r[reg * 2]! & ~0xff) | (lo & 0xff);
      return;
    case 2:
      r[reg * 2] = (r[reg * 2]! & ~0xffff) | (lo & 0xffff);
      return;
    case 4:
      r[reg * 2] = lo;
      r[reg * 2 + 1] = 0;
      return;
    default:
      r[reg * 2] = lo;
      r[reg * 2 + 1] = hi;
  }
}

// ---- effective addresses -------------------------------------------------------------------------------------

/**
 * The linear address of the instruction's memory operand, as a signed number. Non-canonical results raise
 * #GP(0), or #SS(0) when the base is RSP or RBP (SDM Vol. 3A §6.15 "Interrupt 12—Stack Fault Exception").
 */
export function ea(c: Cpu, i: Insn): number {
  const r = c.r;
  let a: number;
  if (i.ripRel) a = c.nextRip + i.disp;
  else {
    a = i.disp;
    if (i.base >= 0) {
      const h = r[i.base * 2 + 1]!;
      // Beyond ±2^52 a double sum could round into the canonical range: take the exact path.
      if (h > 0xfffff || h < -0x100000) return eaSlow(c, i);
      a += h * TWO32 + (r[i.base * 2]! >>> 0);
    }
    if (i.index >= 0) {
      const h = r[i.index * 2 + 1]!;
      if (h > 0xfffff || h < -0x100000) return eaSlow(c, i);
      a += (h * TWO32 + (r[i.index * 2]! >>> 0)) * (1 << i.scale);
    }
  }
  if (i.asize === 4) a = ((a % TWO32) + TWO32) % TWO32;
  if (i.seg === SEG_FS) a += c.fsBase;
  else if (i.seg === SEG_GS) a += c.gsBase;
  if (a < CANON_LO || a >= CANON_HI) return eaSlow(c, i);
  return a;
}

/** Exact 64-bit wrap-around address arithmetic for the rare operands beyond ±2^47 (BigInt off the hot path). */
function eaSlow(c: Cpu, i: Insn): number {
  let a = BigInt(i.disp);
  if (i.ripRel) a += BigInt(c.nextRip);
  if (i.base >= 0) a += c.getReg64(i.base);
  if (i.index >= 0) a += c.getReg64(i.index) << BigInt(i.scale);
  if (i.asize === 4) a = BigInt.asUintN(32, a);
  if (i.seg === SEG_FS) a += BigInt(c.fsBase);
  else if (i.seg === SEG_GS) a += BigInt(c.gsBase);
  const s = Number(BigInt.asIntN(64, a));
  if (s < CANON_LO || s >= CANON_HI) {
    throw i.base === 4 || i.base === 5 ? fault(Vector.SS, 0) : gp(0);
  }
  return s;
}

/** Wraps a signed address sum into the canonical range check (used by stack and string helpers). */
export function checkCanon(a: number, stack: boolean): number {
  if (a < CANON_LO || a >= CANON_HI) throw stack ? fault(Vector.SS, 0) : gp(0);
  return a;
}

// ---- memory operands ----------------------------------------------------------------------------------------

/** Reads `size` bytes at `a` (1/2 unsigned, 4 as int32, 8 low half with high half in c.hi). */
export function readMem(c: Cpu, a: number, size: number): number {
  const m = c.m;
  switch (size) {
    case 1:
      return m.rd8(a);
    case 2:
      return m.rd16(a);
    case 4:
      return m.rd32(a);
    default: {
      const lo = m.rd64(a);
      c.hi = m.hi;
      return lo;
    }
  }
}

/** Writes `size` bytes at `a` (8: low and high halves). */
export function writeMem(c: Cpu, a: number, size: number, lo: number, hi: number): void {
  const m = c.m;
  switch (size) {
    case 1:
      m.wr8(a, lo);
      return;
    case 2:
      m.wr16(a, lo);
      return;
    case 4:
      m.wr32(a, lo);
      return;
    default:
      m.wr64(a, lo, hi);
  }
}

// ---- stack ---------------------------------------------------------------------------------------------------

/** RSP as a number. */
export function rsp(c: Cpu): number {
  return c.r[9]! * TWO32 + (c.r[8]! >>> 0);
}

/** Pushes a value of `size` (2 or 8): the write happens before RSP changes, so a fault leaves RSP intact. */
export function push(c: Cpu, size: number, lo: number, hi: number): void {
  const a = checkCanon(rsp(c) - size, true);
  if (size === 8) c.m.wr64(a, lo, hi);
  else c.m.wr16(a, lo);
  setNum(c.r, 8, a);
}

/** Pops `size` bytes: returns the low half (c.hi holds the high half for 8). RSP moves after the read. */
export function pop(c: Cpu, size: number): number {
  const a = rsp(c);
  let v: number;
  if (size === 8) {
    v = c.m.rd64(checkCanon(a, true));
    c.hi = c.m.hi;
  } else v = c.m.rd16(checkCanon(a, true));
  setNum(c.r, 8, a + size);
  return v;
}

/** Sets RIP for a branch; a non-canonical target faults with #GP(0) at the branch (SDM Vol. 2 "JMP"). */
export function branch(c: Cpu, target: number): void {
  if (target < CANON_LO || target >= CANON_HI) throw gp(0);
  c.nextRip = target;
}

export { TWO32 };
