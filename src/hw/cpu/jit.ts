/**
 * The region compiler: turns a hot region of decoded code — the entry block plus the blocks of the same page it
 * reaches through direct jumps, conditional branches, calls and fall-through — into one JavaScript function
 * (`new Function`). Blocks become the cases of a `switch` inside a loop, so branches between them (loops that
 * span several blocks, calls within the page) stay inside the function. The common integer, stack, branch and
 * SSE forms are inlined; every other instruction calls its interpreter handler, so both paths share one
 * semantics (the differential, flag, SSE and lockstep tests run through this path).
 *
 * Inside a compiled region:
 * - GPRs live in JS locals, as int32 halves `l<n>`/`h<n>`, and the flag state in `fl lz fr fh fs fa`
 *   (c.flags, c.lazy, c.lres, c.lhi, c.lsize, c.laux). An ADD/SUB/CMP leaves its operands instead of CF/AF/OF
 *   (`fk fx fxh fy fyh`); they are computed only when read (`aux()`), so a comparison costs what a JS
 *   comparison costs, and `cmp; jl` becomes `x < y`.
 * - The locals are written back to the Cpu at every exit, before a handler call (and reloaded after it), and
 *   when an instruction faults (the `catch`). An inlined instruction computes everything that can fault
 *   before it writes anything, so at a fault the locals hold the state at the start of that instruction.
 * - Addresses are 64-bit int32 pairs (exact, wrapping modulo 2^64 as the hardware does). Every memory operand
 *   has its own one-entry page cache (`P[j] Q[j]` page address, `D[j]` its DataView, in the region's
 *   PageCaches), refilled through the TLB on a miss, where non-canonical addresses and page-crossing accesses
 *   are handled. Translations cannot change within a run() call (page tables and TLB flushes change only
 *   between calls; a page that becomes code changes the MMU's epoch), so a hit is a TLB hit, and the caches
 *   carry over from one call of the region to the next while the CPU and the epoch stay the same.
 *   A store that reaches a code page invalidates the page's decoded code at the TLB fill (mmu.ts) and leaves
 *   the region after the store.
 * - A block that branches back to its own start is a loop of its own (`b<j>: for (;;)`), with a fast copy in
 *   front (`f<j>`) whose loop path has no miss paths and no calls: checks at the head of each iteration find
 *   every memory operand on its cached page (else that iteration runs in the other copy), and flags stay
 *   deferred until something can observe them (see Gen).
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
export type BlockFn = (c: Cpu, insns: readonly Insn[], x: typeof HELPERS, rem: number, s: PageCaches) => number;

/**
 * A region's page caches, one per memory operand site: the page (low half of its linear address, 1 for none or a
 * page-crossing access) and high half, and its storage. They hold TLB translations, so they stay valid for the
 * CPU that filled them while its MMU's epoch stays the same (run() checks both before calling the region).
 */
export class PageCaches {
  cpu: unknown = undefined;
  epoch = -1;
  readonly p: Int32Array;
  readonly q: Int32Array;
  readonly d: DataView[];

  constructor(sites: number) {
    this.p = new Int32Array(sites).fill(1);
    this.q = new Int32Array(sites);
    this.d = new Array<DataView>(sites).fill(HELPERS.DV0);
  }

  /** Empties the caches for `cpu` at MMU epoch `epoch`. */
  reset(cpu: unknown, epoch: number): void {
    this.p.fill(1);
    this.cpu = cpu;
    this.epoch = epoch;
  }
}

/** One block of a region: its page offset and its instructions. */
export interface RegionBlock {
  readonly off: number;
  readonly insns: readonly Insn[];
}

/** A compiled region and the tables run() needs to place RIP on an instruction that faulted. */
export interface Compiled {
  readonly fn: BlockFn;
  readonly caches: PageCaches;
  /** Every instruction of the region (the blocks concatenated), indexed by `c.blk`. */
  readonly insns: Insn[];
  /** Page offset of each instruction. */
  readonly off: Int32Array;
  /** Position of each instruction within its block (instructions of the block retired before it). */
  readonly pos: Int32Array;
}

// ---- run-time helpers -----------------------------------------------------------------------------------------

const PAR = new Uint8Array(256);
for (let v = 0; v < 256; v++) {
  let b = v ^ (v >> 4);
  b ^= b >> 2;
  b ^= b >> 1;
  PAR[v] = (b & 1) === 0 ? 4 : 0; // the PF bit value
}

/** A scratch page: a page-crossing access is gathered (or staged) at its own offset here. */
const CROSS = new Uint8Array(4096 + 16);
const CROSS_DV = new DataView(CROSS.buffer);

/** "If a linear address is non-canonical ... #GP(0)", #SS(0) for stack references (SDM Vol. 3A §6.15). */
function checkCanonical(a: number, ss: boolean): void {
  if (!(a >= CANON_LO && a < CANON_HI)) throw ss ? fault(Vector.SS, 0) : gp(0);
}

/**
 * Fills site j of `c` with the page to read `size` bytes at linear `lo`/`hi` (int32 halves) from: a TLB fill on a
 * miss, which may fault. A page-crossing read translates both pages first — the first page's fault first, then
 * the second's with CR2 at its first byte, as mmu.ts does — and leaves the scratch page with the bytes at the
 * address's offset (and the site empty).
 */
function rdp(m: Mmu, c: PageCaches, j: number, lo: number, hi: number, size: number, ss: boolean): void {
  const a = hi * 4294967296 + (lo >>> 0);
  checkCanonical(a, ss);
  const o = a & 4095;
  c.q[j] = hi;
  if (o <= 4096 - size) {
    const p = (a - o) / 4096;
    const s = p & 255;
    if (m.tagR[s] !== p) m.fill(a, 'r');
    c.p[j] = lo & -4096;
    c.d[j] = m.dvR[s]!;
    return;
  }
  m.rd8(a);
  const last = a + size - 1;
  m.rd8(last - (last & 4095));
  for (let k = 0; k < size; k++) CROSS[o + k] = m.rd8(a + k);
  c.p[j] = 1;
  c.d[j] = CROSS_DV;
}

/**
 * Fills site j of `c` with the page to write `size` bytes at `lo`/`hi` to (a fill that reaches a code page
 * invalidates it and sets m.smc). A page-crossing write probes both pages and leaves the scratch page, which
 * `wrx` completes.
 */
function wrp(m: Mmu, c: PageCaches, j: number, lo: number, hi: number, size: number, ss: boolean): void {
  const a = hi * 4294967296 + (lo >>> 0);
  checkCanonical(a, ss);
  const o = a & 4095;
  c.q[j] = hi;
  if (o <= 4096 - size) {
    const p = (a - o) / 4096;
    const s = p & 255;
    if (m.tagW[s] !== p) m.fill(a, 'w');
    c.p[j] = lo & -4096;
    c.d[j] = m.dvW[s]!;
    return;
  }
  m.probeW(a, size);
  c.p[j] = 1;
  c.d[j] = CROSS_DV;
}

/** Completes a staged page-crossing write (both pages were probed by `wrp`, so this cannot fault). */
function wrx(m: Mmu, lo: number, hi: number, size: number): void {
  const a = hi * 4294967296 + (lo >>> 0);
  const o = a & 4095;
  for (let j = 0; j < size; j++) m.wr8(a + j, CROSS[o + j]!);
}

/**
 * The fault for a misaligned 16-byte SSE operand: #GP(0), unless the address is non-canonical through RSP/RBP
 * (#SS(0)), which the handler's address computation reports first.
 */
