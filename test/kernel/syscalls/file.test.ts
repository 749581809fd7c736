/** File syscalls: open/openat/close/read/write/dup/dup2/dup3/fcntl/ioctl, happy paths and every errno path. */
import { describe, expect, it } from 'vitest';
import {
  AT_FDCWD,
  EBADF,
  EEXIST,
  EFAULT,
  EINVAL,
  EISDIR,
  EMFILE,
  ENAMETOOLONG,
  ENODEV,
  ENOENT,
  ENOTDIR,
  ENOTTY,
  EROFS,
  F_DUPFD,
  F_DUPFD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  FIOCLEX,
  FIONBIO,
  Libc,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_TMPFILE,
  O_WRONLY,
  RLIMIT_NOFILE,
  type Sys,
  WEXITSTATUS,
} from '../../../src/kernel/index';
import { errName, makeTestKernel, runProgram } from '../fixtures/kernel';
import { registerTestDevice, TESTDEV_GET, TESTDEV_SET } from '../fixtures/test-device';

/** Runs `body` in a process and returns what it recorded. */
async function inProcess<T>(
  body: (sys: Sys, libc: Libc) => Promise<T>,
  setup?: (k: ReturnType<typeof makeTestKernel>) => void,
): Promise<T> {
  let result: T | undefined;
  const k = makeTestKernel();
  setup?.(k);
  k.spawn(async (sys) => {
    result = await body(sys, new Libc(sys));
    return 0;
  });
  const r = await k.run({ maxSteps: 200_000 });
  expect(r.kind, 'the program should finish').toBe('idle');
  return result as T;
}

describe('open and close', () => {
  it('opens /dev/null at the lowest free fd and closes it', async () => {
    const r = await inProcess(async (sys, libc) => {
      const fd = await libc.open('/dev/null', O_RDWR);
      const fd2 = await libc.open('/dev/null', O_RDONLY);
      const c1 = await sys.close(fd);
      const fd3 = await libc.open('/dev/zero', O_RDONLY);
      return { fd, fd2, c1, fd3, again: await sys.close(fd) };
    });
    // 0-2 are the console.
    expect(r).toEqual({ fd: 3, fd2: 4, c1: 0, fd3: 3, again: 0 });
  });

  it('reports each path error with the kernel errno', async () => {
    const r = await inProcess(async (sys, libc) => {
      const res: Record<string, string> = {};
      res.missing = errName(await libc.open('/dev/nope', O_RDONLY));
      res.relativeMissing = errName(await libc.open('nope', O_RDONLY));
      res.empty = errName(await libc.open('', O_RDONLY));
      res.notDir = errName(await libc.open('/dev/null/x', O_RDONLY));
      res.trailingSlash = errName(await libc.open('/dev/null/', O_RDONLY));
      res.dirWrite = errName(await libc.open('/dev', O_WRONLY));
      res.dirCreat = errName(await libc.open('/dev', O_CREAT | O_RDONLY));
      res.excl = errName(await libc.open('/dev/null', O_CREAT | O_EXCL | O_RDWR));
      res.create = errName(await libc.open('/dev/new', O_CREAT | O_RDWR, 0o644));
      res.createNoParent = errName(await libc.open('/tmp/new', O_CREAT | O_RDWR, 0o644));
      res.tmpfile = errName(await libc.open('/dev', O_TMPFILE | O_RDWR, 0o600));
      res.oDirectory = errName(await libc.open('/dev/null', O_DIRECTORY | O_RDONLY));
      res.long = errName(await libc.open(`/${'a'.repeat(5000)}`, O_RDONLY));
      res.longComponent = errName(await libc.open(`/dev/${'a'.repeat(300)}`, O_RDONLY));
      res.fault = errName(await sys.open(0x10, O_RDONLY));
      res.dirRead = errName(await libc.open('/dev', O_RDONLY | O_DIRECTORY));
      res.dotdot = errName(await libc.open('/dev/../dev/./null', O_RDONLY));
      return res;
    });
    expect(r).toEqual({
      missing: 'ENOENT',
      relativeMissing: 'ENOENT',
      empty: 'ENOENT',
      notDir: 'ENOTDIR',
      trailingSlash: 'ENOTDIR',
      dirWrite: 'EISDIR',
      dirCreat: 'EISDIR',
      excl: 'EEXIST',
      create: 'EROFS',
      createNoParent: 'ENOENT',
      tmpfile: 'EROFS',
      oDirectory: 'ENOTDIR',
      long: 'ENAMETOOLONG',
      longComponent: 'ENAMETOOLONG',
      fault: 'EFAULT',
      dirRead: 'ok',
      dotdot: 'ok',
    });
    void [ENOENT, ENOTDIR, EISDIR, EEXIST, EROFS, ENAMETOOLONG, EFAULT];
  });

  it('openat resolves relative paths against a directory fd', async () => {
    const r = await inProcess(async (sys, libc) => {
      const dir = await libc.open('/dev', O_RDONLY | O_DIRECTORY);
      const p = await libc.cstr('null');
      const ok = await sys.openat(dir, p, O_RDWR);
      const cwd = await sys.openat(AT_FDCWD, await libc.cstr('/dev/null'), O_RDWR);
      const bad = await sys.openat(99, p, O_RDWR);
      const nul = await libc.open('/dev/null', O_RDONLY);
      const notdir = await sys.openat(nul, p, O_RDWR);
      return { ok: errName(ok), cwd: errName(cwd), bad: errName(bad), notdir: errName(notdir) };
    });
    expect(r).toEqual({ ok: 'ok', cwd: 'ok', bad: 'EBADF', notdir: 'ENOTDIR' });
  });

  it('close of a bad fd is EBADF', async () => {
    const r = await inProcess(async (sys) => [await sys.close(77), await sys.close(-1)]);
    expect(r.map(errName)).toEqual(['EBADF', 'EBADF']);
    void EBADF;
  });

  it('RLIMIT_NOFILE bounds open() and dup() with EMFILE', async () => {
    const r = await inProcess(async (sys, libc) => {
      const rl = await libc.alloc(16);
      await libc.writeU64(rl, 5n);
      await libc.writeU64(rl + 8, 5n);
      const set = await sys.setrlimit(RLIMIT_NOFILE, rl);
      const a = await libc.open('/dev/null', O_RDONLY);
      const b = await libc.open('/dev/null', O_RDONLY);
      const c = await libc.open('/dev/null', O_RDONLY);
      const d = await sys.dup(0);
      return { set, a, b, c: errName(c), d: errName(d) };
    });
    expect(r).toEqual({ set: 0, a: 3, b: 4, c: 'EMFILE', d: 'EMFILE' });
    void EMFILE;
  });
});

