/**
 * Signal generation and delivery (kernel/signal.c): __send_signal_locked(), prepare_signal(),
 * complete_signal(), force_sig_fault(), get_signal() and the group stop. Handlers are host callbacks; the
 * frame they run in saves the signal mask, and rt_sigreturn restores it.
 */
import {
  CLD_CONTINUED,
  CLD_STOPPED,
  defaultAction,
  SA_NOCLDSTOP,
  SA_NODEFER,
  SA_RESETHAND,
  SI_KERNEL,
  SIGBUS,
  SIGCHLD,
  SIGCONT,
  SIGFPE,
  SIGILL,
  SIGKILL,
  SIGRTMIN,
  SIGSEGV,
  SIGSTOP,
  SIGSYS,
  SIGTRAP,
  type SigInfo,
  sigmask,
  signalName,
  wSignaled,
  wStopped,
} from '../abi/index';
import type { Kernel } from '../kernel';
import type { Process } from './process';
import { SIG_DFL_ACTION, type SigAction } from './sighand';
import type { PendingSignal, Task } from './task';

/** Signals dequeued before others (kernel/signal.c SYNCHRONOUS_MASK). */
const SYNCHRONOUS = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS];

/** What get_signal() decided for a task returning to user mode. */
export type GetSignal =
  | { readonly kind: 'none' }
  | { readonly kind: 'deliver'; readonly sig: number; readonly info: SigInfo; readonly action: SigAction }
  | { readonly kind: 'stop' }
  | { readonly kind: 'dead' };

function isStopSignal(sig: number): boolean {
  return defaultAction(sig) === 'stop';
}

export class Signals {
  constructor(private readonly k: Kernel) {}

  /** sig_task_ignored()/sig_ignored(): a signal that would be dropped at generation. */
  private ignored(t: Task, sig: number): boolean {
    if (t.sigmask & sigmask(sig)) return false;
    const h = t.sighand.get(sig).handler;
    if (t.process.isInit && h === 'SIG_DFL') return true;
    if (h === 'SIG_IGN') return true;
    if (h !== 'SIG_DFL') return false;
    const a = defaultAction(sig);
    return a === 'ign' || a === 'cont';
  }

  private removeFromPending(p: Process, pred: (sig: number) => boolean): void {
    const lists = [p.sharedPending, ...p.threads.map((t) => t.pending)];
    for (const l of lists) {
      for (let i = l.length - 1; i >= 0; i--) if (pred(l[i]!.info.si_signo)) l.splice(i, 1);
    }
  }

  /**
   * prepare_signal(): job control side effects at generation (a stop signal cancels a pending SIGCONT;
   * SIGCONT resumes a stopped group and cancels pending stops), then the ignore check.
   */
  private prepare(p: Process, target: Task, sig: number): boolean {
    // "The process is in the middle of dying, drop the signal."
    if (p.groupExit !== undefined) return false;
    if (isStopSignal(sig)) {
      this.removeFromPending(p, (s) => s === SIGCONT);
    } else if (sig === SIGCONT) {
      this.removeFromPending(p, isStopSignal);
      if (p.stopSig !== undefined) {
        p.stopSig = undefined;
        p.stopReport = undefined;
        p.continueReport = true;
        for (const t of p.threads) this.k.sched.resumeStopped(t);
        this.notifyParentCldstop(p, CLD_CONTINUED, SIGCONT);
      }
    }
    return !this.ignored(target, sig);
  }

  /** wants_signal(). */
  private wants(sig: number, t: Task): boolean {
    if (t.sigmask & sigmask(sig)) return false;
    if (t.state === 'dead') return false;
    if (sig === SIGKILL) return true;
    if (t.state === 'stopped') return false;
    // "task_curr(p) || !task_sigpending(p)": prefer a thread that is running or not already signalled.
    return t.cpu !== undefined || !t.sigpendingFlag;
  }

  /** signal_wake_up(): interrupt a sleep, or kick a CPU running the task's guest code. */
  private wakeUp(t: Task, fatal: boolean): void {
    t.sigpendingFlag = true;
    if (t.state === 'blocked' && (!t.blockedOn?.block.uninterruptible || fatal)) this.k.sched.wakeTask(t, 'signal');
    else if (t.state === 'stopped' && fatal) this.k.sched.resumeStopped(t);
    else if (t.guest && t.cpu !== undefined) this.k.sendIpi([t.cpu]);
  }

