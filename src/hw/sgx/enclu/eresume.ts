/**
 * ENCLU[ERESUME] (EAX = 3): re-enters an enclave after an AEX from the state saved in SSA[CSSA − 1]
 * (SDM Vol. 3D §41.4 "ERESUME—Re-Enters an Enclave", the AEX-Notify edition; sgx-isa.md §5.4). RBX = TCS,
 * RCX = AEP.
 *
 * Without a notification it restores the XSAVE state (XRSTOR), all GPRs and RIP from that frame, the RFLAGS
 * bits the SDM lists, the enclave's FS/GS bases from GPRSGX, and pops the frame (CSSA − 1). With AEX-Notify
 * (TCS.FLAGS.AEXNOTIFY and bit 0 of that frame's GPRSGX.AEXNOTIFY byte) it instead enters like EENTER onto the
 * next free frame: RIP = BASEADDR + OENTRY, RAX = CSSA, RCX = the address after ENCLU, URSP/URBP saved into
 * frame CSSA, CSSA unchanged. The SDM writes "RIP := TMP_TARGET; RCX := RIP" there; like EENTER's "RCX ← RIP"
 * (RIP being the next instruction until the jump), it hands the enclave its way back to the untrusted caller.
 */
import { AC, AF, CF, DF, ID, MXCSR_MASK, OF, PF, SF, XCR0, xrstorFromArea, ZF } from '../../cpu/index';
import { gp } from '../../fault';
import { AttrFlags, TcsFlags } from '../arch';
import { GPRSGX, getField, setField, TCS } from '../layout/index';
import { DONE, type EncluContext, type EncluOutcome, faulted } from './context';
import {
  aexNotifyMismatch,
  enterEnclaveMode,
  readSecs,
  readTcs,
  resolveTcs,
  TCS_STATE_ACTIVE,
  tcsReservedFlags,
} from './entry';
import { canonicalLinear, u64Linear } from './operands';
import { checkSsaFrame, GPRSGX_REGS, gprLocation, type SsaFrame, ssaFrameLinear, xsaveArea } from './ssa-frame';

/** NT (bit 14): not among the interpreter's named flags. */
const NT = 1 << 14;
/** "RFLAGS.CF/PF/AF/ZF/SF/DF/OF/NT/AC/ID/RF := DS:TMP_GPR.RFLAGS.x" (RF: see below). */
const RESTORED = CF | PF | AF | ZF | SF | DF | OF | NT | AC | ID;

