/**
 * struct file (an open file description), struct inode and struct file_operations. A description is shared
 * by dup(), fork() and SCM_RIGHTS, and every VMA mapping it holds a reference too (vma->vm_file), so
 * ->release runs only when the last fd and the last mapping are gone (fs/file_table.c fput()).
 */
import type { Errno } from '../abi/index';
import { O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY } from '../abi/index';
import type { Vma } from '../mm/vma';
import type { Task } from '../proc/task';
import type { Block } from '../sched/wait-queue';

/** f_mode bits (include/linux/fs.h). */
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;

/** f_flags of kernel-internal read-write files. */
export const O_RDWR_FLAGS = O_RDWR;

/** What an inode is, for /proc/<pid>/fd-style descriptions and S_IFMT checks. */
export type InodeKind = 'chr' | 'dir' | 'sock' | 'shmem';

/** struct inode, reduced to identity and the operations a node opens with. */
export interface Inode {
  readonly ino: number;
  /** Device of the filesystem holding the inode (s_dev), as [major, minor]. */
  readonly dev: readonly [number, number];
  readonly kind: InodeKind;
  /** Where the inode is reachable (the dentry path): "/dev/null", "socket:[12]", "/dev/zero (deleted)". */
  readonly path: string;
  /** For character devices: [major, minor] of the device itself (i_rdev). */
  readonly rdev?: readonly [number, number];
  readonly fops: FileOperations;
}

/** Result of a file operation that may sleep: a value, an Errno, or a request to block and retry. */
export type FileOpResult = number | Errno | Block;

/**
 * struct file_operations. Every method is optional; a missing one gives the VFS default errno (EINVAL for
 * read/write, ENOTTY for ioctl, ENODEV for mmap), as fs/read_write.c, fs/ioctl.c and mm/mmap.c do.
 */
export interface FileOperations {
  /** ->open: set up file.privateData. Return 0 or an Errno (the open fails and ->release is not called). */
  open?(inode: Inode, file: OpenFile, t: Task): 0 | Errno;
  /** ->release: the last reference (fd or mapping) is gone. */
  release?(inode: Inode, file: OpenFile): void;
  /** ->read: copy up to `count` bytes to user address `buf` (with t.copyToUser). */
  read?(file: OpenFile, t: Task, buf: number, count: number): FileOpResult;
  /** ->write: copy `count` bytes from user address `buf`. */
  write?(file: OpenFile, t: Task, buf: number, count: number): FileOpResult;
  /**
   * ->unlocked_ioctl: `arg` is the raw argument, usually a user pointer. ENOIOCTLCMD becomes ENOTTY. A handler that
   * returns a Block is run again when woken, with the same `state` object (what it keeps across the sleep).
   */
  ioctl?(file: OpenFile, cmd: number, arg: number, t: Task, state?: Record<string, unknown>): FileOpResult;
  /** ->mmap: set up `vma` (flags, ops, private data). Return 0 or an Errno. */
  mmap?(file: OpenFile, vma: Vma, t: Task): 0 | Errno;
  /** ->get_unmapped_area: pick (or veto) the address for a new mapping. */
  get_unmapped_area?(file: OpenFile, addr: number, len: number, pgoff: number, flags: number, t: Task): number | Errno;
}

/** struct file. */
export class OpenFile {
  /** f_count. */
  private refs = 1;
  /** f_pos. */
  pos = 0;
  /** private_data, for the driver. */
  privateData: unknown = undefined;
  released = false;

  constructor(
    readonly inode: Inode,
    /** f_flags: the open flags except O_CREAT/O_EXCL/O_NOCTTY/O_TRUNC and O_CLOEXEC (kept per fd). */
    public flags: number,
    /** A small id for snapshots, unique within one kernel. */
    readonly id: number,
    /** The kernel's set of live descriptions (for snapshots and leak checks); the file leaves it at release. */
    private readonly registry?: Set<OpenFile>,
  ) {
    registry?.add(this);
  }

  get fops(): FileOperations {
    return this.inode.fops;
  }

  /** f_mode from the access mode (fs/open.c OPEN_FMODE). O_ACCMODE 3 gives neither read nor write. */
  get mode(): number {
    switch (this.flags & O_ACCMODE) {
      case O_RDONLY:
        return FMODE_READ;
      case O_WRONLY:
        return FMODE_WRITE;
      case O_RDWR:
        return FMODE_READ | FMODE_WRITE;
      default:
        return 0;
    }
  }

  get refcount(): number {
    return this.refs;
  }

  /** get_file(). */
  get(): this {
    if (this.released) throw new Error(`get_file on released file ${this.inode.path}`);
    this.refs++;
    return this;
  }

  /** fput(): the last put runs ->release. */
  put(): void {
    if (this.refs <= 0) throw new Error(`fput underflow on ${this.inode.path}`);
    if (--this.refs === 0) {
      this.released = true;
      this.registry?.delete(this);
      this.fops.release?.(this.inode, this);
    }
  }
}
