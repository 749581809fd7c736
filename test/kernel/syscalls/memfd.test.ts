/**
 * memfd_create(2) and ftruncate(2) against native Linux: the same scenario as a C program on this host and as a
 * host program in the simulated kernel (fd number, file flags, the maps name, sizing, SIGBUS past the end,
 * truncation zeroing the tail, sharing with a forked child, every error path), line for line. Then a memfd
 * passed over SCM_RIGHTS to a process that did not inherit it, with a shared futex on it, and locked
 * read-modify-write instructions racing across processes.
 */
import { describe, expect, it } from 'vitest';
import {
  AF_UNIX,
  F_GETFD,
  F_GETFL,
  FUTEX_WAIT,
  FUTEX_WAKE,
  Libc,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NAME_MAX_LEN,
  MFD_NOEXEC_SEAL,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  procMaps,
  SOCK_STREAM,
  type Sys,
  WIFSIGNALED,
  WTERMSIG,
} from '../../../src/kernel/index';
import { hasGcc, runC } from '../../util/native';
import { errName, runProgram } from '../fixtures/kernel';

const RW = PROT_READ | PROT_WRITE;

const NATIVE = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef MFD_EXEC /* Linux 6.3 uAPI; the installed headers may predate it */
#define MFD_NOEXEC_SEAL 0x0008U
#define MFD_EXEC 0x0010U
#endif

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

/* A forked child touches p; the parent reports how it ended. */
static void touch(const char *label, volatile char *p) {
  pid_t c = fork();
  if (c == 0) { (void)*p; _exit(0); }
  int st; waitpid(c, &st, 0);
  if (WIFSIGNALED(st)) printf("%s signal %d\\n", label, WTERMSIG(st)); else printf("%s exit %d\\n", label, WEXITSTATUS(st));
}

