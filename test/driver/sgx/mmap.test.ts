/**
 * Mapping enclaves (driver.c sgx_mmap()/sgx_get_unmapped_area(), encl.c sgx_encl_may_map()/sgx_vma_mprotect()/
 * sgx_vma_fault()): MAP_SHARED only, protections capped by the EPCM-at-add permissions, ELRANGE after INIT, holes
 * unchecked, faults that insert the EPC frame into the faulting mm only, and host reads that see the abort page.
 */
import { describe, expect, it } from 'vitest';
import type { SgxEncl } from '../../../src/driver/index';
import { PAGE_SIZE, PfErr, PTE_A } from '../../../src/hw/index';
import {
  AF_UNIX,
  accessRemoteVm,
  doUserAddrFault,
  Libc,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MREMAP_MAYMOVE,
  O_RDWR,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  SIGBUS,
  SOCK_DGRAM,
  type Sys,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_IO,
  VM_PFNMAP,
} from '../../../src/kernel/index';
import { buildEnclaveWithDriver } from '../../../src/sdk/index';
import { errName } from '../../kernel/fixtures/kernel';
import { ioctlAddPages, ioctlCreate, reserve, secsImage, sourcePages } from '../fixtures/ioctls';
import { makeSgxSystem, sampleEnclave } from '../fixtures/sgx-system';

const P = PAGE_SIZE;

/** Runs `body` in a process that has the sample enclave built (not mapped). */
async function withEnclave(
  body: (sys: Sys, libc: Libc, e: { fd: number; base: number; size: number }) => Promise<void>,
) {
  const s = makeSgxSystem();
  const { layout, sigstruct } = sampleEnclave();
  let error: unknown;
  const { pid } = s.k.spawn(async (sys) => {
    const libc = new Libc(sys);
    const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct, map: false });
    try {
      await body(sys, libc, e);
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
