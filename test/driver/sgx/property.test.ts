/**
 * Random sequences of what processes do with enclaves — open, build, create/add/init by hand, mmap (shared or
 * private), munmap, mprotect, touch, close, fork, exit — on a small EPC. Whatever happens, no JS exception
 * escapes, the driver's invariants hold after every step (sgxCheckInvariants: EPC pages free xor owned, refcount =
 * file + mm_list + reclaimer, mm_list ⊇ the live mms mapping the enclave, EPCM = page index), so do the kernel's
 * (test/kernel/fixtures/invariants.ts: VMAs sorted and disjoint, RSS and total_vm, frame and file refcounts), and
 * once every process has exited the EPC is back to its boot state. A build may fail only with ENOMEM.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sgxCheckInvariants } from '../../../src/driver/index';
import { PAGE_SIZE } from '../../../src/hw/index';
import { Libc, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, O_RDWR, type Sys } from '../../../src/kernel/index';
import { buildEnclaveWithDriver, EnclaveLoadError } from '../../../src/sdk/index';
import { checkInvariants } from '../../kernel/fixtures/invariants';
import { ioctlAddPages, ioctlCreate, ioctlInit, reserve, secsImage, sourcePages } from '../fixtures/ioctls';
import { makeSgxSystem, sampleEnclave, sgxKernelFrames } from '../fixtures/sgx-system';

const P = PAGE_SIZE;
const SMALL = 8 * P;

type Cmd =
  | { op: 'open' }
  | { op: 'build'; f: number }
  | { op: 'create'; f: number }
  | { op: 'add'; f: number; page: number; perm: number; tcs: boolean }
  | { op: 'init'; f: number }
  | { op: 'mmap'; f: number; page: number; pages: number; prot: number; priv: boolean }
  | { op: 'munmap'; f: number; page: number; pages: number }
  | { op: 'mprotect'; f: number; page: number; pages: number; prot: number }
  | { op: 'touch'; f: number; page: number; write: boolean }
  | { op: 'close'; f: number }
  | { op: 'fork'; cmds: Cmd[] }
  | { op: 'exit' };

const f = fc.nat(5);
const page = fc.nat(7);
const leaf: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ op: 'open' } as Cmd) },
  { weight: 2, arbitrary: f.map((x): Cmd => ({ op: 'build', f: x })) },
  { weight: 2, arbitrary: f.map((x): Cmd => ({ op: 'create', f: x })) },
  {
    weight: 3,
    arbitrary: fc
      .record({ f, page, perm: fc.constantFrom(1, 3, 5, 7, 2), tcs: fc.boolean() })
      .map((r): Cmd => ({ op: 'add', ...r })),
  },
  { weight: 1, arbitrary: f.map((x): Cmd => ({ op: 'init', f: x })) },
  {
    weight: 4,
    arbitrary: fc
      .record({ f, page, pages: fc.integer({ min: 1, max: 4 }), prot: fc.nat(7), priv: fc.boolean() })
      .map((r): Cmd => ({ op: 'mmap', ...r })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ f, page, pages: fc.integer({ min: 1, max: 4 }) }).map((r): Cmd => ({ op: 'munmap', ...r })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ f, page, pages: fc.integer({ min: 1, max: 4 }), prot: fc.nat(7) })
      .map((r): Cmd => ({ op: 'mprotect', ...r })),
  },
  { weight: 4, arbitrary: fc.record({ f, page, write: fc.boolean() }).map((r): Cmd => ({ op: 'touch', ...r })) },
  { weight: 2, arbitrary: f.map((x): Cmd => ({ op: 'close', f: x })) },
  { weight: 1, arbitrary: fc.constant({ op: 'exit' } as Cmd) },
);
const cmds: fc.Arbitrary<Cmd[]> = fc.array(
  fc.oneof(
    { weight: 8, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(leaf, { maxLength: 6 }).map((c): Cmd => ({ op: 'fork', cmds: c })) },
  ),
  { minLength: 1, maxLength: 14 },
);

interface Fd {
  fd: number;
  base: number;
  size: number;
}

/** Executes `list` in a process; `fds` are the enclave fds it knows (inherited ones included). */
async function exec(sys: Sys, list: Cmd[], fds: Fd[], check: (sys: Sys) => Promise<void>): Promise<void> {
  const libc = new Libc(sys);
  const pick = (i: number) => (fds.length ? fds[i % fds.length] : undefined);
  for (const c of list) {
    switch (c.op) {
      case 'open': {
        const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
        if (fd >= 0) fds.push({ fd, base: await reserve(sys, SMALL), size: SMALL });
        break;
      }
      case 'build': {
        const { layout, sigstruct } = sampleEnclave();
        try {
          const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct, map: false });
          fds.push({ fd: e.fd, base: e.base, size: e.size });
        } catch (x) {
          // The one expected failure: ENOMEM when the EPC is full of pages nothing can reclaim (SECS and VA pages of
          // other enclaves; sgx_alloc_epc_page() gives ENOMEM once the LRU is empty). Anything else — another
          // errno, a JS exception — fails the property.
          if (!(x instanceof EnclaveLoadError && x.data.kind === 'syscall' && x.data.errno === 'ENOMEM')) throw x;
        }
        break;
      }
      case 'create': {
        const e = pick(c.f);
        if (e) await ioctlCreate(sys, libc, e.fd, secsImage({ size: BigInt(e.size), baseAddr: BigInt(e.base) }));
        break;
      }
      case 'add': {
        const e = pick(c.f);
        if (!e) break;
        const src = await sourcePages(sys, 1);
        const secinfo = c.tcs ? 0x100n : 0x200n | BigInt(c.perm);
        if (c.tcs) await sys.store(src, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0)); // a zero TCS is valid
        await ioctlAddPages(sys, libc, e.fd, {
          src,
          offset: (c.page % (e.size / P)) * P,
          length: P,
          secinfo,
          flags: 1n,
        });
        await sys.munmap(src, P);
        break;
      }
      case 'init': {
        const e = pick(c.f);
        if (e) await ioctlInit(sys, libc, e.fd, sampleEnclave().sigstruct);
        break;
      }
      case 'mmap': {
        const e = pick(c.f);
        if (!e) break;
        const first = c.page % (e.size / P);
        const n = Math.min(c.pages, e.size / P - first);
        await sys.mmap(e.base + first * P, n * P, c.prot, (c.priv ? MAP_PRIVATE : MAP_SHARED) | MAP_FIXED, e.fd, 0);
        break;
      }
      case 'munmap': {
        const e = pick(c.f);
        if (e) await sys.munmap(e.base + (c.page % (e.size / P)) * P, c.pages * P);
        break;
      }
      case 'mprotect': {
        const e = pick(c.f);
        if (e) await sys.mprotect(e.base + (c.page % (e.size / P)) * P, c.pages * P, c.prot);
        break;
      }
      case 'touch': {
        const e = pick(c.f);
        if (!e) break;
        const a = e.base + (c.page % (e.size / P)) * P;
        // Only where something is mapped, so that the process usually survives (a SIGSEGV/SIGBUS is fine too).
        const mapped = sys.task.mm?.vmas.lookup(a);
        if (mapped) {
          if (c.write) await sys.store(a, Uint8Array.of(1));
          else await sys.load(a, 1);
        }
        break;
      }
      case 'close': {
        const e = pick(c.f);
        if (e) {
          await sys.close(e.fd);
          fds.splice(fds.indexOf(e), 1);
        }
        break;
      }
      case 'fork': {
        const inherited = fds.map((x) => ({ ...x }));
        await sys.fork((cs) => exec(cs, c.cmds, inherited, check).then(() => 0));
        break;
      }
      case 'exit':
        return;
    }
    await check(sys);
  }
}

