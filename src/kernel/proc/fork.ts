/**
 * copy_process() (kernel/fork.c) for fork() and clone(): a new thread, in the caller's process
 * (CLONE_THREAD) or a new one, sharing or copying the mm (CLONE_VM), the fd table (CLONE_FILES) and the
 * signal handlers (CLONE_SIGHAND). The new thread runs `main` - the host-program analogue of "fork returns
 * 0 in the child".
 */
import {
  CLONE_DETACHED,
  CLONE_FILES,
  CLONE_FS,
  CLONE_NEWNS,
  CLONE_PARENT,
  CLONE_SIGHAND,
  CLONE_SYSVSEM,
  CLONE_THREAD,
  CLONE_VM,
  CSIGNAL,
  EAGAIN,
  EINVAL,
  type Errno,
  isErrno,
} from '../abi/index';
import type { Kernel } from '../kernel';
import { exitMmap } from '../mm/exit-mmap';
import { dupMmap } from '../mm/fork';
import type { Sys } from '../syscalls/sys';
import { Process } from './process';
import type { Task } from './task';

/** The clone flags we model; the others are refused with EINVAL (see the syscall table note). */
export const SUPPORTED_CLONE_FLAGS =
  CSIGNAL |
  CLONE_VM |
  CLONE_FS |
  CLONE_FILES |
  CLONE_SIGHAND |
  CLONE_THREAD |
  CLONE_SYSVSEM |
  CLONE_PARENT |
  CLONE_DETACHED;

/**
 * copy_process().
 * @returns the new task (already runnable), or: EINVAL (inconsistent or unsupported flags); EAGAIN (process
 *   or thread limit); ENOMEM (the address space copy could not be charged).
 */
export function copyProcess(k: Kernel, cur: Task, flags: number, main: (sys: Sys) => unknown): Task | Errno {
  if ((flags & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) return EINVAL;
  // "Thread groups must share signals as well, and detached threads can only be started up within the
  // thread group."
  if (flags & CLONE_THREAD && !(flags & CLONE_SIGHAND)) return EINVAL;
  // "Shared signal handlers imply shared VM."
  if (flags & CLONE_SIGHAND && !(flags & CLONE_VM)) return EINVAL;
  if (flags & ~SUPPORTED_CLONE_FLAGS) return EINVAL;
  if (k.tasks.size >= k.limits.maxThreads) return EAGAIN;
  const newProcess = !(flags & CLONE_THREAD);
  if (newProcess && k.processes.size >= k.limits.maxProcesses) return EAGAIN;

  const parentProc = cur.process;
  let mm = cur.mm;
  if (mm && flags & CLONE_VM) {
    mm.users++;
  } else if (mm) {
    const nm = k.newMm();
    const r = dupMmap(mm, nm);
    if (isErrno(r)) {
      exitMmap(nm);
      return r;
    }
    mm = nm;
  }
  let files = cur.files;
  if (files && flags & CLONE_FILES) files.users++;
  else if (files) files = files.clone();
  let sighand = cur.sighand;
  if (flags & CLONE_SIGHAND) sighand.users++;
  else sighand = sighand.clone();

  const tid = k.allocPid();
  let proc: Process;
  if (newProcess) {
    proc = new Process(tid, parentProc.pgid, parentProc.comm, new Map(parentProc.rlimits), flags & CSIGNAL);
    for (const [r, v] of parentProc.rlimits) proc.rlimits.set(r, { ...v });
    const realParent = flags & CLONE_PARENT && parentProc.parent ? parentProc.parent : parentProc;
    proc.parent = realParent;
    realParent.children.add(proc);
    k.processes.set(proc.pid, proc);
  } else {
    proc = parentProc;
  }
  const t = k.newTask(tid, proc, mm, files, sighand, main, parentProc.comm);
  t.sigmask = cur.sigmask;
  t.groupMain = newProcess;
  proc.threads.push(t);
  k.traceTask(cur, newProcess ? 'fork' : 'clone_thread', { child: tid });
  k.sched.enqueue(t, k.sched.now(cur));
  return t;
}
