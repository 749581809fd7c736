import { describe, expect, it } from 'vitest';
import {
  Kernel,
  Libc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  WEXITSTATUS,
  WIFEXITED,
} from '../../src/kernel/index';

describe('kernel smoke', () => {
  it('runs a host program that maps memory, forks and waits', async () => {
    const k = new Kernel({ seed: 1 });
    const { pid } = k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const a = await sys.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(a, new Uint8Array([1, 2, 3]));
      const child = await sys.fork(async (c) => {
        await c.store(a, new Uint8Array([9]));
        return 7;
      });
      const w = await libc.waitpid(child);
      const b = await sys.load(a, 3);
      await libc.print(1, `child ${w.pid} status ${w.status} b ${b.join(',')}\n`);
      return 3;
    });
    const r = await k.run();
    expect(r.kind).toBe('idle');
    const st = k.exitStatus(pid)!;
    expect(WIFEXITED(st) && WEXITSTATUS(st)).toBe(3);
    expect(k.console).toMatch(/status 1792 b 1,2,3/);
  });
});