describe('read and write', () => {
  it('/dev/null reads EOF and swallows writes; /dev/zero reads zeros', async () => {
    const r = await inProcess(async (sys, libc) => {
      const n = await libc.open('/dev/null', O_RDWR);
      const z = await libc.open('/dev/zero', O_RDONLY);
      const buf = await libc.bytes(new Uint8Array([7, 7, 7, 7]));
      const rn = await sys.read(n, buf, 4);
      const wn = await sys.write(n, buf, 4);
      const rz = await sys.read(z, buf, 3);
      const bytes = Array.from(await sys.load(buf, 4));
      return { rn, wn, rz, bytes };
    });
    expect(r).toEqual({ rn: 0, wn: 4, rz: 3, bytes: [0, 0, 0, 7] });
  });

  it('checks the fd mode, the operation and the buffer', async () => {
    const r = await inProcess(async (sys, libc) => {
      const ro = await libc.open('/dev/null', O_RDONLY);
      const wo = await libc.open('/dev/null', O_WRONLY);
      const dir = await libc.open('/dev', O_RDONLY);
      const z = await libc.open('/dev/zero', O_RDONLY);
      const buf = await libc.alloc(8);
      return {
        writeRo: errName(await sys.write(ro, buf, 1)),
        readWo: errName(await sys.read(wo, buf, 1)),
        badFd: errName(await sys.read(50, buf, 1)),
        dirRead: errName(await sys.read(dir, buf, 1)),
        fault: errName(await sys.read(z, 0x1000, 1)),
        kernelAddr: errName(await sys.read(z, 2 ** 47 + 4096, 1)),
      };
    });
    expect(r).toEqual({
      writeRo: 'EBADF',
      readWo: 'EBADF',
      badFd: 'EBADF',
      dirRead: 'EINVAL',
      fault: 'EFAULT',
      kernelAddr: 'EFAULT',
    });
  });

  it('console writes land in the kernel console log', async () => {
    const { k, status } = await runProgram(async (sys) => {
      await new Libc(sys).print(1, 'hello\n');
      return 0;
    });
    expect(WEXITSTATUS(status)).toBe(0);
    expect(k.console).toBe('hello\n');
  });
});

