import { gp, isFault } from '../../fault';
import { AttrFlags, PageType } from '../arch';
import { SgxStatus } from '../errors';
import { getField, SECS } from '../layout/index';
import type { SgxMachine } from '../sgx-machine';
import { addrOk, epcIndex, pageOffset, regAddr, sgxPf } from './operands';
import { type EnclsOutcome, type EnclsRegs, failure, faulted, success } from './outcome';

/**
 * SGX_TCS_LIMIT: EDBGRD may read a TCS only below it. The SDM names the constant ("the architectural size of the
 * TCS") without a value; the architectural TCS fields end where the reserved area begins, at byte 72.
 */
export const SGX_TCS_LIMIT = 72;

/** The quadword EDBGRD/EDBGWR address: 8-byte aligned in 64-bit mode, the only mode ENCLS runs in here. */
export const DEBUG_ACCESS_SIZE = 8;

/**
 * ENCLS[EDBGRD]: read a quadword of a debug enclave's REG or TCS page, or whether a VA slot is in use
 * (SDM Vol. 3D §41.2 EDBGRD). RCX = EPC address; the data comes back in RBX. EPCM R/W/X are ignored.
 * @returns SGX_SUCCESS with RBX; SGX_PAGE_NOT_DEBUGGABLE (ZF = 1) for PENDING or MODIFIED pages; #GP(0) for
 *   misalignment, a non-debug enclave or a TCS offset at or beyond SGX_TCS_LIMIT; #PF for non-EPC, invalid, SECS
 *   or TRIM pages.
 */
export function edbgrd(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const pa = regAddr(regs.rcx, 'RCX');
  if (!addrOk(pa, DEBUG_ACCESS_SIZE)) return faulted(gp());
  const index = epcIndex(m, pa, false);
  if (isFault(index)) return faulted(index);
  // "IF (EPCM(DS:RCX).VALID = 0) #PF"; only PT_REG, PT_TCS and PT_VA are readable.
  const e = m.epcm.get(index);
  if (!e || (e.pt !== PageType.REG && e.pt !== PageType.TCS && e.pt !== PageType.VA)) return faulted(sgxPf(pa, false));
  if (e.pending || e.modified) return failure(SgxStatus.PAGE_NOT_DEBUGGABLE);
  const offset = pageOffset(pa);
  if (e.pt === PageType.TCS && offset >= SGX_TCS_LIMIT) return faulted(gp());
  const value = m.physMem.readU64(pa);
  if (e.pt === PageType.VA) {
    // A VA slot reads as all-ones when occupied and 0 when free; the version itself stays secret.
    return success((value & ~7n) !== 0n ? 0xffff_ffff_ffff_ffffn : 0n);
  }
  // "IF (TMP_SECS.ATTRIBUTES.DEBUG = 0) THEN #GP(0)"
  if ((getField(SECS, m.epcPage(e.enclaveSecs), 0, 'attributes') & AttrFlags.DEBUG) === 0n) return faulted(gp());
  return success(value);
}
