/**
 * The Asynchronous Enclave Exit (SDM Vol. 3D ch. 40 "Enclave Exiting Events": §40.3 synthetic state, Table 40-1;
 * §40.4 "AEX Flow" and §40.4.1 "AEX Operational Detail"; sgx-isa.md §5.3). Any exception, interrupt or IPI while
 * a logical processor is in enclave mode first does this, then is delivered as usual with RIP = the AEP:
 *
 * 1. save into the current SSA frame (the addresses EENTER/ERESUME cached: CR_GPR_PA, CR_XSAVE_PAGE_n): all GPRs,
 *    RFLAGS (TF saved as 0; RF as the non-SGX stack image would have it: 1 for a fault), RIP (the faulting
 *    instruction, or the next one for a trap or an interrupt), the enclave's FS/GS bases, the XSAVE state of
 *    SECS.ATTRIBUTES.XFRM (XSTATE_BV ∧ XFRM, header bytes 8..23 cleared), EXITINFO, and EXINFO for #PF/#GP
 *    when SECS.MISCSELECT.EXINFO;
 * 2. load the synthetic state: RAX = 3 (ERESUME), RBX = the TCS, RCX = RIP = the AEP, RDX = RSI = RDI = R8..R15
 *    = 0, RSP/RBP = URSP/URBP, CF/PF/AF/ZF/SF/OF/RF cleared, x87/SSE INIT, the untrusted FS/GS bases;
 * 3. TCS.CSSA + 1, TCS.STATE = INACTIVE, enclave mode off, TF restored (opt-out), the enclave's TLB entries
 *    flushed; for #PF the low 12 bits of CR2 are cleared.
 *
 * The GPRSGX.AEXNOTIFY byte and URSP/URBP are not written: software owns the first, EENTER the others.
 */
import { AF, CF, OF, PF, SF, TF, XCR0, x87SseInit, xsaveToArea, ZF } from '../cpu/index';
import { type CpuFault, Vector } from '../fault';
import { ExitType, MiscSelect } from './arch';
import { flushEnclaveExit } from './enclave-access';
import { type EncluContext, enclaveRegs } from './enclu/context';
import { readSecs } from './enclu/entry';
import { EXINFO_BELOW_GPRSGX, GPRSGX_REGS, gprLocation, xsaveArea } from './enclu/ssa-frame';
import { EXINFO, EXITINFO_TYPE_SHIFT, EXITINFO_VALID, GPRSGX, getField, setField, TCS } from './layout/index';
import { enclaveExit } from './tracking';

/** What caused the exit. */
export type AexEvent =
  /** An exception raised by enclave code; `trap` for #BP/#DB traps (RIP already after the instruction). */
  | { readonly kind: 'exception'; readonly fault: CpuFault; readonly trap: boolean }
  /** An external interrupt, IPI, NMI or anything else that is not an exception of the enclave's own. */
  | { readonly kind: 'interrupt' };

/** RF, RFLAGS bit 16. */
const RF = 1 << 16;

/** Exceptions reported in EXITINFO whatever MISCSELECT says (SDM Vol. 3D Table 38-9 "unconditionally supported"). */
const ALWAYS_REPORTED: ReadonlySet<number> = new Set([
  Vector.DE,
  Vector.DB,
  Vector.BP,
  Vector.BR,
  Vector.UD,
  Vector.MF,
  Vector.AC,
  Vector.XM,
]);

/**
 * EXITINFO for an event (the AEX pseudo-code's "Indicate the exit reason in SSA"): VECTOR, EXIT_TYPE (6 for #BP,
 * 3 for the other hardware exceptions) and VALID for the reported exceptions; #PF and #GP only when
 * MISCSELECT.EXINFO is set; 0 for everything else.
 */
export function exitInfo(event: AexEvent, miscSelect: number): number {
  if (event.kind !== 'exception') return 0;
  const v = event.fault.vector;
  const reported =
    ALWAYS_REPORTED.has(v) || ((v === Vector.PF || v === Vector.GP) && (miscSelect & MiscSelect.EXINFO) !== 0);
  if (!reported) return 0;
  const type = v === Vector.BP ? ExitType.SOFTWARE : ExitType.HARDWARE;
  return (EXITINFO_VALID | (type << EXITINFO_TYPE_SHIFT) | v) >>> 0;
}

/**
 * Performs an AEX on `ctx.cpu`, which must be in enclave mode (calling it outside is a simulator bug).
 * @returns the exception as the OS then receives it (for #PF, CR2 with bits 11:0 cleared), or undefined for an
 *   interrupt.
 */
