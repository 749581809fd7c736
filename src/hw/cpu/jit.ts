/**
 * The region compiler: turns a hot region of decoded code — the entry block plus the blocks of the same page it
 * reaches through direct jumps, conditional branches and calls — into one JavaScript function (`new Function`).
 * Blocks become the cases of a `switch` inside a loop, so branches between them (loops that span several
 * blocks, calls within the page) stay inside the function. The common integer, stack, branch and SSE forms are
 * inlined; every other instruction calls its interpreter handler, so both paths share one semantics (the
 * differential, flag and SSE tests run through this path).
 *
 * Inside a compiled region:
 * - GPRs live in JS locals (`l<n>`/`h<n>`: low and high int32 halves) and the lazy flag state in `fl lz fr fh
 *   fs fa` (c.flags, c.lazy, c.lres, c.lhi, c.lsize, c.laux). They are written back to the Cpu at every exit,
 *   before a handler call (and reloaded after it), and when an instruction faults (the `catch`). An inlined
 *   instruction computes everything that can fault before it writes anything, so the locals always hold the
 *   architectural state at the start of the faulting instruction.
 * - Conditions read the operands of the flag-setting instruction of the same block directly (`cmp; jl` becomes
 *   `x < y`); a flag value nothing reads is never computed (V8 drops it, or sinks it into the fault path).
 * - Every memory operand has its own one-entry page cache (`p<j>` page base, `d<j>` the page's DataView),
 *   refilled through the TLB on a miss. Translations cannot change while a region runs (page tables and TLB
 *   flushes change only between run() calls), so a hit is a TLB hit. A store that reaches a code page
 *   invalidates the page's decoded code at the TLB fill (mmu.ts) and leaves the region after the store.
 *
 * Contract with run(): the function returns the instructions retired and leaves RIP at the next one. A block
 * starts only if the remaining budget covers all of it. When an instruction throws, `c.blk` is its index in
 * `Compiled.insns` and `c.blkBase` the instructions retired before its block started.
 */

import { type CpuFault, fault, gp, Vector } from '../fault';
import { shift } from './alu';
import type { Cpu } from './cpu';
import { type Insn, OK, PFX, SEG_NONE } from './decoder';
import { CANON_HI, CANON_LO, type Mmu } from './mmu';
import { F } from './opcodes';

/** A compiled region: returns the instructions retired; `rem` is the remaining budget. */
export type BlockFn = (c: Cpu, insns: readonly Insn[], x: typeof HELPERS, rem: number) => number;

/** One block of a region: its page offset and its instructions. */
export interface RegionBlock {
  readonly off: number;
  readonly insns: readonly Insn[];
}

/** A compiled region and the tables run() needs to place RIP on an instruction that faulted. */
export interface Compiled {
  readonly fn: BlockFn;
  /** Every instruction of the region (the blocks concatenated), indexed by `c.blk`. */
  readonly insns: Insn[];
  /** Page offset of each instruction. */
  readonly off: Int32Array;
  /** Position of each instruction within its block (instructions of the block retired before it). */
  readonly pos: Int32Array;
}

const PAR = new Uint8Array(256);
for (let v = 0; v < 256; v++) {
  let b = v ^ (v >> 4);
  b ^= b >> 2;
  b ^= b >> 1;
  PAR[v] = (b & 1) === 0 ? 4 : 0; // the PF bit value
}

/** The page of `a` for reading (TLB fill on a miss; may fault). */
function pageR(m: Mmu, a: number): DataView {
  const o = a & 4095;
  const p = (a - o) / 4096;
  const s = p & 255;
  if (m.tagR[s] !== p) m.fill(a, 'r');
  return m.dvR[s]!;
}

/** The page of `a` for writing (TLB fill on a miss; may fault; a code page is invalidated and sets m.smc). */
function pageW(m: Mmu, a: number): DataView {
  const o = a & 4095;
  const p = (a - o) / 4096;
  const s = p & 255;
  if (m.tagW[s] !== p) m.fill(a, 'w');
  return m.dvW[s]!;
}

/**
 * The fault for a misaligned 16-byte SSE operand: #GP(0), unless the address is non-canonical through RSP/RBP
 * (#SS(0)), which the handler's address computation reports first.
 */
function misaligned(a: number, ss: boolean): CpuFault {
  return ss && !(a >= CANON_LO && a < CANON_HI) ? fault(Vector.SS, 0) : gp(0);
}

/** A scratch page: a page-crossing access is gathered (or staged) at its own offset here. */
const CROSS = new Uint8Array(4096 + 16);
const CROSS_DV = new DataView(CROSS.buffer);

/**
 * The page to read `size` bytes at `a` from (TLB fill on a miss; may fault). A page-crossing read translates
 * both pages first — the first page's fault first, then the second's with CR2 at its first byte, as mmu.ts
 * does — and returns the scratch page with the bytes at `a`'s offset.
 */
function rdp(m: Mmu, a: number, size: number, ss: boolean): DataView {
  if (!(a >= CANON_LO && a < CANON_HI)) throw ss ? fault(Vector.SS, 0) : gp(0);
  const o = a & 4095;
  if (o <= 4096 - size) return pageR(m, a);
  m.rd8(a);
  const last = a + size - 1;
  m.rd8(last - (last & 4095));
  for (let j = 0; j < size; j++) CROSS[o + j] = m.rd8(a + j);
  return CROSS_DV;
}

/** The page to write `size` bytes at `a` to; a page-crossing write probes both pages and is staged (`wrx`). */
function wrp(m: Mmu, a: number, size: number, ss: boolean): DataView {
  if (!(a >= CANON_LO && a < CANON_HI)) throw ss ? fault(Vector.SS, 0) : gp(0);
  const o = a & 4095;
  if (o <= 4096 - size) return pageW(m, a);
  m.probeW(a, size);
  return CROSS_DV;
}

/** Completes a staged page-crossing write (both pages were probed by `wrp`, so this cannot fault). */
function wrx(m: Mmu, a: number, size: number): void {
  const o = a & 4095;
  for (let j = 0; j < size; j++) m.wr8(a + j, CROSS[o + j]!);
}

/**
 * Runs a handler as run() would (RIP and next-RIP set) and says whether the region must be left: the
 * instruction branched (or a REP string instruction yields), or a store reached a code page.
 */
function callHandler(c: Cpu, i: Insn, rip: number, next: number): boolean {
  c.rip = rip;
  c.nextRip = next;
  i.exec(c, i);
  if (c.nextRip !== next) {
    c.rip = c.nextRip;
    return true;
  }
  if (c.m.smc) {
    c.m.smc = false;
    c.rip = next;
    return true;
  }
  return false;
}

/**
 * Exact effective address from register values, for registers beyond ±2^52 (the compiled fast path sums
 * doubles): 64-bit wrap-around, then #GP(0), or #SS(0) through RSP/RBP, when non-canonical.
 */
function eaExact(c: Cpu, i: Insn, bl: number, bh: number, il: number, ih: number, next: number): number {
  let a = BigInt(i.disp);
  if (i.ripRel) a += BigInt(next);
  if (i.base >= 0) a += (BigInt(bh) << 32n) + BigInt(bl >>> 0);
  if (i.index >= 0) a += ((BigInt(ih) << 32n) + BigInt(il >>> 0)) << BigInt(i.scale);
  if (i.seg === 4) a += BigInt(c.fsBase);
  else if (i.seg === 5) a += BigInt(c.gsBase);
  const s = Number(BigInt.asIntN(64, a));
  if (s < CANON_LO || s >= CANON_HI) throw i.base === 4 || i.base === 5 ? fault(Vector.SS, 0) : gp(0);
  return s;
}

const SCRATCH = new ArrayBuffer(8);
/** Helpers and scratch views the generated code reaches as `X`. */
export const HELPERS = {
  shift,
  rdp,
  wrp,
  wrx,
  call: callHandler,
  eaExact,
  misaligned,
  gp0: () => gp(0),
  ss0: () => fault(Vector.SS, 0),
  PAR,
  SIGN: Int32Array.from([0, 0x80, 0x8000, 0, 0x80000000 | 0, 0, 0, 0, 0]),
  DV0: new DataView(new ArrayBuffer(16)),
  I32: new Int32Array(SCRATCH),
  F64: new Float64Array(SCRATCH),
  F32: new Float32Array(SCRATCH),
};

const C47 = '140737488355328';
/** Register-file store/reload placeholders, filled in once the region's register use is known. */
const SPILL = '\u0001';
const RELOAD = '\u0002';
/** A reload on a branch out of an instruction's code, decided when the instruction is committed (`finish`). */
const JUMP_RELOAD = '\u0003';
const FLAG_NAMES = ['fl', 'lz', 'fr', 'fh', 'fs', 'fa'];
const FLAG_FIELDS = ['flags', 'lazy', 'lres', 'lhi', 'lsize', 'laux'];
const FLAG_SPILL = FLAG_NAMES.map((f, j) => ` c.${FLAG_FIELDS[j]} = ${f};`).join('');
const FLAG_RELOAD = FLAG_NAMES.map((f, j) => ` ${f} = c.${FLAG_FIELDS[j]};`).join('');

