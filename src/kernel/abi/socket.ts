/** Socket constants (uAPI `linux/socket.h`, `asm-generic/socket.h`, `linux/net.h`; x86-64 values). */

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_LOCAL = AF_UNIX;
export const AF_INET = 2;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
/** Type bits beyond this mask are flags (include/linux/net.h SOCK_TYPE_MASK). */
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
/** Most fds one SCM_RIGHTS message may carry (include/net/scm.h SCM_MAX_FD). */
export const SCM_MAX_FD = 253;

export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_EOR = 0x80;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** Default SO_SNDBUF/SO_RCVBUF: net.core.wmem_default = 212992 bytes on x86-64. */
export const SOCK_BUF_DEFAULT = 212992;
/** net.unix.max_dgram_qlen default. */
export const UNIX_MAX_DGRAM_QLEN = 10;
/** Longest iovec array (UIO_MAXIOV). */
export const UIO_MAXIOV = 1024;
