/**
 * Linux errno values (uAPI `asm-generic/errno-base.h` and `asm-generic/errno.h`) as frozen singletons,
 * modelled on gVisor's `linuxerr`: each has the Linux name, number and the glibc strerror() message.
 * Kernel code returns these objects; the syscall entry (syscalls/entry.ts) is the one place that turns one
 * into the `-errno` a process sees. test/kernel/abi/errno.test.ts checks every number against the header.
 */

/** One errno value. Compare by identity (`e === EINVAL`) or with {@link Errno.equals}. */
export class Errno {
  /** @internal use {@link errno} */
  constructor(
    readonly name: string,
    readonly number: number,
    readonly message: string,
    /** Kernel-internal codes (include/linux/errno.h) never reach user space. */
    readonly internal = false,
  ) {
    Object.freeze(this);
  }

  equals(other: unknown): boolean {
    return other instanceof Errno && other.number === this.number;
  }

  toString(): string {
    return `${this.name} (${this.number}): ${this.message}`;
  }

  toJSON(): { name: string; number: number } {
    return { name: this.name, number: this.number };
  }
}

const BY_NUMBER = new Map<number, Errno>();

function errno(name: string, n: number, message: string, internal = false): Errno {
  const e = new Errno(name, n, message, internal);
  if (!BY_NUMBER.has(n)) BY_NUMBER.set(n, e);
  return e;
}

/** True when `x` is an Errno singleton. */
export function isErrno(x: unknown): x is Errno {
  return x instanceof Errno;
}

/** The Errno with this number, or undefined. */
export function errnoFromNumber(n: number): Errno | undefined {
  return BY_NUMBER.get(n);
}

/** Every user-visible errno, ascending by number. */
export function allErrnos(): Errno[] {
  return [...BY_NUMBER.values()].filter((e) => !e.internal).sort((a, b) => a.number - b.number);
}

/**
 * Raw-syscall return convention (the x86-64 ABI: RAX in [-4095, -1] is -errno).
 * @returns the Errno a raw return value encodes, or undefined for a success value.
 */
export function errnoOfReturn(ret: number): Errno | undefined {
  if (ret < 0 && ret >= -4095) return BY_NUMBER.get(-ret);
  return undefined;
}

/** True when a raw syscall return value is an error (-4095..-1), as glibc's INTERNAL_SYSCALL_ERROR_P. */
export function isErrorReturn(ret: number): boolean {
  return ret < 0 && ret >= -4095;
}

