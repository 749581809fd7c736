/**
 * Error paths of the smaller syscalls compared with native Linux through raw syscall(2) (so glibc's own
 * checks do not interfere): rlimits, signal-mask calls, time, sockets with bad message headers, fcntl/dup3.
 * The program runs as root here, which is also what our kernel models (e.g. raising hard limits is allowed).
 */
import { describe, expect, it } from 'vitest';
import { AF_UNIX, Libc, NR, O_RDWR, SOCK_STREAM, type Sys } from '../../../src/kernel/index';
import { hasGcc, runC } from '../../util/native';
import { errName, makeTestKernel } from '../fixtures/kernel';

/** [label, syscall number, args...] where an arg may name a prepared buffer. */
type Row = readonly [string, number, ...Array<number | string>];

const ROWS: readonly Row[] = [
  ['getrlimit-bad-res', NR.getrlimit, 99, 'buf'],
  ['getrlimit-fault', NR.getrlimit, 7, 8],
  ['setrlimit-fault', NR.setrlimit, 7, 8],
  ['setrlimit-cur>max', NR.setrlimit, 7, 'rl_bad'],
  ['setrlimit-nofile>nr_open', NR.setrlimit, 7, 'rl_huge'],
  ['prlimit-esrch', NR.prlimit64, 4000000, 7, 0, 'buf'],
  ['prlimit-bad-res', NR.prlimit64, 0, 99, 0, 'buf'],
  ['prlimit-ok', NR.prlimit64, 0, 7, 0, 'buf'],
  ['sigprocmask-how', NR.rt_sigprocmask, 9, 'buf', 0, 8],
  ['sigprocmask-size', NR.rt_sigprocmask, 0, 'buf', 0, 4],
  ['sigprocmask-fault-old', NR.rt_sigprocmask, 0, 0, 8, 8],
  ['sigpending-size', NR.rt_sigpending, 'buf', 16],
  ['sigpending-fault', NR.rt_sigpending, 8, 8],
  ['clock-bad', NR.clock_gettime, 99, 'buf'],
  ['clock-fault', NR.clock_gettime, 1, 8],
  ['nanosleep-nsec', NR.nanosleep, 'ts_bad', 0],
  ['nanosleep-fault', NR.nanosleep, 8, 0],
  ['nanosleep-zero', NR.nanosleep, 'ts_zero', 0],
  ['sendmsg-fault-hdr', NR.sendmsg, 'sock', 8, 0],
  ['sendmsg-iovlen', NR.sendmsg, 'sock', 'msg_bigiov', 0],
  ['sendmsg-ctl-huge', NR.sendmsg, 'sock', 'msg_bigctl', 0],
  ['sendmsg-notsock', NR.sendmsg, 'null', 'msg_ok', 0],
  ['sendmsg-badfd', NR.sendmsg, 99, 'msg_ok', 0],
  ['sendmsg-oob', NR.sendmsg, 'sock', 'msg_ok', 1],
  ['sendmsg-ok', NR.sendmsg, 'sock', 'msg_ok', 0],
  ['recvmsg-notsock', NR.recvmsg, 'null', 'msg_ok', 0],
  ['recvmsg-fault-iov', NR.recvmsg, 'peer', 'msg_badiov', 0],
  ['shutdown-notsock', NR.shutdown, 'null', 0],
  ['shutdown-badfd', NR.shutdown, 99, 0],
  ['fcntl-bad', NR.fcntl, 'null', 9999, 0],
  ['fcntl-dupfd-range', NR.fcntl, 'null', 0, 2000000],
  ['dup3-flags', NR.dup3, 'null', 20, 1],
  ['dup3-same', NR.dup3, 'null', 'null', 0],
  ['dup2-range', NR.dup2, 'null', 2000000],
  ['tgkill-zero', NR.tgkill, 0, 1, 0],
  ['tkill-neg', NR.tkill, -5, 0],
  ['kill-badsig', NR.kill, 1, 99],
  ['close-bad', NR.close, -1],
  ['ioctl-badfd', NR.ioctl, 99, 0x5451, 0],
  ['ioctl-notty', NR.ioctl, 'null', 0x5401, 0],
  ['read-badfd', NR.read, 99, 'buf', 1],
  ['write-fault', NR.write, 'null', 8, 1],
  ['wait4-badopt', NR.wait4, -1, 0, 0x10000000, 0],
  ['wait4-intmin', NR.wait4, -2147483648, 0, 0, 0],
  ['getpgid-esrch', NR.getpgid, 4000000],
  ['setpgid-neg', NR.setpgid, 0, -1],
  ['setpgid-esrch', NR.setpgid, 4000000, 0],
  ['futex-badop', NR.futex, 'buf', 99, 0, 0, 0, 0],
  ['mremap-flags', NR.mremap, 'page', 4096, 4096, 64, 0],
];

