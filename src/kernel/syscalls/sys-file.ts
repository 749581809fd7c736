/** File syscalls (fs/open.c, fs/file.c, fs/read_write.c, fs/fcntl.c, fs/ioctl.c). */
import {
  AT_FDCWD,
  EBADF,
  EFAULT,
  EINVAL,
  EMFILE,
  ENAMETOOLONG,
  ENOIOCTLCMD,
  ENOTDIR,
  ENOTTY,
  type Errno,
  F_DUPFD,
  F_DUPFD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  FIOCLEX,
  FIONBIO,
  FIONCLEX,
  isErrno,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_EXCL,
  O_NOATIME,
  O_NOCTTY,
  O_NONBLOCK,
  O_TRUNC,
  PATH_MAX,
  RLIMIT_NOFILE,
} from '../abi/index';
import { FMODE_READ, FMODE_WRITE, type OpenFile } from '../fd/file';
import { accessOk, strncpyFromUser } from '../mm/uaccess';
import { unixGc } from '../net/unix-gc';
import type { Task } from '../proc/task';
import { argInt, argU64, argUint } from './args';
import type { SyscallArgs, SyscallCtx, SyscallResult } from './types';

/** MAX_RW_COUNT: INT_MAX rounded down to a page. */
const MAX_RW_COUNT = 0x7ffff000;

/** RLIMIT_NOFILE of the task's process. */
export function nofile(t: Task): number {
  return t.process.rlimit(RLIMIT_NOFILE).cur;
}

/** The lowest free fd below RLIMIT_NOFILE, or EMFILE (get_unused_fd_flags()). */
export function unusedFd(t: Task): number | Errno {
  const files = t.files!;
  let fd = 0;
  while (files.get(fd)) fd++;
  return fd < nofile(t) ? fd : EMFILE;
}

/** getname(): the path string from user memory. */
export function getname(t: Task, addr: number): string | Errno {
  const r = strncpyFromUser(t.mm!, addr, PATH_MAX);
  if (r === undefined) return ENAMETOOLONG;
  if (isErrno(r)) return r;
  return new TextDecoder().decode(r);
}

function doOpen(t: Task, ctx: SyscallCtx, dirfd: number, pathAddr: number, flags: number): SyscallResult {
  const path = getname(t, pathAddr);
  if (isErrno(path)) return path;
  const fd = unusedFd(t);
  if (isErrno(fd)) return fd;
  let full = path;
  if (!path.startsWith('/') && dirfd !== AT_FDCWD) {
    const dir = t.files!.get(dirfd);
    if (!dir) return EBADF;
    if (dir.inode.kind !== 'dir') return ENOTDIR;
    full = `${dir.inode.path.replace(/\/$/, '')}/${path}`;
  }
  const inode = ctx.k.vfs.lookupForOpen(full, flags);
  if (isErrno(inode)) return inode;
  // do_dentry_open(): f_flags keep everything but the creation-time flags.
  const file = ctx.k.newFile(inode, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC));
  if (inode.fops.open) {
    const r = inode.fops.open(inode, file, t);
    // A failed ->open never gets ->release.
    if (r !== 0) return r;
  }
  t.files!.install(file, (flags & O_CLOEXEC) !== 0, nofile(t), fd);
  return fd;
}

/**
 * open(2).
 * @returns the fd, or EFAULT, ENAMETOOLONG, EMFILE, ENOENT, ENOTDIR, EISDIR, EEXIST, EROFS, or the
 *   device's ->open errno.
 */
export function sysOpen(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  return doOpen(t, ctx, AT_FDCWD, argU64(a, 0), argInt(a, 1));
}

/** openat(2): as open(2), relative paths resolve against `dirfd` (EBADF, ENOTDIR). */
export function sysOpenat(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  return doOpen(t, ctx, argInt(a, 0), argU64(a, 1), argInt(a, 2));
}

/** close(2). @returns 0 or EBADF. */
export function sysClose(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const f = t.files!.remove(argInt(a, 0));
  if (isErrno(f)) return f;
  f.put();
  if (f.inode.kind === 'sock') unixGc(ctx.k.liveFiles);
  return 0;
}

function rw(t: Task, a: SyscallArgs, write: boolean): SyscallResult {
  const file = t.files!.get(argInt(a, 0));
  if (!file) return EBADF;
  if (!(file.mode & (write ? FMODE_WRITE : FMODE_READ))) return EBADF;
  const op = write ? file.fops.write : file.fops.read;
  if (!op) return EINVAL;
  const buf = argU64(a, 1);
  const count = Math.min(argU64(a, 2), MAX_RW_COUNT);
  if (!accessOk(buf, count)) return EFAULT;
  return op(file, t, buf, count);
}

