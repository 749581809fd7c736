import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { PageType } from '../arch';
import { SgxStatus } from '../errors';
import type { SgxMachine } from '../sgx-machine';
import { startTracking } from '../tracking';
import { addrOk, epcIndex, regAddr, sgxPf } from './operands';
import { type EnclsOutcome, type EnclsRegs, failure, faulted, success } from './outcome';

/**
 * ENCLS[ETRACK]: start a tracking cycle: the logical processors now inside the enclave must all leave before
 * EWB may evict pages blocked so far (SDM Vol. 3D §41.2 ETRACK; model in tracking.ts). RCX = SECS.
 * @returns SGX_SUCCESS; SGX_PREV_TRK_INCMPL (ZF = 1) while the previous cycle is incomplete; or #GP(0) / #PF.
 */
export function etrack(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const pa = regAddr(regs.rcx, 'RCX');
  if (!addrOk(pa, PAGE_SIZE)) return faulted(gp());
  const index = epcIndex(m, pa, true);
  if (isFault(index)) return faulted(index);
  // "IF (EPCM(DS:RCX).VALID = 0) #PF"; "IF (EPCM(DS:RCX).PT ≠ PT_SECS) THEN #PF(DS:RCX)"
  if (m.epcm.get(index)?.pt !== PageType.SECS) return faulted(sgxPf(pa, true));
  // "IF ((DS:RCX).TRACKING ≠ 0) … SGX_PREV_TRK_INCMPL"
  if (!startTracking(m, index)) return failure(SgxStatus.PREV_TRK_INCMPL);
  return success();
}
