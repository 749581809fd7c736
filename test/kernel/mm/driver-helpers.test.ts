/**
 * What the SGX driver needs from mm: PFN insertion of frames without struct page (EPC), zap_vma_ptes(),
 * ptep_test_and_clear_young(), mmu-notifier release at exit, TLB shootdowns to the right CPUs, and fork()
 * semantics for PFN mappings (PTEs copied without references, vm_ops->open for the child's copy,
 * VM_DONTCOPY not inherited).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_EPC_BASE, PAGE_SIZE, PhysMem, PTE_A, PTE_W } from '../../../src/hw/index';
import {
  type FileOperations,
  getUserPages,
  isErrno,
  Kernel,
  Libc,
  MAP_SHARED,
  type Mm,
  type MmuNotifier,
  mmuNotifierRegister,
  O_RDWR,
  type OpenFile,
  PROT_READ,
  PROT_WRITE,
  ptepTestAndClearYoung,
  type TlbFlushEvent,
  VM_DONTCOPY,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  type Vma,
  type VmFault,
  vmfInsertPfn,
  zapVmaPtes,
} from '../../../src/kernel/index';
import { registerTestDevice } from '../fixtures/test-device';

const P = PAGE_SIZE;
const EPC_PFN = DEFAULT_EPC_BASE / P;

function epcKernel(): Kernel {
  const mem = new PhysMem({ ramBytes: 16 << 20, epcSections: [{ base: DEFAULT_EPC_BASE, size: 64 * P }] });
  return new Kernel({ seed: 7, mem });
}

/** An enclave-like device: each open file owns EPC frames; faults insert them; it tracks mms via notifiers. */
function registerEpcDevice(k: Kernel, opts: { dontcopy?: boolean } = {}) {
  const log: string[] = [];
  const vmas: Vma[] = [];
  const mms = new Set<Mm>();
  const notifier: MmuNotifier = {
    release(mm) {
      log.push(`release mm ${mm.id}`);
      mms.delete(mm);
    },
  };
  const track = (vma: Vma) => {
    vmas.push(vma);
    if (!mms.has(vma.mm)) {
      mms.add(vma.mm);
      mmuNotifierRegister(notifier, vma.mm);
    }
  };
  const fops: FileOperations = {
    mmap(_f: OpenFile, vma: Vma) {
      vma.flags |= VM_PFNMAP | VM_IO | (opts.dontcopy ? VM_DONTCOPY : 0);
      vma.ops = {
        open: (v) => {
          log.push('vm open');
          track(v);
        },
        fault: (vmf: VmFault) => {
          const page = (vmf.address - vmf.vma.start) / P;
          if (page > 3) return VM_FAULT_SIGBUS;
          return vmfInsertPfn(vmf.vma, vmf.address, EPC_PFN + page);
        },
      };
      track(vma);
      return 0;
    },
    release() {
      log.push('file release');
    },
  };
  k.registerDevice('/dev/epcdev', fops);
  return { log, vmas, mms };
}

describe('PFN mappings of EPC', () => {
  it('inserts EPC frames without refcounts; non-enclave reads see the abort page', async () => {
    const k = epcKernel();
    const dev = registerEpcDevice(k);
    const seen: number[] = [];
    let ramBefore = 0;
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/epcdev', O_RDWR);
      const a = await sys.mmap(0, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      await sys.kcall('ram', (t) => {
        ramBefore = t.kernel.pages.usedPages;
        return 0;
      });
      await sys.store(a + 8, new Uint8Array([1, 2]));
      seen.push(...(await sys.load(a + 8, 2)));
      await sys.kcall('check', (t) => {
        const pte = t.mm!.pageTable.lookup(a / P)!;
        seen.push(pte.pfn === EPC_PFN ? 1 : 0, pte.flags & PTE_W ? 1 : 0, t.kernel.pages.usedPages - ramBefore);
        return 0;
      });
      return 0;
    });
    await k.run();
    // Abort-page semantics: the write was dropped, the read is all ones.
    expect(seen).toEqual([0xff, 0xff, 1, 1, 0]);
    expect(k.mem.peekPage(EPC_PFN).every((b) => b === 0)).toBe(true);
    expect(dev.log).toEqual(['release mm 1', 'file release']);
  });

  it('zap_vma_ptes() removes PTEs and shoots down the TLB of every CPU running the mm', async () => {
    const k = epcKernel();
    const dev = registerEpcDevice(k);
    const flushes: TlbFlushEvent[] = [];
    k.onTlbFlush((e) => flushes.push(e));
    const out: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/epcdev', O_RDWR);
      const a = await sys.mmap(0, 4 * P, PROT_READ, MAP_SHARED, fd, 0);
      await sys.load(a, 1);
      await sys.load(a + P, 1);
      await sys.kcall('zap', (t) => {
        const vma = dev.vmas[0]!;
        zapVmaPtes(vma, a, P);
        out.push(
          `pte0 ${t.mm!.pageTable.lookup(a / P) ? 'present' : 'gone'} pte1 ${t.mm!.pageTable.lookup(a / P + 1) ? 'present' : 'gone'}`,
        );
        // A range outside the VMA is ignored, as in Linux.
        zapVmaPtes(vma, a - P, 2 * P);
        return 0;
      });
      await sys.load(a, 1);
      return 0;
    });
    await k.run();
    expect(out).toEqual(['pte0 gone pte1 present']);
    const zap = flushes.find((f) => f.end - f.start === P)!;
    expect(zap.cpus.length, 'the CPU the process runs on caches the mm').toBe(1);
  });

  it('ptep_test_and_clear_young() reads and clears the Accessed bit that accesses set', async () => {
    const k = epcKernel();
    const dev = registerEpcDevice(k);
    const young: boolean[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/epcdev', O_RDWR);
      const a = await sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
      await sys.load(a, 1);
      const check = () =>
        sys.kcall('young', () => {
          young.push(ptepTestAndClearYoung(dev.vmas[0]!, a));
          return 0;
        });
      await check();
      await check();
      await sys.load(a, 1);
      await check();
      await sys.kcall('nopte', () => {
        young.push(ptepTestAndClearYoung(dev.vmas[0]!, a + 10 * P));
        return 0;
      });
      return 0;
    });
    await k.run();
    expect(young).toEqual([true, false, true, false]);
    void PTE_A;
  });
});