function misaligned(a: number, ss: boolean): CpuFault {
  return ss && !(a >= CANON_LO && a < CANON_HI) ? fault(Vector.SS, 0) : gp(0);
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
 * CF | AF | OF of a deferred ADD (k = 1) or SUB (k = 2) of `s` bytes, from its operands and result: the
 * values alu.ts add()/sub() record (operands of 1/2 bytes are unsigned, 4 int32, 8 lo/hi halves).
 */
function aux(k: number, s: number, x: number, xh: number, y: number, yh: number, z: number, zh: number): number {
  let cf: number;
  let of: number;
  if (s === 8) {
    cf = (k === 1 ? (xh & yh) | ((xh | yh) & ~zh) : (~xh & yh) | (~(xh ^ yh) & zh)) >>> 31;
    of = (k === 1 ? (xh ^ zh) & (yh ^ zh) : (xh ^ yh) & (xh ^ zh)) >>> 31;
  } else if (s === 4) {
    cf = (k === 1 ? (x & y) | ((x | y) & ~z) : (~x & y) | (~(x ^ y) & z)) >>> 31;
    of = (k === 1 ? (x ^ z) & (y ^ z) : (x ^ y) & (x ^ z)) >>> 31;
  } else {
    const top = s * 8 - 1;
    cf = k === 1 ? (x + y) >>> (top + 1) : (x - y) >>> 31;
    of = ((k === 1 ? (x ^ z) & (y ^ z) : (x ^ y) & (x ^ z)) >>> top) & 1;
  }
  return cf | ((x ^ y ^ z) & 16) | (of << 11);
}

/** A signed word saturated to a signed (k = 0) or unsigned (k = 1) byte (SDM "PACKSSWB"). */
function satByte(w: number, k: number): number {
  return k === 0 ? (w < -128 ? 128 : w > 127 ? 127 : w & 255) : w < 0 ? 0 : Math.min(w, 255);
}

/** The four words of dwords a, b saturated to bytes. */
function packWords(a: number, b: number, k: number): number {
  return (
    satByte((a << 16) >> 16, k) |
    (satByte(a >> 16, k) << 8) |
    (satByte((b << 16) >> 16, k) << 16) |
    (satByte(b >> 16, k) << 24)
  );
}

/**
 * PACKSSWB (k = 0) / PACKUSWB (k = 1) of the register at dword lane D with source dwords s0..s3, out of line:
 * its sixteen saturations would be long code at every use.
 */
function packBytes(x: Int32Array, D: number, s0: number, s1: number, s2: number, s3: number, k: number): void {
  const d0 = x[D]!;
  const d1 = x[D + 1]!;
  const d2 = x[D + 2]!;
  const d3 = x[D + 3]!;
  x[D] = packWords(d0, d1, k);
  x[D + 1] = packWords(d2, d3, k);
  x[D + 2] = packWords(s0, s1, k);
  x[D + 3] = packWords(s2, s3, k);
}

/** XMM lanes x[lane..lane+3] from 16 bytes at `o` (a move outside a fast copy: short code, one call). */
function load16(d: DataView, o: number, x: Int32Array, lane: number): void {
  x[lane] = d.getInt32(o, true);
  x[lane + 1] = d.getInt32(o + 4, true);
  x[lane + 2] = d.getInt32(o + 8, true);
  x[lane + 3] = d.getInt32(o + 12, true);
}

/** 16 bytes at `o` from XMM lanes x[lane..lane+3]. */
function store16(d: DataView, o: number, x: Int32Array, lane: number): void {
  d.setInt32(o, x[lane]!, true);
  d.setInt32(o + 4, x[lane + 1]!, true);
  d.setInt32(o + 8, x[lane + 2]!, true);
  d.setInt32(o + 12, x[lane + 3]!, true);
}

const SCRATCH = new ArrayBuffer(8);
/** Helpers and scratch views the generated code reaches as `X`. */
export const HELPERS = {
  shift,
  rdp,
  wrp,
  wrx,
  aux,
  misaligned,
  packb: packBytes,
  ld16: load16,
  st16: store16,
  call: callHandler,
  gp0: () => gp(0),
  ss0: () => fault(Vector.SS, 0),
  PAR,
  SIGN: Int32Array.from([0, 0x80, 0x8000, 0, 0x80000000 | 0, 0, 0, 0, 0]),
  DV0: new DataView(new ArrayBuffer(16)),
  I32: new Int32Array(SCRATCH),
  F64: new Float64Array(SCRATCH),
  F32: new Float32Array(SCRATCH),
};

// ---- code generation ------------------------------------------------------------------------------------------

const C47 = '140737488355328';
/** Placeholders for writing back and reloading all locals, filled in once the region's register use is known. */
const SPILL = '\u0001';
const RELOAD = '\u0002';
/** A reload on a branch out of an instruction's code, decided when the instruction is committed (`finish`). */
const JUMP_RELOAD = '\u0003';
/** Writing back the flag locals, if the region has any. */
const FLAG_SPILL_IF = '\u0004';
/** c.laux, computing deferred ADD/SUB flags. */
const FA = '(fk === 0 ? fa : X.aux(fk, fs, fx, fxh, fy, fyh, fr, fh))';
const FLAG_SPILL = ` c.flags = fl; c.lazy = lz; c.lres = fr; c.lhi = fh; c.lsize = fs; c.laux = ${FA};`;
const FLAG_RELOAD = ' fl = c.flags; lz = c.lazy; fr = c.lres; fh = c.lhi; fs = c.lsize; fa = c.laux; fk = 0;';
/** Sign bit of a lazy result per operand size (size 4 as int32). */
const SIGN_BITS = [0, 0x80, 0x8000, 0, 0x80000000 | 0];

/** CF and OF (0/1 expressions) of x ± y (+ cin) of `size` giving z (alu.ts add()/sub()). */
function cfOf(
  add: boolean,
  size: number,
  x: string,
  xh: string,
  y: string,
  yh: string,
  z: string,
  zh: string,
  cin = '',
): [string, string] {
  if (size === 8) {
    return add
      ? [`(((${xh} & ${yh}) | ((${xh} | ${yh}) & ~${zh})) >>> 31)`, `(((${xh} ^ ${zh}) & (${yh} ^ ${zh})) >>> 31)`]
      : [`(((~${xh} & ${yh}) | (~(${xh} ^ ${yh}) & ${zh})) >>> 31)`, `(((${xh} ^ ${yh}) & (${xh} ^ ${zh})) >>> 31)`];
  }
  if (size === 4) {
    return add
      ? [`(((${x} & ${y}) | ((${x} | ${y}) & ~${z})) >>> 31)`, `(((${x} ^ ${z}) & (${y} ^ ${z})) >>> 31)`]
      : [`(((~${x} & ${y}) | (~(${x} ^ ${y}) & ${z})) >>> 31)`, `(((${x} ^ ${y}) & (${x} ^ ${z})) >>> 31)`];
  }
  // 8/16-bit: operands are masked and unsigned; the carry is the bit above the width of the exact sum.
  const top = size * 8 - 1;
  return add
    ? [`((${x} + ${y}${cin ? ` + ${cin}` : ''}) >>> ${top + 1})`, `((((${x} ^ ${z}) & (${y} ^ ${z})) >>> ${top}) & 1)`]
    : [`((${x} - ${y}${cin ? ` - ${cin}` : ''}) >>> 31)`, `((((${x} ^ ${y}) & (${x} ^ ${z})) >>> ${top}) & 1)`];
}

/** What the last flag-setting instruction of the current straight-line path left (see `Gen.known`). */
interface Known {
  /**
   * 'add'/'sub': deferred ADD, SUB/CMP/NEG (CF/OF from the operands); 'logic': CF = OF = AF = 0; 'aux': CF/AF/OF
   * in fa; 'fl': the flags are in fl, not lazy.
   */
  readonly op: 'add' | 'sub' | 'logic' | 'aux' | 'fl';
  /** CF|AF|OF for 'aux' (a constant's name or an expression of constants). */
  readonly aux?: string;
  /** The operator of a 'logic' result (`z = x lop y`). */
  readonly lop?: string;
  readonly size: number;
  readonly x: string;
  readonly xh: string;
  readonly y: string;
  readonly yh: string;
  readonly z: string;
  readonly zh: string;
}

/** CF|AF|OF of a known producer as an expression. */
function auxOf(k: Known): string {
  if (k.op === 'logic') return '0';
  if (k.op === 'aux') return k.aux!;
  const [cf, of] = cfOf(k.op === 'add', k.size, k.x, k.xh, k.y, k.yh, k.z, k.zh);
  return `(${cf} | ((${k.x} ^ ${k.y} ^ ${k.z}) & 16) | (${of} << 11))`;
}

/** Statements setting the flag locals to what `k` describes. */
function flagAssign(k: Known): string {
  const w = k.size === 8;
  const head = `fr = ${k.z}; fh = ${w ? k.zh : '0'}; fs = ${k.size};`;
  if (k.op === 'add' || k.op === 'sub') {
    return `${head} fk = ${k.op === 'add' ? 1 : 2}; fx = ${k.x}; fxh = ${w ? k.xh : '0'}; fy = ${k.y}; fyh = ${w ? k.yh : '0'}; lz = 1;`;
  }
  return `${head} fa = ${k.op === 'logic' ? '0' : k.aux!}; fk = 0; lz = 1;`;
}

/** Whether any part of `k` reads register n's locals. */
function mentions(k: Known, n: number): boolean {
  const re = new RegExp(`\\b[lh]${n}\\b`);
  return [k.x, k.xh, k.y, k.yh, k.z, k.zh, k.aux ?? ''].some((e) => re.test(e));
}

/** Whether two flag descriptions are the same expressions (a back-edge's flags and what the loop head expects). */
function sameKnown(a: Known, b: Known): boolean {
  return (
    a.op === b.op &&
    a.size === b.size &&
    a.x === b.x &&
    a.xh === b.xh &&
    a.y === b.y &&
    a.yh === b.yh &&
    a.z === b.z &&
    a.zh === b.zh
  );
}

/** Whether `e` names a constant of the generated code (not a register local, not an expression). */
function isConst(e: string): boolean {
  return /^[a-z]\w*$/.test(e) && !/^[lh]\d+$/.test(e);
}

/**
 * Emits a region's code. Besides the text it tracks, per program point, how the register and flag locals
 * relate to the Cpu fields:
 * - not `stale` (runtime `sp === 0`): the locals are the architectural state; `dirty` lists what changed since
 *   they were last written back (all of it at a block start), which a handler call writes back first;
 * - `stale` (runtime `sp === 1`, after a handler call): the Cpu fields are the state. A local an instruction
 *   reads is reloaded on its own (`fresh`); before an instruction writes any local, all are reloaded.
 * Exits and faults write the locals back only when `sp === 0`, so both states are handled at run time.
 *
 * In the fast copy of a loop (`defer`), flags are deferred (`pend`): a flag-setting instruction only records
 * what it computed in `known` (names of constants), and the flag locals are assigned where something could
 * observe them — a throw, an exit or a jump (`sync`) — so the loop path assigns none. A back-edge that leaves the
 * flags in the form the loop head expects (`headK`, register expressions) assigns none either: `fp` says so.
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
  /** Blocks of the region that follow one of its calls (where a RET most likely goes). */
  returnSites: number[] = [];
  /**
   * Whether the flag locals lag behind the flags: 0 no; 1 `known` describes the flags; 2 only if the block was
   * re-entered through its own back-edge (runtime `fp`), where `headK` — in terms of register locals — does.
   */
  pend: 0 | 1 | 2 = 0;
  headK: Known | undefined;
  /** Constants that hold a register half's current value (`x3` → `l2`) or a literal, for `regForm`. */
  readonly alias = new Map<string, string>();
  /** The block being emitted, and whether it is emitted as a loop of its own (`b<n>: for (;;)`). */
  block = 0;
  loop = false;
  /** What the flags are at each back-edge of the block (`regForm`), collected on a first emission. */
  backK: Array<Known | undefined> = [];
  /** Names for constants the generator introduces. */
  tmp = 0;
  /**
   * Emitting the fast copy of a looping block (compileRegion): up to its last back-edge (`loopEnd`) it reads and
   * writes memory through page caches that checks at the head of each iteration (`checks`) found holding the
   * accesses, so that path has no miss paths and no calls. `fastOk` turns false when the copy cannot be made.
   */
  fast = false;
  fastOk = true;
  loopEnd = -1;
  /** The instruction being emitted: its position in the block and its next page offset. */
  pos = 0;
  private insn: Insn | undefined;
  private next = 0;
  /** Each register's distance from its value at the loop head, per position (undefined: not a constant). */
  deltas: Array<Array<number | undefined>> = [];
  /** Page-cache sites each position used in the block's other copy, which the fast copy shares. */
  siteLog: number[][] = [];
  private siteAt = 0;
  /** The site the current instruction probed its read-modify-write destination through (-1: none). */
  private probed = -1;
  readonly checks: string[] = [];
  /** The sites the fast copy's loop path reads its page caches of at the loop's head (`P<j> Q<j> D<j>`). */
  readonly fastSites: number[] = [];
  private readonly heads = new Map<number, string>();
  private readonly headByExpr = new Map<string, string>();
  private readonly aligned = new Set<number>();
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
  /** Main-path code that must run before the instruction (settling deferred flags it reads). */
  private settleCode = '';
  private saved: readonly [0 | 1 | 2, Known | undefined] = [0, undefined];

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
    this.settleCode = '';
    this.saved = [this.pend, this.known];
    this.siteAt = 0;
    this.probed = -1;
  }

  /** Sets the instruction `begin` starts: its position in the block and next page offset. */
  at(i: Insn, pos: number, next: number): void {
    this.insn = i;
    this.pos = pos;
    this.next = next;
    if (!this.fast) this.siteLog[pos] = [];
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
    return `${head} ${this.settleCode} ${body}`;
  }

  /** Drops an instruction whose inline emission failed (it goes to its handler): the flag state is as before. */
  abandon(): true {
    this.inInsn = false;
    [this.pend, this.known] = this.saved;
    return true;
  }

  /** Before a handler call: write back what changed; afterwards the Cpu fields are the state. */
  handlerCall(): string {
    this.noCall();
    // The flag locals become current before they are written back.
    const flags = this.settle();
    let spill = '';
    if (!this.stale) {
      if (this.dirty === 'all') spill = SPILL;
      else {
        spill = [...this.dirty].map((n) => `R[${2 * n}] = l${n}; R[${2 * n + 1}] = h${n};`).join(' ');
        if (this.flagsDirty) spill += FLAG_SPILL_IF;
      }
    }
    this.stale = true;
    this.fresh.clear();
    this.flagsFresh = false;
    this.dirty = new Set();
    this.flagsDirty = false;
    this.known = undefined;
    this.alias.clear();
    // The handler may read and write any XMM register.
    const x = this.xflush();
    this.xs.fill(0);
    return `${flags} ${spill} ${x} sp = 1;`;
  }

  /**
   * Before calling a handler that reads at most the GPRs `regs` and writes no GPR and no flag (XMM_ONLY): write
   * back just those registers; the locals stay the state.
   */
  xmmCall(regs: readonly number[], dest: number): string {
    this.noCall();
    // It may read any XMM register (PBLENDVB reads XMM0) and writes its destination.
    const out: string[] = [this.sync()];
    for (let r = 0; r < 16; r++) if (this.xs[r] === 2) this.xs[r] = 1;
    if (dest >= 0) this.xs[dest] = 0;
    if (this.stale) return out.join(' ');
    for (const n of new Set(regs)) {
      if (this.dirty !== 'all' && !this.dirty.has(n)) continue;
      this.used[n] = true;
      out.push(`R[${2 * n}] = l${n}; R[${2 * n + 1}] = h${n};`);
    }
    return out.join(' ');
  }

  private use(n: number): void {
    this.used[n] = true;
    if (this.stale && !this.fresh.has(n) && !this.preRegs.has(n)) {
      this.preRegs.add(n);
      this.pre.push(`l${n} = R[${2 * n}]; h${n} = R[${2 * n + 1}];`);
    }
  }

  /** Register n is about to change: returns the code that must run first (settling flags that refer to it). */
  private def(n: number): string {
    this.used[n] = this.written[n] = true;
    this.defs.add(n);
    this.needFull = true;
    const lo = `l${n}`;
    const hi = `h${n}`;
    for (const [c, r] of this.alias) if (r === lo || r === hi) this.alias.delete(c);
    return this.pend === 2 && mentions(this.headK!, n) ? this.settle() : '';
  }

  private useFlags(): void {
    // A read needs the flag locals or `known`; the back-edge form is neither.
    if (this.pend === 2) this.settleCode += this.settle();
    this.flagsUsed = true;
    if (this.stale && !this.flagsFresh && !this.preFlags) {
      this.preFlags = true;
      this.pre.push(FLAG_RELOAD);
    }
  }

  private writeFlags(): void {
    this.flagsUsed = this.flagsWritten = true;
    this.defFlags = true;
    this.needFull = true;
  }

  // ---- registers -------------------------------------------------------------------------------------------

  /** Expression reading GPR `n` (16-19: AH, CH, DH, BH) of `size` (the low half for 8). */
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
      return `${this.def(k)} l${k} = (l${k} & -65281) | ((${lo} & 255) << 8);`;
    }
    if (size < 4) this.use(n);
    const pre = this.def(n);
    if (size >= 4 && isConst(lo)) this.alias.set(lo, `l${n}`);
    if (size === 8 && isConst(hi)) this.alias.set(hi, `h${n}`);
    if (size === 8) return `${pre} l${n} = ${lo}; h${n} = ${hi};`;
    if (size === 4) return `${pre} l${n} = ${lo}; h${n} = 0;`;
    if (size === 2) return `${pre} l${n} = (l${n} & -65536) | (${lo} & 65535);`;
    return `${pre} l${n} = (l${n} & -256) | (${lo} & 255);`;
  }

  /**
   * `const s<k>/s<k>h = RSP + d` for a stack access (d is -8 or 0); a non-canonical address is #SS(0), on the
   * page-cache miss path (SDM Vol. 3A §6.15).
   */
  stackAddr(k: number, d: number): string {
    this.noCall();
    this.ss = true;
    const l = this.reg(4, 8);
    const h = this.hi(4);
    if (d === 0) return `const s${k} = ${l}, s${k}h = ${h};`;
    return `const s${k} = (${l} - ${-d}) | 0, s${k}h = (${h} - ((${l} >>> 0) < ${-d} ? 1 : 0)) | 0;`;
  }

  /** Statement setting RSP to the pair `lo`/`hi`. */
  setRsp(lo: string, hi: string): string {
    return this.setReg(4, 8, lo, hi);
  }

  /** Statement moving RSP up by `d` (a small constant), with the carry into the high half. */
  popRsp(d: number): string {
    const l = this.reg(4, 8);
    const h = this.hi(4);
    return `${this.def(4)} { const t = (${l} + ${d}) | 0; h4 = (${h} + ((t >>> 0) < ${d} ? 1 : 0)) | 0; l4 = t; }`;
  }

  // ---- XMM low doubles -----------------------------------------------------------------------------------------

  /**
   * Scalar-double code keeps each XMM register's low double in a local `xd<r>`: 0 not cached, 1 equal to the
   * register, 2 newer. A newer value is written back before anything else can see the register (other forms,
   * handlers, faults, exits). Only inline results are ever newer, and they are never NaN (a NaN result goes
   * through the handler), so a NaN in a local always equals the register's bits and is never written back.
   */
  readonly xs = new Array<number>(16).fill(0);
  readonly xdUsed = new Array<boolean>(16).fill(false);

  /** Writes back every newer cached double (before a handler call). */
  xflush(): string {
    let out = '';
    for (let r = 0; r < 16; r++) if (this.xs[r] === 2) out += `if (xd${r} === xd${r}) xf64[${2 * r}] = xd${r}; `;
    return out;
  }

  /** Before other access to register r's lanes: write back its newer double; a write drops the cache. */
  xraw(r: number, write: boolean): string {
    let out = '';
    if (this.xs[r] === 2) {
      out = `if (xd${r} === xd${r}) xf64[${2 * r}] = xd${r};`;
      this.xs[r] = 1;
    }
    if (write) this.xs[r] = 0;
    return out;
  }

  /** [code that loads the cache when needed, the expression] of register r's low double. */
  xget(r: number): [string, string] {
    this.xdUsed[r] = true;
    if (this.xs[r] === 0) {
      this.xs[r] = 1;
      return [`xd${r} = xf64[${2 * r}];`, `xd${r}`];
    }
    return ['', `xd${r}`];
  }

  /** After copying register s's low lane into d: d's cached double is s's when s has one (both equal memory). */
  xcopy(d: number, s: number): string {
    if (d === s || this.xs[s] !== 1) return '';
    this.xdUsed[d] = true;
    this.xs[d] = 1;
    return `xd${d} = xd${s};`;
  }

  /** Statement setting register r's low double (a non-NaN value; the upper lane is kept). */
  xset(r: number, value: string): string {
    this.xdUsed[r] = true;
    this.xs[r] = 2;
    return `xd${r} = ${value};`;
  }

  /**
   * Makes what a fault, an exit or a jump sees current — newer cached doubles and deferred flags — on a path
   * that leaves the main one (the state of the main path stays as it is).
   */
  sync(): string {
    return this.xflush() + this.flagSync();
  }

  // ---- exits -------------------------------------------------------------------------------------------------

  /** Leaves the region through the epilogue (which writes the locals back when they are the state). */
  exit(rip: string, ret: string): string {
    return `{ ${this.sync()}${rip === 'c.rip' ? '' : `c.rip = ${rip}; `}nret = ${ret}; break out; }`;
  }

  /** Transfers to the block at page offset `t` after `k` instructions of this block, or leaves the region. */
  jump(t: number, k: number): string {
    const j = this.labels.get(t);
    if (j === undefined) return this.exit(`base + ${t}`, `done + ${k}`);
    // The target block expects the locals to be the state.
    const reload = this.inInsn ? JUMP_RELOAD : this.stale ? RELOAD : '';
    if (j !== this.block || !this.loop) return `{ ${this.sync()} ${reload} done += ${k}; L = ${j}; continue out; }`;
    // A back-edge of a block that loops on itself: around its loop. When the flags are what the block was
    // emitted to expect at its head (`headK`, register expressions), they stay deferred.
    const rk = this.stale ? undefined : this.regForm(this.known);
    // The fast copy goes round its own loop; the other copy back to the fast one.
    const to = `${this.fast ? 'f' : 'b'}${j}`;
    if (this.headK === undefined) {
      this.backK.push(rk);
      return `{ ${this.sync()} ${reload} done += ${k}; continue ${to}; }`;
    }
    if (rk !== undefined && sameKnown(rk, this.headK))
      return `{ ${this.xflush()} fp = 1; done += ${k}; continue ${to}; }`;
    return `{ ${this.sync()} ${reload} fp = 0; done += ${k}; continue ${to}; }`;
  }

  /** Code that leaves after instruction k (at next) when a store reached a code page. */
  smc(next: number, k: number): string {
    return `if (m.smc) { m.smc = false; ${this.exit(`base + ${next}`, `done + ${k}`)} }`;
  }

  // ---- flags -----------------------------------------------------------------------------------------------

  /** Whether the flags the current instruction writes are overwritten before anything can observe them. */
  deadFlags = false;
  /**
   * Whether flag updates stay deferred until something observes them (the fast copy of a loop, whose loop path
   * has no miss paths); elsewhere they are assigned where they happen, which keeps miss paths short.
   */
  defer = false;

  /** The flag locals' assignments a path leaving the main one needs. */
  private flagSync(): string {
    if (this.pend === 1) return flagAssign(this.known!);
    if (this.pend === 2) return `if (fp) { ${flagAssign(this.headK!)} }`;
    return '';
  }

  /**
   * Makes the flag locals current on the main path (`known`, if any, still describes them); at a block's head,
   * the flags a back-edge left deferred (`if (fp)`).
   */
  settle(): string {
    const code = this.flagSync();
    this.pend = 0;
    return code;
  }

  /**
   * `k` in terms of register locals and literals, when its operands are still in registers (or follow from
   * the result: `sub $1, %ebp` leaves x = ebp + 1): what the flags are at the head of a loop's next iteration.
   */
  private regForm(k: Known | undefined): Known | undefined {
    if (k === undefined || (k.op !== 'add' && k.op !== 'sub' && k.op !== 'logic')) return undefined;
    if (k.size !== 4 && k.size !== 8) return undefined;
    const w = k.size === 8;
    const a = (v: string) => (/^-?\d+$/.test(v) ? v : this.alias.get(v));
    let x = a(k.x);
    let xh = w ? a(k.xh) : '0';
    const y = a(k.y);
    const yh = w ? a(k.yh) : '0';
    let z = a(k.z);
    let zh = w ? a(k.zh) : '0';
    if (y === undefined || yh === undefined) return undefined;
    if (k.op === 'logic') {
      if (z === undefined || zh === undefined) {
        if (x === undefined || xh === undefined || k.lop === undefined) return undefined;
        z = `(${x} ${k.lop} ${y})`;
        zh = w ? `(${xh} ${k.lop} ${yh})` : '0';
      }
      return { op: 'logic', size: k.size, x: '0', xh: '0', y: '0', yh: '0', z, zh };
    }
    const add = k.op === 'add';
    if (x === undefined || xh === undefined) {
      if (w || z === undefined) return undefined;
      x = `((${z} ${add ? '-' : '+'} ${y}) | 0)`;
      xh = '0';
    }
    if (z === undefined || zh === undefined) {
      z = `((${x} ${add ? '+' : '-'} ${y}) | 0)`;
      const c = add ? carryOut(z, y) : `((${x} >>> 0) < (${y} >>> 0) ? 1 : 0)`;
      zh = w ? `((${xh} ${add ? '+' : '-'} ${yh} ${add ? '+' : '-'} ${c}) | 0)` : '0';
    }
    return { op: k.op, size: k.size, x, xh, y, yh, z, zh };
  }

  /** Records a deferred ADD or SUB result: ZF/SF/PF from z, CF/AF/OF from the operands when read. */
  deferFlags(k: Known): string {
    if (this.deadFlags) return this.drop();
    this.writeFlags();
    this.known = k;
    this.pend = 1;
    return this.defer ? '' : this.settle();
  }

  /** A flag update nothing observes: not emitted (the next full flag write replaces it). */
  private drop(): string {
    this.known = undefined;
    this.pend = 0;
    return '';
  }

  /** Records a lazy flag result with CF/AF/OF given (`aux`, an expression of constants). */
  setFlags(k: Known, aux: string): string {
    if (this.deadFlags) return this.drop();
    this.writeFlags();
    this.known = { ...k, aux: `(${aux})` };
    this.pend = 1;
    return this.defer ? '' : this.settle();
  }

  /** The instruction reads and writes the flags through the Cpu fields (a helper of alu.ts): settles them first. */
  flagsThroughCpu(): string {
    this.noCall();
    this.useFlags();
    const code = this.settle();
    this.writeFlags();
    this.known = undefined;
    return code;
  }

  /** Records flags written directly to `fl` (not lazy); the deferred ones it replaces are dropped. */
  setFl(code: string): string {
    if (this.deadFlags) return this.drop();
    this.writeFlags();
    this.known = { op: 'fl', size: 4, x: '', xh: '', y: '', yh: '', z: '', zh: '' };
    this.pend = 0;
    return `${code} lz = 0; fk = 0;`;
  }

  /** CF as 0/1. */
  cf(): string {
    this.useFlags();
    const k = this.known;
    if (k === undefined) return `((lz ? ${FA} : fl) & 1)`;
    if (k.op === 'fl') return '(fl & 1)';
    if (k.op === 'logic') return '0';
    if (k.op === 'aux') return `((${k.aux}) & 1)`;
    if (k.op === 'sub') return `(${this.condTrue(1)} ? 1 : 0)`;
    return cfOf(true, k.size, k.x, k.xh, k.y, k.yh, k.z, k.zh)[0];
  }

  /** Statement setting CF (and OF when `of` is given) and nothing else (rotates). */
  setCfOf(cf: string, of: string | undefined): string {
    if (this.deadFlags) return this.drop();
    this.useFlags();
    const k = this.known;
    this.writeFlags();
    const mask = of === undefined ? -2 : -2050;
    const bits = of === undefined ? cf : `${cf} | (${of} << 11)`;
    if (k?.op === 'fl') return `fl = (fl & ${mask}) | ${bits};`;
    if (k) {
      // Lazy: CF/OF go to the deferred CF|AF|OF; ZF/SF/PF still come from the earlier result.
      const t = `fa${this.tmp++}`;
      this.known = { ...k, op: 'aux', aux: t };
      this.pend = 1;
      return `const ${t} = (${auxOf(k)} & ${mask}) | ${bits}; ${this.defer ? '' : this.settle()}`;
    }
    return `if (lz) { fa = (${FA} & ${mask}) | ${bits}; fk = 0; } else fl = (fl & ${mask}) | ${bits};`;
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
        `(((lz ? ${FA} : fl) & 2048) !== 0)`,
        `(((lz ? ${FA} : fl) & 1) !== 0)`,
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
    if (k.op === 'aux') return table(`(((${k.aux}) & 2048) !== 0)`, `(((${k.aux}) & 1) !== 0)`, ZF, SF, PF);
    const [cf, of] = cfOf(k.op === 'add', s, k.x, k.xh, k.y, k.yh, k.z, k.zh);
    const OF = `(${of} !== 0)`;
    if (k.op === 'add') return table(OF, `(${cf} !== 0)`, ZF, SF, PF);
    // SUB/CMP: the comparisons straight from the operands.
    const x = k.x;
    const y = k.y;
    if (s === 8) {
      const hx = k.xh;
      const hy = k.yh;
      const lt = (hi: string, eq: string) => `(${hi} || (${hx} === ${hy} && (${x} >>> 0) ${eq} (${y} >>> 0)))`;
      const ltu = lt(`(${hx} >>> 0) < (${hy} >>> 0)`, '<');
      switch (c) {
        case 1:
          return ltu;
        case 2:
          return `(${x} === ${y} && ${hx} === ${hy})`;
        case 3:
          return lt(`(${hx} >>> 0) < (${hy} >>> 0)`, '<=');
        case 6:
          return lt(`${hx} < ${hy}`, '<');
        case 7:
          return lt(`${hx} < ${hy}`, '<=');
        default:
          return table(OF, ltu, ZF, SF, PF);
      }
    }
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
      default:
        return table(OF, `(${ux(x)} < ${ux(y)})`, ZF, SF, PF);
    }
  }

  // ---- memory ----------------------------------------------------------------------------------------------

  /**
   * `const a<k>/a<k>h = <effective address>`: the 64-bit sum of base, scaled index, displacement and segment
   * base as int32 halves (wrapping modulo 2^64, SDM Vol. 1 §3.7.5); undefined for 32-bit address size.
   */
  ea(i: Insn, k: number, next: number): string | undefined {
    return this.eaTerms(i, `a${k}`, next, 0);
  }

  /** `ea` for a memory operand, none on the fast copy's loop path (its accesses use the loop head's). */
  accessEa(i: Insn, k: number, next: number): string | undefined {
    if (i.asize === 8 && this.onFastPath()) return '';
    return this.ea(i, k, next);
  }

  /** `const name/nameh` = the effective address of `i` plus `extra` (undefined beyond a 32-bit displacement). */
  private eaTerms(i: Insn, name: string, next: number, extra: number): string | undefined {
    if (i.asize !== 8) return undefined;
    this.ss = !i.ripRel && (i.base === 4 || i.base === 5);
    const terms: Array<readonly [string, string]> = [];
    let disp = i.disp + extra;
    if (disp < -2147483648 || disp > 2147483647) return undefined;
    if (i.ripRel) {
      terms.push(['B0', 'B1']);
      disp += next;
    }
    if (!i.ripRel && i.base >= 0) terms.push([this.reg(i.base, 8), this.hi(i.base)]);
    if (i.index >= 0) {
      const l = this.reg(i.index, 8);
      const h = this.hi(i.index);
      const s = i.scale;
      terms.push(s ? [`(${l} << ${s})`, `((${h} << ${s}) | (${l} >>> ${32 - s}))`] : [l, h]);
    }
    if (disp !== 0 || terms.length === 0) terms.push([String(disp | 0), disp < 0 ? '-1' : '0']);
    if (i.seg !== SEG_NONE) {
      const b = i.seg === 4 ? 'c.fsBase' : 'c.gsBase';
      terms.push([`(${b} | 0)`, `(Math.floor(${b} / 4294967296) | 0)`]);
    }
    return sum64(name, terms);
  }

  /**
   * Reads `size` bytes (1, 2, 4, 8 or 16) at the address pair `a`/`a`h into `v` (`v`/`vh` for 8, `v_0`..`v_3`
   * for 16): the site's page cache, else the TLB (which may fault: c.blk = k first).
   */
  rd(k: number, a: string, size: number, v: string): string {
    const j = this.site();
    const direct = this.direct(j, k, a, size);
    const d = direct ? `D${j}` : 'dv';
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
    if (direct) return `${decl} { const o = O${j}; ${get} }`;
    return `${decl} { const o = ${a} & 4095; if (${this.miss(j, a, size)}) { c.blk = ${k}; ${this.sync()} X.rdp(m, S, ${j}, ${a}, ${a}h, ${size}, ${this.ss}); } const dv = D[${j}]; ${get} }`;
  }

  /**
   * Reads 16 bytes at `a` into XMM lanes x[lane..lane+3] through one helper call, `between` (code run once the
   * read cannot fault) first: the short form of a move, off the fast copy's loop path (undefined there).
   */
  rdLane(k: number, a: string, lane: number, between: () => string): string | undefined {
    if (this.onFastPath()) return undefined;
    const j = this.site();
    const fault = this.sync();
    return `{ const o = ${a} & 4095; if (${this.miss(j, a, 16)}) { c.blk = ${k}; ${fault} X.rdp(m, S, ${j}, ${a}, ${a}h, 16, ${this.ss}); } ${between()} X.ld16(D[${j}], o, x, ${lane}); }`;
  }

  /**
   * Writes `size` bytes at the address pair `a` from int32 expressions `parts` (one, or two/four for 8/16)
   * through the site's page cache (XMM lanes from `lane` through one helper call, off the fast copy's loop
   * path). After a TLB fill that reached a code page the region is left after this instruction (`onSmc`
   * replaces the default exit).
   */
  wr(
    k: number,
    a: string,
    size: number,
    parts: string[],
    next: number,
    pos: number,
    onSmc?: string,
    lane?: number,
  ): string {
    const pj = this.probed;
    const j = pj >= 0 ? pj : this.site();
    const direct = pj >= 0 ? this.onFastPath() : this.direct(j, k, a, size);
    const d = direct ? `D${j}` : 'dv';
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
    if (direct) return `{ const o = O${j}; ${put} }`;
    if (lane !== undefined) put = `X.st16(dv, o, x, ${lane});`;
    const smc = onSmc === undefined ? this.smc(next, pos) : `if (m.smc) { m.smc = false; ${onSmc} }`;
    const cross = size > 1 ? `if (o > ${4096 - size}) X.wrx(m, ${a}, ${a}h, ${size});` : '';
    // A read-modify-write destination's probe left its page (or the staging page) in the site; its fill may
    // have reached a code page.
    if (pj >= 0) return `{ const o = ${a} & 4095; const dv = D[${j}]; ${put} ${cross} ${smc} }`;
    return `{ const o = ${a} & 4095; if (${this.miss(j, a, size)}) { c.blk = ${k}; ${this.sync()} X.wrp(m, S, ${j}, ${a}, ${a}h, ${size}, ${this.ss}); const dv = D[${j}]; ${put} ${cross} ${smc} } else { const dv = D[${j}]; ${put} } }`;
  }

  /**
   * Probes `[a, a+size)` for writing (a read-modify-write destination) before it is read, through a page-cache
   * site of its own, which the store then goes through: a fill that reaches a code page leaves m.smc set, and
   * the store leaves the region after it.
   */
  probe(k: number, a: string, size: number): string {
    const j = this.site();
    this.probed = j;
    if (this.direct(j, k, a, size)) return '';
    return `{ const o = ${a} & 4095; if (${this.miss(j, a, size)}) { c.blk = ${k}; ${this.sync()} X.wrp(m, S, ${j}, ${a}, ${a}h, ${size}, ${this.ss}); } }`;
  }

  /** A page-cache site for the current instruction: a new one, or in the fast copy the other copy's. */
  private site(): number {
    if (this.fast) {
      const j = this.siteLog[this.pos]?.[this.siteAt++];
      if (j !== undefined) return j;
      this.fastOk = false;
    }
    const j = this.sites++;
    if (!this.fast) this.siteLog[this.pos]!.push(j);
    return j;
  }

  /** Whether the current instruction is on the fast copy's loop path. */
  private onFastPath(): boolean {
    return this.fast && this.pos <= this.loopEnd;
  }

  /** A handler or helper call (or a stack access), which the fast copy's loop path must not have. */
  noCall(): void {
    if (this.onFastPath()) this.fastOk = false;
  }

  /** On the fast copy's loop path, a 16-byte alignment check of instruction k's operand goes to the loop head. */
  alignAtHead(k: number): boolean {
    if (!this.onFastPath()) return false;
    this.aligned.add(k);
    return true;
  }

  /**
   * On the fast copy's loop path: checks at the loop head that site j's cached page holds the access of
   * instruction k at `a` (else the iteration runs in the other copy) and says the access needs no check here.
   */
  private direct(j: number, k: number, a: string, size: number): boolean {
    if (!this.onFastPath()) return false;
    const A = this.headAddr(k, a);
    if (A === undefined) {
      this.fastOk = false;
      return false;
    }
    const bound = size > 1 ? ` || O${j} > ${4096 - size}` : '';
    this.checks.push(
      `const O${j} = ${A} & 4095; if ((${A} & -4096) !== P${j} || ${A}h !== Q${j}${bound}) break f${this.block};`,
    );
    this.fastSites.push(j);
    return true;
  }

  /**
   * `A<k>`: instruction k's effective address computed at the loop head, from the registers there and their
   * constant distances to what they are at k (`deltas`); undefined when a distance is not constant.
   */
  private headAddr(k: number, a: string): string | undefined {
    const known = this.heads.get(k);
    if (known !== undefined) return known;
    const i = this.insn!;
    if (a !== `a${k}`) return undefined;
    const d = this.deltas[this.pos]!;
    const db = i.ripRel || i.base < 0 ? 0 : d[i.base];
    const di = i.index < 0 ? 0 : d[i.index];
    if (db === undefined || di === undefined) return undefined;
    // Operands at the same head address (before and after their base moved) share one computation.
    const expr = this.eaTerms(i, '@', this.next, db + di * 2 ** i.scale);
    if (expr === undefined) return undefined;
    let A = this.headByExpr.get(expr);
    if (A === undefined) {
      A = `A${k}`;
      this.headByExpr.set(expr, A);
      this.checks.push(expr.replaceAll('@', A));
    }
    this.heads.set(k, A);
    if (this.aligned.has(k)) this.checks.push(`if ((${A} & 15) !== 0) break f${this.block};`);
    return A;
  }

  /** Starts a block's emission with no loop-head checks. */
  resetChecks(): void {
    this.checks.length = 0;
    this.fastSites.length = 0;
    this.heads.clear();
    this.headByExpr.clear();
    this.aligned.clear();
  }

  /** Whether site j's cached page does not hold the access (a page-crossing access never hits). */
  private miss(j: number, a: string, size: number): string {
    return `(${a} & -4096) !== P[${j}] || ${a}h !== Q[${j}]${size > 1 ? ` || o > ${4096 - size}` : ''}`;
  }
}

