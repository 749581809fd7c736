/**
 * Mapping enclaves (driver.c sgx_mmap()/sgx_get_unmapped_area(), encl.c sgx_encl_may_map()/sgx_vma_mprotect()/
 * sgx_vma_fault()): MAP_SHARED only, protections capped by the EPCM-at-add permissions, ELRANGE after INIT, holes
 * unchecked, faults that insert the EPC frame into the faulting mm only, and host reads that see the abort page.
 * mremap (mm/mremap.c) and munmap (mm/vma.c) of enclave VMAs follow the core mm: no growth and no DONTUNMAP of the
 * VM_DONTEXPAND/VM_PFNMAP VMA, a same-size move allowed (sgx_vm_ops has no ->mremap), splits that keep one mm_list
 * entry per mm.
 */
import { describe, expect, it } from 'vitest';
import { type SgxEncl, sgxCheckInvariants, sgxReclaimPages } from '../../../src/driver/index';
import { PAGE_SIZE, PfErr, PTE_A } from '../../../src/hw/index';
import {
  AF_UNIX,
  accessRemoteVm,
  doUserAddrFault,
  Libc,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  SIGBUS,
  SIGSEGV,
  SOCK_DGRAM,
  type Sys,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_IO,
  VM_PFNMAP,
} from '../../../src/kernel/index';
import { buildEnclaveWithDriver } from '../../../src/sdk/index';
import { checkInvariants } from '../../kernel/fixtures/invariants';
import { errName } from '../../kernel/fixtures/kernel';
import { ioctlAddPages, ioctlCreate, reserve, secsImage, sourcePages } from '../fixtures/ioctls';
import { makeSgxSystem, type SgxSystem, sampleEnclave, sgxKernelFrames } from '../fixtures/sgx-system';

const P = PAGE_SIZE;

/** Runs `body` in a process that has the sample enclave built (not mapped). */
async function withEnclave(
  body: (sys: Sys, libc: Libc, e: { fd: number; base: number; size: number }, s: SgxSystem) => Promise<void>,
) {
  const s = makeSgxSystem();
  const { layout, sigstruct } = sampleEnclave();
  let error: unknown;
  const { pid } = s.k.spawn(async (sys) => {
    const libc = new Libc(sys);
    const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct, map: false });
    try {
      await body(sys, libc, e, s);
    } catch (x) {
      error = x;
    }
    return 0;
  });
  await s.k.run({ maxSteps: 100_000 });
  if (error) throw error;
  return { ...s, pid, layout };
}

const seg = (kind: string) =>
  sampleEnclave().layout.segments.find(
    (s) => s.kind === kind || (kind === 'text' && s.kind === 'load' && s.prot & PROT_EXEC),
  )!;

