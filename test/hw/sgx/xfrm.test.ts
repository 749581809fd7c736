import { describe, expect, it } from 'vitest';
import { ssaFrameBytesNeeded, XFRM_KNOWN, XSAVE_COMPONENTS, xfrmIsLegal, xsaveSize } from '../../../src/hw/index';
import { hasGcc, runC } from '../../util/native';

// CPUID leaf 0DH of this host: sub-leaf 0 EBX is the XSAVE size for the features enabled in XCR0 (read with
// XGETBV); sub-leaf i ≥ 2 gives component i's size (EAX, 0 when not enumerated) and standard offset (EBX).
const CPUID_0D = `
#include <cpuid.h>
#include <stdio.h>
int main(void) {
  unsigned a, b, c, d, lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  __cpuid_count(0xd, 0, a, b, c, d);
  printf("%u %u %u\\n", lo, hi, b);
  for (unsigned i = 2; i < 19; i++) { __cpuid_count(0xd, i, a, b, c, d); printf("%u %u %u\\n", i, a, b); }
  return 0;
}`;

describe('XSAVE sizing for SSA frames', () => {
  it.skipIf(!hasGcc())('uses the component offsets and sizes this CPU reports in CPUID leaf 0DH', () => {
    const [head, ...rows] = runC(CPUID_0D).trim().split('\n');
    const [lo, hi, enabledSize] = head!.split(' ').map(Number) as [number, number, number];
    const xcr0 = (BigInt(hi) << 32n) | BigInt(lo);
    let checked = 0;
    for (const row of rows) {
      const [bit, size, offset] = row.split(' ').map(Number) as [number, number, number];
      if (size === 0) continue;
      const ours = XSAVE_COMPONENTS.find((c) => c.bit === bit);
      if (!ours) continue;
      expect({ offset: ours.offset, size: ours.size }, `component ${bit}`).toEqual({ offset, size });
      checked++;
    }
    expect(checked, 'the host should support at least AVX').toBeGreaterThan(0);
    if ((xcr0 & ~XFRM_KNOWN) === 0n) expect(xsaveSize(xcr0), `XSAVE size for XCR0 ${xcr0}`).toBe(enabledSize);
  });

  it.each([
    [0x3n, 576],
    [0x7n, 832],
    [0x1fn, 1088],
    [0xe7n, 2688],
    [0x2e7n, 2696],
    [0x600e7n, 11008],
  ])('XSAVE area for XFRM %s is %i bytes', (xfrm, size) => {
    expect(xsaveSize(xfrm)).toBe(size);
  });

  it('needs XSAVE + MISC (EXINFO 16) + GPRSGX (184) bytes in an SSA frame', () => {
    expect(ssaFrameBytesNeeded(0x3n, 0)).toBe(760);
    expect(ssaFrameBytesNeeded(0x3n, 1)).toBe(776);
  });
});

describe('XFRM legality (XSETBV rules, SDM Vol. 1 §13.3)', () => {
  it.each([
    [0x3n, true, 'x87 and SSE'],
    [0x7n, true, 'AVX'],
    [0x2n, false, 'x87 clear'],
    [0x5n, false, 'AVX without SSE'],
    [0xbn, false, 'BNDREGS without BNDCSR'],
    [0x1bn, true, 'both MPX bits'],
    [0xe7n, true, 'AVX-512 with AVX'],
    [0x67n, false, 'two of the three AVX-512 bits'],
    [0xe3n, false, 'AVX-512 without AVX'],
    [0x20003n, false, 'XTILECFG without XTILEDATA'],
    [0x60003n, true, 'both AMX bits'],
  ])('XFRM %s is legal: %s (%s)', (xfrm, legal) => {
    expect(xfrmIsLegal(xfrm)).toBe(legal);
  });
});