/** The linear address of pair `a` as a number (exact when canonical; far out of range otherwise). */
function lin(a: string): string {
  return `(${a}h * 4294967296 + (${a} >>> 0))`;
}

/**
 * The carry out of the 32-bit sum `sum` = `a` + b (no carry in) as 0/1: the sum wrapped below an addend. One
 * unsigned comparison, where the bitwise majority formula takes five operations.
 */
function carryOut(sum: string, a: string): string {
  const c = /^-?\d+$/.test(a) ? String(Number(a) >>> 0) : `(${a} >>> 0)`;
  return `((${sum} >>> 0) < ${c} ? 1 : 0)`;
}

/** `const name/nameh` = the 64-bit sum of int32-pair terms, carrying between the halves (modulo 2^64). */
function sum64(name: string, terms: ReadonlyArray<readonly [string, string]>): string {
  const [l0, h0] = terms[0]!;
  if (terms.length === 1) return `const ${name} = ${l0}, ${name}h = ${h0};`;
  let out = '';
  let l = l0;
  let h = h0;
  for (let j = 1; j < terms.length; j++) {
    const [tl, th] = terms[j]!;
    const n = j === terms.length - 1 ? name : `${name}_${j}`;
    out += `const ${n} = (${l} + ${tl}) | 0, ${n}h = (${h} + ${th} + ${carryOut(n, tl)}) | 0; `;
    l = n;
    h = `${n}h`;
  }
  return out;
}

