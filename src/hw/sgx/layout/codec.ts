/**
 * One generic codec for every struct layout. A layout is data: a table of fields (name, offset, size, type).
 * The same table drives decoding, encoding, single-field access, validation of reserved bytes, and the docs.
 */

export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | 'bytes' | 'reserved';

export interface Field {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly type: FieldType;
  readonly doc?: string;
}

export interface Layout<F extends readonly Field[] = readonly Field[]> {
  readonly name: string;
  readonly size: number;
  /** Required alignment of the struct in memory, in bytes. */
  readonly align: number;
  readonly fields: F;
}

type ValueOf<T extends FieldType> = T extends 'u64' ? bigint : T extends 'bytes' | 'reserved' ? Uint8Array : number;

/** The decoded form of a layout: one property per named field (reserved fields included, as bytes). */
export type Decoded<L extends Layout> = {
  [K in L['fields'][number] as K['name']]: ValueOf<K['type']>;
};

/** Names of the non-reserved fields of a layout. */
export type FieldName<L extends Layout> = L['fields'][number]['name'];

const WIDTH: Record<FieldType, number | undefined> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  bytes: undefined,
  reserved: undefined,
};

/** Declares a layout and checks it: fields sorted, non-overlapping, inside the struct, integer widths right. */
export function defineLayout<const F extends readonly Field[]>(
  name: string,
  size: number,
  align: number,
  fields: F,
): Layout<F> {
  let end = 0;
  const seen = new Set<string>();
  for (const f of fields) {
    if (f.offset < end) throw new Error(`layout ${name}: field ${f.name} at ${f.offset} overlaps the previous field`);
    if (f.offset + f.size > size) throw new Error(`layout ${name}: field ${f.name} runs past the end`);
    const w = WIDTH[f.type];
    if (w !== undefined && w !== f.size)
      throw new Error(`layout ${name}: field ${f.name} is ${f.type} but ${f.size} bytes`);
    if (seen.has(f.name)) throw new Error(`layout ${name}: duplicate field ${f.name}`);
    seen.add(f.name);
    end = f.offset + f.size;
  }
  return Object.freeze({ name, size, align, fields });
}

/** Each layout's fields by name, built on first use (ENCLU leaves read a dozen fields per entry). */
const byName = new WeakMap<Layout, Map<string, Field>>();
// Reads come in runs on one struct (a TCS, then the SECS): a one-entry cache in front of the WeakMap.
let lastLayout: Layout | undefined;
let lastFields: Map<string, Field> | undefined;

function fieldOf(layout: Layout, name: string): Field {
  let m = layout === lastLayout ? lastFields : byName.get(layout);
  if (!m) {
    m = new Map(layout.fields.map((x) => [x.name, x]));
    byName.set(layout, m);
  }
  lastLayout = layout;
  lastFields = m;
  const f = m.get(name);
  if (!f) throw new Error(`layout ${layout.name} has no field ${name}`);
  return f;
}

// Hot ENCLS paths read fields of the same pages over and over: a page's DataView is cached (WeakMap keyed by the
// live page buffer, with a one-entry cache in front).
const views = new WeakMap<Uint8Array, DataView>();
let lastBuf: Uint8Array | undefined;
let lastView: DataView | undefined;
const CACHED_MIN = 4096;

/**
 * The DataView the field accessors read a page-sized `buf` through (cached). For hot paths that read a few fields
 * at offsets taken once from `offsetOf` (a field lookup by name costs more than the read). A smaller buffer gets
 * a fresh DataView, which costs an ArrayBuffer when V8 holds the bytes on its heap: the accessors below avoid it.
 */
export function dataView(buf: Uint8Array): DataView {
  if (buf === lastBuf) return lastView!;
  if (buf.byteLength < CACHED_MIN) return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let v = views.get(buf);
  if (!v) {
    v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    views.set(buf, v);
  }
  lastBuf = buf;
  lastView = v;
  return v;
}

/**
 * Stores a u64 mod 2^64 at byte `at` of `dv`. A non-negative safe integer, what hot paths hold, goes in as two u32
 * halves: a BigInt per store would cost more than the rest of a measurement record.
 */
export function setU64(dv: DataView, at: number, v: bigint | number): void {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
    dv.setUint32(at, v >>> 0, true);
    dv.setUint32(at + 4, (v - (v >>> 0)) / 2 ** 32, true);
  } else {
    dv.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
  }
}

// Small buffers (an operand copy, a struct being encoded) are read and written through an 8-byte scratch instead:
// V8 keeps a small typed array's bytes on its heap, and `buf.buffer`, which a DataView needs, then allocates a
// backing store for it, about 300 ns, more than a whole PAGEINFO encode otherwise costs.
const scratch = new ArrayBuffer(8);
const scratchView = new DataView(scratch);
const scratchBytes = new Uint8Array(scratch);

/** The cached DataView of a page-sized buffer; undefined for a small one, which goes through the scratch. */
function viewOf(buf: Uint8Array): DataView | undefined {
  return buf.byteLength < CACHED_MIN ? undefined : dataView(buf);
}

function outOfRange(buf: Uint8Array, o: number, f: Field): RangeError {
  return new RangeError(`field ${f.name}: bytes ${o}..${o + f.size} are outside a ${buf.length}-byte buffer`);
}

