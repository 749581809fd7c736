/**
 * struct task_struct: one thread (gVisor's kernel.Task). A host thread is a TypeScript async function; each
 * of its syscalls is a kernel entry that parks it until the scheduler runs the entry on a CPU. Drivers get
 * the Task as `current`: it carries the mm, the fd table and the uaccess helpers.
 *
 * Task states:
 *
 *   new ──► runnable ◄──► running ──► dead
 *              ▲  ▲          │  │
 *              │  └ blocked ◄┘  │   (a syscall returned block(); woken by its wait queue, a timeout
 *              │                │    or a signal)
 *              └── stopped ◄────┘   (SIGSTOP group stop until SIGCONT)
 */
import type { Errno, SigInfo } from '../abi/index';
import type { FdTable } from '../fd/fd-table';
import type { OpenFile } from '../fd/file';
import type { Kernel } from '../kernel';
import type { Mm } from '../mm/mm';
import { copyFromUser, copyToUser } from '../mm/uaccess';
import type { GuestRunner } from '../sched/guest';
import type { Block, Waiter, WaitQueue } from '../sched/wait-queue';
import type { Sys } from '../syscalls/sys';
import type { Process } from './process';
import type { SigHand, SignalHandler } from './sighand';

/** Result of a kernel function run at a scheduling point: a value, an Errno, or block and retry. */
export type CallResult = number | Errno | Block;

/** What a host thread asks of the kernel. */
export type KernelRequest =
  /** First return to user mode of a new thread (ret_from_fork). */
  | { readonly kind: 'start' }
  | { readonly kind: 'syscall'; readonly nr: number; readonly args: readonly unknown[] }
  /**
   * A user-mode load (no data) or store (data) by host code; with `rmw`, one locked read-modify-write
   * instruction (LOCK CMPXCHG, LOCK XADD, XCHG): `rmw` maps the old bytes to the new ones, atomically.
   */
  | {
      readonly kind: 'access';
      readonly addr: number;
      readonly len: number;
      readonly data?: Uint8Array;
      readonly rmw?: (old: Uint8Array) => Uint8Array;
    }
  | { readonly kind: 'guest'; readonly runner: GuestRunner }
  /** A kernel function at a scheduling point (kernel threads, tests). */
  | { readonly kind: 'call'; readonly name: string; readonly fn: (t: Task) => CallResult }
  /** The thread function returned. */
  | { readonly kind: 'return'; readonly value: unknown }
  /** The thread function threw: a bug in the host program. */
  | { readonly kind: 'throw'; readonly error: unknown };

/** A signal frame for the host side to run (setup_rt_frame()). */
export interface SignalDelivery {
  readonly sig: number;
  readonly info: SigInfo;
  readonly handler: SignalHandler;
}

/** What the return to user mode hands the Sys wrapper after a signal delivery (Sys.afterSignal()). */
export interface EntryResult {
  readonly value: unknown;
  readonly deliver?: SignalDelivery;
  /** Issue the same request again after the handler (syscall restart, or guest code continuing). */
  readonly restart?: boolean;
}

export type TaskState = 'new' | 'runnable' | 'running' | 'blocked' | 'stopped' | 'dead';

/** The kernel entry a task is in. `state` survives re-execution after a block (restart_block's role). */
export interface Entry {
  readonly req: KernelRequest;
  /**
   * Returns to the host code: with the call's user-visible value, or (after a signal delivery) with the promise of
   * the host half that runs the handler and then returns or restarts (Sys.afterSignal()).
   */
  readonly resolve: (value: unknown) => void;
  readonly state: Record<string, unknown>;
  /** The return value once computed, while the return to user mode is pending (e.g. stopped). */
  done?: { value: unknown };
}

/** A pending signal: siginfo plus where it was queued. */
export interface PendingSignal {
  readonly info: SigInfo;
}

/** Why a blocked task was woken. */
export type WakeReason = 'event' | 'timeout' | 'signal';

