// Random sequences of ENCLS leaves (and enclave entries/exits) with random operands: no JS exception escapes, and
// the EPCM invariants hold after every step. fast-check prints the seed and the shrunk sequence on failure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AttrFlags,
  enclaveEnter,
  enclaveExit,
  encls,
  getField,
  hiddenU32,
  hiddenU64,
  PageType,
  SECS,
  type SgxMachine,
  toHex,
} from '../../../../src/hw/index';
import {
  BACKING_PA,
  buildSigstruct,
  doEadd,
  doEcreate,
  doEinit,
  epcPa,
  HOLE_PA,
  Leaf,
  makeTestMachine,
  PAGE,
  PAGEINFO_PA,
  PCMD_AREA,
  SELFTEST_MRSIGNER,
  SPARE_PA,
  secsImage,
  setLeHash,
  writePageinfo,
} from '../fixture';

const PAGES = 16;
const page = fc.integer({ min: 0, max: PAGES - 1 });
/** Operand addresses worth trying: EPC pages, misaligned EPC, RAM, a hole, non-canonical. */
const addr = fc.oneof(
  page.map(epcPa),
  fc.tuple(page, fc.integer({ min: 1, max: 4095 })).map(([p, o]) => epcPa(p) + o),
  fc.integer({ min: 0, max: 255 }).map((i) => i * PAGE),
  fc.constantFrom(SPARE_PA, HOLE_PA, 2 ** 47, PAGEINFO_PA),
);

type Op =
  | { k: 'ecreate'; page: number; sizeLog2: number; ssa: number; attributes: bigint; misalign: boolean }
  | { k: 'eadd'; page: number; secs: number; off: number; flags: bigint; fill: number }
  | { k: 'eextend'; secs: number; page: number; chunk: number }
  | { k: 'einit'; secs: number }
  | { k: 'build'; at: number; debug: boolean; regs: number }
  | { k: 'leaf'; leaf: number; rcx: number }
  | { k: 'epa'; rcx: number; rbx: number }
  | { k: 'ewb'; page: number; va: number; slot: number; backing: number }
  | { k: 'evict'; page: number; va: number; slot: number; backing: number }
  | { k: 'eld'; blocked: boolean; rec: number; dst: number; secs: number; ownSlot: boolean; va: number; slot: number }
  | { k: 'edbgwr'; rcx: number; value: bigint }
  | { k: 'enter'; cpu: number; secs: number }
  | { k: 'exit'; cpu: number }
  | { k: 'raw'; leaf: number; rbx: number; rcx: number; rdx: number };

// Page-valued fields are mostly read as an index into the pages that make sense in the current state (valid
// SECS pages, free pages, children, VA pages; see pick()), so random runs reach deep states and still shrink.
const ewbFields = {
  page,
  va: page,
  slot: fc.integer({ min: 0, max: 3 }),
  backing: fc.integer({ min: 0, max: 7 }),
};
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('ecreate' as const),
      page,
      sizeLog2: fc.integer({ min: 12, max: 16 }),
      ssa: fc.constantFrom(1, 1, 1, 0, 2),
      attributes: fc.constantFrom(0x4n, 0x6n, 0x6n, 0x5n, 0x24n),
      misalign: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('eadd' as const),
      page,
      secs: page,
      off: fc.integer({ min: -1, max: 16 }),
      flags: fc.constantFrom(0x100n, 0x100n, 0x203n, 0x203n, 0x205n, 0x205n, 0x201n, 0x202n, 0x20bn, 0x300n),
      fill: fc.integer({ min: 0, max: 255 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('eextend' as const),
      secs: page,
      page,
      chunk: fc.integer({ min: 0, max: 15 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('einit' as const), secs: page }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('build' as const),
      at: page,
      debug: fc.boolean(),
      regs: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('leaf' as const),
      leaf: fc.constantFrom(Leaf.EREMOVE, Leaf.EBLOCK, Leaf.ETRACK, Leaf.EDBGRD),
      rcx: addr,
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('epa' as const), rcx: addr, rbx: fc.constantFrom(3, 3, 2) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ewb' as const), ...ewbFields }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('evict' as const), ...ewbFields }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('eld' as const),
      blocked: fc.boolean(),
      rec: fc.nat(),
      dst: page,
      secs: page,
      ownSlot: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
      va: page,
      slot: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('edbgwr' as const),
      rcx: addr,
      value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('enter' as const), cpu: fc.integer({ min: 0, max: 2 }), secs: page }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('exit' as const), cpu: fc.integer({ min: 0, max: 2 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('raw' as const),
      leaf: fc.integer({ min: 0, max: 0x14 }),
      rbx: addr,
      rcx: addr,
      rdx: addr,
    }),
  },
);