/** What the last flag-setting instruction of the current straight-line path left (see `Gen.known`). */
interface Known {
  /** 'sub' (SUB/CMP/NEG), 'add', 'logic' (CF = OF = AF = 0), 'aux' (CF/AF/OF only in fa), 'fl' (flags in fl). */
  readonly op: 'sub' | 'add' | 'logic' | 'aux' | 'fl';
  readonly size: number;
  readonly x: string;
  readonly xh: string;
  readonly y: string;
  readonly yh: string;
  readonly z: string;
  readonly zh: string;
}

/** Sign bit of a lazy result per operand size (size 4 as int32). */
const SIGN_BITS = [0, 0x80, 0x8000, 0, 0x80000000 | 0];

/**
 * Emits a region's code. Besides the text it tracks, per program point, how the register and flag locals
 * relate to the Cpu fields:
 * - not `stale` (runtime `sp === 0`): the locals are the architectural state; `dirty` lists what changed since
 *   they were last written back (all of it at a block start), which a handler call writes back first;
 * - `stale` (runtime `sp === 1`, after a handler call): the Cpu fields are the state. A local an instruction
 *   reads is reloaded on its own (`fresh`); before an instruction writes any local, all are reloaded.
 * Exits and faults write the locals back only when `sp === 0`, so both states are handled at run time.
 */
class Gen {
  readonly used = new Array<boolean>(16).fill(false);
  readonly written = new Array<boolean>(16).fill(false);
  flagsUsed = false;
  flagsWritten = false;
  sites = 0;
  /** Whether the current memory operand is addressed through RSP/RBP (a non-canonical address is #SS). */
  ss = false;
  known: Known | undefined;
  /** Page offset of each block start in the region → block index. */
  readonly labels: Map<number, number>;
  stale = false;
  readonly fresh = new Set<number>();
  flagsFresh = false;
  dirty: Set<number> | 'all' = 'all';
  flagsDirty = true;
  // Per instruction (committed by `finish`): individual reloads, whether a full reload is needed, writes.
  private pre: string[] = [];
  private preRegs = new Set<number>();
  private preFlags = false;
  private needFull = false;
  private defs = new Set<number>();
  private defFlags = false;
  private inInsn = false;

  constructor(labels: Map<number, number>) {
    this.labels = labels;
  }

  /** Starts an instruction's emission. */
  begin(): void {
    this.inInsn = true;
    this.pre = [];
    this.preRegs = new Set();
    this.preFlags = false;
    this.needFull = false;
    this.defs = new Set();
    this.defFlags = false;
  }

  /** Commits an inlined instruction: its reloads first, then its code; the writes it made become dirty. */
  finish(code: string): string {
    // A branch inside the instruction needs its own reload only if the instruction itself did not reload.
    const body = code.replaceAll(JUMP_RELOAD, this.stale && !this.needFull ? RELOAD : '');
    let head = '';
    if (this.stale && this.needFull) {
      head = RELOAD;
      this.stale = false;
      this.dirty = new Set();
      this.flagsDirty = false;
    } else if (this.stale) {
      head = this.pre.join(' ');
      for (const n of this.preRegs) this.fresh.add(n);
      if (this.preFlags) this.flagsFresh = true;
    }
    if (this.dirty !== 'all') for (const n of this.defs) this.dirty.add(n);
    if (this.defFlags) this.flagsDirty = true;
    this.inInsn = false;
    return `${head} ${body}`;
  }

  /** Drops an instruction whose inline emission failed (it goes to its handler). */
  abandon(): true {
    this.inInsn = false;
    return true;
  }

  /** Before a handler call: write back what changed; afterwards the Cpu fields are the state. */
  handlerCall(): string {
    let spill = '';
    if (!this.stale) {
      if (this.dirty === 'all') spill = SPILL;
      else {
        spill = [...this.dirty].map((n) => `R[${2 * n}] = l${n}; R[${2 * n + 1}] = h${n};`).join(' ');
        if (this.flagsDirty) spill += FLAG_SPILL;
      }
    }
    this.stale = true;
    this.fresh.clear();
    this.flagsFresh = false;
    this.dirty = new Set();
    this.flagsDirty = false;
    return `${spill} sp = 1;`;
  }

  /**
   * Before calling a handler that reads at most the GPRs `regs` and writes no GPR and no flag (XMM_ONLY): write
   * back just those registers; the locals stay the state.
   */
  xmmCall(regs: readonly number[]): string {
    if (this.stale) return '';
    const out: string[] = [];
    for (const n of new Set(regs)) {
      if (this.dirty !== 'all' && !this.dirty.has(n)) continue;
      this.used[n] = true;
      out.push(`R[${2 * n}] = l${n}; R[${2 * n + 1}] = h${n};`);
    }
    return out.join(' ');
  }

  /** The locals must be the state from here on (an inline slow path calls a handler, or control transfers). */
  needLocals(): void {
    this.needFull = true;
  }

  private use(n: number): void {
    this.used[n] = true;
    if (this.stale && !this.fresh.has(n) && !this.preRegs.has(n)) {
      this.preRegs.add(n);
      this.pre.push(`l${n} = R[${2 * n}]; h${n} = R[${2 * n + 1}];`);
    }
  }

  private def(n: number): void {
    this.used[n] = this.written[n] = true;
    this.defs.add(n);
    this.needFull = true;
  }

  useFlags(): void {
    this.flagsUsed = true;
    if (this.stale && !this.flagsFresh && !this.preFlags) {
      this.preFlags = true;
      this.pre.push(FLAG_RELOAD);
    }
  }

  writeFlags(): void {
    this.flagsUsed = this.flagsWritten = true;
    this.defFlags = true;
    this.needFull = true;
  }

  // ---- registers -------------------------------------------------------------------------------------------

  /** Expression reading GPR `n` (16-19: AH, CH, DH, BH) of `size` (low half for 8). */
  reg(n: number, size: number): string {
    if (n >= 16) {
      this.use(n - 16);
      return `((l${n - 16} >> 8) & 255)`;
    }
    this.use(n);
    if (size === 1) return `(l${n} & 255)`;
    if (size === 2) return `(l${n} & 65535)`;
    return `l${n}`;
  }

  hi(n: number): string {
    this.use(n);
    return `h${n}`;
  }

  /** Statement writing GPR `n` (SDM Vol. 1 §3.4.1.1: 32-bit writes zero the upper half, 8/16 merge). */
  setReg(n: number, size: number, lo: string, hi: string): string {
    if (n >= 16) {
      const k = n - 16;
      this.use(k);
      this.def(k);
      return `l${k} = (l${k} & -65281) | ((${lo} & 255) << 8);`;
    }
    if (size < 4) this.use(n);
    this.def(n);
    if (size === 8) return `l${n} = ${lo}; h${n} = ${hi};`;
    if (size === 4) return `l${n} = ${lo}; h${n} = 0;`;
    if (size === 2) return `l${n} = (l${n} & -65536) | (${lo} & 65535);`;
    return `l${n} = (l${n} & -256) | (${lo} & 255);`;
  }

  /** Expression of 64-bit register `n` as a double (exact when |value| < 2^53). */
  num(n: number): string {
    this.use(n);
    return `(h${n} * 4294967296 + (l${n} >>> 0))`;
  }

  /** Statement moving RSP by `d` (a small signed constant), with the carry into the high half. */
  addRsp(d: number): string {
    this.use(4);
    this.def(4);
    if (d >= 0) return `{ const t = (l4 + ${d}) | 0; h4 = (h4 + ((t >>> 0) < ${d} ? 1 : 0)) | 0; l4 = t; }`;
    return `{ const t = (l4 - ${-d}) | 0; h4 = (h4 - ((l4 >>> 0) < ${-d} ? 1 : 0)) | 0; l4 = t; }`;
  }

  /**
   * `const s<k> = RSP + d` as a double for a stack access: #SS(0) when non-canonical (SDM Vol. 3A §6.15),
   * checked here for an RSP beyond ±2^52 and on the page-cache miss path otherwise.
   */
  stackAddr(k: number, d: number): string {
    this.ss = true;
    return `const s${k} = ${this.num(4)}${d ? ` - ${-d}` : ''}; if (((h4 + 1048576) >>> 0) > 2097151) { c.blk = ${k}; throw X.ss0(); }`;
  }

  // ---- exits -------------------------------------------------------------------------------------------------

  /** Leaves the region through the epilogue (which writes the locals back when they are the state). */
  exit(rip: string, ret: string): string {
    return `{ ${rip === 'c.rip' ? '' : `c.rip = ${rip}; `}nret = ${ret}; break out; }`;
  }

  /** Transfers to the block at page offset `t` after `k` instructions of this block, or leaves the region. */
  jump(t: number, k: number): string {
    const j = this.labels.get(t);
    if (j === undefined) return this.exit(`base + ${t}`, `done + ${k}`);
    // The target block expects the locals to be the state.
    const reload = this.inInsn ? JUMP_RELOAD : this.stale ? RELOAD : '';
    return `{ ${reload} done += ${k}; L = ${j}; continue; }`;
  }