// ---- instruction emitters -------------------------------------------------------------------------------------

/** Immediate of the instruction, masked to `size` (int32 for 4). */
function immLo(i: Insn, size: number): string {
  if (size === 1) return String(i.imm & 0xff);
  if (size === 2) return String(i.imm & 0xffff);
  return String(i.imm | 0);
}

/**
 * Loads operand `oi` into `v` and `v`h as declarations: registers and immediates by value, memory through the
 * page cache (`a<k>` must hold the address). Sizes 1/2 are unsigned, 4 int32; `v`h is 0 below 8 bytes.
 */
function load(g: Gen, i: Insn, oi: number, k: number, v: string): string | undefined {
  const o = i.ops[oi]!;
  const s = o.size;
  if (o.kind === OK.REG) {
    // The constants stand for the register while it keeps its value (Gen.regForm).
    if (s === 8) {
      g.alias.set(v, `l${o.reg}`).set(`${v}h`, `h${o.reg}`);
      return `const ${v} = ${g.reg(o.reg, 8)}, ${v}h = ${g.hi(o.reg)};`;
    }
    if (s === 4) g.alias.set(v, `l${o.reg}`);
    return `const ${v} = ${g.reg(o.reg, s)}, ${v}h = 0;`;
  }
  if (o.kind === OK.IMM) {
    if (s === 8) {
      g.alias.set(v, String(i.imm | 0)).set(`${v}h`, String(i.immHi | 0));
      return `const ${v} = ${i.imm | 0}, ${v}h = ${i.immHi | 0};`;
    }
    g.alias.set(v, immLo(i, s));
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

/**
 * ADD/OR/ADC/SBB/AND/SUB/XOR/CMP (kk) and TEST of operands x/xh, y/yh of `size`: declares z/z`h` and records
 * the flags (deferred for ADD/SUB/CMP, computed for ADC/SBB, which read CF).
 */
function aluOp(g: Gen, kk: number, size: number, x: string, xh: string, y: string, yh: string, z: string): string {
  const zh = `${z}h`;
  const mask = size === 1 ? 255 : size === 2 ? 65535 : 0;
  if (kk === 1 || kk === 4 || kk === 6) {
    const op = kk === 1 ? '|' : kk === 4 ? '&' : '^';
    const code = `const ${z} = ${x} ${op} ${y}, ${zh} = ${size === 8 ? `${xh} ${op} ${yh}` : '0'};`;
    return code + g.setFlags({ op: 'logic', lop: op, size, x, xh, y, yh, z, zh }, '0');
  }
  const isSub = kk === 3 || kk === 5 || kk === 7;
  const carry = kk === 2 || kk === 3 ? `c${z}` : '';
  const pre = carry ? `const ${carry} = ${g.cf()};` : '';
  const sign = isSub ? '-' : '+';
  const cin = carry ? ` ${sign} ${carry}` : '';
  let code: string;
  if (size === 8) {
    // The low halves' carry (borrow) goes into the high halves.
    const c0 = carry
      ? isSub
        ? `((~${x} & ${y}) | (~(${x} ^ ${y}) & ${z})) >>> 31`
        : `((${x} & ${y}) | ((${x} | ${y}) & ~${z})) >>> 31`
      : isSub
        ? `(${x} >>> 0) < (${y} >>> 0) ? 1 : 0`
        : carryOut(z, y);
    code = `const ${z} = (${x} ${sign} ${y}${cin}) | 0, ${zh} = (${xh} ${sign} ${yh} ${sign} (${c0})) | 0;`;
  } else if (size === 4) code = `const ${z} = (${x} ${sign} ${y}${cin}) | 0, ${zh} = 0;`;
  else code = `const ${z} = (${x} ${sign} ${y}${cin}) & ${mask}, ${zh} = 0;`;
  const known: Known = { op: isSub ? 'sub' : 'add', size, x, xh, y, yh, z, zh };
  if (!carry) return pre + code + g.deferFlags(known);
  const [cf, of] = cfOf(!isSub, size, x, xh, y, yh, z, zh, carry);
  const aux = `${cf} | ((${x} ^ ${y} ^ ${z}) & 16) | (${of} << 11)`;
  return pre + code + g.setFlags({ ...known, op: 'aux' }, aux);
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
  if (i.hasMem && sem !== 'nop' && sem !== 'lea') {
    const e = g.accessEa(i, k, next);
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
      // The 64-bit address without segmentation or canonical checks, truncated to the operand size (SDM "LEA");
      // a 67h-prefixed LEA goes to the handler.
      const d = ops[0]!;
      if (i.seg !== SEG_NONE || i.asize !== 8) return undefined;
      return `${g.ea(i, k, next)!} ${g.setReg(d.reg, d.size, `a${k}`, `a${k}h`)}`;
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
      let body: string;
      if (sem === 'neg') body = aluOp(g, 5, size, '0', '0', `x${k}`, `x${k}h`, `z${k}`);
      else {
        // INC/DEC: ADD/SUB 1 with CF preserved (SDM "INC").
        const cf = `c${k}`;
        const pre = `const ${cf} = ${g.cf()};`;
        const z = `z${k}`;
        const add = row.cc !== 1;
        const sign = add ? '+' : '-';
        const x = `x${k}`;
        const calc =
          size === 8
            ? `const ${z} = (${x} ${sign} 1) | 0, ${z}h = (${x}h ${sign} (${add ? `${z} === 0` : `${x} === 0`} ? 1 : 0)) | 0;`
            : size === 4
              ? `const ${z} = (${x} ${sign} 1) | 0, ${z}h = 0;`
              : `const ${z} = (${x} ${sign} 1) & ${size === 1 ? 255 : 65535}, ${z}h = 0;`;
        const [, of] = cfOf(add, size, x, `${x}h`, '1', '0', z, `${z}h`);
        const aux = `${cf} | ((${x} ^ 1 ^ ${z}) & 16) | (${of} << 11)`;
        body = pre + calc + g.setFlags({ op: 'aux', size, x, xh: `${x}h`, y: '1', yh: '0', z, zh: `${z}h` }, aux);
      }
      const stc = store(g, i, 0, k, `z${k}`, `z${k}h`, next, K);
      if (!stc) return undefined;
      return `${eaCode} ${probe} ${lx} ${body} ${stc}`;
    }
    case 'not': {
      const d = ops[0]!;
      if (d.kind !== OK.REG) return undefined;
      const lx = load(g, i, 0, k, `x${k}`)!;
      return `${lx} ${g.setReg(d.reg, d.size, `~x${k}`, `~x${k}h`)}`;
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
      const count = cnt.kind === OK.IMM ? String(i.imm & 0xff) : g.reg(1, 1);
      const lo = g.reg(d.reg, d.size);
      const hi = d.size === 8 ? g.hi(d.reg) : '0';
      // shift() reads CF (RCL/RCR) and writes the flags: the flag locals go through the Cpu.
      const settle = g.flagsThroughCpu();
      return `${settle} ${FLAG_SPILL} const z${k} = X.shift(c, ${kk}, ${d.size}, ${lo}, ${hi}, ${count}, ${cnt.kind === OK.REG}); ${FLAG_RELOAD} ${g.setReg(d.reg, d.size, `z${k}`, 'c.hi')}`;
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
      const c = g.cond(row.cc!);
      const t = g.setReg(d.reg, d.size, `v${k}`, `v${k}h`);
      const f = d.size === 4 ? `else ${g.setReg(d.reg, 4, g.reg(d.reg, 4), '0')}` : '';
      return `${eaCode} ${ld} if (${c}) { ${t} } ${f}`;
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
      const mv = g.setRsp(`s${k}`, `s${k}h`);
      const st = g.wr(k, `s${k}`, 8, [`v${k}`, vh], next, K, `${mv} ${g.exit(`base + ${next}`, `done + ${K}`)}`);
      return `${eaCode} ${ld} ${sa} ${st} ${mv}`;
    }
    case 'pop': {
      const d = ops[0]!;
      if (i.opsize !== 8 || d.kind !== OK.REG) return undefined;
      // "POP RSP" leaves the value read: RSP moves first, then the destination is written.
      const sa = g.stackAddr(k, 0);
      return `${sa} ${g.rd(k, `s${k}`, 8, `v${k}`)} ${g.popRsp(8)} ${g.setReg(d.reg, 8, `v${k}`, `v${k}h`)}`;
    }
    case 'jcc':
      return `if (${g.cond(row.cc!)}) ${branchTo(g, next + i.imm, k, K)}`;
    case 'jmp':
      return branchTo(g, next + i.imm, k, K);
    case 'call': {
      const t = next + i.imm;
      const canon = inPage(t)
        ? ''
        : `if (base + ${t} < -${C47} || base + ${t} >= ${C47}) { c.blk = ${k}; ${g.sync()} throw X.gp0(); }`;
      // The target is checked, the return address pushed (the write may fault), then RSP moves.
      const sa = g.stackAddr(k, -8);
      const mv = g.setRsp(`s${k}`, `s${k}h`);
      const ra = sum64(`r${k}`, [
        ['B0', 'B1'],
        [String(next), '0'],
      ]);
      const st = g.wr(k, `s${k}`, 8, [`r${k}`, `r${k}h`], next, K, `${mv} ${g.exit(`base + ${t}`, `done + ${K}`)}`);
      return `${canon} ${sa} ${ra} ${st} ${mv} ${g.jump(t, K)}`;
    }
    case 'ret': {
      const extra = ops.length ? i.imm & 0xffff : 0;
      // Read the return address, check it (#GP(0) at the RET), then move RSP (the handler's order).
      const sa = g.stackAddr(k, 0);
      const rd = g.rd(k, `s${k}`, 8, `v${k}`);
      const t = `t${k}`;
      // A return to a call site of this region continues inside it.
      const back = g.returnSites.map((r) => `if (${t} === base + ${r}) ${g.jump(r, K)}`).join(' ');
      return `${sa} ${rd} const ${t} = v${k}h * 4294967296 + (v${k} >>> 0); if (${t} < -${C47} || ${t} >= ${C47}) { c.blk = ${k}; ${g.sync()} throw X.gp0(); } ${g.popRsp(8 + extra)} ${back} ${g.exit(t, `done + ${K}`)}`;
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
  return `{ const t = base + ${t}; if (t < -${C47} || t >= ${C47}) { c.blk = ${k}; ${g.sync()} throw X.gp0(); } ${g.exit('t', `done + ${K}`)} }`;
}

/** Legacy SSE 16-byte memory operands must be aligned (#GP(0); SDM Vol. 1 §10.4.1.1). */
function alignCheck(g: Gen, k: number): string {
  if (g.alignAtHead(k)) return '';
  return `if ((a${k} & 15) !== 0) { c.blk = ${k}; ${g.sync()} throw X.misaligned(${lin(`a${k}`)}, ${g.ss}); }`;
}

/** SSE forms without flags (moves, logic, dword add/sub/shift, scalar double arithmetic), or undefined. */
function emitSse(g: Gen, i: Insn, k: number, next: number, K: number, eaCode: string): string | undefined {
  const row = i.row!;
  const sem = row.sem;
  const ops = i.ops;
  const d = ops[0];
  const sv = ops[1];
  switch (sem) {
    case 'movx':
    case 'movxa': {
      if (d!.kind === OK.XMM && sv!.kind === OK.XMM) {
        const D = d!.reg * 4;
        const S = sv!.reg * 4;
        const sync = `${g.xraw(sv!.reg, false)} ${g.xraw(d!.reg, true)}`;
        return `${sync} x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}]; x[${D + 2}] = x[${S + 2}]; x[${D + 3}] = x[${S + 3}]; ${g.xcopy(d!.reg, sv!.reg)}`;
      }
      // MOVUPS and friends may be unaligned; MOVAPS/MOVDQA/MOVNTPS must be aligned.
      const al = sem === 'movxa' ? alignCheck(g, k) : '';
      if (d!.kind === OK.XMM) {
        const D = d!.reg * 4;
        const call = g.rdLane(k, `a${k}`, D, () => g.xraw(d!.reg, true));
        if (call !== undefined) return `${eaCode} ${al} ${call}`;
        const rd = g.rd(k, `a${k}`, 16, `v${k}`);
        return `${eaCode} ${al} ${rd} ${g.xraw(d!.reg, true)} x[${D}] = v${k}_0; x[${D + 1}] = v${k}_1; x[${D + 2}] = v${k}_2; x[${D + 3}] = v${k}_3;`;
      }
      const S = sv!.reg * 4;
      const sync = g.xraw(sv!.reg, false);
      return `${eaCode} ${al} ${sync} ${g.wr(k, `a${k}`, 16, [`x[${S}]`, `x[${S + 1}]`, `x[${S + 2}]`, `x[${S + 3}]`], next, K, undefined, S)}`;
    }
    case 'movq':
    case 'movsd': {
      if (d!.kind === OK.XMM && sv!.kind === OK.XMM) {
        const D = d!.reg * 4;
        const S = sv!.reg * 4;
        const sync = `${g.xraw(sv!.reg, false)} ${g.xraw(d!.reg, true)}`;
        // MOVQ xmm, xmm zeroes the upper lane; MOVSD xmm, xmm merges the low lane.
        const copy = g.xcopy(d!.reg, sv!.reg);
        return sem === 'movq'
          ? `${sync} { const a = x[${S}], b = x[${S + 1}]; x[${D}] = a; x[${D + 1}] = b; x[${D + 2}] = 0; x[${D + 3}] = 0; } ${copy}`
          : `${sync} x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}]; ${copy}`;
      }
      if (d!.kind === OK.XMM) {
        const D = d!.reg * 4;
        const rd = g.rd(k, `a${k}`, 8, `v${k}`);
        return `${eaCode} ${rd} ${g.xraw(d!.reg, true)} x[${D}] = v${k}; x[${D + 1}] = v${k}h; x[${D + 2}] = 0; x[${D + 3}] = 0;`;
      }
      if (d!.kind !== OK.MEM) return undefined;
      const S = sv!.reg * 4;
      const sync = g.xraw(sv!.reg, false);
      return `${eaCode} ${sync} ${g.wr(k, `a${k}`, 8, [`x[${S}]`, `x[${S + 1}]`], next, K)}`;
    }
    case 'plogic':
    case 'padd':
    case 'psub': {
      // Dword lanes (and whole-register logic) inline; memory sources must be aligned.
      if (sem !== 'plogic' && row.cc !== 4) return undefined;
      const D = d!.reg * 4;
      let pre = '';
      let s: (j: number) => string;
      if (sv!.kind === OK.XMM) s = (j) => `x[${sv!.reg * 4 + j}]`;
      else {
        pre = `${eaCode} ${alignCheck(g, k)} ${g.rd(k, `a${k}`, 16, `v${k}`)}`;
        s = (j) => `v${k}_${j}`;
      }
      const sync = `${sv!.kind === OK.XMM ? g.xraw(sv!.reg, false) : ''} ${g.xraw(d!.reg, true)}`;
      if (sem === 'plogic' && (row.cc === 1 || row.cc === 3) && sv!.kind === OK.XMM && sv!.reg === d!.reg) {
        // PXOR/XORPS/PANDN of a register with itself: zero.
        return `${sync} x[${D}] = 0; x[${D + 1}] = 0; x[${D + 2}] = 0; x[${D + 3}] = 0;`;
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
      return `${pre} ${sync} { const t0 = ${e(0)}, t1 = ${e(1)}, t2 = ${e(2)}, t3 = ${e(3)}; x[${D}] = t0; x[${D + 1}] = t1; x[${D + 2}] = t2; x[${D + 3}] = t3; }`;
    }
    case 'pshiftI': {
      const code = shiftLanes(row.cc!, d!.reg * 4, i.imm & 0xff);
      return code === undefined ? undefined : `${g.xraw(d!.reg, true)} ${code}`;
    }
    case 'pbshift': {
      // PSRLDQ (cc 0) / PSLLDQ (cc 1): the register shifted by whole bytes (a count above 15 clears it).
      const D = d!.reg * 4;
      const n = i.imm & 0xff;
      const right = row.cc === 0;
      const lane = (j: number): string => {
        // Bits [32j + 8n, 32j + 8n + 32) of the source for a right shift, [32j - 8n, ...) for a left one.
        const bit = 32 * j + (right ? 8 * n : -8 * n);
        const q = Math.floor(bit / 32);
        const r = bit - 32 * q;
        const at = (t: number) => (t >= 0 && t < 4 ? `x[${D + t}]` : '0');
        if (r === 0) return at(q);
        return `((${at(q)} >>> ${r}) | (${at(q + 1)} << ${32 - r}))`;
      };
      return `${g.xraw(d!.reg, true)} { const t0 = ${lane(0)}, t1 = ${lane(1)}, t2 = ${lane(2)}, t3 = ${lane(3)}; x[${D}] = t0 | 0; x[${D + 1}] = t1 | 0; x[${D + 2}] = t2 | 0; x[${D + 3}] = t3 | 0; }`;
    }
    case 'punpck':
    case 'pack': {
      // Interleaves and packs on dword lanes: the source (register, or aligned memory) and the destination are
      // read whole before the destination is written.
      let pre = '';
      if (sv!.kind !== OK.XMM) {
        if (sv!.size !== 16) return undefined;
        pre = `${eaCode} ${alignCheck(g, k)} ${g.rd(k, `a${k}`, 16, `v${k}`)}`;
      }
      const D = d!.reg * 4;
      const S = (j: number) => (sv!.kind === OK.XMM ? `x[${sv!.reg * 4 + j}]` : `v${k}_${j}`);
      const sync = `${sv!.kind === OK.XMM ? g.xraw(sv!.reg, false) : ''} ${g.xraw(d!.reg, true)}`;
      if (sem === 'pack' && row.cc! < 2) {
        g.noCall();
        return `${pre} ${sync} X.packb(x, ${D}, ${S(0)}, ${S(1)}, ${S(2)}, ${S(3)}, ${row.cc});`;
      }
      const get = `const d0 = x[${D}], d1 = x[${D + 1}], d2 = x[${D + 2}], d3 = x[${D + 3}], s0 = ${S(0)}, s1 = ${S(1)}, s2 = ${S(2)}, s3 = ${S(3)};`;
      const lanes = sem === 'punpck' ? unpackLanes(row.cc!) : packLanes(row.cc!);
      return `${pre} ${sync} { ${get} ${lanes.map((e, j) => `x[${D + j}] = ${e};`).join(' ')} }`;
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
      const op = sem === 'fadd' ? '+' : sem === 'fsub' ? '-' : sem === 'fmul' ? '*' : '/';
      let load: string;
      if (sv!.kind !== OK.XMM)
        load =
          w === 8
            ? `${g.rd(k, `a${k}`, 8, `v${k}`)} X.I32[0] = v${k}; X.I32[1] = v${k}h; const b${k} = X.F64[0];`
            : `${g.rd(k, `a${k}`, 4, `v${k}`)} X.I32[0] = v${k}; const b${k} = X.F32[0];`;
      if (w === 8) {
        // The low doubles stay in JS locals (Gen.xs).
        let src = `b${k}`;
        if (sv!.kind === OK.XMM) {
          const [pre, e] = g.xget(sv!.reg);
          load = pre;
          src = e;
        }
        const [preD, dst] = g.xget(d!.reg);
        const slow = `{ ${handlerInline(g, i, k, next)} ${dst} = xf64[${2 * d!.reg}]; }`;
        return `${eaCode} ${load!} ${preD} const z${k} = ${dst} ${op} ${src}; if (z${k} === z${k}) ${g.xset(d!.reg, `z${k}`)} else ${slow}`;
      }
      if (sv!.kind === OK.XMM) load = `const b${k} = xf32[${sv!.reg * 4}];`;
      const lane = `xf32[${d!.reg * 4}]`;
      const sync = `${sv!.kind === OK.XMM ? g.xraw(sv!.reg, false) : ''} ${g.xraw(d!.reg, true)}`;
      return `${eaCode} ${load!} ${sync} const z${k} = Math.fround(${lane} ${op} b${k}); if (z${k} === z${k}) ${lane} = z${k}; else ${handlerInline(g, i, k, next)}`;
    }
    case 'fmin':
    case 'fmax': {
      // MINSD/MAXSD/MINSS/MAXSS: keep the destination only when it is strictly smaller (larger); otherwise the
      // source's bits, NaNs and signed zeros included (SDM "MINSD").
      const cc = row.cc!;
      if (!(cc & 0x10)) return undefined;
      const w = cc & 0xf;
      const cmp = sem === 'fmax' ? '>' : '<';
      const lane = w === 8 ? `xf64[${d!.reg * 2}]` : `xf32[${d!.reg * 4}]`;
      const D = d!.reg * 4;
      if (sv!.kind === OK.XMM && w === 8) {
        // On the cached doubles; a NaN source is copied bit for bit from the register (which holds it).
        const [preS, b] = g.xget(sv!.reg);
        const [preD, a] = g.xget(d!.reg);
        const S = sv!.reg * 4;
        const nan = `{ x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}]; ${a} = xf64[${2 * d!.reg}]; }`;
        return `${preS} ${preD} if (!(${a} ${cmp} ${b})) { if (${b} === ${b}) ${a} = ${b}; else ${nan} } ${g.xset(d!.reg, a)}`;
      }
      if (sv!.kind === OK.XMM) {
        const S = sv!.reg * 4;
        const bv = w === 8 ? `xf64[${sv!.reg * 2}]` : `xf32[${S}]`;
        const copy = w === 8 ? `x[${D}] = x[${S}]; x[${D + 1}] = x[${S + 1}];` : `x[${D}] = x[${S}];`;
        const sync = `${g.xraw(sv!.reg, false)} ${g.xraw(d!.reg, true)}`;
        return `${sync} if (!(${lane} ${cmp} ${bv})) { ${copy} }`;
      }
      const load =
        w === 8
          ? `${g.rd(k, `a${k}`, 8, `v${k}`)} X.I32[0] = v${k}; X.I32[1] = v${k}h; const b${k} = X.F64[0];`
          : `${g.rd(k, `a${k}`, 4, `v${k}`)} X.I32[0] = v${k}; const b${k} = X.F32[0];`;
      const copy = w === 8 ? `x[${D}] = v${k}; x[${D + 1}] = v${k}h;` : `x[${D}] = v${k};`;
      return `${eaCode} ${load} ${g.xraw(d!.reg, true)} if (!(${lane} ${cmp} b${k})) { ${copy} }`;
    }
    case 'comis': {
      // ZF,PF,CF = 111 unordered, 000 greater, 001 less, 100 equal; OF, SF, AF cleared (not lazy).
      const w = row.cc! & 0xf;
      let load: string;
      let a: string;
      if (sv!.kind !== OK.XMM)
        load =
          w === 8
            ? `${g.rd(k, `a${k}`, 8, `v${k}`)} X.I32[0] = v${k}; X.I32[1] = v${k}h; const b${k} = X.F64[0];`
            : `${g.rd(k, `a${k}`, 4, `v${k}`)} X.I32[0] = v${k}; const b${k} = X.F32[0];`;
      let b = `b${k}`;
      if (w === 8) {
        if (sv!.kind === OK.XMM) [load, b] = g.xget(sv!.reg);
        const [pre, e] = g.xget(d!.reg);
        load = `${load!} ${pre}`;
        a = e;
      } else {
        if (sv!.kind === OK.XMM) load = `${g.xraw(sv!.reg, false)} const b${k} = xf32[${sv!.reg * 4}];`;
        load = `${load!} ${g.xraw(d!.reg, false)}`;
        a = `xf32[${d!.reg * 4}]`;
      }
      const fl = g.setFl(`fl = (fl & -2262) | (a !== a || ${b} !== ${b} ? 69 : a < ${b} ? 1 : a === ${b} ? 64 : 0);`);
      return `${eaCode} ${load} { const a = ${a}; ${fl} }`;
    }
    case 'cvtsi2f': {
      if (row.cc !== 8) return undefined;
      const ld = load(g, i, 1, k, `v${k}`);
      if (!ld) return undefined;
      const val = sv!.size === 8 ? `v${k}h * 4294967296 + (v${k} >>> 0)` : `v${k}`;
      return `${eaCode} ${ld} ${g.xset(d!.reg, val)}`;
    }
    case 'cvtf2si': {
      // CVTTSD2SI in range inline; out-of-range and NaN (integer indefinite) through the handler.
      if (row.cc !== (8 | 0x10)) return undefined;
      let load: string;
      let b = `b${k}`;
      if (sv!.kind === OK.XMM) [load, b] = g.xget(sv!.reg);
      else load = `${g.rd(k, `a${k}`, 8, `v${k}`)} X.I32[0] = v${k}; X.I32[1] = v${k}h; const b${k} = X.F64[0];`;
      const lim = d!.size === 8 ? '9007199254740992' : '2147483648';
      const t = `t${k}`;
      const wr =
        d!.size === 8
          ? g.setReg(d!.reg, 8, `(${t} | 0)`, `(Math.floor(${t} / 4294967296) | 0)`)
          : g.setReg(d!.reg, 4, `(${t} | 0)`, '0');
      const slow = `{ ${handlerInline(g, i, k, next)} ${g.setReg(d!.reg, d!.size, `R[${2 * d!.reg}]`, `R[${2 * d!.reg + 1}]`)} }`;
      return `${eaCode} ${load} const ${t} = Math.trunc(${b}); if (${t} > -${lim} && ${t} < ${lim}) { ${wr} } else ${slow}`;
    }
    default:
      return undefined;
  }
}

/**
 * PSRLW/PSRAW/PSLLW, PSRLD/PSRAD/PSLLD and PSRLQ/PSLLQ by an immediate on register lane D (cc = width | 0x10
 * arithmetic | 0x20 left, exec-sse.ts `doShift`): a count beyond the width clears the lanes (fills them with the
 * sign for arithmetic shifts). Word lanes are shifted two at a time within dwords.
 */
function shiftLanes(cc: number, D: number, n: number): string | undefined {
  const w = cc & 0xf;
  const arith = (cc & 0x10) !== 0;
  const left = (cc & 0x20) !== 0;
  const each = (f: (v: string) => string) => [0, 1, 2, 3].map((j) => `x[${D + j}] = ${f(`x[${D + j}]`)};`).join(' ');
  if (w === 4) {
    if (n > 31) return each((v) => (arith ? `${v} >> 31` : '0'));
    return each((v) => (left ? `${v} << ${n}` : arith ? `${v} >> ${n}` : `(${v} >>> ${n}) | 0`));
  }
  if (w === 2) {
    if (arith) {
      const s = Math.min(n, 15);
      return each((v) => `((${v} >> ${s}) & -65536) | (((${v} << 16) >> ${16 + s}) & 65535)`);
    }
    if (n > 15) return each(() => '0');
    const m = left ? (0xffff << n) & 0xffff : 0xffff >>> n;
    const mask = (m << 16) | m | 0;
    return each((v) => (left ? `(${v} << ${n}) & ${mask}` : `(${v} >>> ${n}) & ${mask}`));
  }
  if (w !== 8 || arith) return undefined;
  const out: string[] = [];
  for (const q of [0, 2]) {
    const lo = `x[${D + q}]`;
    const hi = `x[${D + q + 1}]`;
    let nl: string;
    let nh: string;
    if (n > 63) [nl, nh] = ['0', '0'];
    else if (n === 0) continue;
    else if (left) [nl, nh] = n >= 32 ? ['0', `l << ${n - 32}`] : [`l << ${n}`, `(h << ${n}) | (l >>> ${32 - n})`];
    else [nl, nh] = n >= 32 ? [`(h >>> ${n - 32}) | 0`, '0'] : [`(l >>> ${n}) | (h << ${32 - n})`, `(h >>> ${n}) | 0`];
    out.push(`{ const l = ${lo}, h = ${hi}; ${lo} = ${nl}; ${hi} = ${nh}; }`);
  }
  return out.join(' ');
}

/**
 * PUNPCKL/H{BW,WD,DQ,QDQ} (and UNPCKL/HPS/PD) on dwords d0..d3 (destination) and s0..s3 (source): the lanes
 * of the low (high, cc & 0x10) halves interleaved, destination first (SDM "PUNPCKLBW").
 */
function unpackLanes(cc: number): string[] {
  const w = cc & 0xf;
  const [dA, dB, sA, sB] = cc & 0x10 ? ['d2', 'd3', 's2', 's3'] : ['d0', 'd1', 's0', 's1'];
  if (w === 8) return [dA, dB, sA, sB];
  if (w === 4) return [dA, sA, dB, sB];
  // Word j of the half, from dword j >> 1.
  const word = (a: string, b: string, j: number) => {
    const v = j < 2 ? a : b;
    return j % 2 ? `(${v} >>> 16)` : `(${v} & 65535)`;
  };
  const out: string[] = [];
  for (let j = 0; j < 4; j++) {
    const dw = word(dA, dB, j);
    const sw = word(sA, sB, j);
    out.push(
      w === 2
        ? `${dw} | (${sw} << 16)`
        : `(${dw} & 255) | ((${sw} & 255) << 8) | ((${dw} & 65280) << 8) | ((${sw} & 65280) << 16)`,
    );
  }
  return out;
}

/**
 * PACKSSDW (2), PACKUSDW (3) on dwords d0..d3 and s0..s3: signed dwords saturated to words, the destination's
 * first (SDM "PACKSSDW"). The byte forms go to `packBytes`.
 */
function packLanes(k: number): string[] {
  const src = ['d0', 'd1', 'd2', 'd3', 's0', 's1', 's2', 's3'];
  const sw = (v: string) =>
    k === 2
      ? `(${v} < -32768 ? 32768 : ${v} > 32767 ? 32767 : ${v} & 65535)`
      : `(${v} < 0 ? 0 : ${v} > 65535 ? 65535 : ${v})`;
  return [0, 1, 2, 3].map((j) => `${sw(src[2 * j]!)} | (${sw(src[2 * j + 1]!)} << 16)`);
}

/**
 * Runs instruction k's handler from inside an inlined SSE instruction, for its rare cases (a NaN result, an
 * out-of-range conversion). The handler reads XMM state and at most its address registers, which go to the
 * Cpu first, and writes XMM state (the caller reloads a GPR destination).
 */
function handlerInline(g: Gen, i: Insn, k: number, next: number): string {
  g.noCall();
  const regs = i.hasMem && !i.ripRel ? [i.base, i.index].filter((r) => r >= 0) : [];
  const spill = regs.map((r) => `R[${2 * r}] = ${g.reg(r, 8)}; R[${2 * r + 1}] = ${g.hi(r)};`).join(' ');
  return `{ ${spill} ${g.sync()} c.blk = ${k}; c.nextRip = base + ${next}; I[${k}].exec(c, I[${k}]); }`;
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

/** Register-only forms that neither read nor write flags and cannot fault (LEA touches no memory). */
const FLAG_NEUTRAL = new Set([
  'mov',
  'movzx',
  'movsx',
  'movsxd',
  'not',
  'bswap',
  'xchg',
  'cbw',
  'cwd',
  'nop',
  'movx',
  'movxa',
  'movq',
  'movsd',
  'plogic',
  'padd',
  'psub',
  'pshiftI',
  'pbshift',
  'punpck',
  'pack',
]);

/** How an instruction treats the flags before it: 'kill' (writes all six, cannot fault first), 'neutral', 'use'. */
function flagRole(i: Insn): 'kill' | 'neutral' | 'use' | 'rotate' {
  const row = i.row;
  if (!row || i.pfx & PFX.LOCK) return 'use';
  const sem = row.sem;
  if (sem === 'lea') return 'neutral';
  if (i.hasMem) return 'use';
  if (FLAG_NEUTRAL.has(sem)) return 'neutral';
  const size = i.ops[0]?.size ?? 0;
  switch (sem) {
    case 'alu':
      return row.cc === 2 || row.cc === 3 ? 'use' : 'kill';
    case 'test':
    case 'neg':
      return 'kill';
    case 'imul2':
    case 'imul3':
      return size === 4 ? 'kill' : 'use';
    case 'comis':
      return 'kill';
    case 'shift': {
      if (i.ops[1]!.kind !== OK.IMM || (size !== 4 && size !== 8)) return 'use';
      const n = i.imm & (size === 8 ? 63 : 31);
      if (n === 0) return 'neutral';
      const k = row.cc!;
      return k === 0 || k === 1 ? 'rotate' : k === 2 || k === 3 ? 'use' : 'kill';
    }
    default:
      return 'use';
  }
}

/**
 * For each instruction of a block, whether the flags it leaves are dead: a later instruction of the block
 * writes all six before anything — a flag read, a possible fault, a handler, the block's end — can observe
 * them. A fault exposes the flags, so only register forms count as killing.
 */
function deadFlagsOf(insns: readonly Insn[]): boolean[] {
  const dead = insns.map(() => false);
  let live = true;
  for (let p = insns.length - 1; p >= 0; p--) {
    dead[p] = !live;
    const role = flagRole(insns[p]!);
    if (role === 'kill') live = false;
    else if (role === 'use' || (role === 'rotate' && live)) live = true;
  }
  return dead;
}

/** Position of a block's last branch back to its own start (-1: it has none). */
function lastBackEdge(b: RegionBlock): number {
  let off = b.off;
  let last = -1;
  for (const [pos, i] of b.insns.entries()) {
    off += i.len;
    const sem = i.row?.sem;
    if ((sem === 'jcc' || sem === 'jmp') && off + i.imm === b.off) last = pos;
  }
  return last;
}

/**
 * For each position up to `end` (and after it), each register's distance from its value at the block's start
 * when it is a constant: registers moved only by 64-bit ADD/SUB of an immediate, INC/DEC and `lea d(r), r` (exact
 * modulo 2^64, as the addresses computed from them). Any other write makes the distance unknown.
 */
function headDeltas(insns: readonly Insn[], end: number): Array<Array<number | undefined>> {
  const out: Array<Array<number | undefined>> = [];
  let d: Array<number | undefined> = new Array(16).fill(0);
  for (let pos = 0; pos <= end; pos++) {
    out.push(d);
    d = d.slice();
    const i = insns[pos]!;
    const sem = i.row?.sem;
    const o0 = i.ops[0];
    const r = o0?.kind === OK.REG ? (o0.reg >= 16 ? o0.reg - 16 : o0.reg) : -1;
    let step: number | undefined;
    if (r >= 0 && o0!.size === 8) {
      const o1 = i.ops[1];
      if (sem === 'alu' && (i.row!.cc === 0 || i.row!.cc === 5) && o1?.kind === OK.IMM) {
        step = i.row!.cc === 0 ? i.imm | 0 : -(i.imm | 0);
      } else if (sem === 'incdec') step = i.row!.cc === 1 ? -1 : 1;
      else if (sem === 'lea' && !i.ripRel && i.base === r && i.index < 0 && i.seg === SEG_NONE && i.asize === 8) {
        step = i.disp;
      }
    }
    const writes = sem === 'alu' ? (i.row!.cc === 7 ? [] : [r]) : sem === 'test' ? [] : [r];
    if (sem === 'xchg' && i.ops[1]?.kind === OK.REG) writes.push(i.ops[1].reg);
    if (sem === 'cbw') writes.push(0);
    if (sem === 'cwd') writes.push(2);
    for (const w of writes) if (w >= 0) d[w] = step !== undefined && d[w] !== undefined ? d[w]! + step : undefined;
  }
  out.push(d);
  return out;
}

/**
 * Whether a loop's memory operands up to its last back-edge stay on their pages from one iteration to the next
 * often enough for a fast copy: each moves by a constant less than a page per iteration.
 */
function pageStable(insns: readonly Insn[], deltas: ReadonlyArray<ReadonlyArray<number | undefined>>): boolean {
  const end = deltas[deltas.length - 1]!;
  for (let pos = 0; pos < deltas.length - 1; pos++) {
    const i = insns[pos]!;
    if (!i.hasMem || i.row?.sem === 'lea' || i.row?.sem === 'nop' || i.ripRel) continue;
    const b = i.base < 0 ? 0 : end[i.base];
    const x = i.index < 0 ? 0 : end[i.index];
    if (b === undefined || x === undefined || Math.abs(b + x * 2 ** i.scale) >= 4096) return false;
  }
  return true;
}

/** Whether a block's last instruction lets execution fall through to the next address. */
function fallsThrough(insns: readonly Insn[]): boolean {
  const last = insns[insns.length - 1]!;
  const f = last.row ? last.row.flags : F.STOP;
  return !(f & F.STOP) && !(f & F.BRANCH && last.row!.sem !== 'jcc');
}

/**
 * Page offsets a block transfers to directly: branch and call targets, the return site after a call, and the
 * fall-through.
 */
export function successors(b: RegionBlock): number[] {
  const out: number[] = [];
  let off = b.off;
  for (const i of b.insns) {
    off += i.len;
    const sem = i.row?.sem;
    if (sem === 'jcc' || sem === 'jmp' || sem === 'call') {
      const t = off + i.imm;
      if (inPage(t)) out.push(t);
      if (sem === 'call' && off < 4096) out.push(off);
    }
  }
  if (fallsThrough(b.insns) && off < 4096) out.push(off);
  return out;
}

/**
 * Compiles a region (blocks[0] is the entry; all blocks come from one page), or returns undefined when its
 * code would exceed `maxSource` characters. Generated code is the point of the JIT; `CpuOptions.jit` turns it
 * off where eval is barred.
 */
export function compileRegion(blocks: readonly RegionBlock[], maxSource = Infinity): Compiled | undefined {
  const key = regionKey(blocks, maxSource);
  let r = REGIONS.get(key);
  if (r === undefined) {
    r = generate(blocks, maxSource) ?? null;
    remember(key, r);
  }
  if (r === null) return undefined;
  const made = r;
  const insns = Array.from(made.blk, (b, k) => blocks[b]!.insns[made.at[k]!]!);
  return { fn: made.fn, caches: new PageCaches(made.sites), insns, off: made.off, pos: made.pos };
}

/** A generated region: its function and, per instruction index, the block and position it came from. */
interface Generated {
  readonly fn: BlockFn;
  readonly sites: number;
  readonly blk: Int32Array;
  readonly at: Int32Array;
  readonly off: Int32Array;
  readonly pos: Int32Array;
}

/** What a region's code is made from: its blocks' page offsets and instruction bytes (and the size limit). */
function regionKey(blocks: readonly RegionBlock[], maxSource: number): string {
  let key = String(maxSource);
  for (const b of blocks) {
    key += `|${b.off}:`;
    for (const i of b.insns) key += String.fromCharCode(...i.bytes);
  }
  return key;
}

/**
 * Generated regions by what they are made from, so that a machine running code another machine ran (a fresh
 * machine per test or benchmark run, CPUs of one machine) skips generating it again; null: too large. Bounded
 * like FUNCTIONS, oldest first.
 */
const REGIONS = new Map<string, Generated | null>();
let regionKeys = 0;

function remember(key: string, r: Generated | null): void {
  REGIONS.set(key, r);
  regionKeys += key.length;
  for (const old of REGIONS.keys()) {
    if (regionKeys <= MAX_FUNCTION_SOURCE) break;
    REGIONS.delete(old);
    regionKeys -= old.length;
  }
}

/** A block as emitted: a region block, or the part of one after its loop (see `splitLoops`). */
interface EmitBlock extends RegionBlock {
  /** The region block it comes from, and the position of its first instruction there. */
  readonly src: number;
  readonly first: number;
}

/**
 * The region's blocks, where a block that loops back to itself ends at its last back-edge and what follows
 * becomes a block of its own (appended): the loop's copies (compileRegion) then do not repeat what runs once
 * after it.
 */
function splitLoops(blocks: readonly RegionBlock[]): EmitBlock[] {
  const out: EmitBlock[] = blocks.map((b, j) => ({ ...b, src: j, first: 0 }));
  for (const [j, b] of blocks.entries()) {
    const e = lastBackEdge(b);
    if (e < 0 || e === b.insns.length - 1) continue;
    let off = b.off;
    for (let p = 0; p <= e; p++) off += b.insns[p]!.len;
    out[j] = { off: b.off, insns: b.insns.slice(0, e + 1), src: j, first: 0 };
    out.push({ off, insns: b.insns.slice(e + 1), src: j, first: e + 1 });
  }
  return out;
}

function generate(regionBlocks: readonly RegionBlock[], maxSource: number): Generated | undefined {
  const blocks = splitLoops(regionBlocks);
  const labels = new Map<number, number>();
  for (const [j, b] of blocks.entries()) labels.set(b.off, j);
  const g = new Gen(labels);
  for (const b of blocks) {
    let off = b.off;
    for (const i of b.insns) {
      off += i.len;
      if (i.row?.sem === 'call' && labels.has(off) && g.returnSites.length < 8) g.returnSites.push(off);
    }
  }
  const all: Insn[] = [];
  const offs: number[] = [];
  const poss: number[] = [];
  const blks: number[] = [];
  const ats: number[] = [];
  const cases: string[] = [];
  /** The code of block j, emitted with the flags at its head described by `headK` when it loops back. */
  const emitBody = (j: number, b: EmitBlock, headK: Known | undefined, fast: boolean): string => {
    // Every way into a block leaves the locals as the state (see Gen).
    g.stale = false;
    g.dirty = 'all';
    g.flagsDirty = true;
    g.fresh.clear();
    g.flagsFresh = false;
    g.known = undefined;
    g.alias.clear();
    g.xs.fill(0);
    g.block = j;
    g.loopEnd = lastBackEdge(b);
    g.loop = g.loopEnd >= 0;
    g.backK = [];
    g.headK = headK;
    g.pend = headK ? 2 : 0;
    g.fast = fast;
    g.defer = fast;
    g.fastOk = true;
    g.resetChecks();
    const len = b.insns.length;
    // Elsewhere flags are assigned as they are written: first those a back-edge left deferred.
    const head = fast ? '' : g.settle();
    // A block starts only when the budget covers it all (run() checked the first entry; loops come back here).
    // The fast copy leaves that, and any iteration its head checks do not admit, to the other copy.
    const parts: string[] = [
      `${head} if (rem - done < ${len}) ${fast ? `break f${j};` : g.exit(`base + ${b.off}`, 'done')}`,
    ];
    let off = b.off;
    const dead = deadFlagsOf(b.insns);
    for (const [pos, i] of b.insns.entries()) {
      const k = all.length;
      all.push(i);
      offs.push(off);
      poss.push(pos);
      blks.push(b.src);
      ats.push(b.first + pos);
      const next = off + i.len;
      g.begin();
      g.at(i, pos, next);
      g.deadFlags = dead[pos]!;
      const xs = g.xs.slice();
      const inline = emit(g, i, k, next, pos);
      g.deadFlags = false;
      // An instruction left to its handler changed no cache state.
      if (inline === undefined) for (let r = 0; r < 16; r++) g.xs[r] = xs[r]!;
      const at = `base + ${off}, base + ${next}`;
      if (inline !== undefined) parts.push(g.finish(inline));
      else if (g.abandon() && i.row && XMM_ONLY.has(i.row.sem)) {
        // An SSE handler: it reads at most its address registers and a GPR source, and writes no GPR or flag.
        const regs: number[] = [];
        if (i.hasMem && !i.ripRel) for (const r of [i.base, i.index]) if (r >= 0) regs.push(r);
        for (const o of i.ops) if (o.kind === OK.REG) regs.push(o.reg >= 16 ? o.reg - 16 : o.reg);
        const dest = i.ops[0]?.kind === OK.XMM ? i.ops[0].reg : -1;
        const call = `${g.xmmCall(regs, dest)} c.blk = ${k}; if (X.call(c, I[${k}], ${at}))`;
        parts.push(`${call} ${g.exit('c.rip', `done + ${pos + 1}`)}`);
      } else {
        // The interpreter handler, with RIP and next-RIP as run() would set them.
        const call = `${g.handlerCall()} c.blk = ${k}; if (X.call(c, I[${k}], ${at}))`;
        parts.push(`${call} ${g.exit('c.rip', `done + ${pos + 1}`)}`);
      }
      off = next;
    }
    // The end of the block: on to the next block of the region, or out.
    const t = fallsThrough(b.insns) ? labels.get(off) : undefined;
    parts.push(t !== undefined ? g.jump(off, len) : g.exit(`base + ${off}`, `done + ${len}`));
    // The head checks go after the budget check.
    if (fast) parts.splice(1, 0, ...g.checks);
    return parts.join('\n');
  };
  for (const [j, b] of blocks.entries()) {
    const at = [all.length, g.sites, g.tmp] as const;
    let headK: Known | undefined;
    let body = emitBody(j, b, undefined, false);
    if (!g.loop) {
      cases.push(`case ${j}: {\n${body}\n}`);
      continue;
    }
    // When every way round the loop leaves the flags as one register form, emit the block again expecting it.
    const head = g.backK[0];
    if (head !== undefined && g.backK.every((k) => k !== undefined && sameKnown(k, head))) {
      all.length = offs.length = poss.length = blks.length = ats.length = at[0];
      g.sites = at[1];
      g.tmp = at[2];
      headK = head;
      body = emitBody(j, b, head, false);
    }
    // A fast copy in front, looping on its own while the head checks admit each iteration.
    const mark = [all.length, g.sites, g.tmp] as const;
    g.deltas = headDeltas(b.insns, g.loopEnd);
    let fast = !pageStable(b.insns, g.deltas) ? '' : emitBody(j, b, headK, true);
    if (!g.fastOk || g.checks.length === 0) {
      all.length = offs.length = poss.length = blks.length = ats.length = mark[0];
      g.sites = mark[1];
      g.tmp = mark[2];
      fast = '';
    }
    g.fast = false;
    const fp = headK ? 'let fp = 0;\n' : '';
    // The fast copy's page caches do not change while it loops (misses go to the other copy).
    const snap = g.fastSites.map((s) => `const P${s} = P[${s}], Q${s} = Q[${s}], D${s} = D[${s}];`).join(' ');
    const loop = fast ? `${snap}\nf${j}: for (;;) {\n${fast}\n}\n` : '';
    cases.push(`case ${j}: {\n${fp}b${j}: for (;;) {\n${loop}${body}\n}\n}`);
  }
  const regs = [...Array(16).keys()];
  const used = regs.filter((n) => g.used[n]);
  const written = regs.filter((n) => g.written[n]);
  const spill =
    written.map((n) => `R[${2 * n}] = l${n}; R[${2 * n + 1}] = h${n};`).join(' ') + (g.flagsWritten ? FLAG_SPILL : '');
  const reload = `${used.map((n) => `l${n} = R[${2 * n}]; h${n} = R[${2 * n + 1}];`).join(' ')}${g.flagsUsed ? FLAG_RELOAD : ''} sp = 0;`;
  const decl = [
    // Strict: a name the generator failed to declare is an error, not a global.
    "'use strict';",
    'const R = c.r, m = c.m, x = c.x32, xf64 = c.xf64, xf32 = c.xf32;',
    // The code page's linear address, and as int32 halves for RIP-relative addresses.
    `const base = c.rip - ${blocks[0]!.off}, B0 = base | 0, B1 = Math.floor(base / 4294967296) | 0;`,
    'let done = 0, L = 0, sp = 0, nret = 0;',
    used.length ? `let ${used.map((n) => `l${n} = R[${2 * n}], h${n} = R[${2 * n + 1}]`).join(', ')};` : '',
    g.flagsUsed
      ? 'let fl = c.flags, lz = c.lazy, fr = c.lres, fh = c.lhi, fs = c.lsize, fa = c.laux, fk = 0, fx = 0, fxh = 0, fy = 0, fyh = 0;'
      : '',
    g.sites ? 'const P = S.p, Q = S.q, D = S.d;' : '',
    g.xdUsed.some((u) => u)
      ? `let ${regs
          .filter((r) => g.xdUsed[r])
          .map((r) => `xd${r} = 0`)
          .join(', ')};`
      : '',
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
  const src = body
    .replaceAll(SPILL, spill)
    .replaceAll(RELOAD, reload)
    .replaceAll(FLAG_SPILL_IF, g.flagsWritten ? FLAG_SPILL : '');
  if (src.length > maxSource) return undefined;
  const fn = functionFor(src);
  return {
    fn,
    sites: g.sites,
    blk: Int32Array.from(blks),
    at: Int32Array.from(ats),
    off: Int32Array.from(offs),
    pos: Int32Array.from(poss),
  };
}

/**
 * Compiled functions by source text. The code depends only on the instruction bytes it was generated from
 * (the Cpu, the instructions and the helpers are arguments), so machines and CPUs running the same code share
 * one function — and the optimized machine code V8 built for it. Bounded by total source size; the oldest
 * entries go first.
 */
const FUNCTIONS = new Map<string, BlockFn>();
const MAX_FUNCTION_SOURCE = 32 * 1024 * 1024;
let functionSource = 0;

function functionFor(src: string): BlockFn {
  let fn = FUNCTIONS.get(src);
  if (fn === undefined) {
    fn = new Function('c', 'I', 'X', 'rem', 'S', src) as BlockFn;
    functionSource += src.length;
    for (const old of FUNCTIONS.keys()) {
      if (functionSource <= MAX_FUNCTION_SOURCE) break;
      FUNCTIONS.delete(old);
      functionSource -= old.length;
    }
    FUNCTIONS.set(src, fn);
  }
  return fn;
}
