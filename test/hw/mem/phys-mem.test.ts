import { describe, expect, it } from 'vitest';
import { DEFAULT_EPC_BASE, PAGE_SIZE, PhysMem } from '../../../src/hw/index';

const GiB = 2 ** 30;

describe('PhysMem', () => {
  it('configures 512 GiB of EPC and grows only with the 1,000 pages touched', () => {
    const before = process.memoryUsage().arrayBuffers;
    const m = new PhysMem({ ramBytes: 4 * GiB, epcSections: [{ base: DEFAULT_EPC_BASE, size: 512 * GiB }] });
    const stride = (512 * GiB) / 1000;
    for (let i = 0; i < 1000; i++) {
      const pa = DEFAULT_EPC_BASE + Math.floor((i * stride) / PAGE_SIZE) * PAGE_SIZE;
      m.write(pa + 7, Uint8Array.of(i & 0xff));
    }
    expect(m.touchedPages).toBe(1000);
    const grown = process.memoryUsage().arrayBuffers - before;
    // 1,000 pages are 4 MB; allow slack for unrelated buffers but nowhere near the configured size.
    expect(grown, `arrayBuffers grew by ${grown}`).toBeLessThan(64 * 2 ** 20);
    expect(m.read(DEFAULT_EPC_BASE + 7, 1)[0]).toBe(0);
    const last = DEFAULT_EPC_BASE + Math.floor((999 * stride) / PAGE_SIZE) * PAGE_SIZE;
    expect(m.read(last + 7, 1)[0]).toBe(999 & 0xff);
  });

  it("hands a released page's storage to the next page touched, zeroed, so churn does not grow memory", () => {
    const m = new PhysMem({ ramBytes: GiB, epcSections: [{ base: DEFAULT_EPC_BASE, size: 16 * PAGE_SIZE }] });
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 20_000; i++) {
      const pfn = 16 + i;
      m.page(pfn).fill(0xa5);
      if (i >= 8) m.freePage(pfn - 8);
    }
    expect(m.touchedPages).toBe(8);
    const grown = process.memoryUsage().arrayBuffers - before;
    // 20,000 pages passed through (80 MB if each had kept its own storage); at most 8 live at a time.
    expect(grown, `arrayBuffers grew by ${grown}`).toBeLessThan(8 * 2 ** 20);
    // Freed pages read as zero, and the next page touched starts zeroed though its storage was used before.
    expect(m.read(16 * PAGE_SIZE, 4)).toEqual(new Uint8Array(4));
    expect(m.page(5).every((b) => b === 0)).toBe(true);
  });

  it('reads untouched memory as zero without allocating', () => {
    const m = new PhysMem({ ramBytes: GiB, epcSections: [{ base: DEFAULT_EPC_BASE, size: 16 * PAGE_SIZE }] });
    expect(m.read(123456, 16)).toEqual(new Uint8Array(16));
    expect(m.touchedPages).toBe(0);
  });

  it('gives abort-page semantics to non-enclave access of EPC', () => {
    const m = new PhysMem({ ramBytes: GiB, epcSections: [{ base: DEFAULT_EPC_BASE, size: 16 * PAGE_SIZE }] });
    m.write(DEFAULT_EPC_BASE, Uint8Array.of(1, 2, 3, 4));
    expect(Array.from(m.readNonEnclave(DEFAULT_EPC_BASE, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
    m.writeNonEnclave(DEFAULT_EPC_BASE, Uint8Array.of(9, 9, 9, 9));
    expect(Array.from(m.read(DEFAULT_EPC_BASE, 4))).toEqual([1, 2, 3, 4]);
    // RAM is unaffected.
    m.writeNonEnclave(0x1000, Uint8Array.of(5));
    expect(m.readNonEnclave(0x1000, 1)[0]).toBe(5);
  });

  it('writes and reads across page boundaries', () => {
    const m = new PhysMem({ ramBytes: GiB, epcSections: [] });
    const data = Uint8Array.from({ length: 10000 }, (_, i) => i * 7);
    m.write(PAGE_SIZE - 3, data);
    expect(m.read(PAGE_SIZE - 3, data.length)).toEqual(data);
  });

  it('rejects overlapping or unaligned regions', () => {
    expect(() => new PhysMem({ ramBytes: GiB, epcSections: [{ base: GiB / 2, size: PAGE_SIZE }] })).toThrow(/overlap/);
    expect(() => new PhysMem({ ramBytes: GiB, epcSections: [{ base: 2 * GiB + 1, size: PAGE_SIZE }] })).toThrow(
      /aligned/,
    );
  });

  it('saves and restores', () => {
    const m = new PhysMem({ ramBytes: GiB, epcSections: [] });
    m.write(0x5000, Uint8Array.of(1, 2, 3));
    const r = PhysMem.restore(JSON.parse(JSON.stringify(m.save())));
    expect(Array.from(r.read(0x5000, 3))).toEqual([1, 2, 3]);
  });
});

describe('PhysMem write observers', () => {
  const make = () =>
    new PhysMem({ ramBytes: 64 * PAGE_SIZE, epcSections: [{ base: DEFAULT_EPC_BASE, size: 4 * PAGE_SIZE }] });

  it('are told of every write that bypasses the MMU: page(), write(), copyPage(), freePage()', () => {
    const m = make();
    const seen: number[] = [];
    m.onPageWrite((pfn) => seen.push(pfn));
    m.page(3).fill(1);
    m.write(5 * PAGE_SIZE - 2, Uint8Array.of(1, 2, 3, 4));
    m.copyPage(7, 3);
    m.freePage(7);
    m.writeU64(9 * PAGE_SIZE, 1n);
    m.notifyWrite(11);
    expect(seen, 'one notification per page touched, in order').toEqual([3, 4, 5, 7, 7, 9, 11]);
  });

  it('are not told of frame() (the MMU’s storage) or reads', () => {
    const m = make();
    const seen: number[] = [];
    m.onPageWrite((pfn) => seen.push(pfn));
    m.frame(2)[0] = 1;
    m.read(2 * PAGE_SIZE, 8);
    m.peekPage(2);
    m.readNonEnclave(2 * PAGE_SIZE, 8);
    expect(seen).toEqual([]);
    expect(m.read(2 * PAGE_SIZE, 1)[0], 'frame() is the same storage as page()').toBe(1);
  });
});
