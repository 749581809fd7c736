/**
 * Socket syscalls for AF_UNIX pairs (net/socket.c __sys_socketpair(), ____sys_sendmsg(),
 * ____sys_recvmsg(), __sys_shutdown(); net/unix/af_unix.c).
 */
import { decode, encodeInto } from '../../hw/index';
import {
  AF_INET,
  AF_UNIX,
  EAFNOSUPPORT,
  EAGAIN,
  EFAULT,
  EINVAL,
  EISCONN,
  EMFILE,
  ENOBUFS,
  ENOTSOCK,
  EOPNOTSUPP,
  EPIPE,
  EPROTONOSUPPORT,
  ERESTARTSYS,
  type Errno,
  ESOCKTNOSUPPORT,
  isErrno,
  MSG_CMSG_CLOEXEC,
  MSG_DONTWAIT,
  MSG_OOB,
  MSG_PEEK,
  MSG_TRUNC,
  MSG_WAITALL,
  MSGHDR,
  O_NONBLOCK,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SOCK_TYPE_MASK,
} from '../abi/index';
import type { OpenFile } from '../fd/file';
import { IovIter, importIovec } from '../net/iov';
import { scmDetachFds, scmSend } from '../net/scm';
import { socketFile, sockOf } from '../net/socket-file';
import { UnixSocket } from '../net/unix-socket';
import type { Task } from '../proc/task';
import { type Block, block, isBlock } from '../sched/wait-queue';
import { argInt, argU64 } from './args';
import { nofile } from './sys-file';
import type { SyscallArgs, SyscallCtx, SyscallResult } from './types';

/** NPROTO: address families above this are EAFNOSUPPORT before any lookup. */
const NPROTO = 46;

/**
 * socketpair(2).
 * @returns 0 with the two fds in sv[0], sv[1], or: EINVAL (unknown SOCK_* flags), EMFILE, EFAULT (sv),
 *   EAFNOSUPPORT (family), EOPNOTSUPP (AF_INET has no pairs), EPROTONOSUPPORT (protocol), ESOCKTNOSUPPORT.
 */
export function sysSocketpair(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const family = argInt(a, 0);
  let type = argInt(a, 1);
  const protocol = argInt(a, 2);
  const sv = argU64(a, 3);
  const flags = type & ~SOCK_TYPE_MASK;
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return EINVAL;
  type &= SOCK_TYPE_MASK;
  // get_unused_fd_flags() twice, then put_user() of both, before the sockets exist.
  const files = t.files!;
  const limit = nofile(t);
  const free: number[] = [];
  for (let fd = 0; free.length < 2; fd++) {
    if (fd >= limit) return EMFILE;
    if (!files.get(fd)) free.push(fd);
  }
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, free[0]!, true);
  dv.setInt32(4, free[1]!, true);
  if (t.copyToUser(sv, out) !== 0) return EFAULT;
  // sock_create(): family, then the family's ->create (unix_create()).
  if (family < 0 || family >= NPROTO) return EAFNOSUPPORT;
  if (family === AF_INET) return EOPNOTSUPP;
  if (family !== AF_UNIX) return EAFNOSUPPORT;
  if (protocol !== 0 && protocol !== AF_UNIX) return EPROTONOSUPPORT;
  let stype: number;
  switch (type) {
    case SOCK_STREAM:
    case SOCK_SEQPACKET:
    case SOCK_DGRAM:
      stype = type;
      break;
    case SOCK_RAW:
      // unix_create(): "case SOCK_RAW: sock->type = SOCK_DGRAM;"
      stype = SOCK_DGRAM;
      break;
    default:
      return ESOCKTNOSUPPORT;
  }
  const k = ctx.k;
  const s1 = new UnixSocket(stype, k.vfs.allocIno());
  const s2 = new UnixSocket(stype, k.vfs.allocIno());
  s1.peer = s2;
  s2.peer = s1;
  const nonblock = (flags & SOCK_NONBLOCK) !== 0;
  const cloexec = (flags & SOCK_CLOEXEC) !== 0;
  files.install(socketFile(k, s1, nonblock), cloexec, limit, free[0]);
  files.install(socketFile(k, s2, nonblock), cloexec, limit, free[1]);
  return 0;
}

/** The parsed user_msghdr. */
interface MsgHdr {
  readonly name: number;
  readonly namelen: number;
  readonly iov: number;
  readonly iovlen: number;
  readonly control: number;
  readonly controllen: number;
}

