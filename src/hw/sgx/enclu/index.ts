/**
 * ENCLU: the user-mode SGX leaves, one function each, dispatched on EAX through a table (SDM Vol. 3D §41.4;
 * the shape of encls/index.ts and Linux arch/x86/include/asm/enclu.h).
 *
 * The interpreter stops at `0F 01 D7` with `{ kind: 'enclu', leaf }` and RIP at the instruction, after its own
 * #UD checks (CPL ≠ 3, LOCK/66/F2/F3 prefixes). `enclu(ctx, leaf)` then performs the leaf on `ctx.cpu`:
 * the general checks of the ENCLU instruction, then the leaf's own, in its pseudo-code order. A leaf that faults
 * changes nothing; the caller delivers the fault (as an AEX when the CPU is in enclave mode).
 *
 * Leaves run atomically: the SDM's concurrency #GPs ("another Intel SGX instruction is operating on the TCS")
 * cannot arise in a sequential simulator and are not faked.
 */
import { gp } from '../../fault';
import { EncluLeaf, type EncluLeafNumber } from '../arch';
import type { SgxMachine } from '../sgx-machine';
import { type EncluContext, type EncluHandler, type EncluOutcome, faulted } from './context';
import { edeccssa } from './edeccssa';
import { eenter } from './eenter';
import { eexit } from './eexit';
import { egetkey } from './egetkey';
import { ereport } from './ereport';
import { eresume } from './eresume';

export type { EnclaveRegs, EncluContext, EncluHandler, EncluOutcome } from './context';
export { enclaveRegs } from './context';
export { TCS_STATE_ACTIVE } from './entry';
export { REPORT_MACED_SIZE } from './ereport';
export { canonicalLinear } from './operands';
export { edeccssa, eenter, eexit, egetkey, ereport, eresume };

/** A leaf and the part features that define it. */
interface LeafEntry {
  readonly handler: EncluHandler;
  /** Whether the leaf exists on this part (CPUID leaf 12H); an absent leaf is #GP(0) "undefined leaf". */
  readonly defined: (m: SgxMachine) => boolean;
}

const always = () => true;

/**
 * The ENCLU leaf table. EACCEPT, EMODPE and EACCEPTCOPY (SGX2) are registered by the SGX2 model; without it they
 * are undefined leaves, as on an SGX1 part.
 */
export const ENCLU_LEAVES: Partial<Record<EncluLeafNumber, LeafEntry>> = {
  [EncluLeaf.EREPORT]: { handler: ereport, defined: always },
  [EncluLeaf.EGETKEY]: { handler: egetkey, defined: always },
  [EncluLeaf.EENTER]: { handler: eenter, defined: always },
  [EncluLeaf.ERESUME]: { handler: eresume, defined: always },
  [EncluLeaf.EEXIT]: { handler: eexit, defined: always },
  [EncluLeaf.EDECCSSA]: { handler: edeccssa, defined: (m) => m.features.aexNotify },
};

/** The SGX2 leaves: defined numbers whose handlers the SGX2 work registers. */
const SGX2_LEAVES: ReadonlySet<number> = new Set([EncluLeaf.EACCEPT, EncluLeaf.EMODPE, EncluLeaf.EACCEPTCOPY]);

/** Leaves that "#GP(0) if executed in enclave mode". */
const OUTSIDE_ONLY: ReadonlySet<number> = new Set([EncluLeaf.EENTER, EncluLeaf.ERESUME]);

/**
 * Executes ENCLU with EAX = `leaf` on `ctx.cpu` (SDM Vol. 3D §41.4 "ENCLU—Execute an Enclave User Function of
 * Specified Leaf Number"): only EAX[31:0] selects the leaf; an undefined leaf is #GP(0); EENTER and ERESUME in
 * enclave mode are #GP(0); every other leaf outside enclave mode is #GP(0).
 * @returns `done` (RIP and registers updated by the leaf) or `fault` (nothing changed, RIP at ENCLU).
 */
export function enclu(ctx: EncluContext, leaf: number): EncluOutcome {
  const eax = leaf >>> 0;
  const entry = ENCLU_LEAVES[eax as EncluLeafNumber];
  if (!entry?.defined(ctx.m)) {
    if (SGX2_LEAVES.has(eax) && ctx.m.features.sgx2)
      throw new Error(`ENCLU leaf 0x${eax.toString(16)} (SGX2) is enumerated but not modelled yet`);
    return faulted(gp());
  }
  const inEnclave = ctx.cpu.enclave !== null;
  if (inEnclave === OUTSIDE_ONLY.has(eax)) return faulted(gp());
  return entry.handler(ctx);
}
