/**
 * The execution loop: `run(cpu, budget)` retires up to `budget` instructions and says why it stopped.
 *
 * Instructions come from the decoded-block cache (decode-cache.ts) keyed by the physical address of RIP. A
 * handler that faults throws a CpuFault before any architectural side effect; RIP still points at the
 * instruction, as for every fault SDM Vol. 3A §6.5 classifies as a fault. Traps (#BP from INT3, #DB from
 * single-step or INT1) report RIP after the instruction. SYSCALL, ENCLU, ENCLS, HLT and INT n stop the loop
 * with their own reason so that the kernel or the SGX layer can act and call run() again.
 */

import { type CpuFault, DR6_BS, debugTrap, fault, gp, isFault, Vector } from '../fault';
import { PAGE_SIZE } from '../mem/page';
import { Cpu, type CpuOptions, type CpuState, StopSignal, TF, TWO32 } from './cpu';
import { type Block, DecodeCache } from './decode-cache';
import { decodeInsn, type Insn } from './decoder';
import { bindHandler } from './exec';
import { type Compiled, compileRegion, HELPERS, successors } from './jit';
import { F } from './opcodes';

/** Why run() returned. */
export type StopReason =
  /** The instruction budget is spent; RIP is at the next instruction. */
  | { readonly kind: 'budget' }
  /**
   * A fault or trap. For a fault RIP is at the faulting instruction, which had no effect; for a trap
   * (`trap: true`: #BP from INT3, #DB from TF single-step or INT1) RIP is after the instruction.
   */
  | { readonly kind: 'fault'; readonly fault: CpuFault; readonly trap: boolean }
  /** SYSCALL executed: RCX = return RIP, R11 = RFLAGS, RIP is after the instruction. */
  | { readonly kind: 'syscall' }
  /** ENCLU at CPL 3 with EAX = leaf; RIP is at the instruction (the leaf decides where execution goes). */
  | { readonly kind: 'enclu'; readonly leaf: number }
  /** ENCLS at CPL 0 with EAX = leaf; RIP is at the instruction. */
  | { readonly kind: 'encls'; readonly leaf: number }
  /** HLT at CPL 0; RIP is after the instruction. */
  | { readonly kind: 'hlt' }
  /** INT n (n ≠ 3); RIP is after the instruction. The kernel's IDT decides what happens (e.g. #GP or int 0x80). */
  | { readonly kind: 'int'; readonly vector: number };

export interface RunResult {
  readonly stop: StopReason;
  /** Instructions retired by this call. */
  readonly executed: number;
}

/** Longest run of instructions in one block. */
const MAX_BLOCK = 128;
/** Entries before a block is compiled to a JS function (CpuOptions.jitThreshold overrides). */
const JIT_THRESHOLD = 32;

/** Creates a CPU over `opts.mem` and `opts.pageTable`, in user mode (CPL 3) outside enclave mode. */
export function createCpu(opts: CpuOptions): Cpu {
  return new Cpu(opts, () => new DecodeCache());
}

const CONDITIONAL = new Set(['jcc', 'loop', 'jrcxz']);
/** Set once the environment refuses to compile code; results are the same, only slower. */
let jitUnavailable = false;

const tooLong: (c: Cpu, i: Insn) => void = () => {
  throw gp(0);
};

/** Whether decoding stops after `insn`: an unconditional control transfer, or an instruction run() must see. */
function endsBlock(insn: Insn): boolean {
  // Blocks run on past conditional branches (a taken branch leaves the block early); anything else that
  // transfers control or must be seen by the loop (POPF and TF) ends the block.
  const f = insn.row ? insn.row.flags : F.STOP;
  return (f & F.STOP) !== 0 || ((f & F.BRANCH) !== 0 && !CONDITIONAL.has(insn.row!.sem));
}

/**
 * Decodes a block's instructions from `page` at offset `off` into `insns`, up to the block's end. Returns
 * 'cross' when the next instruction continues on the following page (it is not decoded).
 */
function decodeRun(page: Uint8Array, off: number, insns: Insn[]): 'end' | 'cross' {
  let o = off;
  while (insns.length < MAX_BLOCK) {
    const insn = decodeInsn(page, o, PAGE_SIZE);
    if (insn.len === -1) return 'cross';
    if (insn.len === -2) {
      insn.len = 15;
      insn.exec = tooLong;
      insns.push(insn);
      return 'end';
    }
    bindHandler(insn);
    insns.push(insn);
    o += insn.len;
    if (endsBlock(insn) || o >= PAGE_SIZE) return 'end';
  }
  return 'end';
}