/** The `n`th candidate (modulo), or `n` itself as a page number when there is none. */
function pick(candidates: number[], n: number): number {
  return candidates.length ? candidates[n % candidates.length]! : n;
}

function pages(m: SgxMachine, want: (pt: number | undefined) => boolean): number[] {
  return Array.from({ length: PAGES }, (_, i) => i).filter((i) => want(m.epcm.get(i)?.pt));
}
const secsPages = (m: SgxMachine) => pages(m, (pt) => pt === PageType.SECS);
const freePages = (m: SgxMachine) => pages(m, (pt) => pt === undefined);
const childPages = (m: SgxMachine) => pages(m, (pt) => pt === PageType.REG || pt === PageType.TCS);
const vaPages = (m: SgxMachine) => pages(m, (pt) => pt === PageType.VA);

interface Evicted {
  readonly backing: number;
  readonly linAddr: bigint;
  readonly slot: number;
  readonly secs: number;
}

const isSecs = (m: SgxMachine, i: number) => m.epcm.get(i)?.pt === PageType.SECS;
const attrs = (m: SgxMachine, i: number) => getField(SECS, m.epcPage(i), 0, 'attributes');

function step(m: SgxMachine, o: Op, book: Evicted[]): void {
  switch (o.k) {
    case 'ecreate': {
      const size = 1n << BigInt(o.sizeLog2);
      const base = size * BigInt(o.page + 1) + (o.misalign ? 0x1000n : 0n);
      doEcreate(m, o.page, secsImage({ size, baseAddr: base, ssaFrameSize: o.ssa, attributes: o.attributes }));
      return;
    }
    case 'eadd': {
      const secs = pick(secsPages(m), o.secs);
      const base = isSecs(m, secs) ? getField(SECS, m.epcPage(secs), 0, 'baseAddr') : 0x10_0000n;
      const size = isSecs(m, secs) ? Number(getField(SECS, m.epcPage(secs), 0, 'size')) / PAGE : 2;
      // Offsets -1 and 16 fall outside every enclave here; the rest land inside.
      const off = o.off < 0 || o.off === 16 ? o.off * size : o.off % size;
      const dst = pick(freePages(m), o.page);
      // A TCS source is mostly zero (its reserved area must be); now and then a dirty one tests the #GP.
      const fill = o.flags === 0x100n && o.fill % 8 !== 0 ? 0 : o.fill;
      doEadd(m, dst, secs, base + BigInt(off * PAGE), o.flags, new Uint8Array(PAGE).fill(fill));
      return;
    }
    case 'eextend': {
      const target = pick(childPages(m), o.page);
      const secs = o.secs % 5 === 0 ? o.secs : (m.epcm.get(target)?.enclaveSecs ?? o.secs);
      encls(m, Leaf.EEXTEND, { rbx: epcPa(Math.max(0, secs)), rcx: epcPa(target) + o.chunk * 256 });
      return;
    }
    case 'build': {
      // A whole small enclave in one step (ECREATE, a TCS, REG pages, EEXTEND, EINIT), to reach deep states.
      const free = freePages(m);
      if (free.length < o.regs + 2) return;
      const [secs, tcs, ...regs] = Array.from({ length: o.regs + 2 }, (_, i) => free[(o.at + i) % free.length]!);
      const base = BigInt(secs! + 1) << 16n;
      doEcreate(m, secs!, secsImage({ size: 0x10000n, baseAddr: base, attributes: o.debug ? 0x6n : 0x4n }));
      doEadd(m, tcs!, secs!, base, 0x100n);
      for (const [i, r] of regs.entries())
        doEadd(m, r, secs!, base + BigInt((i + 1) * PAGE), 0x203n, new Uint8Array(PAGE).fill(i));
      encls(m, Leaf.EEXTEND, { rbx: epcPa(secs!), rcx: epcPa(tcs!) });
      step(m, { k: 'einit', secs: secsPages(m).indexOf(secs!) }, []);
      return;
    }
    case 'einit': {
      const secs = pick(secsPages(m), o.secs);
      // Sign for the enclave's current measurement when there is one, so EINIT can succeed.
      const eid = isSecs(m, secs) ? hiddenU64(m.epcPage(secs), 'eid') : undefined;
      const mr = eid === undefined ? undefined : m.measurement(eid)?.finalize();
      const attributes = isSecs(m, secs) ? attrs(m, secs) : 0x4n;
      doEinit(m, secs, mr ? signed(mr, attributes) : new Uint8Array(1808));
      return;
    }
    case 'leaf':
      encls(m, o.leaf, { rcx: o.rcx });
      return;
    case 'epa': {
      const free = freePages(m);
      encls(m, Leaf.EPA, { rbx: o.rbx, rcx: o.rcx % 3 === 0 || !free.length ? o.rcx : epcPa(pick(free, o.rcx)) });
      return;
    }
    case 'ewb':
    case 'evict': {
      const target = o.k === 'evict' ? pick([...childPages(m), ...secsPages(m)], o.page) : o.page;
      const secs = m.epcm.get(target)?.enclaveSecs ?? -1;
      if (o.k === 'evict') {
        encls(m, Leaf.EBLOCK, { rcx: epcPa(target) });
        if (secs >= 0) encls(m, Leaf.ETRACK, { rcx: epcPa(secs) });
      }
      writePageinfo(m, { srcPge: BACKING_PA + o.backing * PAGE, secinfo: PCMD_AREA + o.backing * 128 });
      const slot = epcPa(o.k === 'evict' ? pick(vaPages(m), o.va) : o.va) + 8 * o.slot;
      const r = encls(m, Leaf.EWB, { rbx: PAGEINFO_PA, rcx: epcPa(target), rdx: slot });
      if (r.kind === 'status' && (r.rax === 0 || r.rax === 12))
        book.push({ backing: o.backing, linAddr: m.physMem.readU64(PAGEINFO_PA), slot, secs });
      return;
    }
    case 'eld': {
      const rec = book[o.rec % Math.max(1, book.length)];
      if (!rec) return;
      writePageinfo(m, {
        linAddr: rec.linAddr,
        srcPge: BACKING_PA + rec.backing * PAGE,
        secinfo: PCMD_AREA + rec.backing * 128,
        secs: epcPa(isSecs(m, rec.secs) && o.secs % 3 !== 0 ? rec.secs : pick(secsPages(m), o.secs)),
      });
      const rdx = o.ownSlot ? rec.slot : epcPa(o.va) + 8 * o.slot;
      encls(m, o.blocked ? Leaf.ELDB : Leaf.ELDU, { rbx: PAGEINFO_PA, rcx: epcPa(pick(freePages(m), o.dst)), rdx });
      return;
    }
    case 'edbgwr':
      encls(m, Leaf.EDBGWR, { rbx: o.value, rcx: o.rcx });
      return;
    case 'enter': {
      // EENTER's preconditions (an initialized enclave with a valid, unblocked TCS) stand in for ENCLU here.
      const enterable = secsPages(m).filter(
        (i) =>
          attrs(m, i) & AttrFlags.INIT &&
          m.epcm.validEntries().some(([, e]) => e.pt === PageType.TCS && e.enclaveSecs === i && !e.blocked),
      );
      if (!m.lp(o.cpu) && enterable.length) enclaveEnter(m, epcPa(pick(enterable, o.secs)), o.cpu);
      return;
    }
    case 'exit': {
      const lp = m.lp(o.cpu);
      if (lp) enclaveExit(m, epcPa(lp.secs), o.cpu);
      return;
    }
    case 'raw':
      encls(m, o.leaf, { rbx: o.rbx, rcx: o.rcx, rdx: o.rdx });
      return;
    default: {
      const _exhaustive: never = o;
      throw new Error(`unknown op ${JSON.stringify(_exhaustive)}`);
    }
  }
}

