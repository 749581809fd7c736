/**
 * The kernel object: construction, host programs (spawn), kernel threads, the run loop, and the services the
 * rest of the simulator plugs into (device registration, TLB shootdown and IPI hooks, the trace, snapshots).
 */
import { type CryptoBackend, PAGE_SIZE, PhysMem, Rng } from '../hw/index';
import { O_RDWR, SIGABRT, wSignaled } from './abi/index';
import { FdTable } from './fd/fd-table';
import { type FileOperations, type Inode, OpenFile } from './fd/file';
import { consoleFops, devNullFops, devZeroFops } from './fd/mem-devices';
import { type DeviceOpts, Vfs } from './fd/vfs';
import { Mm, type MmContext } from './mm/mm';
import { PageAllocator } from './mm/page-allocator';
import { procMaps } from './mm/proc-maps';
import { Exits } from './proc/exit';
import { outOfMemory } from './proc/oom';
import { defaultRlimits, Process } from './proc/process';
import { SigHand } from './proc/sighand';
import { Signals } from './proc/signals';
import { returnedFromUser, stepTask } from './proc/step';
import { type CallResult, Task } from './proc/task';
import { type KernelSnapshot, snapshot } from './ps';
import { type CostModel, DEFAULT_COSTS } from './sched/cost-model';
import type { Cpu } from './sched/cpu';
import { type RunOptions, type RunResult, Scheduler } from './sched/scheduler';
import { Trace, type TraceHashForm } from './sched/trace';
import { block } from './sched/wait-queue';
import { FutexTable } from './syscalls/futex-table';
import { Sys } from './syscalls/sys';

/** Limits of the simulated system; past one you get the kernel's errno, never a crash. */
export interface KernelLimits {
  /** Most processes at once (pid space / RLIMIT_NPROC): fork() beyond it fails with EAGAIN. */
  readonly maxProcesses: number;
  /** Most threads at once (kernel.threads-max): clone() beyond it fails with EAGAIN. */
  readonly maxThreads: number;
  /** Default RLIMIT_NOFILE soft limit: open()/dup() beyond it fail with EMFILE. */
  readonly nofile: number;
  /** vm.max_map_count: more VMAs fail with ENOMEM. */
  readonly maxMapCount: number;
}

export const DEFAULT_LIMITS: KernelLimits = Object.freeze({
  maxProcesses: 1024,
  maxThreads: 4096,
  nofile: 1024,
  maxMapCount: 65530,
});

export interface KernelOptions {
  /** Seeds scheduling (and anything else random in the kernel). */
  readonly seed?: number | string;
  /** Physical memory shared with the machine; by default 64 MiB of RAM and no EPC. */
  readonly mem?: PhysMem;
  /** RAM size when `mem` is not given. */
  readonly ramBytes?: number;
  /** Logical CPUs. */
  readonly cpus?: number;
  readonly limits?: Partial<KernelLimits>;
  readonly costs?: Partial<CostModel>;
  /** Hash backend for the trace. */
  readonly crypto?: CryptoBackend;
  readonly traceLimit?: number;
  /** What `trace.digest()` hashes (sched/trace.ts): the canonical binary form (default) or the JSON lines. */
  readonly traceHash?: TraceHashForm;
  /**
   * What an exception escaping a host program does: 'throw' (default) rejects Kernel.run() with it; 'kill'
   * kills the process with SIGABRT as an uncaught C++ exception would (std::terminate()).
   */
  readonly onHostError?: 'throw' | 'kill';
}

/** A host program: the body of a process's main thread. Its return value is the exit status. */
export type HostMain = (sys: Sys) => unknown;

/** A TLB shootdown: PTEs of `mm` in [start, end) changed; `cpus` may cache them. */
export interface TlbFlushEvent {
  readonly mm: Mm;
  readonly start: number;
  readonly end: number;
  readonly cpus: readonly number[];
}

/** What a kernel thread body gets. */
export interface KthreadHandle {
  readonly task: Task;
  /** Runs `fn` at a scheduling point; it may return block(...) to sleep and be re-run when woken. */
  call(name: string, fn: (t: Task) => CallResult): Promise<number>;
  /** Sleeps for `cycles` of virtual time. */
  sleep(cycles: number): Promise<void>;
  /** Gives up the CPU (cond_resched()). */
  yield(): Promise<void>;
  /** kthread_should_stop(). */
  readonly shouldStop: boolean;
}

/** The live tasks by tid, counting the user (non-kernel) ones: the scheduler asks after every step. */
class TaskTable extends Map<number, Task> {
  userTasks = 0;

  override set(tid: number, t: Task): this {
    const old = this.get(tid);
    if (old && !old.kthread) this.userTasks--;
    if (!t.kthread) this.userTasks++;
    return super.set(tid, t);
  }

