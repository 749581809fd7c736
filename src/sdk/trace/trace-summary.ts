/**
 * Reading a run's trace (src/kernel/sched/trace.ts) back: counts by event and ENCLS leaf, AEXs by cause, the
 * SDK's ecalls as spans with what happened during each (AEXs, exceptions, ocalls, EPC pages reloaded for it),
 * and the stable hash of the exported JSON lines.
 */
import type { CryptoBackend } from '../../hw/index';
import { Trace, type TraceEvent, type TraceHashForm } from '../../kernel/index';

/** Totals over a trace. */
export interface TraceSummary {
  readonly events: number;
  readonly byEvent: Readonly<Record<string, number>>;
  /** ENCLS leaves the driver ran (EADD, EWB, ELDU …), by name. */
  readonly encls: Readonly<Record<string, number>>;
  /** AEXs: interrupts (timer, IPI) and exceptions in enclave mode. */
  readonly aex: { readonly interrupt: number; readonly exception: number };
}

/** One ecall as the trace shows it. */
export interface EcallSpan {
  readonly pid: number;
  readonly tid: number;
  readonly tcs: number;
  readonly name: string;
  /** Virtual time (cycles) of the ecall's start and end. */
  readonly start: number;
  readonly end: number;
  readonly status: string;
  readonly aex: number;
  readonly exceptions: number;
  readonly ocalls: number;
  /** ELDUs on this thread during the ecall: enclave pages it faulted back in. */
  readonly eldu: number;
  /** EWBs this thread ran during the ecall (direct reclaim). */
  readonly ewb: number;
  /** Whether the thread slept for the TCS first. */
  readonly waited: boolean;
}

export function summarizeTrace(events: readonly TraceEvent[]): TraceSummary {
  const byEvent: Record<string, number> = {};
  const encls: Record<string, number> = {};
  let interrupt = 0;
  let exception = 0;
  for (const e of events) {
    byEvent[e.ev] = (byEvent[e.ev] ?? 0) + 1;
    const d = e.data as Record<string, unknown> | undefined;
    if (e.ev === 'encls') encls[String(d?.leaf)] = (encls[String(d?.leaf)] ?? 0) + 1;
    if (e.ev === 'aex') {
      if (d?.reason) interrupt++;
      else exception++;
    }
  }
  return { events: events.length, byEvent, encls, aex: { interrupt, exception } };
}

interface Building {
  pid: number;
  tid: number;
  tcs: number;
  name: string;
  start: number;
  aex: number;
  exceptions: number;
  ocalls: number;
  eldu: number;
  ewb: number;
  waited: boolean;
}

/** The SDK's ecalls in the order they started, from its `ecall` … `ecall_ret` trace points (src/sdk/enclave). */
export function ecallSpans(events: readonly TraceEvent[]): EcallSpan[] {
  const open = new Map<number, Building>();
  const done: Array<EcallSpan & { readonly order: number }> = [];
  let order = 0;
  const starts = new Map<number, number>();
  for (const e of events) {
    const d = (e.data ?? {}) as Record<string, unknown>;
    const b = open.get(e.tid);
    switch (e.ev) {
      case 'ecall':
        starts.set(e.tid, order++);
        open.set(e.tid, {
          pid: e.pid,
          tid: e.tid,
          tcs: Number(d.tcs),
          name: String(d.name),
          start: e.t,
          aex: 0,
          exceptions: 0,
          ocalls: 0,
          eldu: 0,
          ewb: 0,
          waited: d.waited === true,
        });
        break;
      case 'aex':
        if (b) b.aex++;
        break;
      case 'ecall_exception':
        if (b) b.exceptions++;
        break;
      case 'ocall':
        if (b) b.ocalls++;
        break;
      case 'encls':
        if (b && d.leaf === 'ELDU') b.eldu++;
        if (b && d.leaf === 'EWB') b.ewb++;
        break;
      case 'ecall_ret':
        if (b) {
          done.push({ ...b, end: e.t, status: String(d.status), order: starts.get(e.tid)! });
          open.delete(e.tid);
        }
        break;
    }
  }
  return done.sort((a, b) => a.order - b.order).map(({ order: _o, ...s }) => s);
}

/** The events as JSON lines, one per event (the form the CLI exports). */
export function traceJsonLines(events: readonly TraceEvent[]): string {
  return events.map((e) => `${JSON.stringify(e)}\n`).join('');
}

/**
 * The kernel's trace hash of `events` in `form` (kernel sched/trace.ts; 'json-lines' is SHA-256 of
 * traceJsonLines(events)), hex: equals Trace.digest() of a run with that form when no event was dropped. Events
 * read back from JSON lines hash the same.
 */
export function traceHash(
  crypto: CryptoBackend,
  events: readonly TraceEvent[],
  form: TraceHashForm = 'canonical',
): string {
  return Trace.restore({ count: events.length, events }, crypto, events.length + 1, form).digest();
}
