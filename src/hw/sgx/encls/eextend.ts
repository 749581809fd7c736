import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { AttrFlags, EEXTEND_CHUNK, PageType } from '../arch';
import { getField, SECS } from '../layout/index';
import { hiddenU64 } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { addrOk, epcIndex, pageOffset, regAddr, sgxPf } from './operands';
import { DONE, type EnclsOutcome, type EnclsRegs, faulted } from './outcome';

/**
 * ENCLS[EEXTEND]: measure 256 bytes of an EPC page of an uninitialized enclave into MRENCLAVE, as one
 * "EEXTEND" record and four data blocks (SDM Vol. 3D §41.2 EEXTEND). RBX = SECS, RCX = 256-byte-aligned chunk.
 * @returns done, or #GP(0) / #PF in the SDM's order (the leaf has no status codes).
 */
export function eextend(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const secsPa = regAddr(regs.rbx, 'RBX');
  const chunkPa = regAddr(regs.rcx, 'RCX');
  // "IF (DS:RBX is not 4096 Byte Aligned) THEN #GP(0)"
  if (!addrOk(secsPa, PAGE_SIZE)) return faulted(gp());
  // "IF (DS:RBX does [not] resolve to an EPC page) THEN #PF(DS:RBX)" (the SDM text drops the "not")
  const secsArg = epcIndex(m, secsPa, false);
  if (isFault(secsArg)) return faulted(secsArg);
  // "IF (DS:RCX is not 256Byte Aligned) THEN #GP(0)"; "IF (DS:RCX does not resolve within an EPC) #PF(DS:RCX)"
  if (!addrOk(chunkPa, EEXTEND_CHUNK)) return faulted(gp());
  const page = epcIndex(m, chunkPa, false);
  if (isFault(page)) return faulted(page);
  // "IF (EPCM(DS:RCX).VALID = 0) #PF"; "IF ((EPCM(DS:RCX).PT ≠ PT_REG) and (… ≠ PT_TCS)) #PF(DS:RCX)"
  const e = m.epcm.get(page);
  if (!e || (e.pt !== PageType.REG && e.pt !== PageType.TCS)) return faulted(sgxPf(chunkPa, false));
  // "IF (DS:RBX does not resolve to TMP_SECS) THEN #GP(0)": RBX must be the page's own SECS.
  if (e.enclaveSecs !== secsArg) return faulted(gp());
  const secsPage = m.epcPage(secsArg);
  // "If the enclave is already initialized" → #GP(0) (Protected Mode Exceptions).
  if (getField(SECS, secsPage, 0, 'attributes') & AttrFlags.INIT) return faulted(gp());
  const eid = hiddenU64(secsPage, 'eid');
  const measurement = m.measurement(eid);
  if (!measurement) throw new Error(`EEXTEND: uninitialized enclave EID ${eid} has no running measurement`);
  // ENCLAVEOFFSET = ENCLAVEADDRESS - BASEADDR + (RCX & 0FFFH)
  const offset = pageOffset(chunkPa);
  const base = getField(SECS, secsPage, 0, 'baseAddr');
  measurement.eextend(
    e.enclaveAddress - base + BigInt(offset),
    m.epcPage(page).subarray(offset, offset + EEXTEND_CHUNK),
  );
  return DONE;
}