  override delete(tid: number): boolean {
    const old = this.get(tid);
    if (old && !old.kthread) this.userTasks--;
    return super.delete(tid);
  }

  override clear(): void {
    this.userTasks = 0;
    super.clear();
  }
}

export class Kernel {
  readonly mem: PhysMem;
  readonly pages: PageAllocator;
  readonly zeroPfn: number;
  readonly vfs = new Vfs();
  readonly trace: Trace;
  readonly costs: CostModel;
  readonly limits: KernelLimits;
  readonly rng: Rng;
  readonly sched: Scheduler;
  readonly signals: Signals;
  readonly exits: Exits;
  readonly futexes = new FutexTable();
  /** Every open file description not yet released (fds, mappings and in-flight SCM_RIGHTS keep them). */
  readonly liveFiles = new Set<OpenFile>();
  /** Live processes by pid. */
  readonly processes = new Map<number, Process>();
  /** Live tasks by tid. */
  readonly tasks = new TaskTable();
  /** Wait statuses of processes reaped by init, by pid. */
  readonly reaped = new Map<number, number>();
  readonly init: Process;
  readonly mmCtx: MmContext;
  readonly onHostError: 'throw' | 'kill';
  /** Text written to /dev/console, per pid, in order. */
  readonly consoleLog: Array<{ pid: number; text: string }> = [];
  private nextPid = 1;
  private nextFileId = 1;
  private nextMmId = 1;
  private readonly tlbListeners: Array<(e: TlbFlushEvent) => void> = [];
  private readonly switchListeners: Array<(cpu: number, prev: Mm | null, next: Mm | null) => void> = [];
  private readonly ipiListeners: Array<(cpu: number) => void> = [];
  private readonly execListeners: Array<(t: Task) => void> = [];
  private hostError: unknown;
  private readonly kthreadsStopping = new Set<Task>();
  readonly nullInode: Inode;
  readonly consoleInode: Inode;

  constructor(opts: KernelOptions = {}) {
    this.mem = opts.mem ?? new PhysMem({ ramBytes: opts.ramBytes ?? 64 * 1024 * 1024, epcSections: [] });
    // Frame 0 stays reserved as on a PC; frame 1 is empty_zero_page.
    this.pages = new PageAllocator(this.mem, 2);
    this.zeroPfn = 1;
    this.costs = Object.freeze({ ...DEFAULT_COSTS, ...opts.costs });
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
    this.trace = new Trace(opts.crypto, opts.traceLimit, opts.traceHash);
    this.rng = new Rng(opts.seed ?? 0);
    this.onHostError = opts.onHostError ?? 'throw';
    this.signals = new Signals(this);
    this.exits = new Exits(this);
    this.mmCtx = {
      mem: this.mem,
      pages: this.pages,
      zeroPfn: this.zeroPfn,
      maxMapCount: this.limits.maxMapCount,
      flushTlb: (mm, start, end) => this.flushTlb(mm, start, end),
      vmEnoughMemory: (pages) => pages <= this.pages.totalPages,
      allocPage: (mm) => {
        let pfn = this.pages.alloc();
        if (pfn !== undefined) return pfn;
        if (!outOfMemory(this) || mm.dead) return undefined;
        pfn = this.pages.alloc();
        return pfn;
      },
      ids: {
        ino: () => this.vfs.allocIno(),
        file: () => this.nextFileId++,
        registry: this.liveFiles,
      },
    };
    this.sched = new Scheduler(
      opts.cpus ?? 2,
      this.rng.fork('sched'),
      this.costs,
      this.trace,
      (t, cpu) => this.step(t, cpu),
      {
        liveUserTasks: () => this.tasks.userTasks,
        blockedUserTids: () =>
          [...this.tasks.values()].filter((t) => !t.kthread && t.state !== 'dead').map((t) => t.tid),
        onSwitchMm: (cpu: Cpu, prev, next) => {
          prev?.cpumask.delete(cpu.id);
          next?.cpumask.add(cpu.id);
          for (const l of this.switchListeners) l(cpu.id, prev, next);
        },
        returnedFromUser: (t, cpu) => returnedFromUser(this, t, cpu),
      },
    );
    this.init = new Process(this.allocPid(), 1, 'init', defaultRlimits(this.limits.nofile), 0, true);
    this.processes.set(1, this.init);
    this.nullInode = this.vfs.registerDevice('/dev/null', devNullFops, { rdev: [1, 3] });
    this.vfs.registerDevice('/dev/zero', devZeroFops, { rdev: [1, 5] });
    this.consoleInode = this.vfs.registerDevice(
      '/dev/console',
      consoleFops({ write: (pid, bytes) => this.consoleLog.push({ pid, text: new TextDecoder().decode(bytes) }) }),
      { rdev: [5, 1] },
    );
  }

