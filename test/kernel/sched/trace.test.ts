/**
 * The trace hash: SHA-256 over the canonical binary form of the events (sched/trace-encoding.ts), or over their JSON
 * lines. Checked against node:crypto over bytes built here from the documented format (or the exported text), for
 * JSON round trips (what save()/restore() and exported JSON lines go through), for values an encoding could confuse,
 * and for independence from when the buffered form is handed to the hash.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Trace, type TraceEvent } from '../../../src/kernel/index';
import { nodeBackend } from '../../../src/node/index';

type Ev = Omit<TraceEvent, 'seq'>;

function digestOf(events: readonly Ev[]): string {
  const t = new Trace(nodeBackend);
  for (const e of events) t.emit(e);
  return t.digest();
}

/** The documented form, built independently: 8-byte slots, tags as quiet NaNs with the tag in the high word. */
function expectedBytes(events: readonly Ev[]): Uint8Array {
  const out: number[] = [];
  const slot = (lo: number, hi: number) => {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, lo >>> 0, true);
    dv.setUint32(4, hi >>> 0, true);
    out.push(...b);
  };
  const tag = (t: number, payload = 0) => slot(payload, 0x7ff80000 + t);
  const num = (v: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    out.push(...b);
  };
  const str = (s: string) => {
    tag(5, s.length);
    const units = Math.ceil(s.length / 4) * 4;
    for (let i = 0; i < units; i++) {
      const u = i < s.length ? s.charCodeAt(i) : 0;
      out.push(u & 0xff, u >> 8);
    }
  };
  const value = (v: unknown): void => {
    if (v === null) tag(2);
    else if (v === false) tag(3);
    else if (v === true) tag(4);
    else if (typeof v === 'number') num(v);
    else if (typeof v === 'string') str(v);
    else if (Array.isArray(v)) {
      tag(6, v.length);
      for (const x of v) value(x);
    } else {
      tag(7);
      for (const [k, x] of Object.entries(v as object)) {
        str(k);
        value(x);
      }
      tag(8);
    }
  };
  for (const e of events) {
    tag(1);
    num(e.t);
    num(e.cpu);
    num(e.pid);
    num(e.tid);
    str(e.ev);
    if (e.data === undefined) tag(9);
    else value(e.data);
  }
  return Uint8Array.from(out);
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('the trace hash', () => {
  it('is SHA-256 of the documented canonical form (checked with node:crypto)', () => {
    const events: Ev[] = [
      { t: 0, cpu: -1, pid: 1, tid: 0, ev: 'spawn', data: { comm: 'host' } },
      { t: 1234.5, cpu: 3, pid: 7, tid: 8, ev: 'syscall', data: { name: 'getpid', args: [1, 'x', null, true] } },
      { t: 2 ** 40, cpu: 0, pid: 7, tid: 8, ev: 'sysret' },
      { t: 9, cpu: 0, pid: 7, tid: 8, ev: 'ipi', data: { cpus: [], nested: { a: false, b: 'héllo €' } } },
    ];
    expect(digestOf(events)).toBe(sha(expectedBytes(events)));
    expect(new Trace(nodeBackend).digest(), 'no events: SHA-256 of nothing').toBe(sha(new Uint8Array(0)));
  });

  it('gives an event and its JSON round trip the same hash (restore and exported JSON lines rely on it)', () => {
    const jsonish = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom(null, true, false, undefined, -0, Number.NaN, Number.POSITIVE_INFINITY, () => 1),
        fc.double(),
        fc.integer(),
        fc.string({ unit: 'binary' }),
        fc.date({ noInvalidDate: true }),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    const event = fc.record({
      t: fc.nat(),
      cpu: fc.integer({ min: -1, max: 8 }),
      pid: fc.nat(),
      tid: fc.nat(),
      ev: fc.string(),
      data: fc.option(fc.dictionary(fc.string(), jsonish, { maxKeys: 5 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 6 }), (events) => {
        const live = new Trace(nodeBackend);
        for (const e of events) live.emit(e as Ev);
        const back = Trace.restore(JSON.parse(JSON.stringify(live.save())), nodeBackend);
        expect(back.digest(), 'the JSON round trip hashes as the live events').toBe(live.digest());
      }),
      { numRuns: 100 },
    );
  });

  it('tells apart events an encoding could confuse', () => {
    const base = { t: 1, cpu: 0, pid: 2, tid: 3, ev: 'x' };
    const variants: Ev[][] = [
      [base],
      [{ ...base, data: {} }],
      [{ ...base, data: { a: 1 } }],
      [{ ...base, data: { a: '1' } }],
      [{ ...base, data: { a: true } }],
      [{ ...base, data: { a: null } }],
      [{ ...base, data: { a: [] } }],
      [{ ...base, data: { a: {} } }],
      [{ ...base, data: { a: ['ab'] } }],
      [{ ...base, data: { a: ['a', 'b'] } }],
      [{ ...base, data: { ab: '' } }],
      [{ ...base, data: { a: 'b' } }],
      [{ ...base, data: { a: { b: 1 }, c: 2 } }],
      [{ ...base, data: { a: { b: 1, c: 2 } } }],
      [{ ...base, pid: 3, tid: 2 }],
      [{ ...base, ev: 'xx' }],
      [base, base],
      [{ ...base, ev: 'x\u0000' }],
    ];
    const hashes = variants.map(digestOf);
    expect(new Set(hashes).size, 'every variant hashes differently').toBe(variants.length);
  });

  it('does not depend on when the buffered form goes to the hash (digest() in between, values past a block)', () => {
    const long = 'z'.repeat(70_000);
    const events: Ev[] = Array.from({ length: 12_000 }, (_, i) => ({
      t: i,
      cpu: i % 4,
      pid: 1,
      tid: 1 + (i % 3),
      ev: i % 5000 === 7 ? long : 'step',
      data: i % 2 ? { i, s: 'abc'.repeat(i % 7) } : undefined,
    }));
    const once = new Trace(nodeBackend);
    const often = new Trace(nodeBackend);
    for (const [i, e] of events.entries()) {
      once.emit(e);
      often.emit(e);
      if (i % 997 === 0) often.digest();
    }
    expect(often.digest()).toBe(once.digest());
    expect(once.digest()).toBe(sha(expectedBytes(events)));
  });

  it('in the json-lines form is SHA-256 of the exported JSON lines (what sha256sum of a .jsonl file gives)', () => {
    const t = new Trace(nodeBackend, 1_000_000, 'json-lines');
    for (let i = 0; i < 3000; i++) {
      t.emit({ t: i, cpu: i % 2, pid: 1, tid: 2, ev: 'syscall', data: { name: 'getpid', args: [i, -0, 'é'] } });
      if (i === 1500) t.digest();
    }
    const text = t.toJsonLines();
    expect(text.length, 'more than one 64 KiB block of text').toBeGreaterThan(1 << 16);
    expect(t.digest()).toBe(createHash('sha256').update(text).digest('hex'));
    const back = Trace.restore(JSON.parse(JSON.stringify(t.save())), nodeBackend, 1_000_000, 'json-lines');
    expect(back.digest()).toBe(t.digest());
    expect(back.digest(), 'the two forms differ').not.toBe(Trace.restore(t.save(), nodeBackend).digest());
  });

  it('refuses a BigInt in the data, as JSON.stringify() does', () => {
    for (const form of ['canonical', 'json-lines'] as const) {
      const t = new Trace(nodeBackend, 10, form);
      expect(() => t.emit({ t: 0, cpu: 0, pid: 1, tid: 1, ev: 'x', data: { v: 1n } })).toThrow(/BigInt/);
    }
  });
});
