/**
 * The virtual-time cost model (DESIGN.md §6): cycles charged per instruction class and per SGX operation, so a
 * run can report roughly what it would cost on real hardware. Figures are published measurements on Skylake-era
 * client parts; each row names its source. They are estimates for reporting, not a timing model of the pipeline.
 *
 * Sources (approximate, order-of-magnitude figures; the rows are calibrated so the totals match them):
 * - Orenbach et al., "Eleos", EuroSys 2017, §2: an EPC page fault (AEX, kernel EWB + ELDU, ERESUME) costs about
 *   40,000 cycles, and each enclave transition thousands of cycles plus indirect TLB/cache costs.
 * - Weisse et al., "HotCalls", ISCA 2017: a warm ECALL or OCALL round trip costs roughly 8,000-9,000 cycles.
 * - Weichbrodt et al., "sgx-perf", Middleware 2018: AEX + ERESUME cost thousands of cycles.
 * - Intel Optimization Reference Manual: simple integer/SSE ops retire at about one per cycle or better.
 * Totals implied here: EENTER + EEXIT = 7,100 (HotCalls' ECALL, less SDK overhead); a paging fault round trip
 * = AEX + fault entry + EBLOCK/ETRACK/EWB of a victim + ELDU + ERESUME ≈ 32,000-40,000 depending on IPIs.
 */

export const CostModel = {
  /** Nominal clock used to turn cycles into (virtual) seconds. */
  hz: 3_000_000_000,
  /** Average cycles per interpreted instruction (ordinary integer/SSE code). */
  instruction: 1,
  /** ENCLU transitions (HotCalls, Eleos). */
  eenter: 3_800,
  eexit: 3_300,
  /** AEX saves state and exits; ERESUME restores it (sgx-perf, Eleos). */
  aex: 3_000,
  eresume: 3_800,
  ereport: 15_000,
  egetkey: 10_000,
  /**
   * AEX-Notify's SSA-frame pop. No published measurement; it checks one SSA frame's EPCM entries like the frame
   * part of ERESUME without a mode switch, so it is charged as a small fraction of one.
   */
  edeccssa: 500,
  /** ENCLS leaves used by the driver; paging is dominated by the page crypto (Eleos). */
  ecreate: 10_000,
  eadd: 10_000,
  eextend: 1_500,
  einit: 100_000,
  eremove: 1_000,
  epa: 1_000,
  eblock: 1_000,
  etrack: 1_000,
  ewb: 12_000,
  eldu: 10_000,
  edbg: 500,
  /** A kernel page-fault entry and exit without SGX work. */
  pageFaultEntry: 1_000,
  /** An IPI delivery to another CPU. */
  ipi: 2_000,
  /** A syscall entry/exit. */
  syscall: 150,
  /** A context switch between threads. */
  contextSwitch: 2_000,
} as const;

export type CostItem = keyof Omit<typeof CostModel, 'hz'>;

/** Virtual nanoseconds for a number of cycles. */
export function cyclesToNs(cycles: number): number {
  return (cycles * 1e9) / CostModel.hz;
}