  // ---- identities ----------------------------------------------------------------------------------

  /** alloc_pid(): pids (and tids) count up from 1 and are not reused. */
  allocPid(): number {
    return this.nextPid++;
  }

  allocFileId(): number {
    return this.nextFileId++;
  }

  /** mm_alloc(). */
  newMm(): Mm {
    return new Mm(this.mmCtx, this.nextMmId++);
  }

  /** Creates a task object (not yet runnable). */
  newTask(
    tid: number,
    proc: Process,
    mm: Mm | null,
    files: FdTable | null,
    sighand: SigHand,
    main: ((sys: Sys) => unknown) | undefined,
    comm: string,
    kthread = false,
  ): Task {
    const t = new Task(this, tid, proc, mm, files, sighand, main, comm, kthread);
    t.sys = new Sys(t);
    this.tasks.set(tid, t);
    return t;
  }

  /** A new open file description on `inode` (for drivers creating anonymous files, and for open()). */
  newFile(inode: Inode, flags: number): OpenFile {
    return new OpenFile(inode, flags, this.allocFileId(), this.liveFiles);
  }

  // ---- host programs and kernel threads ------------------------------------------------------------

  /**
   * Starts a host program as a new process, child of init, with fds 0-2 on /dev/console.
   * @returns its pid (also its main thread's tid).
   */
  spawn(main: HostMain, opts: { comm?: string } = {}): { pid: number; task: Task } {
    const pid = this.allocPid();
    const proc = new Process(pid, pid, opts.comm ?? 'host', defaultRlimits(this.limits.nofile));
    proc.parent = this.init;
    this.init.children.add(proc);
    this.processes.set(pid, proc);
    const files = new FdTable();
    const console = this.newFile(this.consoleInode, O_RDWR);
    files.install(console, false, Number.POSITIVE_INFINITY);
    files.install(console.get(), false, Number.POSITIVE_INFINITY);
    files.install(console.get(), false, Number.POSITIVE_INFINITY);
    const t = this.newTask(pid, proc, this.newMm(), files, new SigHand(), main, proc.comm);
    t.groupMain = true;
    proc.threads.push(t);
    // A spawn is fork + exec of a new image: load_elf_binary() ends with arch_setup_additional_pages().
    for (const l of this.execListeners) l(t);
    this.traceTask(t, 'spawn', { comm: proc.comm });
    this.sched.enqueue(t, this.sched.now());
    return { pid, task: t };
  }

  /**
   * kthread_run(): a kernel thread (no mm, no fds) named `[name]`, e.g. the SGX driver's ksgxd. It is a
   * daemon: Kernel.run() returns when only kernel threads are left.
   */
  kthreadRun(name: string, body: (k: KthreadHandle) => Promise<void>): Task {
    const pid = this.allocPid();
    const proc = new Process(pid, 0, name, defaultRlimits(this.limits.nofile), 0);
    proc.parent = this.init;
    this.processes.set(pid, proc);
    const stopping = this.kthreadsStopping;
    let task!: Task;
    const handle: KthreadHandle = {
      get task() {
        return task;
      },
      call: (n, fn) => task.sys.kcall(n, fn),
      sleep: async (cycles) => {
        await task.sys.kcall('msleep', (tt) => {
          const until = (tt.entry!.state.until as number | undefined) ?? tt.now() + cycles;
          tt.entry!.state.until = until;
          return tt.now() >= until ? 0 : block([], { deadline: until, uninterruptible: true });
        });
      },
      yield: async () => {
        await task.sys.sched_yield();
      },
      get shouldStop() {
        return stopping.has(task);
      },
    };
    task = this.newTask(pid, proc, null, null, new SigHand(), () => body(handle), `[${name}]`, true);
    proc.threads.push(task);
    this.sched.enqueue(task, this.sched.now());
    return task;
  }

  /** kthread_stop(): asks a kernel thread to finish (it polls `shouldStop`). */
  kthreadStop(t: Task): void {
    this.kthreadsStopping.add(t);
    if (t.state === 'blocked') this.sched.wakeTask(t, 'signal');
  }

  /** Runs the simulation until every user task is done, a deadlock, or a limit. */
  async run(opts: RunOptions = {}): Promise<RunResult> {
    const r = await this.sched.run(opts);
    return r;
  }

  private step(t: Task, cpu: Cpu): boolean {
    const hostRuns = stepTask(this, t, cpu);
    if (this.hostError !== undefined) {
      const e = this.hostError;
      this.hostError = undefined;
      throw e;
    }
    return hostRuns;
  }

  /** A host program threw: kill its process like an uncaught exception; optionally rethrow from run(). */
  hostThrew(t: Task, error: unknown): void {
    this.traceTask(t, 'host_error', { message: error instanceof Error ? error.message : String(error) });
    this.exits.groupExit(t.process, wSignaled(SIGABRT));
    if (this.onHostError === 'throw') this.hostError = error;
  }

