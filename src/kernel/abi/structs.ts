/**
 * uAPI structs the syscalls read from and write to process memory, declared as data with the generic codec
 * (hw/sgx/layout/codec.ts), exactly like the SGX layouts. Sizes and offsets are x86-64 LP64 and are checked
 * against gcc's offsetof()/sizeof() in test/kernel/abi/structs.test.ts.
 */
import { defineLayout } from '../../hw/index';

/** struct iovec (uapi/linux/uio.h). */
export const IOVEC = defineLayout('iovec', 16, 8, [
  { name: 'iov_base', offset: 0, size: 8, type: 'u64' },
  { name: 'iov_len', offset: 8, size: 8, type: 'u64' },
] as const);

/** struct user_msghdr (include/linux/socket.h): what sendmsg/recvmsg take. */
export const MSGHDR = defineLayout('msghdr', 56, 8, [
  { name: 'msg_name', offset: 0, size: 8, type: 'u64' },
  { name: 'msg_namelen', offset: 8, size: 4, type: 'u32' },
  { name: 'pad0', offset: 12, size: 4, type: 'reserved' },
  { name: 'msg_iov', offset: 16, size: 8, type: 'u64' },
  { name: 'msg_iovlen', offset: 24, size: 8, type: 'u64' },
  { name: 'msg_control', offset: 32, size: 8, type: 'u64' },
  { name: 'msg_controllen', offset: 40, size: 8, type: 'u64' },
  { name: 'msg_flags', offset: 48, size: 4, type: 'u32' },
  { name: 'pad1', offset: 52, size: 4, type: 'reserved' },
] as const);

/** struct cmsghdr (include/linux/socket.h); the payload follows at CMSG_ALIGN(16). */
export const CMSGHDR = defineLayout('cmsghdr', 16, 8, [
  { name: 'cmsg_len', offset: 0, size: 8, type: 'u64' },
  { name: 'cmsg_level', offset: 8, size: 4, type: 'u32' },
  { name: 'cmsg_type', offset: 12, size: 4, type: 'u32' },
] as const);

/** CMSG_ALIGN: round up to sizeof(long). */
export function CMSG_ALIGN(len: number): number {
  return (len + 7) & ~7;
}
/** CMSG_LEN(n): header plus n payload bytes. */
export function CMSG_LEN(n: number): number {
  return CMSG_ALIGN(CMSGHDR.size) + n;
}
/** CMSG_SPACE(n): CMSG_LEN rounded up for the next header. */
export function CMSG_SPACE(n: number): number {
  return CMSG_ALIGN(CMSGHDR.size) + CMSG_ALIGN(n);
}

/** struct __kernel_timespec (uapi/linux/time_types.h). */
export const TIMESPEC = defineLayout('timespec', 16, 8, [
  { name: 'tv_sec', offset: 0, size: 8, type: 'u64' },
  { name: 'tv_nsec', offset: 8, size: 8, type: 'u64' },
] as const);

/** struct rusage (uapi/linux/resource.h): two timevals then fourteen longs. */
export const RUSAGE = defineLayout('rusage', 144, 8, [
  { name: 'ru_utime_sec', offset: 0, size: 8, type: 'u64' },
  { name: 'ru_utime_usec', offset: 8, size: 8, type: 'u64' },
  { name: 'ru_stime_sec', offset: 16, size: 8, type: 'u64' },
  { name: 'ru_stime_usec', offset: 24, size: 8, type: 'u64' },
  { name: 'ru_maxrss', offset: 32, size: 8, type: 'u64' },
  { name: 'ru_ixrss', offset: 40, size: 8, type: 'u64' },
  { name: 'ru_idrss', offset: 48, size: 8, type: 'u64' },
  { name: 'ru_isrss', offset: 56, size: 8, type: 'u64' },
  { name: 'ru_minflt', offset: 64, size: 8, type: 'u64' },
  { name: 'ru_majflt', offset: 72, size: 8, type: 'u64' },
  { name: 'ru_nswap', offset: 80, size: 8, type: 'u64' },
  { name: 'ru_inblock', offset: 88, size: 8, type: 'u64' },
  { name: 'ru_oublock', offset: 96, size: 8, type: 'u64' },
  { name: 'ru_msgsnd', offset: 104, size: 8, type: 'u64' },
  { name: 'ru_msgrcv', offset: 112, size: 8, type: 'u64' },
  { name: 'ru_nsignals', offset: 120, size: 8, type: 'u64' },
  { name: 'ru_nvcsw', offset: 128, size: 8, type: 'u64' },
  { name: 'ru_nivcsw', offset: 136, size: 8, type: 'u64' },
] as const);

/** struct rlimit64 (uapi/linux/resource.h). */
export const RLIMIT64 = defineLayout('rlimit64', 16, 8, [
  { name: 'rlim_cur', offset: 0, size: 8, type: 'u64' },
  { name: 'rlim_max', offset: 8, size: 8, type: 'u64' },
] as const);
