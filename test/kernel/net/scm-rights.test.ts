/**
 * SCM_RIGHTS shares open file descriptions across processes; ->release runs once, after the last fd, the
 * last mapping and the last in-flight reference are gone.
 */
import { describe, expect, it } from 'vitest';
import {
  AF_UNIX,
  F_GETFL,
  F_SETFL,
  Libc,
  MAP_SHARED,
  MSG_WAITALL,
  O_NONBLOCK,
  O_RDWR,
  PROT_READ,
  SIGPIPE,
  SOCK_DGRAM,
  SOCK_STREAM,
} from '../../../src/kernel/index';
import { errName, makeTestKernel, statusText } from '../fixtures/kernel';
import { registerTestDevice } from '../fixtures/test-device';

const P = 4096;

describe('SCM_RIGHTS', () => {
  it('passes a descriptor to another process; both fds share flags and the reference count', async () => {
    const k = makeTestKernel();
    const stats = registerTestDevice(k, '/dev/testdev', { pfns: [100] });
    const log: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const pair = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      const child = await sys.fork(async (c) => {
        const lc = new Libc(c);
        await c.close(pair[0]);
        const m = await lc.recvmsg(pair[1], 16, 4);
        const fd = m.fds[0]!;
        log.push(`child got ${new TextDecoder().decode(m.data)} fd ${fd}`);
        await c.fcntl(fd, F_SETFL, O_NONBLOCK);
        await c.kcall('refs', (t) => {
          log.push(`child refcount ${t.files!.get(fd)!.refcount}`);
          return 0;
        });
        const a = await c.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
        await c.close(fd);
        log.push(`child maps after close ${errName(a)}`);
        await c.load(a, 1);
        return 0;
      });
      await sys.close(pair[1]);
      const dev = await libc.open('/dev/testdev', O_RDWR);
      log.push(`sent ${await libc.sendmsg(pair[0], new TextEncoder().encode('dev'), [dev])}`);
      await libc.waitpid(child);
      log.push(`flags shared ${(await sys.fcntl(dev, F_GETFL)) & O_NONBLOCK ? 'yes' : 'no'}`);
      log.push(`releases before close ${stats.releases}`);
      await sys.close(dev);
      log.push(`releases after close ${stats.releases}`);
      return 0;
    });
    await k.run();
    expect(log).toEqual([
      'sent 3',
      'child got dev fd 3',
      // parent's fd + child's fd
      'child refcount 2',
      'child maps after close ok',
      'flags shared yes',
      'releases before close 0',
      'releases after close 1',
    ]);
    expect(stats.opens).toBe(1);
    expect(stats.releases).toBe(1);
  });

  it('a mapping keeps the description alive after the last fd; munmap of the last mapping releases it', async () => {
    const k = makeTestKernel();
    const stats = registerTestDevice(k, '/dev/testdev', { pfns: [100, 101] });
    const log: number[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/testdev', O_RDWR);
      const a = await sys.mmap(0, 2 * P, PROT_READ, MAP_SHARED, fd, 0);
      await sys.close(fd);
      log.push(stats.releases);
      await sys.munmap(a, P);
      log.push(stats.releases);
      await sys.munmap(a + P, P);
      log.push(stats.releases);
      return 0;
    });
    await k.run();
    expect(log).toEqual([0, 0, 1]);
  });

  it('descriptors still in flight are released when the receiving socket closes', async () => {
    const k = makeTestKernel();
    const stats = registerTestDevice(k, '/dev/testdev');
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const [a, b] = (await libc.socketpair(AF_UNIX, SOCK_DGRAM)) as [number, number];
      const dev = await libc.open('/dev/testdev', O_RDWR);
      await libc.sendmsg(a, new Uint8Array([1]), [dev, dev]);
      await sys.close(dev);
      expect(stats.releases, 'in flight').toBe(0);
      await sys.close(b);
      expect(stats.releases, 'dropped with the queue').toBe(1);
      return 0;
    });
    await k.run();
    expect(stats.releases).toBe(1);
  });

  it('passing more descriptors than fit the receiver fd table truncates with MSG_CTRUNC and drops the rest', async () => {
    const k = makeTestKernel({ limits: { nofile: 6 } });
    const stats = registerTestDevice(k, '/dev/testdev');
    const seen: Array<number | string> = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const [a, b] = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      const dev = await libc.open('/dev/testdev', O_RDWR);
      await libc.sendmsg(a, new Uint8Array([1]), [dev, dev, dev, dev]);
      await sys.close(dev);
      const m = await libc.recvmsg(b, 4, 4);
      seen.push(m.fds.length, m.msgFlags & 8 ? 'CTRUNC' : 'none');
      return 0;
    });
    await k.run();
    expect(seen).toEqual([1, 'CTRUNC']);
    expect(stats.releases).toBe(1);
  });
});

describe('stream sockets between processes', () => {
  it('a reader blocks until the writer sends; MSG_WAITALL waits for the whole request', async () => {
    const k = makeTestKernel();
    const got: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const [a, b] = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      const child = await sys.fork(async (c) => {
        const lc = new Libc(c);
        for (const part of ['ab', 'cd', 'ef']) {
          for (let i = 0; i < 5; i++) await c.sched_yield();
          await lc.sendmsg(a, new TextEncoder().encode(part));
        }
        return 0;
      });
      const m = await libc.recvmsg(b, 6, 0, MSG_WAITALL);
      got.push(new TextDecoder().decode(m.data));
      await libc.waitpid(child);
      return 0;
    });
    await k.run();
    expect(got).toEqual(['abcdef']);
  });

  it('writing to a socket whose peer is gone raises SIGPIPE, which kills by default', async () => {
    const k = makeTestKernel();
    const { pid } = k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const [a, b] = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      await sys.close(b);
      await libc.sendmsg(a, new Uint8Array([1]));
      return 0;
    });
    await k.run();
    expect(statusText(k.exitStatus(pid)!)).toBe(`signal ${SIGPIPE}`);
  });

  it('read() and write() work on sockets and drop passed descriptors', async () => {
    const k = makeTestKernel();
    const stats = registerTestDevice(k, '/dev/testdev');
    const got: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const [a, b] = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      const dev = await libc.open('/dev/testdev', O_RDWR);
      await libc.sendmsg(a, new TextEncoder().encode('x'), [dev]);
      await sys.close(dev);
      const buf = await libc.alloc(8);
      got.push(String(await sys.read(b, buf, 8)));
      got.push(`released ${stats.releases}`);
      const src = await libc.bytes(new TextEncoder().encode('hi'));
      got.push(String(await sys.write(b, src, 2)));
      got.push(String(await sys.read(a, buf, 8)));
      return 0;
    });
    await k.run();
    expect(got).toEqual(['1', 'released 1', '2', '2']);
  });
});

describe('garbage collection of in-flight sockets', () => {
  it('a socket sent to its own peer and then closed is collected (unix_gc), releasing what it carried', async () => {
    const k = makeTestKernel();
    const stats = registerTestDevice(k, '/dev/testdev');
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const [a, b] = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];
      const dev = await libc.open('/dev/testdev', O_RDWR);
      // b's own file and the device go into b's receive queue: a cycle only the GC can break.
      await libc.sendmsg(a, new Uint8Array([1]), [b, dev]);
      await sys.close(dev);
      await sys.close(b);
      await sys.close(a);
      return 0;
    });
    await k.run();
    expect(stats.releases).toBe(1);
    expect([...k.liveFiles].map((f) => f.inode.path)).toEqual([]);
  });
});
