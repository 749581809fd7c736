/**
 * The MMU of one logical processor: linear → physical translation through the kernel's PageTable, a
 * direct-mapped TLB, and every data/fetch access the interpreter makes (SDM Vol. 3A ch. 4 "Paging").
 *
 * Linear addresses are JS numbers holding the *signed* 64-bit value: canonical addresses lie in
 * [-2^47, 2^47), so they are exact doubles. Callers compute effective addresses and check canonicality
 * (see `canonical()`); the MMU re-checks each page it touches so that an access running off the top of the
 * lower half faults with #GP as it does on hardware.
 *
 * Faults are thrown as CpuFault values and caught by `run()` (cpu.ts), which rolls RIP back; nothing else
 * catches them. Permission checks follow SDM Vol. 3A §4.6 with CR0.WP = 1, EFER.NXE = 1, SMEP/SMAP off.
 * A/D bits are set on the Pte object at TLB fill, as the page walker does (§4.8).
 *
 * After the paging checks pass, the access hook is consulted (DESIGN.md §2 "Access control"): this is
 * where the SGX EPCM checks plug in. It may accept, refuse with a fault, or turn the translation into an
 * abort page (reads all-ones, writes dropped; SDM Vol. 3D §38.5.1). The default hook gives the
 * non-enclave rule: any access to EPC is an abort-page access.
 */

import { type CpuFault, gp, PfErr, pf } from '../fault';
import { PAGE_SIZE } from '../mem/page';
import type { PhysMem } from '../mem/phys-mem';
import { type PageTable, PTE_A, PTE_D, PTE_NX, PTE_P, PTE_U, PTE_W, type Pte } from './page-table';

/** Which kind of access a translation is for. */
export type Access = 'r' | 'w' | 'x';

/** What the access hook decides for one TLB fill. */
export type AccessDecision = 'ok' | 'abort' | CpuFault;

/** What the access hook sees: the page being filled, its PTE (after the paging checks passed) and the CPU mode. */
export interface AccessRequest {
  /** Unsigned linear page number. */
  readonly vpn: number;
  /** Linear address of the access (signed 64-bit as a number). */
  readonly linear: number;
  readonly pte: Pte;
  readonly access: Access;
  /** Current privilege level of the CPU (3 = user). */
  readonly cpl: number;
  /** The CPU's enclave-mode block, or null outside enclave mode. */
  readonly enclave: unknown;
  /** The physical memory the PTE points into (to ask `isEpc`). */
  readonly mem: PhysMem;
}

/**
 * Consulted at every TLB fill after the page-table checks. Return 'ok', 'abort' (abort-page semantics) or a
 * CpuFault to deliver instead of the access (e.g. #PF with PfErr.SGX, or #GP(0)).
 */
export type AccessHook = (req: AccessRequest) => AccessDecision;

/** The non-enclave rule: EPC reached from outside enclave mode is an abort page (SDM Vol. 3D §38.5.1). */
export const defaultAccessHook: AccessHook = (req) => (req.mem.isEpc(req.pte.pfn * PAGE_SIZE) ? 'abort' : 'ok');

/** Lowest and one-past-highest canonical address for 48-bit linear addresses (SDM Vol. 1 §3.3.7.1). */
export const CANON_LO = -(2 ** 47);
export const CANON_HI = 2 ** 47;

/** Whether the signed linear address is canonical. */
export function canonical(a: number): boolean {
  return a >= CANON_LO && a < CANON_HI;
}

/** Unsigned page number of a signed linear page number. */
function unsignedVpn(vpn: number): number {
  return vpn < 0 ? vpn + 2 ** 52 : vpn;
}

/** Signals `run()` that the code page being executed was written (self-modifying code). */
export interface CodeCacheLink {
  isCode(pfn: number): boolean;
  invalidatePage(pfn: number): void;
}

const TLB_SIZE = 256;
const TLB_MASK = TLB_SIZE - 1;
const ONES = new Uint8Array(PAGE_SIZE).fill(0xff);
const ONES_DV = new DataView(ONES.buffer);

/** What an MMU is built from. */
export interface MmuOptions {
  readonly mem: PhysMem;
  readonly pageTable: PageTable;
  readonly hook?: AccessHook;
  readonly code?: CodeCacheLink;
}

