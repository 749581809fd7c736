/**
 * ENCLU[EREPORT] (EAX = 0): writes a REPORT of the running enclave, MACed with the REPORT key of the target
 * enclave named by TARGETINFO (SDM Vol. 3D §41.4 "EREPORT—Create a Cryptographic Report of the Enclave";
 * sgx-isa.md §6.1). RBX = TARGETINFO (512-aligned), RCX = REPORTDATA (128-aligned), RDX = OUTPUTDATA
 * (512-aligned), all in ELRANGE. No status code and no flags: it either faults or writes the 432-byte REPORT.
 */
import { gp } from '../../fault';
import { deriveKey, reportKeyDependencies } from '../keys';
import { decode, encode, REPORT, REPORTDATA_SIZE, TARGETINFO } from '../layout/index';
import { DONE, type EncluContext, type EncluOutcome, enclaveRegs, faulted, stepOver } from './context';
import { secsKeyView } from './egetkey';
import { canonicalLinear, enclaveOperand, inElrange } from './operands';

/** Bytes [0, 384) of a REPORT are MACed: everything before KEYID and MAC ("TMP_REPORT[3071:0]"). */
export const REPORT_MACED_SIZE = 384;

/** ENCLU[EREPORT], checks in the SDM pseudo-code order. */
export function ereport(ctx: EncluContext): EncluOutcome {
  const { m, cpu } = ctx;
  const mode = cpu.enclave!; // the dispatcher only calls this in enclave mode
  const regs = enclaveRegs(mode);
  // Each operand: alignment and ELRANGE #GP(0), then EPC/EPCM #PF (TARGETINFO and REPORTDATA read, OUTPUT written).
  const operand = (reg: number, align: number, write: boolean) => {
    const la = canonicalLinear(cpu.getReg64(reg));
    if (la === undefined || la % align !== 0 || !inElrange(mode.elrangeBase, mode.elrangeSize, la)) return gp();
    return enclaveOperand(m, cpu, la, regs.secsIndex, write);
  };
  const tiPa = operand(3, 512, false);
  if (typeof tiPa !== 'number') return faulted(tiPa);
  const rdPa = operand(1, 128, false);
  if (typeof rdPa !== 'number') return faulted(rdPa);
  const outPa = operand(2, 512, true);
  if (typeof outPa !== 'number') return faulted(outPa);

  const ti = decode(TARGETINFO, m.physMem.read(tiPa, TARGETINFO.size));
  const secs = secsKeyView(m, regs.secsIndex);
  // "TMP_REPORT.CPUSVN ← CR_CPUSVN; … KEYID ← CR_REPORT_KEYID"; reserved fields zero.
  const report = encode(REPORT, {
    cpuSvn: m.cpuSvn,
    miscSelect: secs.miscSelect,
    isvExtProdId: secs.isvExtProdId,
    attributes: secs.attributes,
    xfrm: secs.xfrm,
    mrEnclave: secs.mrEnclave,
    mrSigner: secs.mrSigner,
    configId: secs.configId,
    isvProdId: secs.isvProdId,
    isvSvn: secs.isvSvn,
    configSvn: secs.configSvn,
    isvFamilyId: secs.isvFamilyId,
    reportData: m.physMem.read(rdPa, REPORTDATA_SIZE),
    keyId: m.secrets.reportKeyId,
  });
  // The report key of the target: TARGETINFO's ATTRIBUTES, MEASUREMENT, MISCSELECT, CONFIGID/SVN, this KEYID.
  const key = deriveKey(
    m.crypto,
    m.secrets.rootProvisioningKey,
    reportKeyDependencies(
      {
        attributes: ti.attributes,
        xfrm: ti.xfrm,
        mrEnclave: ti.measurement,
        miscSelect: ti.miscSelect,
        configId: ti.configId,
        configSvn: ti.configSvn,
      },
      m.secrets.reportKeyId,
      m.keyPlatformInputs(),
    ),
  );
  report.set(m.crypto.aesCmac(key, report.subarray(0, REPORT_MACED_SIZE)), REPORT_MACED_SIZE + 32);
  // "DS:RDX[3455:0] ← TMP_REPORT": 432 bytes at a 512-aligned address stay in one page.
  m.physMem.write(outPa, report);
  cpu.cache.invalidatePage(Math.floor(outPa / 4096));
  stepOver(cpu);
  return DONE;
}
