/** Clock ids (uAPI `linux/time.h`). */
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_BOOTTIME = 7;
export const NSEC_PER_SEC = 1_000_000_000;
