/**
 * SCM_RIGHTS: parsing the sender's control messages (net/core/scm.c __scm_send(), scm_fp_copy()) and
 * installing received descriptors (scm_detach_fds()). The passed fds share the sender's open file
 * descriptions: each in-flight reference is a real reference on the description.
 */
import { decode, encode } from '../../hw/index';
import {
  CMSG_ALIGN,
  CMSG_LEN,
  CMSG_SPACE,
  CMSGHDR,
  EBADF,
  EINVAL,
  type Errno,
  isErrno,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  SCM_CREDENTIALS,
  SCM_MAX_FD,
  SCM_RIGHTS,
  SOL_SOCKET,
} from '../abi/index';
import type { OpenFile } from '../fd/file';
import type { Task } from '../proc/task';
import { nofile } from '../syscalls/sys-file';

/**
 * __scm_send(): walks the cmsgs of `control`. SCM_RIGHTS fds are fget() (one reference each; the caller
 * drops them if the message is not sent). Other levels are skipped, as Linux does.
 * @returns the files (possibly empty), or EINVAL (malformed cmsg, more than SCM_MAX_FD fds, unknown
 *   SOL_SOCKET type, bad SCM_CREDENTIALS length), EBADF (an fd is not open).
 */
export function scmSend(t: Task, control: Uint8Array): OpenFile[] | Errno {
  const fds: OpenFile[] = [];
  const fail = (e: Errno): Errno => {
    for (const f of fds) f.put();
    return e;
  };
  let off = 0;
  while (control.length - off >= CMSGHDR.size) {
    const h = decode(CMSGHDR, control, off);
    const len = Number(h.cmsg_len);
    // CMSG_OK(): the header fits and the length does not run past the buffer.
    if (len < CMSGHDR.size || len > control.length - off) return fail(EINVAL);
    if (h.cmsg_level === SOL_SOCKET) {
      switch (h.cmsg_type) {
        case SCM_RIGHTS: {
          const n = Math.floor((len - CMSG_ALIGN(CMSGHDR.size)) / 4);
          if (n <= 0) break;
          if (n + fds.length > SCM_MAX_FD) return fail(EINVAL);
          const dv = new DataView(control.buffer, control.byteOffset + off + CMSG_ALIGN(CMSGHDR.size), n * 4);
          for (let i = 0; i < n; i++) {
            const f = t.fget(dv.getInt32(i * 4, true));
            if (!f) return fail(EBADF);
            fds.push(f);
          }
          break;
        }
        case SCM_CREDENTIALS:
          // Accepted (we run as root, so any credentials are allowed) but not passed on: SO_PASSCRED is not modelled.
          if (len !== CMSG_LEN(12)) return fail(EINVAL);
          break;
        default:
          return fail(EINVAL);
      }
    }
    off += CMSG_ALIGN(len);
  }
  return fds;
}

/** The outcome of scm_detach_fds(): control bytes written and flags for msg_flags. */
export interface ScmRecv {
  readonly controlUsed: number;
  readonly msgFlags: number;
}

/**
 * scm_detach_fds(): installs as many of `files` as fit in the caller's control buffer (and fd table),
 * writes one SCM_RIGHTS cmsg, and drops the in-flight references. MSG_CTRUNC when some did not fit.
 * @returns the bytes of control used and MSG_CTRUNC if set, or EFAULT from writing the header.
 */
export function scmDetachFds(
  t: Task,
  files: readonly OpenFile[],
  control: number,
  controllen: number,
  flags: number,
): ScmRecv | Errno {
  let msgFlags = 0;
  if (!control) {
    for (const f of files) f.put();
    return { controlUsed: 0, msgFlags: files.length ? MSG_CTRUNC : 0 };
  }
  const fdmax = controllen <= CMSGHDR.size ? 0 : Math.min(Math.floor((controllen - CMSGHDR.size) / 4), files.length);
  const cloexec = (flags & MSG_CMSG_CLOEXEC) !== 0;
  const installed: number[] = [];
  let i = 0;
  for (; i < fdmax; i++) {
    // receive_fd(): a new fd for the same description, or stop at EMFILE / EFAULT.
    const fd = t.files!.install(files[i]!.get(), cloexec, nofile(t));
    if (isErrno(fd)) {
      files[i]!.put();
      break;
    }
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, fd, true);
    if (t.copyToUser(control + CMSGHDR.size + i * 4, b) !== 0) {
      const f = t.files!.remove(fd);
      if (!isErrno(f)) f.put();
      break;
    }
    installed.push(fd);
  }
  let used = 0;
  if (i > 0) {
    const hdr = encode(CMSGHDR, { cmsg_len: BigInt(CMSG_LEN(i * 4)), cmsg_level: SOL_SOCKET, cmsg_type: SCM_RIGHTS });
    const e = t.copyToUser(control, hdr);
    if (e === 0) used = Math.min(CMSG_SPACE(i * 4), controllen);
  }
  if (i < files.length || (files.length > 0 && fdmax <= 0)) msgFlags |= MSG_CTRUNC;
  for (const f of files) f.put();
  return { controlUsed: used, msgFlags };
}
