/**
 * Linux-defined numbers and struct layouts against gcc and the installed uAPI/glibc headers: a C program
 * prints each constant and each offsetof()/sizeof(); the TypeScript values must be equal.
 */
import { describe, expect, it } from 'vitest';
import * as k from '../../../src/kernel/index';
import { hasGcc, runC } from '../../util/native';

const CONSTANTS = [
  'PROT_READ',
  'PROT_WRITE',
  'PROT_EXEC',
  'PROT_SEM',
  'PROT_NONE',
  'PROT_GROWSDOWN',
  'PROT_GROWSUP',
  'MAP_SHARED',
  'MAP_PRIVATE',
  'MAP_SHARED_VALIDATE',
  'MAP_TYPE',
  'MAP_FIXED',
  'MAP_ANONYMOUS',
  'MAP_32BIT',
  'MAP_GROWSDOWN',
  'MAP_DENYWRITE',
  'MAP_EXECUTABLE',
  'MAP_LOCKED',
  'MAP_NORESERVE',
  'MAP_POPULATE',
  'MAP_NONBLOCK',
  'MAP_STACK',
  'MAP_HUGETLB',
  'MAP_SYNC',
  'MAP_FIXED_NOREPLACE',
  'MFD_CLOEXEC',
  'MFD_ALLOW_SEALING',
  'MFD_HUGETLB',
  'MREMAP_MAYMOVE',
  'MREMAP_FIXED',
  'MREMAP_DONTUNMAP',
  'O_ACCMODE',
  'O_RDONLY',
  'O_WRONLY',
  'O_RDWR',
  'O_CREAT',
  'O_EXCL',
  'O_NOCTTY',
  'O_TRUNC',
  'O_APPEND',
  'O_NONBLOCK',
  'O_DSYNC',
  'O_DIRECT',
  'O_DIRECTORY',
  'O_NOFOLLOW',
  'O_NOATIME',
  'O_CLOEXEC',
  'O_SYNC',
  'O_PATH',
  'O_TMPFILE',
  'F_DUPFD',
  'F_GETFD',
  'F_SETFD',
  'F_GETFL',
  'F_SETFL',
  'F_DUPFD_CLOEXEC',
  'FD_CLOEXEC',
  'AT_FDCWD',
  'PATH_MAX',
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
  'SA_NOCLDSTOP',
  'SA_NOCLDWAIT',
  'SA_SIGINFO',
  'SA_ONSTACK',
  'SA_RESTART',
  'SA_NODEFER',
  'SA_RESETHAND',
  'SIG_BLOCK',
  'SIG_UNBLOCK',
  'SIG_SETMASK',
  'SI_USER',
  'SI_KERNEL',
  'SI_QUEUE',
  'SI_TKILL',
  'SEGV_MAPERR',
  'SEGV_ACCERR',
  'BUS_ADRALN',
  'BUS_ADRERR',
  'BUS_OBJERR',
  'CLD_EXITED',
  'CLD_KILLED',
  'CLD_DUMPED',
  'CLD_TRAPPED',
  'CLD_STOPPED',
  'CLD_CONTINUED',
  'WNOHANG',
  'WUNTRACED',
  'WEXITED',
  'WCONTINUED',
  'WNOWAIT',
  '__WNOTHREAD',
  '__WALL',
  '__WCLONE',
  'AF_UNIX',
  'AF_INET',
  'SOCK_STREAM',
  'SOCK_DGRAM',
  'SOCK_RAW',
  'SOCK_SEQPACKET',
  'SOCK_NONBLOCK',
  'SOCK_CLOEXEC',
  'SOL_SOCKET',
  'SCM_RIGHTS',
  'SCM_CREDENTIALS',
  'MSG_OOB',
  'MSG_PEEK',
  'MSG_CTRUNC',
  'MSG_TRUNC',
  'MSG_DONTWAIT',
  'MSG_EOR',
  'MSG_WAITALL',
  'MSG_NOSIGNAL',
  'MSG_CMSG_CLOEXEC',
  'SHUT_RD',
  'SHUT_WR',
  'SHUT_RDWR',
  'UIO_MAXIOV',
  'CLONE_VM',
  'CLONE_FS',
  'CLONE_FILES',
  'CLONE_SIGHAND',
  'CLONE_PIDFD',
  'CLONE_PTRACE',
  'CLONE_VFORK',
  'CLONE_PARENT',
  'CLONE_THREAD',
  'CLONE_NEWNS',
  'CLONE_SYSVSEM',
  'CLONE_SETTLS',
  'CLONE_PARENT_SETTID',
  'CLONE_CHILD_CLEARTID',
  'CLONE_DETACHED',
  'CLONE_UNTRACED',
  'CLONE_CHILD_SETTID',
  'CSIGNAL',
  'FUTEX_WAIT',
  'FUTEX_WAKE',
  'FUTEX_PRIVATE_FLAG',
  'FUTEX_CLOCK_REALTIME',
  'RLIMIT_CPU',
  'RLIMIT_FSIZE',
  'RLIMIT_DATA',
  'RLIMIT_STACK',
  'RLIMIT_CORE',
  'RLIMIT_RSS',
  'RLIMIT_NPROC',
  'RLIMIT_NOFILE',
  'RLIMIT_MEMLOCK',
  'RLIMIT_AS',
  'RLIM_NLIMITS',
  'CLOCK_REALTIME',
  'CLOCK_MONOTONIC',
  'CLOCK_PROCESS_CPUTIME_ID',
  'CLOCK_THREAD_CPUTIME_ID',
  'CLOCK_MONOTONIC_RAW',
  'CLOCK_BOOTTIME',
  'FIOCLEX',
  'FIONCLEX',
  'FIONBIO',
  'FIONREAD',
] as const;