/** ENCLU[ERESUME], checks in the SDM pseudo-code order. */
export function eresume(ctx: EncluContext): EncluOutcome {
  const { m, cpu } = ctx;
  const tcs = resolveTcs(ctx);
  if ('kind' in tcs) return faulted(tcs);
  const t = readTcs(tcs.page);
  if (t.ossa % 4096n !== 0n) return faulted(gp());
  if (t.ofsBase % 4096n !== 0n || t.ogsBase % 4096n !== 0n) return faulted(gp());
  const secs = readSecs(m, tcs.secsIndex);
  if (t.flags & tcsReservedFlags(m)) return faulted(gp());
  if (!(secs.attributes & AttrFlags.INIT)) return faulted(gp());
  if (!(secs.attributes & AttrFlags.MODE64BIT)) return faulted(gp());
  if ((secs.xfrm & BigInt(XCR0)) !== secs.xfrm) return faulted(gp());
  if (aexNotifyMismatch(m, t.flags, secs.attributes)) return faulted(gp());
  // "IF ((DS:RBX).CSSA = 0) THEN #GP(0)": no frame to resume from.
  if (t.cssa === 0) return faulted(gp());
  const savedLa = ssaFrameLinear(secs.baseAddr, t.ossa, secs.ssaFrameSize, t.cssa - 1);
  if (savedLa === undefined) return faulted(gp());
  const saved = checkSsaFrame(m, cpu, savedLa, secs.ssaFrameSize, secs.xfrm, tcs.secsIndex);
  if ('kind' in saved) return faulted(saved);
  const savedGpr = gprLocation(m, saved.gprPa);
  // "IF ((DS:RBX).FLAGS.AEXNOTIFY = 1) and (DS:TMP_GPR.AEXNOTIFY[0] = 1)) THEN TMP_NOTIFY := 1"
  const notify =
    m.features.aexNotify &&
    (t.flags & TcsFlags.AEXNOTIFY) !== 0n &&
    (getField(GPRSGX, savedGpr.page, savedGpr.offset, 'aexNotify') & 1) === 1;

  let next: SsaFrame = saved;
  let target: number | undefined;
  let fsBase: number | undefined;
  let gsBase: number | undefined;
  if (notify) {
    // "Make sure the SSA contains at least one more frame", then the same checks on frame CSSA.
    if (t.cssa >= t.nssa) return faulted(gp());
    const nextLa = ssaFrameLinear(secs.baseAddr, t.ossa, secs.ssaFrameSize, t.cssa);
    if (nextLa === undefined) return faulted(gp());
    const f = checkSsaFrame(m, cpu, nextLa, secs.ssaFrameSize, secs.xfrm, tcs.secsIndex);
    if ('kind' in f) return faulted(f);
    next = f;
    target = canonicalLinear(t.oentry + secs.baseAddr);
    fsBase = canonicalLinear(t.ofsBase + secs.baseAddr);
    gsBase = canonicalLinear(t.ogsBase + secs.baseAddr);
  } else {
    target = canonicalLinear(getField(GPRSGX, savedGpr.page, savedGpr.offset, 'rip'));
    fsBase = canonicalLinear(getField(GPRSGX, savedGpr.page, savedGpr.offset, 'fsBase'));
    gsBase = canonicalLinear(getField(GPRSGX, savedGpr.page, savedGpr.offset, 'gsBase'));
  }
  // "IF (TMP_TARGET is not canonical) THEN #GP(0)", then the FS/GS bases.
  if (target === undefined) return faulted(gp());
  if (fsBase === undefined || gsBase === undefined) return faulted(gp());
  // "IF (DS:RBX.STATE = ACTIVE) THEN #GP(0)"
  if (t.state === TCS_STATE_ACTIVE) return faulted(gp());
  if (!notify) {
    // "XRSTOR(TMP_MODE64, SECS.ATTRIBUTES.XFRM, CR_XSAVE_PAGE_n); IF (XRSTOR failed with #GP) THEN
    // DS:RBX.STATE := INACTIVE; #GP(0)": offsets 520..535 of the XSAVE area must be 0, XSTATE_BV a subset of
    // XFRM, and MXCSR free of reserved bits.
    const area = xsaveArea(m, saved.xsavePages);
    const dv = new DataView(area.buffer, area.byteOffset, area.byteLength);
    const xstateBv = dv.getBigUint64(512, true);
    if (area.subarray(520, 536).some((b) => b !== 0)) return faulted(gp());
    if ((xstateBv & ~secs.xfrm) !== 0n) return faulted(gp());
    if (secs.xfrm & 2n && dv.getUint32(24, true) & ~MXCSR_MASK) return faulted(gp());
    xrstorFromArea(cpu, Number(secs.xfrm & BigInt(XCR0)), area);
  }

  // Commit.
  let cssa = t.cssa;
  if (notify) {
    // "RCX := RIP; RAX := (DS:RBX).CSSA; DS:TMP_SSA.U_RSP := RSP; DS:TMP_SSA.U_RBP := RBP"
    const gpr = gprLocation(m, next.gprPa);
    setField(GPRSGX, gpr.page, gpr.offset, 'ursp', cpu.getReg64(4));
    setField(GPRSGX, gpr.page, gpr.offset, 'urbp', cpu.getReg64(5));
    cpu.cache.invalidatePage(Math.floor(next.gprPa / 4096)); // decoded code there is stale now
    cpu.setReg64(1, u64Linear(cpu.nextRip));
    cpu.setReg64(0, BigInt(t.cssa));
  } else {
    // "Restore_GPRs from DS:TMP_GPR", the listed RFLAGS bits, "VM := 0", IF only at IOPL 3 (never at CPL 3 here).
    GPRSGX_REGS.forEach((name, r) => {
      cpu.setReg64(r, getField(GPRSGX, savedGpr.page, savedGpr.offset, name));
    });
    const savedFlags = Number(getField(GPRSGX, savedGpr.page, savedGpr.offset, 'rflags') & 0xffff_ffffn);
    // RF is not restored into the model's RFLAGS: there are no instruction breakpoints for it to suppress, and
    // the next instruction to retire would clear it.
    cpu.setFlags((cpu.getFlags() & ~RESTORED) | (savedFlags & RESTORED));
    // "(DS:RBX).CSSA := (DS:RBX).CSSA - 1": the restored frame becomes the current one.
    cssa = t.cssa - 1;
    setField(TCS, tcs.page, 0, 'cssa', cssa);
  }
  cpu.rip = target;
  const optInTf = enterEnclaveMode(ctx, { tcs, tcsFlags: t.flags, secs, cssa, frame: next, fsBase, gsBase });
  // Opt-in: a notifying ERESUME pends #DB like EENTER; otherwise "Clear all pending debug exceptions".
  return notify && optInTf ? { kind: 'done', pendingDb: true } : DONE;
}
