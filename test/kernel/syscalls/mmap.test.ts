/**
 * mmap/munmap/mprotect/mremap at the syscall level: the errno paths the native oracle cannot reach
 * (file mappings, drivers, limits) and the driver hooks (->get_unmapped_area, ->mmap, vm_ops).
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MMAP_BASE,
  EACCES,
  Libc,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_HUGETLB,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  RLIMIT_AS,
  type Sys,
  TASK_SIZE,
  vmFlagNames,
} from '../../../src/kernel/index';
import { errName, makeTestKernel } from '../fixtures/kernel';
import { registerTestDevice, type TestDeviceOptions } from '../fixtures/test-device';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

async function inProcess<T>(
  body: (sys: Sys, libc: Libc) => Promise<T>,
  opts: { dev?: TestDeviceOptions; ramBytes?: number; maxMapCount?: number } = {},
) {
  const k = makeTestKernel({
    ramBytes: opts.ramBytes,
    limits: opts.maxMapCount ? { maxMapCount: opts.maxMapCount } : {},
  });
  const stats = opts.dev ? registerTestDevice(k, '/dev/testdev', opts.dev) : undefined;
  let result!: T;
  const { pid } = k.spawn(async (sys) => {
    result = await body(sys, new Libc(sys));
    return 0;
  });
  const r = await k.run({ maxSteps: 500_000 });
  expect(r.kind, 'the program should finish').toBe('idle');
  return { result, k, stats, pid };
}

describe('mmap', () => {
  it('places mappings top-down below mmap_base and honours hints', async () => {
    const { result } = await inProcess(async (sys) => {
      const a = await sys.mmap(0, P, RW, ANON, -1, 0);
      const b = await sys.mmap(0, 2 * P, RW, ANON, -1, 0);
      const hint = await sys.mmap(0x10000000, P, RW, ANON, -1, 0);
      const taken = await sys.mmap(hint, P, RW, ANON, -1, 0);
      const low = await sys.mmap(0x1000, P, RW, ANON, -1, 0);
      return { a, b, hint, taken, low };
    });
    expect(result.a).toBe(DEFAULT_MMAP_BASE - P);
    // b is below a but merged with it (same flags, adjacent, contiguous pgoff).
    expect(result.b).toBe(DEFAULT_MMAP_BASE - 3 * P);
    expect(result.hint).toBe(0x10000000);
    expect(result.taken, 'a taken hint falls back to the top-down search').not.toBe(0x10000000);
    // round_hint_to_min(): hints below vm.mmap_min_addr are raised to it.
    expect(result.low).toBe(0x10000);
  });

  it('returns each do_mmap() errno', async () => {
    const { result } = await inProcess(async (sys, libc) => {
      const nul = await libc.open('/dev/null', O_RDWR);
      const zero = await libc.open('/dev/zero', O_RDWR);
      const zeroRo = await libc.open('/dev/zero', O_RDONLY);
      const zeroWo = await libc.open('/dev/zero', O_WRONLY);
      return {
        len0: errName(await sys.mmap(0, 0, RW, ANON, -1, 0)),
        huge: errName(await sys.mmap(0, 2 ** 48, RW, ANON, -1, 0)),
        wrap: errName(await sys.mmap(0, 2 ** 64 - 1, RW, ANON, -1, 0)),
        offUnaligned: errName(await sys.mmap(0, P, RW, MAP_PRIVATE, zero, 100)),
        badFd: errName(await sys.mmap(0, P, RW, MAP_PRIVATE, 42, 0)),
        noType: errName(await sys.mmap(0, P, RW, MAP_ANONYMOUS, -1, 0)),
        noMmap: errName(await sys.mmap(0, P, RW, MAP_SHARED, nul, 0)),
        sharedWriteRo: errName(await sys.mmap(0, P, RW, MAP_SHARED, zeroRo, 0)),
        sharedReadRo: errName(await sys.mmap(0, P, PROT_READ, MAP_SHARED, zeroRo, 0)),
        writeOnlyFile: errName(await sys.mmap(0, P, PROT_READ, MAP_PRIVATE, zeroWo, 0)),
        validateUnknown: errName(await sys.mmap(0, P, RW, MAP_SHARED_VALIDATE | MAP_SYNC, zero, 0)),
        sharedIgnoresUnknown: errName(await sys.mmap(0, P, RW, MAP_SHARED | MAP_SYNC, zero, 0)),
        hugetlbAnon: errName(await sys.mmap(0, 2 << 20, RW, ANON | MAP_HUGETLB, -1, 0)),
        hugetlbFile: errName(await sys.mmap(0, P, RW, MAP_PRIVATE | MAP_HUGETLB, zero, 0)),
        fixedUnaligned: errName(await sys.mmap(0x10000123, P, RW, ANON | MAP_FIXED, -1, 0)),
        fixedBeyond: errName(await sys.mmap(TASK_SIZE, P, RW, ANON | MAP_FIXED, -1, 0)),
      };
    });
    expect(result).toEqual({
      len0: 'EINVAL',
      huge: 'ENOMEM',
      wrap: 'ENOMEM',
      offUnaligned: 'EINVAL',
      badFd: 'EBADF',
      noType: 'EINVAL',
      noMmap: 'ENODEV',
      sharedWriteRo: 'EACCES',
      sharedReadRo: 'ok',
      writeOnlyFile: 'EACCES',
      validateUnknown: 'EOPNOTSUPP',
      sharedIgnoresUnknown: 'ok',
      hugetlbAnon: 'ENOMEM',
      hugetlbFile: 'EINVAL',
      fixedUnaligned: 'EINVAL',
      fixedBeyond: 'ENOMEM',
    });
  });

  it('maps /dev/zero privately as anonymous memory and shared as shmem', async () => {
    const { result } = await inProcess(async (sys, libc) => {
      const zero = await libc.open('/dev/zero', O_RDWR);
      const priv = await sys.mmap(0, P, RW, MAP_PRIVATE, zero, 0);
      const shared = await sys.mmap(0, P, RW, MAP_SHARED, zero, 0);
      await sys.store(priv, new Uint8Array([1]));
      await sys.store(shared, new Uint8Array([2]));
      let maps = '';
      await sys.kcall('maps', (t) => {
        maps = t.kernel.procMaps(t.tgid)!;
        return 0;
      });
      return { maps, bytes: [...(await sys.load(priv, 1)), ...(await sys.load(shared, 1))] };
    });
    expect(result.bytes).toEqual([1, 2]);
    expect(result.maps).toMatch(/rw-p 00000000 00:05 \d+ +\/dev\/zero\n/);
    expect(result.maps).toMatch(/rw-s 00000000 00:01 \d+ +\/dev\/zero \(deleted\)\n/);
  });

  it('MAP_POPULATE faults the pages in (breaking COW for private writable mappings)', async () => {
    const { result } = await inProcess(async (sys) => {
      expect(await sys.mmap(0, 4 * P, RW, ANON | MAP_POPULATE, -1, 0)).toBeGreaterThan(0);
      let rss = 0;
      await sys.kcall('rss', (t) => {
        rss = t.mm!.rss;
        return 0;
      });
      return rss;
    });
    expect(result).toBe(4);
  });

  it('refuses more mappings than vm.max_map_count with ENOMEM', async () => {
    const { result } = await inProcess(
      async (sys) => {
        const out: string[] = [];
        const first = await sys.mmap(0, 3 * P, PROT_READ, ANON, -1, 0);
        // Alternating protections so nothing merges.
        for (let i = 0; i < 5; i++) out.push(errName(await sys.mmap(0, P, i % 2 ? PROT_READ : RW, ANON, -1, 0)));
        out.push(errName(await sys.munmap(first + P, P)));
        return out;
      },
      { maxMapCount: 4 },
    );
    // do_mmap() refuses once map_count > max (so max + 1 VMAs can exist); a munmap() that splits needs room.
    expect(result).toEqual(['ok', 'ok', 'ok', 'ok', 'ENOMEM', 'ENOMEM']);
  });

  it('RLIMIT_AS and the overcommit heuristic give ENOMEM', async () => {
    const { result } = await inProcess(
      async (sys, libc) => {
        const tooBig = errName(await sys.mmap(0, 32 << 20, RW, ANON, -1, 0));
        const noreserve = errName(await sys.mmap(0, 32 << 20, PROT_READ, ANON, -1, 0));
        const rl = await libc.alloc(16);
        await libc.writeU64(rl, BigInt(64 * P));
        await libc.writeU64(rl + 8, BigInt(64 * P));
        await sys.setrlimit(RLIMIT_AS, rl);
        const asLimit = errName(await sys.mmap(0, 64 * P, PROT_READ, ANON, -1, 0));
        return { tooBig, noreserve, asLimit };
      },
      { ramBytes: 16 << 20 },
    );
    // Writable private memory beyond RAM is refused by __vm_enough_memory(); read-only is not accounted.
    expect(result).toEqual({ tooBig: 'ENOMEM', noreserve: 'ok', asLimit: 'ENOMEM' });
  });
});

describe('driver mappings', () => {
  it('->mmap sets VM_PFNMAP|VM_DONTEXPAND|VM_IO|VM_DONTDUMP; faults map the driver frame', async () => {
    const { result, stats } = await inProcess(
      async (sys, libc) => {
        const fd = await libc.open('/dev/testdev', O_RDWR);
        const a = await sys.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0);
        await sys.store(a, new Uint8Array([5]));
        const first = (await sys.load(a, 1))[0];
        const flags: string[] = [];
        await sys.kcall('flags', (t) => {
          flags.push(...vmFlagNames(t.mm!.vmas.lookup(a)!.flags));
          return 0;
        });
        return { first, flags };
      },
      { dev: { pfns: [100, 101] } },
    );
    expect(result.first).toBe(5);
    expect(result.flags).toEqual(expect.arrayContaining(['pf', 'de', 'io', 'dd', 'sh']));
    expect(stats!.mmaps).toBe(1);
    expect(stats!.faults).toBe(1);
  });

  it('refuses MAP_PRIVATE through ->get_unmapped_area and write through ->mmap', async () => {
    const { result } = await inProcess(
      async (sys, libc) => {
        const fd = await libc.open('/dev/testdev', O_RDWR);
        return {
          priv: errName(await sys.mmap(0, P, PROT_READ, MAP_PRIVATE, fd, 0)),
          write: errName(await sys.mmap(0, P, RW, MAP_SHARED, fd, 0)),
          read: errName(await sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0)),
        };
      },
      { dev: { sharedOnly: true, readOnlyPages: true, pfns: [100] } },
    );
    expect(result).toEqual({ priv: 'EINVAL', write: 'EACCES', read: 'ok' });
    void EACCES;
  });

  it('vm_ops->mprotect vetoes mprotect(); a VM_DONTEXPAND mapping cannot grow (EFAULT) but can move', async () => {
    const { result, stats } = await inProcess(
      async (sys, libc) => {
        const fd = await libc.open('/dev/testdev', O_RDWR);
        const a = await sys.mmap(0, 2 * P, PROT_READ, MAP_SHARED, fd, 0);
        const upgrade = errName(await sys.mprotect(a, P, RW));
        const downgrade = errName(await sys.mprotect(a, P, PROT_NONE));
        const grow = errName(await sys.mremap(a, 2 * P, 3 * P, MREMAP_MAYMOVE));
        const growInPlace = errName(await sys.mremap(a, 2 * P, 3 * P, 0));
        const dontunmap = errName(await sys.mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
        const shrink = await sys.mremap(a, 2 * P, P, 0);
        const target = await sys.mmap(0, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        const moved = await sys.mremap(a, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, target + P);
        return { upgrade, downgrade, grow, growInPlace, dontunmap, shrink: shrink === a, moved: moved === target + P };
      },
      { dev: { readOnlyPages: true, pfns: [100, 101] } },
    );
    expect(result).toEqual({
      upgrade: 'EACCES',
      downgrade: 'ok',
      grow: 'EFAULT',
      growInPlace: 'EFAULT',
      dontunmap: 'EINVAL',
      shrink: true,
      moved: true,
    });
    // The split by mprotect and the move each created a VMA copy (->open); munmaps and exit closed them all.
    expect(stats!.vmaOpens).toBeGreaterThanOrEqual(2);
    expect(stats!.vmaCloses).toBe(stats!.vmaOpens + 1);
  });
});

describe('munmap', () => {
  it('validates alignment and length', async () => {
    const { result } = await inProcess(async (sys) => ({
      unaligned: errName(await sys.munmap(0x10001, P)),
      zero: errName(await sys.munmap(0x10000, 0)),
      beyond: errName(await sys.munmap(TASK_SIZE + P, P)),
      wrap: errName(await sys.munmap(P, TASK_SIZE)),
      nothing: errName(await sys.munmap(0x10000, P)),
    }));
    expect(result).toEqual({ unaligned: 'EINVAL', zero: 'EINVAL', beyond: 'EINVAL', wrap: 'EINVAL', nothing: 'ok' });
  });
});

describe('mprotect', () => {
  it('validates its arguments', async () => {
    const { result } = await inProcess(async (sys) => {
      const a = await sys.mmap(0, P, PROT_READ, ANON, -1, 0);
      return {
        unaligned: errName(await sys.mprotect(a + 1, P, PROT_READ)),
        len0: errName(await sys.mprotect(a + P * 100, 0, PROT_READ)),
        badProt: errName(await sys.mprotect(a, P, 0x80)),
        growsBoth: errName(await sys.mprotect(a, P, PROT_READ | 0x03000000)),
        unmapped: errName(await sys.mprotect(0x10000, P, PROT_READ)),
        exec: errName(await sys.mprotect(a, P, PROT_READ | PROT_EXEC)),
      };
    });
    expect(result).toEqual({
      unaligned: 'EINVAL',
      len0: 'ok',
      badProt: 'EINVAL',
      growsBoth: 'EINVAL',
      unmapped: 'ENOMEM',
      exec: 'ok',
    });
  });

  it('cannot grant write on a shared mapping of a read-only file (VM_MAYWRITE)', async () => {
    const { result } = await inProcess(async (sys, libc) => {
      const z = await libc.open('/dev/zero', O_RDONLY);
      const a = await sys.mmap(0, P, PROT_READ, MAP_SHARED, z, 0);
      return errName(await sys.mprotect(a, P, RW));
    });
    expect(result).toBe('EACCES');
  });
});