describe('mmap of an enclave', () => {
  it('MAP_PRIVATE is refused with EINVAL', async () => {
    const out: string[] = [];
    await withEnclave(async (sys, _l, e) => {
      out.push(errName(await sys.mmap(e.base, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, e.fd, 0)));
      out.push(errName(await sys.mmap(0, P, PROT_READ, MAP_PRIVATE, e.fd, 0)));
    });
    expect(out).toEqual(['EINVAL', 'EINVAL']);
  });

  it('a fresh enclave fd maps anywhere with any protection (the selftests’ probe)', async () => {
    const s = makeSgxSystem();
    const out: string[] = [];
    s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const a = await sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
      const b = await sys.mmap(0, P, PROT_EXEC, MAP_SHARED, fd, 0);
      out.push(errName(a), errName(b), errName(await sys.munmap(a, P)), errName(await sys.munmap(b, P)));
      return 0;
    });
    await s.k.run();
    expect(out).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('sets VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO, so mremap cannot grow it', async () => {
    const out: string[] = [];
    await withEnclave(async (sys, _l, e) => {
      const text = seg('text');
      const a = await sys.mmap(e.base + text.offset, text.size, PROT_READ, MAP_SHARED_VALIDATE | MAP_FIXED, e.fd, 0);
      await sys.kcall('flags', (t) => {
        const v = t.mm!.vmas.lookup(a)!;
        const want = VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO;
        out.push((v.flags & want) === want ? 'flags' : 'missing flags');
        return 0;
      });
      out.push(errName(await sys.mremap(a, text.size, text.size + P, MREMAP_MAYMOVE)));
    });
    expect(out).toEqual(['flags', 'EFAULT']);
  });

  it('refuses a protection beyond the pages’ SECINFO permissions (EACCES), mmap and mprotect alike', async () => {
    const out: string[] = [];
    await withEnclave(async (sys, _l, e) => {
      const text = seg('text');
      out.push(
        `rw text ${errName(await sys.mmap(e.base + text.offset, text.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0))}`,
      );
      const a = await sys.mmap(e.base + text.offset, text.size, PROT_READ, MAP_SHARED | MAP_FIXED, e.fd, 0);
      out.push(`r text ${errName(a)}`);
      out.push(`mprotect rx ${errName(await sys.mprotect(a, P, PROT_READ | PROT_EXEC))}`);
      out.push(`mprotect rw ${errName(await sys.mprotect(a, P, PROT_READ | PROT_WRITE))}`);
      out.push(`mprotect none ${errName(await sys.mprotect(a, P, 0))}`);
      const tcs = seg('tcs');
      out.push(
        `rw tcs ${errName(await sys.mmap(e.base + tcs.offset, tcs.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0))}`,
      );
      out.push(`rwx tcs ${errName(await sys.mmap(e.base + tcs.offset, P, 7, MAP_SHARED | MAP_FIXED, e.fd, 0))}`);
    });
    expect(out).toEqual([
      'rw text EACCES',
      'r text ok',
      'mprotect rx ok',
      'mprotect rw EACCES',
      'mprotect none ok',
      'rw tcs ok',
      'rwx tcs EACCES',
    ]);
  });

  it('after INIT only ELRANGE may be mapped; holes inside it take any protection', async () => {
    const out: string[] = [];
    const { layout } = sampleEnclave();
    await withEnclave(async (sys, _l, e) => {
      out.push(`below ${errName(await sys.mmap(e.base - P, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, e.fd, 0))}`);
      out.push(
        `above ${errName(await sys.mmap(e.base + e.size - P, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, e.fd, 0))}`,
      );
      const hole = e.base + Math.ceil(layout.imageSize / P) * P;
      out.push(`hole ${errName(await sys.mmap(hole, P, 7, MAP_SHARED | MAP_FIXED, e.fd, 0))}`);
      out.push(`elsewhere ${errName(await sys.mmap(0, P, PROT_READ, MAP_SHARED, e.fd, 0))}`);
    });
    expect(layout.imageSize).toBeLessThan(layout.size);
    expect(out).toEqual(['below EACCES', 'above EACCES', 'hole ok', 'elsewhere EACCES']);
  });

  it('before INIT a mapping outside ELRANGE is allowed, but touching it is SIGBUS', async () => {
    const s = makeSgxSystem();
    const out: string[] = [];
    const { pid } = s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const base = await reserve(sys, 4 * P);
      await ioctlCreate(sys, libc, fd, secsImage({ size: BigInt(4 * P), baseAddr: BigInt(base) }));
      const a = await sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
      out.push(errName(a));
      await sys.load(a, 1);
      out.push('survived');
      return 0;
    });
    await s.k.run();
    expect(out).toEqual(['ok']);
    expect(s.k.exitStatus(pid)! & 0x7f).toBe(SIGBUS);
  });

  it('a VMA allowing more than a page added after the mmap faults with SIGBUS', async () => {
    const s = makeSgxSystem();
    const out: string[] = [];
    let addr = 0;
    const { pid } = s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const base = await reserve(sys, 4 * P);
      await ioctlCreate(sys, libc, fd, secsImage({ size: BigInt(4 * P), baseAddr: BigInt(base) }));
      // Mapped RW over a hole, then an R-only page is added there.
      out.push(errName(await sys.mmap(base, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0)));
      const src = await sourcePages(sys, 1);
      out.push(errName((await ioctlAddPages(sys, libc, fd, { src, offset: 0, length: P, secinfo: 0x201n })).ret));
      addr = base;
      await sys.load(base, 1);
      out.push('survived');
      return 0;
    });
    await s.k.run();
    expect(out).toEqual(['ok', 'ok']);
    expect(s.k.exitStatus(pid)! & 0x7f).toBe(SIGBUS);
    expect(s.k.trace.events.some((e) => e.ev === 'fault' && e.data?.sig === 'SIGBUS' && e.data?.addr === addr)).toBe(
      true,
    );
  });
});

