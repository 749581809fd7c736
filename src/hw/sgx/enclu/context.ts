/**
 * What an ENCLU leaf works on and what it leaves behind. A leaf runs on one logical processor: its `Cpu`
 * (registers, MMU, enclave-mode block) and its id, over the package's `SgxMachine`.
 *
 * The SGX control registers of a logical processor in enclave mode (SDM Vol. 3D §41.1.4 Table 41-4 "List of
 * Internal CREG": CR_ENCLAVE_MODE, CR_ACTIVE_SECS, CR_ELRANGE, CR_TCS_LA, CR_TCS_PA, CR_SAVE_FS/GS, CR_DBGOPTIN,
 * CR_SAVE_TF, CR_GPR_PA, CR_XSAVE_PAGE_n) live in the CPU's `EnclaveMode` block: the architectural ones in its
 * fields (`secs`, `tcs`, `cssa`, `elrangeBase`, `elrangeSize`, `optIn`), the rest in `data` as `EnclaveRegs`,
 * plain JSON so that `saveCpu()` carries them.
 */
import type { Cpu, EnclaveMode } from '../../cpu/index';
import type { CpuFault } from '../../fault';
import type { SgxMachine } from '../sgx-machine';

/** The logical processor an ENCLU leaf (or an AEX) runs on. */
export interface EncluContext {
  readonly m: SgxMachine;
  readonly cpu: Cpu;
  /** The logical processor's number: what the tracking of threads inside enclaves (tracking.ts) keys on. */
  readonly cpuId: number;
}

/** The CREGs of an LP in enclave mode beyond EnclaveMode's own fields. */
export interface EnclaveRegs {
  /** EPC page index of CR_ACTIVE_SECS (EnclaveMode.secs is its physical address). */
  readonly secsIndex: number;
  /** CR_TCS_PA: physical address of the TCS in use. */
  readonly tcsPa: number;
  /** CR_SAVE_FS.base, CR_SAVE_GS.base: the untrusted bases EEXIT and AEX restore (signed linear addresses). */
  readonly savedFsBase: number;
  readonly savedGsBase: number;
  /** CR_SAVE_TF: RFLAGS.TF at an opt-out entry, restored by EEXIT and AEX. */
  readonly savedTf: boolean;
  /** CR_GPR_PA: physical address of GPRSGX in the current SSA frame (frame CSSA), cached at entry. */
  readonly gprPa: number;
  /** CR_XSAVE_PAGE_n: physical addresses of the pages holding the current frame's XSAVE area, in order. */
  readonly xsavePages: readonly number[];
}

/** The SGX registers of a CPU in enclave mode. */
export function enclaveRegs(mode: EnclaveMode): EnclaveRegs {
  // EnclaveMode.data is written only by EENTER/ERESUME/EDECCSSA (and restoreCpu from their saved value).
  return mode.data as EnclaveRegs;
}

/**
 * What an ENCLU leaf leaves behind.
 * - `done`: the leaf completed and set RIP itself (EENTER/ERESUME/EEXIT jump; the others step over ENCLU).
 *   `pendingDb` asks for the single-step #DB the SDM pends "at the end of" EENTER or EEXIT when TF = 1.
 * - `fault`: the leaf faulted before changing anything; RIP is still at ENCLU.
 */
export type EncluOutcome =
  | { readonly kind: 'done'; readonly pendingDb?: boolean }
  | { readonly kind: 'fault'; readonly fault: CpuFault };

export type EncluHandler = (ctx: EncluContext) => EncluOutcome;

export const DONE: EncluOutcome = Object.freeze({ kind: 'done' });

export function faulted(fault: CpuFault): EncluOutcome {
  return { kind: 'fault', fault };
}

/** Steps RIP over the ENCLU instruction (run() left the address after it, prefixes included, in nextRip). */
export function stepOver(cpu: Cpu): void {
  cpu.rip = cpu.nextRip;
}