  // ---- results and inspection ----------------------------------------------------------------------

  /** The wait status of a process that has been reaped by init (e.g. a spawned program), if it has exited. */
  exitStatus(pid: number): number | undefined {
    return this.reaped.get(pid);
  }

  /** Everything written to /dev/console, concatenated. */
  get console(): string {
    return this.consoleLog.map((c) => c.text).join('');
  }

  /** /proc/<pid>/maps, or undefined for an unknown pid. */
  procMaps(pid: number): string | undefined {
    const p = this.processes.get(pid);
    const mm = p?.threads[0]?.mm;
    return mm ? procMaps(mm) : undefined;
  }

  /** A ps-style snapshot of every process, thread, mapping and fd. */
  snapshot(): KernelSnapshot {
    return snapshot(this);
  }

  // ---- hooks for the hardware and the driver -------------------------------------------------------

  /**
   * Registers a character device node (misc_register() + devtmpfs). `open()` of the path creates a
   * description whose operations are `fops`.
   */
  registerDevice(path: string, fops: FileOperations, opts?: DeviceOpts): Inode {
    return this.vfs.registerDevice(path, fops, opts);
  }

  /** Subscribes to TLB shootdowns (the CPU model invalidates its TLBs). */
  onTlbFlush(listener: (e: TlbFlushEvent) => void): void {
    this.tlbListeners.push(listener);
  }

  /**
   * Subscribes to new program images (spawn): the listener maps what arch_setup_additional_pages() maps into a
   * fresh mm, e.g. the vDSO. fork() copies those mappings like any other.
   */
  onExec(listener: (t: Task) => void): void {
    this.execListeners.push(listener);
  }

  /** Subscribes to address-space switches on a CPU (the CPU model loads CR3). */
  onSwitchMm(listener: (cpu: number, prev: Mm | null, next: Mm | null) => void): void {
    this.switchListeners.push(listener);
  }

  /**
   * flush_tlb_mm_range(): PTEs of `mm` changed. Every CPU in mm_cpumask may cache them: the listeners flush
   * them, and the other CPUs get the shootdown IPI (which interrupts guest code there, as on hardware).
   */
  flushTlb(mm: Mm, start: number, end: number): void {
    const cpus = [...mm.cpumask].sort((a, b) => a - b);
    const cur = this.sched.currentCpu;
    this.trace.emit({
      t: this.sched.now(),
      cpu: cur?.id ?? -1,
      pid: cur?.current?.tgid ?? 0,
      tid: cur?.current?.tid ?? 0,
      ev: 'tlb_flush',
      data: { mm: mm.id, start, end, cpus },
    });
    for (const l of this.tlbListeners) l({ mm, start, end, cpus });
    const remote = cpus.filter((c) => c !== cur?.id);
    if (remote.length > 0) this.sendIpi(remote);
  }

  /**
   * Sends an IPI to CPUs (a TLB shootdown, or the SGX driver kicking threads out of an enclave after ETRACK with
   * on_each_cpu_mask(..., wait = 1)). The `onIpi` listeners run for every target CPU before this returns: that is
   * the interrupt being taken there (on a CPU in enclave mode, an AEX), which a waiting sender relies on. Guest
   * runners also see the interrupt at their next quantum (`GuestRunner.interrupt`).
   */
  sendIpi(cpus: Iterable<number>): void {
    const targets = [...new Set(cpus)].filter((c) => c >= 0 && c < this.sched.cpus.length).sort((a, b) => a - b);
    this.sched.sendIpi(targets, this.sched.currentCpu?.current);
    for (const cpu of targets) for (const l of this.ipiListeners) l(cpu);
  }

  /**
   * Subscribes to IPI arrival on each target CPU (the interrupt entry's architectural side effects). The ENCLU
   * layer connects this to an AEX of a CPU in enclave mode, which is what lets EWB's IPI step finish tracking.
   */
  onIpi(listener: (cpu: number) => void): void {
    this.ipiListeners.push(listener);
  }

  // ---- trace helpers -------------------------------------------------------------------------------

  traceTask(t: Task, ev: string, data: Record<string, unknown>): void {
    this.trace.record(this.sched.now(t), t.cpu ?? -1, t.tgid, t.tid, ev, data);
  }

  traceProcess(p: Process, ev: string, data: Record<string, unknown>): void {
    this.trace.record(this.sched.now(), this.sched.currentCpu?.id ?? -1, p.pid, 0, ev, data);
  }

  /** Pages of RAM in use. */
  get usedPages(): number {
    return this.pages.usedPages;
  }

  static readonly PAGE_SIZE = PAGE_SIZE;
}
