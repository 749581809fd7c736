/**
 * A thread's register file kept outside a CPU: what a context switch saves and loads (the kernel's
 * `struct pt_regs` plus the FPU/SSE state XSAVE would cover). It holds the same state `saveCpu` does, as typed
 * arrays and numbers, so moving a thread between CPUs costs a few array copies instead of a JSON round trip.
 *
 * A register file is only taken outside enclave mode: a thread leaves its CPU at an interrupt, whose AEX has
 * already put the enclave's state in its SSA frame (SDM Vol. 3D §40.4), so the enclave-mode block of a CPU is
 * never part of a thread's saved context.
 */
import type { Cpu } from './cpu';

export class RegisterFile {
  /** GPRs as lo/hi int32 pairs (Cpu.r). */
  readonly r = new Int32Array(32);
  /** XMM0..15, 16 bytes each (Cpu.x8). */
  readonly xmm = new Uint8Array(256);
  /** ST0..7 / MM0..7, 10 bytes each (Cpu.st). */
  readonly st = new Uint8Array(80);
  rip = 0;
  /** RFLAGS with the lazy arithmetic flags materialised. */
  rflags = 0x202;
  fsBase = 0;
  gsBase = 0;
  mxcsr = 0x1f80;
  fcw = 0x037f;
  fsw = 0;
  ftw = 0;
  fop = 0;
  fip = 0;
  fdp = 0;
  cpl = 3;

  /** A copy of this register file. */
  clone(): RegisterFile {
    const c = new RegisterFile();
    c.copyFrom(this);
    return c;
  }

  /** Overwrites this register file with `o`. */
  copyFrom(o: RegisterFile): void {
    this.r.set(o.r);
    this.xmm.set(o.xmm);
    this.st.set(o.st);
    this.rip = o.rip;
    this.rflags = o.rflags;
    this.fsBase = o.fsBase;
    this.gsBase = o.gsBase;
    this.mxcsr = o.mxcsr;
    this.fcw = o.fcw;
    this.fsw = o.fsw;
    this.ftw = o.ftw;
    this.fop = o.fop;
    this.fip = o.fip;
    this.fdp = o.fdp;
    this.cpl = o.cpl;
  }
}

/**
 * Saves `c`'s thread state into `rf` (the register half of a context switch). Throws in enclave mode, where
 * the state belongs in the SSA frame instead (a simulator bug if it happens).
 */
export function storeRegisters(c: Cpu, rf: RegisterFile): void {
  if (c.enclave) throw new Error('register file taken in enclave mode: the thread should have exited (AEX) first');
  rf.r.set(c.r);
  rf.xmm.set(c.x8);
  rf.st.set(c.st);
  rf.rip = c.rip;
  rf.rflags = c.getFlags();
  rf.fsBase = c.fsBase;
  rf.gsBase = c.gsBase;
  rf.mxcsr = c.mxcsr;
  rf.fcw = c.fcw;
  rf.fsw = c.fsw;
  rf.ftw = c.ftw;
  rf.fop = c.fop;
  rf.fip = c.fip;
  rf.fdp = c.fdp;
  rf.cpl = c.cpl;
}

/**
 * Loads `rf` into `c`, outside enclave mode. The TLB stays: it belongs to the address space (CR3), which the
 * kernel switches separately, not to the thread.
 */
export function loadRegisters(c: Cpu, rf: RegisterFile): void {
  if (c.enclave) throw new Error('register file loaded over a CPU in enclave mode');
  c.r.set(rf.r);
  c.x8.set(rf.xmm);
  c.st.set(rf.st);
  c.rip = rf.rip;
  c.setFlags(rf.rflags);
  c.fsBase = rf.fsBase;
  c.gsBase = rf.gsBase;
  c.mxcsr = rf.mxcsr;
  c.fcw = rf.fcw;
  c.fsw = rf.fsw;
  c.ftw = rf.ftw;
  c.fop = rf.fop;
  c.fip = rf.fip;
  c.fdp = rf.fdp;
  c.setMode(rf.cpl, null);
}
