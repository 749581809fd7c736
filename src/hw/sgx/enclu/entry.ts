/**
 * What EENTER and ERESUME share (SDM Vol. 3D §41.4 EENTER, ERESUME): the TCS operand checks, the TCS and SECS
 * fields they read, and the entry into enclave mode itself (CR_ACTIVE_SECS, CR_ELRANGE, CR_TCS_LA/PA, TCS.AEP,
 * the FS/GS swap, the opt-out TF rule, Flush_linear_context, TCS.STATE = ACTIVE).
 */
import { type EnclaveMode, TF } from '../../cpu/index';
import { type CpuFault, gp } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { AttrFlags, PageType, TcsFlags } from '../arch';
import { flushEnclaveEntry } from '../enclave-access';
import { getField, SECS, setField, TCS } from '../layout/index';
import type { SgxMachine } from '../sgx-machine';
import { enclaveEnter } from '../tracking';
import type { EnclaveRegs, EncluContext } from './context';
import { canonicalLinear, resolveEpc, sgxPf } from './operands';
import type { SsaFrame } from './ssa-frame';

/**
 * TCS.STATE when a logical processor is inside on this TCS. The encoding is hardware-internal (SDM Vol. 3D
 * Table 38-8 calls the field reserved); EADD forces 0 = INACTIVE. Kept in the TCS page, it moves with EWB/ELDU.
 */
export const TCS_STATE_ACTIVE = 1n;

/** The TCS fields the entry leaves read. */
export interface TcsView {
  readonly state: bigint;
  readonly flags: bigint;
  readonly ossa: bigint;
  readonly cssa: number;
  readonly nssa: number;
  readonly oentry: bigint;
  readonly ofsBase: bigint;
  readonly ogsBase: bigint;
}

export function readTcs(page: Uint8Array): TcsView {
  return {
    state: getField(TCS, page, 0, 'state'),
    flags: getField(TCS, page, 0, 'flags'),
    ossa: getField(TCS, page, 0, 'ossa'),
    cssa: getField(TCS, page, 0, 'cssa'),
    nssa: getField(TCS, page, 0, 'nssa'),
    oentry: getField(TCS, page, 0, 'oentry'),
    ofsBase: getField(TCS, page, 0, 'ofsBase'),
    ogsBase: getField(TCS, page, 0, 'ogsBase'),
  };
}

/** The SECS fields the ENCLU leaves read (TMP_SECS). */
export interface SecsView {
  readonly pa: number;
  readonly size: bigint;
  readonly baseAddr: bigint;
  readonly ssaFrameSize: number;
  readonly miscSelect: number;
  readonly attributes: bigint;
  readonly xfrm: bigint;
}

export function readSecs(m: SgxMachine, secsIndex: number): SecsView {
  const page = m.epcPage(secsIndex);
  return {
    pa: m.epc.addressOf(secsIndex),
    size: getField(SECS, page, 0, 'size'),
    baseAddr: getField(SECS, page, 0, 'baseAddr'),
    ssaFrameSize: getField(SECS, page, 0, 'ssaFrameSize'),
    miscSelect: getField(SECS, page, 0, 'miscSelect'),
    attributes: getField(SECS, page, 0, 'attributes'),
    xfrm: getField(SECS, page, 0, 'xfrm'),
  };
}

/**
 * TCS.FLAGS bits that must be zero: "(DS:RBX).FLAGS & FFFFFFFFFFFFFFFEH" on parts without AEX-Notify,
 * "& FFFFFFFFFFFFFFFCH" with it (bit 1 is AEXNOTIFY).
 */
export function tcsReservedFlags(m: SgxMachine): bigint {
  const allowed = TcsFlags.DBGOPTIN | (m.features.aexNotify ? TcsFlags.AEXNOTIFY : 0n);
  return BigInt.asUintN(64, ~allowed);
}

/**
 * "IF ((DS:RBX).FLAGS.DBGOPTIN = 0) and ((DS:RBX).FLAGS.AEXNOTIFY ≠ TMP_SECS.ATTRIBUTES.AEXNOTIFY)) THEN #GP(0)"
 * — only on parts with AEX-Notify; elsewhere the reserved-flags check already refused FLAGS.AEXNOTIFY.
 */
export function aexNotifyMismatch(m: SgxMachine, flags: bigint, attributes: bigint): boolean {
  if (!m.features.aexNotify || flags & TcsFlags.DBGOPTIN) return false;
  return ((flags & TcsFlags.AEXNOTIFY) !== 0n) !== ((attributes & AttrFlags.AEXNOTIFY) !== 0n);
}

