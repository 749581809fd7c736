/** Process and thread syscalls (kernel/fork.c, kernel/exit.c, kernel/sys.c, kernel/sched/syscalls.c). */

import { encode } from '../../hw/index';
import {
  __WALL,
  __WCLONE,
  __WNOTHREAD,
  EINVAL,
  ESRCH,
  isErrno,
  RUSAGE,
  SIGCHLD,
  WCONTINUED,
  WNOHANG,
  WUNTRACED,
  wExited,
} from '../abi/index';
import type { HostMain } from '../kernel';
import { copyProcess } from '../proc/fork';
import type { Task } from '../proc/task';
import { block } from '../sched/wait-queue';
import { argHost, argInt, argU64 } from './args';
import type { SyscallArgs, SyscallCtx, SyscallResult } from './types';

/**
 * fork(2): a new process running `child` (the host-program form of "fork() returns 0 in the child").
 * @returns the child's pid, or EAGAIN (process limit), ENOMEM.
 */
export function sysFork(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const main = argHost<HostMain>(a, 0);
  if (typeof main !== 'function') return EINVAL;
  const c = copyProcess(ctx.k, t, SIGCHLD, main);
  return isErrno(c) ? c : c.tid;
}

/**
 * clone(2) with a host function for the new thread: `flags` as clone(2) (CLONE_VM, CLONE_FILES,
 * CLONE_SIGHAND, CLONE_THREAD, exit signal in the low byte).
 * @returns the new tid, or EINVAL (inconsistent or unsupported flags), EAGAIN, ENOMEM.
 */
export function sysClone(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const flags = argU64(a, 0);
  const fn = argHost<HostMain>(a, 1);
  if (typeof fn !== 'function') return EINVAL;
  const c = copyProcess(ctx.k, t, flags >>> 0, fn);
  return isErrno(c) ? c : c.tid;
}

/** exit(2): this thread ends; the process ends with it when it was the last one. */
export function sysExit(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  ctx.k.exits.exitThread(t, wExited(argInt(a, 0)));
  return 0;
}

/** exit_group(2): every thread ends; wait status (code & 0xff) << 8. */
export function sysExitGroup(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  ctx.k.exits.groupExit(t.process, wExited(argInt(a, 0)));
  return 0;
}

/** cycles → struct timeval seconds and microseconds. */
function timeval(cycles: number, hz: number): [number, number] {
  const us = Math.floor((cycles * 1_000_000) / hz);
  return [Math.floor(us / 1_000_000), us % 1_000_000];
}

/**
 * wait4(2).
 * @returns the child's pid (its status written to *wstatus, usage to *rusage), 0 with WNOHANG when no child
 *   is ready, or EINVAL (options), ESRCH (pid INT_MIN), ECHILD (no such child), EFAULT (the child was
 *   reaped but the status could not be written), EINTR.
 */
export function sysWait4(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const pid = argInt(a, 0);
  const wstatus = argU64(a, 1);
  const options = argInt(a, 2) >>> 0;
  const rusage = argU64(a, 3);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) return EINVAL;
  if (pid === -2147483648) return ESRCH;
  const r = ctx.k.exits.scan(t.process, pid, options, t.process.pgid);
  if (isErrno(r)) return r;
  if (r === 'none') {
    if (options & WNOHANG) return 0;
    return block(t.process.childWait);
  }
  if (wstatus) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, r.status, true);
    const e = t.copyToUser(wstatus, b);
    if (e !== 0) return e;
  }
  if (rusage) {
    const hz = ctx.k.costs.cpuHz;
    const [us, uu] = timeval(r.utime, hz);
    const [ss, su] = timeval(r.stime, hz);
    const ru = encode(RUSAGE, {
      ru_utime_sec: BigInt(us),
      ru_utime_usec: BigInt(uu),
      ru_stime_sec: BigInt(ss),
      ru_stime_usec: BigInt(su),
      ru_minflt: BigInt(r.minflt),
    });
    const e = t.copyToUser(rusage, ru);
    if (e !== 0) return e;
  }
  return r.pid;
}

/** getpid(2): the thread-group id. */
export function sysGetpid(t: Task): SyscallResult {
  return t.tgid;
}

/** getppid(2): the parent's pid (1 after re-parenting to init). */
export function sysGetppid(t: Task): SyscallResult {
  return t.process.parent?.pid ?? 0;
}

/** gettid(2). */
export function sysGettid(t: Task): SyscallResult {
  return t.tid;
}

/** getpgrp(2). */
export function sysGetpgrp(t: Task): SyscallResult {
  return t.process.pgid;
}

/** getpgid(2). @returns the process group of `pid` (0 = self), or ESRCH. */
export function sysGetpgid(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const pid = argInt(a, 0);
  const p = pid === 0 ? t.process : ctx.k.processes.get(pid);
  if (!p || p.state === 'reaped') return ESRCH;
  return p.pgid;
}

/**
 * setpgid(2) for the caller or one of its children.
 * @returns 0, or EINVAL (negative pgid), ESRCH (not the caller nor a child).
 */
export function sysSetpgid(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const pid = argInt(a, 0) || t.tgid;
  const pgid = argInt(a, 1) || pid;
  if (pgid < 0) return EINVAL;
  const p = ctx.k.processes.get(pid);
  if (!p || (p !== t.process && p.parent !== t.process)) return ESRCH;
  p.pgid = pgid;
  return 0;
}

/** sched_yield(2): back to the runqueue; another runnable task may run first. */
export function sysSchedYield(t: Task, _a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  ctx.k.sched.preempt(t);
  return 0;
}

/** Used by kill(-1): every other process a signal could reach. */
export function signalablePids(ctx: SyscallCtx, self: Task): number[] {
  return [...ctx.k.processes.values()]
    .filter((p) => !p.isInit && p !== self.process && p.state === 'alive' && p.threads.some((x) => !x.kthread))
    .map((p) => p.pid);
}
