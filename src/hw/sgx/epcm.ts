/**
 * The Enclave Page Cache Map: one entry per EPC page (SDM Vol. 3D §38.19 "Enclave Page Cache Map (EPCM)",
 * Table 38-28). Hardware keeps it in protected memory that software never sees; we keep it sparse, so a
 * 512 GiB EPC costs nothing until its pages are used. An absent entry is an EPCM entry with VALID = 0.
 */
import { type PageTypeNumber, SecinfoFlags } from './arch';

/** One valid EPCM entry: every architectural field plus the hidden state the tracking model needs. */
export interface EpcmEntry {
  /** VALID: always true for a stored entry; an invalid page has no entry. */
  readonly valid: true;
  /** R, W, X: the enclave's permissions for the page (ANDed with the page tables on access). */
  r: boolean;
  w: boolean;
  x: boolean;
  /** PT: the page type (SECS, TCS, REG, VA, TRIM). */
  pt: PageTypeNumber;
  /** ENCLAVESECS: the EPC page index of the owning SECS; -1 for SECS and VA pages, which have no parent. */
  enclaveSecs: number;
  /** ENCLAVEADDRESS: the enclave linear address the page is mapped at (0 for SECS and VA pages). */
  enclaveAddress: bigint;
  /** BLOCKED: set by EBLOCK or ELDB; no new TLB translations. */
  blocked: boolean;
  /** PENDING: SGX2, set by EAUG, cleared by EACCEPT/EACCEPTCOPY. */
  pending: boolean;
  /** MODIFIED: SGX2, set by EMODT, cleared by EACCEPT. */
  modified: boolean;
  /** PR: SGX2, permission restriction pending (EMODPR), cleared by EACCEPT. */
  pr: boolean;
  /**
   * Hidden: the owning enclave's entry epoch when EBLOCK blocked the page. EWB compares it with the enclave's
   * tracking state to decide whether every stale TLB entry is gone (see tracking.ts).
   */
  blockEpoch: number;
}

/** An entry as plain JSON. */
export interface EpcmEntryState {
  readonly index: number;
  readonly r: boolean;
  readonly w: boolean;
  readonly x: boolean;
  readonly pt: PageTypeNumber;
  readonly enclaveSecs: number;
  readonly enclaveAddress: string;
  readonly blocked: boolean;
  readonly pending: boolean;
  readonly modified: boolean;
  readonly pr: boolean;
  readonly blockEpoch: number;
}

/** Fields of a new entry; VALID is implied and the SGX2 state bits default to 0. */
export type EpcmInit = Omit<EpcmEntry, 'valid' | 'blocked' | 'pending' | 'modified' | 'pr' | 'blockEpoch'> &
  Partial<Pick<EpcmEntry, 'blocked' | 'pending' | 'modified' | 'pr' | 'blockEpoch'>>;

export class Epcm {
  private readonly entries = new Map<number, EpcmEntry>();

  /** The entry of EPC page `index`, or undefined when its VALID bit is 0. */
  get(index: number): EpcmEntry | undefined {
    return this.entries.get(index);
  }

  /** EPCM(page).VALID. */
  isValid(index: number): boolean {
    return this.entries.has(index);
  }

  /** Makes the page VALID with the given fields (ECREATE, EADD, EPA, ELDB/ELDU, EAUG). */
  set(index: number, init: EpcmInit): EpcmEntry {
    // Every field named, in one order: all entries share one object shape, so the leaves' reads of e.pt and
    // e.enclaveSecs stay monomorphic (a spread would shape each entry after its caller's init object).
    const e: EpcmEntry = {
      valid: true,
      r: init.r,
      w: init.w,
      x: init.x,
      pt: init.pt,
      enclaveSecs: init.enclaveSecs,
      enclaveAddress: init.enclaveAddress,
      blocked: init.blocked ?? false,
      pending: init.pending ?? false,
      modified: init.modified ?? false,
      pr: init.pr ?? false,
      blockEpoch: init.blockEpoch ?? 0,
    };
    this.entries.set(index, e);
    return e;
  }

  /** Clears VALID (EREMOVE, EWB). */
  invalidate(index: number): void {
    this.entries.delete(index);
  }

  /** Number of valid entries. */
  get validCount(): number {
    return this.entries.size;
  }

  /** Valid entries in ascending page order, for invariants, dumps and save(). */
  validEntries(): Array<readonly [number, EpcmEntry]> {
    return [...this.entries].sort((a, b) => a[0] - b[0]);
  }

  save(): EpcmEntryState[] {
    return this.validEntries().map(([index, e]) => ({
      index,
      r: e.r,
      w: e.w,
      x: e.x,
      pt: e.pt,
      enclaveSecs: e.enclaveSecs,
      enclaveAddress: e.enclaveAddress.toString(),
      blocked: e.blocked,
      pending: e.pending,
      modified: e.modified,
      pr: e.pr,
      blockEpoch: e.blockEpoch,
    }));
  }

  static restore(state: readonly EpcmEntryState[]): Epcm {
    const m = new Epcm();
    for (const s of state) {
      const { index, enclaveAddress, ...rest } = s;
      m.set(index, { ...rest, enclaveAddress: BigInt(enclaveAddress) });
    }
    return m;
  }
}

/** SECINFO.FLAGS[15:8]: the page type a SECINFO names. */
export function secinfoPageType(flags: bigint): number {
  return Number((flags & SecinfoFlags.PAGE_TYPE_MASK) >> SecinfoFlags.PAGE_TYPE_SHIFT);
}

/** The SECINFO.FLAGS EWB writes to the PCMD from an EPCM entry: PT, RWX, PENDING, MODIFIED, PR (SDM EWB). */
export function epcmSecinfoFlags(e: EpcmEntry): bigint {
  let f = BigInt(e.pt) << SecinfoFlags.PAGE_TYPE_SHIFT;
  if (e.r) f |= SecinfoFlags.R;
  if (e.w) f |= SecinfoFlags.W;
  if (e.x) f |= SecinfoFlags.X;
  if (e.pending) f |= SecinfoFlags.PENDING;
  if (e.modified) f |= SecinfoFlags.MODIFIED;
  if (e.pr) f |= SecinfoFlags.PR;
  return f;
}