function readAt(dv: DataView | undefined, buf: Uint8Array, base: number, f: Field): number | bigint | Uint8Array {
  const o = base + f.offset;
  if (f.type === 'bytes' || f.type === 'reserved') return buf.slice(o, o + f.size);
  let at = o;
  if (dv === undefined) {
    if (o < 0 || o + f.size > buf.length) throw outOfRange(buf, o, f);
    for (let i = 0; i < f.size; i++) scratchBytes[i] = buf[o + i]!;
    dv = scratchView;
    at = 0;
  }
  switch (f.type) {
    case 'u8':
      return dv.getUint8(at);
    case 'u16':
      return dv.getUint16(at, true);
    case 'u32':
      return dv.getUint32(at, true);
    case 'u64':
      return dv.getBigUint64(at, true);
    default: {
      const _exhaustive: never = f.type;
      return _exhaustive;
    }
  }
}

function writeAt(dv: DataView | undefined, buf: Uint8Array, base: number, f: Field, value: unknown): void {
  const o = base + f.offset;
  if (f.type === 'bytes' || f.type === 'reserved') {
    const src = value as Uint8Array;
    if (src.length > f.size) throw new Error(`field ${f.name}: ${src.length} bytes do not fit in ${f.size}`);
    buf.fill(0, o, o + f.size);
    buf.set(src, o);
    return;
  }
  const small = dv === undefined;
  if (small && (o < 0 || o + f.size > buf.length)) throw outOfRange(buf, o, f);
  const d = dv ?? scratchView;
  const at = small ? 0 : o;
  switch (f.type) {
    case 'u8':
      d.setUint8(at, Number(value));
      break;
    case 'u16':
      d.setUint16(at, Number(value), true);
      break;
    case 'u32':
      d.setUint32(at, Number(value) >>> 0, true);
      break;
    case 'u64':
      d.setBigUint64(at, BigInt.asUintN(64, BigInt(value as bigint | number)), true);
      break;
    default: {
      const _exhaustive: never = f.type;
      throw new Error(`unknown field type ${String(_exhaustive)}`);
    }
  }
  if (small) for (let i = 0; i < f.size; i++) buf[o + i] = scratchBytes[i]!;
}

/** Decodes a whole struct from `buf` at `offset`. */
export function decode<L extends Layout>(layout: L, buf: Uint8Array, offset = 0): Decoded<L> {
  if (offset + layout.size > buf.length) throw new Error(`${layout.name}: need ${layout.size} bytes at ${offset}`);
  const dv = viewOf(buf);
  const out: Record<string, unknown> = {};
  for (const f of layout.fields) out[f.name] = readAt(dv, buf, offset, f);
  return out as Decoded<L>;
}

/** Encodes a struct. Missing fields are zero. Returns a fresh buffer of `layout.size` bytes. */
export function encode<L extends Layout>(layout: L, value: Partial<Decoded<L>>): Uint8Array {
  const buf = new Uint8Array(layout.size);
  encodeInto(layout, value, buf, 0);
  return buf;
}

/** Encodes the given fields into `buf` at `offset`, leaving other bytes alone. */
export function encodeInto<L extends Layout>(layout: L, value: Partial<Decoded<L>>, buf: Uint8Array, offset = 0): void {
  const dv = viewOf(buf);
  // Walk the layout rather than the value's keys: no entries array per call on the hot paths (EWB's PCMD, the
  // driver's PAGEINFO). Keys that are not fields are compile-time errors through Partial<Decoded<L>>.
  const v = value as Record<string, unknown>;
  for (const f of layout.fields) {
    const x = v[f.name];
    if (x !== undefined) writeAt(dv, buf, offset, f, x);
  }
}

/** Reads one field. */
export function getField<L extends Layout, N extends FieldName<L>>(
  layout: L,
  buf: Uint8Array,
  offset: number,
  name: N,
): Decoded<L>[N] {
  return readAt(viewOf(buf), buf, offset, fieldOf(layout, name)) as Decoded<L>[N];
}

/** Writes one field. */
export function setField<L extends Layout, N extends FieldName<L>>(
  layout: L,
  buf: Uint8Array,
  offset: number,
  name: N,
  value: Decoded<L>[N],
): void {
  writeAt(viewOf(buf), buf, offset, fieldOf(layout, name), value);
}

/** Offset of a field, for code that addresses memory directly. */
export function offsetOf<L extends Layout>(layout: L, name: FieldName<L>): number {
  return fieldOf(layout, name).offset;
}

/** True when every byte of every `reserved` field is zero. */
export function reservedAreZero(layout: Layout, buf: Uint8Array, offset = 0): boolean {
  for (const f of layout.fields) {
    if (f.type !== 'reserved') continue;
    for (let i = offset + f.offset; i < offset + f.offset + f.size; i++) if (buf[i] !== 0) return false;
  }
  return true;
}

/** A Markdown table of the layout, for docs and `sgxsim` help output. */
export function layoutTable(layout: Layout): string {
  const rows = layout.fields.map((f) => `| ${f.offset} | ${f.size} | ${f.name} | ${f.type} | ${f.doc ?? ''} |`);
  return [
    `### ${layout.name} (${layout.size} bytes, ${layout.align}-byte aligned)`,
    '| offset | size | field | type | notes |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
