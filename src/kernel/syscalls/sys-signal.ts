/** Signal syscalls (kernel/signal.c): kill, tkill, tgkill, rt_sigaction, rt_sigprocmask, rt_sigpending, pause. */
import {
  defaultAction,
  EFAULT,
  EINVAL,
  ERESTARTNOHAND,
  type Errno,
  ESRCH,
  isErrno,
  NSIG,
  SI_TKILL,
  SI_USER,
  SIG_BLOCK,
  SIG_SETMASK,
  SIG_UNBLOCK,
  SIGKILL,
  SIGSEGV,
  SIGSET_SIZE,
  SIGSTOP,
  type SigInfo,
  sigmask,
  UNBLOCKABLE,
} from '../abi/index';
import type { Process } from '../proc/process';
import type { SigAction, SigDisposition } from '../proc/sighand';
import type { Task } from '../proc/task';
import { block } from '../sched/wait-queue';
import { argHost, argInt, argU64 } from './args';
import type { SyscallArgs, SyscallCtx, SyscallResult } from './types';

/** The action argument of rt_sigaction as host code passes it (sa_handler cannot live in process memory). */
export interface SigActionArg {
  readonly handler: SigDisposition;
  readonly flags?: number;
  readonly mask?: bigint;
}

/** Filled with the previous action by rt_sigaction when given (the `oldact` out-parameter). */
export interface SigActionOut {
  handler?: SigDisposition;
  flags?: number;
  mask?: bigint;
}

function validSig(sig: number): boolean {
  return sig >= 0 && sig <= NSIG;
}

function userInfo(sig: number, t: Task, code = SI_USER): SigInfo {
  return { si_signo: sig, si_code: code, si_errno: 0, si_pid: t.tgid, si_uid: 0 };
}

/** Sends to one process; kernel threads and zombies accept and ignore it. */
function sendTo(ctx: SyscallCtx, t: Task, p: Process, sig: number): void {
  if (sig === 0 || p.state !== 'alive') return;
  if (p.threads.every((x) => x.kthread)) return;
  ctx.k.signals.kill(p, sig, userInfo(sig, t));
}

/**
 * kill(2): pid > 0 a process, 0 the caller's process group, -1 every process but init and the caller,
 * < -1 the process group -pid. Signal 0 only checks existence.
 * @returns 0, or EINVAL (bad signal), ESRCH (nobody matched).
 */
export function sysKill(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const pid = argInt(a, 0);
  const sig = argInt(a, 1);
  if (!validSig(sig)) return EINVAL;
  const k = ctx.k;
  if (pid > 0) {
    const p = k.processes.get(pid);
    if (!p || p.state === 'reaped') return ESRCH;
    sendTo(ctx, t, p, sig);
    return 0;
  }
  let targets: Process[];
  if (pid === -1) {
    // "all processes for which the calling process has permission to send signals, except for process 1
    // (init)" and, on Linux, the caller itself.
    targets = [...k.processes.values()].filter((p) => !p.isInit && p !== t.process && p.state !== 'reaped');
  } else {
    const pgid = pid === 0 ? t.process.pgid : -pid;
    targets = [...k.processes.values()].filter((p) => p.pgid === pgid && p.state !== 'reaped' && !p.isInit);
  }
  if (targets.length === 0) return ESRCH;
  for (const p of targets) sendTo(ctx, t, p, sig);
  return 0;
}

function doTkill(t: Task, ctx: SyscallCtx, tgid: number, tid: number, sig: number): SyscallResult {
  const target = ctx.k.tasks.get(tid);
  if (!target || (tgid > 0 && target.tgid !== tgid)) return ESRCH;
  if (sig === 0 || target.kthread) return 0;
  ctx.k.signals.send(target, sig, userInfo(sig, t, SI_TKILL), false);
  return 0;
}

/** tgkill(2). @returns 0, or EINVAL (tgid/tid ≤ 0, bad signal), ESRCH. */
export function sysTgkill(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const tgid = argInt(a, 0);
  const tid = argInt(a, 1);
  const sig = argInt(a, 2);
  if (tgid <= 0 || tid <= 0 || !validSig(sig)) return EINVAL;
  return doTkill(t, ctx, tgid, tid, sig);
}

/** tkill(2). @returns 0, or EINVAL, ESRCH. */
export function sysTkill(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const tid = argInt(a, 0);
  const sig = argInt(a, 1);
  if (tid <= 0 || !validSig(sig)) return EINVAL;
  return doTkill(t, ctx, 0, tid, sig);
}