  /** Code that leaves after instruction k (at next) when a store reached a code page. */
  smc(next: number, k: number): string {
    return `if (m.smc) { m.smc = false; ${this.exit(`base + ${next}`, `done + ${k}`)} }`;
  }

  // ---- flags -----------------------------------------------------------------------------------------------

  /** Records a lazy flag result (ZF/SF/PF from z, CF/AF/OF in aux) and what produced it. */
  setFlags(k: Known, aux: string): string {
    this.writeFlags();
    this.known = k;
    return `fr = ${k.z}; fh = ${k.size === 8 ? k.zh : '0'}; fs = ${k.size}; fa = ${aux}; lz = 1;`;
  }

  /** Records flags written directly to `fl` (not lazy). */
  setFl(code: string): string {
    this.writeFlags();
    this.known = { op: 'fl', size: 4, x: '', xh: '', y: '', yh: '', z: '', zh: '' };
    return `${code} lz = 0;`;
  }

  /** CF as 0/1. */
  cf(): string {
    this.useFlags();
    const k = this.known;
    if (k?.op === 'fl') return '(fl & 1)';
    if (k?.op === 'logic') return '0';
    if (k?.op === 'sub' && k.size === 4) return `((${k.x} >>> 0) < (${k.y} >>> 0) ? 1 : 0)`;
    if (k) return '(fa & 1)';
    return '((lz ? fa : fl) & 1)';
  }

  /** Statement setting CF (and OF when `of` is given) and nothing else. */
  setCfOf(cf: string, of: string | undefined): string {
    this.useFlags();
    this.writeFlags();
    const mask = of === undefined ? -2 : -2050;
    const bits = of === undefined ? cf : `${cf} | (${of} << 11)`;
    const k = this.known;
    if (k?.op === 'fl') return `fl = (fl & ${mask}) | ${bits};`;
    if (k) {
      // Lazy: CF/OF live in fa; ZF/SF/PF still come from the earlier result.
      this.known = { ...k, op: 'aux' };
      return `fa = (fa & ${mask}) | ${bits};`;
    }
    return `if (lz) fa = (fa & ${mask}) | ${bits}; else fl = (fl & ${mask}) | ${bits};`;
  }

  /** Condition `cc` (SDM Vol. 1 Appendix B) as a JS boolean expression. */
  cond(cc: number): string {
    this.useFlags();
    const t = this.condTrue(cc >> 1);
    return cc & 1 ? `!(${t})` : `(${t})`;
  }

  private condTrue(c: number): string {
    const k = this.known;
    const table = (OF: string, CF: string, ZF: string, SF: string, PF: string) =>
      [OF, CF, ZF, `${CF} || ${ZF}`, SF, PF, `${SF} !== ${OF}`, `${ZF} || ${SF} !== ${OF}`][c]!;
    if (k === undefined) {
      return table(
        '(((lz ? fa : fl) & 2048) !== 0)',
        '(((lz ? fa : fl) & 1) !== 0)',
        '(lz ? (fr | fh) === 0 : (fl & 64) !== 0)',
        '(lz ? (fs === 8 ? fh < 0 : (fr & X.SIGN[fs]) !== 0) : (fl & 128) !== 0)',
        '(lz ? X.PAR[fr & 255] !== 0 : (fl & 4) !== 0)',
      );
    }
    if (k.op === 'fl') {
      const f = (b: number) => `((fl & ${b}) !== 0)`;
      return table(f(2048), f(1), f(64), f(128), f(4));
    }
    const s = k.size;
    const ZF = s === 8 ? `((${k.z} | ${k.zh}) === 0)` : `(${k.z} === 0)`;
    const SF = s === 8 ? `(${k.zh} < 0)` : s === 4 ? `(${k.z} < 0)` : `((${k.z} & ${SIGN_BITS[s]}) !== 0)`;
    const PF = `(X.PAR[${k.z} & 255] !== 0)`;
    if (k.op === 'logic') return table('false', 'false', ZF, SF, PF);
    if (k.op === 'sub') {
      // Comparisons straight from the operands.
      const x = k.x;
      const y = k.y;
      if (s === 8) {
        const hx = k.xh;
        const hy = k.yh;
        const lt = (hi: string, eq: string) => `(${hi} || (${hx} === ${hy} && (${x} >>> 0) ${eq} (${y} >>> 0)))`;
        switch (c) {
          case 1:
            return lt(`(${hx} >>> 0) < (${hy} >>> 0)`, '<');
          case 2:
            return `(${x} === ${y} && ${hx} === ${hy})`;
          case 3:
            return lt(`(${hx} >>> 0) < (${hy} >>> 0)`, '<=');
          case 6:
            return lt(`${hx} < ${hy}`, '<');
          case 7:
            return lt(`${hx} < ${hy}`, '<=');
        }
      } else {
        const sh = 32 - 8 * s;
        const sx = (v: string) => (s === 4 ? v : `((${v} << ${sh}) >> ${sh})`);
        const ux = (v: string) => (s === 4 ? `(${v} >>> 0)` : v);
        switch (c) {
          case 1:
            return `(${ux(x)} < ${ux(y)})`;
          case 2:
            return `(${x} === ${y})`;
          case 3:
            return `(${ux(x)} <= ${ux(y)})`;
          case 6:
            return `(${sx(x)} < ${sx(y)})`;
          case 7:
            return `(${sx(x)} <= ${sx(y)})`;
        }
      }
    }
    return table('((fa & 2048) !== 0)', '((fa & 1) !== 0)', ZF, SF, PF);
  }

  // ---- memory ----------------------------------------------------------------------------------------------

  /**
   * `let a<k> = <effective address>` with the exactness and canonical checks of cpu.ts `ea()`; undefined for
   * forms left to the handler (32-bit address size).
   */
  ea(i: Insn, k: number, next: number): string | undefined {
    if (i.asize !== 8) return undefined;
    const seg = i.seg === SEG_NONE ? '' : i.seg === 4 ? ' + c.fsBase' : ' + c.gsBase';
    const b = i.base;
    const x = i.index;
    this.ss = !i.ripRel && (b === 4 || b === 5);
    if (i.ripRel) return `const a${k} = base + ${next + i.disp}${seg};`;
    const terms: string[] = [];
    // Beyond ±2^52 a double sum could round into the canonical range: those take the exact path. A
    // non-canonical address misses every page cache and faults on the miss path.
    const guards: string[] = [];
    if (b >= 0) {
      terms.push(this.num(b));
      guards.push(`((h${b} + 1048576) >>> 0) > 2097151`);
    }
    if (x >= 0) {
      terms.push(i.scale ? `${this.num(x)} * ${1 << i.scale}` : this.num(x));
      guards.push(`((h${x} + 1048576) >>> 0) > 2097151`);
    }
    if (i.disp !== 0 || terms.length === 0) terms.push(String(i.disp));
    const sum = `${terms.join(' + ')}${seg}`;
    if (!guards.length) return `const a${k} = ${sum};`;
    const regs = `${b >= 0 ? `l${b}, h${b}` : '0, 0'}, ${x >= 0 ? `l${x}, h${x}` : '0, 0'}`;
    return `let a${k} = ${sum}; if (${guards.join(' || ')}) { c.blk = ${k}; a${k} = X.eaExact(c, I[${k}], ${regs}, base + ${next}); }`;
  }

  /**
   * Reads `size` bytes (1, 2, 4, 8 or 16) at address variable `a` into `v` (`v`/`vh` for 8, `v_0`..`v_3` for
   * 16): the site's page cache, else the TLB (which may fault: c.blk = k first).
   */
  rd(k: number, a: string, size: number, v: string): string {
    const j = this.sites++;
    const lim = 4096 - size;
    const d = `d${j}`;
    let get: string;
    let decl: string;
    switch (size) {
      case 1:
        decl = `let ${v};`;
        get = `${v} = ${d}.getUint8(o);`;
        break;
      case 2:
        decl = `let ${v};`;
        get = `${v} = ${d}.getUint16(o, true);`;
        break;
      case 4:
        decl = `let ${v};`;
        get = `${v} = ${d}.getInt32(o, true);`;
        break;
      case 8:
        decl = `let ${v}, ${v}h;`;
        get = `${v} = ${d}.getInt32(o, true); ${v}h = ${d}.getInt32(o + 4, true);`;
        break;
      default:
        decl = `let ${v}_0, ${v}_1, ${v}_2, ${v}_3;`;
        get = `${v}_0 = ${d}.getInt32(o, true); ${v}_1 = ${d}.getInt32(o + 4, true); ${v}_2 = ${d}.getInt32(o + 8, true); ${v}_3 = ${d}.getInt32(o + 12, true);`;
    }
    return `${decl} { const o = ${a} & 4095; if (${a} - o !== p${j} || o > ${lim}) { c.blk = ${k}; ${d} = X.rdp(m, ${a}, ${size}, ${this.ss}); p${j} = o > ${lim} ? NaN : ${a} - o; } ${get} }`;
  }

