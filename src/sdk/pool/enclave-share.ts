/**
 * The enclave's shared region: one page-aligned block of simulated shared memory (a memfd, so fork() inherits the
 * mapping and an unrelated process can map it after receiving the fd over SCM_RIGHTS) that holds
 *
 * - the descriptor another process needs to use the enclave without its ELF: ELRANGE base and size, the segments
 *   to mmap, the TCS addresses, a copy of the runtime's metadata and the ecall and ocall names;
 * - the TCS pool's state: a ticket dispenser (`tail`), a release count (`done`), the owner of each TCS, per-TCS
 *   use counts, and a ring of futex words waiters sleep on (tcs-pool.ts).
 *
 * Processes do not share JavaScript memory, so everything shared lives here, as bytes, read and written by the
 * processes' own threads with user-mode accesses, locked read-modify-writes and futexes.
 *
 * ```
 *   0  header (ENCLAVE_SHARE, 192 bytes)          owners   u32 × nTcs   tid holding each TCS, 0 = free
 *      runtime meta (encl_rt_meta copy, 152)      uses     u32 × nTcs   acquisitions of each TCS
 *      segments (offset, size, prot) × n          wake     u32 × slots  futex words, ticket t sleeps on t % slots
 *      tcs offsets  u64 × nTcs                    names    ecall names, then ocall names, NUL-terminated
 * ```
 */
import { decode, defineLayout, encode, PAGE_SIZE } from '../../hw/index';
import { EnclaveLoadError } from '../errors/index';
import type { SegmentMapping } from '../loader/index';
import type { RuntimeInfo, RuntimeMeta } from '../loader/runtime-info';
import { RUNTIME_ABI_VERSION, RUNTIME_MAGIC, RUNTIME_META } from '../runtime-abi';

/** "SGXSIMSH" as a little-endian u64. */
export const ENCLAVE_SHARE_MAGIC = 0x48534d4953584753n;
export const ENCLAVE_SHARE_VERSION = 1;
/** Futex words in the waiters' ring (tickets that collide only cause a spurious wake-up). */
export const DEFAULT_WAIT_SLOTS = 64;

export const ENCLAVE_SHARE = defineLayout('sgxsim_enclave_share', 192, 8, [
  { name: 'magic', offset: 0, size: 8, type: 'u64', doc: 'ENCLAVE_SHARE_MAGIC' },
  { name: 'version', offset: 8, size: 4, type: 'u32' },
  { name: 'nTcs', offset: 12, size: 4, type: 'u32' },
  { name: 'base', offset: 16, size: 8, type: 'u64', doc: 'ELRANGE base (SECS.BASEADDR)' },
  { name: 'size', offset: 24, size: 8, type: 'u64', doc: 'SECS.SIZE' },
  { name: 'waitSlots', offset: 32, size: 4, type: 'u32' },
  { name: 'nSegments', offset: 36, size: 4, type: 'u32' },
  { name: 'tail', offset: 40, size: 4, type: 'u32', doc: 'next ticket (LOCK XADD)' },
  { name: 'done', offset: 44, size: 4, type: 'u32', doc: 'releases so far: ticket t may run once t < done + nTcs' },
  { name: 'reserved0', offset: 48, size: 4, type: 'reserved' },
  { name: 'waited', offset: 52, size: 4, type: 'u32', doc: 'acquisitions that had to sleep (statistics)' },
  { name: 'metaOff', offset: 56, size: 4, type: 'u32' },
  { name: 'segmentsOff', offset: 60, size: 4, type: 'u32' },
  { name: 'tcsOff', offset: 64, size: 4, type: 'u32' },
  { name: 'ownersOff', offset: 68, size: 4, type: 'u32' },
  { name: 'usesOff', offset: 72, size: 4, type: 'u32' },
  { name: 'wakeOff', offset: 76, size: 4, type: 'u32' },
  { name: 'namesOff', offset: 80, size: 4, type: 'u32' },
  { name: 'namesLen', offset: 84, size: 4, type: 'u32' },
  { name: 'regionSize', offset: 88, size: 4, type: 'u32' },
  { name: 'rtMetaOffset', offset: 92, size: 4, type: 'u32', doc: 'enclave offset of encl_rt_meta' },
  { name: 'mrEnclave', offset: 96, size: 32, type: 'bytes' },
  { name: 'mrSigner', offset: 128, size: 32, type: 'bytes' },
  { name: 'reserved', offset: 160, size: 32, type: 'reserved' },
] as const);

