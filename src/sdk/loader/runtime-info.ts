/**
 * What the host learns from an enclave ELF built on the trusted runtime (enclaves/runtime/README.md "Finding
 * ecalls by name"): `struct encl_rt_meta` through the `encl_rt_meta` symbol, and the ecall and ocall names its
 * tables point to. Everything is read from the laid-out image, at enclave offsets, as the enclave will see it.
 */
import { decode } from '../../hw/index';
import { findSymbol } from '../elf/index';
import { EnclaveLoadError } from '../errors/index';
import type { EnclaveLayout } from '../layout/index';
import { ECALL_ENTRY, RUNTIME_ABI_VERSION, RUNTIME_MAGIC, RUNTIME_META, RUNTIME_META_SYMBOL } from '../runtime-abi';

/** encl_rt_meta with every field as a number (they are all far below 2^53). */
export interface RuntimeMeta {
  readonly nrTcs: number;
  readonly tcs: number;
  readonly nssa: number;
  readonly ssaFramePages: number;
  readonly threadSize: number;
  readonly threads: number;
  readonly entry: number;
  readonly heap: number;
  readonly heapSize: number;
  readonly enclaveSize: number;
  readonly edgeBufSize: number;
  readonly stackSize: number;
  readonly callBlockSize: number;
  readonly nrEcalls: number;
  readonly ecalls: number;
  readonly nrOcalls: number;
  readonly ocalls: number;
}

/** The runtime's metadata, where it sits in the image, and the names of the enclave's ecalls and ocalls. */
export interface RuntimeInfo {
  readonly meta: RuntimeMeta;
  /** Enclave offset of encl_rt_meta (the loader writes enclave_size and heap_size there). */
  readonly metaOffset: number;
  /** Ecall names by ecall number. */
  readonly ecalls: readonly string[];
  /** Ocall names by ocall number. */
  readonly ocalls: readonly string[];
}

/** Longest ecall/ocall name accepted (they are C identifiers; this only bounds a corrupt table). */
const MAX_NAME = 256;

/** A reader of the image by enclave offset, over the layout's file-backed segments. */
function imageReader(layout: EnclaveLayout): (offset: number, len: number) => Uint8Array | undefined {
  return (offset, len) => {
    for (const seg of layout.segments) {
      if (!seg.bytes || offset < seg.offset || offset + len > seg.offset + seg.size) continue;
      return seg.bytes.subarray(offset - seg.offset, offset - seg.offset + len);
    }
    return undefined;
  };
}

/**
 * Reads encl_rt_meta and the name tables of a laid-out enclave.
 * @throws EnclaveLoadError `no-runtime` (no encl_rt_meta symbol, wrong magic or version, a table or name outside
 *   the image).
 */
export function readRuntimeInfo(layout: EnclaveLayout): RuntimeInfo {
  const sym = findSymbol(layout.elf, RUNTIME_META_SYMBOL);
  if (!sym) throw new EnclaveLoadError({ kind: 'no-runtime', detail: `no ${RUNTIME_META_SYMBOL} symbol` });
  const read = imageReader(layout);
  const raw = read(sym.value, RUNTIME_META.size);
  if (!raw) throw new EnclaveLoadError({ kind: 'no-runtime', detail: `${RUNTIME_META_SYMBOL} is outside the image` });
  const m = decode(RUNTIME_META, raw);
  if (m.magic !== RUNTIME_MAGIC) throw new EnclaveLoadError({ kind: 'no-runtime', detail: 'bad encl_rt_meta magic' });
  if (m.version !== BigInt(RUNTIME_ABI_VERSION))
    throw new EnclaveLoadError({
      kind: 'no-runtime',
      detail: `runtime ABI version ${m.version}, not ${RUNTIME_ABI_VERSION}`,
    });
  const meta: RuntimeMeta = {
    nrTcs: Number(m.nrTcs),
    tcs: Number(m.tcs),
    nssa: Number(m.nssa),
    ssaFramePages: Number(m.ssaFramePages),
    threadSize: Number(m.threadSize),
    threads: Number(m.threads),
    entry: Number(m.entry),
    heap: Number(m.heap),
    heapSize: Number(m.heapSize),
    enclaveSize: Number(m.enclaveSize),
    edgeBufSize: Number(m.edgeBufSize),
    stackSize: Number(m.stackSize),
    callBlockSize: Number(m.callBlockSize),
    nrEcalls: Number(m.nrEcalls),
    ecalls: Number(m.ecalls),
    nrOcalls: Number(m.nrOcalls),
    ocalls: Number(m.ocalls),
  };
  const cstring = (offset: number, what: string): string => {
    const bytes: number[] = [];
    for (let i = 0; i < MAX_NAME; i++) {
      const b = read(offset + i, 1);
      if (!b) break;
      if (b[0] === 0) return new TextDecoder().decode(Uint8Array.from(bytes));
      bytes.push(b[0]!);
    }
    throw new EnclaveLoadError({ kind: 'no-runtime', detail: `the name of ${what} is not a string in the image` });
  };
  const u64 = (offset: number, what: string): number => {
    const b = read(offset, 8);
    if (!b) throw new EnclaveLoadError({ kind: 'no-runtime', detail: `${what} is outside the image` });
    return Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  };
  const ecalls: string[] = [];
  for (let i = 0; i < meta.nrEcalls; i++) {
    const e = read(meta.ecalls + i * ECALL_ENTRY.size, ECALL_ENTRY.size);
    if (!e) throw new EnclaveLoadError({ kind: 'no-runtime', detail: `ecall table entry ${i} is outside the image` });
    ecalls.push(cstring(Number(decode(ECALL_ENTRY, e).name), `ecall ${i}`));
  }
  const ocalls: string[] = [];
  for (let i = 0; i < meta.nrOcalls; i++) ocalls.push(cstring(u64(meta.ocalls + 8 * i, `ocall ${i}`), `ocall ${i}`));
  return { meta, metaOffset: sym.value, ecalls, ocalls };
}
