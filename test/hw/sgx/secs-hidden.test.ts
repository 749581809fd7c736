import { describe, expect, it } from 'vitest';
import { adjustChildCount, hiddenU64, setHiddenU64 } from '../../../src/hw/index';

describe('CHILDCNT (SECS hidden state)', () => {
  const page = () => new Uint8Array(4096);
  const at = (v: bigint) => {
    const p = page();
    setHiddenU64(p, 'childCnt', v);
    return p;
  };
  const step = (v: bigint, delta: 1 | -1) => {
    const p = at(v);
    adjustChildCount(p, delta);
    return hiddenU64(p, 'childCnt');
  };

  it('counts up and down, across the 32-bit halves', () => {
    expect(step(0n, 1)).toBe(1n);
    expect(step(5n, -1)).toBe(4n);
    expect(step(0xffff_ffffn, 1)).toBe(0x1_0000_0000n);
    expect(step(0x1_0000_0000n, -1)).toBe(0xffff_ffffn);
    expect(step((1n << 52n) + 7n, 1)).toBe((1n << 52n) + 8n);
  });

  it('wraps mod 2^64 at both ends, as the u64 it is', () => {
    expect(step(0n, -1)).toBe(0xffff_ffff_ffff_ffffn);
    expect(step(0xffff_ffff_ffff_ffffn, 1)).toBe(0n);
  });

  it('touches only its own eight bytes', () => {
    const p = at(3n);
    setHiddenU64(p, 'eid', 0x1234n);
    setHiddenU64(p, 'entryEpoch', 0x5678n);
    adjustChildCount(p, 1);
    expect(hiddenU64(p, 'eid')).toBe(0x1234n);
    expect(hiddenU64(p, 'entryEpoch')).toBe(0x5678n);
    expect(hiddenU64(p, 'childCnt')).toBe(4n);
  });
});
