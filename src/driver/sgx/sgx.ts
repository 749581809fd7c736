/**
 * The driver's global state: what arch/x86/kernel/cpu/sgx/main.c and driver.c keep in statics (the EPC
 * sections and free counts, the reclaimer's active page list and ksgxd, the reserved masks from CPUID), plus the
 * model's bookkeeping: the kernel and machine it runs on, the kernel log, statistics and the trace.
 *
 * Locking. Every driver operation here runs atomically inside one scheduling step, so the spinlocks, SRCU and
 * encl->lock are implicit. The places where Linux can sleep or be preempted in the middle are scheduling points
 * here too: ksgxd yields between the phases of a reclaim batch (so faults can observe BEING_RECLAIMED),
 * ENCLAVE_ADD_PAGES calls cond_resched() when need_resched() says so, and EINIT's retry loop sleeps 20 ms. The one
 * divergence: encl->lock is not held across EINIT's sleep; a fault or the reclaimer touching that enclave then
 * proceeds where Linux would wait for the lock, which changes only timing.
 */
import type { SgxMachine } from '../../hw/index';
import { type Inode, type Kernel, type Task, type VmOperations, WaitQueue } from '../../kernel/index';
import type { SgxEncl } from './encl';
import type { EpcSection } from './epc-allocator';
import type { SgxEpcPage } from './epc-page';
import { List } from './list';

/** Counters since boot. */
export interface SgxCounters {
  /** Child pages written out by EWB (successful or not) and loaded back by ELDU. */
  evicted: number;
  reloaded: number;
  /** SECS pages written out and loaded back. */
  secsEvicted: number;
  secsReloaded: number;
  /** ELDU failures (MAC mismatch, a replayed copy): the page is lost, the faulting thread gets SIGBUS. */
  elduFailures: number;
  /** EWB attempts that needed ETRACK, and the ones that also needed IPIs. */
  ewbEtrack: number;
  ewbIpi: number;
  /** Reclaim batches run by ksgxd and directly by allocations. */
  ksgxdBatches: number;
  directBatches: number;
  /** Pages the aging pass found young and put back at the tail. */
  agedYoung: number;
  /** Faults answered with VM_FAULT_NOPAGE because the page was being reclaimed or no EPC page was free. */
  faultBusy: number;
  /** EPC pages leaked by a failed EREMOVE. */
  leaked: number;
  /** ENCLS leaves executed, by name. */
  encls: Record<string, number>;
}

export class Sgx {
  /** sgx_epc_sections[]. */
  sections: EpcSection[] = [];
  /** sgx_nr_free_pages. */
  nrFreePages = 0;
  /** sgx_active_page_list: the global LRU of reclaimable REG/TCS pages. */
  readonly activePageList = new List<SgxEpcPage>();
  /** sgx_dirty_page_list: pages not yet sanitized by EREMOVE. */
  readonly dirtyPageList = new List<SgxEpcPage>();
  /** ksgxd_waitq. */
  readonly ksgxdWq = new WaitQueue('ksgxd');
  ksgxdTask: Task | null = null;
  /** A ksgxd batch is between its phases (pages are off the list, held by the reclaimer). */
  reclaimInFlight = false;
  /** Where that batch is: its pages isolated (and marked BEING_RECLAIMED), or also zapped and EBLOCKed. */
  reclaimPhase: 'isolated' | 'blocked' | null = null;
  /** sgx_misc_reserved_mask (u32), sgx_attributes_reserved_mask, sgx_xfrm_reserved_mask (driver.c). */
  miscReservedMask = 0n;
  attributesReservedMask = 0n;
  xfrmReservedMask = BigInt.asUintN(64, ~0x3n);
  /** sgx_vm_ops of this driver instance (set by sgx_init()). */
  vmOps: VmOperations = Object.freeze({});
  /** /dev/sgx_enclave and /dev/sgx_provision, once registered. */
  enclaveInode: Inode | null = null;
  provisionInode: Inode | null = null;
  /** Enclaves not yet released (for ps, stats and invariants; Linux has no such list). */
  readonly enclaves = new Set<SgxEncl>();
  /** Kernel log lines (pr_info/pr_err/WARN). */
  readonly dmesg: string[] = [];
  readonly stats: SgxCounters = {
    evicted: 0,
    reloaded: 0,
    secsEvicted: 0,
    secsReloaded: 0,
    elduFailures: 0,
    ewbEtrack: 0,
    ewbIpi: 0,
    ksgxdBatches: 0,
    directBatches: 0,
    agedYoung: 0,
    faultBusy: 0,
    leaked: 0,
    encls: {},
  };
  /** RAM page used as the kernel stack of ENCLS calls (PAGEINFO, SECINFO live there). */
  scratchPfn = -1;
  private nextEnclId = 1;
  private readonly warned = new Set<string>();

  constructor(
    readonly k: Kernel,
    readonly m: SgxMachine,
  ) {}

  /** The next enclave id for display. */
  allocEnclId(): number {
    return this.nextEnclId++;
  }

  /** kmalloc(PAGE_SIZE): a zeroed RAM page for a kernel copy (SECS, SIGSTRUCT), or undefined (ENOMEM). */
  kmallocPage(): number | undefined {
    return this.k.pages.alloc();
  }

  /** kfree() of a kmallocPage() page. */
  kfree(pfn: number): void {
    this.k.pages.put(pfn);
  }

  /** Total EPC pages in all sections. */
  get totalPages(): number {
    let n = 0;
    for (const s of this.sections) n += s.pageCount;
    return n;
  }

  /** Charges kernel work to the CPU executing the current step. */
  charge(cycles: number): void {
    const cpu = this.k.sched.currentCpu;
    if (cpu) {
      cpu.clock += cycles;
      if (cpu.current) cpu.current.stime += cycles;
    }
  }

  /**
   * need_resched(): the task on the current CPU has used its timeslice and another task is waiting for a CPU
   * (the scheduler would preempt it at the next opportunity).
   */
  needResched(t: Task): boolean {
    const cpu = t.cpu === undefined ? undefined : this.k.sched.cpus[t.cpu];
    if (!cpu || this.k.sched.runnable().length === 0) return false;
    return cpu.clock - cpu.sliceStart >= this.k.costs.timesliceCycles;
  }

  /** Records a driver event in the kernel trace (it is part of the trace hash). */
  trace(ev: string, data: Record<string, unknown>): void {
    const cpu = this.k.sched.currentCpu;
    const t = cpu?.current;
    this.k.trace.emit({ t: this.k.sched.now(), cpu: cpu?.id ?? -1, pid: t?.tgid ?? 0, tid: t?.tid ?? 0, ev, data });
  }

  /** printk(): a line in the kernel log, also traced. */
  log(line: string): void {
    this.dmesg.push(`sgx: ${line}`);
    this.trace('printk', { line: `sgx: ${line}` });
  }

  /** WARN_ONCE(): logged the first time its call site (by default, the message) fires. */
  warnOnce(msg: string, site = msg): void {
    if (this.warned.has(site)) return;
    this.warned.add(site);
    this.log(`WARNING: ${msg}`);
  }

  /** WARN(): logged every time. */
  warn(msg: string): void {
    this.log(`WARNING: ${msg}`);
  }

  /** ENCLS_WARN(ret, name): a WARN_ONCE per leaf name (each name is one call site in the driver). */
  enclsWarn(ret: number, name: string): void {
    if (ret) this.warnOnce(`${name} returned ${ret} (0x${ret.toString(16)})`, `ENCLS_WARN ${name}`);
  }
}
