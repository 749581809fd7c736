/**
 * The enclave TLB-tracking model: which logical processors are inside an enclave, in which entry epoch they
 * entered, and whether an ETRACK cycle has completed (SDM Vol. 3D §39.5 "EPC and Management of EPC Pages", eviction steps;
 * §41.2 EBLOCK/ETRACK/EWB/EREMOVE; the epoch scheme as described by Costan & Devadas, "Intel SGX Explained"
 * §5.5.4). The SDM leaves the mechanism abstract ("Tracking not correct"); this is the model:
 *
 * - Each SECS holds an entry epoch E and two counters: logical processors (LPs) inside that entered in epoch E
 *   ("current") and those that entered in E-1 ("previous"). An LP records its entry epoch on EENTER/ERESUME and
 *   decrements the matching counter on EEXIT or AEX.
 * - EBLOCK stamps the page with E (EPCM blockEpoch).
 * - ETRACK fails with SGX_PREV_TRK_INCMPL while "previous" is non-zero (an older cycle is incomplete);
 *   otherwise "previous" takes "current", "current" becomes 0 and E advances.
 * - EWB of a page blocked in epoch B is tracked once an ETRACK has run since the block (B < E) and every LP that
 *   entered in B has left (when B = E-1, "previous" must be 0; when B < E-1 a later ETRACK already required it).
 *   Otherwise EWB returns SGX_NOT_TRACKED. An LP that enters after the ETRACK never delays the eviction.
 * - EREMOVE of a child page returns SGX_ENCLAVE_ACT while any LP is inside.
 *
 * ETRACK runs atomically here, so EBLOCK's SGX_ENTRYEPOCH_LOCKED ("an ETRACK is currently executing on the
 * SECS") cannot arise.
 */
import { PageType } from './arch';
import { hiddenU32, hiddenU64, setHiddenU32, setHiddenU64 } from './secs-hidden';
import type { SgxMachine } from './sgx-machine';

/** The current entry epoch of the enclave whose SECS is EPC page `secs`. */
export function entryEpoch(m: SgxMachine, secs: number): number {
  return Number(hiddenU64(m.epcPage(secs), 'entryEpoch'));
}

/** Logical processors inside the enclave (both counters). */
export function threadsInside(m: SgxMachine, secs: number): number {
  const page = m.epcPage(secs);
  return hiddenU32(page, 'activeCurrent') + hiddenU32(page, 'activePrevious');
}

function secsIndexOrThrow(m: SgxMachine, secsPa: number): number {
  const secs = m.epc.indexOf(secsPa);
  const e = secs === undefined ? undefined : m.epcm.get(secs);
  if (secs === undefined || e === undefined || e.pt !== PageType.SECS || secsPa % 4096 !== 0)
    throw new Error(`enclave entry/exit: 0x${secsPa.toString(16)} is not a valid SECS page`);
  return secs;
}

/**
 * Logical processor `cpuId` enters the enclave whose SECS is at `secsPa` (EENTER, ERESUME). The caller (ENCLU)
 * has done the architectural checks; a CPU already inside an enclave is a simulator bug and throws.
 */
export function enclaveEnter(m: SgxMachine, secsPa: number, cpuId: number): void {
  const secs = secsIndexOrThrow(m, secsPa);
  if (m.lp(cpuId)) throw new Error(`CPU ${cpuId} is already in enclave mode`);
  const page = m.epcPage(secs);
  setHiddenU32(page, 'activeCurrent', hiddenU32(page, 'activeCurrent') + 1);
  m.setLp(cpuId, { secs, epoch: entryEpoch(m, secs) });
}

/** Logical processor `cpuId` leaves the enclave (EEXIT, AEX). Throws if it was not inside that enclave. */
export function enclaveExit(m: SgxMachine, secsPa: number, cpuId: number): void {
  const secs = secsIndexOrThrow(m, secsPa);
  const lp = m.lp(cpuId);
  if (!lp || lp.secs !== secs) throw new Error(`CPU ${cpuId} is not inside the enclave at 0x${secsPa.toString(16)}`);
  const page = m.epcPage(secs);
  const counter = lp.epoch === entryEpoch(m, secs) ? 'activeCurrent' : 'activePrevious';
  setHiddenU32(page, counter, hiddenU32(page, counter) - 1);
  m.setLp(cpuId, undefined);
}

/** ETRACK's state change; false when the previous cycle is still incomplete (SGX_PREV_TRK_INCMPL). */
export function startTracking(m: SgxMachine, secs: number): boolean {
  const page = m.epcPage(secs);
  if (hiddenU32(page, 'activePrevious') !== 0) return false;
  setHiddenU32(page, 'activePrevious', hiddenU32(page, 'activeCurrent'));
  setHiddenU32(page, 'activeCurrent', 0);
  setHiddenU64(page, 'entryEpoch', hiddenU64(page, 'entryEpoch') + 1n);
  return true;
}

/** Whether every TLB translation of a page blocked in `blockEpoch` is provably gone (EWB's tracking check). */
export function isTracked(m: SgxMachine, secs: number, blockEpoch: number): boolean {
  const epoch = entryEpoch(m, secs);
  if (blockEpoch >= epoch) return false;
  if (blockEpoch === epoch - 1) return hiddenU32(m.epcPage(secs), 'activePrevious') === 0;
  return true;
}
