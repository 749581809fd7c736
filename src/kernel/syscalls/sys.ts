/**
 * The system-call handle a host program gets (its "libc syscall()" layer). Every method is one kernel
 * entry with the Linux name and argument order; pointer arguments are addresses in the process's memory.
 *
 * Error convention (the raw x86-64 ABI): every syscall resolves to a number; a value in [-4095, -1] is
 * -errno (see abi/errno.ts errnoOfReturn()). Nothing throws for a kernel error. A process that is killed
 * never sees its pending call resolve.
 *
 * Signal handlers installed with rt_sigaction run here, on this thread, before the interrupted call
 * returns (or before it is restarted).
 */
import { NR } from '../abi/index';
import type { HostMain } from '../kernel';
import type { CallResult, EntryResult, KernelRequest, SignalDelivery, Task } from '../proc/task';
import type { GuestRunner } from '../sched/guest';
import type { SigActionArg, SigActionOut } from './sys-signal';

export class Sys {
  constructor(readonly task: Task) {}

  /**
   * Enters the kernel. The promise resolves with the call's value when the kernel returns to user mode; after a
   * signal delivery it stands for afterSignal() (the handler, then the value or the restarted call).
   */
  private call(req: KernelRequest): Promise<unknown> {
    try {
      return this.task.enter(req);
    } catch (e) {
      // A second call while one is pending (a host program bug) rejects, as an async method would.
      return Promise.reject(e);
    }
  }

  /**
   * @internal The host half of a signal delivered on the way back from `req`: the handler, rt_sigreturn, then the
   * call's value, or the same call again when it restarts.
   */
  async afterSignal(req: KernelRequest, r: EntryResult): Promise<unknown> {
    if (r.deliver) await this.runHandler(r.deliver);
    return r.restart ? this.call(req) : r.value;
  }

  /** The host half of signal delivery: the handler, then rt_sigreturn (handle_signal() / the trampoline). */
  private async runHandler(d: SignalDelivery): Promise<void> {
    await d.handler(this, d.sig, d.info);
    await this.call({ kind: 'syscall', nr: NR.rt_sigreturn, args: [] });
  }

  /** Any syscall by number with raw arguments. */
  syscall(nr: number, ...args: unknown[]): Promise<number> {
    return this.call({ kind: 'syscall', nr, args }) as Promise<number>;
  }

  // ---- files --------------------------------------------------------------------------------------

  open(pathname: number, flags: number, mode = 0): Promise<number> {
    return this.syscall(NR.open, pathname, flags, mode);
  }
  openat(dirfd: number, pathname: number, flags: number, mode = 0): Promise<number> {
    return this.syscall(NR.openat, dirfd, pathname, flags, mode);
  }
  close(fd: number): Promise<number> {
    return this.syscall(NR.close, fd);
  }
  read(fd: number, buf: number, count: number): Promise<number> {
    return this.syscall(NR.read, fd, buf, count);
  }
  write(fd: number, buf: number, count: number): Promise<number> {
    return this.syscall(NR.write, fd, buf, count);
  }
  dup(fd: number): Promise<number> {
    return this.syscall(NR.dup, fd);
  }
  dup2(oldfd: number, newfd: number): Promise<number> {
    return this.syscall(NR.dup2, oldfd, newfd);
  }
  dup3(oldfd: number, newfd: number, flags: number): Promise<number> {
    return this.syscall(NR.dup3, oldfd, newfd, flags);
  }
  fcntl(fd: number, cmd: number, arg = 0): Promise<number> {
    return this.syscall(NR.fcntl, fd, cmd, arg);
  }
  ioctl(fd: number, cmd: number, arg = 0): Promise<number> {
    return this.syscall(NR.ioctl, fd, cmd, arg);
  }
  /** memfd_create(2): `name` is a pointer to a C string. */
  memfd_create(name: number, flags: number): Promise<number> {
    return this.syscall(NR.memfd_create, name, flags);
  }
  ftruncate(fd: number, length: number): Promise<number> {
    return this.syscall(NR.ftruncate, fd, length);
  }