/** Decodes the block at linear `rip` (physical `pa`); caches it unless it comes from an abort page. */
function buildBlock(c: Cpu, rip: number, slot: number, pa: number, cacheable: boolean): Block {
  const m = c.m;
  const page = m.u8X[slot]!;
  const off = rip & (PAGE_SIZE - 1);
  const insns: Insn[] = [];
  let crossPage = false;
  if (decodeRun(page, off, insns) === 'cross' && insns.length === 0) {
    // The first instruction runs into the next page: fetch it (which may fault with #PF, I/D set, at the next
    // page's address) and decode the instruction alone, as a block of its own.
    const next = rip - off + PAGE_SIZE;
    const s2 = m.fetchSlot(next);
    const buf = new Uint8Array(32);
    const head = PAGE_SIZE - off;
    buf.set(page.subarray(off, PAGE_SIZE), 0);
    buf.set(m.u8X[s2]!.subarray(0, 32 - head), head);
    const insn = decodeInsn(buf, 0, 32);
    if (insn.len === -2) {
      insn.len = 15;
      insn.exec = tooLong;
    } else bindHandler(insn);
    insns.push(insn);
    crossPage = true;
  }
  const block: Block = {
    pa,
    insns,
    hits: 0,
    fn: undefined,
    comp: undefined,
    dead: false,
    nextPa: -1,
    next: undefined,
    next2Pa: -1,
    next2: undefined,
  };
  if (cacheable && !crossPage) c.cache instanceof DecodeCache && c.cache.put(block);
  return block;
}

/** Most blocks and instructions in one compiled region. */
const MAX_REGION_BLOCKS = 32;
const MAX_REGION_INSNS = 400;
/**
 * Most characters of generated code for one region: V8 compiles large functions slowly (and again after each
 * deoptimization), does not optimize them at all beyond its bytecode limit (about 60 KiB, ~70 000 characters),
 * and optimizes a loop worse in a large function (SHA-256's round loop ran at half speed in a 47 000-character
 * region, with code it runs once per 64 rounds).
 */
const MAX_REGION_SOURCE = 32_000;

/** The instructions of `insns` (a block at page offset `off`) up to the next start of another block. */
function cutAt(off: number, insns: readonly Insn[], starts: ReadonlySet<number>): Insn[] {
  let p = off;
  for (let k = 0; k < insns.length; k++) {
    if (k > 0 && starts.has(p)) return insns.slice(0, k);
    p += insns[k]!.len;
  }
  return insns.slice();
}

/**
 * Compiles the region of `entry` (at page offset `off` of the code page in fetch slot `slot`): the entry
 * block and the blocks of the same page it reaches by direct branches, calls, returns to its call sites and
 * fall-through, breadth first, up to blocks that enter regions compiled before. A block ends where another one
 * starts, so each instruction is compiled once. The blocks found last are dropped until the region is small
 * enough. All come from the one page, so the region lives and dies with the entry block's page.
 */
function compileEntry(c: Cpu, cache: DecodeCache, entry: Block, off: number, slot: number): Compiled {
  const page = c.m.u8X[slot]!;
  const full = new Map<number, readonly Insn[]>([[off, entry.insns]]);
  const order = [off];
  for (let q = 0; q < order.length && order.length < MAX_REGION_BLOCKS; q++) {
    const o = order[q]!;
    for (const t of successors({ off: o, insns: full.get(o)! })) {
      if (full.has(t) || order.length >= MAX_REGION_BLOCKS) continue;
      // Code that already enters a compiled region is left to it (run() goes on there): each hot path is
      // compiled once, and a loop stays in the region built around it rather than split into a later one.
      if (cache.get(entry.pa - off + t)?.comp !== undefined) continue;
      const insns: Insn[] = [];
      decodeRun(page, t, insns);
      if (insns.length === 0) continue;
      full.set(t, insns);
      order.push(t);
    }
  }
  // A start only the fall-through of a block cut short by the decode limit leads to, inside a block that another
  // start covers, is not needed: dropping it keeps a loop that such a block runs into in one piece.
  for (;;) {
    const starts = new Set(order);
    const reached = new Set([off]);
    const queue = [off];
    while (queue.length > 0) {
      const o = queue.pop()!;
      for (const t of successors({ off: o, insns: cutAt(o, full.get(o)!, starts) })) {
        if (!starts.has(t) || reached.has(t)) continue;
        reached.add(t);
        queue.push(t);
      }
    }
    if (reached.size === order.length) break;
    order.splice(0, order.length, ...order.filter((o) => reached.has(o)));
  }
  for (;;) {
    const starts = new Set(order);
    const blocks = order.map((o) => ({ off: o, insns: cutAt(o, full.get(o)!, starts) }));
    const small = blocks.reduce((n, b) => n + b.insns.length, 0) <= MAX_REGION_INSNS;
    const comp =
      small || order.length === 1
        ? compileRegion(blocks, order.length === 1 ? Infinity : MAX_REGION_SOURCE)
        : undefined;
    if (comp) return comp;
    order.pop();
  }
}

