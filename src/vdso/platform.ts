/**
 * The simulated machine with its kernel: physical memory (RAM and EPC), the SGX package, the kernel, sgx_init(),
 * one `LogicalProcessor` per kernel CPU sharing one decoded-instruction cache, and the vDSO mapped into every new
 * image. This file is the wiring between the layers, each connection a hardware or kernel mechanism:
 *
 * | kernel event                                  | processor side                                              |
 * | --------------------------------------------- | ----------------------------------------------------------- |
 * | switch_mm() on a CPU (`onSwitchMm`)           | MOV CR3: `lp.setPageTable(mm.pageTable)`                    |
 * | flush_tlb_mm_range() (`onTlbFlush`)           | INVLPG / CR3 reload on each CPU of the mm's cpumask          |
 * | an IPI taken on a CPU (`onIpi`)               | the interrupt: an AEX if that CPU is in enclave mode        |
 * | EINIT's event window (`pendingUnmaskedEvent`) | a timer tick or IPI pending on the CPU running the ioctl    |
 * | a page written behind the MMU (PhysMem)       | the decoded code of that page dropped (`DecodeCache`)       |
 * | exec (`onExec`)                               | map_vdso(): the "[vdso]" page                               |
 *
 * Guest code (the vDSO and enclaves) runs on these processors through `sys.runGuest()` (enter-enclave.ts).
 */
import { type Sgx, sgxInit } from '../driver/index';
import {
  CostModel,
  type CryptoBackend,
  DEFAULT_EPC_BASE,
  DecodeCache,
  LogicalProcessor,
  PAGE_SIZE,
  type PageTable,
  PhysMem,
  Rng,
  type SgxFeatures,
  SgxMachine,
} from '../hw/index';
import {
  Kernel,
  type CostModel as KernelCostModel,
  type KernelLimits,
  type TlbFlushEvent,
  type TraceHashForm,
} from '../kernel/index';
import { GuestCpus } from './guest-cpus';
import { Vdso } from './vdso-image';

/** How to build a platform. */
export interface PlatformOptions {
  readonly crypto: CryptoBackend;
  /** EPC pages in one section (default 256 = 1 MiB). */
  readonly epcPages?: number;
  /** Several EPC sections, in pages each (overrides epcPages). */
  readonly epcSections?: readonly number[];
  /** RAM in bytes (default 64 MiB). */
  readonly ramBytes?: number;
  /** Seeds the machine (fuses, keys, paging key) and the kernel (scheduling). */
  readonly seed?: number | string;
  /** Logical CPUs (default 2). */
  readonly cpus?: number;
  readonly features?: Partial<SgxFeatures>;
  /** Kernel cost-model overrides (tick, timeslice, quantum …). */
  readonly costs?: Partial<KernelCostModel>;
  readonly limits?: Partial<KernelLimits>;
  readonly traceLimit?: number;
  /** What the trace hash covers: the canonical binary form (default) or the exported JSON lines. */
  readonly traceHash?: TraceHashForm;
  readonly onHostError?: 'throw' | 'kill';
  /** Compile hot guest blocks (default true). */
  readonly jit?: boolean;
}

/** What the vDSO and the interrupt path counted. */
export interface VdsoStats {
  /** vDSO ENCLU attempts by leaf, as the caller (or the user handler) asked for them. */
  eenter: number;
  eresume: number;
  /** Exits through EEXIT. */
  eexit: number;
  /** AEXs: interrupts (timer, IPI) and exceptions raised in enclave mode. */
  aexInterrupt: number;
  aexException: number;
  /** ERESUMEs through the AEP after an AEX (transparent resumption, including after a resolved fault). */
  aepResume: number;
  /** Exceptions on ENCLU reported to the caller (fixup_vdso_exception()). */
  reported: number;
}

/** The booted system. `k`, `m` and `sgx` as the driver tests know them; `lps` run guest code. */
export interface Platform {
  readonly mem: PhysMem;
  readonly m: SgxMachine;
  readonly k: Kernel;
  readonly sgx: Sgx;
  readonly lps: readonly LogicalProcessor[];
  /** The decoded-instruction cache the processors share. */
  readonly cache: DecodeCache;
  readonly vdso: Vdso;
  readonly cpus: GuestCpus;
  readonly stats: VdsoStats;
}

/** The machine + kernel + driver of the CLI and the driver tests. */
export type SgxSystem = Platform;

const platforms = new WeakMap<Kernel, Platform>();

/** The platform a kernel was booted in, for the vDSO entry point. */
export function platformOf(k: Kernel): Platform {
  const p = platforms.get(k);
  if (!p) throw new Error('this kernel was not booted by bootPlatform(): it has no processors or vDSO');
  return p;
}

/** A CR3 with nothing mapped, loaded until the first address-space switch. */
const EMPTY_PAGE_TABLE: PageTable = { lookup: () => undefined };

/** Above this many pages a TLB shootdown flushes the whole TLB (Linux's tlb_single_page_flush_ceiling = 33). */
const FLUSH_CEILING = 33;

/**
 * Boots the machine: physical memory, the SGX package, the kernel, sgx_init(), the logical processors and the
 * vDSO. Throws if sgx_init() fails (a configuration error).
 */