  /** sig_fatal(): the default action kills and nobody handles it. */
  private fatal(p: Process, sig: number): boolean {
    const leader = p.threads[0];
    if (!leader) return false;
    if (leader.sighand.get(sig).handler !== 'SIG_DFL') return false;
    const a = defaultAction(sig);
    return a === 'term' || a === 'core';
  }

  /**
   * __send_signal_locked(): queues `sig` for `t` (thread-directed) or its whole process (`group`), then
   * complete_signal() picks a thread to wake. Non-real-time signals do not queue twice.
   */
  send(t: Task, sig: number, info: SigInfo, group: boolean): void {
    const p = t.process;
    if (p.state !== 'alive') return;
    if (!this.prepare(p, t, sig)) return;
    const pending = group ? p.sharedPending : t.pending;
    if (sig < SIGRTMIN && pending.some((x) => x.info.si_signo === sig)) return;
    pending.push({ info });
    this.k.traceTask(t, 'signal_generate', { sig: signalName(sig), code: info.si_code, group });
    this.complete(p, t, sig, group);
  }

  private complete(p: Process, target: Task, sig: number, group: boolean): void {
    let t: Task | undefined;
    if (this.wants(sig, target)) t = target;
    else if (!group || p.threads.length <= 1) return;
    else t = p.threads.find((x) => this.wants(sig, x));
    if (!t) return;
    if (
      this.fatal(p, sig) &&
      p.groupExit === undefined &&
      !(t.sigmask & sigmask(sig)) &&
      defaultAction(sig) === 'term'
    ) {
      // "This signal will be fatal to the whole group."
      this.k.exits.groupExit(p, wSignaled(sig));
      return;
    }
    this.wakeUp(t, sig === SIGKILL);
  }

  /** kill(2) to a process: a shared signal. */
  kill(p: Process, sig: number, info: SigInfo): void {
    const leader = p.threads[0];
    if (leader) this.send(leader, sig, info, true);
  }

  /**
   * force_sig_fault(): a synchronous fault signal for `t`. If the task blocks or ignores it, the disposition
   * is reset to SIG_DFL and the signal unblocked, so an unhandled fault always kills.
   */
  forceSigFault(t: Task, sig: number, code: number, addr: number): void {
    const act = t.sighand.get(sig);
    const blocked = (t.sigmask & sigmask(sig)) !== 0n;
    if (blocked || act.handler === 'SIG_IGN') {
      if (act.handler === 'SIG_IGN' || blocked) t.sighand.set(sig, SIG_DFL_ACTION);
      t.sigmask &= ~sigmask(sig);
    }
    const info: SigInfo = { si_signo: sig, si_code: code, si_errno: 0, si_addr: addr };
    this.send(t, sig, info, false);
  }

  /** Any signal that get_signal() would act on: a dying group, a group stop, or an unblocked pending one. */
  hasDeliverable(t: Task): boolean {
    const p = t.process;
    if (p.groupExit !== undefined) return true;
    if (p.stopSig !== undefined && t.state !== 'stopped') return true;
    return unblockedIn(t, t.pending) || unblockedIn(t, p.sharedPending);
  }