/**
 * rt_sigaction(2) with a host handler: (sig, act | null, oldact out-object | null, sigsetsize).
 * Setting SIG_IGN (or SIG_DFL for a default-ignored signal) discards pending instances (do_sigaction()).
 * @returns 0, or EINVAL (sigsetsize ≠ 8, bad signal, changing SIGKILL/SIGSTOP).
 */
export function sysRtSigaction(t: Task, a: SyscallArgs): SyscallResult {
  const sig = argInt(a, 0);
  const act = argHost<SigActionArg | null>(a, 1) ?? null;
  const oldact = argHost<SigActionOut | null>(a, 2) ?? null;
  const size = a.length > 3 ? argU64(a, 3) : SIGSET_SIZE;
  if (size !== SIGSET_SIZE) return EINVAL;
  if (sig < 1 || sig > NSIG || (act && (sig === SIGKILL || sig === SIGSTOP))) return EINVAL;
  const old = t.sighand.get(sig);
  if (oldact) {
    oldact.handler = old.handler;
    oldact.flags = old.flags;
    oldact.mask = old.mask;
  }
  if (act) {
    const h = act.handler;
    if (h !== 'SIG_DFL' && h !== 'SIG_IGN' && typeof h !== 'function') return EINVAL;
    const na: SigAction = { handler: h, flags: (act.flags ?? 0) >>> 0, mask: (act.mask ?? 0n) & ~UNBLOCKABLE };
    t.sighand.set(sig, na);
    const ignored = h === 'SIG_IGN' || (h === 'SIG_DFL' && ['ign', 'cont'].includes(defaultAction(sig)));
    if (ignored) {
      const p = t.process;
      for (const l of [p.sharedPending, ...p.threads.map((x) => x.pending)]) {
        for (let i = l.length - 1; i >= 0; i--) if (l[i]!.info.si_signo === sig) l.splice(i, 1);
      }
    }
  }
  return 0;
}

function readSigset(t: Task, addr: number): bigint | Errno {
  const b = t.copyFromUser(addr, 8);
  if (isErrno(b)) return EFAULT;
  return new DataView(b.buffer).getBigUint64(0, true);
}

function writeSigset(t: Task, addr: number, v: bigint): 0 | Errno {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return t.copyToUser(addr, b) === 0 ? 0 : EFAULT;
}

/**
 * rt_sigprocmask(2): (how, set pointer, oldset pointer, sigsetsize). SIGKILL and SIGSTOP cannot be blocked.
 * @returns 0, or EINVAL (sigsetsize, how), EFAULT.
 */
export function sysRtSigprocmask(t: Task, a: SyscallArgs): SyscallResult {
  const how = argInt(a, 0);
  const set = argU64(a, 1);
  const oldset = argU64(a, 2);
  const size = a.length > 3 ? argU64(a, 3) : SIGSET_SIZE;
  if (size !== SIGSET_SIZE) return EINVAL;
  const old = t.sigmask;
  if (set) {
    const raw = readSigset(t, set);
    if (isErrno(raw)) return raw;
    const n = raw & ~UNBLOCKABLE;
    switch (how) {
      case SIG_BLOCK:
        t.sigmask |= n;
        break;
      case SIG_UNBLOCK:
        t.sigmask &= ~n;
        break;
      case SIG_SETMASK:
        t.sigmask = n;
        break;
      default:
        return EINVAL;
    }
  }
  if (oldset) return writeSigset(t, oldset, old);
  return 0;
}

/** rt_sigpending(2): pending signals that are blocked. @returns 0, or EINVAL (size > 8), EFAULT. */
export function sysRtSigpending(t: Task, a: SyscallArgs): SyscallResult {
  const set = argU64(a, 0);
  const size = a.length > 1 ? argU64(a, 1) : SIGSET_SIZE;
  if (size > SIGSET_SIZE) return EINVAL;
  let m = 0n;
  for (const x of [...t.pending, ...t.process.sharedPending]) m |= sigmask(x.info.si_signo);
  return writeSigset(t, set, m & t.sigmask);
}

/** rt_sigreturn(2): restores the mask of the innermost handler frame; no frame is a bad frame (SIGSEGV). */
export function sysRtSigreturn(t: Task, _a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  if (!ctx.k.signals.sigreturn(t)) ctx.k.signals.forceSigFault(t, SIGSEGV, 0x80, 0);
  return 0;
}

/** pause(2): sleeps until a signal is delivered. @returns EINTR (after the handler). */
export function sysPause(t: Task): SyscallResult {
  if (t.signalPending()) return ERESTARTNOHAND;
  return block([], { intr: ERESTARTNOHAND });
}