/**
 * Executes up to `budget` instructions.
 * @returns the stop reason and the number of instructions retired.
 */
export function run(c: Cpu, budget: number): RunResult {
  const m = c.m;
  const cache = c.cache as DecodeCache;
  const jit = c.opts.jit !== false;
  const threshold = c.opts.jitThreshold ?? JIT_THRESHOLD;
  // Page tables, modes and the access hook's answers may have changed since the last run: regions start with
  // empty page caches (they keep them from one region call to the next within this run).
  m.epoch++;
  let n = 0;
  // While a compiled region runs: its code page's linear base and tables, to place RIP on a faulting instruction.
  let inRegion: Compiled | undefined;
  let pageBase = 0;
  try {
    let prev: Block | undefined;
    while (n < budget) {
      const rip = c.rip;
      const off = rip & (PAGE_SIZE - 1);
      const vpn = (rip - off) / PAGE_SIZE;
      const slot = m.tagX[vpn & 255] === vpn ? vpn & 255 : m.fill(rip, 'x');
      const abort = m.abortX[slot] === 1;
      const pa = m.pfnX[slot]! * PAGE_SIZE + off;
      // Follow one of the previous block's two links (taken / not taken) when it still leads to this address.
      let block: Block | undefined;
      if (prev !== undefined && !abort) {
        block = prev.nextPa === pa ? prev.next : prev.next2Pa === pa ? prev.next2 : undefined;
        if (block?.dead) block = undefined;
      }
      if (block === undefined) {
        block = (!abort && cache.get(pa)) || buildBlock(c, rip, slot, pa, !abort);
        if (prev !== undefined && !abort) {
          prev.next2Pa = prev.nextPa;
          prev.next2 = prev.next;
          prev.nextPa = pa;
          prev.next = block;
        }
      }
      prev = block;
      const insns = block.insns;
      if (jit && !(c.flags & TF) && budget - n >= insns.length) {
        let comp = block.comp;
        if (comp === undefined && ++block.hits >= threshold && !abort && !jitUnavailable) {
          try {
            comp = block.comp = compileEntry(c, cache, block, off, slot);
            block.fn = comp.fn;
          } catch (e) {
            // `new Function` refused (a Content-Security-Policy without 'unsafe-eval'): interpret from now on.
            if (!(e instanceof EvalError)) throw e;
            jitUnavailable = true;
          }
        }
        if (comp !== undefined) {
          inRegion = comp;
          pageBase = rip - off;
          const pc = comp.caches;
          if (pc.cpu !== c || pc.epoch !== m.epoch) pc.reset(c, m.epoch);
          n += comp.fn(c, comp.insns, HELPERS, budget - n, pc);
          inRegion = undefined;
          continue;
        }
      }
      if (c.flags & TF) {
        // Single-step: one instruction, then #DB (a trap: RIP after the instruction; SDM Vol. 3A §17.3.1.4).
        const ins = insns[0]!;
        c.nextRip = rip + ins.len;
        ins.exec(c, ins);
        c.rip = c.nextRip;
        c.icount++;
        n++;
        return { stop: { kind: 'fault', fault: debugTrap(DR6_BS), trap: true }, executed: n };
      }
      const len = insns.length;
      for (let k = 0; k < len; k++) {
        const ins = insns[k]!;
        const next = c.rip + ins.len;
        c.nextRip = next;
        ins.exec(c, ins);
        c.rip = c.nextRip;
        n++;
        // Leave the block after a taken branch or a yielding REP (RIP not sequential), after a write to a
        // code page (self-modifying code), or when the budget is spent.
        if (c.rip !== next || m.smc || n >= budget) {
          m.smc = false;
          break;
        }
      }
    }
    c.icount += n;
    return { stop: { kind: 'budget' }, executed: n };
  } catch (e) {
    if (inRegion) {
      // The region recorded the instructions retired before the current block and the index of the one that threw.
      n += c.blkBase + inRegion.pos[c.blk]!;
      c.rip = pageBase + inRegion.off[c.blk]!;
      if (e instanceof StopSignal) c.nextRip = c.rip + inRegion.insns[c.blk]!.len;
    }
    c.icount += n;
    if (isFault(e)) return { stop: { kind: 'fault', fault: e, trap: false }, executed: n };
    if (e instanceof StopSignal) {
      if (e.advance) {
        c.rip = c.nextRip;
        c.icount++;
        n++;
      }
      switch (e.kind) {
        case 'syscall':
          return { stop: { kind: 'syscall' }, executed: n };
        case 'enclu':
          return { stop: { kind: 'enclu', leaf: e.vector }, executed: n };
        case 'encls':
          return { stop: { kind: 'encls', leaf: e.vector }, executed: n };
        case 'hlt':
          return { stop: { kind: 'hlt' }, executed: n };
        case 'int':
          if (e.vector === Vector.BP || e.vector === Vector.DB) {
            // INT1 (ICEBP) leaves DR6 without BS or B0-B3 (SDM Vol. 3B §18.2.3).
            return {
              stop: { kind: 'fault', fault: e.vector === Vector.DB ? debugTrap(0) : fault(e.vector), trap: true },
              executed: n,
            };
          }
          return { stop: { kind: 'int', vector: e.vector }, executed: n };
        default: {
          const _exhaustive: never = e.kind;
          throw new Error(`unknown stop ${_exhaustive}`);
        }
      }
    }
    throw e;
  }
}

