/**
 * ENCLU[EENTER] (EAX = 2): enters an enclave through a TCS (SDM Vol. 3D §41.4 "EENTER—Enters an Enclave";
 * sgx-isa.md §5.1). RBX = TCS, RCX = AEP. Out: RAX = TCS.CSSA, RCX = the address after ENCLU, RIP =
 * BASEADDR + OENTRY, SSA[CSSA].URSP/URBP = RSP/RBP; every other register is left for the enclave.
 *
 * The 32-bit-mode checks (segment bases, limits) do not apply: the interpreter runs 64-bit code only, so
 * TMP_MODE64 = 1; CR4.OSFXSR = CR4.OSXSAVE = 1 and XCR0 = x87 | SSE.
 */
import { XCR0 } from '../../cpu/index';
import { gp } from '../../fault';
import { AttrFlags } from '../arch';
import { GPRSGX, setField } from '../layout/index';
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
import { checkSsaFrame, gprLocation, ssaFrameLinear } from './ssa-frame';

/** ENCLU[EENTER], checks in the SDM pseudo-code order. */
export function eenter(ctx: EncluContext): EncluOutcome {
  const { m, cpu } = ctx;
  // RBX alignment, EPC residency, AEP canonical, EPCM(TCS).
  const tcs = resolveTcs(ctx);
  if ('kind' in tcs) return faulted(tcs);
  const t = readTcs(tcs.page);
  // "IF ((DS:RBX).OSSA is not 4KByte Aligned) THEN #GP(0)"
  if (t.ossa % 4096n !== 0n) return faulted(gp());
  // "IF (((DS:RBX).OFSBASE is not 4KByte Aligned) or ((DS:RBX).OGSBASE is not 4KByte Aligned)) THEN #GP(0)"
  if (t.ofsBase % 4096n !== 0n || t.ogsBase % 4096n !== 0n) return faulted(gp());
  const secs = readSecs(m, tcs.secsIndex);
  // "IF ((TMP_FSBASE is not canonical) or (TMP_GSBASE is not canonical)) THEN #GP(0)"
  const fsBase = canonicalLinear(t.ofsBase + secs.baseAddr);
  const gsBase = canonicalLinear(t.ogsBase + secs.baseAddr);
  if (fsBase === undefined || gsBase === undefined) return faulted(gp());
  // "IF (((DS:RBX).FLAGS & FFFFFFFFFFFFFFFEH) ≠ 0) THEN #GP(0)" (…FCH with AEX-Notify)
  if (t.flags & tcsReservedFlags(m)) return faulted(gp());
  // "IF (the enclave is not already initialized) THEN #GP(0)"
  if (!(secs.attributes & AttrFlags.INIT)) return faulted(gp());
  // "IF ((TMP_MODE64 ≠ TMP_SECS.ATTRIBUTES.MODE64BIT)) THEN #GP(0)"
  if (!(secs.attributes & AttrFlags.MODE64BIT)) return faulted(gp());
  // "IF ((TMP_SECS.ATTRIBUTES.XFRM & XCR0) ≠ TMP_SECS.ATTRIBUTES.XFRM) THEN #GP(0)"
  if ((secs.xfrm & BigInt(XCR0)) !== secs.xfrm) return faulted(gp());
  // AEX-Notify: TCS.FLAGS.AEXNOTIFY must match SECS.ATTRIBUTES.AEXNOTIFY on an opt-out entry.
  if (aexNotifyMismatch(m, t.flags, secs.attributes)) return faulted(gp());
  // "IF ((DS:RBX).CSSA ≥ (DS:RBX).NSSA) THEN #GP(0)": no free SSA frame.
  if (t.cssa >= t.nssa) return faulted(gp());
  const frameLa = ssaFrameLinear(secs.baseAddr, t.ossa, secs.ssaFrameSize, t.cssa);
  if (frameLa === undefined) return faulted(gp());
  const frame = checkSsaFrame(m, cpu, frameLa, secs.ssaFrameSize, secs.xfrm, tcs.secsIndex);
  if ('kind' in frame) return faulted(frame);
  // "IF (TMP_TARGET is not canonical) THEN #GP(0)"
  const target = canonicalLinear(t.oentry + secs.baseAddr);
  if (target === undefined) return faulted(gp());
  // "IF (DS:RBX.STATE = ACTIVE) THEN #GP(0)": another logical processor is inside on this TCS.
  if (t.state === TCS_STATE_ACTIVE) return faulted(gp());

  // Commit. "RCX ← RIP; RIP ← TMP_TARGET; RAX ← (DS:RBX).CSSA; DS:TMP_SSA.U_RSP ← RSP; DS:TMP_SSA.U_RBP ← RBP"
  const gpr = gprLocation(m, frame.gprPa);
  setField(GPRSGX, gpr.page, gpr.offset, 'ursp', cpu.getReg64(4));
  setField(GPRSGX, gpr.page, gpr.offset, 'urbp', cpu.getReg64(5));
  cpu.cache.invalidatePage(Math.floor(frame.gprPa / 4096)); // decoded code there is stale now
  cpu.setReg64(1, u64Linear(cpu.nextRip));
  cpu.setReg64(0, BigInt(t.cssa));
  cpu.rip = target;
  const pendingDb = enterEnclaveMode(ctx, { tcs, tcsFlags: t.flags, secs, cssa: t.cssa, frame, fsBase, gsBase });
  return pendingDb ? { kind: 'done', pendingDb } : DONE;
}