const STRUCTS: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['IOVEC', 'struct iovec', ['iov_base', 'iov_len']],
  [
    'MSGHDR',
    'struct msghdr',
    ['msg_name', 'msg_namelen', 'msg_iov', 'msg_iovlen', 'msg_control', 'msg_controllen', 'msg_flags'],
  ],
  ['CMSGHDR', 'struct cmsghdr', ['cmsg_len', 'cmsg_level', 'cmsg_type']],
  ['TIMESPEC', 'struct timespec', ['tv_sec', 'tv_nsec']],
  ['RLIMIT64', 'struct rlimit64', ['rlim_cur', 'rlim_max']],
];

function program(): string {
  const consts = CONSTANTS.map((c) => `  printf("${c} %lld\\n", (long long)(${c}));`).join('\n');
  const structs = STRUCTS.map(
    ([n, t, fs]) =>
      `  printf("${n} size %zu\\n", sizeof(${t}));\n` +
      fs.map((f) => `  printf("${n} ${f} %zu %zu\\n", offsetof(${t}, ${f}), sizeof(((${t} *)0)->${f}));`).join('\n'),
  ).join('\n');
  const rusage = ['ru_utime', 'ru_stime', 'ru_maxrss', 'ru_minflt', 'ru_nivcsw']
    .map((f) => `  printf("RUSAGE ${f} %zu\\n", offsetof(struct rusage, ${f}));`)
    .join('\n');
  return `#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
int main(void) {
${consts}
${structs}
  printf("RUSAGE size %zu\\n", sizeof(struct rusage));
${rusage}
  printf("NSIG %d\\n", _NSIG - 1);
  printf("SIGRTMIN %d\\n", __SIGRTMIN);
  printf("CMSG_LEN4 %zu\\n", (size_t)CMSG_LEN(4));
  printf("CMSG_SPACE4 %zu\\n", (size_t)CMSG_SPACE(4));
  printf("CMSG_SPACE12 %zu\\n", (size_t)CMSG_SPACE(12));
  return 0;
}
`;
}