  /**
   * Writes `size` bytes at `a` from int32 expressions `parts` (one, or two/four halves for 8/16) through the
   * site's page cache. After a TLB fill that reached a code page the region is left after this instruction
   * (`onSmc` replaces the default exit).
   */
  wr(k: number, a: string, size: number, parts: string[], next: number, pos: number, onSmc?: string): string {
    const j = this.sites++;
    const lim = 4096 - size;
    const d = `d${j}`;
    let put: string;
    switch (size) {
      case 1:
        put = `${d}.setUint8(o, ${parts[0]});`;
        break;
      case 2:
        put = `${d}.setUint16(o, ${parts[0]}, true);`;
        break;
      case 4:
        put = `${d}.setInt32(o, ${parts[0]}, true);`;
        break;
      case 8:
        put = `${d}.setInt32(o, ${parts[0]}, true); ${d}.setInt32(o + 4, ${parts[1]}, true);`;
        break;
      default:
        put = `${d}.setInt32(o, ${parts[0]}, true); ${d}.setInt32(o + 4, ${parts[1]}, true); ${d}.setInt32(o + 8, ${parts[2]}, true); ${d}.setInt32(o + 12, ${parts[3]}, true);`;
    }
    const smc = onSmc === undefined ? this.smc(next, pos) : `if (m.smc) { m.smc = false; ${onSmc} }`;
    return `{ const o = ${a} & 4095; if (${a} - o !== p${j} || o > ${lim}) { c.blk = ${k}; ${d} = X.wrp(m, ${a}, ${size}, ${this.ss}); p${j} = o > ${lim} ? NaN : ${a} - o; ${put} if (o > ${lim}) X.wrx(m, ${a}, ${size}); ${smc} } else { ${put} } }`;
  }

  /**
   * Probes `[a, a+size)` for writing (a read-modify-write destination) before it is read, through a page-cache
   * site of its own. A fill that reaches a code page leaves m.smc set for the store's own site, which misses
   * on the same page and then leaves the region after the store.
   */
  probe(k: number, a: string, size: number): string {
    const j = this.sites++;
    const lim = 4096 - size;
    return `{ const o = ${a} & 4095; if (${a} - o !== p${j} || o > ${lim}) { c.blk = ${k}; d${j} = X.wrp(m, ${a}, ${size}, ${this.ss}); p${j} = o > ${lim} ? NaN : ${a} - o; } }`;
  }
}

// ---- instruction emitters -------------------------------------------------------------------------------------

/** Immediate of the instruction as int32 halves. */
function immLo(i: Insn, size: number): string {
  if (size === 1) return String(i.imm & 0xff);
  if (size === 2) return String(i.imm & 0xffff);
  return String(i.imm | 0);
}

/**
 * Loads operand `oi` into `v` (`vh` for 8 bytes) as a declaration: registers and immediates by value, memory
 * through the page cache (`a<k>` must hold the address). Sizes 1/2 are unsigned, 4 int32.
 */
function load(g: Gen, i: Insn, oi: number, k: number, v: string): string | undefined {
  const o = i.ops[oi]!;
  const s = o.size;
  if (o.kind === OK.REG) {
    if (s === 8) return `const ${v} = ${g.reg(o.reg, 8)}, ${v}h = ${g.hi(o.reg)};`;
    return `const ${v} = ${g.reg(o.reg, s)}, ${v}h = 0;`;
  }
  if (o.kind === OK.IMM) {
    if (s === 8) return `const ${v} = ${i.imm | 0}, ${v}h = ${i.immHi | 0};`;
    return `const ${v} = ${immLo(i, s)}, ${v}h = 0;`;
  }
  if (o.kind === OK.MEM && (s === 1 || s === 2 || s === 4 || s === 8)) {
    const code = g.rd(k, `a${k}`, s, v);
    return s === 8 ? code : `${code} const ${v}h = 0;`;
  }
  return undefined;
}

/** Stores `v`/`vh` to operand `oi` (register write rules, or memory through the page cache). */
function store(
  g: Gen,
  i: Insn,
  oi: number,
  k: number,
  v: string,
  vh: string,
  next: number,
  pos: number,
): string | undefined {
  const o = i.ops[oi]!;
  const s = o.size;
  if (o.kind === OK.REG) return g.setReg(o.reg, s, v, vh);
  if (o.kind === OK.MEM && (s === 1 || s === 2 || s === 4 || s === 8)) {
    const lo = s === 1 ? `(${v} & 255)` : s === 2 ? `(${v} & 65535)` : v;
    return g.wr(k, `a${k}`, s, [lo, vh], next, pos);
  }
  return undefined;
}

/** ADD/OR/ADC/SBB/AND/SUB/XOR/CMP (k) and TEST on operands x/xh, y/yh of `size`: result z/zh plus the flags. */
function aluOp(
  g: Gen,
  kk: number,
  size: number,
  x: string,
  xh: string,
  y: string,
  yh: string,
  z: string,
): string | undefined {
  const zh = `${z}h`;
  const mask = size === 1 ? 255 : size === 2 ? 65535 : 0;
  const top = size * 8 - 1;
  const logic = kk === 1 || kk === 4 || kk === 6;
  if (logic) {
    const op = kk === 1 ? '|' : kk === 4 ? '&' : '^';
    const code = `const ${z} = ${x} ${op} ${y}, ${zh} = ${size === 8 ? `${xh} ${op} ${yh}` : '0'};`;
    return code + g.setFlags({ op: 'logic', size, x, xh, y, yh, z, zh }, '0');
  }
  const isSub = kk === 3 || kk === 5 || kk === 7;
  const carry = kk === 2 || kk === 3 ? g.cf() : '';
  const cin = carry ? ` + ${carry}` : '';
  const bin = carry ? ` - ${carry}` : '';
  let code: string;
  let cf: string;
  let of: string;
  if (size === 8) {
    if (isSub) {
      code = `const ${z} = (${x} - ${y}${bin}) | 0; const ${z}b = ((~${x} & ${y}) | (~(${x} ^ ${y}) & ${z})) >>> 31; const ${zh} = (${xh} - ${yh} - ${z}b) | 0;`;
      cf = `(((~${xh} & ${yh}) | (~(${xh} ^ ${yh}) & ${zh})) >>> 31)`;
      of = `(((${xh} ^ ${yh}) & (${xh} ^ ${zh})) >>> 31)`;
    } else {
      code = `const ${z} = (${x} + ${y}${cin}) | 0; const ${z}b = ((${x} & ${y}) | ((${x} | ${y}) & ~${z})) >>> 31; const ${zh} = (${xh} + ${yh} + ${z}b) | 0;`;
      cf = `(((${xh} & ${yh}) | ((${xh} | ${yh}) & ~${zh})) >>> 31)`;
      of = `(((${xh} ^ ${zh}) & (${yh} ^ ${zh})) >>> 31)`;
    }
  } else if (size === 4) {
    if (isSub) {
      code = `const ${z} = (${x} - ${y}${bin}) | 0, ${zh} = 0;`;
      cf = `(((~${x} & ${y}) | (~(${x} ^ ${y}) & ${z})) >>> 31)`;
      of = `(((${x} ^ ${y}) & (${x} ^ ${z})) >>> 31)`;
    } else {
      code = `const ${z} = (${x} + ${y}${cin}) | 0, ${zh} = 0;`;
      cf = `(((${x} & ${y}) | ((${x} | ${y}) & ~${z})) >>> 31)`;
      of = `(((${x} ^ ${z}) & (${y} ^ ${z})) >>> 31)`;
    }
  } else {
    // 8/16-bit: operands are masked and unsigned; the carry is bit `size*8` of the exact sum.
    if (isSub) {
      code = `const ${z}t = ${x} - ${y}${bin}, ${z} = ${z}t & ${mask}, ${zh} = 0;`;
      cf = `(${z}t >>> 31)`;
      of = `(((${x} ^ ${y}) & (${x} ^ ${z})) >>> ${top} & 1)`;
    } else {
      code = `const ${z}t = ${x} + ${y}${cin}, ${z} = ${z}t & ${mask}, ${zh} = 0;`;
      cf = `(${z}t >>> ${top + 1})`;
      of = `(((${x} ^ ${z}) & (${y} ^ ${z})) >>> ${top} & 1)`;
    }
  }
  const aux = `${cf} | ((${x} ^ ${y} ^ ${z}) & 16) | (${of} << 11)`;
  const op = carry ? 'aux' : isSub ? 'sub' : 'add';
  return code + g.setFlags({ op, size, x, xh, y, yh, z, zh }, aux);
}

/**
 * Shift/rotate of register R by an immediate count n (1..31 or 1..63; sizes 4 and 8), following alu.ts
 * `shift()` exactly. Names carry the instruction index k: a later condition may read the result.
 */
