/**
 * Building an enclave through /dev/sgx_enclave the way the kernel selftests' load.c encl_build() does: reserve
 * address space with an anonymous PROT_NONE mapping aligned to the enclave size, ENCLAVE_CREATE with a SECS image,
 * one ENCLAVE_ADD_PAGES per segment (SGX_PAGE_MEASURE except the heap), ENCLAVE_INIT with the SIGSTRUCT, then mmap
 * each segment MAP_SHARED|MAP_FIXED over the reservation. Every step is a syscall of the calling thread; a failure
 * is an EnclaveLoadError naming the step and the errno.
 */
import {
  SGX_ENCLAVE_ADD_PAGES,
  SGX_ENCLAVE_CREATE,
  SGX_ENCLAVE_INIT,
  SGX_IOC_ENCLAVE_ADD_PAGES,
  SGX_IOC_ENCLAVE_CREATE,
  SGX_IOC_ENCLAVE_INIT,
  SGX_PAGE_MEASURE,
} from '../../driver/index';
import { AttrFlags, encode, PAGE_SIZE, SECINFO, SECS } from '../../hw/index';
import {
  errnoOfReturn,
  type Libc,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Sys,
} from '../../kernel/index';
import { EnclaveLoadError } from '../errors/index';
import type { EnclaveLayout } from '../layout/index';

/** A built (and usually mapped) enclave in one process. */
export interface LoadedEnclave {
  readonly fd: number;
  readonly base: number;
  readonly size: number;
}

/** One mapping of an enclave segment: mmap(base + offset, size, prot, MAP_SHARED | MAP_FIXED, fd, 0). */
export interface SegmentMapping {
  readonly offset: number;
  readonly size: number;
  readonly prot: number;
}

export interface DriverBuildOptions {
  readonly layout: EnclaveLayout;
  readonly sigstruct: Uint8Array;
  /** SECS.ATTRIBUTES (default MODE64BIT, as the selftests; add DEBUG for EDBGRD access). */
  readonly attributes?: bigint;
  /** SECS.XFRM (default x87 | SSE, what one SSA page holds). */
  readonly xfrm?: bigint;
  /** SECS.MISCSELECT (default 0; bit 0 EXINFO reports #PF/#GP details in the SSA). */
  readonly miscSelect?: number;
  /** Map the segments after INIT (default true). */
  readonly map?: boolean;
  /** Stop before ENCLAVE_INIT (default false); nothing is mapped then. */
  readonly noInit?: boolean;
}

/** A raw syscall return, or an EnclaveLoadError naming `step` and the errno. */
export function check(step: string, ret: number): number {
  const e = errnoOfReturn(ret);
  if (e) throw new EnclaveLoadError({ kind: 'syscall', step, errno: e.name });
  return ret;
}

/**
 * Reserves `size` bytes of address space aligned to `size` (load.c: mmap 2 × size PROT_NONE, keep an aligned
 * window, unmap the rest); with `at`, exactly [at, at + size) and nothing there yet (MAP_FIXED_NOREPLACE).
 * @returns the base. @throws EnclaveLoadError (ENOMEM, EEXIST for `at` over an existing mapping).
 */
export async function reserveElrange(sys: Sys, size: number, at?: number): Promise<number> {
  const flags = MAP_PRIVATE | MAP_ANONYMOUS;
  if (at !== undefined) {
    check('mmap ELRANGE reservation', await sys.mmap(at, size, PROT_NONE, flags | MAP_FIXED_NOREPLACE, -1, 0));
    return at;
  }
  const area = check('mmap ELRANGE reservation', await sys.mmap(0, 2 * size, PROT_NONE, flags, -1, 0));
  const base = Math.ceil(area / size) * size;
  if (base > area) check('munmap reservation head', await sys.munmap(area, base - area));
  if (base + size < area + 2 * size)
    check('munmap reservation tail', await sys.munmap(base + size, area + 2 * size - base - size));
  return base;
}

/**
 * Builds the enclave described by `layout` through /dev/sgx_enclave and maps it.
 * @throws EnclaveLoadError `syscall` naming the failing step and errno.
 */
export async function buildEnclaveWithDriver(sys: Sys, libc: Libc, o: DriverBuildOptions): Promise<LoadedEnclave> {
  const { layout } = o;
  const size = layout.size;
  const fd = check('open /dev/sgx_enclave', await libc.open('/dev/sgx_enclave', O_RDWR));
  const base = await reserveElrange(sys, size);

  const secs = await libc.bytes(
    encode(SECS, {
      size: BigInt(size),
      baseAddr: BigInt(base),
      ssaFrameSize: layout.ssaFrameSize,
      miscSelect: o.miscSelect ?? 0,
      attributes: o.attributes ?? AttrFlags.MODE64BIT,
      xfrm: o.xfrm ?? 3n,
    }),
  );
  const createArg = await libc.bytes(encode(SGX_ENCLAVE_CREATE, { src: BigInt(secs) }));
  check('SGX_IOC_ENCLAVE_CREATE', await sys.ioctl(fd, SGX_IOC_ENCLAVE_CREATE, createArg));

  for (const seg of layout.segments) {
    // The source: anonymous memory holding the segment (the heap and zero thread blocks stay zero pages).
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

  if (o.map ?? true) await mapEnclaveSegments(sys, { fd, base, size }, layout.segments);
  return { fd, base, size };
}

/** mmap(base + offset, size, prot, MAP_SHARED | MAP_FIXED, fd, 0) for every segment (load.c). */
export async function mapEnclaveSegments(
  sys: Sys,
  e: LoadedEnclave,
  segments: readonly SegmentMapping[],
): Promise<void> {
  for (const seg of segments) {
    check(
      `mmap segment at 0x${seg.offset.toString(16)}`,
      await sys.mmap(e.base + seg.offset, seg.size, seg.prot, MAP_SHARED | MAP_FIXED, e.fd, 0),
    );
  }
}
