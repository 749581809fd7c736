import type { SgxMachine } from '../sgx-machine';
import { loadPage } from './eldu';
import type { EnclsOutcome, EnclsRegs } from './outcome';

/**
 * ENCLS[ELDB]: load an evicted page back into the EPC and leave it BLOCKED (SDM Vol. 3D §41.2 ELDB/ELDU).
 * Operands and results as ELDU.
 */
export function eldb(m: SgxMachine, regs: EnclsRegs): EnclsOutcome {
  return loadPage(m, regs, true);
}
