/**
 * The file side of a socket (net/socket.c sock_alloc_file(), socket_file_ops): read/write map to
 * recvmsg/sendmsg without control data, close releases the socket, FIONREAD/SIOCINQ reports queued bytes.
 */
import { EBADF, EINVAL, type Errno, FIONREAD, isErrno, O_RDWR } from '../abi/index';
import type { FileOperations, Inode, OpenFile } from '../fd/file';
import type { Kernel } from '../kernel';
import type { Task } from '../proc/task';
import { recvCommon, sendCommon } from '../syscalls/sys-socket';
import type { UnixSocket } from './unix-socket';

/** sockfs's s_dev. */
export const SOCKFS_DEV: readonly [number, number] = [0, 8];

export const socketFops: FileOperations = {
  release(_inode: Inode, file: OpenFile) {
    (file.privateData as UnixSocket).release();
  },
  read(file: OpenFile, t: Task, buf: number, count: number) {
    const r = recvCommon(t, file, [{ base: buf, len: count }], 0, undefined);
    // read() has no control buffer: passed files are dropped (scm_destroy()).
    for (const f of r.fds ?? []) f.put();
    return r.value;
  },
  write(file: OpenFile, t: Task, buf: number, count: number) {
    const data = t.copyFromUser(buf, count);
    if (isErrno(data)) return data;
    return sendCommon(t, file, data, null, 0, t.entry?.state ?? {});
  },
  ioctl(file: OpenFile, cmd: number, arg: number, t: Task): number | Errno {
    if (cmd !== FIONREAD) return EINVAL;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, (file.privateData as UnixSocket).inq(), true);
    return t.copyToUser(arg, b);
  },
};

/** sock_alloc_file(): an O_RDWR description whose private data is the socket. */
export function socketFile(k: Kernel, sock: UnixSocket, nonblock: boolean): OpenFile {
  const inode: Inode = { ino: sock.ino, dev: SOCKFS_DEV, kind: 'sock', path: `socket:[${sock.ino}]`, fops: socketFops };
  const f = k.newFile(inode, O_RDWR | (nonblock ? 0o4000 : 0));
  f.privateData = sock;
  return f;
}

/** sockfd_lookup(): the socket behind an fd, or EBADF / ENOTSOCK. */
export function sockOf(file: OpenFile | undefined): UnixSocket | Errno | undefined {
  if (!file) return EBADF;
  return file.inode.kind === 'sock' ? (file.privateData as UnixSocket) : undefined;
}
