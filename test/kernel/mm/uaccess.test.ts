/**
 * User-mode loads and stores by host code (Sys.load/store/atomic): one-page accesses take a short path, page-crossing
 * ones go page by page; both fault, copy on write and read zero pages as the MMU would. The oracle is a plain byte
 * array mirroring what was stored, and Linux's rules for a store that faults on its second page.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SEGV_MAPERR,
  SIGSEGV,
  type SigInfo,
} from '../../../src/kernel/index';
import { runProgram, statusText } from '../fixtures/kernel';

const P = 4096;

describe('user-mode accesses by host code', () => {
  it('read back what was stored, in one page or across two, and zeros where nothing was', async () => {
    const ops = fc.array(
      fc.record({
        store: fc.boolean(),
        at: fc.integer({ min: 0, max: 3 * P - 1 }),
        len: fc.integer({ min: 1, max: 600 }),
        seed: fc.integer({ min: 0, max: 255 }),
      }),
      { minLength: 1, maxLength: 25 },
    );
    await fc.assert(
      fc.asyncProperty(ops, async (list) => {
        const model = new Uint8Array(3 * P);
        const mismatches: string[] = [];
        const { status } = await runProgram(async (sys) => {
          const base = await sys.mmap(0, 3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          for (const o of list) {
            const len = Math.min(o.len, 3 * P - o.at);
            if (o.store) {
              const b = Uint8Array.from({ length: len }, (_, i) => (o.seed + 7 * i) & 0xff);
              await sys.store(base + o.at, b);
              model.set(b, o.at);
            } else {
              const got = await sys.load(base + o.at, len);
              const want = model.subarray(o.at, o.at + len);
              if (got.length !== len || got.some((x, i) => x !== want[i])) mismatches.push(`load ${o.at}+${len}`);
            }
          }
          return 0;
        });
        expect(statusText(status)).toBe('exit 0');
        expect(mismatches, 'every load returns the model’s bytes').toEqual([]);
      }),
      { numRuns: 25 },
    );
  });

  it('a store running into a hole writes the mapped page, faults at the hole’s first byte, and is redone after the handler', async () => {
    const infos: SigInfo[] = [];
    const seen: number[][] = [];
    const { status } = await runProgram(async (sys) => {
      const base = await sys.mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.munmap(base + P, P);
      await sys.sigaction(SIGSEGV, {
        handler: async (s, _sig, info) => {
          infos.push(info);
          // What the faulting store left in the first page, before the mapping is fixed.
          seen.push([...(await s.load(base + P - 4, 4))]);
          await s.mmap(base + P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        },
      });
      await sys.store(base + P - 4, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
      seen.push([...(await sys.load(base + P - 4, 8))]);
      return 0;
    });
    expect(statusText(status)).toBe('exit 0');
    expect(infos.map((i) => [i.si_signo, i.si_code])).toEqual([[SIGSEGV, SEGV_MAPERR]]);
    expect(infos[0]!.si_addr! % P, 'the first byte in the hole').toBe(0);
    expect(seen).toEqual([
      [1, 2, 3, 4],
      [1, 2, 3, 4, 5, 6, 7, 8],
    ]);
  });

  it('a store to a private page after fork() lands in the writer’s copy only (copy on write)', async () => {
    const got: number[] = [];
    const { status } = await runProgram(async (sys) => {
      const page = await sys.mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(page + 100, Uint8Array.of(1));
      const child = await sys.fork(async (c) => {
        await c.store(page + 100, Uint8Array.of(2));
        got.push((await c.load(page + 100, 1))[0]!);
        return 0;
      });
      expect(await sys.wait4(child, 0, 0)).toBe(child);
      got.push((await sys.load(page + 100, 1))[0]!);
      return 0;
    });
    expect(statusText(status)).toBe('exit 0');
    expect(got).toEqual([2, 1]);
  });
});
