/**
 * The hidden part of a SECS: state the processor keeps in the reserved bytes of the SECS page, which software can
 * never read (the SECS is not mappable and EDBGRD refuses it). SDM Vol. 3D §38.7 notes that the SECS holds
 * "microarchitectural state" beyond the architectural fields; the SDM pseudo-code names it: EID, CHILDCNT, the
 * entry-epoch tracking counters, PADDING (EINIT), ISVFAMILYID and ISVEXTPRODID (KSS).
 *
 * Keeping it in the page itself, as hardware does, means EWB encrypts it with the SECS, ELDU brings it back,
 * and saving physical memory saves it. The layout below is this model's choice (the real one is not public).
 * One piece is held outside the page: the running SHA-256 of an enclave that EINIT has not finalized yet,
 * because a CryptoBackend hash state is opaque; SgxMachine keeps it keyed by EID.
 */
import { dataView, defineLayout, getField, offsetOf, setField, setU64 } from './layout/index';

/** Where the hidden block starts inside the SECS page: well inside the 3834 reserved bytes that begin at 262. */
export const SECS_HIDDEN_OFFSET = 3072;

export const SECS_HIDDEN = defineLayout('SECS hidden state (sgxsim)', 512, 8, [
  { name: 'eid', offset: 0, size: 8, type: 'u64', doc: 'enclave ID, from CR_NEXT_EID at ECREATE' },
  { name: 'childCnt', offset: 8, size: 8, type: 'u64', doc: 'CHILDCNT: valid EPC pages bound to this SECS' },
  { name: 'entryEpoch', offset: 16, size: 8, type: 'u64', doc: 'current entry epoch; ETRACK advances it' },
  { name: 'activeCurrent', offset: 24, size: 4, type: 'u32', doc: 'logical processors inside, entered this epoch' },
  { name: 'activePrevious', offset: 28, size: 4, type: 'u32', doc: 'inside, entered in the previous epoch' },
  { name: 'reserved1', offset: 32, size: 32, type: 'reserved' },
  { name: 'isvFamilyId', offset: 64, size: 16, type: 'bytes', doc: 'KSS, from SIGSTRUCT at EINIT' },
  { name: 'isvExtProdId', offset: 80, size: 16, type: 'bytes', doc: 'KSS, from SIGSTRUCT at EINIT' },
  { name: 'padding', offset: 96, size: 352, type: 'bytes', doc: 'PADDING: top 352 bytes of SIG^3 mod N (EINIT)' },
  { name: 'reserved2', offset: 448, size: 64, type: 'reserved' },
] as const);

/** Where the EID sits in the SECS page, for readers that take it as two u32s (SgxMachine.measurementOf). */
export const SECS_EID_OFFSET = SECS_HIDDEN_OFFSET + offsetOf(SECS_HIDDEN, 'eid');

type HiddenU64 = 'eid' | 'childCnt' | 'entryEpoch';
type HiddenU32 = 'activeCurrent' | 'activePrevious';
type HiddenBytes = 'isvFamilyId' | 'isvExtProdId' | 'padding';

/** Reads a 64-bit hidden field of the SECS page `page`. */
export function hiddenU64(page: Uint8Array, name: HiddenU64): bigint {
  return getField(SECS_HIDDEN, page, SECS_HIDDEN_OFFSET, name);
}

export function setHiddenU64(page: Uint8Array, name: HiddenU64, v: bigint): void {
  setField(SECS_HIDDEN, page, SECS_HIDDEN_OFFSET, name, v);
}

export function hiddenU32(page: Uint8Array, name: HiddenU32): number {
  return getField(SECS_HIDDEN, page, SECS_HIDDEN_OFFSET, name);
}

export function setHiddenU32(page: Uint8Array, name: HiddenU32, v: number): void {
  setField(SECS_HIDDEN, page, SECS_HIDDEN_OFFSET, name, v);
}

export function hiddenBytes(page: Uint8Array, name: HiddenBytes): Uint8Array {
  return getField(SECS_HIDDEN, page, SECS_HIDDEN_OFFSET, name);
}

export function setHiddenBytes(page: Uint8Array, name: HiddenBytes, v: Uint8Array): void {
  setField(SECS_HIDDEN, page, SECS_HIDDEN_OFFSET, name, v);
}

const CHILDCNT_OFFSET = SECS_HIDDEN_OFFSET + offsetOf(SECS_HIDDEN, 'childCnt');

/** CHILDCNT += delta (EADD, ELDB/ELDU: +1; EREMOVE, EWB of a child: -1), mod 2^64. */
export function adjustChildCount(page: Uint8Array, delta: 1 | -1): void {
  // As two u32 halves while the count stays a small non-negative number (always, unless a caller bug drives it
  // below zero): EADD does this once a page.
  const dv = dataView(page);
  const lo = dv.getUint32(CHILDCNT_OFFSET, true);
  const hi = dv.getUint32(CHILDCNT_OFFSET + 4, true);
  const next = hi * 2 ** 32 + lo + delta;
  if (hi < 2 ** 20 && next >= 0) {
    setU64(dv, CHILDCNT_OFFSET, next);
  } else {
    setHiddenU64(page, 'childCnt', hiddenU64(page, 'childCnt') + BigInt(delta));
  }
}
