/**
 * _install_special_mapping() and the exec hook, as the vDSO uses them: kernel pages mapped read+exec into every
 * new image, faulted in with a page reference, shown by name in /proc/<pid>/maps, copied by fork, unsplittable,
 * read-only to user writes, and released (references dropped, never the page) by munmap and exit.
 */
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../../src/hw/index';
import {
  EINVAL,
  ENOMEM,
  installSpecialMapping,
  isErrno,
  Libc,
  mmGetUnmappedArea,
  PROT_READ,
  SIGSEGV,
  type SpecialMapping,
  type Task,
  VM_EXEC,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_READ,
  WIFSIGNALED,
  WTERMSIG,
} from '../../../src/kernel/index';
import { errName, makeTestKernel } from '../fixtures/kernel';

const P = PAGE_SIZE;
const FLAGS = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;

/** A kernel whose new images get a two-page "[vdso]" holding 0xAA.. and 0xBB.. . */
function setup() {
  const k = makeTestKernel();
  const pages = [k.pages.alloc()!, k.pages.alloc()!];
  k.mem.page(pages[0]!).fill(0xaa);
  k.mem.page(pages[1]!).fill(0xbb);
  const sm: SpecialMapping = { name: '[vdso]', pages };
  const bases = new Map<number, number>();
  k.onExec((t: Task) => {
    const mm = t.mm!;
    const addr = mmGetUnmappedArea(mm, 0, 2 * P, 0, 0) as number;
    const vma = installSpecialMapping(mm, addr, 2 * P, FLAGS, sm);
    if (isErrno(vma)) throw new Error(vma.name);
    bases.set(t.tgid, addr);
  });
  return { k, pages, bases, sm };
}

describe('special mappings (the vDSO’s)', () => {
  it('map the kernel pages into each new image, by reference, named in maps, and inherited by fork', async () => {
    const { k, pages, bases } = setup();
    const out: string[] = [];
    k.spawn(async (sys) => {
      const base = bases.get(await sys.getpid())!;
      out.push(
        `parent ${(await sys.load(base, 1))[0]!.toString(16)} ${(await sys.load(base + P, 1))[0]!.toString(16)}`,
      );
      out.push(`refs ${k.pages.refcount(pages[0]!)}`);
      const child = await sys.fork(async (cs) => {
        out.push(`child ${(await cs.load(base + 5, 1))[0]!.toString(16)}`);
        return 0;
      });
      await new Libc(sys).waitpid(child);
      return 0;
    });
    await k.run({ maxSteps: 10_000 });
    expect(out).toEqual(['parent aa bb', 'refs 2', 'child aa']);
    expect(k.pages.refcount(pages[0]!), 'the exits dropped the PTE references, the kernel keeps its own').toBe(1);
    expect(k.pages.refcount(pages[1]!)).toBe(1);
  });

  it('shows the name in /proc/<pid>/maps with r-xp permissions', async () => {
    const { k, bases } = setup();
    let maps = '';
    k.spawn(async (sys) => {
      await sys.kcall('maps', (t) => {
        maps = k.procMaps(t.tgid)!;
        return 0;
      });
      return 0;
    });
    await k.run({ maxSteps: 1000 });
    const base = [...bases.values()][0]!;
    expect(maps).toMatch(
      new RegExp(`^${base.toString(16).padStart(8, '0')}-[0-9a-f]+ r-xp 00000000 00:00 0 +\\[vdso\\]$`, 'm'),
    );
  });

  it('refuses a split (EINVAL) and user writes (SIGSEGV), and frees only its references on munmap', async () => {
    const { k, pages, bases } = setup();
    const out: string[] = [];
    const { pid } = k.spawn(async (sys) => {
      const base = bases.get(await sys.getpid())!;
      out.push(`mprotect half: ${errName(await sys.mprotect(base, P, PROT_READ))}`);
      out.push(`munmap half: ${errName(await sys.munmap(base + P, P))}`);
      await sys.load(base, 1);
      out.push(`munmap: ${errName(await sys.munmap(base, 2 * P))}`);
      out.push(`refs ${k.pages.refcount(pages[0]!)}`);
      const again = await sys.kcall('remap', (t) => {
        const v = installSpecialMapping(t.mm!, base, 2 * P, FLAGS, { name: '[vdso]', pages });
        return isErrno(v) ? -v.number : 0;
      });
      out.push(`reinstall: ${errName(again)}`);
      await sys.store(base, Uint8Array.of(1));
      out.push('wrote');
      return 0;
    });
    await k.run({ maxSteps: 10_000 });
    expect(out).toEqual(['mprotect half: EINVAL', 'munmap half: EINVAL', 'munmap: ok', 'refs 1', 'reinstall: ok']);
    const st = k.exitStatus(pid)!;
    expect(WIFSIGNALED(st) && WTERMSIG(st), 'a user write to the read+exec mapping').toBe(SIGSEGV);
  });

  it('rejects an unaligned or taken range', () => {
    const { k, pages } = setup();
    const mm = k.newMm();
    const sm = { name: 'x', pages };
    expect(installSpecialMapping(mm, 0x10001, P, FLAGS, sm)).toBe(EINVAL);
    expect(isErrno(installSpecialMapping(mm, 0x10000, P, FLAGS, sm))).toBe(false);
    expect(installSpecialMapping(mm, 0x10000, P, FLAGS, sm)).toBe(ENOMEM);
  });
});
