/**
 * wait4(2) options and the wait-status encoding (uAPI `linux/wait.h`; encoding from kernel/exit.c
 * and glibc `bits/waitstatus.h`).
 */

export const WNOHANG = 0x00000001;
export const WUNTRACED = 0x00000002;
export const WSTOPPED = WUNTRACED;
export const WEXITED = 0x00000004;
export const WCONTINUED = 0x00000008;
export const WNOWAIT = 0x01000000;
export const __WNOTHREAD = 0x20000000;
export const __WALL = 0x40000000;
export const __WCLONE = 0x80000000;

/** Core-dump flag in a wait status (WCOREFLAG). */
export const WCOREFLAG = 0x80;

/** Status of a normal exit: (code & 0xff) << 8 (do_exit(): `(error_code & 0xff) << 8`). */
export function wExited(code: number): number {
  return (code & 0xff) << 8;
}

/** Status of a death by signal: the signal number, plus WCOREFLAG when a core was dumped. */
export function wSignaled(sig: number, core = false): number {
  return (sig & 0x7f) | (core ? WCOREFLAG : 0);
}

/** Status of a stopped child: (sig << 8) | 0x7f. */
export function wStopped(sig: number): number {
  return ((sig & 0xff) << 8) | 0x7f;
}

/** Status reported for WCONTINUED. */
export const W_CONTINUED = 0xffff;

export function WIFEXITED(s: number): boolean {
  return (s & 0x7f) === 0;
}
export function WEXITSTATUS(s: number): number {
  return (s >> 8) & 0xff;
}
export function WIFSIGNALED(s: number): boolean {
  return ((s & 0x7f) + 1) >> 1 > 0 && (s & 0xff) !== 0x7f;
}
export function WTERMSIG(s: number): number {
  return s & 0x7f;
}
export function WCOREDUMP(s: number): boolean {
  return (s & WCOREFLAG) !== 0;
}
export function WIFSTOPPED(s: number): boolean {
  return (s & 0xff) === 0x7f;
}
export function WSTOPSIG(s: number): number {
  return (s >> 8) & 0xff;
}
export function WIFCONTINUED(s: number): boolean {
  return s === W_CONTINUED;
}
