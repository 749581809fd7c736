/**
 * The declarative syscall table (gVisor pkg/sentry/syscalls/linux/linux64.go): number, name, handler,
 * support level and what is left out. Tools list it; the entry dispatches through it.
 */
import { ENOSYS, NR, type SyscallName } from '../abi/index';
import {
  sysClose,
  sysDup,
  sysDup2,
  sysDup3,
  sysFcntl,
  sysIoctl,
  sysOpen,
  sysOpenat,
  sysRead,
  sysWrite,
} from './sys-file';
import { sysFutex } from './sys-futex';
import { sysFtruncate, sysMemfdCreate } from './sys-memfd';
import { sysMmap, sysMprotect, sysMremap, sysMunmap } from './sys-mmap';
import { sysGetrlimit, sysPrlimit64, sysSetrlimit } from './sys-rlimit';
import {
  sysKill,
  sysPause,
  sysRtSigaction,
  sysRtSigpending,
  sysRtSigprocmask,
  sysRtSigreturn,
  sysTgkill,
  sysTkill,
} from './sys-signal';
import { sysRecvmsg, sysSendmsg, sysShutdown, sysSocketpair } from './sys-socket';
import {
  sysClone,
  sysExit,
  sysExitGroup,
  sysFork,
  sysGetpgid,
  sysGetpgrp,
  sysGetpid,
  sysGetppid,
  sysGettid,
  sysSchedYield,
  sysSetpgid,
  sysWait4,
} from './sys-thread';
import { sysClockGettime, sysNanosleep } from './sys-time';
import type { Support, SyscallEntry, SyscallHandler } from './types';

function row(name: SyscallName, handler: SyscallHandler, support: Support = 'full', note?: string): SyscallEntry {
  return Object.freeze({ nr: NR[name], name, handler, support, note });
}

const unimplemented: SyscallHandler = () => ENOSYS;

export const SYSCALL_TABLE: readonly SyscallEntry[] = Object.freeze([
  row('read', sysRead),
  row('write', sysWrite),
  row(
    'open',
    sysOpen,
    'partial',
    'Device nodes and directories only: the root filesystem is read-only (O_CREAT of a new file is EROFS).',
  ),
  row('close', sysClose),
  row(
    'mmap',
    sysMmap,
    'partial',
    'No huge pages (MAP_HUGETLB is ENOMEM), no THP alignment, no MAP_32BIT hint beyond the 1-2 GiB window.',
  ),
  row('mprotect', sysMprotect, 'partial', 'No protection keys; PROT_GROWSDOWN is EINVAL (no VM_GROWSDOWN mappings).'),
  row('munmap', sysMunmap),
  row(
    'rt_sigaction',
    sysRtSigaction,
    'partial',
    'The action is a host object (a TypeScript handler cannot live in process memory); SA_ONSTACK and SA_SIGINFO are accepted, handlers always receive siginfo.',
  ),
  row('rt_sigprocmask', sysRtSigprocmask),
  row('rt_sigreturn', sysRtSigreturn, 'partial', 'Called by the host-side signal trampoline; restores the saved mask.'),
  row('ioctl', sysIoctl),
  row('sched_yield', sysSchedYield),
  row('mremap', sysMremap, 'partial', 'Moves one VMA at a time (the 6.17 multi-VMA move is not modelled).'),
  row('dup', sysDup),
  row('dup2', sysDup2),
  row('pause', sysPause),
  row(
    'nanosleep',
    sysNanosleep,
    'partial',
    'Virtual time; without a handler a signal restarts it with the remaining time.',
  ),
  row('getpid', sysGetpid),
  row(
    'sendmsg',
    sysSendmsg,
    'partial',
    'AF_UNIX socket pairs; SCM_RIGHTS is passed, SCM_CREDENTIALS is accepted but not delivered; no SO_OOBINLINE.',
  ),
  row('recvmsg', sysRecvmsg, 'partial', 'AF_UNIX socket pairs; no peer address (msg_namelen 0).'),
  row('shutdown', sysShutdown),
  row('socketpair', sysSocketpair, 'partial', 'AF_UNIX SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET.'),
  row(
    'clone',
    sysClone,
    'partial',
    'Takes a host function for the child; CLONE_VM, CLONE_FILES, CLONE_SIGHAND, CLONE_THREAD, CLONE_PARENT and the exit signal; other flags are EINVAL. No TLS or TID pointers.',
  ),
  row('fork', sysFork, 'partial', 'Takes the child as a host function (fork() "returning 0 in the child").'),
  row('vfork', unimplemented, 'unimplemented', 'Use fork.'),
  row(
    'execve',
    unimplemented,
    'unimplemented',
    'Host programs are TypeScript functions; there is no ELF loader for processes.',
  ),
  row('exit', sysExit),
  row('wait4', sysWait4),
  row('kill', sysKill),
  row('fcntl', sysFcntl, 'partial', 'F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL.'),
  row(
    'ftruncate',
    sysFtruncate,
    'partial',
    'shmem files (memfd) only: the other files are devices, sockets and directories (EINVAL). No RLIMIT_FSIZE, no seals.',
  ),
  row('getrlimit', sysGetrlimit),
  row('setpgid', sysSetpgid, 'partial', 'No sessions, so no EPERM cases.'),
  row('getppid', sysGetppid),
  row('getpgrp', sysGetpgrp),
  row('getpgid', sysGetpgid),
  row('rt_sigpending', sysRtSigpending),
  row('setrlimit', sysSetrlimit, 'partial', 'RLIMIT_NOFILE and RLIMIT_AS are enforced; the others are stored.'),
  row('gettid', sysGettid),
  row('tkill', sysTkill),
  row('futex', sysFutex, 'partial', 'FUTEX_WAIT and FUTEX_WAKE (private and shared); other operations are ENOSYS.'),
  row('clock_gettime', sysClockGettime),
  row('exit_group', sysExitGroup),
  row('tgkill', sysTgkill),
  row('openat', sysOpenat, 'partial', 'As open.'),
  row('dup3', sysDup3),
  row('prlimit64', sysPrlimit64),
  row(
    'memfd_create',
    sysMemfdCreate,
    'partial',
    'A shmem file sized with ftruncate and mapped with mmap; no read/write/lseek on it, MFD_ALLOW_SEALING is accepted but F_ADD_SEALS is not modelled, MFD_HUGETLB is ENOSYS (no hugetlbfs).',
  ),
]);

export const SYSCALLS_BY_NR: ReadonlyMap<number, SyscallEntry> = new Map(SYSCALL_TABLE.map((e) => [e.nr, e]));