export const EPERM = errno('EPERM', 1, 'Operation not permitted');
export const ENOENT = errno('ENOENT', 2, 'No such file or directory');
export const ESRCH = errno('ESRCH', 3, 'No such process');
export const EINTR = errno('EINTR', 4, 'Interrupted system call');
export const EIO = errno('EIO', 5, 'Input/output error');
export const ENXIO = errno('ENXIO', 6, 'No such device or address');
export const E2BIG = errno('E2BIG', 7, 'Argument list too long');
export const ENOEXEC = errno('ENOEXEC', 8, 'Exec format error');
export const EBADF = errno('EBADF', 9, 'Bad file descriptor');
export const ECHILD = errno('ECHILD', 10, 'No child processes');
export const EAGAIN = errno('EAGAIN', 11, 'Resource temporarily unavailable');
export const ENOMEM = errno('ENOMEM', 12, 'Cannot allocate memory');
export const EACCES = errno('EACCES', 13, 'Permission denied');
export const EFAULT = errno('EFAULT', 14, 'Bad address');
export const ENOTBLK = errno('ENOTBLK', 15, 'Block device required');
export const EBUSY = errno('EBUSY', 16, 'Device or resource busy');
export const EEXIST = errno('EEXIST', 17, 'File exists');
export const EXDEV = errno('EXDEV', 18, 'Invalid cross-device link');
export const ENODEV = errno('ENODEV', 19, 'No such device');
export const ENOTDIR = errno('ENOTDIR', 20, 'Not a directory');
export const EISDIR = errno('EISDIR', 21, 'Is a directory');
export const EINVAL = errno('EINVAL', 22, 'Invalid argument');
export const ENFILE = errno('ENFILE', 23, 'Too many open files in system');
export const EMFILE = errno('EMFILE', 24, 'Too many open files');
export const ENOTTY = errno('ENOTTY', 25, 'Inappropriate ioctl for device');
export const ETXTBSY = errno('ETXTBSY', 26, 'Text file busy');
export const EFBIG = errno('EFBIG', 27, 'File too large');
export const ENOSPC = errno('ENOSPC', 28, 'No space left on device');
export const ESPIPE = errno('ESPIPE', 29, 'Illegal seek');
export const EROFS = errno('EROFS', 30, 'Read-only file system');
export const EMLINK = errno('EMLINK', 31, 'Too many links');
export const EPIPE = errno('EPIPE', 32, 'Broken pipe');
export const EDOM = errno('EDOM', 33, 'Numerical argument out of domain');
export const ERANGE = errno('ERANGE', 34, 'Numerical result out of range');
export const EDEADLK = errno('EDEADLK', 35, 'Resource deadlock avoided');
export const ENAMETOOLONG = errno('ENAMETOOLONG', 36, 'File name too long');
export const ENOLCK = errno('ENOLCK', 37, 'No locks available');
export const ENOSYS = errno('ENOSYS', 38, 'Function not implemented');
export const ENOTEMPTY = errno('ENOTEMPTY', 39, 'Directory not empty');
export const ELOOP = errno('ELOOP', 40, 'Too many levels of symbolic links');
export const ENOMSG = errno('ENOMSG', 42, 'No message of desired type');
export const EIDRM = errno('EIDRM', 43, 'Identifier removed');
export const ECHRNG = errno('ECHRNG', 44, 'Channel number out of range');
export const EL2NSYNC = errno('EL2NSYNC', 45, 'Level 2 not synchronized');
export const EL3HLT = errno('EL3HLT', 46, 'Level 3 halted');
export const EL3RST = errno('EL3RST', 47, 'Level 3 reset');
export const ELNRNG = errno('ELNRNG', 48, 'Link number out of range');
export const EUNATCH = errno('EUNATCH', 49, 'Protocol driver not attached');
export const ENOCSI = errno('ENOCSI', 50, 'No CSI structure available');
export const EL2HLT = errno('EL2HLT', 51, 'Level 2 halted');
export const EBADE = errno('EBADE', 52, 'Invalid exchange');
export const EBADR = errno('EBADR', 53, 'Invalid request descriptor');
export const EXFULL = errno('EXFULL', 54, 'Exchange full');
export const ENOANO = errno('ENOANO', 55, 'No anode');
export const EBADRQC = errno('EBADRQC', 56, 'Invalid request code');
export const EBADSLT = errno('EBADSLT', 57, 'Invalid slot');
export const EBFONT = errno('EBFONT', 59, 'Bad font file format');
export const ENOSTR = errno('ENOSTR', 60, 'Device not a stream');
export const ENODATA = errno('ENODATA', 61, 'No data available');
export const ETIME = errno('ETIME', 62, 'Timer expired');
export const ENOSR = errno('ENOSR', 63, 'Out of streams resources');
export const ENONET = errno('ENONET', 64, 'Machine is not on the network');
export const ENOPKG = errno('ENOPKG', 65, 'Package not installed');
export const EREMOTE = errno('EREMOTE', 66, 'Object is remote');
export const ENOLINK = errno('ENOLINK', 67, 'Link has been severed');
export const EADV = errno('EADV', 68, 'Advertise error');
export const ESRMNT = errno('ESRMNT', 69, 'Srmount error');
export const ECOMM = errno('ECOMM', 70, 'Communication error on send');
export const EPROTO = errno('EPROTO', 71, 'Protocol error');
export const EMULTIHOP = errno('EMULTIHOP', 72, 'Multihop attempted');
export const EDOTDOT = errno('EDOTDOT', 73, 'RFS specific error');
export const EBADMSG = errno('EBADMSG', 74, 'Bad message');
export const EOVERFLOW = errno('EOVERFLOW', 75, 'Value too large for defined data type');
export const ENOTUNIQ = errno('ENOTUNIQ', 76, 'Name not unique on network');
export const EBADFD = errno('EBADFD', 77, 'File descriptor in bad state');
export const EREMCHG = errno('EREMCHG', 78, 'Remote address changed');
export const ELIBACC = errno('ELIBACC', 79, 'Can not access a needed shared library');
export const ELIBBAD = errno('ELIBBAD', 80, 'Accessing a corrupted shared library');
export const ELIBSCN = errno('ELIBSCN', 81, '.lib section in a.out corrupted');
export const ELIBMAX = errno('ELIBMAX', 82, 'Attempting to link in too many shared libraries');
export const ELIBEXEC = errno('ELIBEXEC', 83, 'Cannot exec a shared library directly');
export const EILSEQ = errno('EILSEQ', 84, 'Invalid or incomplete multibyte or wide character');
export const ERESTART = errno('ERESTART', 85, 'Interrupted system call should be restarted');
export const ESTRPIPE = errno('ESTRPIPE', 86, 'Streams pipe error');
export const EUSERS = errno('EUSERS', 87, 'Too many users');
export const ENOTSOCK = errno('ENOTSOCK', 88, 'Socket operation on non-socket');
export const EDESTADDRREQ = errno('EDESTADDRREQ', 89, 'Destination address required');
export const EMSGSIZE = errno('EMSGSIZE', 90, 'Message too long');
export const EPROTOTYPE = errno('EPROTOTYPE', 91, 'Protocol wrong type for socket');
export const ENOPROTOOPT = errno('ENOPROTOOPT', 92, 'Protocol not available');
export const EPROTONOSUPPORT = errno('EPROTONOSUPPORT', 93, 'Protocol not supported');
export const ESOCKTNOSUPPORT = errno('ESOCKTNOSUPPORT', 94, 'Socket type not supported');
export const EOPNOTSUPP = errno('EOPNOTSUPP', 95, 'Operation not supported');
export const EPFNOSUPPORT = errno('EPFNOSUPPORT', 96, 'Protocol family not supported');
export const EAFNOSUPPORT = errno('EAFNOSUPPORT', 97, 'Address family not supported by protocol');
export const EADDRINUSE = errno('EADDRINUSE', 98, 'Address already in use');
export const EADDRNOTAVAIL = errno('EADDRNOTAVAIL', 99, 'Cannot assign requested address');
export const ENETDOWN = errno('ENETDOWN', 100, 'Network is down');
export const ENETUNREACH = errno('ENETUNREACH', 101, 'Network is unreachable');
export const ENETRESET = errno('ENETRESET', 102, 'Network dropped connection on reset');
export const ECONNABORTED = errno('ECONNABORTED', 103, 'Software caused connection abort');
export const ECONNRESET = errno('ECONNRESET', 104, 'Connection reset by peer');
export const ENOBUFS = errno('ENOBUFS', 105, 'No buffer space available');
export const EISCONN = errno('EISCONN', 106, 'Transport endpoint is already connected');
export const ENOTCONN = errno('ENOTCONN', 107, 'Transport endpoint is not connected');
export const ESHUTDOWN = errno('ESHUTDOWN', 108, 'Cannot send after transport endpoint shutdown');
export const ETOOMANYREFS = errno('ETOOMANYREFS', 109, 'Too many references: cannot splice');
export const ETIMEDOUT = errno('ETIMEDOUT', 110, 'Connection timed out');
export const ECONNREFUSED = errno('ECONNREFUSED', 111, 'Connection refused');
export const EHOSTDOWN = errno('EHOSTDOWN', 112, 'Host is down');
export const EHOSTUNREACH = errno('EHOSTUNREACH', 113, 'No route to host');
export const EALREADY = errno('EALREADY', 114, 'Operation already in progress');
export const EINPROGRESS = errno('EINPROGRESS', 115, 'Operation now in progress');
export const ESTALE = errno('ESTALE', 116, 'Stale file handle');
export const EUCLEAN = errno('EUCLEAN', 117, 'Structure needs cleaning');
export const ENOTNAM = errno('ENOTNAM', 118, 'Not a XENIX named type file');
export const ENAVAIL = errno('ENAVAIL', 119, 'No XENIX semaphores available');
export const EISNAM = errno('EISNAM', 120, 'Is a named type file');
export const EREMOTEIO = errno('EREMOTEIO', 121, 'Remote I/O error');
export const EDQUOT = errno('EDQUOT', 122, 'Disk quota exceeded');
export const ENOMEDIUM = errno('ENOMEDIUM', 123, 'No medium found');
export const EMEDIUMTYPE = errno('EMEDIUMTYPE', 124, 'Wrong medium type');
export const ECANCELED = errno('ECANCELED', 125, 'Operation canceled');
export const ENOKEY = errno('ENOKEY', 126, 'Required key not available');
export const EKEYEXPIRED = errno('EKEYEXPIRED', 127, 'Key has expired');
export const EKEYREVOKED = errno('EKEYREVOKED', 128, 'Key has been revoked');
export const EKEYREJECTED = errno('EKEYREJECTED', 129, 'Key was rejected by service');
export const EOWNERDEAD = errno('EOWNERDEAD', 130, 'Owner died');
export const ENOTRECOVERABLE = errno('ENOTRECOVERABLE', 131, 'State not recoverable');
export const ERFKILL = errno('ERFKILL', 132, 'Operation not possible due to RF-kill');
export const EHWPOISON = errno('EHWPOISON', 133, 'Memory page has hardware error');

/** Aliases the uAPI header defines. */
export const EWOULDBLOCK = EAGAIN;
export const EDEADLOCK = EDEADLK;
/** glibc's ENOTSUP is EOPNOTSUPP on Linux. */
export const ENOTSUP = EOPNOTSUPP;

// Kernel-internal codes (include/linux/errno.h). They never reach user space: the syscall exit path turns the
// ERESTART* family into EINTR or a restart, and vfs_ioctl() turns ENOIOCTLCMD into ENOTTY.
export const ERESTARTSYS = errno('ERESTARTSYS', 512, 'Restart syscall (internal)', true);
export const ERESTARTNOINTR = errno('ERESTARTNOINTR', 513, 'Restart syscall, never EINTR (internal)', true);
export const ERESTARTNOHAND = errno('ERESTARTNOHAND', 514, 'Restart if no handler (internal)', true);
export const ENOIOCTLCMD = errno('ENOIOCTLCMD', 515, 'No ioctl command (internal)', true);
