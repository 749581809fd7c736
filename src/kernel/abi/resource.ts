/** getrlimit/setrlimit resources (uAPI `asm-generic/resource.h`). */
export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIM_NLIMITS = 16;
/** RLIM_INFINITY is ~0UL; as a JS number we use this sentinel and encode it as 0xffff_ffff_ffff_ffff in memory. */
export const RLIM_INFINITY = Number.POSITIVE_INFINITY;