export class Task implements Waiter {
  state: TaskState = 'new';
  /** The CPU the task is on, while running. */
  cpu: number | undefined;
  lastCpu: number | undefined;
  /** Virtual time at which the task became runnable. */
  readyAt = 0;
  entry: Entry | undefined;
  /** Signal mask (blocked), 64-bit. */
  sigmask = 0n;
  /** Saved masks of running handlers (rt_sigreturn pops). */
  readonly sigframes: bigint[] = [];
  /** TIF_SIGPENDING: set by signal_wake_up(), cleared when get_signal() finds nothing more. */
  sigpendingFlag = false;
  /** Private pending signals (tkill/tgkill, faults). */
  readonly pending: PendingSignal[] = [];
  /** Queues the task sleeps on, and its timeout. */
  blockedOn: { readonly queues: readonly WaitQueue[]; readonly deadline?: number; readonly block: Block } | undefined;
  wakeReason: WakeReason | undefined;
  /** Set while the task runs guest code. */
  guest: GuestRunner | undefined;
  /** Cycles spent in user mode (host steps and guest code) and in the kernel. */
  utime = 0;
  stime = 0;
  /** Minor faults taken (ru_minflt). */
  minflt = 0;
  /** The host code has been started (the first return to user mode happened). */
  started = false;
  /** Returning from `main` ends the whole process (a process's first thread), not just this thread. */
  groupMain = false;
  /**
   * The scheduler handed this task's CPU to its host code and waits for that code to enter the kernel again (the
   * end of the step); cleared when it does.
   */
  hostRunning = false;
  /** Set by clone(CLONE_CHILD_CLEARTID)-less threads: nothing; kept for ps. */
  readonly comm: string;
  sys!: Sys;

  constructor(
    readonly kernel: Kernel,
    readonly tid: number,
    public process: Process,
    public mm: Mm | null,
    public files: FdTable | null,
    public sighand: SigHand,
    readonly main: ((sys: Sys) => unknown) | undefined,
    comm: string,
    /** A kernel thread (no mm, never returns to user mode). */
    readonly kthread = false,
  ) {
    this.comm = comm;
  }

  /** Thread-group id: the process's pid (getpid()). */
  get tgid(): number {
    return this.process.pid;
  }

  /** Task id (gettid()). */
  get pid(): number {
    return this.tid;
  }

  /** Waiter.wake(): a wait queue this task sleeps on was woken. */
  wake(): void {
    this.kernel.sched.wakeTask(this, 'event');
  }

  // ---- the host side -------------------------------------------------------------------------------

  /**
   * Parks the host thread in the kernel until the scheduler has run `req` and returns to user mode.
   * @returns the call's user-visible value (Sys runs signal handlers and restarts behind it).
   */
  enter(req: KernelRequest): Promise<unknown> {
    if (this.entry) throw new Error(`task ${this.tid} entered the kernel twice (a host thread must await each call)`);
    let resolve!: (value: unknown) => void;
    const done = new Promise<unknown>((r) => {
      resolve = r;
    });
    this.entry = { req, resolve, state: {} };
    this.signalStopped();
    return done;
  }

  /** The host code is back in the kernel: the scheduler's step that resumed it ends (it may run the next one now). */
  private signalStopped(): void {
    if (!this.hostRunning) return;
    this.hostRunning = false;
    this.kernel.sched.hostStopped(this);
  }

  /** Starts the thread function (the first return to user mode). */
  startHostCode(): void {
    const fn = this.main;
    if (!fn) {
      this.entry = { req: { kind: 'return', value: 0 }, resolve: () => {}, state: {} };
      this.signalStopped();
      return;
    }
    let ret: unknown;
    try {
      ret = fn(this.sys);
    } catch (error) {
      this.finishHostCode({ kind: 'throw', error });
      return;
    }
    Promise.resolve(ret).then(
      (value) => this.finishHostCode({ kind: 'return', value }),
      (error) => this.finishHostCode({ kind: 'throw', error }),
    );
  }

  private finishHostCode(req: KernelRequest): void {
    if (this.state === 'dead') return;
    this.entry = { req, resolve: () => {}, state: {} };
    this.signalStopped();
  }

  // ---- what drivers use as `current` ---------------------------------------------------------------

  /** copy_from_user() in this task's mm: the bytes, or EFAULT. */
  copyFromUser(addr: number, len: number): Uint8Array | Errno {
    if (!this.mm) throw new Error('copy_from_user from a kernel thread');
    return copyFromUser(this.mm, addr, len);
  }

  /** copy_to_user() in this task's mm: 0 or EFAULT. */
  copyToUser(addr: number, bytes: Uint8Array): 0 | Errno {
    if (!this.mm) throw new Error('copy_to_user from a kernel thread');
    return copyToUser(this.mm, addr, bytes);
  }

  /** signal_pending(): an unblocked signal waits for this task (or its process is dying). */
  signalPending(): boolean {
    return this.kernel.signals.hasDeliverable(this);
  }

  /** fatal_signal_pending(). */
  fatalSignalPending(): boolean {
    return this.process.groupExit !== undefined;
  }

  /** fget(): the description behind `fd` with a new reference (fput() it when done), or undefined. */
  fget(fd: number): OpenFile | undefined {
    return this.files?.get(fd)?.get();
  }

  /** The current virtual time in cycles on this task's CPU. */
  now(): number {
    return this.kernel.sched.now(this);
  }
}
