/**
 * A run's event trace (src/kernel/sched/trace.ts: scheduling, syscalls, faults, signals; the driver's ENCLS and
 * page moves; the vDSO's enclave entries, exits and AEXs; the SDK's ecalls, ocalls and TCS pool) as Chrome
 * trace-event JSON (the "Trace Event Format" that chrome://tracing and Perfetto open):
 *
 * - one track per CPU ("CPUs" process): which thread ran there, from its switch-in until it is preempted, blocks
 *   or exits (or the next switch-in);
 * - one track per thread, grouped by process: ecalls, time inside the enclave (EENTER or ERESUME to EEXIT, AEX or
 *   a reported exception), syscalls and waits for a TCS as spans; AEXs, ENCLS leaves, faults and signals as
 *   instants.
 *
 * Timestamps are the virtual clock converted with the cost model's clock rate, in microseconds.
 */
import type { TraceEvent } from '../../kernel/index';

/** One record of the Trace Event Format. */
export interface ChromeTraceEvent {
  readonly name: string;
  readonly ph: 'X' | 'i' | 'M';
  readonly pid: number;
  readonly tid: number;
  readonly ts?: number;
  readonly dur?: number;
  readonly cat?: string;
  readonly s?: 't' | 'p' | 'g';
  readonly args?: Readonly<Record<string, unknown>>;
}

export interface ChromeTrace {
  readonly traceEvents: ChromeTraceEvent[];
  readonly displayTimeUnit: 'ns';
  readonly otherData: Readonly<Record<string, unknown>>;
}

export interface ChromeTraceOptions {
  /** Cycles per second of the virtual clock (the kernel cost model's cpuHz). */
  readonly cpuHz: number;
  /** Recorded in otherData (e.g. the trace hash, the seed). */
  readonly otherData?: Readonly<Record<string, unknown>>;
}

/** The pid of the synthetic process holding the CPU tracks (above any pid the kernel hands out). */
export const CPU_TRACK_PID = 1_000_000;

/** Events shown as instants on the thread's track, with the category they belong to. */
const INSTANTS: Readonly<Record<string, string>> = {
  aex: 'enclave',
  vdso_exception: 'enclave',
  ocall: 'sdk',
  encls: 'sgx',
  sgx_vma_fault: 'sgx',
  sgx_ewb_ipi: 'sgx',
  sgx_reclaim_isolate: 'sgx',
  fault: 'kernel',
  guest_fault: 'kernel',
  signal_generate: 'kernel',
  signal_deliver: 'kernel',
  signal_fatal: 'kernel',
  ipi: 'kernel',
  preempt: 'sched',
  spawn: 'sched',
  fork: 'sched',
  clone_thread: 'sched',
  exit: 'sched',
};

interface Open {
  readonly name: string;
  readonly cat: string;
  readonly t: number;
  readonly args?: Record<string, unknown>;
}

