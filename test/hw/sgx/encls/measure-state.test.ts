// The running MRENCLAVE across the SECS's life: EADD and EEXTEND find it through the EID in the SECS page
// (SgxMachine.measurementOf, with a one-entry cache), and read SECS fields and page bytes live. These tests walk
// the transitions that could leave such a cache stale (another enclave, EINIT, EREMOVE + ECREATE in the same EPC
// page, EWB + ELDU of the SECS to another page, EDBGWR) and check every MRENCLAVE against SHA-256 over records
// built here from the SDM pseudo-code (SDM Vol. 3D §41.2 ECREATE, EADD, EEXTEND).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hiddenU64, type SgxMachine, toHex } from '../../../../src/hw/index';
import { pointer, pointerAt } from '../../../../src/hw/sgx/encls/operands';
import {
  BACKING_PA,
  buildSigstruct,
  buildV2,
  DONE,
  doEadd,
  doEcreate,
  doEextendPage,
  doEinit,
  epcPa,
  gpFault,
  Leaf,
  makeTestMachine,
  OK,
  PAGE,
  PAGEINFO_PA,
  PCMD_AREA,
  pfFault,
  run,
  SELFTEST_MRSIGNER,
  secsImage,
  setLeHash,
  writePageinfo,
} from '../fixture';

/** What an enclave's log holds, in order. */
type Op =
  | { readonly kind: 'ecreate'; readonly ssaFrameSize: number; readonly size: bigint }
  | { readonly kind: 'eadd'; readonly offset: bigint; readonly flags: bigint }
  | { readonly kind: 'eextend'; readonly offset: bigint; readonly data: Uint8Array };

function record(tag: string, fill: (dv: DataView) => void): Uint8Array {
  const r = new Uint8Array(64);
  r.set(new TextEncoder().encode(tag));
  fill(new DataView(r.buffer));
  return r;
}

/** SHA-256 (node:crypto) of the records, built byte by byte. */
function oracle(ops: readonly Op[]): string {
  const h = createHash('sha256');
  for (const op of ops) {
    if (op.kind === 'ecreate') {
      h.update(
        record('ECREATE', (dv) => {
          dv.setUint32(8, op.ssaFrameSize, true);
          dv.setBigUint64(12, op.size, true);
        }),
      );
    } else if (op.kind === 'eadd') {
      h.update(
        record('EADD', (dv) => {
          dv.setBigUint64(8, op.offset, true);
          dv.setBigUint64(16, op.flags, true);
        }),
      );
    } else {
      h.update(record('EEXTEND', (dv) => dv.setBigUint64(8, op.offset, true)));
      h.update(op.data);
    }
  }
  return h.digest('hex');
}

/** The log of EADD + 16 EEXTENDs of `data` at `offset`. */
function pageOps(offset: bigint, flags: bigint, data: Uint8Array): Op[] {
  const ops: Op[] = [{ kind: 'eadd', offset, flags }];
  for (let c = 0; c < PAGE; c += 256)
    ops.push({ kind: 'eextend', offset: offset + BigInt(c), data: data.slice(c, c + 256) });
  return ops;
}

/** The running MRENCLAVE of the enclave whose SECS is in EPC page `secs`, finalized without ending it. */
function running(m: SgxMachine, secs: number): string {
  const measurement = m.measurement(hiddenU64(m.epcPage(secs), 'eid'));
  if (!measurement) throw new Error(`no running measurement for the SECS in EPC page ${secs}`);
  return toHex(measurement.finalize());
}

const pattern = (seed: number) => Uint8Array.from({ length: PAGE }, (_, i) => (i * 31 + seed) & 0xff);
const allDone = (m: SgxMachine, secs: number, page: number) =>
  expect(doEextendPage(m, secs, page).every((o) => o.kind === 'done')).toBe(true);

