/**
 * A minimal VFS: a read-only tree of directories and device nodes registered by drivers (devtmpfs-style),
 * path walking (fs/namei.c) and the open() checks on the final node. There are no regular files: creating
 * one fails with EROFS, as on a read-only root.
 */
import {
  EEXIST,
  EISDIR,
  ENAMETOOLONG,
  ENOENT,
  ENOTDIR,
  EROFS,
  type Errno,
  O_ACCMODE,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_RDONLY,
  O_TMPFILE,
  PATH_MAX,
} from '../abi/index';
import type { FileOperations, Inode } from './file';

/** devtmpfs's s_dev: /dev nodes show "00:05" in /proc/<pid>/maps. */
export const DEVTMPFS_DEV: readonly [number, number] = [0, 5];
const ROOTFS_DEV: readonly [number, number] = [0, 2];

/** Options of a device node. */
export interface DeviceOpts {
  /** [major, minor] of the device (misc devices are major 10). */
  readonly rdev?: readonly [number, number];
}

const dirFops: FileOperations = {};

export class Vfs {
  private readonly nodes = new Map<string, Inode>();
  private nextIno = 2;

  constructor() {
    this.nodes.set('/', { ino: 1, dev: ROOTFS_DEV, kind: 'dir', path: '/', fops: dirFops });
  }

  /** A fresh inode number (get_next_ino()), also used for sockets and shmem files. */
  allocIno(): number {
    return this.nextIno++;
  }

  /**
   * Registers a character device at an absolute path, creating its parent directories
   * (misc_register() + devtmpfs). Throws on a duplicate path: that is a driver bug, not a user error.
   */
  registerDevice(path: string, fops: FileOperations, opts: DeviceOpts = {}): Inode {
    const norm = normalize(path);
    if (norm === undefined || norm === '/') throw new Error(`registerDevice: bad path ${path}`);
    if (this.nodes.has(norm)) throw new Error(`registerDevice: ${norm} already exists`);
    const parts = norm.split('/').filter(Boolean);
    let dir = '';
    for (const p of parts.slice(0, -1)) {
      dir += `/${p}`;
      const n = this.nodes.get(dir);
      if (n && n.kind !== 'dir') throw new Error(`registerDevice: ${dir} is not a directory`);
      if (!n) this.nodes.set(dir, { ino: this.allocIno(), dev: DEVTMPFS_DEV, kind: 'dir', path: dir, fops: dirFops });
    }
    const inode: Inode = { ino: this.allocIno(), dev: DEVTMPFS_DEV, kind: 'chr', path: norm, rdev: opts.rdev, fops };
    this.nodes.set(norm, inode);
    return inode;
  }

  /** Removes a device node (misc_deregister()); open files keep working. */
  unregisterDevice(path: string): boolean {
    const norm = normalize(path);
    return norm !== undefined && this.nodes.get(norm)?.kind === 'chr' && this.nodes.delete(norm);
  }

  /** Every node path, sorted (for listings). */
  paths(): string[] {
    return [...this.nodes.keys()].sort();
  }

  /**
   * path_openat()'s lookup and the checks on the final component.
   * @returns the inode, or: ENAMETOOLONG, ENOENT (missing node, or empty path), ENOTDIR (a file used as a
   *   directory, or O_DIRECTORY on a device), EEXIST (O_CREAT|O_EXCL on an existing node), EROFS (creating a
   *   file), EISDIR (opening a directory for writing).
   */
  lookupForOpen(path: string, flags: number): Inode | Errno {
    if (path.length >= PATH_MAX) return ENAMETOOLONG;
    if (path.length === 0) return ENOENT;
    const abs = path.startsWith('/') ? path : `/${path}`;
    const parts = abs.split('/').filter((p) => p !== '' && p !== '.');
    const stack: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.length > 255) return ENAMETOOLONG;
      if (p === '..') {
        stack.pop();
        continue;
      }
      stack.push(p);
      const cur = `/${stack.join('/')}`;
      const node = this.nodes.get(cur);
      const last = i === parts.length - 1;
      if (!node) {
        if (last && flags & O_CREAT) return EROFS;
        return ENOENT;
      }
      if (!last && node.kind !== 'dir') return ENOTDIR;
    }
    const final = this.nodes.get(stack.length ? `/${stack.join('/')}` : '/')!;
    if (abs.endsWith('/') && final.kind !== 'dir') return ENOTDIR;
    if ((flags & O_TMPFILE) === O_TMPFILE) return EROFS;
    if (flags & O_CREAT && flags & O_EXCL) return EEXIST;
    if (final.kind === 'dir') {
      if (flags & O_CREAT) return EISDIR;
      if ((flags & O_ACCMODE) !== O_RDONLY) return EISDIR;
    } else if (flags & O_DIRECTORY) {
      return ENOTDIR;
    }
    return final;
  }
}

function normalize(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return undefined;
  return `/${parts.join('/')}`;
}
