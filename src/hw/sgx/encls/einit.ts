import { bigIntToBe, bytesEqual, leToBigInt, modPow } from '../../crypto/index';
import { gp, isFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { AttrFlags, PageType, SIGSTRUCT_HEADER, SIGSTRUCT_HEADER2, SIGSTRUCT_VENDOR_INTEL } from '../arch';
import { SgxStatus } from '../errors';
import { cpuSvnGreater, deriveKey, einitTokenKeyDependencies } from '../keys';
import { decode, EINITTOKEN, getField, reservedAreZero, SECS, SIGSTRUCT, setField } from '../layout/index';
import { hiddenU64, setHiddenBytes } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { SGX_MODULUS_SIZE, verifySigstructSignature } from '../sigstruct';
import { addrOk, epcIndex, readMem, regAddr, sgxPf } from './operands';
import { type EnclsOutcome, type EnclsRegs, failure, faulted, success } from './outcome';

/** "CONTROLLED_ATTRIBUTES ← 0000000000000020H": EINITTOKENKEY needs the launch-enclave signer. */
const CONTROLLED_ATTRIBUTES = AttrFlags.EINITTOKENKEY;
/** The token bytes the MAC covers: "Only 192 bytes of EINITTOKEN are CMACed". */
const TOKEN_MACED_BYTES = 192;
/** SIGSTRUCT TYPE (bytes 12..15) of the SDK's debug-signed enclaves. */
const DEBUG_TYPE = Uint8Array.of(0, 0, 0, 0x80);

function headerOk(m: SgxMachine, header: Uint8Array): boolean {
  if (bytesEqual(header, SIGSTRUCT_HEADER)) return true;
  // sgx-isa.md §11 item 1: optionally accept TYPE = 0x80000000 in bytes 12..15.
  return (
    m.features.acceptDebugSigstructType &&
    bytesEqual(header.subarray(0, 12), SIGSTRUCT_HEADER.subarray(0, 12)) &&
    bytesEqual(header.subarray(12, 16), DEBUG_TYPE)
  );
}

/**
 * ENCLS[EINIT]: verify the SIGSTRUCT (and, without launch-control approval, the EINITTOKEN), check the final
 * MRENCLAVE and the attribute masks, and mark the enclave initialized (SDM Vol. 3D §41.2 EINIT; order as in
 * sgx-isa.md §5a). RBX = SIGSTRUCT, RCX = SECS, RDX = EINITTOKEN.
 * @returns SGX_SUCCESS, or ZF = 1 with SGX_INVALID_SIG_STRUCT, SGX_UNMASKED_EVENT, SGX_INVALID_SIGNATURE,
 *   SGX_INVALID_MEASUREMENT, SGX_INVALID_ATTRIBUTE, SGX_INVALID_EINITTOKEN or SGX_INVALID_CPUSVN; or #GP(0) / #PF.
 */
export function einit(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  const sigPa = regAddr(regs.rbx, 'RBX');
  const secsPa = regAddr(regs.rcx, 'RCX');
  const tokenPa = regAddr(regs.rdx, 'RDX');
  // "IF ((DS:RBX is not 4KByte Aligned) or (DS:RCX is not 4KByte Aligned)) #GP(0)"; RDX 512-byte aligned.
  if (!addrOk(sigPa, SIGSTRUCT.align) || !addrOk(secsPa, PAGE_SIZE)) return faulted(gp());
  if (!addrOk(tokenPa, EINITTOKEN.align)) return faulted(gp());
  // "IF (DS:RCX does not resolve within an EPC) THEN #PF(DS:RCX)"
  const secs = epcIndex(m, secsPa, true);
  if (isFault(secs)) return faulted(secs);
  const sig = readMem(m, sigPa, SIGSTRUCT.size);
  if (isFault(sig)) return faulted(sig);
  const tokenBytes = readMem(m, tokenPa, EINITTOKEN.size);
  if (isFault(tokenBytes)) return faulted(tokenBytes);
  const s = decode(SIGSTRUCT, sig);
  // Header, vendor, header2, exponent and reserved bytes → SGX_INVALID_SIG_STRUCT.
  if (
    !headerOk(m, s.header) ||
    (s.vendor !== 0 && s.vendor !== SIGSTRUCT_VENDOR_INTEL) ||
    !bytesEqual(s.header2, SIGSTRUCT_HEADER2) ||
    s.exponent !== 3 ||
    !reservedAreZero(SIGSTRUCT, sig)
  )
    return failure(SgxStatus.INVALID_SIG_STRUCT);
  // The event window: "IF (interrupt was pending) … RAX ← SGX_UNMASKED_EVENT"
  if (m.pendingUnmaskedEvent()) return failure(SgxStatus.UNMASKED_EVENT);
  // Signature with the enclosed key, Q1 and Q2 (a wrong Q1/Q2 fails the division-free check on hardware).
  if (!verifySigstructSignature(m.crypto, sig).ok) return failure(SgxStatus.INVALID_SIGNATURE);
  // "IF ((EPCM(DS:RCX).VALID = 0) or (EPCM(DS:RCX).PT ≠ PT_SECS)) THEN #PF(DS:RCX)"
  if (m.epcm.get(secs)?.pt !== PageType.SECS) return faulted(sgxPf(secsPa, true));
  const secsPage = m.epcPage(secs);
  const attributes = getField(SECS, secsPage, 0, 'attributes');
  const xfrm = getField(SECS, secsPage, 0, 'xfrm');
  // "IF ((TMP_SIG.ISVFAMILYID != 0) AND (DS:RCX.ATTRIBUTES.KSS == 0)) … SGX_INVALID_SIG_STRUCT"
  if (s.isvFamilyId.some((b) => b !== 0) && (attributes & AttrFlags.KSS) === 0n)
    return failure(SgxStatus.INVALID_SIG_STRUCT);
  // "If the enclave is already initialized" → #GP(0).
  if (attributes & AttrFlags.INIT) return faulted(gp());
  const eid = hiddenU64(secsPage, 'eid');
  const measurement = m.measurement(eid);
  if (!measurement) throw new Error(`EINIT: uninitialized enclave EID ${eid} has no running measurement`);
  // "TMP_MRENCLAVE ← SHA256FINAL(…)"; "IF (TMP_SIG.ENCLAVEHASH ≠ TMP_MRENCLAVE) … SGX_INVALID_MEASUREMENT"
  const mrEnclave = measurement.finalize();
  if (!bytesEqual(s.enclaveHash, mrEnclave)) return failure(SgxStatus.INVALID_MEASUREMENT);
  // "TMP_MRSIGNER ← SHA256(TMP_SIG.MODULUS)"
  const mrSigner = m.crypto.sha256(s.modulus);
  const leHash = m.lePubKeyHash();
  // "IF (((DS:RCX.ATTRIBUTES & CONTROLLED_ATTRIBUTES) ≠ 0) and (TMP_MRSIGNER ≠ IA32_SGXLEPUBKEYHASH)) …
  // SGX_INVALID_ATTRIBUTE"
  if (attributes & CONTROLLED_ATTRIBUTES && !bytesEqual(mrSigner, leHash)) return failure(SgxStatus.INVALID_ATTRIBUTE);
  // "IF ((DS:RCX.ATTRIBUTES & TMP_SIG.ATTRIBUTEMASK) ≠ (TMP_SIG.ATTRIBUTE & TMP_SIG.ATTRIBUTEMASK)) …" (both halves)
  if ((attributes & s.attributeMask) !== (s.attributes & s.attributeMask)) return failure(SgxStatus.INVALID_ATTRIBUTE);
  if ((xfrm & s.xfrmMask) !== (s.xfrm & s.xfrmMask)) return failure(SgxStatus.INVALID_ATTRIBUTE);
  // "IF ((DS:RCX.MISCSELECT & TMP_SIG.MISCMASK) ≠ (TMP_SIG.MISCSELECT & TMP_SIG.MISCMASK)) …"
  const miscSelect = getField(SECS, secsPage, 0, 'miscSelect');
  if ((miscSelect & s.miscMask) >>> 0 !== (s.miscSelect & s.miscMask) >>> 0)
    return failure(SgxStatus.INVALID_ATTRIBUTE);

  const token = decode(EINITTOKEN, tokenBytes);
  if ((token.valid & 1) === 0) {
    // "IF (TMP_TOKEN.VALID[0] = 0) IF (TMP_MRSIGNER ≠ IA32_SGXLEPUBKEYHASH) … SGX_INVALID_EINITTOKEN; GOTO COMMIT"
    if (!bytesEqual(mrSigner, leHash)) return failure(SgxStatus.INVALID_EINITTOKEN);
  } else {
    // "Debug Launch Enclave cannot launch Production Enclaves"
    if (token.maskedAttributesLe & AttrFlags.DEBUG && (attributes & AttrFlags.DEBUG) === 0n)
      return failure(SgxStatus.INVALID_EINITTOKEN);
    // "Check reserve space in EINIT token includes reserved regions and upper bits in valid field"
    if (!reservedAreZero(EINITTOKEN, tokenBytes) || token.valid >>> 1 !== 0)
      return failure(SgxStatus.INVALID_EINITTOKEN);
    // "EINIT token must be ≤ CR_CPUSVN"
    if (cpuSvnGreater(token.cpuSvnLe, m.cpuSvn)) return failure(SgxStatus.INVALID_CPUSVN);
    // "Verify EINITTOKEN was generated using this CPU's Launch key and that it has not been modified"
    const key = deriveKey(
      m.crypto,
      m.secrets.rootProvisioningKey,
      einitTokenKeyDependencies(token, leHash, m.keyPlatformInputs()),
    );
    if (!bytesEqual(m.crypto.aesCmac(key, tokenBytes.subarray(0, TOKEN_MACED_BYTES)), token.mac))
      return failure(SgxStatus.INVALID_EINITTOKEN);
    // "Verify EINITTOKEN (RDX) is for this enclave"
    if (!bytesEqual(token.mrEnclave, mrEnclave) || !bytesEqual(token.mrSigner, mrSigner))
      return failure(SgxStatus.INVALID_MEASUREMENT);
    // "IF (TMP_TOKEN.ATTRIBUTES ≠ DS:RCX.ATTRIBUTES) … SGX_INVALID_EINIT_ATTRIBUTE": that name has no code in
    // the SDM's table; sgx-isa.md §5a step 13 maps it to SGX_INVALID_EINITTOKEN.
    if (token.attributes !== attributes || token.xfrm !== xfrm) return failure(SgxStatus.INVALID_EINITTOKEN);
  }

  // COMMIT: MRENCLAVE, MRSIGNER, ISVEXTPRODID, ISVPRODID, ISVSVN, ISVFAMILYID, PADDING; then initialized.
  setField(SECS, secsPage, 0, 'mrEnclave', mrEnclave);
  setField(SECS, secsPage, 0, 'mrSigner', mrSigner);
  setField(SECS, secsPage, 0, 'isvProdId', s.isvProdId);
  setField(SECS, secsPage, 0, 'isvSvn', s.isvSvn);
  setHiddenBytes(secsPage, 'isvExtProdId', s.isvExtProdId);
  setHiddenBytes(secsPage, 'isvFamilyId', s.isvFamilyId);
  // TMP_SIG_PADDING: "the top 352 bytes from the computation of Signature^3 modulo" the modulus.
  const em = modPow(leToBigInt(s.signature), 3n, leToBigInt(s.modulus));
  setHiddenBytes(secsPage, 'padding', bigIntToBe(em, SGX_MODULUS_SIZE).subarray(0, 352));
  setField(SECS, secsPage, 0, 'attributes', attributes | AttrFlags.INIT);
  m.dropMeasurement(eid);
  return success();
}
