import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { AttrFlags, PageType, SecinfoFlags, Xfrm } from '../arch';
import { secinfoPageType } from '../epcm';
import { decode, getField, PAGEINFO, reservedAreZero, SECINFO, SECS, setField } from '../layout/index';
import { Measurement } from '../measure';
import { setHiddenU64 } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { ssaFrameBytesNeeded, xfrmIsLegal } from '../xfrm';
import { addrOk, epcIndex, pointer, readMem, regAddr, sgxPf } from './operands';
import { DONE, type EnclsOutcome, type EnclsRegs, faulted } from './outcome';

const CANONICAL_LOW_END = 1n << 47n;
const CANONICAL_HIGH_START = (1n << 64n) - (1n << 47n);

function canonical(a: bigint): boolean {
  return a < CANONICAL_LOW_END || a >= CANONICAL_HIGH_START;
}

/**
 * ENCLS[ECREATE]: copy a SECS into an empty EPC page, validate it, start the measurement and assign an EID
 * (SDM Vol. 3D §41.2 ECREATE). RBX = PAGEINFO (SRCPGE = SECS image, SECINFO = PT_SECS), RCX = EPC page.
 * @returns done, or #GP(0) / #PF in the SDM's order (the leaf has no status codes).
 */
export function ecreate(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const pageinfoPa = regAddr(regs.rbx, 'RBX');
  const secsPa = regAddr(regs.rcx, 'RCX');
  // "IF (DS:RBX is not 32Byte Aligned) … IF (DS:RCX is not 4KByte Aligned) THEN #GP(0)"
  if (!addrOk(pageinfoPa, PAGEINFO.align) || !addrOk(secsPa, PAGE_SIZE)) return faulted(gp());
  // "IF (DS:RCX does not resolve within an EPC) THEN #PF(DS:RCX)"
  const index = epcIndex(m, secsPa, true);
  if (isFault(index)) return faulted(index);
  const pageinfo = readMem(m, pageinfoPa, PAGEINFO.size);
  if (isFault(pageinfo)) return faulted(pageinfo);
  const pi = decode(PAGEINFO, pageinfo);
  // "IF (DS:TMP_SRCPGE is not 4KByte aligned or DS:TMP_SECINFO is not 64Byte aligned) THEN #GP(0)"
  const srcPa = pointer(pi.srcPge, PAGE_SIZE);
  if (isFault(srcPa)) return faulted(srcPa);
  const secinfoPa = pointer(pi.secinfo, SECINFO.align);
  if (isFault(secinfoPa)) return faulted(secinfoPa);
  // "IF (DS:RBX.LINADDR != 0 or DS:RBX.SECS ≠ 0) THEN #GP(0)"
  if (pi.linAddr !== 0n || pi.secs !== 0n) return faulted(gp());
  const secinfo = readMem(m, secinfoPa, SECINFO.size);
  if (isFault(secinfo)) return faulted(secinfo);
  // "IF (DS:TMP_SECINFO reserved fields are not zero or DS:TMP_SECINFO.FLAGS.PT ≠ PT_SECS) THEN #GP(0)"
  const flags = getField(SECINFO, secinfo, 0, 'flags');
  if (!reservedAreZero(SECINFO, secinfo) || flags & SecinfoFlags.RESERVED_MASK) return faulted(gp());
  if (secinfoPageType(flags) !== PageType.SECS) return faulted(gp());
  // "IF (EPCM(DS:RCX).VALID = 1) THEN #PF(DS:RCX)". (The "EPC entry in use" #GP is a concurrency check that a
  // sequential model cannot trigger.)
  if (m.epcm.isValid(index)) return faulted(sgxPf(secsPa, true));
  // "DS:RCX[32767:0] ← DS:TMP_SRCPGE[32767:0]" — we validate the copy and store it only on success; an invalid
  // EPC page's bytes are unobservable.
  const image = readMem(m, srcPa, PAGE_SIZE);
  if (isFault(image)) return faulted(image);
  const s = decode(SECS, image);
  const f = m.features;
  // "IF ((DS:TMP_SECS.ATTRIBUTES.XFRM BitwiseAND 03H) ≠ 03H) THEN #GP(0)"; "IF (XFRM is illegal) THEN #GP(0)":
  // illegal for XSETBV, or not offered by CPUID.(12H,1):EDX:ECX.
  if ((s.xfrm & Xfrm.LEGACY) !== Xfrm.LEGACY) return faulted(gp());
  if (!xfrmIsLegal(s.xfrm) || (s.xfrm & ~f.allowedXfrm) !== 0n) return faulted(gp());
  // Unsupported MISCSELECT bits. The SDM prints "IF (!(CPUID.(EAX=12H, ECX=0):EBX[31:0] & MISCSELECT))", which
  // would refuse MISCSELECT = 0; the intent (and the Linux driver's sgx_misc_reserved_mask) is "any bit outside EBX".
  if ((s.miscSelect & ~f.miscSelect) >>> 0 !== 0) return faulted(gp());
  // "TMP_XSIZE ← compute_xsave_size(XFRM) + GPR_SIZE + TMP_MISC_SIZE; IF (SSAFRAMESIZE*4096 < TMP_XSIZE) #GP(0)"
  if (s.ssaFrameSize * PAGE_SIZE < ssaFrameBytesNeeded(s.xfrm, s.miscSelect)) return faulted(gp());
  // BASEADDR canonical in 64-bit mode, 32-bit otherwise; SIZE below 2^CPUID.(12H,0):EDX[15:8] (or [7:0]).
  const mode64 = (s.attributes & AttrFlags.MODE64BIT) !== 0n;
  if (mode64 && !canonical(s.baseAddr)) return faulted(gp());
  if (!mode64 && s.baseAddr >> 32n !== 0n) return faulted(gp());
  const maxLog2 = mode64 ? f.maxEnclaveSizeLog2In64 : f.maxEnclaveSizeLog2Not64;
  if (s.size >= 1n << BigInt(maxLog2)) return faulted(gp());
  // "IF (DS:TMP_SECS.SIZE < 8192 or popcnt(DS:TMP_SECS.SIZE) > 1) THEN #GP(0)"
  if (s.size < 8192n || (s.size & (s.size - 1n)) !== 0n) return faulted(gp());
  // "IF ((DS:TMP_SECS.BASEADDR and (DS:TMP_SECS.SIZE-1))) THEN #GP(0)"
  if ((s.baseAddr & (s.size - 1n)) !== 0n) return faulted(gp());
  // "IF (DS:TMP_SECS.ATTRIBUTES and (~CR_SGX_ATTRIBUTES_MASK)) THEN #GP(0)": this also refuses INIT, which no
  // part reports as settable, and the reserved bits.
  if ((s.attributes & ~f.allowedAttributes) !== 0n) return faulted(gp());
  // "IF (DS:TMP_SECS reserved fields are not zero) THEN #GP(0)"
  if (!reservedAreZero(SECS, image)) return faulted(gp());
  // "IF (((CONFIGID ≠ 0) or (CONFIGSVN ≠ 0)) AND (ATTRIBUTES.KSS == 0)) THEN #GP(0)"
  const kss = (s.attributes & AttrFlags.KSS) !== 0n;
  if ((s.configId.some((b) => b !== 0) || s.configSvn !== 0) && !kss) return faulted(gp());

  // Commit: the SECS page, its hidden state, the measurement ("ECREATE" record), the EID and the EPCM entry.
  const page = m.epcPage(index);
  page.set(image);
  setField(SECS, page, 0, 'mrEnclave', new Uint8Array(32));
  setField(SECS, page, 0, 'isvSvn', 0);
  setField(SECS, page, 0, 'isvProdId', 0);
  const eid = m.nextEid();
  setHiddenU64(page, 'eid', eid);
  const measurement = Measurement.start(m.crypto);
  measurement.ecreate(s.ssaFrameSize, s.size);
  m.setMeasurement(eid, measurement);
  m.epcm.set(index, { r: false, w: false, x: false, pt: PageType.SECS, enclaveSecs: -1, enclaveAddress: 0n });
  return DONE;
}
