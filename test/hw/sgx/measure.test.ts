import { describe, expect, it } from 'vitest';
import { concatBytes, Measurement, nobleBackend, toHex } from '../../../src/hw/index';
import { nodeBackend } from '../../../src/node/crypto-node';
import { runTool } from '../../util/native';

// Records built here byte by byte from SDM Vol. 3D §41.2 pseudo-code, independently of src/hw/sgx/measure.ts.
function rec(tag: string, fill: (dv: DataView) => void): Uint8Array {
  const r = new Uint8Array(64);
  r.set(new TextEncoder().encode(tag));
  fill(new DataView(r.buffer));
  return r;
}

function v2Pages(): { tcs: Uint8Array; zero: Uint8Array; code: Uint8Array } {
  const tcs = new Uint8Array(4096);
  const dv = new DataView(tcs.buffer);
  dv.setBigUint64(16, 0x1000n, true);
  dv.setUint32(28, 1, true);
  dv.setBigUint64(32, 0x2000n, true);
  dv.setUint32(64, 0xffffffff, true);
  dv.setUint32(68, 0xffffffff, true);
  const code = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
  return { tcs, zero: new Uint8Array(4096), code };
}

describe('MRENCLAVE measurement', () => {
  it.each([nobleBackend, nodeBackend])('matches sgx-isa.md §7.2 V1 and V1b ($name)', (b) => {
    const m = Measurement.start(b);
    m.ecreate(1, 0x2000n);
    expect(toHex(m.finalize())).toBe('9e197c8837c6d65632dbdd59cd7df4f1a25b68d8e4e5eb6ca3b20b05311fecb8');
    const m2 = Measurement.start(b);
    m2.ecreate(1, 0x1000000n);
    expect(toHex(m2.finalize())).toBe('a61f64a4b7bded6366b07259092ac5638b32f20ab402444e1d661a411240f95a');
  });

  it('matches the 4-page vector V2 (245 blocks)', () => {
    const { tcs, zero, code } = v2Pages();
    const m = Measurement.start(nodeBackend);
    m.ecreate(1, 0x4000n);
    const pages: Array<[number, bigint, Uint8Array | null]> = [
      [0x0000, 0x100n, tcs],
      [0x1000, 0x203n, zero],
      [0x2000, 0x205n, code],
      [0x3000, 0x203n, null],
    ];
    for (const [off, flags, data] of pages) {
      m.eadd(BigInt(off), flags);
      if (data) for (let c = 0; c < 4096; c += 256) m.eextend(BigInt(off + c), data.subarray(c, c + 256));
    }
    expect(m.blocks).toBe(245);
    expect(toHex(m.finalize())).toBe('d8c33a61ea1d7a61c4ebb0050f4221cafd1b27c66e9b7eaa8ed10b597b3d2430');
  });

  it('equals `openssl dgst -sha256` over records the test builds itself', () => {
    const { code } = v2Pages();
    const parts: Uint8Array[] = [
      rec('ECREATE', (dv) => {
        dv.setUint32(8, 2, true);
        dv.setBigUint64(12, 0x8000n, true);
      }),
      rec('EADD', (dv) => {
        dv.setBigUint64(8, 0x3000n, true);
        dv.setBigUint64(16, 0x207n, true);
      }),
    ];
    for (let c = 0; c < 4096; c += 256) {
      parts.push(
        rec('EEXTEND', (dv) => dv.setBigUint64(8, BigInt(0x3000 + c), true)),
        code.subarray(c, c + 256),
      );
    }
    const oracle = runTool('openssl', ['dgst', '-sha256', '-r'], concatBytes(...parts))
      .toString()
      .split(' ')[0];

    const m = Measurement.start(nobleBackend);
    m.ecreate(2, 0x8000n);
    m.eadd(0x3000n, 0x207n);
    for (let c = 0; c < 4096; c += 256) m.eextend(BigInt(0x3000 + c), code.subarray(c, c + 256));
    expect(toHex(m.finalize())).toBe(oracle);
  });

  it('finalize leaves the running state usable', () => {
    const m = Measurement.start(nobleBackend);
    m.ecreate(1, 0x2000n);
    const first = toHex(m.finalize());
    expect(toHex(m.finalize())).toBe(first);
    m.eadd(0n, 0x203n);
    expect(toHex(m.finalize())).not.toBe(first);
  });
});