function shiftImm(g: Gen, kk: number, size: number, n: number, R: number, k: number): string | undefined {
  const x = `x${k}`;
  const z = `z${k}`;
  const aux = (zl: string, zh: string, a: string) =>
    g.setFlags({ op: 'aux', size, x: '0', xh: '0', y: '0', yh: '0', z: zl, zh }, a);
  if (size === 4) {
    const head = `const ${x} = ${g.reg(R, 4)};`;
    const set = g.setReg(R, 4, z, '0');
    switch (kk) {
      case 0:
        return `${head} const ${z} = (${x} << ${n}) | (${x} >>> ${32 - n}); ${set} ${g.setCfOf(`(${z} & 1)`, n === 1 ? `((${x} ^ (${x} << 1)) >>> 31)` : undefined)}`;
      case 1:
        return `${head} const ${z} = (${x} >>> ${n}) | (${x} << ${32 - n}); ${set} ${g.setCfOf(`(${z} >>> 31)`, n === 1 ? `((${x} ^ (${x} << 31)) >>> 31)` : undefined)}`;
      case 4:
      case 6:
        return `${head} const ${z} = ${x} << ${n}; ${set} ${aux(z, '0', `((${x} >>> ${32 - n}) & 1) | (((${x} ^ (${x} << 1)) >>> 31) << 11)`)}`;
      case 5:
        return `${head} const ${z} = (${x} >>> ${n}) | 0; ${set} ${aux(z, '0', `((${x} >>> ${n - 1}) & 1) | ((${x} >>> 31) << 11)`)}`;
      case 7:
        return `${head} const ${z} = ${x} >> ${n}; ${set} ${aux(z, '0', `(${x} >> ${n - 1}) & 1`)}`;
      default:
        return undefined;
    }
  }
  // 64-bit (alu.ts shift64).
  const xl = `${x}l`;
  const xh = `${x}h`;
  const zl = `${z}l`;
  const zh = `${z}h`;
  const head = `const ${xl} = ${g.reg(R, 8)}, ${xh} = ${g.hi(R)};`;
  const set = g.setReg(R, 8, zl, zh);
  const bit = (b: number) => (b < 32 ? `((${xl} >>> ${b}) & 1)` : `((${xh} >>> ${b - 32}) & 1)`);
  switch (kk) {
    case 0:
    case 1: {
      const e = kk === 0 ? n : 64 - n;
      let l = xl;
      let h = xh;
      let s = e;
      if (s >= 32) {
        [l, h] = [h, l];
        s -= 32;
      }
      const vl = s ? `(${l} << ${s}) | (${h} >>> ${32 - s})` : l;
      const vh = s ? `(${h} << ${s}) | (${l} >>> ${32 - s})` : h;
      const cf = kk === 0 ? `(${zl} & 1)` : `(${zh} >>> 31)`;
      const of =
        n === 1 ? (kk === 0 ? `((${xh} ^ (${xh} << 1)) >>> 31)` : `((${xh} >>> 31) ^ (${xl} & 1))`) : undefined;
      return `${head} const ${zl} = ${vl}, ${zh} = ${vh}; ${set} ${g.setCfOf(cf, of)}`;
    }
    case 4:
    case 6: {
      const vl = n >= 32 ? '0' : `${xl} << ${n}`;
      const vh = n >= 32 ? (n === 32 ? xl : `${xl} << ${n - 32}`) : `(${xh} << ${n}) | (${xl} >>> ${32 - n})`;
      return `${head} const ${zl} = ${vl}, ${zh} = ${vh}; ${set} ${aux(zl, zh, `${bit(64 - n)} | (((${xh} ^ (${xh} << 1)) >>> 31) << 11)`)}`;
    }
    case 5: {
      const vl = n >= 32 ? (n === 32 ? xh : `(${xh} >>> ${n - 32}) | 0`) : `((${xl} >>> ${n}) | (${xh} << ${32 - n}))`;
      const vh = n >= 32 ? '0' : `(${xh} >>> ${n}) | 0`;
      return `${head} const ${zl} = ${vl}, ${zh} = ${vh}; ${set} ${aux(zl, zh, `${bit(n - 1)} | ((${xh} >>> 31) << 11)`)}`;
    }
    case 7: {
      const cf = n - 1 < 32 ? `((${xl} >>> ${n - 1}) & 1)` : `((${xh} >> ${n - 1 - 32}) & 1)`;
      const vl = n >= 32 ? `${xh} >> ${n - 32}` : `((${xl} >>> ${n}) | (${xh} << ${32 - n}))`;
      const vh = n >= 32 ? `${xh} >> 31` : `${xh} >> ${n}`;
      return `${head} const ${zl} = ${vl}, ${zh} = ${vh}; ${set} ${aux(zl, zh, cf)}`;
    }
    default:
      return undefined;
  }
}