describe('random enclave workloads', () => {
  it('never throw, keep the driver invariants, and leave the EPC as they found it', async () => {
    await fc.assert(
      fc.asyncProperty(cmds, fc.nat(1000), async (list, seed) => {
        const s = makeSgxSystem({ epcPages: 24, seed, ramBytes: 32 << 20 });
        const baseline = s.sgx.nrFreePages;
        const violations: string[] = [];
        const check = async (sys: Sys) => {
          await sys.kcall('check', () => {
            violations.push(...sgxCheckInvariants(s.sgx));
            // The kernel's own invariants too: VMAs sorted and disjoint, RSS and total_vm, frame and file refcounts.
            violations.push(...checkInvariants(s.k, sgxKernelFrames(s.sgx)));
            return 0;
          });
        };
        s.k.spawn(async (sys) => {
          await exec(sys, list, [], check);
          return 0;
        });
        // Drain ksgxd's batch in flight, if any, with a last process.
        const r = await s.k.run({ maxSteps: 200_000 });
        s.k.spawn(async (sys) => {
          while (s.sgx.reclaimInFlight) await sys.sched_yield();
          return 0;
        });
        await s.k.run({ maxSteps: 10_000 });
        expect(r.kind, 'the run ends').toBe('idle');
        expect(violations, 'invariants after every step').toEqual([]);
        expect(sgxCheckInvariants(s.sgx)).toEqual([]);
        expect(checkInvariants(s.k, sgxKernelFrames(s.sgx)), 'kernel invariants at the end').toEqual([]);
        expect(s.sgx.enclaves.size, 'every enclave released').toBe(0);
        expect(s.sgx.nrFreePages, 'every EPC page free').toBe(baseline);
        expect(s.m.epcm.validCount).toBe(0);
      }),
      { numRuns: Number(process.env.SGX_PROP_RUNS ?? 40), seed: Number(process.env.SGX_PROP_SEED ?? 20240611) },
    );
  });
});