function nativeProgram(): string {
  const rows = ROWS.map(([label, nr, ...args]) => {
    const a = args.map((x) => (typeof x === 'number' ? `(long)${x}L` : `(long)${x}`));
    while (a.length < 6) a.push('0L');
    return `  errno = 0; r = syscall(${nr}, ${a.join(', ')}); if (r < 0) printf("${label} %s\\n", strerrorname_np(errno)); else printf("${label} ok\\n");`;
  }).join('\n');
  return `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
int main(void) {
  long r;
  static char bufmem[4096];
  char *buf = bufmem;
  static uint64_t rl_badm[2] = {10, 5}, rl_hugem[2] = {4000000, 4000000};
  uint64_t *rl_bad = rl_badm, *rl_huge = rl_hugem;
  static int64_t ts_badm[2] = {0, 1000000000}, ts_zerom[2] = {0, 0};
  int64_t *ts_bad = ts_badm, *ts_zero = ts_zerom;
  int nul = open("/dev/null", O_RDWR);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int sock = sv[0], peer = sv[1];
  static char data[4] = "abc";
  static struct iovec iov = { data, 3 };
  static struct iovec badiov = { (void *)8, 3 };
  static struct msghdr msg_okm, msg_bigiovm, msg_bigctlm, msg_badiovm;
  struct msghdr *msg_ok = &msg_okm, *msg_bigiov = &msg_bigiovm, *msg_bigctl = &msg_bigctlm, *msg_badiov = &msg_badiovm;
  msg_ok->msg_iov = &iov; msg_ok->msg_iovlen = 1;
  msg_bigiov->msg_iov = &iov; msg_bigiov->msg_iovlen = 1025;
  msg_bigctl->msg_iov = &iov; msg_bigctl->msg_iovlen = 1; msg_bigctl->msg_control = buf; msg_bigctl->msg_controllen = 0x80000000UL;
  msg_badiov->msg_iov = &badiov; msg_badiov->msg_iovlen = 1;
  char *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int null = nul;
  (void)null; (void)peer; (void)page;
${rows}
  return 0;
}
`;
}

async function simulate(): Promise<string> {
  const out: string[] = [];
  const k = makeTestKernel();
  k.spawn(async (sys: Sys) => {
    const libc = new Libc(sys);
    const b = (n: bigint[]) => {
      const u = new Uint8Array(8 * n.length);
      const dv = new DataView(u.buffer);
      for (const [i, x] of n.entries()) dv.setBigUint64(8 * i, BigInt.asUintN(64, x), true);
      return libc.bytes(u);
    };
    const nul = await libc.open('/dev/null', O_RDWR);
    const [sock, peer] = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
    const data = await libc.bytes(new TextEncoder().encode('abc\0'));
    const iov = await b([BigInt(data), 3n]);
    const badiov = await b([8n, 3n]);
    const buf = await libc.alloc(4096);
    const msg = async (iovp: number, iovlen: bigint, control = 0n, controllen = 0n) =>
      b([0n, 0n, BigInt(iovp), iovlen, control, controllen, 0n]);
    const named: Record<string, number> = {
      buf,
      rl_bad: await b([10n, 5n]),
      rl_huge: await b([4000000n, 4000000n]),
      ts_bad: await b([0n, 1000000000n]),
      ts_zero: await b([0n, 0n]),
      null: nul,
      sock,
      peer,
      msg_ok: await msg(iov, 1n),
      msg_bigiov: await msg(iov, 1025n),
      msg_bigctl: await msg(iov, 1n, BigInt(buf), 0x80000000n),
      msg_badiov: await msg(badiov, 1n),
      page: await sys.mmap(0, 4096, 3, 0x22, -1, 0),
    };
    for (const [label, nr, ...args] of ROWS) {
      const a = args.map((x) => (typeof x === 'number' ? x : named[x]!));
      const r = await sys.syscall(nr, ...a);
      out.push(`${label} ${errName(r)}`);
    }
    return 0;
  });
  const r = await k.run();
  expect(r.kind).toBe('idle');
  return `${out.join('\n')}\n`;
}

describe.skipIf(!hasGcc())('small syscalls against native Linux', () => {
  it('give the same results and errnos', async () => {
    const want = runC(nativeProgram(), ['-O0']);
    const got = await simulate();
    expect(got).toBe(want);
  });
});
