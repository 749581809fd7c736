import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/hw/index';

describe('Rng', () => {
  it('is a pure function of its seed', () => {
    const a = new Rng('seed-1');
    const b = new Rng('seed-1');
    const xs = Array.from({ length: 100 }, () => a.nextU32());
    expect(Array.from({ length: 100 }, () => b.nextU32())).toEqual(xs);
    expect(new Rng('seed-2').nextU32()).not.toBe(xs[0]);
  });

  it('forks independent streams and restores saved state', () => {
    const a = new Rng(42);
    const f = a.fork('sched');
    const s = a.save();
    const x = a.nextU32();
    expect(Rng.restore(s).nextU32()).toBe(x);
    expect(f.nextU32()).not.toBe(x);
  });

  it('below() stays in range and covers it', () => {
    const r = new Rng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = r.below(10);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(10);
      seen.add(v);
    }
    expect(seen.size).toBe(10);
  });
});
