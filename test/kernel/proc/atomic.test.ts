/** Locked read-modify-write instructions by host code (Sys.atomic): atomic, and faulting like stores. */
import { describe, expect, it } from 'vitest';
import {
  Libc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SIGSEGV,
  WIFSIGNALED,
  WTERMSIG,
} from '../../../src/kernel/index';
import { runProgram } from '../fixtures/kernel';

describe('Sys.atomic', () => {
  it('returns the old bytes and stores the new ones; CMPXCHG leaves a mismatching word alone', async () => {
    const seen: number[] = [];
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const w = await libc.alloc(8);
      await libc.writeU32(w, 10);
      seen.push(await libc.cmpxchgU32(w, 10, 11), await libc.readU32(w));
      seen.push(await libc.cmpxchgU32(w, 10, 12), await libc.readU32(w));
      seen.push(await libc.fetchAddU32(w, 0xffffffff), await libc.readU32(w));
      return 0;
    });
    expect(seen).toEqual([10, 11, 11, 11, 11, 10]);
  });

  it('faults as a write on a read-only page (SIGSEGV) even when the compare fails, and writes nothing', async () => {
    let status = 0;
    let after = -1;
    await runProgram(async (sys) => {
      const libc = new Libc(sys);
      const page = await sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await libc.writeU32(page, 5);
      await sys.mprotect(page, 4096, PROT_READ);
      const child = await sys.fork(async (c) => {
        await new Libc(c).cmpxchgU32(page, 6, 7);
        return 0;
      });
      status = (await libc.waitpid(child)).status;
      after = await libc.readU32(page);
      return 0;
    });
    expect(WIFSIGNALED(status) && WTERMSIG(status), 'the child dies of SIGSEGV').toBe(SIGSEGV);
    expect(after, 'the word is unchanged').toBe(5);
  });
});
