/** memfd_create(2) (mm/memfd.c) and ftruncate(2) (fs/open.c do_sys_ftruncate(), mm/shmem.c shmem_setattr()). */
import { PAGE_SIZE } from '../../hw/index';
import {
  EBADF,
  EFAULT,
  EINVAL,
  ENOSYS,
  isErrno,
  MFD_ALL_FLAGS,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NAME_MAX_LEN,
  MFD_NOEXEC_SEAL,
  O_LARGEFILE,
  O_RDWR,
} from '../abi/index';
import { FMODE_WRITE } from '../fd/file';
import type { Mm } from '../mm/mm';
import { memfdFileSetup, ShmemObject } from '../mm/shmem';
import { strncpyFromUser } from '../mm/uaccess';
import type { Task } from '../proc/task';
import { argInt, argLong, argU64, argUint } from './args';
import { nofile, unusedFd } from './sys-file';
import type { SyscallArgs, SyscallCtx, SyscallResult } from './types';

/** MFD_HUGE_MASK << MFD_HUGE_SHIFT: a huge page size may be encoded with MFD_HUGETLB (linux/memfd.h). */
const MFD_HUGE_BITS = 0x3f << 26;

/**
 * memfd_create(2): an anonymous shmem file of size 0, "/memfd:<name> (deleted)", opened O_RDWR.
 * @returns the fd, or EINVAL (unknown flags, MFD_EXEC with MFD_NOEXEC_SEAL, a name of more than
 *   MFD_NAME_MAX_LEN bytes), EFAULT (bad name pointer), EMFILE, ENOSYS (MFD_HUGETLB: built without hugetlbfs).
 */
export function sysMemfdCreate(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const uname = argU64(a, 0);
  const flags = argUint(a, 1);
  // sanitize_flags(): a huge page size may only be encoded together with MFD_HUGETLB.
  const allowed = flags & MFD_HUGETLB ? MFD_ALL_FLAGS | MFD_HUGE_BITS : MFD_ALL_FLAGS;
  if ((flags & ~allowed) >>> 0) return EINVAL;
  if (flags & MFD_EXEC && flags & MFD_NOEXEC_SEAL) return EINVAL;
  // alloc_name(): strnlen_user(uname, MFD_NAME_MAX_LEN + 1) counts the NUL; none within that is EINVAL.
  const name = strncpyFromUser(t.mm!, uname, MFD_NAME_MAX_LEN + 1);
  if (name === undefined) return EINVAL;
  if (isErrno(name)) return EFAULT;
  const fd = unusedFd(t);
  if (isErrno(fd)) return fd;
  // hugetlb_file_setup() without CONFIG_HUGETLBFS is ERR_PTR(-ENOSYS); this kernel has no huge pages.
  if (flags & MFD_HUGETLB) return ENOSYS;
  const file = memfdFileSetup(ctx.k.mmCtx, new TextDecoder().decode(name), O_RDWR | O_LARGEFILE);
  t.files!.install(file, (flags & MFD_CLOEXEC) !== 0, nofile(t), fd);
  return fd;
}

/** Every distinct mm of a live process (the i_mmap walk below goes through them). */
function liveMms(ctx: SyscallCtx): Set<Mm> {
  const mms = new Set<Mm>();
  for (const p of ctx.k.processes.values()) for (const th of p.threads) if (th.mm) mms.add(th.mm);
  return mms;
}

/**
 * ftruncate(2) on a shmem file (a memfd): sets i_size. Shrinking unmaps the pages past the new end from every
 * mapping, private copies included (unmap_mapping_range(..., even_cows = 1)), zeroes the tail of the last
 * page and frees the rest, so a later access there is SIGBUS.
 * @returns 0, or EINVAL (negative length, not a regular file, not open for writing), EBADF.
 */
export function sysFtruncate(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const length = argLong(a, 1);
  if (length < 0) return EINVAL;
  const file = t.files!.get(argInt(a, 0));
  if (!file) return EBADF;
  // "if (!S_ISREG(inode->i_mode) || !(f.file->f_mode & FMODE_WRITE)) goto out_putf" (-EINVAL).
  const obj = file.privateData;
  if (file.inode.kind !== 'shmem' || !(obj instanceof ShmemObject) || !(file.mode & FMODE_WRITE)) return EINVAL;
  if (length < obj.size) {
    const holeBegin = Math.ceil(length / PAGE_SIZE);
    for (const mm of liveMms(ctx))
      for (const vma of mm.vmas.all()) {
        if (vma.file?.inode !== file.inode) continue;
        const first = Math.max(vma.start, vma.start + (holeBegin - vma.pgoff) * PAGE_SIZE);
        if (first < vma.end) mm.zapRange(vma, first, vma.end);
      }
    obj.truncate(length, ctx.k.mem);
  } else obj.size = length;
  return 0;
}