/** read(2). @returns bytes read, or EBADF (not open for reading), EINVAL (no ->read), EFAULT, the file's errno. */
export function sysRead(t: Task, a: SyscallArgs): SyscallResult {
  return rw(t, a, false);
}

/** write(2). @returns bytes written, or EBADF, EINVAL, EFAULT, EPIPE, the file's errno. */
export function sysWrite(t: Task, a: SyscallArgs): SyscallResult {
  return rw(t, a, true);
}

/** dup(2). @returns the new fd, or EBADF, EMFILE. */
export function sysDup(t: Task, a: SyscallArgs): SyscallResult {
  const file = t.files!.get(argInt(a, 0));
  if (!file) return EBADF;
  const fd = t.files!.install(file.get(), false, nofile(t));
  if (isErrno(fd)) file.put();
  return fd;
}

function dup3(t: Task, oldfd: number, newfd: number, flags: number): SyscallResult {
  if (flags & ~O_CLOEXEC) return EINVAL;
  if (oldfd === newfd) return EINVAL;
  if (newfd < 0 || newfd >= nofile(t)) return EBADF;
  const file = t.files!.get(oldfd);
  if (!file) return EBADF;
  const displaced = t.files!.replace(newfd, file.get(), (flags & O_CLOEXEC) !== 0);
  displaced?.put();
  return newfd;
}

/** dup2(2). @returns newfd, or EBADF (bad oldfd, newfd out of range). */
export function sysDup2(t: Task, a: SyscallArgs): SyscallResult {
  const oldfd = argInt(a, 0);
  const newfd = argInt(a, 1);
  if (oldfd === newfd) return t.files!.get(oldfd) ? newfd : EBADF;
  return dup3(t, oldfd, newfd, 0);
}

/** dup3(2). @returns newfd, or EINVAL (flags, oldfd == newfd), EBADF. */
export function sysDup3(t: Task, a: SyscallArgs): SyscallResult {
  return dup3(t, argInt(a, 0), argInt(a, 1), argInt(a, 2));
}

/** The flags F_SETFL may change (fs/fcntl.c SETFL_MASK). */
const SETFL_MASK = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

/**
 * fcntl(2): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL.
 * @returns per command, or EBADF, EINVAL (unknown command, F_DUPFD base out of range), EMFILE.
 */
export function sysFcntl(t: Task, a: SyscallArgs): SyscallResult {
  const fd = argInt(a, 0);
  const cmd = argInt(a, 1);
  const arg = argU64(a, 2);
  const e = t.files!.entry(fd);
  if (!e) return EBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      if (arg >= nofile(t)) return EINVAL;
      const nfd = t.files!.install(e.file.get(), cmd === F_DUPFD_CLOEXEC, nofile(t), arg);
      if (isErrno(nfd)) e.file.put();
      return nfd;
    }
    case F_GETFD:
      return e.cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
      e.cloexec = (arg & FD_CLOEXEC) !== 0;
      return 0;
    case F_GETFL:
      return e.file.flags;
    case F_SETFL:
      e.file.flags = (e.file.flags & ~SETFL_MASK) | (arg & SETFL_MASK);
      return 0;
    default:
      return EINVAL;
  }
}

/**
 * ioctl(2): the generic commands (FIOCLEX, FIONCLEX, FIONBIO) then the file's ->unlocked_ioctl.
 * @returns the driver's result, or EBADF, EFAULT, ENOTTY (no ->ioctl, or ENOIOCTLCMD from it).
 */
export function sysIoctl(t: Task, a: SyscallArgs, ctx?: SyscallCtx): SyscallResult {
  const fd = argInt(a, 0);
  const cmd = argUint(a, 1);
  const arg = argU64(a, 2);
  const e = t.files!.entry(fd);
  if (!e) return EBADF;
  const file: OpenFile = e.file;
  switch (cmd) {
    case FIOCLEX:
      e.cloexec = true;
      return 0;
    case FIONCLEX:
      e.cloexec = false;
      return 0;
    case FIONBIO: {
      const v = t.copyFromUser(arg, 4);
      if (isErrno(v)) return v;
      const on = new DataView(v.buffer).getInt32(0, true) !== 0;
      file.flags = on ? file.flags | O_NONBLOCK : file.flags & ~O_NONBLOCK;
      return 0;
    }
  }
  if (!file.fops.ioctl) return ENOTTY;
  const r = file.fops.ioctl(file, cmd, arg, t, ctx?.state);
  return r === ENOIOCTLCMD ? ENOTTY : r;
}
