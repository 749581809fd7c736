import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { PageType } from '../arch';
import type { SgxMachine } from '../sgx-machine';
import { addrOk, epcIndex, regAddr, sgxPf } from './operands';
import { DONE, type EnclsOutcome, type EnclsRegs, faulted } from './outcome';

/**
 * ENCLS[EPA]: turn an empty EPC page into a Version Array of 512 zeroed 8-byte slots (SDM Vol. 3D §41.2 EPA).
 * RBX = PT_VA, RCX = EPC page.
 * @returns done, or #GP(0) (RBX ≠ PT_VA, misaligned) / #PF (not EPC, already valid).
 */
export function epa(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const pa = regAddr(regs.rcx, 'RCX');
  // "IF (RBX ≠ PT_VA or DS:RCX is not 4KByte Aligned) THEN #GP(0)"
  if (BigInt(regs.rbx ?? 0) !== BigInt(PageType.VA) || !addrOk(pa, PAGE_SIZE)) return faulted(gp());
  const index = epcIndex(m, pa, true);
  if (isFault(index)) return faulted(index);
  // "IF (EPCM(DS:RCX).VALID ≠ 0) THEN #PF(DS:RCX)"
  if (m.epcm.isValid(index)) return faulted(sgxPf(pa, true));
  m.epcPage(index).fill(0);
  m.epcm.set(index, { r: false, w: false, x: false, pt: PageType.VA, enclaveSecs: -1, enclaveAddress: 0n });
  return DONE;
}
