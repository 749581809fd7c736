import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { AttrFlags, EEXTEND_CHUNK, PageType } from '../arch';
import { dataView, offsetOf, SECS } from '../layout/index';
import type { SgxMachine } from '../sgx-machine';
import { addrOk, epcIndex, pageOffset, regAddr, sgxPf } from './operands';
import { DONE, type EnclsOutcome, type EnclsRegs, faulted } from './outcome';

// SECS fields EEXTEND reads, at offsets taken from the layout once: it runs 16 times a page.
const ATTRIBUTES = offsetOf(SECS, 'attributes');
const BASEADDR = offsetOf(SECS, 'baseAddr');
/** ATTRIBUTES.INIT, in the low half of the u64. */
const INIT_LO = Number(AttrFlags.INIT);

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
  // EEXTEND only reads the two pages: their frames, not epcPage(), which tells page-write observers.
  const secsPage = m.physMem.peekPage(secsPa / PAGE_SIZE);
  const secs = dataView(secsPage);
  // "If the enclave is already initialized" → #GP(0) (Protected Mode Exceptions).
  if (secs.getUint32(ATTRIBUTES, true) & INIT_LO) return faulted(gp());
  const measurement = m.measurementOf(secsPage);
  if (!measurement) throw new Error(`EEXTEND: uninitialized enclave at EPC page ${secsArg} has no running measurement`);
  // ENCLAVEOFFSET = ENCLAVEADDRESS - BASEADDR + (RCX & 0FFFH)
  const offset = pageOffset(chunkPa);
  const data = m.physMem.peekPage((chunkPa - offset) / PAGE_SIZE);
  measurement.eextend(enclaveOffset(e.enclaveAddress, secs, offset), data.subarray(offset, offset + EEXTEND_CHUNK));
  return DONE;
}

/**
 * ENCLAVEADDRESS - BASEADDR + `inPage` (mod 2^64, which Measurement applies): a number when the address and the
 * base are below 2^53, where the arithmetic is exact; a BigInt otherwise (an enclave in the upper canonical half).
 */
function enclaveOffset(enclaveAddress: bigint, secs: DataView, inPage: number): number | bigint {
  const lin = Number(enclaveAddress);
  const baseHi = secs.getUint32(BASEADDR + 4, true);
  // Number() rounds, but nothing at or above 2^53 rounds below it: lin < 2^53 means it is the address exactly.
  if (lin < 2 ** 53 && baseHi < 2 ** 21) return lin - (baseHi * 2 ** 32 + secs.getUint32(BASEADDR, true)) + inPage;
  return enclaveAddress - secs.getBigUint64(BASEADDR, true) + BigInt(inPage);
}