function copyMsghdr(t: Task, addr: number): MsgHdr | Errno {
  const raw = t.copyFromUser(addr, MSGHDR.size);
  if (isErrno(raw)) return raw;
  const m = decode(MSGHDR, raw);
  return {
    name: Number(m.msg_name),
    namelen: m.msg_namelen,
    iov: Number(m.msg_iov),
    iovlen: Number(m.msg_iovlen),
    control: Number(m.msg_control),
    controllen: Number(m.msg_controllen),
  };
}

/** Socket send used by sendmsg(2) and write(2). */
export function sendCommon(
  t: Task,
  file: OpenFile,
  data: Uint8Array,
  fds: OpenFile[] | null,
  flags: number,
  st: Record<string, unknown>,
): number | Errno | Block {
  const sock = file.privateData as UnixSocket;
  if (flags & MSG_OOB) {
    // unix_stream_sendmsg(): the last byte goes out of band (CONFIG_AF_UNIX_OOB); records have no OOB.
    if (!sock.isStream || data.length === 0) {
      for (const f of fds ?? []) f.put();
      return EOPNOTSUPP;
    }
    const head = data.subarray(0, data.length - 1);
    const r = head.length > 0 ? sock.sendStream(t, file, head, fds, flags & ~MSG_OOB, st) : 0;
    if (typeof r !== 'number' || r < head.length) return r;
    const peer = sock.peer;
    if (!peer || peer.dead || peer.shutdown & 1) return r > 0 ? r : EPIPE;
    sock.queueOob(data.subarray(data.length - 1), head.length === 0 ? fds : null);
    return data.length;
  }
  if (sock.isStream) return sock.sendStream(t, file, data, fds, flags, st);
  return sock.sendRecord(t, file, data, fds, flags);
}

/**
 * sendmsg(2).
 * @returns bytes sent, or EBADF, ENOTSOCK, EFAULT, EMSGSIZE (iovlen > UIO_MAXIOV, record too big), ENOBUFS
 *   (controllen > INT_MAX), EINVAL (cmsg), EISCONN (a name on a connected stream), EOPNOTSUPP (MSG_OOB),
 *   EPIPE, ECONNREFUSED, ENOTCONN, EAGAIN, EINTR.
 */
export function sysSendmsg(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const fd = argInt(a, 0);
  const msgAddr = argU64(a, 1);
  const flags = argInt(a, 2) >>> 0;
  const file = t.files!.get(fd);
  const sock = sockOf(file);
  if (isErrno(sock)) return sock;
  if (!sock) return ENOTSOCK;
  const m = copyMsghdr(t, msgAddr);
  if (isErrno(m)) return m;
  const iov = importIovec(t, m.iov, m.iovlen);
  if (isErrno(iov)) return iov;
  if (m.controllen > 0x7fffffff) return ENOBUFS;
  let fds: OpenFile[] | null = null;
  if (m.controllen > 0) {
    const control = t.copyFromUser(m.control, m.controllen);
    if (isErrno(control)) return control;
    const r = scmSend(t, control);
    if (isErrno(r)) return r;
    fds = r.length ? r : null;
  }
  const drop = () => {
    for (const f of fds ?? []) f.put();
  };
  if (m.namelen) {
    drop();
    if (sock.isStream) return EISCONN;
    return m.namelen < 2 ? EINVAL : EISCONN;
  }
  const data = iov.copyIn(t);
  if (isErrno(data)) {
    drop();
    return data;
  }
  return sendCommon(t, file!, data, fds, flags, ctx.state);
}

/** Result of a receive into an iovec: bytes, msg_flags and the files to install. */
interface Received {
  readonly value: number | Errno | Block;
  readonly msgFlags?: number;
  readonly fds?: OpenFile[];
}

