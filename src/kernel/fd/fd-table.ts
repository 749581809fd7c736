/**
 * struct files_struct: the fd table (fs/file.c). Threads created with CLONE_FILES share one; fork() copies it,
 * taking a reference on every description. close-on-exec is per fd, the rest is per description.
 * Allocation takes the lowest free fd (alloc_fd()), bounded by RLIMIT_NOFILE.
 */
import { EBADF, EMFILE, type Errno } from '../abi/index';
import type { OpenFile } from './file';

export interface FdEntry {
  readonly file: OpenFile;
  cloexec: boolean;
}

export class FdTable {
  private readonly fds = new Map<number, FdEntry>();
  /** Tasks sharing this table (files_struct->count). */
  users = 1;

  /** The description behind `fd`, or undefined (fdget()). */
  get(fd: number): OpenFile | undefined {
    return this.fds.get(fd)?.file;
  }

  entry(fd: number): FdEntry | undefined {
    return this.fds.get(fd);
  }

  /** Open fds in ascending order. */
  list(): Array<[number, FdEntry]> {
    return [...this.fds.entries()].sort((a, b) => a[0] - b[0]);
  }

  get size(): number {
    return this.fds.size;
  }

  /**
   * alloc_fd() + fd_install(): the lowest free fd ≥ `minFd`, below `nofile` (RLIMIT_NOFILE). The table takes
   * over the caller's reference on `file`.
   * @returns the fd, or EMFILE.
   */
  install(file: OpenFile, cloexec: boolean, nofile: number, minFd = 0): number | Errno {
    let fd = minFd;
    while (this.fds.has(fd)) fd++;
    if (fd >= nofile) return EMFILE;
    this.fds.set(fd, { file, cloexec });
    return fd;
  }

  /**
   * Puts `file` at exactly `fd` (dup2/dup3), closing what was there. Takes over the caller's reference.
   * @returns the displaced description (the caller drops its reference after the table is consistent).
   */
  replace(fd: number, file: OpenFile, cloexec: boolean): OpenFile | undefined {
    const old = this.fds.get(fd)?.file;
    this.fds.set(fd, { file, cloexec });
    return old;
  }

  /** close_fd(): removes `fd` and returns its description (reference passed to the caller), or EBADF. */
  remove(fd: number): OpenFile | Errno {
    const e = this.fds.get(fd);
    if (!e) return EBADF;
    this.fds.delete(fd);
    return e.file;
  }

  /** dup_fd(): a copy for fork(), with a new reference on every description. */
  clone(): FdTable {
    const t = new FdTable();
    for (const [fd, e] of this.fds) t.fds.set(fd, { file: e.file.get(), cloexec: e.cloexec });
    return t;
  }

  /** Drops every fd (exit_files() for the last user). */
  closeAll(): void {
    const entries = this.list();
    this.fds.clear();
    for (const [, e] of entries) e.file.put();
  }
}
