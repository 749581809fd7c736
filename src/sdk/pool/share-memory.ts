/**
 * Creating and mapping the enclave's shared region (enclave-share.ts): memfd_create + ftruncate + mmap
 * MAP_SHARED in the loading process; mmap MAP_SHARED of a received fd in another one. fork() inherits both the
 * fd and the mapping.
 */
import { type Libc, MAP_SHARED, MFD_CLOEXEC, PROT_READ, PROT_WRITE, type Sys } from '../../kernel/index';
import { check } from '../loader/driver-build';
import {
  DEFAULT_WAIT_SLOTS,
  decodeEnclaveShare,
  ENCLAVE_SHARE,
  type EnclaveDescriptor,
  enclaveShareSize,
  encodeEnclaveShare,
  poolWords,
} from './enclave-share';
import { TcsPool } from './tcs-pool';

/** The region as one process sees it. */
export interface MappedShare {
  readonly fd: number;
  readonly addr: number;
  readonly size: number;
  readonly descriptor: EnclaveDescriptor;
  readonly pool: TcsPool;
}

/**
 * Makes the region for `d` in a fresh memfd and maps it.
 * @throws EnclaveLoadError `syscall` (EMFILE, ENOMEM, …).
 */
export async function createEnclaveShare(
  sys: Sys,
  libc: Libc,
  d: EnclaveDescriptor,
  waitSlots = DEFAULT_WAIT_SLOTS,
): Promise<MappedShare> {
  const bytes = encodeEnclaveShare(d, waitSlots);
  const fd = check('memfd_create', await libc.memfdCreate('sgxsim-enclave', MFD_CLOEXEC));
  check('ftruncate enclave share', await sys.ftruncate(fd, bytes.length));
  const addr = check('mmap enclave share', await sys.mmap(0, bytes.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  await sys.store(addr, bytes);
  return { fd, addr, size: bytes.length, descriptor: d, pool: new TcsPool(addr, poolWords(bytes)) };
}

/**
 * Maps a region received as `fd` (over SCM_RIGHTS) and reads its descriptor.
 * @throws EnclaveLoadError `syscall` (EBADF, EACCES …) or `bad-pool` (not a region).
 */
export async function mapEnclaveShare(sys: Sys, fd: number): Promise<MappedShare> {
  const rw = PROT_READ | PROT_WRITE;
  const head = check('mmap enclave share header', await sys.mmap(0, 4096, rw, MAP_SHARED, fd, 0));
  let size: number;
  try {
    size = enclaveShareSize(await sys.load(head, ENCLAVE_SHARE.size));
  } finally {
    await sys.munmap(head, 4096);
  }
  const addr = check('mmap enclave share', await sys.mmap(0, size, rw, MAP_SHARED, fd, 0));
  const bytes = await sys.load(addr, size);
  return { fd, addr, size, descriptor: decodeEnclaveShare(bytes), pool: new TcsPool(addr, poolWords(bytes)) };
}
