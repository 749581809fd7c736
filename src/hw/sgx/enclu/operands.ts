/**
 * How ENCLU leaves reach memory. Unlike ENCLS (kernel linear = physical), ENCLU operands are user linear
 * addresses: each leaf translates them through the logical processor's page tables itself ("Check that DS:x is
 * read/write accessible; if a fault occurs, release locks, abort and deliver that fault" — SDM Vol. 3D §41.4
 * EENTER), then applies its own EPC and EPCM checks, which fault with #PF(x). Those #PFs carry the SGX bit
 * ("the exception ... resulted from violation of SGX-specific access-control requirements", SDM Vol. 3A §4.7),
 * P (the translation exists), U (ENCLU runs at CPL 3) and W when the leaf writes the operand.
 *
 * Register values are 64-bit (`bigint` at this edge); linear addresses become signed numbers once they are
 * known to be canonical, as everywhere in the CPU.
 */
import { type Cpu, canonical, PTE_A, PTE_D, PTE_P, PTE_U, PTE_W } from '../../cpu/index';
import { type CpuFault, gp, PfErr, pf } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { PageType } from '../arch';
import type { EpcmEntry } from '../epcm';
import type { SgxMachine } from '../sgx-machine';

const TWO64 = 1n << 64n;
const HALF = 1n << 47n;

/** The signed linear address a 64-bit value denotes, or undefined when it is not canonical (SDM Vol. 1 §3.3.7.1). */
export function canonicalLinear(v: bigint): number | undefined {
  const u = BigInt.asUintN(64, v);
  if (u < HALF) return Number(u);
  if (u >= TWO64 - HALF) return Number(u - TWO64);
  return undefined;
}

/** A signed linear address as the unsigned 64-bit value registers and structures hold. */
export function u64Linear(a: number): bigint {
  return BigInt.asUintN(64, BigInt(a));
}

/** CR2 for a signed linear address, as the MMU reports it. */
export function cr2Of(a: number): number {
  return a < 0 ? a + 2 ** 64 : a;
}

/** The page containing signed linear address `a`. */
export function pageOf(a: number): number {
  return a - (a & (PAGE_SIZE - 1));
}

/** #PF(x) of an SGX check (see the file comment). */
export function sgxPf(linear: number, write: boolean): CpuFault {
  return pf(cr2Of(linear), PfErr.P | PfErr.U | PfErr.SGX | (write ? PfErr.W : 0));
}

/**
 * Translates `linear` for an access by the leaf itself, with the paging checks and error codes the MMU applies
 * (SDM Vol. 3A §4.6: present, U/S at CPL 3, R/W with CR0.WP = 1) and the Accessed/Dirty updates of the walk.
 * A non-canonical address is #GP(0).
 * @returns the physical address, or the fault.
 */
export function walk(cpu: Cpu, linear: number, write: boolean): number | CpuFault {
  if (!canonical(linear)) return gp();
  const off = linear & (PAGE_SIZE - 1);
  const vpn = (linear - off) / PAGE_SIZE;
  const pte = cpu.m.pageTable.lookup(vpn < 0 ? vpn + 2 ** 52 : vpn);
  const user = cpu.cpl === 3;
  const err = (write ? PfErr.W : 0) | (user ? PfErr.U : 0);
  if (!pte || !(pte.flags & PTE_P)) return pf(cr2Of(linear), err);
  if ((user && !(pte.flags & PTE_U)) || (write && !(pte.flags & PTE_W))) return pf(cr2Of(linear), err | PfErr.P);
  pte.flags |= PTE_A | (write ? PTE_D : 0);
  return pte.pfn * PAGE_SIZE + off;
}

/** An operand page that resolved within the EPC: its physical address, EPC index and EPCM entry (absent = VALID 0). */
export interface EpcOperand {
  readonly pa: number;
  readonly index: number;
  readonly entry: EpcmEntry | undefined;
}

/** The page walk, then "IF (DS:x does not resolve within an EPC) THEN #PF(DS:x)". */
export function resolveEpc(m: SgxMachine, cpu: Cpu, linear: number, write: boolean): EpcOperand | CpuFault {
  const pa = walk(cpu, linear, write);
  if (typeof pa !== 'number') return pa;
  const index = m.epc.indexOf(pa);
  if (index === undefined) return sgxPf(linear, write);
  return { pa, index, entry: m.epcm.get(index) };
}

/**
 * An operand of EREPORT/EGETKEY in the running enclave (SDM Vol. 3D §41.4 EGETKEY, EREPORT): resolves within the
 * EPC; VALID; not BLOCKED; then PT_REG, owned by CR_ACTIVE_SECS, not PENDING or MODIFIED, at its own linear page,
 * and readable (or writable, for an output). Every failed check is #PF(x).
 * @returns the physical address.
 */
export function enclaveOperand(
  m: SgxMachine,
  cpu: Cpu,
  linear: number,
  secsIndex: number,
  write: boolean,
): number | CpuFault {
  const r = resolveEpc(m, cpu, linear, write);
  if ('kind' in r) return r;
  const e = r.entry;
  if (!e) return sgxPf(linear, write);
  if (e.blocked) return sgxPf(linear, write);
  if (
    e.pt !== PageType.REG ||
    e.enclaveSecs !== secsIndex ||
    e.pending ||
    e.modified ||
    e.enclaveAddress !== u64Linear(pageOf(linear)) ||
    !(write ? e.w : e.r)
  )
    return sgxPf(linear, write);
  return r.pa;
}

/** "DS:x is within CR_ELRANGE" for a signed linear address. */
export function inElrange(base: number, size: number, linear: number): boolean {
  return linear >= base && linear < base + size;
}