int main(void) {
  char big[300];
  long r;
  int fd = syscall(SYS_memfd_create, "pool", 0);
  printf("fd %d\\n", fd);
  printf("getfl 0x%x\\n", fcntl(fd, F_GETFL));
  printf("getfd %d\\n", fcntl(fd, F_GETFD));
  char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  printf("mmap-empty %s\\n", p == MAP_FAILED ? strerrorname_np(errno) : "ok");
  touch("touch-empty", p);
  r = ftruncate(fd, 8192); printf("ftruncate-8192 %s\\n", err(r));
  FILE *m = fopen("/proc/self/maps", "r"); char line[512];
  while (fgets(line, sizeof line, m)) if (strstr(line, "memfd:")) printf("maps %s", strchr(line, '/'));
  fclose(m);
  pid_t c = fork();
  if (c == 0) { memset(p, 0x5a, 8192); _exit(0); }
  waitpid(c, 0, 0);
  printf("parent sees 0x%02x 0x%02x\\n", (unsigned char)p[0], (unsigned char)p[8191]);
  char *q = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  q[4096] = 1;
  printf("private 0x%02x shared 0x%02x\\n", (unsigned char)q[4096], (unsigned char)p[4096]);
  r = ftruncate(fd, 5000); printf("ftruncate-5000 %s\\n", err(r));
  printf("tail 0x%02x 0x%02x 0x%02x\\n", (unsigned char)p[4096 + 903], (unsigned char)p[4096 + 904], (unsigned char)p[8191]);
  printf("private-after 0x%02x\\n", (unsigned char)q[4096]);
  r = ftruncate(fd, 4096); printf("ftruncate-4096 %s\\n", err(r));
  touch("touch-past-end", p + 4096);
  touch("touch-private-past-end", q + 4096);
  touch("touch-first", p);
  r = ftruncate(fd, 8192); printf("ftruncate-grow %s\\n", err(r));
  printf("regrown 0x%02x 0x%02x\\n", (unsigned char)p[0], (unsigned char)p[4096]);
  int cl = syscall(SYS_memfd_create, "x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  printf("cloexec getfd %d\\n", fcntl(cl, F_GETFD));
  r = syscall(SYS_memfd_create, "x", 0x100); printf("bad-flags %s\\n", err(r));
  r = syscall(SYS_memfd_create, "x", MFD_EXEC | MFD_NOEXEC_SEAL); printf("exec-noexec %s\\n", err(r));
  memset(big, 'a', sizeof big);
  big[${MFD_NAME_MAX_LEN}] = 0; r = syscall(SYS_memfd_create, big, 0); printf("name-max %s\\n", err(r)); if (r >= 0) close(r);
  big[${MFD_NAME_MAX_LEN}] = 'a'; big[${MFD_NAME_MAX_LEN + 1}] = 0; r = syscall(SYS_memfd_create, big, 0); printf("name-too-long %s\\n", err(r));
  r = syscall(SYS_memfd_create, (char *)8, 0); printf("name-fault %s\\n", err(r));
  r = ftruncate(fd, -1); printf("ftruncate-neg %s\\n", err(r));
  r = ftruncate(99, 0); printf("ftruncate-badfd %s\\n", err(r));
  int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  r = ftruncate(sv[0], 0); printf("ftruncate-socket %s\\n", err(r));
  int nul = open("/dev/null", O_RDWR);
  r = ftruncate(nul, 0); printf("ftruncate-chr %s\\n", err(r));
  return 0;
}
`;

/** The same scenario in the simulated kernel, printing the same lines. */
async function simulated(): Promise<string> {
  const out: string[] = [];
  const say = (s: string) => out.push(s);
  const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;
  await runProgram(
    async (sys: Sys) => {
      const libc = new Libc(sys);
      const byte = async (a: number) => (await sys.load(a, 1))[0]!;
      const touch = async (label: string, addr: number) => {
        const c = await sys.fork(async (cs) => {
          await cs.load(addr, 1);
          return 0;
        });
        const { status } = await libc.waitpid(c);
        say(WIFSIGNALED(status) ? `${label} signal ${WTERMSIG(status)}` : `${label} exit ${(status >> 8) & 0xff}`);
      };
      const fd = await libc.memfdCreate('pool', 0);
      say(`fd ${fd}`);
      say(`getfl 0x${(await sys.fcntl(fd, F_GETFL)).toString(16)}`);
      say(`getfd ${await sys.fcntl(fd, F_GETFD)}`);
      const p = await sys.mmap(0, 8192, RW, MAP_SHARED, fd, 0);
      say(`mmap-empty ${errName(p)}`);
      await touch('touch-empty', p);
      say(`ftruncate-8192 ${errName(await sys.ftruncate(fd, 8192))}`);
      for (const line of procMaps(sys.task.mm!).split('\n'))
        if (line.includes('memfd:')) say(`maps ${line.slice(line.indexOf('/'))}`);
      const c = await sys.fork(async (cs) => {
        await cs.store(p, new Uint8Array(8192).fill(0x5a));
        return 0;
      });
      await libc.waitpid(c);
      say(`parent sees ${hex(await byte(p))} ${hex(await byte(p + 8191))}`);
      const q = await sys.mmap(0, 8192, RW, MAP_PRIVATE, fd, 0);
      await sys.store(q + 4096, Uint8Array.of(1));
      say(`private ${hex(await byte(q + 4096))} shared ${hex(await byte(p + 4096))}`);
      say(`ftruncate-5000 ${errName(await sys.ftruncate(fd, 5000))}`);
      say(`tail ${hex(await byte(p + 4096 + 903))} ${hex(await byte(p + 4096 + 904))} ${hex(await byte(p + 8191))}`);
      say(`private-after ${hex(await byte(q + 4096))}`);
      say(`ftruncate-4096 ${errName(await sys.ftruncate(fd, 4096))}`);
      await touch('touch-past-end', p + 4096);
      await touch('touch-private-past-end', q + 4096);
      await touch('touch-first', p);
      say(`ftruncate-grow ${errName(await sys.ftruncate(fd, 8192))}`);
      say(`regrown ${hex(await byte(p))} ${hex(await byte(p + 4096))}`);
      const cl = await libc.memfdCreate('x', MFD_CLOEXEC | MFD_ALLOW_SEALING);
      say(`cloexec getfd ${await sys.fcntl(cl, F_GETFD)}`);
      say(`bad-flags ${errName(await libc.memfdCreate('x', 0x100))}`);
      say(`exec-noexec ${errName(await libc.memfdCreate('x', MFD_EXEC | MFD_NOEXEC_SEAL))}`);
      const max = await libc.memfdCreate('a'.repeat(MFD_NAME_MAX_LEN), 0);
      say(`name-max ${errName(max)}`);
      if (max >= 0) await sys.close(max);
      say(`name-too-long ${errName(await libc.memfdCreate('a'.repeat(MFD_NAME_MAX_LEN + 1), 0))}`);
      say(`name-fault ${errName(await sys.memfd_create(8, 0))}`);
      say(`ftruncate-neg ${errName(await sys.ftruncate(fd, -1))}`);
      say(`ftruncate-badfd ${errName(await sys.ftruncate(99, 0))}`);
      const sv = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      say(`ftruncate-socket ${errName(await sys.ftruncate(sv[0], 0))}`);
      say(`ftruncate-chr ${errName(await sys.ftruncate(await libc.open('/dev/null', O_RDWR), 0))}`);
      return 0;
    },
    { ramBytes: 32 << 20 },
  );
  return `${out.join('\n')}\n`;
}

describe('memfd_create and ftruncate', () => {
  it.skipIf(!hasGcc())('behave as on the host Linux, line for line', async () => {
    const native = runC(NATIVE);
    expect(await simulated()).toBe(native);
  });

  it('refuse MFD_HUGETLB with ENOSYS: this kernel is built without hugetlbfs', async () => {
    let r = 0;
    await runProgram(async (sys) => {
      r = await new Libc(sys).memfdCreate('h', MFD_HUGETLB);
      return 0;
    });
    expect(errName(r), 'memfd_create(MFD_HUGETLB)').toBe('ENOSYS');
  });

  it('pass a memfd over SCM_RIGHTS to a process that did not inherit it; they share pages and futexes', async () => {
    const log: string[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const sv = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      // Forked before the memfd exists: it can only get it through the socket.
      const peer = await sys.fork(async (c) => {
        const cl = new Libc(c);
        const got = await cl.recvmsg(sv[1], 16, 1);
        const w = await c.mmap(0, 4096, RW, MAP_SHARED, got.fds[0]!, 0);
        await cl.writeU32(w, 7);
        log.push(`peer woke ${await c.futex(w + 4, FUTEX_WAKE, 1)} waiter`);
        return 0;
      });
      const fd = await libc.memfdCreate('shared', 0);
      await sys.ftruncate(fd, 4096);
      const w = await sys.mmap(0, 4096, RW, MAP_SHARED, fd, 0);
      await libc.sendmsg(sv[0], Uint8Array.of(1), [fd]);
      const r = await sys.futex(w + 4, FUTEX_WAIT, 0);
      log.push(`wait ${errName(r)}, word ${await libc.readU32(w)}`);
      await libc.waitpid(peer);
      return 0;
    });
    expect(log).toEqual(['peer woke 1 waiter', 'wait ok, word 7']);
  });

  it('locked read-modify-writes from many threads in two processes lose no update', async () => {
    let total = -1;
    let casWins = -1;
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.memfdCreate('counter', 0);
      await sys.ftruncate(fd, 4096);
      const w = await sys.mmap(0, 4096, RW, MAP_SHARED, fd, 0);
      const worker = async (s: Sys) => {
        const l = new Libc(s);
        for (let i = 0; i < 50; i++) {
          await l.fetchAddU32(w, 1);
          // A compare-and-swap loop increment: read, then CAS; retries when another thread got in between.
          for (;;) {
            const v = await l.readU32(w + 4);
            if ((await l.cmpxchgU32(w + 4, v, v + 1)) === v) break;
          }
        }
      };
      const child = await sys.fork(async (c) => {
        await worker(c);
        return 0;
      });
      await worker(sys);
      await libc.waitpid(child);
      total = await libc.readU32(w);
      casWins = await libc.readU32(w + 4);
      return 0;
    });
    expect(total, 'fetch-add total').toBe(100);
    expect(casWins, 'compare-and-swap total').toBe(100);
  });
});