const SIGNED = new Map<string, Uint8Array>();
function signed(mr: Uint8Array, attributes: bigint): Uint8Array {
  const key = `${toHex(mr)}:${attributes}`;
  let s = SIGNED.get(key);
  if (!s) SIGNED.set(key, (s = buildSigstruct({ enclaveHash: mr, attributes })));
  return s;
}

/** The invariants the EPCM and the hidden SECS state must keep. */
function checkInvariants(m: SgxMachine): void {
  const entries = m.epcm.validEntries();
  const children = new Map<number, number>();
  for (const [i, e] of entries) {
    if (e.pt === PageType.SECS || e.pt === PageType.VA) {
      expect(e.enclaveSecs, `page ${i} (${e.pt}) has no parent`).toBe(-1);
      continue;
    }
    // A page is never both free and owned: every child points at a valid SECS.
    expect(isSecs(m, e.enclaveSecs), `page ${i} is owned by SECS ${e.enclaveSecs}, which must be valid`).toBe(true);
    children.set(e.enclaveSecs, (children.get(e.enclaveSecs) ?? 0) + 1);
  }
  const inside = new Map<number, number>();
  for (const [, lp] of m.lpsInside()) inside.set(lp.secs, (inside.get(lp.secs) ?? 0) + 1);
  const versions: bigint[] = [];
  for (const [i, e] of entries) {
    if (e.pt === PageType.SECS) {
      const page = m.epcPage(i);
      expect(hiddenU64(page, 'childCnt'), `CHILDCNT of SECS ${i}`).toBe(BigInt(children.get(i) ?? 0));
      const active = hiddenU32(page, 'activeCurrent') + hiddenU32(page, 'activePrevious');
      expect(active, `processors inside SECS ${i}`).toBe(inside.get(i) ?? 0);
    }
    if (e.pt === PageType.VA) {
      const dv = new DataView(m.epcPage(i).buffer, m.epcPage(i).byteOffset, PAGE);
      for (let s = 0; s < 512; s++) {
        const v = dv.getBigUint64(8 * s, true);
        if (v !== 0n) versions.push(v);
      }
    }
  }
  expect(new Set(versions).size, 'VA slots in use hold unique versions').toBe(versions.length);
  for (const [, lp] of m.lpsInside()) expect(isSecs(m, lp.secs), 'a processor is inside a valid SECS').toBe(true);
}