describe.skipIf(!hasGcc())('uAPI constants and layouts', () => {
  const out = hasGcc() ? runC(program(), ['-O0']) : '';
  const lines = out
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
  const table = k as unknown as Record<string, unknown>;

  it('every constant equals the C header value', () => {
    const bad: string[] = [];
    for (const [name, v] of lines) {
      if (!(CONSTANTS as readonly string[]).includes(name!)) continue;
      let want = Number(v);
      // O_* flags and friends are ints in C; ours are non-negative numbers.
      if (want < 0 && name !== 'AT_FDCWD' && name !== 'SI_QUEUE' && name !== 'SI_TKILL') want >>>= 0;
      const got = table[name!];
      if (got !== want && !(name === 'SA_RESETHAND' && got === 0x80000000))
        bad.push(`${name} got ${String(got)}, want ${want}`);
    }
    expect(bad).toEqual([]);
    expect(lines.filter(([n]) => (CONSTANTS as readonly string[]).includes(n!)).length).toBe(CONSTANTS.length);
  });

  it('struct layouts match offsetof() and sizeof()', () => {
    for (const [n, , ...rest] of lines) {
      const layout = table[n!] as
        | { size: number; fields: ReadonlyArray<{ name: string; offset: number; size: number }> }
        | undefined;
      if (!layout || !STRUCTS.some(([s]) => s === n)) continue;
      if (rest[0] === undefined) continue;
      if (lines.find((l) => l[0] === n && l[1] === 'size')?.[2] !== undefined) {
        expect(layout.size, `${n} size`).toBe(Number(lines.find((l) => l[0] === n && l[1] === 'size')![2]));
      }
    }
    for (const [n, f, off, size] of lines) {
      if (!STRUCTS.some(([s]) => s === n) || f === 'size') continue;
      const layout = table[n!] as { fields: ReadonlyArray<{ name: string; offset: number; size: number }> };
      const field = layout.fields.find((x) => x.name === f);
      expect(field, `${n}.${f} should be declared`).toBeDefined();
      expect(field!.offset, `${n}.${f} offset`).toBe(Number(off));
      expect(field!.size, `${n}.${f} size`).toBe(Number(size));
    }
    const ru = (name: string) => Number(lines.find((l) => l[0] === 'RUSAGE' && l[1] === name)![2]);
    expect(k.RUSAGE.size).toBe(ru('size'));
    expect(k.RUSAGE.fields.find((x) => x.name === 'ru_stime_sec')!.offset).toBe(ru('ru_stime'));
    expect(k.RUSAGE.fields.find((x) => x.name === 'ru_maxrss')!.offset).toBe(ru('ru_maxrss'));
    expect(k.RUSAGE.fields.find((x) => x.name === 'ru_minflt')!.offset).toBe(ru('ru_minflt'));
    expect(k.RUSAGE.fields.find((x) => x.name === 'ru_nivcsw')!.offset).toBe(ru('ru_nivcsw'));
  });

  it('signal range and CMSG macros agree', () => {
    const v = (name: string) => Number(lines.find((l) => l[0] === name)![1]);
    expect(k.NSIG).toBe(v('NSIG'));
    expect(k.SIGRTMIN).toBe(v('SIGRTMIN'));
    expect(k.CMSG_LEN(4)).toBe(v('CMSG_LEN4'));
    expect(k.CMSG_SPACE(4)).toBe(v('CMSG_SPACE4'));
    expect(k.CMSG_SPACE(12)).toBe(v('CMSG_SPACE12'));
  });

  it('syscall numbers match asm/unistd_64.h', () => {
    const src = Object.entries(k.NR)
      .map(([n]) => `  printf("${n} %d\\n", __NR_${n});`)
      .join('\n');
    const o = runC(`#include <stdio.h>\n#include <asm/unistd_64.h>\nint main(void) {\n${src}\n  return 0;\n}\n`, [
      '-O0',
    ]);
    for (const line of o.trim().split('\n')) {
      const [n, v] = line.split(' ');
      expect(k.NR[n as keyof typeof k.NR], `__NR_${n}`).toBe(Number(v));
    }
  });

  it('the syscall table rows carry their own numbers and unique names', () => {
    const names = new Set<string>();
    for (const e of k.SYSCALL_TABLE) {
      expect(e.nr, e.name).toBe(k.NR[e.name]);
      expect(names.has(e.name), `${e.name} listed twice`).toBe(false);
      names.add(e.name);
      if (e.support !== 'full') expect(e.note, `${e.name} needs a note`).toBeTruthy();
    }
  });
});
