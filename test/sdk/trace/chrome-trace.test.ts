/**
 * Trace export: Chrome trace-event JSON built from a hand-written event sequence (CPU tracks, ecall and enclave
 * spans, syscalls, waits, instants), the summary and ecall spans read back from it, and JSON lines whose hash is
 * the kernel trace's digest on a real run.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nobleBackend } from '../../../src/hw/index';
import { Kernel, type TraceEvent } from '../../../src/kernel/index';
import {
  CPU_TRACK_PID,
  ecallSpans,
  summarizeTrace,
  toChromeTrace,
  traceHash,
  traceJsonLines,
} from '../../../src/sdk/index';

const HZ = 1_000_000; // one cycle = 1 µs, for readable numbers

let seq = 0;
function ev(
  t: number,
  cpu: number,
  pid: number,
  tid: number,
  name: string,
  data?: Record<string, unknown>,
): TraceEvent {
  return { seq: seq++, t, cpu, pid, tid, ev: name, ...(data && { data }) };
}

const EVENTS: TraceEvent[] = [
  ev(0, 0, 2, 2, 'spawn', { comm: 'host' }),
  ev(0, 0, 2, 2, 'switch'),
  ev(1, 0, 2, 2, 'tcs_wait', { ticket: 3 }),
  ev(6, 0, 2, 2, 'ecall', { name: 'sha256', tcs: 1, ticket: 3, waited: true }),
  ev(7, 0, 2, 2, 'vdso_enter', { leaf: 2, tcs: 0x1000 }),
  ev(10, 0, 2, 2, 'aex', { reason: 'timer', tcs: 0x1000 }),
  ev(11, 0, 2, 2, 'preempt'),
  ev(12, 1, 3, 3, 'switch'),
  ev(13, 1, 3, 3, 'syscall', { name: 'write', args: [] }),
  ev(14, 1, 0, 0, 'encls', { leaf: 'EWB' }),
  ev(15, 1, 3, 3, 'sysret', { name: 'write', ret: 4 }),
  ev(16, 1, 3, 3, 'block', { deadline: null }),
  ev(20, 0, 2, 2, 'switch'),
  ev(21, 0, 2, 2, 'eresume', { tcs: 0x1000 }),
  ev(22, 0, 2, 2, 'encls', { leaf: 'ELDU' }),
  ev(25, 0, 2, 2, 'eexit', {}),
  ev(26, 0, 2, 2, 'ecall_ret', { name: 'sha256', tcs: 1, status: 'OK' }),
];

describe('toChromeTrace', () => {
  const chrome = toChromeTrace(EVENTS, { cpuHz: HZ, otherData: { hash: 'h' } });
  const spans = chrome.traceEvents.filter((e) => e.ph === 'X');
  const find = (name: string, tid: number) => spans.filter((s) => s.name === name && s.tid === tid);

  it('names the CPU tracks, processes and threads', () => {
    const meta = chrome.traceEvents
      .filter((e) => e.ph === 'M')
      .map((e) => `${e.name} ${e.pid}/${e.tid} ${e.args?.name ?? ''}`);
    expect(meta).toContain(`process_name ${CPU_TRACK_PID}/0 CPUs`);
    expect(meta).toContain(`thread_name ${CPU_TRACK_PID}/0 CPU 0`);
    expect(meta).toContain(`thread_name ${CPU_TRACK_PID}/1 CPU 1`);
    expect(meta).toContain('process_name 2/0 host 2');
    expect(meta).toContain('thread_name 2/2 thread 2');
    expect(chrome.otherData).toEqual({ hash: 'h', events: EVENTS.length });
  });

  it('puts who ran where on the CPU tracks, ending at preemption, sleep or the next switch', () => {
    const cpu0 = spans.filter((s) => s.pid === CPU_TRACK_PID && s.tid === 0).map((s) => [s.ts, s.dur, s.args?.tid]);
    const cpu1 = spans.filter((s) => s.pid === CPU_TRACK_PID && s.tid === 1).map((s) => [s.ts, s.dur, s.args?.tid]);
    expect(cpu0).toEqual([
      [0, 11, 2],
      [20, 6, 2],
    ]);
    expect(cpu1).toEqual([[12, 4, 3]]);
  });

  it('draws ecalls, time in the enclave, syscalls and TCS waits as spans on the thread', () => {
    expect(find('ecall sha256', 2).map((s) => [s.ts, s.dur, s.args?.status])).toEqual([[6, 20, 'OK']]);
    expect(find('in enclave', 2).map((s) => [s.ts, s.dur, s.args?.entry, s.args?.exit])).toEqual([
      [7, 3, 'EENTER', 'AEX'],
      [21, 4, 'ERESUME (AEP)', 'EEXIT'],
    ]);
    expect(find('write()', 3).map((s) => [s.ts, s.dur])).toEqual([[13, 2]]);
    expect(find('waiting for a TCS', 2).map((s) => [s.ts, s.dur, s.args?.ticket])).toEqual([[1, 5, 3]]);
  });

  it('marks AEXs and ENCLS leaves as instants, kernel-wide ones on the kernel track', () => {
    const inst = chrome.traceEvents.filter((e) => e.ph === 'i').map((e) => `${e.name}@${e.ts} ${e.pid}/${e.tid}`);
    expect(inst).toEqual(['spawn@0 2/2', 'AEX (timer)@10 2/2', 'preempt@11 2/2', 'EWB@14 0/0', 'ELDU@22 2/2']);
  });
});

describe('trace summaries', () => {
  it('counts events, ENCLS leaves and AEXs, and rebuilds the ecalls', () => {
    const s = summarizeTrace(EVENTS);
    expect(s.encls).toEqual({ EWB: 1, ELDU: 1 });
    expect(s.aex).toEqual({ interrupt: 1, exception: 0 });
    expect(ecallSpans(EVENTS)).toEqual([
      {
        pid: 2,
        tid: 2,
        tcs: 1,
        name: 'sha256',
        start: 6,
        end: 26,
        status: 'OK',
        aex: 1,
        exceptions: 0,
        ocalls: 0,
        eldu: 1,
        ewb: 0,
        waited: true,
      },
    ]);
  });

  it('hashes the JSON lines to the kernel trace digest of a real run', async () => {
    const k = new Kernel({ seed: 't', ramBytes: 16 << 20 });
    k.spawn(async (sys) => {
      await sys.fork(async (c) => {
        await c.getpid();
        return 0;
      });
      await sys.sched_yield();
      return 0;
    });
    await k.run({ maxSteps: 10_000 });
    const events = k.trace.events;
    expect(events.length, 'nothing dropped').toBe(k.trace.count);
    expect(traceHash(nobleBackend, events)).toBe(k.trace.digest());
    expect(traceHash(nobleBackend, events, 'json-lines'), 'the json-lines form is SHA-256 of the JSON lines').toBe(
      createHash('sha256').update(traceJsonLines(events)).digest('hex'),
    );
    expect(traceJsonLines(events)).toBe(k.trace.toJsonLines());
  });
});
