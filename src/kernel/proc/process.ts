/**
 * A thread group: struct signal_struct plus the process-level parts of task_struct (pid, parent, children,
 * exit status). Process lifecycle:
 *
 *   alive ──(last thread exits)──► zombie ──(wait4 by the parent, or auto-reap)──► reaped
 *
 * Orphans are re-parented to init (pid 1), which reaps them at once and records their status.
 */
import { RLIMIT_AS, RLIMIT_CORE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_STACK, SIGCHLD } from '../abi/index';
import { WaitQueue } from '../sched/wait-queue';
import type { PendingSignal, Task } from './task';

export type ProcessState = 'alive' | 'zombie' | 'reaped';

export interface Rlimit {
  cur: number;
  max: number;
}

/** Defaults of a fresh login shell on x86-64 Linux (ulimit -a), with RLIMIT_NOFILE from the kernel options. */
export function defaultRlimits(nofile: number): Map<number, Rlimit> {
  const inf = Number.POSITIVE_INFINITY;
  const m = new Map<number, Rlimit>();
  for (let r = 0; r < 16; r++) m.set(r, { cur: inf, max: inf });
  m.set(RLIMIT_STACK, { cur: 8 * 1024 * 1024, max: inf });
  m.set(RLIMIT_CORE, { cur: 0, max: inf });
  m.set(RLIMIT_NOFILE, { cur: nofile, max: Math.max(nofile, 4096) });
  m.set(RLIMIT_NPROC, { cur: inf, max: inf });
  m.set(RLIMIT_AS, { cur: inf, max: inf });
  return m;
}

export class Process {
  state: ProcessState = 'alive';
  parent: Process | undefined;
  /** Children in fork order (list_add_tail on real_parent->children). */
  readonly children = new Set<Process>();
  /** Live threads, leader first. */
  readonly threads: Task[] = [];
  /** The wait4 status word once the process has exited. */
  exitStatus: number | undefined;
  /** Set once a group exit started (SIGNAL_GROUP_EXIT): the wait status all threads die with. */
  groupExit: number | undefined;
  /** Shared pending signals (kill()). */
  readonly sharedPending: PendingSignal[] = [];
  /** wait_chldexit: parents sleeping in wait4. */
  readonly childWait = new WaitQueue('wait_chldexit');
  /** Group stop: the stopping signal while stopped. */
  stopSig: number | undefined;
  /** Job-control events not yet collected by wait4 (WUNTRACED / WCONTINUED). */
  stopReport: number | undefined;
  /** The current stop has been reported to the parent. */
  stopNotified = false;
  continueReport = false;
  readonly rlimits: Map<number, Rlimit>;
  /** Accumulated times of this process's dead threads, and of reaped children (cutime/cstime). */
  deadUtime = 0;
  deadStime = 0;
  cutime = 0;
  cstime = 0;
  minflt = 0;

  constructor(
    readonly pid: number,
    public pgid: number,
    public comm: string,
    rlimits: Map<number, Rlimit>,
    /** The signal sent to the parent on exit (clone's CSIGNAL byte; SIGCHLD for fork). */
    readonly exitSignal: number = SIGCHLD,
    /** init: unkillable by signals it has no handler for, reaps orphans. */
    readonly isInit = false,
  ) {
    this.rlimits = rlimits;
  }

  rlimit(resource: number): Rlimit {
    return this.rlimits.get(resource)!;
  }

  get leader(): Task | undefined {
    return this.threads[0];
  }

  /** Total user and system cycles of live and dead threads. */
  times(): { utime: number; stime: number } {
    let utime = this.deadUtime;
    let stime = this.deadStime;
    for (const t of this.threads) {
      utime += t.utime;
      stime += t.stime;
    }
    return { utime, stime };
  }
}
