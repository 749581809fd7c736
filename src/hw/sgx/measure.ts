/**
 * MRENCLAVE measurement records (SDM Vol. 3D §41.2: ECREATE, EADD and EEXTEND pseudo-code; §38.7.2 "Enclave
 * Measurement"). Each ENCLS update feeds whole 64-byte blocks into SHA-256, and EINIT finalizes with the
 * standard padding, so MRENCLAVE equals SHA-256 of the concatenated records.
 *
 * The hardware leaves and the offline signer share these builders; tests check them against published
 * vectors and an independent hash of records the test builds itself.
 */
import type { CryptoBackend, Sha256Hash } from '../crypto/backend';
import { EEXTEND_CHUNK } from './arch';
import { setU64 } from './layout/index';

/** "ECREATE\0" | SSAFRAMESIZE (u32 @8) | SIZE (u64 @12) | zeros. */
export function ecreateRecord(ssaFrameSize: number, size: bigint): Uint8Array {
  const r = new Uint8Array(64);
  const dv = new DataView(r.buffer);
  r.set([0x45, 0x43, 0x52, 0x45, 0x41, 0x54, 0x45, 0x00], 0);
  dv.setUint32(8, ssaFrameSize >>> 0, true);
  dv.setBigUint64(12, BigInt.asUintN(64, size), true);
  return r;
}

/** A record tag (8 ASCII bytes, NUL-padded) as the two little-endian u32s the writers store. */
function tag(name: string): readonly [number, number] {
  const b = new Uint8Array(8);
  b.set(new TextEncoder().encode(name));
  const dv = new DataView(b.buffer);
  return [dv.getUint32(0, true), dv.getUint32(4, true)];
}

const EADD_TAG = tag('EADD');
const EEXTEND_TAG = tag('EEXTEND');

/** Zeros bytes [from, to) of a record; both multiples of 8 (a DataView store beats a fill() call at this size). */
function zero(dv: DataView, from: number, to: number): void {
  for (let i = from; i < to; i += 8) dv.setFloat64(i, 0);
}

/** "EADD\0\0\0\0" | ENCLAVEOFFSET (u64 @8) | SECINFO bytes 0..47 (FLAGS then zeros) @16, at `at` of `dv`. */
function writeEaddRecord(
  dv: DataView,
  at: number,
  enclaveOffset: bigint | number,
  secinfoFlags: bigint | number,
): void {
  dv.setUint32(at, EADD_TAG[0], true);
  dv.setUint32(at + 4, EADD_TAG[1], true);
  setU64(dv, at + 8, enclaveOffset);
  setU64(dv, at + 16, secinfoFlags);
  zero(dv, at + 24, at + 64);
}

/** "EEXTEND\0" | ENCLAVEOFFSET (u64 @8) | zeros, at `at` of `dv`; the 256 measured bytes follow as four blocks. */
function writeEextendRecord(dv: DataView, at: number, enclaveOffset: bigint | number): void {
  dv.setUint32(at, EEXTEND_TAG[0], true);
  dv.setUint32(at + 4, EEXTEND_TAG[1], true);
  setU64(dv, at + 8, enclaveOffset);
  zero(dv, at + 16, at + 64);
}

/**
 * A running MRENCLAVE: the SHA-256 state plus the count of 64-byte updates (SECS hidden MEASUREMENT state).
 * Records are staged in a buffer and hashed in large pieces: SHA-256 of the concatenation is the same however it
 * is split, and one native update per 64 KiB costs far less than two per EEXTEND.
 */
export class Measurement {
  private static readonly STAGE = 64 * 1024;
  private updates = 0;
  private stage = new Uint8Array(Measurement.STAGE);
  private stageView = new DataView(this.stage.buffer);
  private staged = 0;

  private constructor(private readonly hash: Sha256Hash) {}

  static start(crypto: CryptoBackend): Measurement {
    return new Measurement(crypto.createSha256());
  }

  /** Number of 64-byte blocks fed so far. */
  get blocks(): number {
    return this.updates;
  }

  private room(n: number): number {
    if (this.staged + n > this.stage.length) this.flush();
    const at = this.staged;
    this.staged += n;
    return at;
  }

  private flush(): void {
    if (this.staged) this.hash.update(this.stage.subarray(0, this.staged));
    this.staged = 0;
  }

  ecreate(ssaFrameSize: number, size: bigint): void {
    this.stage.set(ecreateRecord(ssaFrameSize, size), this.room(64));
    this.updates += 1;
  }

  /** Measures an EADD: the record built in place. Offsets and flags are u64s, as BigInts or safe integers. */
  eadd(enclaveOffset: bigint | number, secinfoFlags: bigint | number): void {
    writeEaddRecord(this.stageView, this.room(64), enclaveOffset, secinfoFlags);
    this.updates += 1;
  }

  /** Measures one 256-byte chunk: the EEXTEND record built in place, then the data. */
  eextend(enclaveOffset: bigint | number, chunk: Uint8Array): void {
    if (chunk.length !== EEXTEND_CHUNK) throw new Error(`EEXTEND measures ${EEXTEND_CHUNK} bytes, got ${chunk.length}`);
    const at = this.room(64 + EEXTEND_CHUNK);
    writeEextendRecord(this.stageView, at, enclaveOffset);
    this.stage.set(chunk, at + 64);
    this.updates += 5;
  }

  /** SHA256FINAL without disturbing the running state (EINIT may fail and the enclave stays uninitialized). */
  finalize(): Uint8Array {
    this.flush();
    return this.hash.clone().digest();
  }

  clone(): Measurement {
    this.flush();
    const m = new Measurement(this.hash.clone());
    m.updates = this.updates;
    return m;
  }
}