export function bootPlatform(o: PlatformOptions): Platform {
  const sections = o.epcSections ?? [o.epcPages ?? 256];
  let base = DEFAULT_EPC_BASE;
  const epcSections = sections.map((pages) => {
    const s = { base, size: pages * PAGE_SIZE };
    base += (pages + 16) * PAGE_SIZE;
    return s;
  });
  const seed = o.seed ?? 1;
  const mem = new PhysMem({ ramBytes: o.ramBytes ?? 64 * 2 ** 20, epcSections });
  const machineRng = new Rng(`machine-${seed}`);
  const m = new SgxMachine({ physMem: mem, crypto: o.crypto, rng: machineRng, features: o.features });
  const k = new Kernel({
    mem,
    seed,
    crypto: o.crypto,
    cpus: o.cpus ?? 2,
    ...(o.costs && { costs: o.costs }),
    ...(o.limits && { limits: o.limits }),
    ...(o.traceLimit !== undefined && { traceLimit: o.traceLimit }),
    ...(o.traceHash !== undefined && { traceHash: o.traceHash }),
    ...(o.onHostError && { onHostError: o.onHostError }),
  });
  const r = sgxInit(k, m);
  if (r.kind !== 'ok') throw new Error(`sgx_init failed with ${r.errno.name}: ${r.dmesg.join(' ')}`);

  const cache = new DecodeCache();
  // Code decoded from a page rewritten behind the MMU (EADD, ELDU, EREMOVE, kernel copies, COW) is stale.
  mem.onPageWrite((pfn) => cache.invalidatePage(pfn));
  const lpRng = machineRng.fork('rdrand');
  const lps = k.sched.cpus.map(
    (c) =>
      new LogicalProcessor({
        id: c.id,
        machine: m,
        pageTable: EMPTY_PAGE_TABLE,
        cache,
        rng: lpRng.fork(`cpu-${c.id}`),
        // RDTSC reads the CPU's virtual clock.
        tsc: () => c.clock,
        ...(o.jit !== undefined && { jit: o.jit }),
      }),
  );
  const cpus = new GuestCpus(k, lps);
  const vdso = new Vdso(k);
  const stats: VdsoStats = {
    eenter: 0,
    eresume: 0,
    eexit: 0,
    aexInterrupt: 0,
    aexException: 0,
    aepResume: 0,
    reported: 0,
  };
  const p: Platform = { mem, m, k, sgx: r.sgx, lps, cache, vdso, cpus, stats };
  platforms.set(k, p);

  // switch_mm(): load CR3. The processor cannot be in enclave mode: its last thread took an interrupt to leave.
  k.onSwitchMm((cpu, _prev, next) => {
    if (next) lps[cpu]!.setPageTable(next.pageTable);
  });
  // flush_tlb_mm_range(): every CPU that may cache the mm's translations drops them.
  k.onTlbFlush((e: TlbFlushEvent) => {
    const pages = (e.end - e.start) / PAGE_SIZE;
    for (const c of e.cpus) {
      const lp = lps[c];
      if (!lp || lp.cpu.m.pageTable !== e.mm.pageTable) continue;
      if (pages > FLUSH_CEILING) lp.flushTlb();
      else for (let a = e.start; a < e.end; a += PAGE_SIZE) lp.flushTlb(a);
    }
  });
  // The interrupt arriving on each target CPU: in enclave mode, an AEX (EXITINFO.VALID = 0). This is what lets
  // EWB's tracking finish after the driver's IPI (sgx_encl_ewb(): on_each_cpu_mask(sgx_encl_cpumask(), ...)).
  k.onIpi((cpu) => {
    aexOnInterrupt(p, cpu, 'ipi');
  });
  // EINIT "polls for pending interrupts in its event window" (SDM Vol. 3D §41.2 EINIT): an IPI already sent to this
  // CPU, or a timer tick falling inside the EINIT. The interrupt is then taken, so the driver's retry sees it gone.
  m.pendingUnmaskedEvent = () => {
    const cpu = k.sched.currentCpu;
    if (!cpu) return false;
    if (cpu.ipiPending > 0) {
      cpu.ipiPending = 0;
      return true;
    }
    // Ticks before the EINIT were taken by interruptible code; one inside its window interrupts it.
    while (cpu.nextTick <= cpu.clock) cpu.nextTick += k.costs.tickCycles;
    if (cpu.nextTick < cpu.clock + CostModel.einit) {
      cpu.nextTick += k.costs.tickCycles;
      return true;
    }
    return false;
  };
  // map_vdso() at exec; fork copies the mapping.
  k.onExec((t) => {
    if (t.mm) vdso.map(t.mm);
  });
  return p;
}

/**
 * An interrupt (timer tick or IPI) arriving at `cpu`: when its processor is in enclave mode, the AEX, charged to
 * the thread whose registers it holds and traced. @returns whether an AEX happened.
 */
export function aexOnInterrupt(p: Platform, cpu: number, reason: 'timer' | 'ipi'): boolean {
  const lp = p.lps[cpu];
  if (!lp?.inEnclave) return false;
  const g = p.cpus.ownerOf(cpu);
  const t = p.k.sched.cpus[cpu]?.current;
  if (!g || t !== g.task)
    throw new Error(`CPU ${cpu} is in enclave mode without its running task's registers (tid ${g?.task.tid})`);
  // In enclave mode (checked above), so the enclave block is there.
  const tcs = lp.cpu.enclave!.tcs;
  const r = lp.interrupt(reason);
  g.pendingCycles += r.cycles;
  g.aexPending = true;
  p.stats.aexInterrupt++;
  p.k.trace.record(p.k.sched.cpus[cpu]!.clock, cpu, t.tgid, t.tid, 'aex', { reason, tcs });
  return true;
}