  /** dequeue_signal(): synchronous signals first, then the lowest number; private queue before shared. */
  private dequeue(t: Task): PendingSignal | undefined {
    // Nearly every return to user mode has nothing queued.
    if (t.pending.length === 0 && t.process.sharedPending.length === 0) return undefined;
    for (const list of [t.pending, t.process.sharedPending]) {
      let best = -1;
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!.info.si_signo;
        if (t.sigmask & sigmask(s)) continue;
        if (best < 0) {
          best = i;
          continue;
        }
        const b = list[best]!.info.si_signo;
        const sSync = SYNCHRONOUS.includes(s);
        const bSync = SYNCHRONOUS.includes(b);
        if ((sSync && !bSync) || (sSync === bSync && s < b)) best = i;
      }
      if (best >= 0) return list.splice(best, 1)[0];
    }
    return undefined;
  }

  /** get_signal(): what `t` does with its pending signals on the way back to user mode. */
  getSignal(t: Task): GetSignal {
    const p = t.process;
    for (;;) {
      if (p.groupExit !== undefined) {
        this.k.exits.killThread(t);
        return { kind: 'dead' };
      }
      if (p.stopSig !== undefined) return { kind: 'stop' };
      const ps = this.dequeue(t);
      if (!ps) {
        // recalc_sigpending()
        t.sigpendingFlag = false;
        return { kind: 'none' };
      }
      const sig = ps.info.si_signo;
      const act = t.sighand.get(sig);
      if (act.handler === 'SIG_IGN') continue;
      if (typeof act.handler === 'function') {
        if (act.flags & SA_RESETHAND) t.sighand.set(sig, SIG_DFL_ACTION);
        return { kind: 'deliver', sig, info: ps.info, action: act };
      }
      const a = defaultAction(sig);
      if (a === 'ign' || a === 'cont') continue;
      if (p.isInit) continue;
      if (a === 'stop') {
        this.startGroupStop(p, sig);
        return { kind: 'stop' };
      }
      // Term or core: no core file can be written (the root is read-only), so WCOREFLAG stays clear.
      this.k.traceTask(t, 'signal_fatal', { sig: signalName(sig) });
      this.k.exits.groupExit(p, wSignaled(sig));
      return { kind: 'dead' };
    }
  }

  /**
   * do_signal_stop(): the whole group stops. Every other thread gets signal_wake_up(): sleepers are woken, and a
   * CPU running a thread's guest code is kicked (an IPI, so a thread in an enclave AEXes before it stops).
   */
  private startGroupStop(p: Process, sig: number): void {
    p.stopSig = sig;
    p.stopNotified = false;
    p.continueReport = false;
    for (const t of p.threads) if (t.state === 'blocked' || t.guest) this.wakeUp(t, false);
  }

  /** A thread reached its stop point; the last one reports the stop to the parent. */
  threadStopped(t: Task): void {
    const p = t.process;
    if (p.stopSig === undefined) return;
    if (!p.stopNotified && p.threads.every((x) => x.state === 'stopped' || x === t)) {
      p.stopNotified = true;
      p.stopReport = wStopped(p.stopSig);
      this.notifyParentCldstop(p, CLD_STOPPED, p.stopSig);
    }
  }

  /** do_notify_parent_cldstop(): SIGCHLD unless the parent set SA_NOCLDSTOP; wake its wait4. */
  private notifyParentCldstop(p: Process, why: number, status: number): void {
    const parent = p.parent;
    if (parent?.state !== 'alive') return;
    const leader = parent.threads[0];
    if (leader && !(leader.sighand.get(SIGCHLD).flags & SA_NOCLDSTOP)) {
      this.kill(parent, SIGCHLD, {
        si_signo: SIGCHLD,
        si_code: why,
        si_errno: 0,
        si_pid: p.pid,
        si_uid: 0,
        si_status: status,
      });
    }
    parent.childWait.wakeAll();
  }

  /** setup_rt_frame()'s mask part: block sa_mask and (without SA_NODEFER) the signal itself. */
  enterHandler(t: Task, sig: number, act: SigAction): void {
    t.sigframes.push(t.sigmask);
    let m = t.sigmask | act.mask;
    if (!(act.flags & SA_NODEFER)) m |= sigmask(sig);
    t.sigmask = m & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
  }

  /** rt_sigreturn(): restores the mask saved by the frame. @returns false for a bad frame (no frame). */
  sigreturn(t: Task): boolean {
    const m = t.sigframes.pop();
    if (m === undefined) return false;
    t.sigmask = m;
    return true;
  }

  /** A kernel-originated signal's siginfo (SI_KERNEL). */
  static kernelInfo(sig: number): SigInfo {
    return { si_signo: sig, si_code: SI_KERNEL, si_errno: 0 };
  }
}

/** Whether `list` holds a signal `t` does not block. */
function unblockedIn(t: Task, list: readonly PendingSignal[]): boolean {
  for (const x of list) if (!(t.sigmask & sigmask(x.info.si_signo))) return true;
  return false;
}
