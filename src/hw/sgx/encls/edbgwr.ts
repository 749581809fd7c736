import { gp, isFault } from '../../fault';
import { AttrFlags, PageType } from '../arch';
import { SgxStatus } from '../errors';
import { getField, offsetOf, SECS, TCS } from '../layout/index';
import type { SgxMachine } from '../sgx-machine';
import { DEBUG_ACCESS_SIZE } from './edbgrd';
import { addrOk, epcIndex, pageOffset, regAddr, sgxPf } from './operands';
import { type EnclsOutcome, type EnclsRegs, failure, faulted, success } from './outcome';

/**
 * ENCLS[EDBGWR]: write RBX to a quadword of a debug enclave's REG page, or to a TCS's FLAGS word
 * (SDM Vol. 3D §41.2 EDBGWR). RBX = data, RCX = EPC address. EPCM R/W/X are ignored.
 * @returns SGX_SUCCESS; SGX_PAGE_NOT_DEBUGGABLE (ZF = 1) for PENDING or MODIFIED pages; #GP(0) for
 *   misalignment, a non-debug enclave or a TCS word other than FLAGS; #PF for non-EPC, invalid, SECS, VA or
 *   TRIM pages.
 */
export function edbgwr(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const data = BigInt.asUintN(64, BigInt(regs.rbx ?? 0));
  const pa = regAddr(regs.rcx, 'RCX');
  if (!addrOk(pa, DEBUG_ACCESS_SIZE)) return faulted(gp());
  const index = epcIndex(m, pa, true);
  if (isFault(index)) return faulted(index);
  // "IF ((EPCM(DS:RCX).PT ≠ PT_REG) and (EPCM(DS:RCX).PT ≠ PT_TCS)) THEN #PF(DS:RCX)"
  const e = m.epcm.get(index);
  if (!e || (e.pt !== PageType.REG && e.pt !== PageType.TCS)) return faulted(sgxPf(pa, true));
  if (e.pending || e.modified) return failure(SgxStatus.PAGE_NOT_DEBUGGABLE);
  // "IF ((EPCM(DS:RCX).PT = PT_TCS) and ((DS:RCX) & FF8H ≠ offset_of_FLAGS & 0FF8H)) THEN #GP(0)"
  if (e.pt === PageType.TCS && (pageOffset(pa) & 0xff8) !== (offsetOf(TCS, 'flags') & 0xff8)) return faulted(gp());
  if ((getField(SECS, m.epcPage(e.enclaveSecs), 0, 'attributes') & AttrFlags.DEBUG) === 0n) return faulted(gp());
  m.physMem.writeU64(pa, data);
  return success();
}