describe('ENCLS under random sequences', () => {
  it('never throws and keeps the EPCM invariants', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), fc.boolean(), (ops, lauchHash) => {
        const m = makeTestMachine({ epcPages: PAGES });
        if (lauchHash) setLeHash(m, SELFTEST_MRSIGNER);
        const book: Evicted[] = [];
        for (const o of ops) {
          step(m, o, book);
          checkInvariants(m);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('reaches the interesting states: EINIT success, eviction, reload and entry happen in random runs', () => {
    // Guards against a generator that only ever produces faults.
    const seen = { inits: 0, evictions: 0, loads: 0, entries: 0 };
    const initialized = (m: SgxMachine) => secsPages(m).filter((i) => attrs(m, i) & AttrFlags.INIT).length;
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 80, size: 'max' }), (ops) => {
        const m = makeTestMachine({ epcPages: PAGES });
        setLeHash(m, SELFTEST_MRSIGNER);
        const book: Evicted[] = [];
        for (const o of ops) {
          const [valid, init, evicted, inside] = [m.epcm.validCount, initialized(m), book.length, m.lpsInside().length];
          step(m, o, book);
          if (initialized(m) > init) seen.inits++;
          if (book.length > evicted) seen.evictions++;
          if (o.k === 'eld' && m.epcm.validCount > valid) seen.loads++;
          if (m.lpsInside().length > inside) seen.entries++;
        }
      }),
      { numRuns: 60, seed: 42 },
    );
    for (const [what, n] of Object.entries(seen)) expect(n, `random runs should reach ${what}`).toBeGreaterThan(3);
  });
});