/** Per-CPU MMU with a 256-entry direct-mapped TLB, separate tags for read, write and fetch permission. */
export class Mmu {
  readonly mem: PhysMem;
  pageTable: PageTable;
  hook: AccessHook;
  code: CodeCacheLink | undefined;
  /** Set by the owning CPU: privilege level and enclave block, read at fill time. */
  cpl = 3;
  enclave: unknown = null;
  /** Set when a write lands on a page that holds decoded code; run() re-fetches. */
  smc = false;
  /**
   * Changes whenever translations cached outside the TLB may have gone stale: a flush, a page that became code
   * (writes to it must reach the fill again), and every run() (page tables and modes change between runs).
   * Compiled regions keep their page caches while it stays the same.
   */
  epoch = 0;
  /** Scratch upper half for 64-bit reads. */
  hi = 0;

  // TLB: signed vpn tags per access kind (NaN = empty), and the backing page per kind.
  readonly tagR = new Float64Array(TLB_SIZE).fill(Number.NaN);
  readonly tagW = new Float64Array(TLB_SIZE).fill(Number.NaN);
  readonly tagX = new Float64Array(TLB_SIZE).fill(Number.NaN);
  readonly pfnR = new Float64Array(TLB_SIZE);
  readonly pfnW = new Float64Array(TLB_SIZE);
  readonly pfnX = new Float64Array(TLB_SIZE);
  readonly dvR: DataView[] = new Array(TLB_SIZE).fill(ONES_DV);
  readonly dvW: DataView[] = new Array(TLB_SIZE).fill(ONES_DV);
  readonly u8R: Uint8Array[] = new Array(TLB_SIZE).fill(ONES);
  readonly u8W: Uint8Array[] = new Array(TLB_SIZE).fill(ONES);
  readonly u8X: Uint8Array[] = new Array(TLB_SIZE).fill(ONES);
  /** Whether the X entry is an abort page (fetch from EPC outside enclave mode reads all-ones). */
  readonly abortX = new Uint8Array(TLB_SIZE);
  private readonly dvCache = new Map<Uint8Array, DataView>();
  private readonly sinks: DataView[] = [];

  constructor(opts: MmuOptions) {
    this.mem = opts.mem;
    this.pageTable = opts.pageTable;
    this.hook = opts.hook ?? defaultAccessHook;
    this.code = opts.code;
  }

  /** Drops every TLB entry (MOV CR3 without PCID, INVPCID all; SDM Vol. 3A §4.10.4.1). */
  flushAll(): void {
    this.epoch++;
    this.tagR.fill(Number.NaN);
    this.tagW.fill(Number.NaN);
    this.tagX.fill(Number.NaN);
  }

  /** Drops the entries for one linear page (INVLPG). `linear` is a signed or unsigned address. */
  flushPage(linear: number): void {
    this.epoch++;
    let vpn = Math.floor(linear / PAGE_SIZE);
    if (vpn >= 2 ** 51) vpn -= 2 ** 52;
    const s = vpn & TLB_MASK;
    if (this.tagR[s] === vpn) this.tagR[s] = Number.NaN;
    if (this.tagW[s] === vpn) this.tagW[s] = Number.NaN;
    if (this.tagX[s] === vpn) this.tagX[s] = Number.NaN;
  }

  /**
   * Drops the entries whose (unsigned vpn, pfn) satisfy `pred`: EEXIT and AEX flush enclave entries this way
   * (SDM Vol. 3D §38.5 "the logical processor flushes TLB entries of the enclave on exit").
   */
  flushWhere(pred: (vpn: number, pfn: number) => boolean): void {
    this.epoch++;
    for (let s = 0; s < TLB_SIZE; s++) {
      const r = this.tagR[s]!;
      if (!Number.isNaN(r) && pred(unsignedVpn(r), this.pfnR[s]!)) this.tagR[s] = Number.NaN;
      const w = this.tagW[s]!;
      if (!Number.isNaN(w) && pred(unsignedVpn(w), this.pfnW[s]!)) this.tagW[s] = Number.NaN;
      const x = this.tagX[s]!;
      if (!Number.isNaN(x) && pred(unsignedVpn(x), this.pfnX[s]!)) this.tagX[s] = Number.NaN;
    }
  }

  /** Drops write entries for a physical page, so that the next write to it takes the slow path (code pages). */
  dropWritesToPfn(pfn: number): void {
    this.epoch++;
    for (let s = 0; s < TLB_SIZE; s++) if (this.pfnW[s] === pfn) this.tagW[s] = Number.NaN;
  }

  private dv(p: Uint8Array): DataView {
    let d = this.dvCache.get(p);
    if (!d) {
      d = new DataView(p.buffer, p.byteOffset, p.byteLength);
      this.dvCache.set(p, d);
    }
    return d;
  }

