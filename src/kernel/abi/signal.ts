/**
 * Signal numbers, sigaction flags and si_code values (uAPI `asm/signal.h`, `asm-generic/signal-defs.h`,
 * `asm-generic/siginfo.h`), plus each signal's default action from signal(7).
 */

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTKFLT = 16;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGVTALRM = 26;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGIO = 29;
export const SIGPWR = 30;
export const SIGSYS = 31;
/** The kernel's SIGRTMIN (glibc reserves 32 and 33 for itself and reports 34). */
export const SIGRTMIN = 32;
/** _NSIG: signals are 1.._NSIG. */
export const SIGRTMAX = 64;
export const NSIG = 64;

export const SA_NOCLDSTOP = 0x00000001;
export const SA_NOCLDWAIT = 0x00000002;
export const SA_SIGINFO = 0x00000004;
export const SA_UNSUPPORTED = 0x00000400;
export const SA_EXPOSE_TAGBITS = 0x00000800;
export const SA_RESTORER = 0x04000000;
export const SA_ONSTACK = 0x08000000;
export const SA_RESTART = 0x10000000;
export const SA_NODEFER = 0x40000000;
export const SA_RESETHAND = 0x80000000;

export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;

/** Size in bytes of the kernel sigset_t that rt_sigprocmask/rt_sigaction insist on (EINVAL otherwise). */
export const SIGSET_SIZE = 8;

// si_code values.
export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_QUEUE = -1;
export const SI_TKILL = -6;
export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
export const BUS_ADRALN = 1;
export const BUS_ADRERR = 2;
export const BUS_OBJERR = 3;
// SIGTRAP si_codes (include/uapi/asm-generic/siginfo.h).
export const TRAP_BRKPT = 1;
export const TRAP_TRACE = 2;
export const TRAP_HWBKPT = 4;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const CLD_TRAPPED = 4;
export const CLD_STOPPED = 5;
export const CLD_CONTINUED = 6;

/** What the kernel does with a signal whose disposition is SIG_DFL (signal(7) "Standard signals"). */
export type DefaultAction = 'term' | 'core' | 'ign' | 'stop' | 'cont';

const NAMES: readonly string[] = [
  '',
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];

/** "SIGSEGV", or "SIGRTMIN+3" for real-time signals. */
export function signalName(sig: number): string {
  if (sig >= 1 && sig < SIGRTMIN) return NAMES[sig]!;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${sig - SIGRTMIN}`;
  return `signal ${sig}`;
}

/** True for 1..64. */
export function validSignal(sig: number): boolean {
  return Number.isInteger(sig) && sig >= 1 && sig <= NSIG;
}

/** Default action per signal(7); real-time signals terminate. */
export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return 'core';
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return 'ign';
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return 'stop';
    case SIGCONT:
      return 'cont';
    default:
      return 'term';
  }
}

/** The bit of `sig` in a 64-bit sigset (bit sig-1), as the kernel's sigmask(). */
export function sigmask(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

/** Signals that can be neither caught, blocked nor ignored (kernel sig_kernel_only()). */
export const UNBLOCKABLE = sigmask(SIGKILL) | sigmask(SIGSTOP);

/** siginfo_t fields a handler receives (asm-generic/siginfo.h names). */
export interface SigInfo {
  readonly si_signo: number;
  readonly si_code: number;
  readonly si_errno: number;
  /** Sender pid for kill/tkill and SIGCHLD. */
  readonly si_pid?: number;
  readonly si_uid?: number;
  /** Faulting address for SIGSEGV/SIGBUS. */
  readonly si_addr?: number;
  /** SIGCHLD: exit code or signal. */
  readonly si_status?: number;
}