describe('dup, dup2, dup3 and fcntl', () => {
  it('dup shares the description; dup2 replaces; dup3 sets close-on-exec', async () => {
    const r = await inProcess(async (sys, libc) => {
      const fd = await libc.open('/dev/null', O_RDWR | O_CLOEXEC);
      const d = await sys.dup(fd);
      const d2 = await sys.dup2(fd, 9);
      const same = await sys.dup2(fd, fd);
      const d3 = await sys.dup3(fd, 10, O_CLOEXEC);
      let refs = 0;
      await sys.kcall('refs', (t) => {
        refs = t.files!.get(fd)!.refcount;
        return 0;
      });
      return {
        d,
        d2,
        same,
        d3,
        refs,
        fdFlags: [await sys.fcntl(fd, F_GETFD), await sys.fcntl(d, F_GETFD), await sys.fcntl(d3, F_GETFD)],
      };
    });
    expect(r).toEqual({ d: 4, d2: 9, same: 3, d3: 10, refs: 4, fdFlags: [FD_CLOEXEC, 0, FD_CLOEXEC] });
  });

  it('dup2/dup3 errors follow ksys_dup3()', async () => {
    const r = await inProcess(async (sys) => ({
      dup2BadOld: errName(await sys.dup2(40, 5)),
      dup2SameBad: errName(await sys.dup2(40, 40)),
      dup2Range: errName(await sys.dup2(0, 5000)),
      dup2Neg: errName(await sys.dup2(0, -1)),
      dup3Same: errName(await sys.dup3(0, 0, 0)),
      dup3Flags: errName(await sys.dup3(0, 5, O_NONBLOCK)),
      dupBad: errName(await sys.dup(40)),
    }));
    expect(r).toEqual({
      dup2BadOld: 'EBADF',
      dup2SameBad: 'EBADF',
      dup2Range: 'EBADF',
      dup2Neg: 'EBADF',
      dup3Same: 'EINVAL',
      dup3Flags: 'EINVAL',
      dupBad: 'EBADF',
    });
    void EINVAL;
  });

  it('fcntl duplicates at or above a base, and gets/sets flags', async () => {
    const r = await inProcess(async (sys, libc) => {
      const fd = await libc.open('/dev/null', O_RDWR);
      const a = await sys.fcntl(fd, F_DUPFD, 20);
      const b = await sys.fcntl(fd, F_DUPFD_CLOEXEC, 20);
      const big = errName(await sys.fcntl(fd, F_DUPFD, 100000));
      const set = await sys.fcntl(fd, F_SETFD, FD_CLOEXEC);
      const fl0 = await sys.fcntl(fd, F_GETFL);
      await sys.fcntl(fd, F_SETFL, O_NONBLOCK | O_APPEND | O_WRONLY);
      const fl1 = await sys.fcntl(a, F_GETFL);
      return {
        a,
        b,
        big,
        set,
        cloexec: await sys.fcntl(fd, F_GETFD),
        fl0,
        fl1,
        bad: errName(await sys.fcntl(fd, 9999)),
        badFd: errName(await sys.fcntl(77, F_GETFD)),
      };
    });
    // F_SETFL changes the description (shared with the dup), and never the access mode.
    expect(r).toEqual({
      a: 20,
      b: 21,
      big: 'EINVAL',
      set: 0,
      cloexec: FD_CLOEXEC,
      fl0: O_RDWR,
      fl1: O_RDWR | O_NONBLOCK | O_APPEND,
      bad: 'EINVAL',
      badFd: 'EBADF',
    });
  });
});

describe('ioctl and device drivers', () => {
  it('dispatches to the driver, copies structs through user memory, maps ENOIOCTLCMD to ENOTTY', async () => {
    let stats!: ReturnType<typeof registerTestDevice>;
    const r = await inProcess(
      async (sys, libc) => {
        const fd = await libc.open('/dev/testdev', O_RDWR);
        const arg = await libc.alloc(8);
        await libc.writeU64(arg, 0x1122334455667788n);
        const set = await sys.ioctl(fd, TESTDEV_SET, arg);
        await libc.writeU64(arg, 0n);
        const get = await sys.ioctl(fd, TESTDEV_GET, arg);
        const value = await libc.readU64(arg);
        const nul = await libc.open('/dev/null', O_RDWR);
        return {
          set,
          get,
          value,
          unknown: errName(await sys.ioctl(fd, 0x1234, 0)),
          fault: errName(await sys.ioctl(fd, TESTDEV_GET, 8)),
          noIoctl: errName(await sys.ioctl(nul, 0x5401, 0)),
          badFd: errName(await sys.ioctl(99, TESTDEV_GET, arg)),
          cloexec: [await sys.ioctl(fd, FIOCLEX, 0), await sys.fcntl(fd, F_GETFD)],
          fionbio: [await sys.ioctl(fd, FIONBIO, arg), errName(await sys.ioctl(fd, FIONBIO, 0))],
        };
      },
      (k) => {
        stats = registerTestDevice(k, '/dev/testdev');
      },
    );
    expect(r).toEqual({
      set: 0,
      get: 0,
      value: 0x1122334455667788n,
      unknown: 'ENOTTY',
      fault: 'EFAULT',
      noIoctl: 'ENOTTY',
      badFd: 'EBADF',
      cloexec: [0, FD_CLOEXEC],
      fionbio: [0, 'EFAULT'],
    });
    expect(stats.opens).toBe(1);
    expect(stats.releases, 'release runs at exit, when the last fd goes').toBe(1);
    void ENOTTY;
  });

  it('a failing ->open returns its errno and never calls ->release', async () => {
    let stats!: ReturnType<typeof registerTestDevice>;
    const r = await inProcess(
      async (_sys, libc) => errName(await libc.open('/dev/busy', O_RDWR)),
      (k) => {
        stats = registerTestDevice(k, '/dev/busy', { openError: ENODEV });
      },
    );
    expect(r).toBe('ENODEV');
    expect(stats.releases).toBe(0);
  });

  it('registering the same path twice is a driver bug, not a user error', () => {
    const k = makeTestKernel();
    registerTestDevice(k, '/dev/one');
    expect(() => registerTestDevice(k, '/dev/one')).toThrow(/already exists/);
  });
});