/** Socket receive used by recvmsg(2) and read(2); writes the payload into `segs`. */
export function recvCommon(
  t: Task,
  file: OpenFile,
  segs: ReadonlyArray<{ base: number; len: number }>,
  flags: number,
  stIn: Record<string, unknown> | undefined,
): Received {
  const st = stIn ?? t.entry?.state ?? {};
  const sock = file.privateData as UnixSocket;
  const iov = new IovIter(segs);
  const size = iov.total;
  const peek = (flags & MSG_PEEK) !== 0;
  const nonblock = (flags & MSG_DONTWAIT) !== 0 || (file.flags & O_NONBLOCK) !== 0;
  if (flags & MSG_OOB) {
    if (!sock.isStream) return { value: EOPNOTSUPP };
    const b = sock.readOob(peek);
    if (isErrno(b)) return { value: b };
    const w = size > 0 ? iov.copyOut(t, 0, b) : 0;
    if (w !== 0) return { value: w };
    return { value: Math.min(1, size), msgFlags: MSG_OOB };
  }
  if (!sock.isStream) {
    const r = sock.readRecord(size, peek);
    if (!r) {
      const e = sock.takeError();
      if (e) return { value: e };
      if (sock.shutdown & 1) return { value: 0 };
      if (nonblock) return { value: EAGAIN };
      return { value: block(sock.wq) };
    }
    const w = iov.copyOut(t, 0, r.data);
    if (w !== 0) {
      for (const f of r.fds) f.put();
      return { value: w };
    }
    return { value: flags & MSG_TRUNC ? r.recordLen : r.data.length, msgFlags: r.msgFlags, fds: r.fds };
  }
  // unix_stream_read_generic(): target 1 byte, or all of it with MSG_WAITALL.
  const target = flags & MSG_WAITALL ? size : Math.min(1, size);
  let copied = (st.copied as number | undefined) ?? 0;
  const r = sock.readStream(size - copied, peek);
  if (r.data.length > 0) {
    const w = iov.copyOut(t, copied, r.data);
    if (w !== 0) {
      for (const f of r.fds) f.put();
      return { value: copied > 0 ? copied : w };
    }
    copied += r.data.length;
    st.copied = copied;
  }
  const done = (): Received => ({ value: copied, msgFlags: 0, fds: r.fds });
  if (r.fds.length > 0 || copied >= target || size === 0) return done();
  if (peek && copied > 0) return done();
  const e = sock.queue.length === 0 ? sock.takeError() : null;
  if (e) return copied > 0 ? done() : { value: e };
  if (sock.shutdown & 1) return done();
  if (nonblock) return copied > 0 ? done() : { value: EAGAIN };
  if (t.signalPending()) return copied > 0 ? done() : { value: ERESTARTSYS };
  return { value: block(sock.wq) };
}

/**
 * recvmsg(2): payload into msg_iov, SCM_RIGHTS into msg_control, and msg_flags / msg_controllen /
 * msg_namelen written back.
 * @returns bytes received (0 at EOF), or EBADF, ENOTSOCK, EFAULT, EMSGSIZE, EOPNOTSUPP (MSG_OOB), EAGAIN,
 *   ECONNRESET, EINTR.
 */
export function sysRecvmsg(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const fd = argInt(a, 0);
  const msgAddr = argU64(a, 1);
  const flags = argInt(a, 2) >>> 0;
  const file = t.files!.get(fd);
  const sock = sockOf(file);
  if (isErrno(sock)) return sock;
  if (!sock) return ENOTSOCK;
  const m = copyMsghdr(t, msgAddr);
  if (isErrno(m)) return m;
  const iov = importIovec(t, m.iov, m.iovlen);
  if (isErrno(iov)) return iov;
  const r = recvCommon(t, file!, iov.segs, flags, ctx.state);
  if (isBlock(r.value) || isErrno(r.value)) return r.value;
  // msg_flags starts as flags & MSG_CMSG_CLOEXEC (____sys_recvmsg()).
  let msgFlags = (flags & MSG_CMSG_CLOEXEC) | (r.msgFlags ?? 0);
  let controlUsed = 0;
  if (r.fds && r.fds.length > 0) {
    const d = scmDetachFds(t, r.fds, m.control, m.controllen, flags);
    if (isErrno(d)) return d;
    controlUsed = d.controlUsed;
    msgFlags |= d.msgFlags;
  }
  const back = new Uint8Array(MSGHDR.size);
  const raw = t.copyFromUser(msgAddr, MSGHDR.size);
  if (isErrno(raw)) return raw;
  back.set(raw);
  // An unnamed peer: msg_namelen becomes 0, but only when a name buffer was given (move_addr_to_user()).
  if (m.name) encodeInto(MSGHDR, { msg_namelen: 0 }, back);
  encodeInto(MSGHDR, { msg_controllen: BigInt(controlUsed), msg_flags: msgFlags >>> 0 }, back);
  const e = t.copyToUser(msgAddr, back);
  if (e !== 0) return e;
  return r.value;
}

/** shutdown(2). @returns 0, or EBADF, ENOTSOCK, EINVAL (how). */
export function sysShutdown(t: Task, a: SyscallArgs): SyscallResult {
  const file = t.files!.get(argInt(a, 0));
  const how = argInt(a, 1);
  const sock = sockOf(file);
  if (isErrno(sock)) return sock;
  if (!sock) return ENOTSOCK;
  if (how < 0 || how > 2) return EINVAL;
  sock.doShutdown(how);
  return 0;
}
