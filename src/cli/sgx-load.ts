/**
 * A host program's enclave build through the driver, the way the kernel selftests' load.c encl_build() does it:
 * reserve address space with an anonymous PROT_NONE mapping aligned to the enclave size, ENCLAVE_CREATE with a
 * SECS image, one ENCLAVE_ADD_PAGES per segment (SGX_PAGE_MEASURE except the heap), ENCLAVE_INIT with the
 * SIGSTRUCT, then mmap each segment MAP_SHARED|MAP_FIXED over the reservation. Used by `sgxsim demo`, `sgxsim ps`,
 * `sgxsim stats` and the driver tests, until the SDK has its own loader.
 */
import {
  SGX_ENCLAVE_ADD_PAGES,
  SGX_ENCLAVE_CREATE,
  SGX_ENCLAVE_INIT,
  SGX_IOC_ENCLAVE_ADD_PAGES,
  SGX_IOC_ENCLAVE_CREATE,
  SGX_IOC_ENCLAVE_INIT,
  SGX_PAGE_MEASURE,
} from '../driver/index';
import { AttrFlags, encode, PAGE_SIZE, SECINFO, SECS } from '../hw/index';
import {
  errnoOfReturn,
  type Libc,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Sys,
} from '../kernel/index';
import type { EnclaveLayout } from '../sdk/index';

/** A built (and usually mapped) enclave in one process. */
export interface LoadedEnclave {
  readonly fd: number;
  readonly base: number;
  readonly size: number;
}

/** Which step failed, and the errno name. */
export class LoadError extends Error {
  constructor(
    readonly step: string,
    readonly errno: string,
  ) {
    super(`${step} failed: ${errno}`);
  }
}

export interface LoadOptions {
  readonly layout: EnclaveLayout;
  readonly sigstruct: Uint8Array;
  /** SECS.ATTRIBUTES (default MODE64BIT, as the selftests; add DEBUG for EDBGRD access). */
  readonly attributes?: bigint;
  /** Map the segments after INIT (default true). */
  readonly map?: boolean;
  /** Stop before ENCLAVE_INIT (default false); nothing is mapped then. */
  readonly noInit?: boolean;
}

function check(step: string, ret: number): number {
  const e = errnoOfReturn(ret);
  if (e) throw new LoadError(step, e.name);
  return ret;
}

/**
 * Builds the enclave described by `layout` through /dev/sgx_enclave and maps it.
 * @throws LoadError naming the failing step and errno.
 */
export async function loadEnclave(sys: Sys, libc: Libc, o: LoadOptions): Promise<LoadedEnclave> {
  const { layout } = o;
  const size = layout.size;
  const fd = check('open /dev/sgx_enclave', await libc.open('/dev/sgx_enclave', O_RDWR));
  // Reserve 2 × size and keep a size-aligned window of it (load.c).
  const area = check('mmap reservation', await sys.mmap(0, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  const base = Math.ceil(area / size) * size;
  if (base > area) check('munmap head', await sys.munmap(area, base - area));
  if (base + size < area + 2 * size) check('munmap tail', await sys.munmap(base + size, area + 2 * size - base - size));

  const secs = await libc.bytes(
    encode(SECS, {
      size: BigInt(size),
      baseAddr: BigInt(base),
      ssaFrameSize: layout.ssaFrameSize,
      attributes: o.attributes ?? AttrFlags.MODE64BIT,
      xfrm: 3n,
    }),
  );
  const createArg = await libc.bytes(encode(SGX_ENCLAVE_CREATE, { src: BigInt(secs) }));
  check('SGX_IOC_ENCLAVE_CREATE', await sys.ioctl(fd, SGX_IOC_ENCLAVE_CREATE, createArg));

  for (const seg of layout.segments) {
    // The source: anonymous memory holding the segment (the heap stays zero pages).
    const src = check(
      'mmap source',
      await sys.mmap(0, seg.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    );
    if (seg.bytes)
      for (let off = 0; off < seg.size; off += PAGE_SIZE) {
        const chunk = seg.bytes.subarray(off, off + PAGE_SIZE);
        if (chunk.some((b) => b !== 0)) await sys.store(src + off, chunk);
      }
    const secinfo = await libc.bytes(encode(SECINFO, { flags: seg.secinfoFlags }));
    const arg = await libc.bytes(
      encode(SGX_ENCLAVE_ADD_PAGES, {
        src: BigInt(src),
        offset: BigInt(seg.offset),
        length: BigInt(seg.size),
        secinfo: BigInt(secinfo),
        flags: seg.measure ? BigInt(SGX_PAGE_MEASURE) : 0n,
        count: 0n,
      }),
    );
    check(
      `SGX_IOC_ENCLAVE_ADD_PAGES at 0x${seg.offset.toString(16)}`,
      await sys.ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, arg),
    );
    check('munmap source', await sys.munmap(src, seg.size));
  }

  if (o.noInit) return { fd, base, size };
  const sig = await libc.bytes(o.sigstruct);
  const initArg = await libc.bytes(encode(SGX_ENCLAVE_INIT, { sigstruct: BigInt(sig) }));
  check('SGX_IOC_ENCLAVE_INIT', await sys.ioctl(fd, SGX_IOC_ENCLAVE_INIT, initArg));

  if (o.map ?? true) await mapEnclave(sys, { fd, base, size }, layout);
  return { fd, base, size };
}

/** mmap(base + offset, size, prot, MAP_SHARED | MAP_FIXED, fd, 0) for every segment (load.c). */
export async function mapEnclave(sys: Sys, e: LoadedEnclave, layout: EnclaveLayout): Promise<void> {
  for (const seg of layout.segments) {
    check(
      `mmap segment at 0x${seg.offset.toString(16)}`,
      await sys.mmap(e.base + seg.offset, seg.size, seg.prot, MAP_SHARED | MAP_FIXED, e.fd, 0),
    );
  }
}
