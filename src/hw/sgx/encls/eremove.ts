import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { PageType } from '../arch';
import { SgxStatus } from '../errors';
import { adjustChildCount, hiddenU64 } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { threadsInside } from '../tracking';
import { addrOk, epcIndex, regAddr } from './operands';
import { type EnclsOutcome, type EnclsRegs, failure, faulted, success } from './outcome';

/**
 * ENCLS[EREMOVE]: unbind an EPC page from its enclave and mark it invalid (SDM Vol. 3D §41.2 EREMOVE).
 * RCX = EPC page. Removing an invalid page succeeds.
 * @returns SGX_SUCCESS; ZF = 1 with SGX_CHILD_PRESENT (a SECS with pages) or SGX_ENCLAVE_ACT (a logical
 *   processor is inside the page's enclave); or #GP(0) / #PF.
 */
export function eremove(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const pa = regAddr(regs.rcx, 'RCX');
  if (!addrOk(pa, PAGE_SIZE)) return faulted(gp());
  const index = epcIndex(m, pa, true);
  if (isFault(index)) return faulted(index);
  const e = m.epcm.get(index);
  // "if DS:RCX is already unused, nothing to do"
  if (!e) return success();
  // VA pages, and trimmed pages the enclave has accepted (MODIFIED = 0), go without further checks. (The 2018
  // text tests the TRIM case twice with the same condition; later SDMs fixed the first test, as here.)
  if (e.pt === PageType.VA || (e.pt === PageType.TRIM && !e.modified)) {
    if (e.pt === PageType.TRIM) adjustChildCount(m.epcPage(e.enclaveSecs), -1);
    return removed(m, index);
  }
  if (e.pt === PageType.SECS) {
    // "IF (DS:RCX has an EPC page associated with it) … SGX_CHILD_PRESENT"
    const page = m.epcPage(index);
    if (hiddenU64(page, 'childCnt') !== 0n) return failure(SgxStatus.CHILD_PRESENT);
    m.dropMeasurement(hiddenU64(page, 'eid'));
    return removed(m, index);
  }
  // "IF (Other threads active using SECS) … SGX_ENCLAVE_ACT"
  if (threadsInside(m, e.enclaveSecs) > 0) return failure(SgxStatus.ENCLAVE_ACT);
  adjustChildCount(m.epcPage(e.enclaveSecs), -1);
  return removed(m, index);
}

function removed(m: SgxMachine, index: number): EnclsOutcome {
  m.epcm.invalidate(index);
  m.releaseEpcPage(index);
  return success();
}