describe('fork and PFN mappings', () => {
  it('copies PFN PTEs to the child without references and calls vm_ops->open; both mms are released', async () => {
    const k = epcKernel();
    const dev = registerEpcDevice(k);
    const child: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/epcdev', O_RDWR);
      const a = await sys.mmap(0, 2 * P, PROT_READ, MAP_SHARED, fd, 0);
      await sys.load(a, 1);
      const pid = await sys.fork(async (c) => {
        await c.kcall('pte', (t) => {
          const pte = t.mm!.pageTable.lookup(a / P);
          child.push(pte ? `pte ${pte.pfn - EPC_PFN}` : 'no pte');
          return 0;
        });
        return 0;
      });
      await libc.waitpid(pid);
      return 0;
    });
    await k.run();
    expect(child).toEqual(['pte 0']);
    expect(dev.log).toEqual(['vm open', 'release mm 2', 'release mm 1', 'file release']);
  });

  it('a VM_DONTCOPY mapping is not inherited', async () => {
    const k = epcKernel();
    const dev = registerEpcDevice(k, { dontcopy: true });
    const child: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/epcdev', O_RDWR);
      const a = await sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
      const pid = await sys.fork(async (c) => {
        await c.kcall('vma', (t) => {
          child.push(t.mm!.vmas.lookup(a) ? 'mapped' : 'not mapped');
          return 0;
        });
        return 0;
      });
      await libc.waitpid(pid);
      return 0;
    });
    await k.run();
    expect(child).toEqual(['not mapped']);
    expect(dev.log).not.toContain('vm open');
  });

  it('the test device of other suites counts VMA opens for split and fork', async () => {
    const k = epcKernel();
    const stats = registerTestDevice(k, '/dev/testdev', { pfns: [EPC_PFN] });
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/testdev', O_RDWR);
      const a = await sys.mmap(0, 2 * P, PROT_READ, MAP_SHARED, fd, 0);
      await sys.mprotect(a, P, 0);
      await libc.waitpid(await sys.fork(async () => 0));
      return 0;
    });
    await k.run();
    // split (1) + two VMAs copied by fork (2)
    expect(stats.vmaOpens).toBe(3);
    expect(stats.vmaCloses, 'every VMA (the mmap one and the three copies) is closed once').toBe(4);
    expect(stats.releases).toBe(1);
  });
});

describe('get_user_pages', () => {
  it('pins user frames (breaking COW for writes), refuses PFN maps and holes, and unpins', async () => {
    const k = epcKernel();
    registerEpcDevice(k);
    const out: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const a = await sys.mmap(0, 2 * P, PROT_READ | PROT_WRITE, 0x22, -1, 0);
      await sys.store(a, new Uint8Array([5]));
      const fd = await libc.open('/dev/epcdev', O_RDWR);
      const e = await sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
      await sys.kcall('gup', (t) => {
        const mm = t.mm!;
        const r = getUserPages(mm, a, 2, false);
        if (isErrno(r)) throw new Error('gup failed');
        out.push(`read: ${r.pfns[1] === k.zeroPfn ? 'zero page' : 'page'} refs ${k.pages.refcount(r.pfns[0]!)}`);
        r.release();
        out.push(`after release refs ${k.pages.refcount(r.pfns[0]!)}`);
        const w = getUserPages(mm, a + P, 1, true);
        out.push(isErrno(w) ? w.name : `write: ${w.pfns[0] === k.zeroPfn ? 'zero page' : 'own page'}`);
        if (!isErrno(w)) w.release();
        out.push(errName(getUserPages(mm, e, 1, false)));
        out.push(errName(getUserPages(mm, 0x1000, 1, false)));
        return 0;
      });
      return 0;
    });
    await k.run();
    expect(out).toEqual(['read: zero page refs 2', 'after release refs 1', 'write: own page', 'EFAULT', 'EFAULT']);
  });
});

function errName(r: unknown): string {
  return isErrno(r) ? r.name : 'ok';
}