  // ---- memory -------------------------------------------------------------------------------------

  mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): Promise<number> {
    return this.syscall(NR.mmap, addr, length, prot, flags, fd, offset);
  }
  munmap(addr: number, length: number): Promise<number> {
    return this.syscall(NR.munmap, addr, length);
  }
  mprotect(addr: number, length: number, prot: number): Promise<number> {
    return this.syscall(NR.mprotect, addr, length, prot);
  }
  mremap(oldAddress: number, oldSize: number, newSize: number, flags: number, newAddress = 0): Promise<number> {
    return this.syscall(NR.mremap, oldAddress, oldSize, newSize, flags, newAddress);
  }

  // ---- processes and threads ----------------------------------------------------------------------

  /** fork(2): `child` is what the child runs ("fork() returned 0"); the parent gets the child's pid. */
  fork(child: HostMain): Promise<number> {
    return this.syscall(NR.fork, child);
  }
  /** clone(2) with the new thread's body as a host function. */
  clone(flags: number, fn: HostMain): Promise<number> {
    return this.syscall(NR.clone, flags, fn);
  }
  /** exit(2): never resolves. */
  exit(status: number): Promise<never> {
    return this.syscall(NR.exit, status) as Promise<never>;
  }
  /** exit_group(2): never resolves. */
  exit_group(status: number): Promise<never> {
    return this.syscall(NR.exit_group, status) as Promise<never>;
  }
  wait4(pid: number, wstatus: number, options: number, rusage = 0): Promise<number> {
    return this.syscall(NR.wait4, pid, wstatus, options, rusage);
  }
  getpid(): Promise<number> {
    return this.syscall(NR.getpid);
  }
  getppid(): Promise<number> {
    return this.syscall(NR.getppid);
  }
  gettid(): Promise<number> {
    return this.syscall(NR.gettid);
  }
  getpgrp(): Promise<number> {
    return this.syscall(NR.getpgrp);
  }
  getpgid(pid: number): Promise<number> {
    return this.syscall(NR.getpgid, pid);
  }
  setpgid(pid: number, pgid: number): Promise<number> {
    return this.syscall(NR.setpgid, pid, pgid);
  }
  sched_yield(): Promise<number> {
    return this.syscall(NR.sched_yield);
  }
  nanosleep(req: number, rem = 0): Promise<number> {
    return this.syscall(NR.nanosleep, req, rem);
  }
  clock_gettime(clockid: number, tp: number): Promise<number> {
    return this.syscall(NR.clock_gettime, clockid, tp);
  }
  getrlimit(resource: number, rlim: number): Promise<number> {
    return this.syscall(NR.getrlimit, resource, rlim);
  }
  setrlimit(resource: number, rlim: number): Promise<number> {
    return this.syscall(NR.setrlimit, resource, rlim);
  }
  prlimit64(pid: number, resource: number, newLimit: number, oldLimit: number): Promise<number> {
    return this.syscall(NR.prlimit64, pid, resource, newLimit, oldLimit);
  }
  futex(uaddr: number, op: number, val: number, timeout = 0, uaddr2 = 0, val3 = 0): Promise<number> {
    return this.syscall(NR.futex, uaddr, op, val, timeout, uaddr2, val3);
  }

  // ---- signals ------------------------------------------------------------------------------------

  kill(pid: number, sig: number): Promise<number> {
    return this.syscall(NR.kill, pid, sig);
  }
  tkill(tid: number, sig: number): Promise<number> {
    return this.syscall(NR.tkill, tid, sig);
  }
  tgkill(tgid: number, tid: number, sig: number): Promise<number> {
    return this.syscall(NR.tgkill, tgid, tid, sig);
  }
  /** rt_sigaction(2) with a host action object; `oldact` is filled in when given. */
  rt_sigaction(
    sig: number,
    act: SigActionArg | null,
    oldact: SigActionOut | null = null,
    sigsetsize = 8,
  ): Promise<number> {
    return this.syscall(NR.rt_sigaction, sig, act, oldact, sigsetsize);
  }
  /** Alias of rt_sigaction for readability. */
  sigaction(sig: number, act: SigActionArg | null, oldact: SigActionOut | null = null): Promise<number> {
    return this.rt_sigaction(sig, act, oldact);
  }
  rt_sigprocmask(how: number, set: number, oldset: number, sigsetsize = 8): Promise<number> {
    return this.syscall(NR.rt_sigprocmask, how, set, oldset, sigsetsize);
  }
  rt_sigpending(set: number, sigsetsize = 8): Promise<number> {
    return this.syscall(NR.rt_sigpending, set, sigsetsize);
  }
  pause(): Promise<number> {
    return this.syscall(NR.pause);
  }

  // ---- sockets ------------------------------------------------------------------------------------

  socketpair(domain: number, type: number, protocol: number, sv: number): Promise<number> {
    return this.syscall(NR.socketpair, domain, type, protocol, sv);
  }
  sendmsg(sockfd: number, msg: number, flags: number): Promise<number> {
    return this.syscall(NR.sendmsg, sockfd, msg, flags);
  }
  recvmsg(sockfd: number, msg: number, flags: number): Promise<number> {
    return this.syscall(NR.recvmsg, sockfd, msg, flags);
  }
  shutdown(sockfd: number, how: number): Promise<number> {
    return this.syscall(NR.shutdown, sockfd, how);
  }

  // ---- process memory -----------------------------------------------------------------------------

  /**
   * copy_from_user() semantics: fills `dst` from process memory at `addr`, faulting pages in.
   * @returns 0, or -EFAULT for a bad pointer (no signal).
   */
  async copyFromUser(addr: number, dst: Uint8Array): Promise<number> {
    return (await this.call({
      kind: 'call',
      name: 'copy_from_user',
      fn: (t) => {
        const b = t.copyFromUser(addr, dst.length);
        if (b instanceof Uint8Array) {
          dst.set(b);
          return 0;
        }
        return b;
      },
    })) as number;
  }

  /** copy_to_user() semantics. @returns 0, or -EFAULT. */
  async copyToUser(addr: number, src: Uint8Array): Promise<number> {
    return (await this.call({ kind: 'call', name: 'copy_to_user', fn: (t) => t.copyToUser(addr, src) })) as number;
  }

  /**
   * A user-mode load, as a C program dereferencing a pointer: a fault nothing resolves raises SIGSEGV or
   * SIGBUS (si_addr set); with a handler the access is retried after it, by default the process dies.
   */
  load(addr: number, len: number): Promise<Uint8Array> {
    return this.call({ kind: 'access', addr, len }) as Promise<Uint8Array>;
  }

  /** A user-mode store; faults as {@link load}. */
  store(addr: number, bytes: Uint8Array): Promise<void> {
    return this.call({ kind: 'access', addr, len: bytes.length, data: bytes }) as Promise<void>;
  }

  /**
   * A locked read-modify-write instruction by host code (LOCK CMPXCHG, LOCK XADD, XCHG): `op` gets the `len`
   * old bytes and returns the new ones; no other thread runs in between. Faults as {@link store}.
   * @returns the old bytes.
   */
  atomic(addr: number, len: number, op: (old: Uint8Array) => Uint8Array): Promise<Uint8Array> {
    return this.call({ kind: 'access', addr, len, rmw: op }) as Promise<Uint8Array>;
  }

  // ---- guest code and kernel functions ------------------------------------------------------------

  /**
   * Runs guest code on a CPU the scheduler assigns, in quanta, until the runner returns a 'return' stop
   * (its value resolves this promise). Faults, syscalls, interrupts and signals are handled in between
   * (sched/guest.ts).
   */
  runGuest<T = unknown>(runner: GuestRunner): Promise<T> {
    return this.call({ kind: 'guest', runner }) as Promise<T>;
  }

  /** Runs a kernel function at a scheduling point; it may return block(...) to sleep (kernel threads, tests). */
  kcall(name: string, fn: (t: Task) => CallResult): Promise<number> {
    return this.call({ kind: 'call', name, fn }) as Promise<number>;
  }
}
