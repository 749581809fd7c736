import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { PageType, type PageTypeNumber, SecinfoFlags } from '../arch';
import { secinfoPageType } from '../epcm';
import { SgxStatus } from '../errors';
import { decode, getField, PAGEINFO, PCMD, SECINFO } from '../layout/index';
import { openPage } from '../paging-crypto';
import { adjustChildCount, hiddenU64 } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { entryEpoch } from '../tracking';
import { addrOk, epcIndex, pointer, readMem, readMemView, regAddr, sgxPf } from './operands';
import { type EnclsOutcome, type EnclsRegs, failure, faulted, success } from './outcome';

/**
 * ELDB and ELDU: decrypt and verify a page EWB wrote, restore its EPCM entry and clear its VA slot
 * (SDM Vol. 3D §41.2 "ELDB/ELDU/ELDBC/ELDUC"). `blocked` selects ELDB, which reloads REG/TCS/TRIM pages BLOCKED.
 */
export function loadPage(m: SgxMachine, regs: EnclsRegs, blocked: boolean): EnclsOutcome {
  const pageinfoPa = regAddr(regs.rbx, 'RBX');
  const pa = regAddr(regs.rcx, 'RCX');
  const slotPa = regAddr(regs.rdx, 'RDX');
  // "IF ((DS:RBX is not 32Byte Aligned) or (DS:RCX is not 4KByte Aligned)) #GP(0)"
  if (!addrOk(pageinfoPa, PAGEINFO.align) || !addrOk(pa, PAGE_SIZE)) return faulted(gp());
  const index = epcIndex(m, pa, true);
  if (isFault(index)) return faulted(index);
  // "IF (DS:RDX is not 8Byte aligned) #GP(0)"; "IF (DS:RDX does not resolve within an EPC) #PF(DS:RDX)"
  if (!addrOk(slotPa, 8)) return faulted(gp());
  const vaIndex = epcIndex(m, slotPa, true);
  if (isFault(vaIndex)) return faulted(vaIndex);
  const pageinfo = readMem(m, pageinfoPa, PAGEINFO.size);
  if (isFault(pageinfo)) return faulted(pageinfo);
  const pi = decode(PAGEINFO, pageinfo);
  // "IF ((DS:TMP_PCMD is not 128Byte aligned) or (DS:TMP_SRCPGE is not 4KByte aligned)) #GP(0)"
  const pcmdPa = pointer(pi.secinfo, PCMD.align);
  if (isFault(pcmdPa)) return faulted(pcmdPa);
  const srcPa = pointer(pi.srcPge, PAGE_SIZE);
  if (isFault(srcPa)) return faulted(srcPa);
  // "IF (EPCM(DS:RCX).VALID = 1) #PF(DS:RCX)"; the slot must be in a valid VA page.
  if (m.epcm.isValid(index)) return faulted(sgxPf(pa, true));
  if (m.epcm.get(vaIndex)?.pt !== PageType.VA) return faulted(sgxPf(slotPa, true));
  const pcmdBytes = readMem(m, pcmdPa, PCMD.size);
  if (isFault(pcmdBytes)) return faulted(pcmdBytes);
  const pcmd = decode(PCMD, pcmdBytes);
  const flags = getField(SECINFO, pcmd.secinfo, 0, 'flags');
  const pt = secinfoPageType(flags);
  const child = pt === PageType.REG || pt === PageType.TCS || pt === PageType.TRIM;
  let secs = -1;
  let eid = 0n;
  if (child) {
    // "IF (DS:TMP_SECS is not 4KByte aligned) #GP(0)"; "IF (DS:TMP_SECS does not resolve within an EPC) #PF".
    const secsPa = pointer(pi.secs, PAGE_SIZE);
    if (isFault(secsPa)) return faulted(secsPa);
    const s = epcIndex(m, secsPa, false);
    if (isFault(s)) return faulted(s);
    // "TMP_HEADER.EID ← DS:TMP_SECS.EID" needs a SECS there; the SDM omits the check EADD makes, so we apply
    // EADD's: #PF(TMP_SECS) unless it is a valid PT_SECS page.
    if (m.epcm.get(s)?.pt !== PageType.SECS) return faulted(sgxPf(secsPa, false));
    secs = s;
    eid = hiddenU64(m.epcPage(s), 'eid');
  }
  const ciphertext = readMemView(m, srcPa, PAGE_SIZE);
  if (isFault(ciphertext)) return faulted(ciphertext);
  // "TMP_VER ← DS:RDX[63:0]"; "{DS:RCX, TMP_MAC} ← AES_GCM_DEC(CR_BASE_PK, TMP_VER << 32, TMP_HEADER, …)"
  const version = m.physMem.readU64(slotPa);
  const plain = openPage(
    m.crypto,
    m.secrets.pagingKey,
    version,
    { secinfo: pcmd.secinfo, eid, pcmdReserved: pcmd.reserved, linAddr: pi.linAddr, pcmdEnclaveId: pcmd.enclaveId },
    ciphertext,
    pcmd.mac,
  );
  if (!plain) return failure(SgxStatus.MAC_COMPARE_FAIL);
  // The slot is consumed: the SDM's printed "IF (DS:RDX ≠ 0) THEN #GP(0) ELSE DS:RDX ← TMP_VER" cannot be meant
  // literally (the slot always holds TMP_VER here); hardware frees it, which is what makes a second load of the
  // same copy fail (sgx-isa.md §10; the Linux driver frees the slot after ELDU).
  m.physMem.writeU64(slotPa, 0n);
  m.epcPage(index).set(plain);
  m.epcm.set(index, {
    r: (flags & SecinfoFlags.R) !== 0n,
    w: (flags & SecinfoFlags.W) !== 0n,
    x: (flags & SecinfoFlags.X) !== 0n,
    // The MAC verified, so PT is one EWB wrote.
    pt: pt as PageTypeNumber,
    enclaveSecs: secs,
    enclaveAddress: pi.linAddr,
    pending: (flags & SecinfoFlags.PENDING) !== 0n,
    modified: (flags & SecinfoFlags.MODIFIED) !== 0n,
    pr: (flags & SecinfoFlags.PR) !== 0n,
    // "IF ((EAX = 07H) …) and (PT is NOT PT_SECS or PT_VA)) EPCM.BLOCKED ← 1"
    blocked: blocked && child,
    // An ELDB'd page has no translations anywhere; stamping the current epoch keeps EWB's rule uniform.
    blockEpoch: child ? entryEpoch(m, secs) : 0,
  });
  if (child) adjustChildCount(m.epcPage(secs), 1);
  return success();
}

/**
 * ENCLS[ELDU]: load an evicted page back into the EPC unblocked (SDM Vol. 3D §41.2 ELDB/ELDU).
 * RBX = PAGEINFO (LINADDR, SRCPGE, PCMD, SECS), RCX = EPC page, RDX = VA slot.
 * @returns SGX_SUCCESS; SGX_MAC_COMPARE_FAIL (ZF = 1) for an altered page, PCMD or address, a replayed copy or a
 *   wrong slot; or #GP(0) / #PF.
 */
export function eldu(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  return loadPage(m, regs, false);
}
