/**
 * Enclave-mode access control, checked where hardware checks it: when a translation is filled into the TLB
 * (SDM Vol. 3D §38.5 "Access-control Requirements", §38.5.1; DESIGN.md §2 "Access control"; sgx-isa.md §8.2).
 * `enclaveAccessHook(m)` is the Cpu's `accessHook`; it runs after the page-table checks passed, so a PTE that
 * forbids the access keeps its ordinary #PF error code (e.g. 0x7 for a write to a read-only PTE).
 *
 * Outside enclave mode: EPC is an abort page (reads all-ones, writes dropped).
 * In enclave mode, for a linear address inside ELRANGE the translation must reach an EPC page that is VALID,
 * PT_REG, owned by the current SECS, EPCM.ENCLAVEADDRESS = the linear page, not BLOCKED, PENDING or MODIFIED,
 * and allowed by EPCM R/W/X; anything else (including non-EPC memory) is #PF with P, U, W/R, I/D and the SGX bit.
 * Outside ELRANGE an instruction fetch is #GP(0); data accesses see ordinary memory, or an abort page on EPC.
 *
 * Because the checks happen at fill time, stale TLB entries would keep granting what the EPCM no longer does.
 * Hardware flushes the enclave's translations on every entry and exit ("Flush_linear_context" in EENTER, ERESUME,
 * EEXIT and the AEX flow), which is what ETRACK's epoch tracking relies on; `flushEnclaveEntry`/`flushEnclaveExit`
 * do that here.
 */
import type { AccessHook, Cpu, EnclaveMode } from '../cpu/index';
import { gp, PfErr, pf } from '../fault';
import { PAGE_SIZE } from '../mem/index';
import { PageType } from './arch';
import { enclaveRegs } from './enclu/context';
import type { SgxMachine } from './sgx-machine';

/** The access hook for every CPU of the package that owns `m`. */
export function enclaveAccessHook(m: SgxMachine): AccessHook {
  return (req) => {
    const pa = req.pte.pfn * PAGE_SIZE;
    const mode = req.enclave as EnclaveMode | null;
    // "Non-enclave accesses to EPC pages get abort-page semantics" — SDM Vol. 3D §38.5.1.
    if (!mode) return m.epc.isEpc(pa) ? 'abort' : 'ok';
    const a = req.linear;
    if (a < mode.elrangeBase || a >= mode.elrangeBase + mode.elrangeSize) {
      // "Code fetches from outside ELRANGE while in enclave mode cause #GP(0)"; data goes to ordinary memory,
      // except EPC, which stays an abort page (another enclave's, or this one's at the wrong address).
      if (req.access === 'x') return gp();
      return m.epc.isEpc(pa) ? 'abort' : 'ok';
    }
    const index = m.epc.indexOf(pa);
    const e = index === undefined ? undefined : m.epcm.get(index);
    const page = a - (a & (PAGE_SIZE - 1));
    const allowed =
      e !== undefined &&
      e.pt === PageType.REG &&
      e.enclaveSecs === enclaveRegs(mode).secsIndex &&
      e.enclaveAddress === BigInt.asUintN(64, BigInt(page)) &&
      !e.blocked &&
      !e.pending &&
      !e.modified &&
      (req.access === 'r' ? e.r : req.access === 'w' ? e.w : e.x);
    if (allowed) return 'ok';
    const err =
      PfErr.P |
      PfErr.SGX |
      (req.cpl === 3 ? PfErr.U : 0) |
      (req.access === 'w' ? PfErr.W : 0) |
      (req.access === 'x' ? PfErr.I : 0);
    return pf(a < 0 ? a + 2 ** 64 : a, err);
  };
}

/** Unsigned page-number range [first, end) of ELRANGE. */
function elrangePages(base: number, size: number): readonly [number, number] {
  const ubase = base < 0 ? base + 2 ** 64 : base;
  return [ubase / PAGE_SIZE, (ubase + size) / PAGE_SIZE];
}

/**
 * The flush at EEXIT and AEX: every translation of an ELRANGE page (those are the only ones whose meaning
 * depends on enclave mode once fetches outside ELRANGE never fill). Other enclaves' and other processes'
 * translations stay.
 */
export function flushEnclaveExit(cpu: Cpu, base: number, size: number): void {
  const [first, end] = elrangePages(base, size);
  cpu.m.flushWhere((vpn) => vpn >= first && vpn < end);
}

/**
 * The flush at EENTER and ERESUME: ELRANGE translations filled outside enclave mode are abort pages, and every
 * instruction-fetch translation was filled without the "no fetch outside ELRANGE" rule, so both go.
 */
export function flushEnclaveEntry(cpu: Cpu, base: number, size: number): void {
  flushEnclaveExit(cpu, base, size);
  cpu.m.tagX.fill(Number.NaN);
}
