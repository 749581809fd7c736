/**
 * ENCLU[EGETKEY] (EAX = 1): derives a 128-bit key for the running enclave (SDM Vol. 3D §41.4 "EGETKEY—Retrieves a
 * Cryptographic Key"; sgx-isa.md §6.1). RBX = KEYREQUEST (512-aligned, in ELRANGE), RCX = OUTPUTDATA (16-aligned,
 * in ELRANGE). The dependency set per key name is keys.ts's `egetkeyDependencies`; this file does the checks.
 *
 * Returns in RAX: SGX_SUCCESS, or SGX_INVALID_ATTRIBUTE (EINITTOKEN without ATTRIBUTES.EINITTOKENKEY, PROVISION or
 * PROVISION_SEAL without ATTRIBUTES.PROVISIONKEY), SGX_INVALID_CPUSVN (KEYREQUEST.CPUSVN beyond CR_CPUSVN),
 * SGX_INVALID_ISVSVN (ISVSVN or, for SEAL, CONFIGSVN beyond the SECS), SGX_INVALID_KEYNAME. ZF = 1 on error and
 * OUTPUTDATA is then not written ("GOTO EXIT" skips the store); CF, PF, AF, OF, SF are always cleared.
 */
import { AF, CF, OF, PF, SF, ZF } from '../../cpu/index';
import { gp } from '../../fault';
import { AttrFlags, KeyName } from '../arch';
import { SgxStatus, type SgxStatusCode } from '../errors';
import { cpuSvnGreater, deriveKey, egetkeyDependencies, type SecsKeyView } from '../keys';
import { decode, KEYREQUEST, reservedAreZero, SECS } from '../layout/index';
import { hiddenBytes } from '../secs-hidden';
import type { SgxMachine } from '../sgx-machine';
import { type EncluContext, type EncluOutcome, enclaveRegs, faulted, stepOver } from './context';
import { canonicalLinear, enclaveOperand, inElrange } from './operands';

/** KEYPOLICY bits 15:6 are reserved (SDM Vol. 3D Table 38-24). */
const KEYPOLICY_RESERVED = 0xffc0;
/** KEYPOLICY bits that need ATTRIBUTES.KSS: NOISVPRODID, CONFIGID, ISVFAMILYID, ISVEXTPRODID ("& 0x003C"). */
const KEYPOLICY_KSS = 0x003c;

/** The SECS as the key derivation sees it, hidden fields included. */
export function secsKeyView(m: SgxMachine, secsIndex: number): SecsKeyView {
  const page = m.epcPage(secsIndex);
  const s = decode(SECS, page);
  return {
    attributes: s.attributes,
    xfrm: s.xfrm,
    miscSelect: s.miscSelect,
    mrEnclave: s.mrEnclave,
    mrSigner: s.mrSigner,
    isvProdId: s.isvProdId,
    isvSvn: s.isvSvn,
    configId: s.configId,
    configSvn: s.configSvn,
    isvFamilyId: hiddenBytes(page, 'isvFamilyId'),
    isvExtProdId: hiddenBytes(page, 'isvExtProdId'),
    padding: hiddenBytes(page, 'padding'),
  };
}

/** RFLAGS after EGETKEY: ZF per the result, CF, PF, AF, OF, SF cleared. */
function finish(ctx: EncluContext, status: SgxStatusCode): EncluOutcome {
  const { cpu } = ctx;
  cpu.setReg64(0, BigInt(status));
  const f = cpu.getFlags() & ~(CF | PF | AF | OF | SF | ZF);
  cpu.setFlags(status === SgxStatus.SUCCESS ? f : f | ZF);
  stepOver(cpu);
  return { kind: 'done' };
}

