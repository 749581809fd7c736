import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { AttrFlags, PageType, SecinfoFlags, TcsFlags } from '../arch';
import { secinfoPageType } from '../epcm';
import { decode, getField, PAGEINFO, reservedAreZero, SECINFO, SECS, setField, TCS } from '../layout/index';
import { adjustChildCount, hiddenU64 } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { addrOk, epcIndex, pointer, readMem, readMemView, regAddr, sgxPf } from './operands';
import { DONE, type EnclsOutcome, type EnclsRegs, faulted } from './outcome';

/**
 * SECINFO.FLAGS bits EADD refuses: the reserved bits, and PENDING/MODIFIED/PR, which only EACCEPT may name
 * (sgx-isa.md §2.4; the Linux driver's SGX_SECINFO_RESERVED_MASK covers the same bits 7:3 and 63:16).
 */
const EADD_FLAGS_RESERVED = SecinfoFlags.RESERVED_MASK | SecinfoFlags.PENDING | SecinfoFlags.MODIFIED | SecinfoFlags.PR;
const RWX = SecinfoFlags.R | SecinfoFlags.W | SecinfoFlags.X;

/**
 * ENCLS[EADD]: copy a page into the EPC, bind it to an uninitialized enclave at LINADDR and measure its offset
 * and SECINFO (SDM Vol. 3D §41.2 EADD). RBX = PAGEINFO (LINADDR, SRCPGE, SECINFO, SECS), RCX = EPC page.
 * @returns done, or #GP(0) / #PF in the SDM's order (the leaf has no status codes).
 */
export function eadd(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const pageinfoPa = regAddr(regs.rbx, 'RBX');
  const dstPa = regAddr(regs.rcx, 'RCX');
  if (!addrOk(pageinfoPa, PAGEINFO.align) || !addrOk(dstPa, PAGE_SIZE)) return faulted(gp());
  const dst = epcIndex(m, dstPa, true);
  if (isFault(dst)) return faulted(dst);
  const pageinfo = readMem(m, pageinfoPa, PAGEINFO.size);
  if (isFault(pageinfo)) return faulted(pageinfo);
  const pi = decode(PAGEINFO, pageinfo);
  // "IF (SRCPGE not 4KByte aligned or SECS not 4KByte aligned or SECINFO not 64Byte aligned or LINADDR not
  // 4KByte aligned) THEN #GP(0)"
  const srcPa = pointer(pi.srcPge, PAGE_SIZE);
  if (isFault(srcPa)) return faulted(srcPa);
  const secsPa = pointer(pi.secs, PAGE_SIZE);
  if (isFault(secsPa)) return faulted(secsPa);
  const secinfoPa = pointer(pi.secinfo, SECINFO.align);
  if (isFault(secinfoPa)) return faulted(secinfoPa);
  const linAddr = pi.linAddr;
  if (linAddr % BigInt(PAGE_SIZE) !== 0n) return faulted(gp());
  // "IF (DS:TMP_SECS does not resolve within an EPC) THEN #PF(DS:TMP_SECS)"
  const secs = epcIndex(m, secsPa, false);
  if (isFault(secs)) return faulted(secs);
  const secinfo = readMem(m, secinfoPa, SECINFO.size);
  if (isFault(secinfo)) return faulted(secinfo);
  // "IF (SCRATCH_SECINFO reserved fields are not zero or !(PT is PT_REG or PT is PT_TCS)) THEN #GP(0)"
  let flags = getField(SECINFO, secinfo, 0, 'flags');
  const pt = secinfoPageType(flags);
  if (!reservedAreZero(SECINFO, secinfo) || flags & EADD_FLAGS_RESERVED) return faulted(gp());
  if (pt !== PageType.REG && pt !== PageType.TCS) return faulted(gp());
  // "IF (EPCM(DS:RCX).VALID ≠ 0) THEN #PF(DS:RCX)"
  if (m.epcm.isValid(dst)) return faulted(sgxPf(dstPa, true));
  // "IF (EPCM(DS:TMP_SECS).VALID = 0 or EPCM(DS:TMP_SECS).PT ≠ PT_SECS) THEN #PF(DS:TMP_SECS)"
  if (m.epcm.get(secs)?.pt !== PageType.SECS) return faulted(sgxPf(secsPa, false));
  // "DS:RCX[32767:0] ← DS:TMP_SRCPGE[32767:0]"
  const source = readMemView(m, srcPa, PAGE_SIZE);
  if (isFault(source)) return faulted(source);
  // A TCS gets fields forced below, so it works on a copy; other pages go straight from the source.
  const content = pt === PageType.TCS ? source.slice() : source;
  const secsPage = m.epcPage(secs);
  const attributes = getField(SECS, secsPage, 0, 'attributes');
  if (pt === PageType.TCS) {
    // "IF (DS:RCX.RESERVED ≠ 0) #GP(0)"; 32-bit enclaves need FSLIMIT/GSLIMIT with low 12 bits all ones.
    if (!reservedAreZero(TCS, content)) return faulted(gp());
    const limitOk = (v: number) => (v & 0xfff) === 0xfff;
    const t = decode(TCS, content);
    if ((attributes & AttrFlags.MODE64BIT) === 0n && (!limitOk(t.fsLimit) || !limitOk(t.gsLimit))) return faulted(gp());
  } else if (flags & SecinfoFlags.W && !(flags & SecinfoFlags.R)) {
    // "IF (SCRATCH_SECINFO.FLAGS.W = 1 and SCRATCH_SECINFO.FLAGS.R = 0) #GP(0)"
    return faulted(gp());
  }
  // "IF (TMP_LINADDR < BASEADDR or TMP_LINADDR ≥ BASEADDR + SIZE) THEN #GP(0)"
  const base = getField(SECS, secsPage, 0, 'baseAddr');
  const size = getField(SECS, secsPage, 0, 'size');
  if (linAddr < base || linAddr >= base + size) return faulted(gp());
  // "IF (DS:TMP_SECS already initialized) THEN #GP(0)"
  if (attributes & AttrFlags.INIT) return faulted(gp());

  if (pt === PageType.TCS) {
    // "For TCS pages, force EPCM.rwx bits to 0 and no debug access": the EPC copy gets DBGOPTIN = CSSA = AEP =
    // STATE = 0, and the measured SECINFO has R = W = X = 0.
    flags &= ~RWX;
    setField(TCS, content, 0, 'flags', getField(TCS, content, 0, 'flags') & ~TcsFlags.DBGOPTIN);
    setField(TCS, content, 0, 'cssa', 0);
    setField(TCS, content, 0, 'aep', 0n);
    setField(TCS, content, 0, 'state', 0n);
  }
  const eid = hiddenU64(secsPage, 'eid');
  const measurement = m.measurement(eid);
  if (!measurement) throw new Error(`EADD: uninitialized enclave EID ${eid} has no running measurement`);
  // "EADD" ‖ ENCLAVEOFFSET ‖ SCRATCH_SECINFO[375:0] (FLAGS and 40 reserved zero bytes).
  measurement.eadd(linAddr - base, flags);
  m.epcPage(dst).set(content);
  m.epcm.set(dst, {
    r: (flags & SecinfoFlags.R) !== 0n,
    w: (flags & SecinfoFlags.W) !== 0n,
    x: (flags & SecinfoFlags.X) !== 0n,
    pt,
    enclaveSecs: secs,
    enclaveAddress: linAddr,
  });
  adjustChildCount(secsPage, 1);
  return DONE;
}
