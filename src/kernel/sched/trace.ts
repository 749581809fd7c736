/**
 * The event trace: every scheduling decision, syscall, fault, signal and exit, in virtual-time order. Upper layers
 * add their own events (ENCLS, AEX, ...) through `emit` or `record`.
 *
 * The hash covers every event, kept or not, so two runs are identical exactly when their hashes are. It is SHA-256
 * over one of two forms of the events (`TraceHashForm`):
 * - 'canonical' (the default): a binary form (trace-encoding.ts). Recording an event costs a few typed-array writes
 *   instead of JSON.stringify, TextEncoder and a hash call, and the form goes to the hash in 64 KiB blocks;
 * - 'json-lines': the events as the JSON lines `toJsonLines()` gives, one `JSON.stringify(event)` and a newline
 *   each, so that `sha256sum` of an exported trace file equals the digest (what `sgxsim run` prints).
 * Either way an event and its JSON round trip (save()/restore(), a JSON lines file read back) hash alike.
 */
import { type CryptoBackend, nobleBackend, type Sha256Hash, toHex } from '../../hw/index';
import { TraceEncoder } from './trace-encoding';

/** One trace record. `data` holds only plain JSON values. */
export interface TraceEvent {
  readonly seq: number;
  /** Virtual time in cycles on the CPU where it happened. */
  readonly t: number;
  readonly cpu: number;
  readonly pid: number;
  readonly tid: number;
  readonly ev: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** What Trace.digest() hashes: the canonical binary form (cheap), or the exported JSON lines (checkable). */
export type TraceHashForm = 'canonical' | 'json-lines';

const utf8 = new TextEncoder();
/** JSON text buffered before it goes to the hash (json-lines form). */
const TEXT_BLOCK = 1 << 16;

export class Trace {
  private readonly hash: Sha256Hash;
  private readonly enc: TraceEncoder | undefined;
  /** JSON lines not yet hashed (json-lines form). */
  private text = '';
  /** The kept events as a ring: once `limit` is reached, `start` is the oldest (a shift() would be O(limit)). */
  private readonly buf: TraceEvent[] = [];
  private start = 0;
  private seq = 0;

  constructor(
    crypto: CryptoBackend = nobleBackend,
    /** Events kept in memory (the hash covers all of them). */
    readonly limit = 100_000,
    readonly hashForm: TraceHashForm = 'canonical',
  ) {
    const hash = crypto.createSha256();
    this.hash = hash;
    this.enc = hashForm === 'canonical' ? new TraceEncoder((block) => hash.update(block)) : undefined;
  }

  /** Records an event. */
  emit(e: Omit<TraceEvent, 'seq'>): void {
    this.record(e.t, e.cpu, e.pid, e.tid, e.ev, e.data);
  }

  /** Records an event given field by field (no intermediate object). */
  record(t: number, cpu: number, pid: number, tid: number, ev: string, data?: Readonly<Record<string, unknown>>): void {
    if (this.enc) this.enc.event(t, cpu, pid, tid, ev, data);
    const e: TraceEvent =
      data === undefined ? { seq: this.seq++, t, cpu, pid, tid, ev } : { seq: this.seq++, t, cpu, pid, tid, ev, data };
    if (!this.enc) {
      this.text += `${JSON.stringify(e)}\n`;
      if (this.text.length >= TEXT_BLOCK) this.flushText();
    }
    if (this.buf.length < this.limit) this.buf.push(e);
    else {
      this.buf[this.start] = e;
      this.start = (this.start + 1) % this.limit;
    }
  }

  get count(): number {
    return this.seq;
  }

  /** The kept events (the most recent `limit`). */
  get events(): readonly TraceEvent[] {
    return this.start === 0 ? this.buf : [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
  }

  private flushText(): void {
    this.hash.update(utf8.encode(this.text));
    this.text = '';
  }

  /** Hex SHA-256 of every event so far, in the trace's hash form. */
  digest(): string {
    if (this.enc) this.enc.flush();
    else if (this.text) this.flushText();
    return toHex(this.hash.clone().digest());
  }

  /** Plain-data state: the kept events and the total count (complete when nothing was dropped). */
  save(): { readonly count: number; readonly events: readonly TraceEvent[] } {
    return { count: this.seq, events: [...this.events] };
  }

  /**
   * Rebuilds a trace (and its running hash) from saved events. Only a complete trace can be restored: the
   * hash covers every event, so a truncated buffer cannot reproduce it.
   */
  static restore(
    state: { readonly count: number; readonly events: readonly TraceEvent[] },
    crypto: CryptoBackend = nobleBackend,
    limit = 100_000,
    hashForm: TraceHashForm = 'canonical',
  ): Trace {
    if (state.count !== state.events.length)
      throw new Error('cannot restore a truncated trace: its hash covers dropped events');
    const t = new Trace(crypto, limit, hashForm);
    for (const e of state.events) t.record(e.t, e.cpu, e.pid, e.tid, e.ev, e.data);
    return t;
  }

  /** The kept events as JSON lines. */
  toJsonLines(): string {
    return this.events.map((e) => `${JSON.stringify(e)}\n`).join('');
  }
}
