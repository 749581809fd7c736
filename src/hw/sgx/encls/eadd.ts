import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { AttrFlags, PageType, SecinfoFlags, TcsFlags } from '../arch';
import {
  dataView,
  decode,
  getField,
  offsetOf,
  PAGEINFO,
  reservedAreZero,
  SECINFO,
  SECS,
  setField,
  TCS,
} from '../layout/index';
import { adjustChildCount } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { addrOk, epcIndex, operandPage, pageOffset, pointerAt, readMemView, regAddr, sgxPf } from './operands';
import { DONE, type EnclsOutcome, type EnclsRegs, faulted } from './outcome';

/**
 * SECINFO.FLAGS bits EADD refuses: the reserved bits, and PENDING/MODIFIED/PR, which only EACCEPT may name
 * (sgx-isa.md §2.4; the Linux driver's SGX_SECINFO_RESERVED_MASK covers the same bits 7:3 and 63:16).
 */
const EADD_FLAGS_RESERVED = SecinfoFlags.RESERVED_MASK | SecinfoFlags.PENDING | SecinfoFlags.MODIFIED | SecinfoFlags.PR;

// EADD reads SECINFO.FLAGS as two u32 halves and the operand and SECS fields at offsets taken from the layouts
// once: no copy, decode or BigInt per field on a leaf that runs once a page.
const lo32 = (x: bigint) => Number(x & 0xffff_ffffn);
const hi32 = (x: bigint) => Number(x >> 32n);
const RESERVED_LO = lo32(EADD_FLAGS_RESERVED);
const RESERVED_HI = hi32(EADD_FLAGS_RESERVED);
const R = lo32(SecinfoFlags.R);
const W = lo32(SecinfoFlags.W);
const X = lo32(SecinfoFlags.X);
/** SECINFO.FLAGS.PAGE_TYPE (bits 15:8), as secinfoPageType reads it. */
const PAGE_TYPE = lo32(SecinfoFlags.PAGE_TYPE_MASK);
const PAGE_TYPE_SHIFT = Number(SecinfoFlags.PAGE_TYPE_SHIFT);
const PI_LINADDR = offsetOf(PAGEINFO, 'linAddr');
const PI_SRCPGE = offsetOf(PAGEINFO, 'srcPge');
const PI_SECINFO = offsetOf(PAGEINFO, 'secinfo');
const PI_SECS = offsetOf(PAGEINFO, 'secs');
const SI_FLAGS = offsetOf(SECINFO, 'flags');
const SECS_ATTRIBUTES = offsetOf(SECS, 'attributes');
const SECS_BASEADDR = offsetOf(SECS, 'baseAddr');
const SECS_SIZE = offsetOf(SECS, 'size');
/** ATTRIBUTES.INIT and MODE64BIT, in the low half of the u64. */
const INIT = lo32(AttrFlags.INIT);
const MODE64BIT = lo32(AttrFlags.MODE64BIT);

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
  // PAGEINFO and SECINFO are read in place, from the page that holds each.
  const pageinfo = operandPage(m, pageinfoPa);
  if (isFault(pageinfo)) return faulted(pageinfo);
  const pi = dataView(pageinfo);
  const piAt = pageOffset(pageinfoPa);
  // "IF (SRCPGE not 4KByte aligned or SECS not 4KByte aligned or SECINFO not 64Byte aligned or LINADDR not
  // 4KByte aligned) THEN #GP(0)"
  const srcPa = pointerAt(pi, piAt + PI_SRCPGE, PAGE_SIZE);
  if (isFault(srcPa)) return faulted(srcPa);
  const secsPa = pointerAt(pi, piAt + PI_SECS, PAGE_SIZE);
  if (isFault(secsPa)) return faulted(secsPa);
  const secinfoPa = pointerAt(pi, piAt + PI_SECINFO, SECINFO.align);
  if (isFault(secinfoPa)) return faulted(secinfoPa);
  if (pi.getUint32(piAt + PI_LINADDR, true) % PAGE_SIZE !== 0) return faulted(gp());
  const linAddr = pi.getBigUint64(piAt + PI_LINADDR, true);
  // "IF (DS:TMP_SECS does not resolve within an EPC) THEN #PF(DS:TMP_SECS)"
  const secs = epcIndex(m, secsPa, false);
  if (isFault(secs)) return faulted(secs);
  const secinfo = operandPage(m, secinfoPa);
  if (isFault(secinfo)) return faulted(secinfo);
  const siAt = pageOffset(secinfoPa);
  // "IF (SCRATCH_SECINFO reserved fields are not zero or !(PT is PT_REG or PT is PT_TCS)) THEN #GP(0)"
  const si = dataView(secinfo);
  let flags = si.getUint32(siAt + SI_FLAGS, true);
  const flagsHi = si.getUint32(siAt + SI_FLAGS + 4, true);
  const pt = (flags & PAGE_TYPE) >>> PAGE_TYPE_SHIFT;
  if (!reservedAreZero(SECINFO, secinfo, siAt) || flags & RESERVED_LO || flagsHi & RESERVED_HI) return faulted(gp());
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
  const secsView = dataView(secsPage);
  const attributes = secsView.getUint32(SECS_ATTRIBUTES, true);
  if (pt === PageType.TCS) {
    // "IF (DS:RCX.RESERVED ≠ 0) #GP(0)"; 32-bit enclaves need FSLIMIT/GSLIMIT with low 12 bits all ones.
    if (!reservedAreZero(TCS, content)) return faulted(gp());
    const limitOk = (v: number) => (v & 0xfff) === 0xfff;
    const t = decode(TCS, content);
    if ((attributes & MODE64BIT) === 0 && (!limitOk(t.fsLimit) || !limitOk(t.gsLimit))) return faulted(gp());
  } else if (flags & W && !(flags & R)) {
    // "IF (SCRATCH_SECINFO.FLAGS.W = 1 and SCRATCH_SECINFO.FLAGS.R = 0) #GP(0)"
    return faulted(gp());
  }
  // "IF (TMP_LINADDR < BASEADDR or TMP_LINADDR ≥ BASEADDR + SIZE) THEN #GP(0)"
  const base = secsView.getBigUint64(SECS_BASEADDR, true);
  const size = secsView.getBigUint64(SECS_SIZE, true);
  if (linAddr < base || linAddr >= base + size) return faulted(gp());
  // "IF (DS:TMP_SECS already initialized) THEN #GP(0)"
  if (attributes & INIT) return faulted(gp());

  if (pt === PageType.TCS) {
    // "For TCS pages, force EPCM.rwx bits to 0 and no debug access": the EPC copy gets DBGOPTIN = CSSA = AEP =
    // STATE = 0, and the measured SECINFO has R = W = X = 0.
    flags = (flags & ~(R | W | X)) >>> 0;
    setField(TCS, content, 0, 'flags', getField(TCS, content, 0, 'flags') & ~TcsFlags.DBGOPTIN);
    setField(TCS, content, 0, 'cssa', 0);
    setField(TCS, content, 0, 'aep', 0n);
    setField(TCS, content, 0, 'state', 0n);
  }
  const measurement = m.measurementOf(secsPage);
  if (!measurement) throw new Error(`EADD: uninitialized enclave at EPC page ${secs} has no running measurement`);
  // "EADD" ‖ ENCLAVEOFFSET ‖ SCRATCH_SECINFO[375:0] (FLAGS and 40 reserved zero bytes). FLAGS[63:32] are reserved,
  // so zero here, and the offset is below SIZE.
  measurement.eadd(linAddr - base, flags);
  m.epcPage(dst).set(content);
  m.epcm.set(dst, {
    r: (flags & R) !== 0,
    w: (flags & W) !== 0,
    x: (flags & X) !== 0,
    pt,
    enclaveSecs: secs,
    enclaveAddress: linAddr,
  });
  adjustChildCount(secsPage, 1);
  return DONE;
}
