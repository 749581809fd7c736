/**
 * Thread and process exit (kernel/exit.c): do_exit(), do_group_exit(), exit_notify() with re-parenting to
 * init, release_task(), and the child-selection part of wait4 (do_wait()).
 */
import {
  __WALL,
  __WCLONE,
  CLD_DUMPED,
  CLD_EXITED,
  CLD_KILLED,
  ECHILD,
  type Errno,
  SA_NOCLDWAIT,
  SIGCHLD,
  W_CONTINUED,
  WCONTINUED,
  WCOREDUMP,
  WEXITSTATUS,
  WIFEXITED,
  WNOWAIT,
  WTERMSIG,
  WUNTRACED,
} from '../abi/index';
import type { Kernel } from '../kernel';
import { exitMmap } from '../mm/exit-mmap';
import { unixGc } from '../net/unix-gc';
import type { Process } from './process';
import type { Task } from './task';

/** A child wait4 found: its pid, status word and times. */
export interface WaitResult {
  readonly pid: number;
  readonly status: number;
  readonly utime: number;
  readonly stime: number;
  readonly minflt: number;
}

export class Exits {
  constructor(private readonly k: Kernel) {}

  /**
   * do_group_exit(): every thread of `p` dies now with wait status `status` (the first caller wins).
   * Threads blocked, runnable, stopped or running guest code are taken off their queues and CPUs.
   */
  groupExit(p: Process, status: number): void {
    if (p.groupExit !== undefined || p.state !== 'alive') return;
    p.groupExit = status;
    for (const t of [...p.threads]) this.killThread(t);
  }

  /** Kills one thread of a dying group (the SIGKILL every thread gets in zap_other_threads()). */
  killThread(t: Task): void {
    if (t.state === 'dead') return;
    this.exitThread(t, t.process.groupExit ?? 0);
  }

  /**
   * do_exit() for one thread: off the CPU, its mm/files/sighand references dropped, and when it was the
   * last thread, the process exits with `status` (a wait status word).
   */
  exitThread(t: Task, status: number): void {
    if (t.state === 'dead') return;
    const k = this.k;
    // A thread dying in guest mode (running or preempted) lets the runner drop its state (the AEX already
    // happened at the interrupt that took the CPU away).
    if (t.guest && t.mm) t.guest.abort?.({ task: t, cpu: t.cpu ?? t.lastCpu ?? 0, mm: t.mm });
    t.guest = undefined;
    k.sched.remove(t);
    const p = t.process;
    const i = p.threads.indexOf(t);
    if (i >= 0) p.threads.splice(i, 1);
    p.deadUtime += t.utime;
    p.deadStime += t.stime;
    p.minflt += t.minflt;
    k.tasks.delete(t.tid);
    k.traceTask(t, 'thread_exit', {});
    // exit_mm(), exit_files(), exit_sighand: drop this thread's references.
    const mm = t.mm;
    t.mm = null;
    if (mm && --mm.users === 0) exitMmap(mm);
    const files = t.files;
    t.files = null;
    if (files && --files.users === 0) {
      files.closeAll();
      unixGc(k.liveFiles);
    }
    t.sighand.users--;
    if (p.threads.length === 0) this.exitNotify(p, p.groupExit ?? status);
  }

  /** exit_notify(): zombie, orphans to init, SIGCHLD and a wake-up for the parent (or auto-reap). */
  private exitNotify(p: Process, status: number): void {
    const k = this.k;
    p.exitStatus = status;
    p.state = 'zombie';
    k.traceProcess(p, 'exit', { status });
    // forget_original_parent(): children go to init (no subreapers here).
    const init = k.init;
    for (const c of [...p.children]) {
      p.children.delete(c);
      c.parent = init;
      init.children.add(c);
      if (c.state === 'zombie') this.reap(c);
    }
    const parent = p.parent;
    if (!parent || parent.isInit || parent.state !== 'alive') {
      this.reap(p);
      return;
    }
    // do_notify_parent(): a parent ignoring SIGCHLD (or with SA_NOCLDWAIT) gets no zombie.
    const leader = parent.threads[0];
    const act = leader?.sighand.get(SIGCHLD);
    const autoreap = act !== undefined && (act.handler === 'SIG_IGN' || (act.flags & SA_NOCLDWAIT) !== 0);
    if (p.exitSignal && !(act?.handler === 'SIG_IGN' && p.exitSignal === SIGCHLD)) {
      const code = WIFEXITED(status) ? CLD_EXITED : WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED;
      const st = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
      k.signals.kill(parent, p.exitSignal, {
        si_signo: p.exitSignal,
        si_code: code,
        si_errno: 0,
        si_pid: p.pid,
        si_uid: 0,
        si_status: st,
      });
    }
    parent.childWait.wakeAll();
    if (autoreap) this.reap(p);
  }

  /** release_task(): the zombie disappears; init records the status for Kernel.exitStatus(). */
  reap(p: Process): void {
    if (p.state !== 'zombie') return;
    p.state = 'reaped';
    const parent = p.parent;
    if (parent) {
      parent.children.delete(p);
      const { utime, stime } = p.times();
      parent.cutime += utime + p.cutime;
      parent.cstime += stime + p.cstime;
    }
    this.k.processes.delete(p.pid);
    this.k.reaped.set(p.pid, p.exitStatus!);
  }

  /**
   * do_wait()'s scan for wait4: the first eligible child (fork order) with something to report.
   * @returns the report, 'none' when eligible children exist but none is ready, or ECHILD.
   */
  scan(parent: Process, pid: number, options: number, callerPgid: number): WaitResult | 'none' | Errno {
    let eligible = 0;
    for (const c of parent.children) {
      if (pid > 0 && c.pid !== pid) continue;
      if (pid === 0 && c.pgid !== callerPgid) continue;
      if (pid < -1 && c.pgid !== -pid) continue;
      // eligible_child(): "Wait for all children (clone and not) if __WALL is set, otherwise wait for clone
      // children *only* if __WCLONE is also set".
      if (!(options & __WALL) && (c.exitSignal !== SIGCHLD) !== ((options & __WCLONE) !== 0)) continue;
      eligible++;
      if (c.state === 'zombie') {
        const { utime, stime } = c.times();
        const r: WaitResult = {
          pid: c.pid,
          status: c.exitStatus!,
          utime: utime + c.cutime,
          stime: stime + c.cstime,
          minflt: c.minflt,
        };
        if (!(options & WNOWAIT)) this.reap(c);
        return r;
      }
      if (options & WUNTRACED && c.stopReport !== undefined) {
        const r = { pid: c.pid, status: c.stopReport, utime: 0, stime: 0, minflt: 0 };
        if (!(options & WNOWAIT)) c.stopReport = undefined;
        return r;
      }
      if (options & WCONTINUED && c.continueReport) {
        if (!(options & WNOWAIT)) c.continueReport = false;
        return { pid: c.pid, status: W_CONTINUED, utime: 0, stime: 0, minflt: 0 };
      }
    }
    return eligible === 0 ? ECHILD : 'none';
  }
}
