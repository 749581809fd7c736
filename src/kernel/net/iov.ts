/** Scatter/gather over user iovecs (lib/iov_iter.c with import_iovec()). */
import { decode } from '../../hw/index';
import { EFAULT, EINVAL, EMSGSIZE, type Errno, IOVEC, isErrno, UIO_MAXIOV } from '../abi/index';
import { accessOk } from '../mm/uaccess';
import type { Task } from '../proc/task';

/** MAX_RW_COUNT: a single transfer is capped to INT_MAX & PAGE_MASK. */
const MAX_RW_COUNT = 0x7ffff000;

export class IovIter {
  constructor(readonly segs: ReadonlyArray<{ base: number; len: number }>) {}

  get total(): number {
    let n = 0;
    for (const s of this.segs) n += s.len;
    return n;
  }

  /** Gathers all bytes (copy_from_user of each segment). */
  copyIn(t: Task): Uint8Array | Errno {
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const s of this.segs) {
      if (s.len === 0) continue;
      const b = t.copyFromUser(s.base, s.len);
      if (isErrno(b)) return b;
      out.set(b, o);
      o += s.len;
    }
    return out;
  }

  /** Scatters `bytes` starting at byte `offset` of the iterator. */
  copyOut(t: Task, offset: number, bytes: Uint8Array): 0 | Errno {
    let skip = offset;
    let done = 0;
    for (const s of this.segs) {
      if (done >= bytes.length) break;
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      const n = Math.min(s.len - skip, bytes.length - done);
      const e = t.copyToUser(s.base + skip, bytes.subarray(done, done + n));
      if (e !== 0) return e;
      done += n;
      skip = 0;
    }
    return 0;
  }
}

/**
 * import_iovec(): reads `iovlen` struct iovec at `iov`.
 * @returns the iterator, or EMSGSIZE (more than UIO_MAXIOV), EFAULT, EINVAL (negative length).
 */
export function importIovec(t: Task, iov: number, iovlen: number): IovIter | Errno {
  if (iovlen > UIO_MAXIOV) return EMSGSIZE;
  if (iovlen === 0) return new IovIter([]);
  const raw = t.copyFromUser(iov, iovlen * IOVEC.size);
  if (isErrno(raw)) return raw;
  const segs: Array<{ base: number; len: number }> = [];
  let total = 0;
  for (let i = 0; i < iovlen; i++) {
    const v = decode(IOVEC, raw, i * IOVEC.size);
    if (v.iov_len > 0x7fffffffffffffffn) return EINVAL;
    let len = Number(v.iov_len);
    const base = Number(v.iov_base);
    if (len > MAX_RW_COUNT - total) len = MAX_RW_COUNT - total;
    if (len > 0 && !accessOk(base, len)) return EFAULT;
    segs.push({ base, len });
    total += len;
  }
  return new IovIter(segs);
}