  private sink(s: number): DataView {
    let d = this.sinks[s];
    if (!d) d = this.sinks[s] = new DataView(new ArrayBuffer(PAGE_SIZE));
    return d;
  }

  /**
   * Walks the page table for `a` and installs the TLB entry for `access`, or throws the fault.
   * "If a linear address is non-canonical ... #GP(0)" — SDM Vol. 3A §6.15 (or #SS for stack references,
   * which callers compute before reaching here).
   */
  fill(a: number, access: Access): number {
    if (!canonical(a)) throw gp(0);
    const off = a & (PAGE_SIZE - 1);
    const vpn = (a - off) / PAGE_SIZE;
    const uvpn = unsignedVpn(vpn);
    const pte = this.pageTable.lookup(uvpn);
    const user = this.cpl === 3;
    const err = (access === 'w' ? PfErr.W : 0) | (user ? PfErr.U : 0) | (access === 'x' ? PfErr.I : 0);
    const faultAddr = a < 0 ? a + 2 ** 64 : a;
    if (!pte || !(pte.flags & PTE_P)) throw pf(faultAddr, err);
    const f = pte.flags;
    // SDM Vol. 3A §4.6.1: user-mode accesses need U/S = 1; writes need R/W = 1 (CR0.WP = 1 for supervisor too);
    // instruction fetches need XD = 0.
    if ((user && !(f & PTE_U)) || (access === 'w' && !(f & PTE_W)) || (access === 'x' && f & PTE_NX)) {
      throw pf(faultAddr, err | PfErr.P);
    }
    const decision = this.hook({
      vpn: uvpn,
      linear: a,
      pte,
      access,
      cpl: this.cpl,
      enclave: this.enclave,
      mem: this.mem,
    });
    if (decision !== 'ok' && decision !== 'abort') throw decision;
    pte.flags |= PTE_A | (access === 'w' ? PTE_D : 0);
    const s = vpn & TLB_MASK;
    const pfn = pte.pfn;
    if (decision === 'abort') {
      if (access === 'r') {
        this.tagR[s] = vpn;
        this.pfnR[s] = pfn;
        this.u8R[s] = ONES;
        this.dvR[s] = ONES_DV;
      } else if (access === 'w') {
        const d = this.sink(s);
        this.tagW[s] = vpn;
        this.pfnW[s] = pfn;
        this.dvW[s] = d;
        this.u8W[s] = new Uint8Array(d.buffer);
      } else {
        this.tagX[s] = vpn;
        this.pfnX[s] = pfn;
        this.u8X[s] = ONES;
        this.abortX[s] = 1;
      }
      return s;
    }
    // The storage without a write notification: writes to code pages are handled below.
    const page = this.mem.frame(pfn);
    if (access === 'r') {
      this.tagR[s] = vpn;
      this.pfnR[s] = pfn;
      this.u8R[s] = page;
      this.dvR[s] = this.dv(page);
    } else if (access === 'w') {
      // A write to a page holding decoded instructions invalidates them (self-modifying code stays correct).
      if (this.code?.isCode(pfn)) {
        this.code.invalidatePage(pfn);
        this.smc = true;
      }
      this.tagW[s] = vpn;
      this.pfnW[s] = pfn;
      this.u8W[s] = page;
      this.dvW[s] = this.dv(page);
    } else {
      this.tagX[s] = vpn;
      this.pfnX[s] = pfn;
      this.u8X[s] = page;
      this.abortX[s] = 0;
    }
    return s;
  }

  /** Translates `a` for `access` and returns the physical address (filling the TLB). */
  translate(a: number, access: Access): number {
    const off = a & (PAGE_SIZE - 1);
    const s = this.fill(a, access);
    const pfn = access === 'r' ? this.pfnR[s]! : access === 'w' ? this.pfnW[s]! : this.pfnX[s]!;
    return pfn * PAGE_SIZE + off;
  }

  /** The fetch slot for the page of `a` (fills on miss). */
  fetchSlot(a: number): number {
    const off = a & (PAGE_SIZE - 1);
    const vpn = (a - off) / PAGE_SIZE;
    const s = vpn & TLB_MASK;
    if (this.tagX[s] === vpn) return s;
    return this.fill(a, 'x');
  }

  // ---- data reads -------------------------------------------------------------------------------------

