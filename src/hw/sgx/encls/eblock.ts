import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { PageType } from '../arch';
import { SgxStatus } from '../errors';
import type { SgxMachine } from '../sgx-machine';
import { entryEpoch } from '../tracking';
import { addrOk, epcIndex, regAddr } from './operands';
import { type EnclsOutcome, type EnclsRegs, failure, faulted, statusWith, success } from './outcome';

/**
 * ENCLS[EBLOCK]: mark an enclave page BLOCKED so no new TLB translations can be made, and record the enclave's
 * entry epoch for EWB's tracking check (SDM Vol. 3D §41.2 EBLOCK). RCX = EPC page.
 * SGX_EPC_PAGE_CONFLICT and SGX_ENTRYEPOCH_LOCKED report races with other leaves and cannot arise here.
 * @returns SGX_SUCCESS; SGX_PG_INVLD (ZF = 1); SGX_PG_IS_SECS or SGX_NOTBLOCKABLE (CF = 1) for SECS and other
 *   non-blockable types; SGX_BLKSTATE (CF = 1) if already blocked; or #GP(0) / #PF.
 */
export function eblock(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const pa = regAddr(regs.rcx, 'RCX');
  if (!addrOk(pa, PAGE_SIZE)) return faulted(gp());
  const index = epcIndex(m, pa, true);
  if (isFault(index)) return faulted(index);
  const e = m.epcm.get(index);
  if (!e) return failure(SgxStatus.PG_INVLD);
  // Only REG, TCS and TRIM pages can be blocked; these codes set CF, not ZF.
  if (e.pt !== PageType.REG && e.pt !== PageType.TCS && e.pt !== PageType.TRIM)
    return statusWith(e.pt === PageType.SECS ? SgxStatus.PG_IS_SECS : SgxStatus.NOTBLOCKABLE, false, true);
  if (e.blocked) return statusWith(SgxStatus.BLKSTATE, false, true);
  e.blocked = true;
  e.blockEpoch = entryEpoch(m, e.enclaveSecs);
  return success();
}
