/**
 * wait4() status words and process-level errnos compared with native Linux: a C program forks children that
 * end in different ways (RLIMIT_CORE 0, as our kernel never writes cores) and prints the raw statuses; the
 * simulated programs end the same ways and must produce the same words.
 */
import { describe, expect, it } from 'vitest';
import {
  ECHILD,
  Libc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  SIGABRT,
  SIGKILL,
  SIGTERM,
  SIGUSR1,
  type Sys,
  WNOHANG,
} from '../../../src/kernel/index';
import { hasGcc, runC } from '../../util/native';
import { errName, makeTestKernel } from '../fixtures/kernel';

const NATIVE = `#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <unistd.h>
static int run(int how) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    switch (how) {
    case 0: exit(3);
    case 1: exit(256 + 5);
    case 2: raise(SIGTERM); break;
    case 3: { volatile int *q = (int *)mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); *q = 1; break; }
    case 4: abort();
    case 5: kill(getpid(), SIGKILL); break;
    case 6: raise(SIGUSR1); break;
    case 7: { volatile int *q = (int *)16; (void)*q; break; }
    case 8: _exit(0);
    }
    for (;;) pause();
  }
  int st;
  waitpid(p, &st, 0);
  return st;
}
int main(void) {
  for (int i = 0; i <= 8; i++) printf("%d %d\\n", i, run(i));
  int st;
  errno = 0; printf("nochild %s\\n", waitpid(-1, &st, 0) < 0 ? strerrorname_np(errno) : "ok");
  errno = 0; printf("badopt %s\\n", waitpid(-1, &st, 0x4000) < 0 ? strerrorname_np(errno) : "ok");
  errno = 0; printf("killsig %s\\n", kill(getpid(), 65) < 0 ? strerrorname_np(errno) : "ok");
  errno = 0; printf("killnone %s\\n", kill(4000000, 0) < 0 ? strerrorname_np(errno) : "ok");
  struct sigaction sa = {0};
  sa.sa_handler = SIG_IGN;
  errno = 0; printf("sigactkill %s\\n", sigaction(SIGKILL, &sa, 0) < 0 ? strerrorname_np(errno) : "ok");
  errno = 0; printf("sigactstop %s\\n", sigaction(SIGSTOP, &sa, 0) < 0 ? strerrorname_np(errno) : "ok");
  errno = 0; printf("sigact0 %s\\n", sigaction(0, &sa, 0) < 0 ? strerrorname_np(errno) : "ok");
  errno = 0; printf("sigact65 %s\\n", sigaction(65, &sa, 0) < 0 ? strerrorname_np(errno) : "ok");
  errno = 0; printf("getkill %s\\n", sigaction(SIGKILL, 0, &sa) < 0 ? strerrorname_np(errno) : "ok");
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) { pause(); _exit(0); }
  errno = 0; printf("wnohang %d\\n", waitpid(c, &st, WNOHANG));
  kill(c, SIGKILL);
  waitpid(c, &st, 0);
  printf("killed %d\\n", st);
  return 0;
}
`;

/** The same endings in the simulated kernel. */
async function simulate(): Promise<string> {
  const lines: string[] = [];
  const k = makeTestKernel();
  const endings: Array<(s: Sys) => Promise<unknown>> = [
    async () => 3,
    async (s) => s.exit_group(256 + 5),
    async (s) => s.kill(await s.getpid(), SIGTERM),
    async (s) => {
      const a = await s.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await s.store(a, new Uint8Array([1]));
    },
    // abort(): unblock SIGABRT and raise it (glibc's abort()).
    async (s) => s.tgkill(await s.getpid(), await s.gettid(), SIGABRT),
    async (s) => s.kill(await s.getpid(), SIGKILL),
    async (s) => s.tgkill(await s.getpid(), await s.gettid(), SIGUSR1),
    async (s) => s.load(16, 4),
    async (s) => s.exit(0),
  ];
  k.spawn(async (sys) => {
    const libc = new Libc(sys);
    for (let i = 0; i < endings.length; i++) {
      const pid = await sys.fork(async (c) => {
        // Returning from the child's main is exit(value), as returning from C's main().
        const v = await endings[i]!(c);
        if (typeof v === 'number' && i === 0) return v;
        for (;;) await c.pause();
      });
      lines.push(`${i} ${(await libc.waitpid(pid)).status}`);
    }
    const st = await libc.alloc(4);
    lines.push(`nochild ${errName(await sys.wait4(-1, st, 0))}`);
    lines.push(`badopt ${errName(await sys.wait4(-1, st, 0x4000))}`);
    lines.push(`killsig ${errName(await sys.kill(await sys.getpid(), 65))}`);
    lines.push(`killnone ${errName(await sys.kill(4000000, 0))}`);
    lines.push(`sigactkill ${errName(await sys.sigaction(SIGKILL, { handler: 'SIG_IGN' }))}`);
    lines.push(`sigactstop ${errName(await sys.sigaction(19, { handler: 'SIG_IGN' }))}`);
    lines.push(`sigact0 ${errName(await sys.sigaction(0, { handler: 'SIG_IGN' }))}`);
    lines.push(`sigact65 ${errName(await sys.sigaction(65, { handler: 'SIG_IGN' }))}`);
    lines.push(`getkill ${errName(await sys.sigaction(SIGKILL, null, {}))}`);
    const c = await sys.fork(async (s) => {
      await s.pause();
      return 0;
    });
    lines.push(`wnohang ${await sys.wait4(c, st, WNOHANG)}`);
    await sys.kill(c, SIGKILL);
    lines.push(`killed ${(await libc.waitpid(c)).status}`);
    return 0;
  });
  const r = await k.run({ maxSteps: 100_000 });
  expect(
    r.kind,
    `run ended with ${JSON.stringify(r)} after:\n${lines.join('\n')}\n${JSON.stringify(k.snapshot().processes.map((p) => [p.pid, p.stat, p.threads.map((t) => t.state)]))}`,
  ).toBe('idle');
  return `${lines.join('\n').replace(/ ok$/gm, ' ok')}\n`;
}

describe.skipIf(!hasGcc())('wait statuses and process errnos against native Linux', () => {
  it('match the host kernel', async () => {
    const want = runC(NATIVE, ['-O0']);
    const got = await simulate();
    expect(got).toBe(want);
    void ECHILD;
  });
});