describe('mremap of an enclave mapping', () => {
  const rwSeg = () =>
    sampleEnclave().layout.segments.find((x) => x.prot === (PROT_READ | PROT_WRITE) && x.kind === 'load')!;

  it('MREMAP_DONTUNMAP is EINVAL on the VM_PFNMAP/VM_DONTEXPAND VMA, with or without MREMAP_FIXED; the mapping stays', async () => {
    const out: string[] = [];
    await withEnclave(async (sys, _l, e) => {
      const seg = rwSeg();
      const a = await sys.mmap(e.base + seg.offset, seg.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
      const dst = await sys.mmap(0, seg.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      // mm/mremap.c check_prep_vma() (remap_is_valid() before 6.17): "(vrm->flags & MREMAP_DONTUNMAP) &&
      // (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP))" -> -EINVAL.
      out.push(errName(await sys.mremap(a, seg.size, seg.size, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)));
      out.push(errName(await sys.mremap(a, seg.size, seg.size, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, dst)));
      await sys.kcall('vmas', (t) => {
        const v = t.mm!.vmas.lookup(a);
        out.push(v && v.start === a && v.end === a + seg.size ? 'enclave VMA unchanged' : 'enclave VMA changed');
        out.push(t.mm!.vmas.lookup(dst)?.file ? 'destination mapped' : 'destination untouched');
        return 0;
      });
    });
    expect(out).toEqual(['EINVAL', 'EINVAL', 'enclave VMA unchanged', 'destination untouched']);
  });

  /*
   * A same-size MREMAP_MAYMOVE | MREMAP_FIXED move is allowed by the core: check_prep_vma() rejects only growth of
   * a VM_DONTEXPAND/VM_PFNMAP VMA, vrm_set_new_addr() asks sgx_get_unmapped_area(), which returns a MAP_FIXED
   * address as is, and sgx_vm_ops has neither ->may_split nor ->mremap to object. sgx_encl_may_map() is not
   * consulted (only sgx_mmap() and ->mprotect call it), so the VMA may land outside ELRANGE. move_page_tables()
   * carries the PTEs along; every later fault goes to sgx_vma_fault() with the new address, which finds no
   * page_array entry there (SIGBUS).
   */
  it('a same-size MREMAP_FIXED move is allowed, even out of ELRANGE: PTEs move, new faults find no page (SIGBUS); moved back it works', async () => {
    const out: string[] = [];
    const s = await withEnclave(async (sys, _l, e, { sgx }) => {
      const seg = rwSeg();
      const a = await sys.mmap(e.base + seg.offset, seg.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
      const encl = sys.task.files!.get(e.fd)!.privateData as SgxEncl;
      await sys.load(a, 1); // page 0 faulted in; page 1 never touched
      const pfn0 = encl.pageArray.get(a / P)!.epcPage!.pfn;
      const dst = await sys.mmap(0, seg.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      out.push(`outside ELRANGE ${dst + seg.size <= e.base || dst >= e.base + e.size}`);
      out.push(`mmap there ${errName(await sys.mmap(dst, seg.size, PROT_READ, MAP_SHARED | MAP_FIXED, e.fd, 0))}`);
      out.push(`mremap there ${(await sys.mremap(a, seg.size, seg.size, MREMAP_MAYMOVE | MREMAP_FIXED, dst)) === dst}`);
      await sys.kcall('after the move', (t) => {
        const mm = t.mm!;
        const v = mm.vmas.lookup(dst);
        out.push(`old range ${mm.vmas.lookup(a) ? 'mapped' : 'unmapped'}`);
        out.push(
          `moved VMA: enclave ops ${v?.ops === sgx.vmOps}, encl ${v?.privateData === encl}, PFNMAP ${((v?.flags ?? 0) & VM_PFNMAP) !== 0}`,
        );
        out.push(
          `PTE moved: ${mm.pageTable.lookup(dst / P)?.pfn === pfn0}, old ${mm.pageTable.lookup(a / P) ? 'kept' : 'gone'}`,
        );
        out.push(`mm_list ${encl.mmList.filter((x) => x.mm === mm).length}`);
        // sgx_vma_fault() -> sgx_encl_load_page_in_vma(): xa_load(page_array, PFN_DOWN(addr)) is empty -> SIGBUS.
        out.push(`fault at dst + 4096: ${doUserAddrFault(mm, dst + P, PfErr.U).kind}`);
        return 0;
      });
      // The moved PTE still maps the EPC frame: a host read through it gets the abort page.
      const b = await sys.load(dst, 8);
      out.push(`read through the moved PTE ${b.every((x) => x === 0xff) ? 'abort page' : Array.from(b)}`);
      out.push(`move back ${(await sys.mremap(dst, seg.size, seg.size, MREMAP_MAYMOVE | MREMAP_FIXED, a)) === a}`);
      await sys.load(a + P, 1);
      await sys.kcall('moved back', (t) => {
        const mm = t.mm!;
        const ok = [0, 1].every(
          (i) => mm.pageTable.lookup(a / P + i)?.pfn === encl.pageArray.get(a / P + i)!.epcPage!.pfn,
        );
        out.push(`back in ELRANGE, both pages map their frames ${ok}`);
        out.push(`invariants ${sgxCheckInvariants(sgx).join('; ') || 'ok'}`);
        return 0;
      });
      // Moved out again, an access to a page without a PTE there kills the process with SIGBUS.
      await sys.mremap(a, seg.size, seg.size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
      await sys.load(dst + 2 * P, 1);
      out.push('survived');
    });
    expect(out).toEqual([
      'outside ELRANGE true',
      'mmap there EACCES',
      'mremap there true',
      'old range unmapped',
      'moved VMA: enclave ops true, encl true, PFNMAP true',
      'PTE moved: true, old gone',
      'mm_list 1',
      'fault at dst + 4096: sigbus',
      'read through the moved PTE abort page',
      'move back true',
      'back in ELRANGE, both pages map their frames true',
      'invariants ok',
    ]);
    expect(s.k.exitStatus(s.pid)! & 0x7f).toBe(SIGBUS);
  });

  /*
   * sgx_zap_enclave_ptes() finds, in each mm on mm_list, the VMA at the page's enclave address (sgx_encl_find())
   * and zaps only there. A PTE that mremap moved elsewhere is not reached: upstream leaves it pointing at the
   * EPC frame after EWB. What keeps that safe is the hardware: a non-enclave access to EPC reads the abort page,
   * and enclave-mode access checks the EPCM's linear address and owner.
   */
  it('the reclaimer zaps by enclave address: a PTE moved out of ELRANGE is not zapped on eviction (reads stay abort-page)', async () => {
    const out: string[] = [];
    await withEnclave(async (sys, _l, e, { sgx }) => {
      const seg = rwSeg();
      const a = await sys.mmap(e.base + seg.offset, seg.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
      const encl = sys.task.files!.get(e.fd)!.privateData as SgxEncl;
      const page = encl.pageArray.get(a / P)!;
      await sys.load(a, 1);
      const pfn = page.epcPage!.pfn;
      const dst = await sys.mmap(0, seg.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.mremap(a, seg.size, seg.size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
      await sys.kcall('evict', (t) => {
        for (let i = 0; i < 8 && page.epcPage; i++) sgxReclaimPages(sgx);
        out.push(`evicted ${page.epcPage === null}`);
        out.push(`moved PTE ${t.mm!.pageTable.lookup(dst / P)?.pfn === pfn ? 'still maps the old frame' : 'zapped'}`);
        return 0;
      });
      const b = await sys.load(dst, 8);
      out.push(`read ${b.every((x) => x === 0xff) ? 'abort page' : Array.from(b)}`);
    });
    expect(out).toEqual(['evicted true', 'moved PTE still maps the old frame', 'read abort page']);
  });
});

describe('partial munmap of an enclave mapping', () => {
  it('unmapping the middle page splits the VMA: the hole is SIGSEGV, both pieces still fault enclave pages in; the mm stays on mm_list until release', async () => {
    const out: string[] = [];
    await withEnclave(async (sys, libc, e, { k, sgx }) => {
      const seg = sampleEnclave().layout.segments.find(
        (x) => x.prot === (PROT_READ | PROT_WRITE) && x.kind === 'load',
      )!;
      const a = await sys.mmap(e.base + seg.offset, seg.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
      const file = sys.task.files!.get(e.fd)!;
      const encl = file.privateData as SgxEncl;
      for (const i of [0, 1, 2]) await sys.load(a + i * P, 1);
      const version = encl.mmListVersion;
      out.push(`munmap middle ${errName(await sys.munmap(a + P, P))}`);
      await sys.kcall('after the split', (t) => {
        const mm = t.mm!;
        const pieces = mm.vmas.all().filter((v) => v.file === file);
        out.push(`pieces ${pieces.map((v) => `[${(v.start - a) / P},${(v.end - a) / P})`).join(' ')}`);
        out.push(`both enclave VMAs ${pieces.every((v) => v.ops === encl.sgx.vmOps && v.privateData === encl)}`);
        // __split_vma(): get_file() for the new VMA; each VMA holds a reference to the enclave file.
        out.push(`file refs = fd + pieces ${file.refcount === 1 + pieces.length}`);
        // sgx_vma_open() on the split copy: sgx_encl_mm_add() finds the mm already there and returns.
        out.push(
          `mm_list ${encl.mmList.filter((x) => x.mm === mm).length}, version unchanged ${encl.mmListVersion === version}`,
        );
        out.push(
          `hole PTE ${mm.pageTable.lookup(a / P + 1) ? 'present' : 'zapped'}, page still in EPC ${encl.pageArray.get(a / P + 1)!.epcPage !== null}`,
        );
        out.push(`fault in the hole ${doUserAddrFault(mm, a + P, PfErr.U).kind}`);
        out.push(`kernel invariants ${checkInvariants(k, sgxKernelFrames(sgx)).join('; ') || 'ok'}`);
        return 0;
      });
      // A real access to the hole, from a forked child (same VMAs): SIGSEGV. Its exit takes its mm off mm_list.
      const child = await sys.fork(async (c) => {
        await c.load(a + P, 1);
        return 0;
      });
      const st = await libc.waitpid(child);
      out.push(
        `child touching the hole: ${(st.status & 0x7f) === SIGSEGV ? 'SIGSEGV' : st.status}, mm_list ${encl.mmList.length}`,
      );
      // Pages on either side, touched before or not, fault to their own frames.
      for (const i of [0, 3, seg.size / P - 1]) await sys.load(a + i * P, 1);
      await sys.kcall('pieces fault', (t) => {
        const ok = [0, 2, 3, seg.size / P - 1].every(
          (i) => t.mm!.pageTable.lookup(a / P + i)?.pfn === encl.pageArray.get(a / P + i)!.epcPage!.pfn,
        );
        out.push(`pieces map their pages ${ok}`);
        return 0;
      });
      // Upstream sgx_vm_ops has no ->close: an mm leaves mm_list only at exit (the mmu notifier) or when the enclave
      // file is released ("it is removed only on VFS release or process exit", sgx_encl_mm_add()).
      out.push(`munmap the rest ${errName(await sys.munmap(a, seg.size))}`);
      out.push(`mm_list after the last piece ${encl.mmList.length}, file refs ${file.refcount}`);
      await sys.close(e.fd);
      out.push(`after close: mm_list ${encl.mmList.length}, released ${encl.released}`);
      out.push(`kernel invariants ${checkInvariants(k, sgxKernelFrames(sgx)).join('; ') || 'ok'}`);
    });
    expect(out).toEqual([
      'munmap middle ok',
      'pieces [0,1) [2,6)',
      'both enclave VMAs true',
      'file refs = fd + pieces true',
      'mm_list 1, version unchanged true',
      'hole PTE zapped, page still in EPC true',
      'fault in the hole sigsegv',
      'kernel invariants ok',
      'child touching the hole: SIGSEGV, mm_list 1',
      'pieces map their pages true',
      'munmap the rest ok',
      'mm_list after the last piece 1, file refs 1',
      'after close: mm_list 0, released true',
      'kernel invariants ok',
    ]);
  });
});

describe('faults on enclave mappings', () => {
  it('host reads see the abort page (all ones), host writes are dropped, and the EPC frame is mapped young-cleared', async () => {
    const out: string[] = [];
    const s = await withEnclave(async (sys, _l, e) => {
      const rw = sampleEnclave().layout.segments.find((x) => x.prot === (PROT_READ | PROT_WRITE) && x.kind === 'load')!;
      const a = e.base + rw.offset;
      await sys.mmap(a, rw.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
      await sys.store(a, new Uint8Array([1, 2, 3]));
      const b = await sys.load(a, 16);
      out.push(Array.from(b).every((x) => x === 0xff) ? 'abort page' : `read ${Array.from(b)}`);
      await sys.kcall('pte', (t) => {
        const pte = t.mm!.pageTable.lookup(a / P)!;
        const encl = (t.files!.get(e.fd)!.privateData as SgxEncl).pageArray.get(a / P)!;
        out.push(pte.pfn === encl.epcPage!.pfn ? 'EPC frame mapped' : 'wrong frame');
        out.push(pte.flags & PTE_A ? 'young (accessed since)' : 'old');
        // A fault alone (no access after it) leaves the PTE old: sgx_vma_fault() clears A after the insert.
        const next = a + P;
        doUserAddrFault(t.mm!, next, PfErr.U);
        out.push(t.mm!.pageTable.lookup(next / P)!.flags & PTE_A ? 'young after fault' : 'old after fault');
        return 0;
      });
    });
    expect(out).toEqual(['abort page', 'EPC frame mapped', 'young (accessed since)', 'old after fault']);
    // The enclave's bytes are untouched by the dropped store.
    expect(s.sgx.stats.encls.EDBGWR ?? 0).toBe(0);
  });

  it('a syscall copying from enclave memory (copy_from_user) gets the abort page too', async () => {
    const out: string[] = [];
    await withEnclave(async (sys, libc, e) => {
      const rw = sampleEnclave().layout.segments.find((x) => x.prot === (PROT_READ | PROT_WRITE) && x.kind === 'load')!;
      const a = e.base + rw.offset;
      await sys.mmap(a, rw.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
      const sv = (await libc.socketpair(AF_UNIX, SOCK_DGRAM)) as [number, number];
      out.push(`sent ${await sys.write(sv[0], a, 6)}`);
      const m = await libc.recvmsg(sv[1], 16);
      out.push(Array.from(m.data, (b) => b.toString(16)).join(' '));
    });
    expect(out).toEqual(['sent 6', 'ff ff ff ff ff ff']);
  });

  it('ptrace-style access reads a DEBUG enclave through EDBGRD and writes with EDBGWR; production enclaves give nothing', async () => {
    for (const debug of [true, false]) {
      const s = makeSgxSystem();
      const { layout, sigstruct } = sampleEnclave();
      const out: string[] = [];
      s.k.spawn(async (sys) => {
        const libc = new Libc(sys);
        const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct, attributes: debug ? 7n - 1n : 4n });
        const text = layout.segments.find((x) => x.kind === 'load')!;
        await sys.kcall('peek', (t) => {
          const buf = new Uint8Array(20);
          const n = accessRemoteVm(t.mm!, e.base + text.offset + 3, buf, false);
          out.push(`read ${n}`);
          if (n)
            out.push(
              Buffer.from(buf).equals(Buffer.from(text.bytes!.subarray(3, 23)))
                ? 'bytes match the ELF'
                : 'bytes differ',
            );
          const w = accessRemoteVm(t.mm!, e.base + text.offset + 5, Uint8Array.of(0xaa, 0xbb), true);
          out.push(`wrote ${w}`);
          const back = new Uint8Array(4);
          accessRemoteVm(t.mm!, e.base + text.offset + 4, back, false);
          if (n)
            out.push(
              Array.from(back)
                .map((x) => x.toString(16))
                .join(' '),
            );
          return 0;
        });
        return 0;
      });
      await s.k.run();
      const t = sampleEnclave().layout.segments.find((x) => x.kind === 'load')!.bytes!;
      if (debug)
        expect(out).toEqual([
          'read 20',
          'bytes match the ELF',
          'wrote 2',
          `${t[4]!.toString(16)} aa bb ${t[7]!.toString(16)}`,
        ]);
      else expect(out).toEqual(['read 0', 'wrote 0']);
    }
  });
});