export function aex(ctx: EncluContext, event: AexEvent): CpuFault | undefined {
  const { m, cpu } = ctx;
  const mode = cpu.enclave;
  if (!mode) throw new Error('AEX outside enclave mode');
  const regs = enclaveRegs(mode);
  const secs = readSecs(m, regs.secsIndex);
  const gpr = gprLocation(m, regs.gprPa);
  const set = (name: (typeof GPRSGX_REGS)[number] | 'rflags' | 'rip' | 'fsBase' | 'gsBase', v: bigint) =>
    setField(GPRSGX, gpr.page, gpr.offset, name, v);

  // 1. Save. "When saving EFLAGS, the TF bit is set to 0 and the RF bit is set to what would have been saved on
  // stack in the non-SGX case": 1 for a fault (SDM Vol. 3A §17.3.1.1), 0 for traps and interrupts.
  GPRSGX_REGS.forEach((name, r) => {
    set(name, cpu.getReg64(r));
  });
  const flags = cpu.getFlags();
  const isFault = event.kind === 'exception' && !event.trap;
  set('rflags', BigInt(((flags & ~TF) | (isFault ? RF : 0)) >>> 0));
  set('rip', BigInt.asUintN(64, BigInt(cpu.rip)));
  set('fsBase', BigInt.asUintN(64, BigInt(cpu.fsBase)));
  set('gsBase', BigInt.asUintN(64, BigInt(cpu.gsBase)));
  const area = xsaveArea(m, regs.xsavePages);
  xsaveToArea(cpu, Number(secs.xfrm & BigInt(XCR0)), area);
  // "Clear bytes 8 to 23 of XSAVE_HEADER"; "XHEADER_BV[63:0] ← XHEADER_BV[63:0] & SECS.ATTRIBUTES.XFRM".
  area.fill(0, 520, 536);
  const dv = new DataView(area.buffer, area.byteOffset, area.byteLength);
  dv.setBigUint64(512, dv.getBigUint64(512, true) & secs.xfrm, true);
  setField(GPRSGX, gpr.page, gpr.offset, 'exitInfo', exitInfo(event, secs.miscSelect));
  if (
    event.kind === 'exception' &&
    secs.miscSelect & MiscSelect.EXINFO &&
    (event.fault.vector === Vector.PF || event.fault.vector === Vector.GP)
  ) {
    // "SSA.MISC.EXINFO.MADDR ← CR2 (#PF) or 0 (#GP); ERRCD ← the error code; RESERVED ← 0"
    const at = gpr.offset - EXINFO_BELOW_GPRSGX;
    const maddr = event.fault.vector === Vector.PF ? BigInt(event.fault.addr) : 0n;
    setField(EXINFO, gpr.page, at, 'maddr', maddr);
    setField(EXINFO, gpr.page, at, 'errcd', event.fault.errorCode);
    setField(EXINFO, gpr.page, at, 'reserved', new Uint8Array(4));
  }
  for (const pa of [regs.gprPa, ...regs.xsavePages]) cpu.cache.invalidatePage(Math.floor(pa / 4096));

  // 2. Synthetic state (Table 40-1).
  const tcsPage = m.physMem.page(regs.tcsPa / 4096);
  const aep = getField(TCS, tcsPage, 0, 'aep');
  const ursp = getField(GPRSGX, gpr.page, gpr.offset, 'ursp');
  const urbp = getField(GPRSGX, gpr.page, gpr.offset, 'urbp');
  for (let r = 0; r < 16; r++) cpu.setReg64(r, 0n);
  cpu.setReg64(0, 3n);
  cpu.setReg64(3, BigInt.asUintN(64, BigInt(mode.tcs)));
  cpu.setReg64(1, aep);
  cpu.setReg64(4, ursp);
  cpu.setReg64(5, urbp);
  // AEP was canonical when EENTER/ERESUME stored it.
  cpu.rip = Number(BigInt.asIntN(64, aep));
  let synth = flags & ~(CF | PF | AF | ZF | SF | OF | RF);
  if (!mode.optIn) synth = regs.savedTf ? synth | TF : synth & ~TF;
  cpu.setFlags(synth);
  x87SseInit(cpu);
  cpu.fsBase = regs.savedFsBase;
  cpu.gsBase = regs.savedGsBase;

  // 3. "CR_TCS_PA.CSSA ← CR_TCS_PA.CSSA + 1"; the thread is no longer inside; "Flush linear context".
  setField(TCS, tcsPage, 0, 'cssa', getField(TCS, tcsPage, 0, 'cssa') + 1);
  setField(TCS, tcsPage, 0, 'state', 0n);
  cpu.setMode(3, null);
  flushEnclaveExit(cpu, mode.elrangeBase, mode.elrangeSize);
  enclaveExit(m, mode.secs, ctx.cpuId);
  if (event.kind !== 'exception') return undefined;
  // "IF (Exception code is #PF) THEN CR2 ← CR2 & ~0xFFF"
  if (event.fault.vector === Vector.PF) return { ...event.fault, addr: event.fault.addr - (event.fault.addr % 4096) };
  return event.fault;
}
