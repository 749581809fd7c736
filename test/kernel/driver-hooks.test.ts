/**
 * Kernel services added for the SGX driver: IPIs taken synchronously by every target CPU (on_each_cpu_mask()
 * with wait = 1, and TLB shootdowns), __access_remote_vm() with vm_ops->access for PFN mappings, ioctl state kept
 * across a sleep, get_user_pages() refusing a read of a VMA without VM_READ, and the trace ring buffer.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_EPC_BASE, PAGE_SIZE, PhysMem } from '../../src/hw/index';
import {
  accessRemoteVm,
  block,
  type FileOperations,
  getUserPages,
  isErrno,
  Kernel,
  Libc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  Trace,
  VM_IO,
  VM_PFNMAP,
  type Vma,
} from '../../src/kernel/index';
import { errName } from './fixtures/kernel';

const P = PAGE_SIZE;

describe('IPIs', () => {
  it('onIpi listeners run for every target CPU before sendIpi returns', async () => {
    const k = new Kernel({ seed: 1, cpus: 4 });
    const seen: number[][] = [];
    let batch: number[] = [];
    k.onIpi((cpu) => batch.push(cpu));
    k.spawn(async (sys) => {
      await sys.kcall('ipi', () => {
        k.sendIpi([3, 1, 1, 9, -1]);
        seen.push(batch);
        batch = [];
        return 0;
      });
      return 0;
    });
    await k.run();
    expect(seen, 'sorted, deduplicated, out-of-range CPUs dropped').toEqual([[1, 3]]);
    expect(k.trace.events.some((e) => e.ev === 'ipi')).toBe(true);
  });

  it('a TLB shootdown IPIs the other CPUs of the mm through the same hook', async () => {
    const k = new Kernel({ seed: 1, cpus: 2 });
    const hits: number[] = [];
    let seen: number[] = [];
    k.onIpi((cpu) => hits.push(cpu));
    k.spawn(async (sys) => {
      const a = await sys.mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(a, Uint8Array.of(1));
      await sys.kcall('flush', (t) => {
        const other = 1 - t.cpu!;
        t.mm!.cpumask.add(other);
        hits.length = 0;
        t.kernel.flushTlb(t.mm!, a, a + P);
        seen = [...hits, other];
        return 0;
      });
      return 0;
    });
    await k.run();
    expect(seen.length, 'one IPI').toBe(2);
    expect(seen[0], 'the remote CPU took the shootdown').toBe(seen[1]);
  });
});

describe('__access_remote_vm()', () => {
  it('copies RAM pages, goes through vm_ops->access for PFN maps, and stops at a hole', async () => {
    const mem = new PhysMem({ ramBytes: 16 << 20, epcSections: [{ base: DEFAULT_EPC_BASE, size: 16 * P }] });
    const k = new Kernel({ seed: 1, mem });
    const calls: string[] = [];
    const fops: FileOperations = {
      mmap(_f, vma: Vma) {
        vma.flags |= VM_PFNMAP | VM_IO;
        vma.ops = {
          access(_v, addr, buf, write) {
            calls.push(`${write ? 'write' : 'read'} ${addr - vma.start} ${buf.length}`);
            if (!write) buf.fill(0x42);
            return Math.min(buf.length, 16);
          },
        };
        return 0;
      },
    };
    k.registerDevice('/dev/pfn', fops);
    const out: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const ram = await sys.mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(ram + 10, Uint8Array.of(7, 8, 9));
      const fd = await libc.open('/dev/pfn', O_RDWR);
      const dev = await sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
      await sys.kcall('peek', (t) => {
        const b = new Uint8Array(3);
        out.push(`ram ${accessRemoteVm(t.mm!, ram + 10, b, false)} ${Array.from(b)}`);
        out.push(`poke ${accessRemoteVm(t.mm!, ram + 11, Uint8Array.of(5), true)}`);
        const d = new Uint8Array(20);
        out.push(`dev ${accessRemoteVm(t.mm!, dev + 4, d, false)} ${d[0]} ${d[19]}`);
        out.push(`hole ${accessRemoteVm(t.mm!, 0x10000, new Uint8Array(4), false)}`);
        return 0;
      });
      out.push(`after poke ${Array.from(await sys.load(ram + 10, 3))}`);
      return 0;
    });
    await k.run();
    expect(out).toEqual(['ram 3 7,8,9', 'poke 1', 'dev 20 66 66', 'hole 0', 'after poke 7,5,9']);
    expect(calls, 'the driver hook is called until it has done all the bytes').toEqual(['read 4 20', 'read 20 4']);
  });
});

describe('get_user_pages()', () => {
  it('refuses to read a VMA without VM_READ (check_vma_flags), unless forced', async () => {
    const k = new Kernel({ seed: 1 });
    const out: string[] = [];
    k.spawn(async (sys) => {
      const a = await sys.mmap(0, P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.kcall('gup', (t) => {
        const r = getUserPages(t.mm!, a, 1, false);
        out.push(isErrno(r) ? r.name : 'pinned');
        const f = getUserPages(t.mm!, a, 1, false, { force: true });
        out.push(isErrno(f) ? f.name : 'pinned with FOLL_FORCE');
        if (!isErrno(f)) f.release();
        return 0;
      });
      return 0;
    });
    await k.run();
    expect(out).toEqual(['EFAULT', 'pinned with FOLL_FORCE']);
  });
});

describe('ioctl state across a sleep', () => {
  it('a driver ioctl that blocks is run again with the same state object', async () => {
    const k = new Kernel({ seed: 1 });
    const runs: number[] = [];
    k.registerDevice('/dev/sleepy', {
      ioctl(_f, _cmd, _arg, t, state) {
        const st = state as { n?: number };
        st.n = (st.n ?? 0) + 1;
        runs.push(st.n);
        return st.n < 3 ? block([], { deadline: t.now() + 1000 }) : 42;
      },
    });
    let ret = 0;
    k.spawn(async (sys) => {
      const fd = await new Libc(sys).open('/dev/sleepy', O_RDWR);
      ret = await sys.ioctl(fd, 1, 0);
      return 0;
    });
    await k.run();
    expect(runs).toEqual([1, 2, 3]);
    expect(errName(ret)).toBe('ok');
    expect(ret).toBe(42);
  });
});

describe('the trace ring', () => {
  it('keeps the last `limit` events in order while the hash covers all of them', () => {
    const small = new Trace(undefined, 3);
    const big = new Trace(undefined, 100);
    for (let i = 0; i < 7; i++) {
      small.emit({ t: i, cpu: 0, pid: 0, tid: 0, ev: `e${i}` });
      big.emit({ t: i, cpu: 0, pid: 0, tid: 0, ev: `e${i}` });
    }
    expect(small.events.map((e) => e.ev)).toEqual(['e4', 'e5', 'e6']);
    expect(small.count).toBe(7);
    expect(small.digest()).toBe(big.digest());
    expect(small.toJsonLines().split('\n').filter(Boolean)).toHaveLength(3);
  });
});
