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

/** "ECREATE\0" | SSAFRAMESIZE (u32 @8) | SIZE (u64 @12) | zeros. */
export function ecreateRecord(ssaFrameSize: number, size: bigint): Uint8Array {
  const r = new Uint8Array(64);
  const dv = new DataView(r.buffer);
  r.set([0x45, 0x43, 0x52, 0x45, 0x41, 0x54, 0x45, 0x00], 0);
  dv.setUint32(8, ssaFrameSize >>> 0, true);
  dv.setBigUint64(12, BigInt.asUintN(64, size), true);
  return r;
}

/** "EADD\0\0\0\0" | ENCLAVEOFFSET (u64 @8) | SECINFO bytes 0..47 (FLAGS then zeros) @16. */
export function eaddRecord(enclaveOffset: bigint, secinfoFlags: bigint): Uint8Array {
  const r = new Uint8Array(64);
  const dv = new DataView(r.buffer);
  r.set([0x45, 0x41, 0x44, 0x44, 0, 0, 0, 0], 0);
  dv.setBigUint64(8, BigInt.asUintN(64, enclaveOffset), true);
  dv.setBigUint64(16, BigInt.asUintN(64, secinfoFlags), true);
  return r;
}

/** "EEXTEND\0" | ENCLAVEOFFSET (u64 @8) | zeros; the 256 measured bytes follow as four more blocks. */
export function eextendRecord(enclaveOffset: bigint): Uint8Array {
  const r = new Uint8Array(64);
  const dv = new DataView(r.buffer);
  r.set([0x45, 0x45, 0x58, 0x54, 0x45, 0x4e, 0x44, 0x00], 0);
  dv.setBigUint64(8, BigInt.asUintN(64, enclaveOffset), true);
  return r;
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

  eadd(enclaveOffset: bigint, secinfoFlags: bigint): void {
    this.stage.set(eaddRecord(enclaveOffset, secinfoFlags), this.room(64));
    this.updates += 1;
  }

  /** Measures one 256-byte chunk: the EEXTEND record built in place, then the data. */
  eextend(enclaveOffset: bigint, chunk: Uint8Array): void {
    if (chunk.length !== EEXTEND_CHUNK) throw new Error(`EEXTEND measures ${EEXTEND_CHUNK} bytes, got ${chunk.length}`);
    const at = this.room(64 + EEXTEND_CHUNK);
    this.stage.set(EEXTEND_TAG, at);
    this.stageView.setBigUint64(at + 8, BigInt.asUintN(64, enclaveOffset), true);
    this.stage.fill(0, at + 16, at + 64);
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

const EEXTEND_TAG = Uint8Array.of(0x45, 0x45, 0x58, 0x54, 0x45, 0x4e, 0x44, 0x00);