describe('the running measurement through the SECS life cycle', () => {
  it('two enclaves built in alternation each measure only their own pages', () => {
    const m = makeTestMachine();
    const [A, B] = [0, 5];
    const baseA = 0x10_0000n;
    const baseB = 0x40_0000n;
    expect(doEcreate(m, A, secsImage({ baseAddr: baseA, size: 0x4000n }))).toEqual(DONE);
    expect(doEcreate(m, B, secsImage({ baseAddr: baseB, size: 0x8000n, ssaFrameSize: 2 }))).toEqual(DONE);
    const logA: Op[] = [{ kind: 'ecreate', ssaFrameSize: 1, size: 0x4000n }];
    const logB: Op[] = [{ kind: 'ecreate', ssaFrameSize: 2, size: 0x8000n }];
    for (let i = 0; i < 2; i++) {
      const [pa, pb] = [pattern(i), pattern(100 + i)];
      expect(doEadd(m, A + 1 + i, A, baseA + BigInt(i * PAGE), 0x203n, pa)).toEqual(DONE);
      expect(doEadd(m, B + 1 + i, B, baseB + BigInt((i + 3) * PAGE), 0x205n, pb)).toEqual(DONE);
      // Chunk by chunk, alternating enclaves: every EEXTEND switches EID.
      for (let c = 0; c < PAGE; c += 256) {
        expect(run(m, Leaf.EEXTEND, { rbx: epcPa(A), rcx: epcPa(A + 1 + i) + c })).toEqual(DONE);
        expect(run(m, Leaf.EEXTEND, { rbx: epcPa(B), rcx: epcPa(B + 1 + i) + c })).toEqual(DONE);
      }
      logA.push(...pageOps(BigInt(i * PAGE), 0x203n, pa));
      logB.push(...pageOps(BigInt((i + 3) * PAGE), 0x205n, pb));
    }
    expect(running(m, A)).toBe(oracle(logA));
    expect(running(m, B)).toBe(oracle(logB));
  });

  it('EINIT ends the measurement: the SECS has none afterwards, and EADD and EEXTEND are #GP(0)', () => {
    const m = makeTestMachine();
    const [, reg] = buildV2(m);
    // The last EEXTEND left this enclave in measurementOf's cache.
    expect(m.measurementOf(m.epcPage(0))).toBeDefined();
    setLeHash(m, SELFTEST_MRSIGNER);
    expect(doEinit(m, 0, buildSigstruct())).toEqual(OK);
    expect(m.measurementOf(m.epcPage(0))).toBeUndefined();
    expect(run(m, Leaf.EEXTEND, { rbx: epcPa(0), rcx: epcPa(reg!) })).toEqual(gpFault());
    expect(doEadd(m, 9, 0, 0x10_3000n, 0x203n)).toEqual(gpFault());
  });

  it('EREMOVE of a SECS and an ECREATE into the same EPC page start a new measurement', () => {
    const m = makeTestMachine();
    expect(doEcreate(m, 0, secsImage({ baseAddr: 0x10_0000n }))).toEqual(DONE);
    expect(doEadd(m, 1, 0, 0x10_0000n, 0x203n, pattern(1))).toEqual(DONE);
    allDone(m, 0, 1);
    const oldEid = hiddenU64(m.epcPage(0), 'eid');
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(1) })).toEqual(OK);
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(0) })).toEqual(OK);
    expect(m.measurement(oldEid)).toBeUndefined();
    // Same EPC pages, a different enclave.
    expect(doEcreate(m, 0, secsImage({ baseAddr: 0x20_0000n, size: 0x8000n, ssaFrameSize: 2 }))).toEqual(DONE);
    expect(hiddenU64(m.epcPage(0), 'eid')).not.toBe(oldEid);
    expect(doEadd(m, 1, 0, 0x20_2000n, 0x205n, pattern(2))).toEqual(DONE);
    allDone(m, 0, 1);
    expect(running(m, 0)).toBe(
      oracle([{ kind: 'ecreate', ssaFrameSize: 2, size: 0x8000n }, ...pageOps(0x2000n, 0x205n, pattern(2))]),
    );
  });

  it('a SECS evicted by EWB and reloaded by ELDU into another EPC page keeps measuring where it stopped', () => {
    const m = makeTestMachine();
    const [SECS, VA, NEW] = [0, 10, 20];
    const base = 0x10_0000n;
    expect(doEcreate(m, SECS, secsImage({ baseAddr: base }))).toEqual(DONE);
    expect(doEadd(m, 1, SECS, base, 0x203n, pattern(3))).toEqual(DONE);
    allDone(m, SECS, 1);
    // EWB takes a SECS only without children; the page stays measured.
    expect(run(m, Leaf.EREMOVE, { rcx: epcPa(1) })).toEqual(OK);
    expect(run(m, Leaf.EPA, { rbx: 3, rcx: epcPa(VA) })).toEqual(DONE);
    writePageinfo(m, { srcPge: BACKING_PA, secinfo: PCMD_AREA });
    expect(run(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(SECS), rdx: epcPa(VA) })).toEqual(OK);
    // The old page is gone for the measuring leaves.
    expect(doEadd(m, 2, SECS, base + 0x1000n, 0x203n)).toEqual(pfFault(epcPa(SECS)));
    writePageinfo(m, { srcPge: BACKING_PA, secinfo: PCMD_AREA });
    expect(run(m, Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(NEW), rdx: epcPa(VA) })).toEqual(OK);
    expect(doEadd(m, 21, NEW, base + 0x1000n, 0x205n, pattern(4))).toEqual(DONE);
    allDone(m, NEW, 21);
    expect(run(m, Leaf.EEXTEND, { rbx: epcPa(SECS), rcx: epcPa(21) })).toEqual(gpFault());
    expect(running(m, NEW)).toBe(
      oracle([
        { kind: 'ecreate', ssaFrameSize: 1, size: 0x4000n },
        ...pageOps(0n, 0x203n, pattern(3)),
        ...pageOps(0x1000n, 0x205n, pattern(4)),
      ]),
    );
    // A new enclave in the old page is a different enclave, even though EWB left the old bytes in the frame.
    expect(doEcreate(m, SECS, secsImage({ baseAddr: 0x20_0000n }))).toEqual(DONE);
    expect(running(m, SECS)).toBe(oracle([{ kind: 'ecreate', ssaFrameSize: 1, size: 0x4000n }]));
  });

  it('EDBGWR cannot write the SECS, and EEXTEND measures what EDBGWR wrote into a page', () => {
    const m = makeTestMachine();
    const base = 0x10_0000n;
    // DEBUG | MODE64BIT: EDBGWR works before EINIT.
    expect(doEcreate(m, 0, secsImage({ baseAddr: base, attributes: 0x6n }))).toEqual(DONE);
    expect(doEadd(m, 1, 0, base + 0x1000n, 0x203n, pattern(5))).toEqual(DONE);
    expect(run(m, Leaf.EDBGWR, { rbx: 0n, rcx: epcPa(0) + 3072 })).toEqual(pfFault(epcPa(0) + 3072, { write: true }));
    expect(run(m, Leaf.EDBGWR, { rbx: 0x1122_3344_5566_7788n, rcx: epcPa(1) + 0x108 })).toEqual(OK);
    allDone(m, 0, 1);
    const data = pattern(5);
    new DataView(data.buffer).setBigUint64(0x108, 0x1122_3344_5566_7788n, true);
    expect(running(m, 0)).toBe(
      oracle([{ kind: 'ecreate', ssaFrameSize: 1, size: 0x4000n }, ...pageOps(0x1000n, 0x203n, data)]),
    );
  });

  it('an enclave in the upper canonical half measures offsets from its base (above 2^53)', () => {
    const m = makeTestMachine();
    const base = 0xffff_8000_0000_0000n;
    expect(doEcreate(m, 0, secsImage({ baseAddr: base }))).toEqual(DONE);
    expect(doEadd(m, 1, 0, base + 0x2000n, 0x203n, pattern(6))).toEqual(DONE);
    allDone(m, 0, 1);
    expect(running(m, 0)).toBe(
      oracle([{ kind: 'ecreate', ssaFrameSize: 1, size: 0x4000n }, ...pageOps(0x2000n, 0x203n, pattern(6))]),
    );
  });
});

