/**
 * The hardware half of the virtual-time cost model (DESIGN.md §6): cycles charged per instruction and per SGX
 * operation, so a run can report roughly what it would cost on real hardware. The kernel's half (syscalls, page
 * faults, context switches, IPIs, the clock rate) is src/kernel/sched/cost-model.ts. Figures are published measurements on Skylake-era
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
} as const;

export type CostItem = keyof typeof CostModel;
