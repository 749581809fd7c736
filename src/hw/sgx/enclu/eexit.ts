/**
 * ENCLU[EEXIT] (EAX = 4): leaves the enclave synchronously (SDM Vol. 3D §41.4 "EEXIT—Exits an Enclave";
 * sgx-isa.md §5.2). RBX = the target outside. Out: RIP = RBX, RCX = TCS.AEP, FS/GS as saved at entry; every other
 * register, RSP and RBP included, is what the enclave left there.
 */
import { TF } from '../../cpu/index';
import { gp } from '../../fault';
import { flushEnclaveExit } from '../enclave-access';
import { getField, setField, TCS } from '../layout/index';
import { enclaveExit } from '../tracking';
import { DONE, type EncluContext, type EncluOutcome, enclaveRegs, faulted } from './context';
import { canonicalLinear } from './operands';

/** ENCLU[EEXIT]. The dispatcher has checked that the CPU is in enclave mode. */
export function eexit(ctx: EncluContext): EncluOutcome {
  const { m, cpu } = ctx;
  // The dispatcher only calls this in enclave mode.
  const mode = cpu.enclave!;
  // "IF (RBX is not canonical) THEN #GP(0)"
  const target = canonicalLinear(cpu.getReg64(3));
  if (target === undefined) return faulted(gp());
  const regs = enclaveRegs(mode);
  const tcsPage = m.physMem.page(regs.tcsPa / 4096);
  // "RIP ← RBX; RCX ← CR_TCS_PA.AEP"; the FS/GS swap back.
  cpu.rip = target;
  cpu.setReg64(1, getField(TCS, tcsPage, 0, 'aep'));
  cpu.fsBase = regs.savedFsBase;
  cpu.gsBase = regs.savedGsBase;
  // Opt-out: "RFLAGS.TF ← CR_SAVE_TF"; then "IF RFLAGS.TF = 1 THEN Pend Single-Step #DB at the end of EEXIT".
  let flags = cpu.getFlags();
  if (!mode.optIn) {
    flags = regs.savedTf ? flags | TF : flags & ~TF;
    cpu.setFlags(flags);
  }
  // "CR_ENCLAVE_MODE ← 0; CR_TCS_PA.STATE ← INACTIVE; Flush_linear_context"
  setField(TCS, tcsPage, 0, 'state', 0n);
  cpu.setMode(3, null);
  flushEnclaveExit(cpu, mode.elrangeBase, mode.elrangeSize);
  enclaveExit(m, mode.secs, ctx.cpuId);
  return flags & TF ? { kind: 'done', pendingDb: true } : DONE;
}