describe('pointer and pointerAt (PAGEINFO pointers as a BigInt and as two u32s)', () => {
  const values = [
    0n,
    0x1000n,
    0x1040n,
    0x1080n,
    (1n << 47n) - 0x1000n,
    1n << 47n,
    1n << 53n,
    1n << 63n,
    (1n << 64n) - (1n << 47n),
    (1n << 64n) - (1n << 47n) - 0x1000n,
    (1n << 64n) - 0x1000n,
    (1n << 64n) - 0x40n,
    0xffff_ffff_ffff_ffffn,
    0xffff_8000_0000_0801n,
  ];
  /** The rule, in BigInt: #GP(0) when misaligned or non-canonical (bits 63:47 not all equal), else the number. */
  const sdm = (v: bigint, align: number) =>
    v % BigInt(align) !== 0n || (v >= 1n << 47n && v < (1n << 64n) - (1n << 47n))
      ? { kind: 'fault', vector: 13, errorCode: 0, addr: 0 }
      : Number(v);
  it.each([32, 64, 128, 4096])('agree with the canonical-and-aligned rule on every value (align %d)', (align) => {
    const dv = new DataView(new ArrayBuffer(16));
    for (const v of values) {
      dv.setBigUint64(8, v, true);
      expect(pointerAt(dv, 8, align), `0x${v.toString(16)}`).toEqual(sdm(v, align));
      expect(pointer(v, align), `0x${v.toString(16)}`).toEqual(sdm(v, align));
    }
  });
});
