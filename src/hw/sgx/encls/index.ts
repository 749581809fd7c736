/**
 * ENCLS: the privileged SGX leaves, one function each, dispatched on EAX through a table (SDM Vol. 3D §41.2;
 * the shape of Linux arch/x86/kernel/cpu/sgx/encls.h).
 *
 * Calling convention for the kernel: `encls(m, leaf, { rbx, rcx, rdx })` with the SDM's operands. Kernel linear
 * addresses equal physical addresses in this model, so address operands are physical addresses (numbers) and
 * memory operands are read from PhysMem (operands.ts). The result is an EnclsOutcome: a modelled fault, the
 * completion of a fault-only leaf, or RAX/ZF/CF (and RBX for EDBGRD). Checks follow each leaf's SDM pseudo-code
 * order: alignment #GP → EPC residency #PF → EPCM state #PF → semantic #GP → RAX codes.
 *
 * Each leaf runs atomically: this is a sequential simulator. The SDM's concurrency outcomes — #GP(0) when
 * "another Intel SGX instruction is accessing the page/SECS/VA slot", SGX_EPC_PAGE_CONFLICT, and EBLOCK's
 * SGX_ENTRYEPOCH_LOCKED while an ETRACK executes — therefore cannot arise, and are not faked.
 *
 * The pre-checks of the ENCLS instruction itself (#UD at CPL > 0 or outside protected mode, #GP(0) with SGX
 * disabled or paging off) belong to the CPU that decodes 0F 01 CF; the kernel always calls at CPL 0.
 */
import { gp } from '../../fault';
import { EnclsLeaf, type EnclsLeafNumber } from '../arch';
import type { SgxMachine } from '../sgx-machine';
import { eadd } from './eadd';
import { eblock } from './eblock';
import { ecreate } from './ecreate';
import { edbgrd } from './edbgrd';
import { edbgwr } from './edbgwr';
import { eextend } from './eextend';
import { einit } from './einit';
import { eldb } from './eldb';
import { eldu } from './eldu';
import { epa } from './epa';
import { eremove } from './eremove';
import { etrack } from './etrack';
import { ewb } from './ewb';
import { type EnclsHandler, type EnclsOutcome, type EnclsRegs, faulted } from './outcome';

export { SGX_TCS_LIMIT } from './edbgrd';
export type { EnclsHandler, EnclsOutcome, EnclsRegs } from './outcome';
export { eadd, eblock, ecreate, edbgrd, edbgwr, eextend, einit, eldb, eldu, epa, eremove, etrack, ewb };

/** The SGX2 leaves: defined numbers whose handlers the SGX2 work registers. */
const SGX2_LEAVES: ReadonlySet<number> = new Set([EnclsLeaf.EAUG, EnclsLeaf.EMODPR, EnclsLeaf.EMODT]);

/** The ENCLS leaf table: leaf number → handler. */
export const ENCLS_LEAVES: Partial<Record<EnclsLeafNumber, EnclsHandler>> = {
  [EnclsLeaf.ECREATE]: ecreate,
  [EnclsLeaf.EADD]: eadd,
  [EnclsLeaf.EINIT]: einit,
  [EnclsLeaf.EREMOVE]: eremove,
  [EnclsLeaf.EDBGRD]: edbgrd,
  [EnclsLeaf.EDBGWR]: edbgwr,
  [EnclsLeaf.EEXTEND]: eextend,
  [EnclsLeaf.ELDB]: eldb,
  [EnclsLeaf.ELDU]: eldu,
  [EnclsLeaf.EBLOCK]: eblock,
  [EnclsLeaf.EPA]: epa,
  [EnclsLeaf.EWB]: ewb,
  [EnclsLeaf.ETRACK]: etrack,
};

/**
 * Executes ENCLS with EAX = `leaf`. Only EAX[31:0] selects the leaf; an undefined leaf, or an SGX2 leaf on a part
 * without SGX2, is #GP(0) (SDM Vol. 3D §41.2 "ENCLS").
 */
export function encls(m: SgxMachine, leaf: number, regs: EnclsRegs): EnclsOutcome {
  const eax = leaf >>> 0;
  const handler = ENCLS_LEAVES[eax as EnclsLeafNumber];
  if (handler) return handler(m, regs);
  if (SGX2_LEAVES.has(eax) && m.features.sgx2)
    throw new Error(`ENCLS leaf 0x${eax.toString(16)} (SGX2) is enumerated but not modelled yet`);
  return faulted(gp());
}
