/**
 * The canonical binary form of trace events that the trace hash covers. It is a sequence of 8-byte slots:
 *
 *   event   EVENT, t, cpu, pid, tid, ev (a string), then data (a value) or ABSENT
 *   value   a finite number as its IEEE-754 double (−0 written as 0); a tag slot for null, false, true;
 *           STRING|length then the UTF-16 code units, four a slot (the last slot zero-padded);
 *           ARRAY|length then the elements; OBJECT, then key (a string) and value per property, then END
 *
 * A tag slot is a quiet NaN whose mantissa carries the tag (high word 0x7FF8_000T) and a length (low word), so it
 * can never be mistaken for a number (non-finite numbers are written as null, as JSON does). Every value's extent
 * follows from its first slot, so the form of a sequence of events is unambiguous. It follows JSON's rules wherever
 * JSON.stringify() would change a value (undefined, functions and symbols dropped from objects and null in arrays,
 * NaN and ±Infinity null, toJSON() applied, a BigInt refused), so an event and its JSON round trip encode alike.
 * Slots are written in the platform's byte order (little-endian on every platform Node and browsers run on).
 */

const TAG_EVENT = 1;
const TAG_NULL = 2;
const TAG_FALSE = 3;
const TAG_TRUE = 4;
const TAG_STRING = 5;
const TAG_ARRAY = 6;
const TAG_OBJECT = 7;
const TAG_END = 8;
const TAG_ABSENT = 9;

/** The high word of a tag slot: a quiet NaN that no finite double has. */
const NAN_HIGH = 0x7ff8_0000;

/** Slots in one block handed to the hash (64 KiB). */
const BLOCK_SLOTS = 8192;

/** Encodes events into slots and hands full blocks to `sink` (the running hash). */
export class TraceEncoder {
  private buf: ArrayBuffer;
  private f64: Float64Array;
  private u32: Uint32Array;
  private u16: Uint16Array;
  private u8: Uint8Array;
  /** Next free slot. */
  private pos = 0;

  constructor(private readonly sink: (block: Uint8Array) => void) {
    this.buf = new ArrayBuffer(BLOCK_SLOTS * 8);
    this.f64 = new Float64Array(this.buf);
    this.u32 = new Uint32Array(this.buf);
    this.u16 = new Uint16Array(this.buf);
    this.u8 = new Uint8Array(this.buf);
  }

  /** Appends one event. */
  event(t: number, cpu: number, pid: number, tid: number, ev: string, data: unknown): void {
    this.room(5);
    this.tag(TAG_EVENT, 0);
    this.value(t);
    this.value(cpu);
    this.value(pid);
    this.value(tid);
    this.string(ev);
    if (data === undefined) {
      this.room(1);
      this.tag(TAG_ABSENT, 0);
    } else this.value(data);
  }

  /** Hands what is buffered to the sink (before a digest). */
  flush(): void {
    if (this.pos === 0) return;
    this.sink(this.u8.subarray(0, this.pos * 8));
    this.pos = 0;
  }

  /** Makes room for `n` slots: flushes, and grows the buffer for a value larger than a block. */
  private room(n: number): void {
    if (this.pos + n <= this.f64.length) return;
    this.flush();
    if (n <= this.f64.length) return;
    this.buf = new ArrayBuffer(Math.ceil(n / BLOCK_SLOTS) * BLOCK_SLOTS * 8);
    this.f64 = new Float64Array(this.buf);
    this.u32 = new Uint32Array(this.buf);
    this.u16 = new Uint16Array(this.buf);
    this.u8 = new Uint8Array(this.buf);
  }

  /** Writes a tag slot (room already made). */
  private tag(tag: number, payload: number): void {
    const i = this.pos++ * 2;
    this.u32[i] = payload;
    this.u32[i + 1] = NAN_HIGH | tag;
  }

  private string(s: string): void {
    const n = s.length;
    const slots = (n + 3) >> 2;
    this.room(1 + slots);
    this.tag(TAG_STRING, n);
    if (slots === 0) return;
    const at = this.pos;
    this.f64[at + slots - 1] = 0;
    const u16 = this.u16;
    const base = at * 4;
    for (let i = 0; i < n; i++) u16[base + i] = s.charCodeAt(i);
    this.pos = at + slots;
  }

  private value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        this.room(1);
        // v - v is 0 only for finite numbers; −0 becomes 0, as JSON writes it.
        if (v - v === 0) this.f64[this.pos++] = v === 0 ? 0 : v;
        else this.tag(TAG_NULL, 0);
        return;
      case 'string':
        this.string(v);
        return;
      case 'boolean':
        this.room(1);
        this.tag(v ? TAG_TRUE : TAG_FALSE, 0);
        return;
      case 'bigint':
        throw new TypeError('trace data must be plain JSON: a BigInt cannot be serialized');
      case 'object':
        if (v === null) {
          this.room(1);
          this.tag(TAG_NULL, 0);
          return;
        }
        this.object(v);
        return;
      default:
        // undefined, a function or a symbol where JSON writes a value (an array element, the top level): null.
        this.room(1);
        this.tag(TAG_NULL, 0);
    }
  }

  private object(v: object): void {
    const toJson = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJson === 'function') {
      this.value(toJson.call(v));
      return;
    }
    if (Array.isArray(v)) {
      const n = v.length;
      this.room(1);
      this.tag(TAG_ARRAY, n);
      for (let i = 0; i < n; i++) this.value(v[i]);
      return;
    }
    this.room(1);
    this.tag(TAG_OBJECT, 0);
    const o = v as Record<string, unknown>;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      const x = o[k];
      const tx = typeof x;
      // JSON.stringify() leaves these properties out.
      if (tx === 'undefined' || tx === 'function' || tx === 'symbol') continue;
      this.string(k);
      this.value(x);
    }
    this.room(1);
    this.tag(TAG_END, 0);
  }
}