/** Inline code for instruction `i` (global index k, next page offset, position in its block), or undefined. */
function emit(g: Gen, i: Insn, k: number, next: number, pos: number): string | undefined {
  const row = i.row;
  // LOCKed and REP-prefixed string forms go through their handlers (F2/F3 on other rows are mandatory prefixes).
  if (!row || i.pfx & PFX.LOCK || (row.flags & F.REP && i.pfx & (PFX.REP | PFX.REPNE))) return undefined;
  const sem = row.sem;
  const ops = i.ops;
  let eaCode = '';
  if (i.hasMem && sem !== 'nop') {
    const e = g.ea(i, k, next);
    if (e === undefined) return undefined;
    eaCode = e;
  }
  const K = pos + 1;
  switch (sem) {
    case 'nop':
      return '';
    case 'mov': {
      if (ops.length !== 2) return undefined;
      const ld = load(g, i, 1, k, `v${k}`);
      if (!ld) return undefined;
      const stc = store(g, i, 0, k, `v${k}`, `v${k}h`, next, K);
      if (!stc) return undefined;
      return `${eaCode} ${ld} ${stc}`;
    }
    case 'movzx':
    case 'movsx':
    case 'movsxd': {
      const d = ops[0]!;
      const s = ops[1]!;
      if (d.kind !== OK.REG || (d.size !== 4 && d.size !== 8 && d.size !== 2)) return undefined;
      const ld = load(g, i, 1, k, `v${k}`);
      if (!ld) return undefined;
      const v = `v${k}`;
      const ext =
        sem === 'movzx' ? v : s.size === 1 ? `((${v} << 24) >> 24)` : s.size === 2 ? `((${v} << 16) >> 16)` : v;
      const hi = sem === 'movzx' || d.size !== 8 ? '0' : `(w${k} >> 31)`;
      return `${eaCode} ${ld} const w${k} = ${ext}; ${g.setReg(d.reg, d.size, `w${k}`, hi)}`;
    }
    case 'lea': {
      const d = ops[0]!;
      if (i.seg !== SEG_NONE || (i.ripRel && i.asize !== 8)) return undefined;
      if (i.ripRel) {
        return `{ const v = base + ${next + i.disp}; ${g.setReg(d.reg, d.size, 'v | 0', 'Math.floor(v / 4294967296) | 0')} }`;
      }
      if (d.size === 4 || d.size === 2 || i.asize === 4) {
        // Truncated to 32 (or 16) bits: int32 arithmetic is exact modulo 2^32.
        if (d.size === 8) return undefined;
        const terms: string[] = [];
        if (i.base >= 0) terms.push(g.reg(i.base, 4));
        if (i.index >= 0) terms.push(i.scale ? `(${g.reg(i.index, 4)} << ${i.scale})` : g.reg(i.index, 4));
        terms.push(String(i.disp | 0));
        return g.setReg(d.reg, d.size, `((${terms.join(' + ')}) | 0)`, '0');
      }
      // 64-bit: add the halves with carries (exact modulo 2^64).
      const parts: Array<[string, string]> = [];
      if (i.base >= 0) parts.push([g.reg(i.base, 8), g.hi(i.base)]);
      if (i.index >= 0) {
        const il = g.reg(i.index, 8);
        const ih = g.hi(i.index);
        const s = i.scale;
        parts.push(s ? [`(${il} << ${s})`, `((${ih} << ${s}) | (${il} >>> ${32 - s}))`] : [il, ih]);
      }
      if (i.disp !== 0 || parts.length === 0) parts.push([String(i.disp | 0), i.disp < 0 ? '-1' : '0']);
      let code = `{ let zl = ${parts[0]![0]}, zh = ${parts[0]![1]};`;
      for (const [pl, ph] of parts.slice(1)) {
        code += ` { const t = (zl + ${pl}) | 0; zh = (zh + ${ph} + (((zl & ${pl}) | ((zl | ${pl}) & ~t)) >>> 31)) | 0; zl = t; }`;
      }
      return `${code} ${g.setReg(d.reg, 8, 'zl', 'zh')} }`;
    }
    case 'alu':
    case 'test': {
      const d = ops[0]!;
      const kk = sem === 'test' ? 4 : row.cc!;
      const size = d.size;
      const writes = sem === 'alu' && kk !== 7;
      // A memory destination is probed for writing before it is read (no effect if the write would fault).
      const probe = writes && d.kind === OK.MEM ? g.probe(k, `a${k}`, size) : '';
      const lx = load(g, i, 0, k, `x${k}`);
      const ly = load(g, i, 1, k, `y${k}`);
      if (!lx || !ly) return undefined;
      const body = aluOp(g, kk, size, `x${k}`, `x${k}h`, `y${k}`, `y${k}h`, `z${k}`);
      if (body === undefined) return undefined;
      const stc = writes ? store(g, i, 0, k, `z${k}`, `z${k}h`, next, K) : '';
      if (stc === undefined) return undefined;
      return `${eaCode} ${probe} ${lx} ${ly} ${body} ${stc}`;
    }
    case 'incdec':
    case 'neg': {
      const d = ops[0]!;
      const size = d.size;
      const probe = d.kind === OK.MEM ? g.probe(k, `a${k}`, size) : '';
      const lx = load(g, i, 0, k, `x${k}`);
      if (!lx) return undefined;
      let body: string | undefined;
      if (sem === 'neg') {
        body = aluOp(g, 5, size, '0', '0', `x${k}`, `x${k}h`, `z${k}`);
      } else {
        // INC/DEC: ADD/SUB 1 with CF preserved (SDM "INC").
        const cf = g.cf();
        body = `const c${k} = ${cf}; ${aluOp(g, row.cc === 1 ? 5 : 0, size, `x${k}`, `x${k}h`, '1', '0', `z${k}`)} fa = (fa & -2) | c${k};`;
        const kn = g.known!;
        g.known = { ...kn, op: 'aux' };
      }
      const stc = store(g, i, 0, k, `z${k}`, `z${k}h`, next, K);
      if (!stc || body === undefined) return undefined;
      return `${eaCode} ${probe} ${lx} ${body} ${stc}`;
    }
    case 'not': {
      const d = ops[0]!;
      if (d.kind !== OK.REG) return undefined;
      const s = d.size;
      const lx = load(g, i, 0, k, `x${k}`)!;
      return `${lx} ${g.setReg(d.reg, s, `~x${k}`, `~x${k}h`)}`;
    }
    case 'shift': {
      const d = ops[0]!;
      const cnt = ops[1]!;
      if (d.kind !== OK.REG) return undefined;
      const kk = row.cc!;
      if (cnt.kind === OK.IMM && (d.size === 4 || d.size === 8) && kk !== 2 && kk !== 3) {
        const n = i.imm & (d.size === 8 ? 63 : 31);
        if (n === 0) return d.size === 4 ? g.setReg(d.reg, 4, g.reg(d.reg, 4), '0') : '';
        return shiftImm(g, kk, d.size, n, d.reg, k);
      }
      // Other counts and widths: alu.ts shift() on the Cpu's flag fields.
      if (d.size === 1 && d.reg >= 16) return undefined;
      const count = cnt.kind === OK.IMM ? String(i.imm & 0xff) : `(${g.reg(1, 1)})`;
      g.useFlags();
      g.writeFlags();
      g.known = undefined;
      const lo = g.reg(d.reg, d.size);
      const hi = d.size === 8 ? g.hi(d.reg) : '0';
      return `{ c.flags = fl; c.lazy = lz; c.lres = fr; c.lhi = fh; c.lsize = fs; c.laux = fa; const z = X.shift(c, ${kk}, ${d.size}, ${lo}, ${hi}, ${count}, ${cnt.kind === OK.REG}); fl = c.flags; lz = c.lazy; fr = c.lres; fh = c.lhi; fs = c.lsize; fa = c.laux; ${g.setReg(d.reg, d.size, 'z', 'c.hi')} }`;
    }
    case 'imul2':
    case 'imul3': {
      // 32-bit forms: Math.imul and an exact overflow test; flags as mulFlags() (SF, PF from the low half,
      // ZF = AF = 0, CF = OF = overflow), not lazy.
      const d = ops[0]!;
      if (d.size !== 4) return undefined;
      const lx = load(g, i, sem === 'imul2' ? 0 : 1, k, `x${k}`);
      const ly = load(g, i, sem === 'imul2' ? 1 : 2, k, `y${k}`);
      if (!lx || !ly) return undefined;
      const fl = g.setFl(
        `fl = (fl & -2262) | (z${k} !== x${k} * y${k} ? 2049 : 0) | (z${k} < 0 ? 128 : 0) | X.PAR[z${k} & 255];`,
      );
      return `${eaCode} ${lx} ${ly} const z${k} = Math.imul(x${k}, y${k}); ${fl} ${g.setReg(d.reg, 4, `z${k}`, '0')}`;
    }
    case 'setcc': {
      const c = g.cond(row.cc!);
      const stc = store(g, i, 0, k, `v${k}`, '0', next, K);
      if (!stc) return undefined;
      return `${eaCode} const v${k} = ${c} ? 1 : 0; ${stc}`;
    }
    case 'cmov': {
      const d = ops[0]!;
      if (d.size !== 4 && d.size !== 8) return undefined;
      const ld = load(g, i, 1, k, `v${k}`);
      if (!ld) return undefined;
      // The source is read whatever the condition; a 32-bit CMOVcc zero-extends even when false.
      const t = g.setReg(d.reg, d.size, `v${k}`, `v${k}h`);
      const f = d.size === 4 ? `else h${d.reg} = 0;` : '';
      return `${eaCode} ${ld} if (${g.cond(row.cc!)}) { ${t} } ${f}`;
    }
    case 'cbw':
      if (i.opsize === 8) return g.setReg(0, 8, g.reg(0, 4), `(${g.reg(0, 4)} >> 31)`);
      if (i.opsize === 4) return g.setReg(0, 4, `((${g.reg(0, 4)} << 16) >> 16)`, '0');
      return g.setReg(0, 2, `((${g.reg(0, 4)} << 24) >> 24)`, '0');
    case 'cwd':
      if (i.opsize === 8) return `{ const s = ${g.hi(0)} >> 31; ${g.setReg(2, 8, 's', 's')} }`;
      if (i.opsize === 4) return g.setReg(2, 4, `(${g.reg(0, 4)} >> 31)`, '0');
      return g.setReg(2, 2, `((${g.reg(0, 4)} << 16) >> 31)`, '0');
    case 'bswap': {
      const d = ops[0]!;
      const b32 = (x: string) =>
        `(((${x} & 255) << 24) | ((${x} & 65280) << 8) | ((${x} >>> 8) & 65280) | (${x} >>> 24))`;
      if (d.size === 8) return `{ const t = ${g.reg(d.reg, 8)}; ${g.setReg(d.reg, 8, b32(g.hi(d.reg)), b32('t'))} }`;
      if (d.size === 4) return g.setReg(d.reg, 4, b32(g.reg(d.reg, 4)), '0');
      return undefined;
    }
    case 'xchg': {
      const x = ops[0]!;
      const y = ops[1]!;
      if (x.kind !== OK.REG || y.kind !== OK.REG || x.size < 4) return undefined;
      const s = x.size;
      const lx = load(g, i, 0, k, `x${k}`)!;
      const ly = load(g, i, 1, k, `y${k}`)!;
      return `${lx} ${ly} ${g.setReg(y.reg, s, `x${k}`, `x${k}h`)} ${g.setReg(x.reg, s, `y${k}`, `y${k}h`)}`;
    }
    case 'push': {
      if (i.opsize !== 8) return undefined;
      const ld = load(g, i, 0, k, `v${k}`);
      if (!ld) return undefined;
      const vh = ops[0]!.kind === OK.IMM ? String(i.immHi | 0) : `v${k}h`;
      // The write happens before RSP moves, so a fault leaves RSP intact.
      const sa = g.stackAddr(k, -8);
      const mv = g.addRsp(-8);
      const st = g.wr(k, `s${k}`, 8, [`v${k}`, vh], next, K, `${mv} ${g.exit(`base + ${next}`, `done + ${K}`)}`);
      return `${eaCode} ${ld} ${sa} ${st} ${mv}`;
    }
    case 'pop': {
      const d = ops[0]!;
      if (i.opsize !== 8 || d.kind !== OK.REG) return undefined;
      // "POP RSP" leaves the value read: RSP moves first, then the destination is written.
      return `${g.stackAddr(k, 0)} ${g.rd(k, `s${k}`, 8, `v${k}`)} ${g.addRsp(8)} ${g.setReg(d.reg, 8, `v${k}`, `v${k}h`)}`;
    }
    case 'jcc': {
      const t = next + i.imm;
      return `if (${g.cond(row.cc!)}) ${branchTo(g, t, k, K)}`;
    }
    case 'jmp':
      return branchTo(g, next + i.imm, k, K);
    case 'call': {
      const t = next + i.imm;
      const canon = inPage(t)
        ? ''
        : `if (base + ${t} < -${C47} || base + ${t} >= ${C47}) { c.blk = ${k}; throw X.gp0(); }`;
      // The target is checked, the return address pushed (the write may fault), then RSP moves.
      const sa = g.stackAddr(k, -8);
      const mv = g.addRsp(-8);
      const ra = [`(r${k} | 0)`, `(Math.floor(r${k} / 4294967296) | 0)`];
      const st = g.wr(k, `s${k}`, 8, ra, next, K, `${mv} ${g.exit(`base + ${t}`, `done + ${K}`)}`);
      return `${canon} ${sa} const r${k} = base + ${next}; ${st} ${mv} ${g.jump(t, K)}`;
    }
    case 'ret': {
      const extra = ops.length ? i.imm & 0xffff : 0;
      // Read the return address, check it (#GP(0) at the RET), then move RSP (the handler's order).
      const sa = g.stackAddr(k, 0);
      const rd = g.rd(k, `s${k}`, 8, `v${k}`);
      const t = `t${k}`;
      return `${sa} ${rd} const ${t} = v${k}h * 4294967296 + (v${k} >>> 0); if (${t} < -${C47} || ${t} >= ${C47}) { c.blk = ${k}; throw X.gp0(); } ${g.addRsp(8 + extra)} ${g.exit(t, `done + ${K}`)}`;
    }
    default:
      return emitSse(g, i, k, next, K, eaCode);
  }
}

