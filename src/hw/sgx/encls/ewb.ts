import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { PageType } from '../arch';
import { epcmSecinfoFlags } from '../epcm';
import { SgxStatus } from '../errors';
import { decode, encode, offsetOf, PAGEINFO, PCMD, SECINFO } from '../layout/index';
import { sealPage } from '../paging-crypto';
import { adjustChildCount, hiddenU64 } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { isTracked } from '../tracking';
import { addrOk, epcIndex, pointer, readMem, regAddr, sgxPf, writeFault, writeMem } from './operands';
import { type EnclsOutcome, type EnclsRegs, failure, faulted, statusWith, success } from './outcome';

/**
 * ENCLS[EWB]: encrypt an EPC page out to memory with its PCMD, store a fresh version in a VA slot and invalidate
 * the page (SDM Vol. 3D §41.2 EWB). RBX = PAGEINFO (SRCPGE = destination, PCMD = destination; LINADDR and SECS
 * must be 0, and LINADDR receives the page's address), RCX = EPC page, RDX = VA slot.
 * @returns SGX_SUCCESS; SGX_VA_SLOT_OCCUPIED with CF = 1 (the page is still evicted; the old version is lost);
 *   ZF = 1 with SGX_PAGE_NOT_BLOCKED, SGX_NOT_TRACKED or SGX_CHILD_PRESENT; or #GP(0) / #PF.
 */
export function ewb(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const pageinfoPa = regAddr(regs.rbx, 'RBX');
  const pa = regAddr(regs.rcx, 'RCX');
  const slotPa = regAddr(regs.rdx, 'RDX');
  if (!addrOk(pageinfoPa, PAGEINFO.align) || !addrOk(pa, PAGE_SIZE)) return faulted(gp());
  const index = epcIndex(m, pa, true);
  if (isFault(index)) return faulted(index);
  // "IF (DS:RDX is not 8Byte Aligned) #GP(0)"; "IF (DS:RDX does not resolve within an EPC) #PF(DS:RDX)"
  if (!addrOk(slotPa, 8)) return faulted(gp());
  const vaIndex = epcIndex(m, slotPa, true);
  if (isFault(vaIndex)) return faulted(vaIndex);
  // "IF (DS:RCX and DS:RDX resolve to the same EPC page) THEN #GP(0)"
  if (vaIndex === index) return faulted(gp());
  const pageinfo = readMem(m, pageinfoPa, PAGEINFO.size);
  if (isFault(pageinfo)) return faulted(pageinfo);
  const pi = decode(PAGEINFO, pageinfo);
  // "If (DS:RBX.LINADDR ≠ 0) OR (DS:RBX.SECS ≠ 0) THEN #GP(0)"; PCMD 128-byte and SRCPGE 4K aligned.
  if (pi.linAddr !== 0n || pi.secs !== 0n) return faulted(gp());
  const pcmdPa = pointer(pi.secinfo, PCMD.align);
  if (isFault(pcmdPa)) return faulted(pcmdPa);
  const dstPa = pointer(pi.srcPge, PAGE_SIZE);
  if (isFault(dstPa)) return faulted(dstPa);
  // "IF (EPCM(DS:RCX).VALID = 0) THEN #PF(DS:RCX)"; the slot's page must be a valid VA page.
  const e = m.epcm.get(index);
  if (!e) return faulted(sgxPf(pa, true));
  if (m.epcm.get(vaIndex)?.pt !== PageType.VA) return faulted(sgxPf(slotPa, true));

  let headerEid: bigint;
  let pcmdEid: bigint;
  if (e.pt === PageType.REG || e.pt === PageType.TCS || e.pt === PageType.TRIM) {
    // "IF (EPCM(DS:RCX).BLOCKED = 0) … SGX_PAGE_NOT_BLOCKED"; "IF (Tracking not correct) … SGX_NOT_TRACKED"
    if (!e.blocked) return failure(SgxStatus.PAGE_NOT_BLOCKED);
    if (!isTracked(m, e.enclaveSecs, e.blockEpoch)) return failure(SgxStatus.NOT_TRACKED);
    headerEid = hiddenU64(m.epcPage(e.enclaveSecs), 'eid');
    pcmdEid = headerEid;
  } else if (e.pt === PageType.SECS) {
    // "IF (DS:RCX has an EPC page associated with it) … SGX_CHILD_PRESENT"
    const page = m.epcPage(index);
    if (hiddenU64(page, 'childCnt') !== 0n) return failure(SgxStatus.CHILD_PRESENT);
    headerEid = 0n;
    pcmdEid = hiddenU64(page, 'eid');
  } else {
    // VA pages: "Zero is not a special value"; no enclave handle.
    headerEid = 0n;
    pcmdEid = 0n;
  }
  // Check the three non-EPC destinations before anything changes, so a fault leaves no partial state.
  const wf = writeFault(m, dstPa) ?? writeFault(m, pcmdPa) ?? writeFault(m, pageinfoPa);
  if (wf) return faulted(wf);

  const secinfo = encode(SECINFO, { flags: epcmSecinfoFlags(e) });
  const version = m.nextVersion();
  const { ciphertext, mac } = sealPage(
    m.crypto,
    m.secrets.pagingKey,
    version,
    { secinfo, eid: headerEid, pcmdReserved: new Uint8Array(40), linAddr: e.enclaveAddress, pcmdEnclaveId: pcmdEid },
    m.epcPage(index),
  );
  writeMem(m, dstPa, ciphertext);
  writeMem(m, pcmdPa, encode(PCMD, { secinfo, enclaveId: pcmdEid, mac }));
  // "DS:RBX.LINADDR ← EPCM(DS:RCX).ENCLAVEADDRESS"
  const linAddr = new Uint8Array(8);
  new DataView(linAddr.buffer).setBigUint64(0, e.enclaveAddress, true);
  writeMem(m, pageinfoPa + offsetOf(PAGEINFO, 'linAddr'), linAddr);
  // "IF ([DS.RDX]) THEN RAX ← SGX_VA_SLOT_OCCUPIED; RFLAGS.CF ← 1"; then "[DS.RDX] ← TMP_VER"
  const occupied = m.physMem.readU64(slotPa) !== 0n;
  m.physMem.writeU64(slotPa, version);
  // "EPCM(DS:RCX).VALID ← 0"; the parent loses a child.
  if (e.enclaveSecs >= 0) adjustChildCount(m.epcPage(e.enclaveSecs), -1);
  // The frame keeps its (now unreachable) bytes, as the hardware's does: every leaf that makes an EPC page valid
  // again (ECREATE, EADD, ELDU, EPA) writes all 4096 bytes, and EREMOVE still releases the storage.
  m.epcm.invalidate(index);
  return occupied ? statusWith(SgxStatus.VA_SLOT_OCCUPIED, false, true) : success();
}