// ---- save / restore ----------------------------------------------------------------------------------------

function hex64(lo: number, hi: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

function numHex(v: number): string {
  return hex64((v % TWO32) | 0, Math.floor(v / TWO32) | 0);
}

function hexNum(s: string): number {
  const hi = Number.parseInt(s.slice(0, 8), 16) | 0;
  const lo = Number.parseInt(s.slice(8, 16), 16) >>> 0;
  return hi * TWO32 + lo;
}

function bytesHex(b: Uint8Array): string {
  let s = '';
  for (let k = b.length - 1; k >= 0; k--) s += b[k]!.toString(16).padStart(2, '0');
  return s;
}

function hexBytes(s: string, out: Uint8Array, off: number, n: number): void {
  for (let k = 0; k < n; k++) out[off + k] = Number.parseInt(s.slice(2 * (n - 1 - k), 2 * (n - k)), 16);
}

/** The CPU's architectural state as plain JSON data. */
export function saveCpu(c: Cpu): CpuState {
  const gpr: string[] = [];
  for (let k = 0; k < 16; k++) gpr.push(hex64(c.r[2 * k]!, c.r[2 * k + 1]!));
  const xmm: string[] = [];
  for (let k = 0; k < 16; k++) xmm.push(bytesHex(c.x8.subarray(16 * k, 16 * k + 16)));
  const st: string[] = [];
  for (let k = 0; k < 8; k++) st.push(bytesHex(c.st.subarray(10 * k, 10 * k + 10)));
  return {
    gpr,
    rip: numHex(c.rip),
    rflags: c.getFlags(),
    fsBase: numHex(c.fsBase),
    gsBase: numHex(c.gsBase),
    xmm,
    mxcsr: c.mxcsr,
    x87: { fcw: c.fcw, fsw: c.fsw, ftw: c.ftw, fop: c.fop, fip: numHex(c.fip), fdp: numHex(c.fdp), st },
    cpl: c.cpl,
    enclave: c.enclave,
    icount: c.icount,
  };
}

/** Loads a saved state into `c` (TLB flushed; the decoded-code cache stays valid: it is physical). */
export function restoreCpu(c: Cpu, s: CpuState): void {
  for (let k = 0; k < 16; k++) {
    c.r[2 * k] = Number.parseInt(s.gpr[k]!.slice(8), 16) | 0;
    c.r[2 * k + 1] = Number.parseInt(s.gpr[k]!.slice(0, 8), 16) | 0;
  }
  c.rip = hexNum(s.rip);
  c.setFlags(s.rflags);
  c.fsBase = hexNum(s.fsBase);
  c.gsBase = hexNum(s.gsBase);
  for (let k = 0; k < 16; k++) hexBytes(s.xmm[k]!, c.x8, 16 * k, 16);
  c.mxcsr = s.mxcsr;
  c.fcw = s.x87.fcw;
  c.fsw = s.x87.fsw;
  c.ftw = s.x87.ftw;
  c.fop = s.x87.fop;
  c.fip = hexNum(s.x87.fip);
  c.fdp = hexNum(s.x87.fdp);
  for (let k = 0; k < 8; k++) hexBytes(s.x87.st[k]!, c.st, 10 * k, 10);
  c.setMode(s.cpl, s.enclave);
  c.icount = s.icount;
  c.m.flushAll();
}