function inPage(t: number): boolean {
  return t >= 0 && t < 4096;
}

/** A taken branch to page offset `t` (inside the region or out of it; #GP(0) for a non-canonical target). */
function branchTo(g: Gen, t: number, k: number, K: number): string {
  if (inPage(t)) return g.jump(t, K);
  return `{ const t = base + ${t}; if (t < -${C47} || t >= ${C47}) { c.blk = ${k}; throw X.gp0(); } ${g.exit('t', `done + ${K}`)} }`;
}

/** SSE forms without flags (moves, logic, dword add/sub/shift, scalar double arithmetic), or undefined. */
function emitSse(g: Gen, i: Insn, k: number, next: number, K: number, eaCode: string): string | undefined {
  const row = i.row!;
  const sem = row.sem;
  const ops = i.ops;
  switch (sem) {
    case 'movx':
    case 'movxa': {
      const d = ops[0]!;
      const sv = ops[1]!;
      if (d.kind === OK.XMM && sv.kind === OK.XMM) {
        const D = d.reg * 4;
        const S = sv.reg * 4;
        return `x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}]; x[${D + 2}] = x[${S + 2}]; x[${D + 3}] = x[${S + 3}];`;
      }
      // Legacy SSE 16-byte operands must be aligned except for the unaligned moves (#GP(0); SDM Vol. 1 §10.4.1.1).
      const al = sem === 'movxa' ? `if ((a${k} & 15) !== 0) { c.blk = ${k}; throw X.misaligned(a${k}, ${g.ss}); }` : '';
      if (d.kind === OK.XMM) {
        const D = d.reg * 4;
        return `${eaCode} ${al} ${g.rd(k, `a${k}`, 16, `v${k}`)} x[${D}] = v${k}_0; x[${D + 1}] = v${k}_1; x[${D + 2}] = v${k}_2; x[${D + 3}] = v${k}_3;`;
      }
      const S = sv.reg * 4;
      return `${eaCode} ${al} ${g.wr(k, `a${k}`, 16, [`x[${S}]`, `x[${S + 1}]`, `x[${S + 2}]`, `x[${S + 3}]`], next, K)}`;
    }
    case 'movq':
    case 'movsd': {
      const d = ops[0]!;
      const sv = ops[1]!;
      if (d.kind === OK.XMM && sv.kind === OK.XMM) {
        const D = d.reg * 4;
        const S = sv.reg * 4;
        // MOVQ xmm, xmm zeroes the upper lane; MOVSD xmm, xmm merges the low lane.
        return sem === 'movq'
          ? `{ const a = x[${S}], b = x[${S + 1}]; x[${D}] = a; x[${D + 1}] = b; x[${D + 2}] = 0; x[${D + 3}] = 0; }`
          : `x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}];`;
      }
      if (d.kind === OK.XMM) {
        const D = d.reg * 4;
        return `${eaCode} ${g.rd(k, `a${k}`, 8, `v${k}`)} x[${D}] = v${k}; x[${D + 1}] = v${k}h; x[${D + 2}] = 0; x[${D + 3}] = 0;`;
      }
      if (d.kind !== OK.MEM) return undefined;
      const S = sv.reg * 4;
      return `${eaCode} ${g.wr(k, `a${k}`, 8, [`x[${S}]`, `x[${S + 1}]`], next, K)}`;
    }
    case 'plogic':
    case 'padd':
    case 'psub': {
      // Register-register forms on dwords (and whole-register logic) inline; memory sources must be aligned.
      const d = ops[0]!;
      const sv = ops[1]!;
      if (sem !== 'plogic' && row.cc !== 4) return undefined;
      const D = d.reg * 4;
      let pre = '';
      let s: (j: number) => string;
      if (sv.kind === OK.XMM) s = (j) => `x[${sv.reg * 4 + j}]`;
      else {
        pre = `${eaCode} if ((a${k} & 15) !== 0) { c.blk = ${k}; throw X.misaligned(a${k}, ${g.ss}); } ${g.rd(k, `a${k}`, 16, `v${k}`)}`;
        s = (j) => `v${k}_${j}`;
      }
      const e =
        sem === 'padd'
          ? (j: number) => `(x[${D + j}] + ${s(j)}) | 0`
          : sem === 'psub'
            ? (j: number) => `(x[${D + j}] - ${s(j)}) | 0`
            : row.cc === 0
              ? (j: number) => `x[${D + j}] & ${s(j)}`
              : row.cc === 1
                ? (j: number) => `~x[${D + j}] & ${s(j)}`
                : row.cc === 2
                  ? (j: number) => `x[${D + j}] | ${s(j)}`
                  : (j: number) => `x[${D + j}] ^ ${s(j)}`;
      return `${pre} { const t0 = ${e(0)}, t1 = ${e(1)}, t2 = ${e(2)}, t3 = ${e(3)}; x[${D}] = t0; x[${D + 1}] = t1; x[${D + 2}] = t2; x[${D + 3}] = t3; }`;
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
      return `x[${D}] = ${e(0)}; x[${D + 1}] = ${e(1)}; x[${D + 2}] = ${e(2)}; x[${D + 3}] = ${e(3)};`;
    }
    case 'fadd':
    case 'fsub':
    case 'fmul':
    case 'fdiv': {
      // Scalar arithmetic: IEEE double (and fround for single) is exact; a NaN result goes through the handler,
      // which applies the SSE NaN rules (its inputs are untouched until the write).
      const cc = row.cc!;
      if (!(cc & 0x10)) return undefined;
      const w = cc & 0xf;
      const d = ops[0]!;
      const sv = ops[1]!;
      const op = sem === 'fadd' ? '+' : sem === 'fsub' ? '-' : sem === 'fmul' ? '*' : '/';
      const lane = w === 8 ? `xf64[${d.reg * 2}]` : `xf32[${d.reg * 4}]`;
      const load =
        sv.kind === OK.XMM
          ? `const b${k} = ${w === 8 ? `xf64[${sv.reg * 2}]` : `xf32[${sv.reg * 4}]`};`
          : w === 8
            ? `${g.rd(k, `a${k}`, 8, `v${k}`)} X.I32[0] = v${k}; X.I32[1] = v${k}h; const b${k} = X.F64[0];`
            : `${g.rd(k, `a${k}`, 4, `v${k}`)} X.I32[0] = v${k}; const b${k} = X.F32[0];`;
      const res = w === 8 ? `${lane} ${op} b${k}` : `Math.fround(${lane} ${op} b${k})`;
      return `${eaCode} ${load} const z${k} = ${res}; if (z${k} === z${k}) ${lane} = z${k}; else ${handlerInline(g, k, next)}`;
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
      const lane = w === 8 ? `xf64[${d.reg * 2}]` : `xf32[${d.reg * 4}]`;
      const D = d.reg * 4;
      if (sv.kind === OK.XMM) {
        const S = sv.reg * 4;
        const bv = w === 8 ? `xf64[${sv.reg * 2}]` : `xf32[${S}]`;
        const copy = w === 8 ? `x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}];` : `x[${D}] = x[${S}];`;
        return `if (!(${lane} ${cmp} ${bv})) { ${copy} }`;
      }
      const load =
        w === 8
          ? `${g.rd(k, `a${k}`, 8, `v${k}`)} X.I32[0] = v${k}; X.I32[1] = v${k}h; const b${k} = X.F64[0];`
          : `${g.rd(k, `a${k}`, 4, `v${k}`)} X.I32[0] = v${k}; const b${k} = X.F32[0];`;
      const copy = w === 8 ? `x[${D}] = v${k}; x[${D + 1}] = v${k}h;` : `x[${D}] = v${k};`;
      return `${eaCode} ${load} if (!(${lane} ${cmp} b${k})) { ${copy} }`;
    }
    case 'comis': {
      // ZF,PF,CF = 111 unordered, 000 greater, 001 less, 100 equal; OF, SF, AF cleared (not lazy).
      const w = row.cc! & 0xf;
      const d = ops[0]!;
      const sv = ops[1]!;
      const xv = w === 8 ? `xf64[${d.reg * 2}]` : `xf32[${d.reg * 4}]`;
      const load =
        sv.kind === OK.XMM
          ? `const b${k} = ${w === 8 ? `xf64[${sv.reg * 2}]` : `xf32[${sv.reg * 4}]`};`
          : w === 8
            ? `${g.rd(k, `a${k}`, 8, `v${k}`)} X.I32[0] = v${k}; X.I32[1] = v${k}h; const b${k} = X.F64[0];`
            : `${g.rd(k, `a${k}`, 4, `v${k}`)} X.I32[0] = v${k}; const b${k} = X.F32[0];`;
      const fl = g.setFl(
        `fl = (fl & -2262) | (a !== a || b${k} !== b${k} ? 69 : a < b${k} ? 1 : a === b${k} ? 64 : 0);`,
      );
      return `${eaCode} ${load} { const a = ${xv}; ${fl} }`;
    }
    case 'cvtsi2f': {
      if (row.cc !== 8) return undefined;
      const ld = load(g, i, 1, k, `v${k}`);
      if (!ld) return undefined;
      const val = ops[1]!.size === 8 ? `v${k}h * 4294967296 + (v${k} >>> 0)` : `v${k}`;
      return `${eaCode} ${ld} xf64[${ops[0]!.reg * 2}] = ${val};`;
    }
    case 'cvtf2si': {
      // CVTTSD2SI in range inline; out-of-range and NaN (integer indefinite) through the handler.
      if (row.cc !== (8 | 0x10)) return undefined;
      const d = ops[0]!;
      const sv = ops[1]!;
      const load =
        sv.kind === OK.XMM
          ? `const b${k} = xf64[${sv.reg * 2}];`
          : `${g.rd(k, `a${k}`, 8, `v${k}`)} X.I32[0] = v${k}; X.I32[1] = v${k}h; const b${k} = X.F64[0];`;
      const lim = d.size === 8 ? '9007199254740992' : '2147483648';
      const t = `t${k}`;
      const wr =
        d.size === 8
          ? g.setReg(d.reg, 8, `(${t} | 0)`, `(Math.floor(${t} / 4294967296) | 0)`)
          : g.setReg(d.reg, 4, `(${t} | 0)`, '0');
      return `${eaCode} ${load} const ${t} = Math.trunc(b${k}); if (${t} > -${lim} && ${t} < ${lim}) { ${wr} } else ${handlerInline(g, k, next)}`;
    }
    default:
      return undefined;
  }
}