/** A TCS operand that passed the first checks. */
export interface TcsOperand {
  /** CR_TCS_LA. */
  readonly la: number;
  /** CR_TCS_PA. */
  readonly pa: number;
  readonly index: number;
  readonly page: Uint8Array;
  /** EPCM(TCS).ENCLAVESECS. */
  readonly secsIndex: number;
  /** RCX, the AEP, canonical. */
  readonly aep: number;
}

/**
 * The first checks of EENTER and ERESUME, in the SDM's order: RBX not 4 KiB aligned → #GP(0); RBX not resolving
 * within the EPC → #PF(RBX); RCX (the AEP) not canonical → #GP(0); EPCM(RBX) not VALID, BLOCKED, PENDING or
 * MODIFIED, at another address or not PT_TCS → #PF(RBX). Both leaves write the TCS (STATE, AEP, CSSA), so its
 * faults report a write access.
 */
export function resolveTcs(ctx: EncluContext): TcsOperand | CpuFault {
  const { m, cpu } = ctx;
  const rbx = cpu.getReg64(3);
  if (rbx % BigInt(PAGE_SIZE) !== 0n) return gp();
  const la = canonicalLinear(rbx);
  if (la === undefined) return gp();
  const r = resolveEpc(m, cpu, la, true);
  if ('kind' in r) return r;
  const aep = canonicalLinear(cpu.getReg64(1));
  if (aep === undefined) return gp();
  const e = r.entry;
  if (!e || e.blocked || e.pending || e.modified) return sgxPf(la, true);
  if (e.enclaveAddress !== BigInt.asUintN(64, rbx) || e.pt !== PageType.TCS) return sgxPf(la, true);
  return { la, pa: r.pa, index: r.index, page: m.epcPage(r.index), secsIndex: e.enclaveSecs, aep };
}

/** What the entering leaf decided; `enterEnclaveMode` applies it. */
export interface EntryCommit {
  readonly tcs: TcsOperand;
  readonly tcsFlags: bigint;
  readonly secs: SecsView;
  /** TCS.CSSA after the leaf (EnclaveMode.cssa). */
  readonly cssa: number;
  /** The frame an AEX will save into: SSA[cssa]. */
  readonly frame: SsaFrame;
  readonly fsBase: number;
  readonly gsBase: number;
}

/**
 * The common effects of entering (SDM EENTER/ERESUME "CR_ENCLAVE_MODE ← 1 ... Flush_linear_context"):
 * CR_ACTIVE_SECS, CR_ELRANGE, CR_TCS_PA/LA, TCS.AEP ← RCX, the saved FS/GS bases and the swap, CR_DBGOPTIN and,
 * on opt-out entry, CR_SAVE_TF ← TF, TF ← 0; TCS.STATE ← ACTIVE; the TLB flush; and the tracking of threads
 * inside the enclave. The leaf has already set RIP and the registers it defines.
 * @returns whether this is an opt-in entry with TF = 1, where EENTER (and a notifying ERESUME) "pend a
 *   single-step #DB at the end".
 */
export function enterEnclaveMode(ctx: EncluContext, c: EntryCommit): boolean {
  const { m, cpu } = ctx;
  const optIn = (c.tcsFlags & TcsFlags.DBGOPTIN) !== 0n;
  const flags = cpu.getFlags();
  const tf = (flags & TF) !== 0;
  if (!optIn) cpu.setFlags(flags & ~TF);
  setField(TCS, c.tcs.page, 0, 'aep', BigInt.asUintN(64, BigInt(c.tcs.aep)));
  setField(TCS, c.tcs.page, 0, 'state', TCS_STATE_ACTIVE);
  const regs: EnclaveRegs = {
    secsIndex: c.tcs.secsIndex,
    tcsPa: c.tcs.pa,
    savedFsBase: cpu.fsBase,
    savedGsBase: cpu.gsBase,
    savedTf: !optIn && tf,
    gprPa: c.frame.gprPa,
    xsavePages: c.frame.xsavePages,
  };
  cpu.fsBase = c.fsBase;
  cpu.gsBase = c.gsBase;
  // BASEADDR is canonical (ECREATE) and SIZE a power of two below the enclave-size limit.
  const base = canonicalLinear(c.secs.baseAddr)!;
  const mode: EnclaveMode = {
    secs: c.secs.pa,
    tcs: c.tcs.la,
    cssa: c.cssa,
    elrangeBase: base,
    elrangeSize: Number(c.secs.size),
    optIn,
    data: regs,
  };
  cpu.setMode(3, mode);
  flushEnclaveEntry(cpu, base, mode.elrangeSize);
  enclaveEnter(m, c.secs.pa, ctx.cpuId);
  return optIn && tf;
}