/** Byte offsets of the TCS pool's words inside the region (for tcs-pool.ts). */
export interface PoolWords {
  readonly nTcs: number;
  readonly waitSlots: number;
  readonly tail: number;
  readonly done: number;
  readonly waited: number;
  readonly owners: number;
  readonly uses: number;
  readonly wake: number;
}

/** Everything the region describes. */
export interface EnclaveDescriptor {
  readonly base: number;
  readonly size: number;
  /** The identity EINIT accepted (32 bytes each). */
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly segments: readonly SegmentMapping[];
  /** Enclave offsets of the pool's TCS pages. */
  readonly tcs: readonly number[];
  readonly runtime: RuntimeInfo;
}

const SEGMENT_BYTES = 24;

function fieldOf(name: string): number {
  return ENCLAVE_SHARE.fields.find((f) => f.name === name)!.offset;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Where each part goes for a descriptor of this shape. */
function plan(nTcs: number, nSegments: number, namesLen: number, waitSlots: number) {
  const metaOff = ENCLAVE_SHARE.size;
  const segmentsOff = metaOff + RUNTIME_META.size;
  const tcsOff = segmentsOff + nSegments * SEGMENT_BYTES;
  const ownersOff = tcsOff + nTcs * 8;
  const usesOff = ownersOff + nTcs * 4;
  const wakeOff = usesOff + nTcs * 4;
  const namesOff = wakeOff + waitSlots * 4;
  const regionSize = align(namesOff + namesLen, PAGE_SIZE);
  return { metaOff, segmentsOff, tcsOff, ownersOff, usesOff, wakeOff, namesOff, regionSize };
}

const enc = new TextEncoder();

/** The region's initial bytes: the descriptor and an idle pool (every TCS free). */
export function encodeEnclaveShare(d: EnclaveDescriptor, waitSlots = DEFAULT_WAIT_SLOTS): Uint8Array {
  const names = enc.encode([...d.runtime.ecalls, ...d.runtime.ocalls].map((n) => `${n}\0`).join(''));
  const p = plan(d.tcs.length, d.segments.length, names.length, waitSlots);
  const out = new Uint8Array(p.regionSize);
  out.set(
    encode(ENCLAVE_SHARE, {
      magic: ENCLAVE_SHARE_MAGIC,
      version: ENCLAVE_SHARE_VERSION,
      nTcs: d.tcs.length,
      base: BigInt(d.base),
      size: BigInt(d.size),
      waitSlots,
      nSegments: d.segments.length,
      metaOff: p.metaOff,
      segmentsOff: p.segmentsOff,
      tcsOff: p.tcsOff,
      ownersOff: p.ownersOff,
      usesOff: p.usesOff,
      wakeOff: p.wakeOff,
      namesOff: p.namesOff,
      namesLen: names.length,
      regionSize: p.regionSize,
      rtMetaOffset: d.runtime.metaOffset,
      mrEnclave: d.mrEnclave,
      mrSigner: d.mrSigner,
    }),
  );
  const m = d.runtime.meta;
  const big = (v: number) => BigInt(v);
  out.set(
    encode(RUNTIME_META, {
      nrTcs: big(m.nrTcs),
      tcs: big(m.tcs),
      nssa: big(m.nssa),
      ssaFramePages: big(m.ssaFramePages),
      threadSize: big(m.threadSize),
      threads: big(m.threads),
      entry: big(m.entry),
      heap: big(m.heap),
      heapSize: big(m.heapSize),
      enclaveSize: big(m.enclaveSize),
      edgeBufSize: big(m.edgeBufSize),
      stackSize: big(m.stackSize),
      callBlockSize: big(m.callBlockSize),
      nrEcalls: big(m.nrEcalls),
      ecalls: big(m.ecalls),
      nrOcalls: big(m.nrOcalls),
      ocalls: big(m.ocalls),
      magic: RUNTIME_MAGIC,
      version: BigInt(RUNTIME_ABI_VERSION),
    }),
    p.metaOff,
  );
  const dv = new DataView(out.buffer);
  d.segments.forEach((s, i) => {
    const at = p.segmentsOff + i * SEGMENT_BYTES;
    dv.setBigUint64(at, BigInt(s.offset), true);
    dv.setBigUint64(at + 8, BigInt(s.size), true);
    dv.setUint32(at + 16, s.prot, true);
  });
  d.tcs.forEach((t, i) => {
    dv.setBigUint64(p.tcsOff + 8 * i, BigInt(t), true);
  });
  out.set(names, p.namesOff);
  return out;
}

/** The pool's word offsets from a header. */
export function poolWords(header: Uint8Array): PoolWords {
  const h = decode(ENCLAVE_SHARE, header);
  return {
    nTcs: h.nTcs,
    waitSlots: h.waitSlots,
    tail: fieldOf('tail'),
    done: fieldOf('done'),
    waited: fieldOf('waited'),
    owners: h.ownersOff,
    uses: h.usesOff,
    wake: h.wakeOff,
  };
}

/** The region size a header announces, after checking magic and version. @throws EnclaveLoadError `bad-pool`. */
export function enclaveShareSize(header: Uint8Array): number {
  if (header.length < ENCLAVE_SHARE.size) throw new EnclaveLoadError({ kind: 'bad-pool', detail: 'too short' });
  const h = decode(ENCLAVE_SHARE, header);
  if (h.magic !== ENCLAVE_SHARE_MAGIC) throw new EnclaveLoadError({ kind: 'bad-pool', detail: 'bad magic' });
  if (h.version !== ENCLAVE_SHARE_VERSION)
    throw new EnclaveLoadError({ kind: 'bad-pool', detail: `version ${h.version}, not ${ENCLAVE_SHARE_VERSION}` });
  return h.regionSize;
}

/**
 * Decodes the descriptor part of a region (the pool's words change all the time; they are read separately).
 * @throws EnclaveLoadError `bad-pool` for a region that is not one, or is inconsistent.
 */
export function decodeEnclaveShare(region: Uint8Array): EnclaveDescriptor {
  const size = enclaveShareSize(region);
  const h = decode(ENCLAVE_SHARE, region);
  const bad = (detail: string) => new EnclaveLoadError({ kind: 'bad-pool', detail });
  if (region.length < size || h.namesOff + h.namesLen > size) throw bad('truncated');
  const dv = new DataView(region.buffer, region.byteOffset, region.byteLength);
  const m = decode(RUNTIME_META, region, h.metaOff);
  const num = (v: bigint) => Number(v);
  const meta: RuntimeMeta = {
    nrTcs: num(m.nrTcs),
    tcs: num(m.tcs),
    nssa: num(m.nssa),
    ssaFramePages: num(m.ssaFramePages),
    threadSize: num(m.threadSize),
    threads: num(m.threads),
    entry: num(m.entry),
    heap: num(m.heap),
    heapSize: num(m.heapSize),
    enclaveSize: num(m.enclaveSize),
    edgeBufSize: num(m.edgeBufSize),
    stackSize: num(m.stackSize),
    callBlockSize: num(m.callBlockSize),
    nrEcalls: num(m.nrEcalls),
    ecalls: num(m.ecalls),
    nrOcalls: num(m.nrOcalls),
    ocalls: num(m.ocalls),
  };
  const segments: SegmentMapping[] = [];
  for (let i = 0; i < h.nSegments; i++) {
    const at = h.segmentsOff + i * SEGMENT_BYTES;
    segments.push({
      offset: Number(dv.getBigUint64(at, true)),
      size: Number(dv.getBigUint64(at + 8, true)),
      prot: dv.getUint32(at + 16, true),
    });
  }
  const tcs: number[] = [];
  for (let i = 0; i < h.nTcs; i++) tcs.push(Number(dv.getBigUint64(h.tcsOff + 8 * i, true)));
  const names = new TextDecoder().decode(region.subarray(h.namesOff, h.namesOff + h.namesLen)).split('\0');
  if (names.length !== meta.nrEcalls + meta.nrOcalls + 1) throw bad('the name table does not match the metadata');
  return {
    base: Number(h.base),
    size: Number(h.size),
    mrEnclave: h.mrEnclave,
    mrSigner: h.mrSigner,
    segments,
    tcs,
    runtime: {
      meta,
      metaOffset: h.rtMetaOffset,
      ecalls: names.slice(0, meta.nrEcalls),
      ocalls: names.slice(meta.nrEcalls, meta.nrEcalls + meta.nrOcalls),
    },
  };
}