/** ENCLU[EGETKEY], checks in the SDM pseudo-code order. */
export function egetkey(ctx: EncluContext): EncluOutcome {
  const { m, cpu } = ctx;
  const mode = cpu.enclave!; // the dispatcher only calls this in enclave mode
  const regs = enclaveRegs(mode);
  const inside = (a: number) => inElrange(mode.elrangeBase, mode.elrangeSize, a);
  // "IF ((DS:RBX is not 512Byte aligned) or (DS:RBX is [not] within CR_ELRANGE)) THEN #GP(0)" (sgx-isa.md §11.6:
  // the SDM's "is within" is a typo).
  const reqLa = canonicalLinear(cpu.getReg64(3));
  if (reqLa === undefined || reqLa % 512 !== 0 || !inside(reqLa)) return faulted(gp());
  // EPC, VALID, BLOCKED, then PT_REG / this enclave / PENDING / MODIFIED / address / R → #PF(RBX).
  const reqPa = enclaveOperand(m, cpu, reqLa, regs.secsIndex, false);
  if (typeof reqPa !== 'number') return faulted(reqPa);
  // "IF ((DS:RCX is not 16Byte aligned) or (DS:RCX is not within CR_ELRANGE)) THEN #GP(0)"
  const outLa = canonicalLinear(cpu.getReg64(1));
  if (outLa === undefined || outLa % 16 !== 0 || !inside(outLa)) return faulted(gp());
  const outPa = enclaveOperand(m, cpu, outLa, regs.secsIndex, true);
  if (typeof outPa !== 'number') return faulted(outPa);

  const reqBytes = m.physMem.read(reqPa, KEYREQUEST.size);
  const req = decode(KEYREQUEST, reqBytes);
  // "IF ((DS:RBX).RESERVED ≠ 0) or (DS:RBX.KEYPOLICY.RESERVED ≠ 0)) THEN #GP(0)"
  if (!reservedAreZero(KEYREQUEST, reqBytes) || req.keyPolicy & KEYPOLICY_RESERVED) return faulted(gp());
  const secs = secsKeyView(m, regs.secsIndex);
  // "IF ((TMP_CURRENTSECS.ATTRIBUTES.KSS == 0) AND ((DS:RBX.KEYPOLICY & 0x003C ≠ 0) OR (DS:RBX.CONFIGSVN > 0)))"
  if (!(secs.attributes & AttrFlags.KSS) && (req.keyPolicy & KEYPOLICY_KSS || req.configSvn > 0)) return faulted(gp());

  const cpuSvnBeyond = cpuSvnGreater(req.cpuSvn, m.cpuSvn);
  switch (req.keyName) {
    case KeyName.SEAL:
      if (cpuSvnBeyond) return finish(ctx, SgxStatus.INVALID_CPUSVN);
      if (req.isvSvn > secs.isvSvn) return finish(ctx, SgxStatus.INVALID_ISVSVN);
      // "IF (DS:RBX.CONFIGSVN > TMP_CURRENTSECS.CONFIGSVN) THEN ... RAX ← SGX_INVALID_ISVSVN"
      if (req.configSvn > secs.configSvn) return finish(ctx, SgxStatus.INVALID_ISVSVN);
      break;
    case KeyName.REPORT:
      break;
    case KeyName.EINITTOKEN:
      // "IF (TMP_CURRENTSECS.ATTRIBUTES.LAUNCHKEY = 0)": the EINITTOKENKEY attribute.
      if (!(secs.attributes & AttrFlags.EINITTOKENKEY)) return finish(ctx, SgxStatus.INVALID_ATTRIBUTE);
      if (cpuSvnBeyond) return finish(ctx, SgxStatus.INVALID_CPUSVN);
      if (req.isvSvn > secs.isvSvn) return finish(ctx, SgxStatus.INVALID_ISVSVN);
      break;
    case KeyName.PROVISION:
    case KeyName.PROVISION_SEAL:
      if (!(secs.attributes & AttrFlags.PROVISIONKEY)) return finish(ctx, SgxStatus.INVALID_ATTRIBUTE);
      if (cpuSvnBeyond) return finish(ctx, SgxStatus.INVALID_CPUSVN);
      if (req.isvSvn > secs.isvSvn) return finish(ctx, SgxStatus.INVALID_ISVSVN);
      break;
    default:
      return finish(ctx, SgxStatus.INVALID_KEYNAME);
  }
  const key = deriveKey(m.crypto, m.secrets.rootProvisioningKey, egetkeyDependencies(secs, req, m.keyPlatformInputs()));
  // "DS:RCX[15:0] ← TMP_OUTPUTKEY": 16 bytes at a 16-aligned address stay in one page.
  m.physMem.write(outPa, key);
  cpu.cache.invalidatePage(Math.floor(outPa / 4096));
  return finish(ctx, SgxStatus.SUCCESS);
}