/** Converts trace events (in order) to a Chrome trace. */
export function toChromeTrace(events: readonly TraceEvent[], o: ChromeTraceOptions): ChromeTrace {
  const us = (t: number) => (t * 1e6) / o.cpuHz;
  const out: ChromeTraceEvent[] = [];
  const threads = new Map<number, { pid: number; tid: number }>();
  const comms = new Map<number, string>();
  const cpus = new Set<number>();
  // Open spans per thread (a stack per kind) and per CPU.
  const openSyscall = new Map<number, Open>();
  const openEnclave = new Map<number, Open>();
  const openEcall = new Map<number, Open>();
  const openWait = new Map<number, Open>();
  const onCpu = new Map<number, { tid: number; pid: number; start: number; last: number }>();

  const span = (pid: number, tid: number, s: Open, end: number, extra?: Record<string, unknown>) => {
    out.push({
      name: s.name,
      cat: s.cat,
      ph: 'X',
      pid,
      tid,
      ts: us(s.t),
      dur: Math.max(0, us(end) - us(s.t)),
      ...((s.args || extra) && { args: { ...s.args, ...extra } }),
    });
  };
  const closeCpu = (cpu: number) => {
    const c = onCpu.get(cpu);
    if (!c) return;
    onCpu.delete(cpu);
    out.push({
      name: `${comms.get(c.pid) ?? 'pid'} ${c.pid}/${c.tid}`,
      cat: 'sched',
      ph: 'X',
      pid: CPU_TRACK_PID,
      tid: cpu,
      ts: us(c.start),
      dur: Math.max(0, us(c.last) - us(c.start)),
      args: { pid: c.pid, tid: c.tid },
    });
  };

  for (const e of events) {
    const d = (e.data ?? {}) as Record<string, unknown>;
    if (e.tid > 0) threads.set(e.tid, { pid: e.pid, tid: e.tid });
    if (e.ev === 'spawn' && typeof d.comm === 'string') comms.set(e.pid, d.comm);
    if (e.cpu >= 0) {
      cpus.add(e.cpu);
      const c = onCpu.get(e.cpu);
      if (e.ev === 'switch') {
        closeCpu(e.cpu);
        onCpu.set(e.cpu, { tid: e.tid, pid: e.pid, start: e.t, last: e.t });
      } else if (c && c.tid === e.tid) {
        c.last = Math.max(c.last, e.t);
        // It leaves the CPU: preempted, asleep, or gone.
        if (e.ev === 'preempt' || e.ev === 'block' || e.ev === 'thread_exit') closeCpu(e.cpu);
      }
    }
    const tid = e.tid;
    switch (e.ev) {
      case 'syscall':
        openSyscall.set(tid, { name: `${String(d.name)}()`, cat: 'syscall', t: e.t });
        break;
      case 'sysret': {
        const s = openSyscall.get(tid);
        if (s) span(e.pid, tid, s, e.t, { ret: d.ret });
        openSyscall.delete(tid);
        break;
      }
      case 'vdso_enter':
      case 'eresume':
        openEnclave.set(tid, {
          name: 'in enclave',
          cat: 'enclave',
          t: e.t,
          args: { entry: e.ev === 'eresume' ? 'ERESUME (AEP)' : d.leaf === 3 ? 'ERESUME' : 'EENTER', tcs: d.tcs },
        });
        break;
      case 'eexit':
      case 'aex':
      case 'vdso_exception': {
        const s = openEnclave.get(tid);
        if (s) span(e.pid, tid, s, e.t, { exit: e.ev === 'eexit' ? 'EEXIT' : e.ev === 'aex' ? 'AEX' : 'exception' });
        openEnclave.delete(tid);
        break;
      }
      case 'tcs_wait':
        openWait.set(tid, { name: 'waiting for a TCS', cat: 'sdk', t: e.t, args: { ticket: d.ticket } });
        break;
      case 'ecall': {
        const w = openWait.get(tid);
        if (w) span(e.pid, tid, w, e.t);
        openWait.delete(tid);
        openEcall.set(tid, { name: `ecall ${String(d.name)}`, cat: 'sdk', t: e.t, args: { tcs: d.tcs } });
        break;
      }
      case 'ecall_ret': {
        const s = openEcall.get(tid);
        if (s) span(e.pid, tid, s, e.t, { status: d.status });
        openEcall.delete(tid);
        break;
      }
    }
    const cat = INSTANTS[e.ev];
    if (cat) {
      const name =
        e.ev === 'encls'
          ? String(d.leaf)
          : e.ev === 'aex'
            ? d.reason
              ? `AEX (${d.reason})`
              : 'AEX (exception)'
            : e.ev;
      // Kernel-wide events (no thread) go on pid 0's track.
      out.push({ name, cat, ph: 'i', s: 't', pid: e.tid > 0 ? e.pid : 0, tid: e.tid, ts: us(e.t), args: d });
    }
  }
  for (const cpu of [...onCpu.keys()]) closeCpu(cpu);
  const last = events.length ? events[events.length - 1]!.t : 0;
  for (const [tid, s] of openEnclave) span(threads.get(tid)?.pid ?? 0, tid, s, last, { exit: 'end of trace' });
  for (const [tid, s] of openEcall) span(threads.get(tid)?.pid ?? 0, tid, s, last, { status: 'end of trace' });

  const meta: ChromeTraceEvent[] = [
    { name: 'process_name', ph: 'M', pid: CPU_TRACK_PID, tid: 0, args: { name: 'CPUs' } },
    { name: 'process_sort_index', ph: 'M', pid: CPU_TRACK_PID, tid: 0, args: { sort_index: -1 } },
    ...[...cpus]
      .sort((a, b) => a - b)
      .map(
        (c): ChromeTraceEvent => ({
          name: 'thread_name',
          ph: 'M',
          pid: CPU_TRACK_PID,
          tid: c,
          args: { name: `CPU ${c}` },
        }),
      ),
    { name: 'process_name', ph: 'M', pid: 0, tid: 0, args: { name: 'kernel' } },
  ];
  const pids = new Set<number>();
  for (const { pid, tid } of [...threads.values()].sort((a, b) => a.tid - b.tid)) {
    if (!pids.has(pid)) {
      pids.add(pid);
      meta.push({
        name: 'process_name',
        ph: 'M',
        pid,
        tid: 0,
        args: { name: `${comms.get(pid) ?? 'process'} ${pid}` },
      });
    }
    meta.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: `thread ${tid}` } });
  }
  return {
    traceEvents: [...meta, ...out],
    displayTimeUnit: 'ns',
    otherData: { ...o.otherData, events: events.length },
  };
}
