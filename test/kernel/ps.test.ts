/** The ps-style snapshot and /proc/<pid>/maps text the CLI and demo print. */
import { describe, expect, it } from 'vitest';
import { PhysMem } from '../../src/hw/index';
import {
  AF_UNIX,
  formatPs,
  Kernel,
  Libc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  MmPageTable,
  O_CLOEXEC,
  O_RDWR,
  PageAllocator,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  SOCK_STREAM,
  SYSCALL_TABLE,
} from '../../src/kernel/index';
import { registerTestDevice } from './fixtures/test-device';

describe('snapshots', () => {
  it('lists processes, threads, maps and fds with what each refers to', async () => {
    const k = new Kernel({ seed: 4 });
    registerTestDevice(k, '/dev/testdev', { pfns: [] });
    let snap!: ReturnType<Kernel['snapshot']>;
    let maps = '';
    k.spawn(
      async (sys) => {
        const libc = new Libc(sys);
        const dev = await libc.open('/dev/testdev', O_RDWR | O_CLOEXEC);
        await libc.socketpair(AF_UNIX, SOCK_STREAM);
        await sys.mmap(0x10000000, 2 * 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        await sys.mmap(0x20000000, 4096, PROT_READ, MAP_SHARED, dev, 0);
        const shared = await sys.mmap(0x30000000, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        await sys.store(shared, new Uint8Array([1]));
        await sys.kcall('snap', (t) => {
          snap = t.kernel.snapshot();
          maps = t.kernel.procMaps(t.tgid)!;
          return 0;
        });
        return 0;
      },
      { comm: 'demo' },
    );
    await k.run();
    const p = snap.processes.find((x) => x.comm === 'demo')!;
    expect(p.ppid).toBe(1);
    expect(p.threads.map((t) => t.state)).toEqual(['running']);
    expect(p.fds.map((f) => [f.fd, f.target.replace(/\[\d+\]/, '[N]'), f.cloexec])).toEqual([
      [0, '/dev/console', false],
      [1, '/dev/console', false],
      [2, '/dev/console', false],
      [3, '/dev/testdev', true],
      [4, 'socket:[N]', false],
      [5, 'socket:[N]', false],
    ]);
    // Three fds share the console description; the device has its fd and its mapping.
    expect(p.fds[0]!.refcount).toBe(3);
    expect(p.fds[3]!.refcount).toBe(2);
    const lines = maps.trimEnd().split('\n');
    expect(lines[0]).toBe('10000000-10002000 r-xp 00000000 00:00 0 ');
    expect(lines[1]).toMatch(/^20000000-20001000 r--s 00000000 00:05 \d+ +\/dev\/testdev$/);
    expect(lines[1]!.indexOf('/dev/testdev')).toBe(73);
    expect(lines[2]).toMatch(/^30000000-30001000 rw-s 00000000 00:01 \d+ +\/dev\/zero \(deleted\)$/);
    // The last one is libc's scratch arena, touched by socketpair().
    expect(p.maps.map((m) => m.resident)).toEqual([0, 0, 1, 1]);
    expect(p.maps[1]!.flags).toEqual(expect.arrayContaining(['pf', 'io', 'de']));
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    const ps = formatPs(snap);
    expect(ps).toMatch(/^ {2}PID {2}PPID {3}TID STAT COMM\n/);
    expect(ps).toContain('\n    1     0     1 S    init\n    2     1     2 R    demo\n');
  });

  it('the syscall table can be listed with support notes', () => {
    const rows = SYSCALL_TABLE.map((e) => `${e.nr} ${e.name} ${e.support}`);
    expect(rows).toContain('9 mmap partial');
    expect(rows).toContain('61 wait4 full');
    expect(SYSCALL_TABLE.filter((e) => e.support === 'unimplemented').map((e) => e.name)).toEqual(['vfork', 'execve']);
  });
});

describe('save and restore', () => {
  it('the page allocator and a page table round-trip through plain JSON', () => {
    const mem = new PhysMem({ ramBytes: 64 * 4096, epcSections: [] });
    const a = new PageAllocator(mem, 2);
    const p1 = a.alloc()!;
    const p2 = a.alloc()!;
    a.get(p1);
    a.put(p2);
    const state = JSON.parse(JSON.stringify(a.save()));
    const b = PageAllocator.restore(mem, state);
    expect(b.save()).toEqual(a.save());
    expect(b.alloc()).toBe(a.alloc());
    const t = new MmPageTable();
    t.set(5, p1, 0x27);
    t.set(3, 40, 0x5);
    const t2 = MmPageTable.restore(JSON.parse(JSON.stringify(t.save())));
    expect(t2.entries()).toEqual(t.entries());
    expect(t2.lookup(5)).toEqual({ pfn: p1, flags: 0x27 });
  });
});