/**
 * Runs instruction k's handler from inside an inlined instruction (its rare cases): the locals go to the Cpu
 * first and come back after, so the handler sees and leaves the architectural state.
 */
function handlerInline(g: Gen, k: number, next: number): string {
  g.needLocals();
  return `{ ${SPILL} c.blk = ${k}; c.nextRip = base + ${next}; sp = 1; I[${k}].exec(c, I[${k}]); ${RELOAD} }`;
}

// ---- regions ----------------------------------------------------------------------------------------------

/**
 * SSE handlers that read no GPR besides their address registers and a GPR source operand, no flag, and write
 * neither (exec-sse.ts): calling one needs no write-back and no reload of the other locals.
 */
const XMM_ONLY = new Set([
  'movx',
  'movxa',
  'movss',
  'movsd',
  'movq',
  'movdToX',
  'movlo',
  'movhi',
  'movhl',
  'movdup',
  'plogic',
  'padd',
  'psub',
  'paddsat',
  'pmul',
  'pavg',
  'pminmax',
  'pcmpeq',
  'pcmpgt',
  'pack',
  'punpck',
  'pshuf',
  'pshufb',
  'pshift',
  'pshiftI',
  'pbshift',
  'psadbw',
  'pinsr',
  'palignr',
  'psign',
  'pabs',
  'phadd',
  'pmovx',
  'pblendv',
  'pblend',
  'phminposuw',
  'mpsadbw',
  'fadd',
  'fsub',
  'fmul',
  'fdiv',
  'fsqrt',
  'fmin',
  'fmax',
  'fhadd',
  'faddsub',
  'fcmp',
  'shufp',
  'cvtfp',
  'cvtsi2f',
  'fround',
  'fdp',
  'insertps',
  'aes',
  'aeskeygen',
  'pclmul',
]);

/** Whether a block's last instruction lets execution fall through to the next address. */
function fallsThrough(insns: readonly Insn[]): boolean {
  const last = insns[insns.length - 1]!;
  const f = last.row ? last.row.flags : F.STOP;
  return !(f & F.STOP) && !(f & F.BRANCH && last.row!.sem !== 'jcc');
}

/** Page offsets a block transfers to directly (branch and call targets, and the fall-through). */
export function successors(b: RegionBlock): number[] {
  const out: number[] = [];
  let off = b.off;
  for (const i of b.insns) {
    off += i.len;
    const sem = i.row?.sem;
    if (sem === 'jcc' || sem === 'jmp' || sem === 'call') {
      const t = off + i.imm;
      if (inPage(t)) out.push(t);
    }
  }
  if (fallsThrough(b.insns) && off < 4096) out.push(off);
  return out;
}

/**
 * Compiles a region (blocks[0] is the entry; all blocks come from one page). Generated code is the point of
 * the JIT; `CpuOptions.jit` turns it off where eval is barred.
 */
export function compileRegion(blocks: readonly RegionBlock[]): Compiled {
  const labels = new Map<number, number>();
  for (const [j, b] of blocks.entries()) labels.set(b.off, j);
  const g = new Gen(labels);
  const all: Insn[] = [];
  const offs: number[] = [];
  const poss: number[] = [];
  const cases: string[] = [];
  blocks.forEach((b, j) => {
    // Every way into a block leaves the locals as the state (see Gen).
    g.stale = false;
    g.dirty = 'all';
    g.flagsDirty = true;
    g.fresh.clear();
    g.flagsFresh = false;
    g.known = undefined;
    const len = b.insns.length;
    // A block starts only when the budget covers it all (run() checked the first entry; loops come back here).
    const parts: string[] = [`case ${j}: {`, `if (rem - done < ${len}) ${g.exit(`base + ${b.off}`, 'done')}`];
    let off = b.off;
    b.insns.forEach((i, pos) => {
      const k = all.length;
      all.push(i);
      offs.push(off);
      poss.push(pos);
      const next = off + i.len;
      g.begin();
      const inline = emit(g, i, k, next, pos);
      if (inline !== undefined) parts.push(g.finish(inline));
      else if (g.abandon() && i.row && XMM_ONLY.has(i.row.sem)) {
        // An SSE handler: it reads at most its address registers and a GPR source, and writes no GPR or flag.
        const regs: number[] = [];
        if (i.hasMem && !i.ripRel) for (const r of [i.base, i.index]) if (r >= 0) regs.push(r);
        for (const o of i.ops) if (o.kind === OK.REG) regs.push(o.reg >= 16 ? o.reg - 16 : o.reg);
        const call = `${g.xmmCall(regs)} c.blk = ${k}; if (X.call(c, I[${k}], base + ${off}, base + ${next}))`;
        parts.push(`${call} ${g.exit('c.rip', `done + ${pos + 1}`)}`);
      } else {
        // The interpreter handler, with RIP and next-RIP as run() would set them.
        g.known = undefined;
        const call = `${g.handlerCall()} c.blk = ${k}; if (X.call(c, I[${k}], base + ${off}, base + ${next}))`;
        parts.push(`${call} ${g.exit('c.rip', `done + ${pos + 1}`)}`);
      }
      off = next;
    });
    // The end of the block: on to the next block of the region, or out.
    const t = fallsThrough(b.insns) ? labels.get(off) : undefined;
    parts.push(t !== undefined ? g.jump(off, len) : g.exit(`base + ${off}`, `done + ${len}`));
    parts.push('}');
    cases.push(parts.join('\n'));
  });
  const regs = [...Array(16).keys()];
  const used = regs.filter((n) => g.used[n]);
  const written = regs.filter((n) => g.written[n]);
  const spill =
    written.map((n) => `R[${2 * n}] = l${n}; R[${2 * n + 1}] = h${n};`).join(' ') + (g.flagsWritten ? FLAG_SPILL : '');
  const reload = `${used.map((n) => `l${n} = R[${2 * n}]; h${n} = R[${2 * n + 1}];`).join(' ')}${g.flagsUsed ? FLAG_RELOAD : ''} sp = 0;`;
  const decl = [
    'const R = c.r, m = c.m, x = c.x32, xf64 = c.xf64, xf32 = c.xf32;',
    `const base = c.rip - ${blocks[0]!.off};`,
    'let done = 0, L = 0, sp = 0, nret = 0;',
    used.length ? `let ${used.map((n) => `l${n} = R[${2 * n}], h${n} = R[${2 * n + 1}]`).join(', ')};` : '',
    g.flagsUsed ? `let ${FLAG_NAMES.map((f, j) => `${f} = c.${FLAG_FIELDS[j]}`).join(', ')};` : '',
    g.sites ? `let ${[...Array(g.sites).keys()].map((j) => `p${j} = NaN, d${j} = X.DV0`).join(', ')};` : '',
  ];
  const body = `${decl.join('\n')}
try {
out: for (;;) {
switch (L) {
${cases.join('\n')}
}
}
} catch (e) {
c.blkBase = done;
if (sp === 0) { ${SPILL} }
throw e;
}
if (sp === 0) { ${SPILL} }
return nret;`;
  const src = body.replaceAll(SPILL, spill).replaceAll(RELOAD, reload);
  const fn = new Function('c', 'I', 'X', 'rem', src) as BlockFn;
  return { fn, insns: all, off: Int32Array.from(offs), pos: Int32Array.from(poss) };
}
