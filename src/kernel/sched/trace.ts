/**
 * The event trace: every scheduling decision, syscall, fault, signal and exit, in virtual-time order. Each
 * event is hashed as one JSON line (SHA-256, incrementally), so two runs are identical exactly when their
 * hashes are. Upper layers add their own events (ENCLS, AEX, ...) through `emit`.
 */
import { type CryptoBackend, nobleBackend, type Sha256Hash, toHex } from '../../hw/index';

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

const enc = new TextEncoder();

export class Trace {
  private readonly hash: Sha256Hash;
  /** The kept events as a ring: once `limit` is reached, `start` is the oldest (a shift() would be O(limit)). */
  private readonly buf: TraceEvent[] = [];
  private start = 0;
  private seq = 0;

  constructor(
    crypto: CryptoBackend = nobleBackend,
    /** Events kept in memory (the hash covers all of them). */
    readonly limit = 100_000,
  ) {
    this.hash = crypto.createSha256();
  }

  /** Records an event. */
  emit(e: Omit<TraceEvent, 'seq'>): void {
    const ev: TraceEvent = { seq: this.seq++, ...e };
    this.hash.update(enc.encode(`${JSON.stringify(ev)}\n`));
    if (this.buf.length < this.limit) this.buf.push(ev);
    else {
      this.buf[this.start] = ev;
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

  /** Hex SHA-256 of every event so far, one JSON line each. */
  digest(): string {
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
  ): Trace {
    if (state.count !== state.events.length)
      throw new Error('cannot restore a truncated trace: its hash covers dropped events');
    const t = new Trace(crypto, limit);
    for (const e of state.events) {
      const { seq: _seq, ...rest } = e;
      t.emit(rest);
    }
    return t;
  }

  /** The kept events as JSON lines. */
  toJsonLines(): string {
    return this.events.map((e) => `${JSON.stringify(e)}\n`).join('');
  }
}
