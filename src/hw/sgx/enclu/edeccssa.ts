/**
 * ENCLU[EDECCSSA] (EAX = 9, AEX-Notify): pops the current SSA frame from inside the enclave (SDM Vol. 3D §41.4
 * "EDECCSSA—Decrements TCS.CSSA"; sgx-isa.md §5.4). An AEX-Notify handler entered by ERESUME on frame CSSA
 * uses it to return to the interrupted context's frame without leaving the enclave. "#GP(0) if TCS.CSSA is 0";
 * the frame CSSA − 1 gets the SSA-frame checks (#PF) and becomes the one the next AEX saves into
 * (CR_GPR_PA, CR_XSAVE_PAGE_n). Flags are not affected.
 */
import type { EnclaveMode } from '../../cpu/index';
import { gp } from '../../fault';
import { setField, TCS } from '../layout/index';
import {
  DONE,
  type EnclaveRegs,
  type EncluContext,
  type EncluOutcome,
  enclaveRegs,
  faulted,
  stepOver,
} from './context';
import { readSecs, readTcs } from './entry';
import { checkSsaFrame, ssaFrameLinear } from './ssa-frame';

/** ENCLU[EDECCSSA]. The dispatcher has checked enclave mode and that the part has AEX-Notify. */
export function edeccssa(ctx: EncluContext): EncluOutcome {
  const { m, cpu } = ctx;
  const mode = cpu.enclave!;
  const regs = enclaveRegs(mode);
  const tcsPage = m.physMem.page(regs.tcsPa / 4096);
  const t = readTcs(tcsPage);
  // "IF (TCS.CSSA = 0) THEN #GP(0)"
  if (t.cssa === 0) return faulted(gp());
  const secs = readSecs(m, regs.secsIndex);
  const la = ssaFrameLinear(secs.baseAddr, t.ossa, secs.ssaFrameSize, t.cssa - 1);
  if (la === undefined) return faulted(gp());
  const frame = checkSsaFrame(m, cpu, la, secs.ssaFrameSize, secs.xfrm, regs.secsIndex);
  if ('kind' in frame) return faulted(frame);
  // "CR_TCS_PA.CSSA := CR_TCS_PA.CSSA - 1", and the cached frame addresses follow.
  const cssa = t.cssa - 1;
  setField(TCS, tcsPage, 0, 'cssa', cssa);
  const data: EnclaveRegs = { ...regs, gprPa: frame.gprPa, xsavePages: frame.xsavePages };
  const next: EnclaveMode = { ...mode, cssa, data };
  cpu.setMode(3, next);
  stepOver(cpu);
  return DONE;
}