  rd8(a: number): number {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagR[s] !== vpn) this.fill(a, 'r');
    return this.u8R[s]![off]!;
  }

  rd16(a: number): number {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagR[s] === vpn && off <= 4094) return this.dvR[s]!.getUint16(off, true);
    return this.rdSlow(a, 2);
  }

  /** 32-bit read, returned as a signed int32. */
  rd32(a: number): number {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagR[s] === vpn && off <= 4092) return this.dvR[s]!.getInt32(off, true);
    return this.rdSlow(a, 4) | 0;
  }

  /** 64-bit read: returns the low half (int32) and leaves the high half in `this.hi`. */
  rd64(a: number): number {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagR[s] === vpn && off <= 4088) {
      const dv = this.dvR[s]!;
      this.hi = dv.getInt32(off + 4, true);
      return dv.getInt32(off, true);
    }
    // Check both pages before reading either (the first page first, as CR2 then shows), so a fault leaves
    // nothing half-done.
    this.rd8(a);
    this.rd8(a + 7 - ((a + 7) & 4095));
    const lo = this.rdSlow(a, 4) | 0;
    this.hi = this.rdSlow(a + 4, 4) | 0;
    return lo;
  }

  /** Unaligned or page-crossing read of up to 4 bytes, byte by byte (each page translated once). */
  private rdSlow(a: number, n: number): number {
    // Translate the first page, then the second one at its base: a fault on the second page reports the
    // page's first byte in CR2, the first byte of the access that lies in it.
    this.rd8(a);
    const last = a + n - 1;
    this.rd8(last - (last & 4095));
    let v = 0;
    for (let k = n - 1; k >= 0; k--) v = v * 256 + this.rd8(a + k);
    return v;
  }

  // ---- data writes ------------------------------------------------------------------------------------

  /** Ensures `[a, a+n)` is writable (fills the write TLB for both pages), so that the writes after it cannot fault. */
  probeW(a: number, n: number): void {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagW[s] !== vpn) this.fill(a, 'w');
    if (off + n > 4096) {
      const b = a + n - 1;
      const base = b - (b & 4095);
      const vb = base / 4096;
      if (this.tagW[vb & TLB_MASK] !== vb) this.fill(base, 'w');
    }
  }

  wr8(a: number, v: number): void {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagW[s] !== vpn) this.fill(a, 'w');
    this.u8W[s]![off] = v;
  }

  wr16(a: number, v: number): void {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagW[s] === vpn && off <= 4094) {
      this.dvW[s]!.setUint16(off, v, true);
      return;
    }
    this.wrSlow(a, 2, v, 0);
  }

  wr32(a: number, v: number): void {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagW[s] === vpn && off <= 4092) {
      this.dvW[s]!.setInt32(off, v, true);
      return;
    }
    this.wrSlow(a, 4, v, 0);
  }

  wr64(a: number, lo: number, hi: number): void {
    const off = a & 4095;
    const vpn = (a - off) / 4096;
    const s = vpn & TLB_MASK;
    if (this.tagW[s] === vpn && off <= 4088) {
      const dv = this.dvW[s]!;
      dv.setInt32(off, lo, true);
      dv.setInt32(off + 4, hi, true);
      return;
    }
    this.wrSlow(a, 8, lo, hi);
  }

  private wrSlow(a: number, n: number, lo: number, hi: number): void {
    this.probeW(a, n);
    for (let k = 0; k < n; k++) {
      const byte = k < 4 ? (lo >>> (8 * k)) & 0xff : (hi >>> (8 * (k - 4))) & 0xff;
      this.wr8(a + k, byte);
    }
  }

  /** Reads `n` bytes into `out` (for XMM/FXSAVE-sized accesses); all pages are checked first. */
  rdBytes(a: number, n: number, out: Uint8Array, outOff = 0): void {
    this.rd8(a);
    const last = a + n - 1;
    this.rd8(last - (last & 4095));
    const off = a & 4095;
    if (off + n <= 4096) {
      const s = ((a - off) / 4096) & TLB_MASK;
      out.set(this.u8R[s]!.subarray(off, off + n), outOff);
      return;
    }
    for (let k = 0; k < n; k++) out[outOff + k] = this.rd8(a + k);
  }

  /** Writes `n` bytes from `src`; all pages are checked first so a fault writes nothing. */
  wrBytes(a: number, src: Uint8Array, srcOff: number, n: number): void {
    this.probeW(a, n);
    const off = a & 4095;
    if (off + n <= 4096) {
      const s = ((a - off) / 4096) & TLB_MASK;
      this.u8W[s]!.set(src.subarray(srcOff, srcOff + n), off);
      return;
    }
    for (let k = 0; k < n; k++) this.wr8(a + k, src[srcOff + k]!);
  }
}
