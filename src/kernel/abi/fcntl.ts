/** open(2)/fcntl(2) constants (uAPI `asm-generic/fcntl.h`, x86-64 values). */

export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4000000 | O_DSYNC;
export const O_PATH = 0o10000000;
export const O_TMPFILE = 0o20000000 | O_DIRECTORY;

export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
/** F_LINUX_SPECIFIC_BASE (1024) + 6. */
export const F_DUPFD_CLOEXEC = 1030;
export const FD_CLOEXEC = 1;

/** openat(2) dirfd meaning "the current working directory". */
export const AT_FDCWD = -100;

/** Longest path the kernel copies in, including the NUL (include/uapi/linux/limits.h PATH_MAX). */
export const PATH_MAX = 4096;
